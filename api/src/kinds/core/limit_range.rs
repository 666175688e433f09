//! LimitRange (core/v1): per-container defaults and bounds in a namespace.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]); then
//! the LimitRanger admission rules the pod and PVC strategies apply with
//! the namespace's ranges (defaults, min, max, maxLimitRequestRatio).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The LimitRange strategy.
pub struct LimitRange;

/// `limitranges` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "LimitRange",
    "limitranges",
    "limitrange",
    &LimitRange,
)
.short_names(&["limits"]);

impl Strategy for LimitRange {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::LimitRange>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::LimitRange>(g))
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_limit_range(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_limit_range(obj, errs)
    }
    // No printer in kube-apiserver: its generic `NAME  CREATED AT` table.
    fn columns(&self) -> &'static [Column] {
        GENERIC_COLUMNS
    }
    fn cells(&self, obj: &Value, _: Timestamp) -> Vec<Value> {
        generic_cells(obj)
    }
}

fn validate_limit_range(obj: &Value, errs: &mut Errs) {
    let Some(lr) = typed::<core::LimitRange>(obj, errs) else {
        return;
    };
    for (i, item) in lr.spec.unwrap_or_default().limits.iter().enumerate() {
        let p = format!("spec.limits[{i}]");
        match item.type_.as_str() {
            "Pod" | "Container" | "PersistentVolumeClaim" => {}
            "" => errs.push(FieldError::required(format!("{p}.type"), "")),
            other => errs.push(FieldError::not_supported(
                format!("{p}.type"),
                Value::from(other),
                &["Container", "PersistentVolumeClaim", "Pod"],
            )),
        }
        let lists = [
            &item.max,
            &item.min,
            &item.default,
            &item.default_request,
            &item.max_limit_request_ratio,
        ];
        for (key, list) in LIMIT_KINDS.iter().zip(lists) {
            validate_resource_list(&json_of(list), &format!("{p}.{key}"), errs);
        }
    }
}

/// `SetDefaults_LimitRangeItem`: for `Container` items, default limits come
/// from `max`, default requests from the default limits, then from `min`.
fn default_limit_range(lr: &mut Obj) {
    let Some(spec) = existing(lr, "spec") else {
        return;
    };
    for item in each_item(spec, "limits") {
        for key in LIMIT_KINDS {
            if let Some(list) = existing(item, key) {
                canonicalize_quantities(list);
            }
        }
        if str_at(item, "type") != Some("Container") {
            continue;
        }
        let get = |item: &Obj, k: &str| {
            item.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let mut default = get(item, "default");
        for (k, v) in get(item, "max") {
            default.entry(k).or_insert(v);
        }
        let mut default_request = get(item, "defaultRequest");
        for (k, v) in default.iter().chain(get(item, "min").iter()) {
            default_request.entry(k.clone()).or_insert(v.clone());
        }
        if !default.is_empty() {
            item.insert("default".into(), Value::Object(default));
        }
        if !default_request.is_empty() {
            item.insert("defaultRequest".into(), Value::Object(default_request));
        }
    }
}

/// The resource lists of a LimitRange item.
const LIMIT_KINDS: [&str; 5] = [
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];

// -- admission (Kubernetes' LimitRanger plugin) --------------------------------
//
// `plugin/pkg/admission/limitranger`: a pod's containers get the defaults of
// the namespace's `Container` items, then every container (and the pod as a
// whole, for `Pod` items) is held to min, max and maxLimitRequestRatio; a
// claim's storage request is held to the `PersistentVolumeClaim` items.

use crate::quota::{self, ResourceList};

/// The annotation LimitRanger records its defaults in.
pub const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// A parsed LimitRange item list (`None` lists are empty).
fn item_list(
    list: &Option<
        std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
) -> ResourceList {
    list.iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(&v.0).ok()?)))
        .collect()
}

/// `PodMutateLimitFunc` for each range in turn: the `Container` items'
/// `defaultRequest` and `default` fill the requests and limits a container
/// leaves out, and the pod is annotated with what was set.
pub(crate) fn default_pod_resources(pod: &mut Value, ranges: &[core::LimitRange]) {
    for range in ranges {
        let mut requests = ResourceList::new();
        let mut limits = ResourceList::new();
        for item in range.spec.iter().flat_map(|s| &s.limits) {
            if item.type_ == "Container" {
                requests.extend(item_list(&item.default_request));
                limits.extend(item_list(&item.default));
            }
        }
        let mut notes = Vec::new();
        for (key, what) in [
            ("containers", "container"),
            ("initContainers", "init container"),
        ] {
            let Some(containers) = pod
                .pointer_mut(&format!("/spec/{key}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in containers {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let set_requests = fill(c, "requests", &requests);
                let set_limits = fill(c, "limits", &limits);
                if !set_requests.is_empty() {
                    notes.push(format!(
                        "{} request for {what} {name}",
                        set_requests.join(", ")
                    ));
                }
                if !set_limits.is_empty() {
                    notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
                }
            }
        }
        if !notes.is_empty() {
            let meta = &mut pod["metadata"];
            if !meta.get("annotations").is_some_and(Value::is_object) {
                meta["annotations"] = json!({});
            }
            meta["annotations"][LIMIT_RANGER_ANNOTATION] =
                json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
        }
    }
}

/// Sets the names of `defaults` a container's `resources.<which>` lacks;
/// returns them, sorted.
fn fill(container: &mut Value, which: &str, defaults: &ResourceList) -> Vec<String> {
    if defaults.is_empty() {
        return Vec::new();
    }
    if !container.get("resources").is_some_and(Value::is_object) {
        container["resources"] = json!({});
    }
    let resources = &mut container["resources"];
    if !resources.get(which).is_some_and(Value::is_object) {
        resources[which] = json!({});
    }
    let list = resources[which]
        .as_object_mut()
        .expect("made an object above");
    let mut set = Vec::new();
    for (k, v) in defaults {
        if !list.contains_key(k) {
            list.insert(k.clone(), json!(v.to_string()));
            set.push(k.clone());
        }
    }
    set
}

/// `PodValidateLimitFunc`: the violations of the first range the pod breaks.
pub(crate) fn pod_violations(pod: &Value, ranges: &[core::LimitRange]) -> Vec<String> {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let resources =
        |c: &Value, which: &str| quota::from_json(c.pointer(&format!("/resources/{which}")));
    for range in ranges {
        let mut errs = Vec::new();
        for item in range.spec.iter().flat_map(|s| &s.limits) {
            let lists = |requests: &ResourceList, limits: &ResourceList, errs: &mut Vec<String>| {
                let t = item.type_.as_str();
                for (k, v) in item_list(&item.min) {
                    errs.extend(min_constraint(t, &k, v, requests, limits));
                }
                for (k, v) in item_list(&item.max) {
                    errs.extend(max_constraint(t, &k, v, requests, limits));
                }
                for (k, v) in item_list(&item.max_limit_request_ratio) {
                    errs.extend(ratio_constraint(t, &k, v, requests, limits));
                }
            };
            match item.type_.as_str() {
                "Container" => {
                    for c in &containers {
                        lists(
                            &resources(c, "requests"),
                            &resources(c, "limits"),
                            &mut errs,
                        );
                    }
                }
                "Pod" => {
                    let (requests, limits) = pod_totals(pod);
                    lists(&requests, &limits, &mut errs);
                }
                _ => {}
            }
        }
        if !errs.is_empty() {
            return errs;
        }
    }
    Vec::new()
}

/// `PersistentVolumeClaimValidateLimitFunc`: a claim's requests against
/// the `PersistentVolumeClaim` items' min and max (its limits are not user input).
pub(crate) fn claim_violations(pvc: &Value, ranges: &[core::LimitRange]) -> Vec<String> {
    let requests = quota::from_json(pvc.pointer("/spec/resources/requests"));
    for range in ranges {
        let mut errs = Vec::new();
        for item in range.spec.iter().flat_map(|s| &s.limits) {
            if item.type_ != "PersistentVolumeClaim" {
                continue;
            }
            let t = item.type_.as_str();
            for (k, v) in item_list(&item.min) {
                errs.extend(min_constraint(t, &k, v, &requests, &ResourceList::new()));
            }
            for (k, v) in item_list(&item.max) {
                errs.extend(max_request_constraint(t, &k, v, &requests));
            }
        }
        if !errs.is_empty() {
            return errs;
        }
    }
    Vec::new()
}

/// A pod's requests and limits as LimitRanger sums them (`podRequests`,
/// `podLimits`): containers added up, and each init container taken alone
/// when it needs more (it runs before them); sidecars count in both.
pub(crate) fn pod_totals(pod: &Value) -> (ResourceList, ResourceList) {
    let total = |which: &str| {
        let list = |c: &Value| quota::from_json(c.pointer(&format!("/resources/{which}")));
        let items = |key: &str| {
            pod.pointer(&format!("/spec/{key}"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let mut sum = ResourceList::new();
        for c in &items("containers") {
            sum = quota::add(&sum, &list(c));
        }
        // Sidecars (restartPolicy Always) run beside the containers and
        // beside every init container after them, so they count in both.
        let mut sidecars = ResourceList::new();
        let mut init_max = ResourceList::new();
        for c in &items("initContainers") {
            let own = list(c);
            let during = if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
                sum = quota::add(&sum, &own);
                sidecars = quota::add(&sidecars, &own);
                sidecars.clone()
            } else {
                quota::add(&own, &sidecars)
            };
            init_max = quota::max(&init_max, &during);
        }
        quota::max(&sum, &init_max)
    };
    (total("requests"), total("limits"))
}

/// `requestLimitEnforcedValues`: compared in thousandths when none overflows.
fn comparable(
    request: Option<Quantity>,
    limit: Option<Quantity>,
    enforced: Quantity,
) -> (i64, i64, i64) {
    let (r, l) = (request.unwrap_or_default(), limit.unwrap_or_default());
    const MAX_MILLI: i64 = i64::MAX / 1000;
    if r.value() <= MAX_MILLI && l.value() <= MAX_MILLI && enforced.value() <= MAX_MILLI {
        (r.millis(), l.millis(), enforced.millis())
    } else {
        (r.value(), l.value(), enforced.value())
    }
}

fn min_constraint(
    t: &str,
    name: &str,
    enforced: Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(name).copied(), limits.get(name).copied());
    let (r, l, e) = comparable(req, lim, enforced);
    match (req, lim) {
        (None, _) => Some(format!(
            "minimum {name} usage per {t} is {enforced}.  No request is specified"
        )),
        (Some(req), _) if r < e => Some(format!(
            "minimum {name} usage per {t} is {enforced}, but request is {req}"
        )),
        (_, Some(lim)) if l < e => Some(format!(
            "minimum {name} usage per {t} is {enforced}, but limit is {lim}"
        )),
        _ => None,
    }
}

fn max_constraint(
    t: &str,
    name: &str,
    enforced: Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(name).copied(), limits.get(name).copied());
    let (r, l, e) = comparable(req, lim, enforced);
    match (req, lim) {
        (_, None) => Some(format!(
            "maximum {name} usage per {t} is {enforced}.  No limit is specified"
        )),
        (_, Some(lim)) if l > e => Some(format!(
            "maximum {name} usage per {t} is {enforced}, but limit is {lim}"
        )),
        (Some(req), _) if r > e => Some(format!(
            "maximum {name} usage per {t} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

fn max_request_constraint(
    t: &str,
    name: &str,
    enforced: Quantity,
    requests: &ResourceList,
) -> Option<String> {
    let req = requests.get(name).copied();
    let (r, _, e) = comparable(req, None, enforced);
    match req {
        None => Some(format!(
            "maximum {name} usage per {t} is {enforced}.  No request is specified"
        )),
        Some(req) if r > e => Some(format!(
            "maximum {name} usage per {t} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

fn ratio_constraint(
    t: &str,
    name: &str,
    enforced: Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(name).copied(), limits.get(name).copied());
    let (r, l, _) = comparable(req, lim, enforced);
    if req.is_none() || r == 0 {
        return Some(format!("{name} max limit to request ratio per {t} is {enforced}, but no request is specified or request is 0"));
    }
    if lim.is_none() || l == 0 {
        return Some(format!("{name} max limit to request ratio per {t} is {enforced}, but no limit is specified or limit is 0"));
    }
    let observed = l as f64 / r as f64;
    let (scaled, max) = if enforced.value() <= i64::MAX / 1000 {
        (observed * 1000.0, enforced.millis() as f64)
    } else {
        (observed, enforced.value() as f64)
    };
    (scaled > max).then(|| format!("{name} max limit to request ratio per {t} is {enforced}, but provided ratio is {observed:.6}"))
}

#[cfg(test)]
mod admission_tests {
    use super::*;

    fn ranges(limits: Value) -> Vec<core::LimitRange> {
        vec![serde_json::from_value(
            json!({"metadata": {"name": "lr"}, "spec": {"limits": limits}}),
        )
        .unwrap()]
    }

    #[test]
    fn defaults_fill_missing_requests_and_limits_and_annotate() {
        let lr = ranges(
            json!([{"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "64Mi"}}]),
        );
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "200m"}}}]}});
        default_pod_resources(&mut pod, &lr);
        assert_eq!(
            pod.pointer("/spec/containers/0/resources"),
            Some(&json!({
            "requests": {"cpu": "200m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"}}))
        );
        assert_eq!(
            pod.pointer("/metadata/annotations/kubernetes.io~1limit-ranger"),
            Some(&json!("LimitRanger plugin set: memory request for container web; cpu, memory limit for container web"))
        );
    }

    #[test]
    fn min_max_and_ratio_are_reported_in_kubernetes_words() {
        let lr = ranges(
            json!([{"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1"},
            "maxLimitRequestRatio": {"memory": "2"}}]),
        );
        let pod = |r: Value| json!({"spec": {"containers": [{"name": "a", "resources": r}]}});
        assert_eq!(
            pod_violations(
                &pod(
                    json!({"requests": {"cpu": "50m", "memory": "100Mi"}, "limits": {"cpu": "500m", "memory": "100Mi"}})
                ),
                &lr
            ),
            vec!["minimum cpu usage per Container is 100m, but request is 50m"]
        );
        assert_eq!(
            pod_violations(&pod(json!({"requests": {"cpu": "500m", "memory": "100Mi"}, "limits": {"cpu": "2", "memory": "300Mi"}})), &lr),
            vec![
                "maximum cpu usage per Container is 1, but limit is 2",
                "memory max limit to request ratio per Container is 2, but provided ratio is 3.000000",
            ]
        );
        assert!(pod_violations(&pod(json!({"requests": {"cpu": "500m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "200Mi"}})), &lr).is_empty());
    }

    #[test]
    fn pod_totals_count_sidecars_beside_containers_and_later_init_containers() {
        let c = |name: &str, cpu: &str, sidecar: bool| {
            let mut c = json!({"name": name, "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}});
            if sidecar {
                c["restartPolicy"] = json!("Always");
            }
            c
        };
        let totals = |init: Value| {
            let pod =
                json!({"spec": {"initContainers": init, "containers": [c("app", "100m", false)]}});
            let (requests, limits) = pod_totals(&pod);
            assert_eq!(requests, limits);
            requests["cpu"].to_string()
        };
        // A plain init container runs alone: the larger of it and the app.
        assert_eq!(totals(json!([c("setup", "200m", false)])), "200m");
        // A sidecar runs beside the app.
        assert_eq!(totals(json!([c("proxy", "50m", true)])), "150m");
        // And beside the init containers after it: 50m + 200m.
        assert_eq!(
            totals(json!([c("proxy", "50m", true), c("setup", "200m", false)])),
            "250m"
        );
        // But not beside those before it.
        assert_eq!(
            totals(json!([c("setup", "200m", false), c("proxy", "50m", true)])),
            "200m"
        );
    }

    #[test]
    fn claims_are_held_to_storage_min_and_max() {
        let lr = ranges(
            json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "2Gi"}}]),
        );
        let claim = |s: &str| json!({"spec": {"resources": {"requests": {"storage": s}}}});
        assert_eq!(
            claim_violations(&claim("500Mi"), &lr),
            vec!["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        assert_eq!(
            claim_violations(&claim("5Gi"), &lr),
            vec!["maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"]
        );
        assert!(claim_violations(&claim("1Gi"), &lr).is_empty());
    }
}
