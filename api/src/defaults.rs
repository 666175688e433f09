//! Defaulting: the values kube-apiserver fills in before it validates and
//! stores an object, so that controllers, kubelets and `kubectl` can rely on
//! them being present.
//!
//! This module holds the entry points ([`apply`], [`prepare_for_update`], which
//! ask the kind's [`crate::kinds::Strategy`]) and the defaults several kinds
//! share (pod templates and specs, containers, probes, volumes, quantities,
//! Job specs, PVC specs); each kind's own defaults live in its file under
//! `kinds/`. What follows describes the defaulting as a whole.
//!
//! Mirrors Kubernetes' `pkg/apis/core/v1/defaults.go`,
//! `pkg/apis/apps/v1/defaults.go`, `pkg/apis/batch/v1/defaults.go`,
//! `pkg/apis/autoscaling/v{1,2}/defaults.go` and
//! `pkg/apis/networking/v1/defaults.go`, plus the few values that Kubernetes
//! sets in registry strategies and default-on admission plugins rather than
//! in `defaults.go`, because clients see them on every object:
//! - Pod: `status.phase`/`status.qosClass` (pod strategy), `serviceAccountName`
//!   (ServiceAccount admission), `priority`/`preemptionPolicy` (Priority
//!   admission) and the `not-ready`/`unreachable` `NoExecute` tolerations
//!   (DefaultTolerationSeconds admission);
//! - Job: the generated selector and labels ([`crate::kinds::batch::job::default_job_selector`], which
//!   needs the uid, so the server calls it once it has assigned one);
//! - Namespace: `spec.finalizers: [kubernetes]` (namespace strategy);
//! - Secret: `stringData` folded into base64 `data` (conversion);
//! - Service on update: allocated values carried over and type-dependent
//!   fields dropped ([`prepare_for_update`], service REST + strategy).
//!
//! Where Kubernetes defaults only a `Pod` and not a pod template, so does
//! minik: requests-from-limits, `enableServiceLinks`, `serviceAccountName`,
//! priority and the admission tolerations are Pod-only, which keeps stored
//! templates (and so the Deployment controller's pod-template-hash) identical
//! to a real cluster's. Job pod templates (and CronJob job templates) get no
//! `restartPolicy` default: a Job must choose `OnFailure` or `Never`.
//!
//! Defaulting is idempotent and never overwrites a value that is set, with
//! the one exception Kubernetes also makes: a Namespace's
//! `kubernetes.io/metadata.name` label always equals its name. Resource
//! quantities given as JSON numbers (`cpu: 1` in YAML) are rewritten as
//! strings (`"1"`), as Kubernetes returns them.
//!
//! Left out: the service-account token volume (minik issues no tokens),
//! in-place resize policies, ephemeral volume claim templates, and defaults
//! for API versions minik does not serve.
//!
//! Defaulting works on the JSON, not on the k8s-openapi structs validation
//! uses: writing a struct back would reorder the client's fields, turn an
//! explicit empty value into an absent one (or back) and print quantities
//! differently, and the stored object is what clients read back. Defaults
//! add what is missing, which the JSON does without touching the rest.

use serde_json::{json, Map, Value};

use crate::catalogue::ResourceInfo;
use crate::quantity::{self, Quantity};

use crate::kinds::Obj;

/// The name of the label Kubernetes puts on every Namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Job pod labels (current and legacy spellings), see [`crate::kinds::batch::job::default_job_selector`].
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";

/// Applies the defaults of `info`'s kind to `obj` (a full object).
///
/// Empty or null `labels`, `annotations`, `finalizers` and
/// `ownerReferences` are dropped, as Go's `omitempty` drops them when
/// kube-apiserver encodes an `ObjectMeta` (custom resources' metadata goes
/// through the same type): `kubectl label cm x app-` on the last label
/// leaves no `labels: {}` behind.
pub fn apply(info: &ResourceInfo, obj: &mut Value) {
    if let Some(root) = obj.as_object_mut() {
        info.strategy.default(info, root);
        if let Some(meta) = existing(root, "metadata") {
            meta.retain(|key, v| {
                let omitted = matches!(
                    key.as_str(),
                    "labels" | "annotations" | "finalizers" | "ownerReferences"
                );
                !omitted
                    || match v {
                        Value::Null => false,
                        Value::Object(m) => !m.is_empty(),
                        Value::Array(a) => !a.is_empty(),
                        _ => true,
                    }
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Small helpers over JSON maps.
// ---------------------------------------------------------------------------

/// Sets `key` to `value` unless it already holds a non-null value.
pub(crate) fn default_value(map: &mut Obj, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

/// The object at `key`, created empty when absent or null. `None` when the
/// key holds something else (left for validation to report).
pub(crate) fn child<'a>(map: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), Value::Object(Map::new()));
    }
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key` if there is one; never creates it.
pub(crate) fn existing<'a>(map: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// Every object element of the array at `key`.
pub(crate) fn each_item<'a>(map: &'a mut Obj, key: &str) -> impl Iterator<Item = &'a mut Obj> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

pub(crate) fn str_at<'a>(map: &'a Obj, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// True when `key` holds a non-empty array or object.
pub(crate) fn non_empty(map: &Obj, key: &str) -> bool {
    match map.get(key) {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        _ => false,
    }
}

/// Rewrites every quantity of a resource list in canonical form, as
/// Kubernetes serializes a `resource.Quantity`: numbers become strings
/// (`1` → `"1"`, `0.5` → `"500m"`), strings are normalized (`"1.5Gi"` →
/// `"1536Mi"`). Unparsable values are left for validation to report.
pub(crate) fn canonicalize_quantities(list: &mut Obj) {
    for v in list.values_mut() {
        canonicalize_quantity(v);
    }
}

/// One quantity in canonical form, rounded up to milli-units as
/// `SetDefaults_ResourceList` does (`100u` → `1m`).
pub(crate) fn canonicalize_quantity(v: &mut Value) {
    const NANOS_PER_MILLI: i128 = 1_000_000;
    if matches!(v, Value::Number(_) | Value::String(_)) {
        if let Ok(mut q) = quantity::from_json(v) {
            if q.nanos() % NANOS_PER_MILLI != 0 {
                q = Quantity::from_nanos(i128::from(q.millis()) * NANOS_PER_MILLI, q.format());
            }
            *v = Value::String(q.to_string());
        }
    }
}

// ---------------------------------------------------------------------------
// Pods and pod templates.
// ---------------------------------------------------------------------------

/// Defaults of a pod template (`spec.template` of a workload): the PodSpec
/// only. `restart_policy` is false for Job templates, which must choose.
pub(crate) fn default_pod_template(template: &mut Obj, restart_policy: bool) {
    if let Some(spec) = child(template, "spec") {
        default_pod_spec(spec, restart_policy);
    }
}

/// `SetDefaults_PodSpec` and everything nested in a PodSpec (containers,
/// volumes, probes).
pub fn default_pod_spec(spec: &mut Obj, restart_policy: bool) {
    default_value(spec, "dnsPolicy", json!("ClusterFirst"));
    if restart_policy {
        default_value(spec, "restartPolicy", json!("Always"));
    }
    default_value(spec, "terminationGracePeriodSeconds", json!(30));
    default_value(spec, "securityContext", json!({}));
    default_value(spec, "schedulerName", json!("default-scheduler"));
    // `serviceAccount` is the deprecated spelling of `serviceAccountName`;
    // conversion makes it always echo the real field.
    let account = [
        str_at(spec, "serviceAccountName"),
        str_at(spec, "serviceAccount"),
    ]
    .into_iter()
    .flatten()
    .find(|n| !n.is_empty())
    .map(str::to_string);
    if let Some(account) = account {
        spec.insert("serviceAccountName".into(), json!(account));
        spec.insert("serviceAccount".into(), json!(account));
    }
    for c in each_item(spec, "containers") {
        default_container(c);
    }
    for c in each_item(spec, "initContainers") {
        default_container(c);
    }
    for c in each_item(spec, "ephemeralContainers") {
        default_container(c);
    }
    for v in each_item(spec, "volumes") {
        default_volume(v);
    }
    if let Some(overhead) = existing(spec, "overhead") {
        canonicalize_quantities(overhead);
    }
}

/// `SetDefaults_Container` plus its ports, probes, lifecycle hooks, env and
/// resources.
pub(crate) fn default_container(c: &mut Obj) {
    if c.get("imagePullPolicy")
        .is_none_or(|v| v.is_null() || v == "")
    {
        let policy = image_pull_policy(str_at(c, "image").unwrap_or(""));
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_value(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_value(c, "terminationMessagePolicy", json!("File"));
    for p in each_item(c, "ports") {
        default_value(p, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, probe) {
            default_probe(p);
        }
    }
    if let Some(lifecycle) = existing(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = existing(lifecycle, hook) {
                if let Some(get) = existing(h, "httpGet") {
                    default_http_get(get);
                }
            }
        }
    }
    for e in each_item(c, "env") {
        if let Some(from) = existing(e, "valueFrom") {
            if let Some(f) = existing(from, "fieldRef") {
                default_value(f, "apiVersion", json!("v1"));
            }
        }
    }
    if let Some(resources) = child(c, "resources") {
        for key in ["limits", "requests"] {
            if let Some(list) = existing(resources, key) {
                canonicalize_quantities(list);
            }
        }
    }
}

/// Kubernetes' pull-policy rule: `Always` for `:latest` or an image without
/// tag (an image pinned only by digest counts as tagged), else `IfNotPresent`.
pub fn image_pull_policy(image: &str) -> &'static str {
    if image_tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The image's tag: `Some("latest")` when it has neither tag nor digest,
/// `None` when pinned by digest only or unparsable (empty).
pub(crate) fn image_tag(image: &str) -> Option<String> {
    if image.trim().is_empty() {
        return None;
    }
    let (name, has_digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a
    // registry port, as in `localhost:5000/app`).
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag.to_string()),
        None if has_digest => None,
        None => Some("latest".to_string()),
    }
}

/// `SetDefaults_Probe` and the handler's own defaults.
pub(crate) fn default_probe(p: &mut Obj) {
    // Zero means unset for these (they are plain int32s upstream).
    for (key, value) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if p.get(key).is_none_or(|v| v.is_null() || v == 0) {
            p.insert(key.into(), json!(value));
        }
    }
    if let Some(get) = existing(p, "httpGet") {
        default_http_get(get);
    }
}

/// `SetDefaults_HTTPGetAction`: path `/`, scheme `HTTP`.
pub(crate) fn default_http_get(get: &mut Obj) {
    if get.get("path").is_none_or(|v| v.is_null() || v == "") {
        get.insert("path".into(), json!("/"));
    }
    default_value(get, "scheme", json!("HTTP"));
}

/// `SetDefaults_Volume` and the volume sources' defaults.
pub(crate) fn default_volume(v: &mut Obj) {
    let has_source = v.iter().any(|(k, val)| k != "name" && !val.is_null());
    if !has_source {
        v.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = existing(v, source) {
            default_value(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = existing(v, "downwardAPI") {
        default_downward_items(d);
    }
    if let Some(p) = existing(v, "projected") {
        for src in each_item(p, "sources") {
            if let Some(t) = existing(src, "serviceAccountToken") {
                default_value(t, "expirationSeconds", json!(3600));
            }
            if let Some(d) = existing(src, "downwardAPI") {
                default_downward_items(d);
            }
        }
    }
    if let Some(h) = existing(v, "hostPath") {
        default_value(h, "type", json!(""));
    }
    if let Some(e) = existing(v, "emptyDir") {
        if let Some(limit) = e.get_mut("sizeLimit") {
            canonicalize_quantity(limit);
        }
    }
}

pub(crate) fn default_downward_items(d: &mut Obj) {
    for item in each_item(d, "items") {
        if let Some(f) = existing(item, "fieldRef") {
            default_value(f, "apiVersion", json!("v1"));
        }
    }
}

/// Pod-only, app containers (in-place resize, on by default since 1.33):
/// every requested CPU or memory resource gets a `NotRequired` resize
/// policy unless the container names one.
pub(crate) fn default_resize_policy(c: &mut Obj) {
    let requested: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|r| {
            c.get("resources")
                .and_then(|res| res.get("requests"))
                .and_then(|req| req.get(*r))
                .is_some()
        })
        .collect();
    if requested.is_empty() {
        return;
    }
    if c.get("resizePolicy").is_none_or(|v| !v.is_array()) {
        c.insert("resizePolicy".into(), json!([]));
    }
    if let Some(policies) = c.get_mut("resizePolicy").and_then(Value::as_array_mut) {
        for r in requested {
            if !policies
                .iter()
                .any(|p| p.get("resourceName").and_then(Value::as_str) == Some(r))
            {
                policies.push(json!({"resourceName": r, "restartPolicy": "NotRequired"}));
            }
        }
    }
}

/// The pod's QoS class as Kubernetes computes it (`qos.GetPodQOS`): CPU and
/// memory requests and limits (positive ones only) summed over all
/// containers; Guaranteed when every container limits both and the sums of
/// requests equal the sums of limits, BestEffort when nothing is set.
pub fn qos_class(spec: &Value) -> &'static str {
    const RESOURCES: [&str; 2] = ["cpu", "memory"];
    let mut requests: [Option<Quantity>; 2] = [None, None];
    let mut limits: [Option<Quantity>; 2] = [None, None];
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let positive = |list: &str, name: &str| {
            c.get("resources")
                .and_then(|r| r.get(list))
                .and_then(|l| l.get(name))
                .and_then(|q| quantity::from_json(q).ok())
                .filter(|q| *q > Quantity::default())
        };
        let mut limited = 0;
        for (i, name) in RESOURCES.iter().enumerate() {
            if let Some(q) = positive("requests", name) {
                requests[i] = Some(requests[i].unwrap_or_default() + q);
            }
            if let Some(q) = positive("limits", name) {
                limits[i] = Some(limits[i].unwrap_or_default() + q);
                limited += 1;
            }
        }
        if limited < RESOURCES.len() {
            guaranteed = false;
        }
    }
    let count = |l: &[Option<Quantity>; 2]| l.iter().filter(|q| q.is_some()).count();
    if count(&requests) == 0 && count(&limits) == 0 {
        return "BestEffort";
    }
    let sums_match = requests.iter().zip(&limits).all(|(r, l)| match (r, l) {
        (Some(r), Some(l)) => r == l,
        (Some(_), None) => false,
        _ => true,
    });
    if guaranteed && sums_match && count(&requests) == count(&limits) {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

// ---------------------------------------------------------------------------
// Core kinds other than Pod.
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// batch/v1
// ---------------------------------------------------------------------------

pub(crate) fn default_job_spec(spec: &mut Obj) {
    let unset = |s: &Obj, k: &str| s.get(k).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_value(spec, "parallelism", json!(1));
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i32::MAX
    };
    default_value(spec, "backoffLimit", json!(backoff));
    default_value(spec, "completionMode", json!("NonIndexed"));
    default_value(spec, "suspend", json!(false));
    let replacement = if unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    default_value(spec, "podReplacementPolicy", json!(replacement));
    if let Some(pfp) = existing(spec, "podFailurePolicy") {
        for rule in each_item(pfp, "rules") {
            for cond in each_item(rule, "onPodConditions") {
                default_value(cond, "status", json!("True"));
            }
        }
    }
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, false);
    }
}

// ---------------------------------------------------------------------------
// networking.k8s.io/v1, autoscaling
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Update-time preparation.
// ---------------------------------------------------------------------------

/// What Kubernetes does to an incoming object on update before defaulting
/// and validation, beyond copying status and system metadata (the server's
/// job): a Service keeps the values the server allocated when the new
/// object omits them (`kubectl replace` of a manifest without `clusterIP`)
/// and drops fields its new type no longer allows; a Namespace keeps its
/// finalizers (only the `finalize` subresource changes them).
/// What an update carries over from the stored object before defaulting
/// (the kind's [`crate::kinds::Strategy::prepare_update`]).
pub fn prepare_for_update(info: &ResourceInfo, new: &mut Value, old: &Value) {
    info.strategy.prepare_update(new, old);
}

/// `SetDefaults_PersistentVolumeClaim` (also used for StatefulSet claim
/// templates).
pub(crate) fn default_persistent_volume_claim(pvc: &mut Obj) {
    if let Some(spec) = child(pvc, "spec") {
        default_value(spec, "volumeMode", json!("Filesystem"));
        if let Some(resources) = existing(spec, "resources") {
            for key in ["requests", "limits"] {
                if let Some(list) = existing(resources, key) {
                    canonicalize_quantities(list);
                }
            }
        }
    }
    if let Some(status) = child(pvc, "status") {
        default_value(status, "phase", json!("Pending"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    fn info(group: &str, kind: &str) -> &'static ResourceInfo {
        catalogue::by_group_kind(group, kind).expect("kind in catalogue")
    }

    fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
        apply(info(group, kind), &mut obj);
        obj
    }

    fn bare_deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    #[test]
    fn bare_deployment_gets_kubernetes_defaults() {
        let d = defaulted("apps", "Deployment", bare_deployment());
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["selector"], json!({"matchLabels": {"app": "web"}}));
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["securityContext"], json!({}));
        // Pod-only defaults stay off templates, as in Kubernetes.
        assert!(pod.get("enableServiceLinks").is_none());
        assert!(pod.get("serviceAccountName").is_none());
        let c = &pod["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"], json!({}));
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(image_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(image_pull_policy("localhost:5000/app:v2"), "IfNotPresent");
        assert_eq!(image_pull_policy("busybox@sha256:abcdef"), "IfNotPresent");
        assert_eq!(image_pull_policy("busybox:latest@sha256:abcdef"), "Always");
    }

    #[test]
    fn defaulting_is_idempotent_and_keeps_user_values() {
        let mut d = bare_deployment();
        d["spec"]["replicas"] = json!(0);
        d["spec"]["strategy"] = json!({"type": "Recreate"});
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Never");
        let once = defaulted("apps", "Deployment", d);
        let twice = defaulted("apps", "Deployment", once.clone());
        assert_eq!(once, twice);
        assert_eq!(once["spec"]["replicas"], 0);
        assert_eq!(once["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            once["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Never"
        );

        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "livenessProbe": {"httpGet": {"port": 8080}},
                "resources": {"limits": {"cpu": 1, "memory": "64Mi"}}}]}});
        let once = defaulted("", "Pod", pod);
        assert_eq!(once, defaulted("", "Pod", once.clone()));
    }

    #[test]
    fn a_host_network_pods_ports_are_host_ports() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "busybox",
                "ports": [{"containerPort": 9100}, {"containerPort": 53, "hostPort": 53, "protocol": "UDP"}]}]}});
        let p = defaulted("", "Pod", pod);
        assert_eq!(p["spec"]["containers"][0]["ports"][0]["hostPort"], 9100);
        assert_eq!(p["spec"]["containers"][0]["ports"][1]["hostPort"], 53);
        let plain = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}});
        let p = defaulted("", "Pod", plain);
        assert!(p["spec"]["containers"][0]["ports"][0]
            .get("hostPort")
            .is_none());
        // Pods only: templates are left alone since Kubernetes 1.28
        // (DefaultHostNetworkHostPortsInPodTemplates, removed in 1.31).
        let d = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "busybox",
                    "ports": [{"containerPort": 9100}]}]}}}});
        let d = defaulted("apps", "DaemonSet", d);
        assert!(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]
            .get("hostPort")
            .is_none());
    }

    #[test]
    fn pod_gets_status_qos_and_admission_defaults() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "resources": {"limits": {"cpu": 0.5, "memory": "64Mi"}}}]}});
        let p = defaulted("", "Pod", pod);
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["status"]["qosClass"], "Guaranteed");
        let spec = &p["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["serviceAccount"], "default");
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["resources"]["limits"]["cpu"], "500m");
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "500m", "memory": "64Mi"})
        );
        assert_eq!(
            c["resizePolicy"],
            json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"},
                   {"resourceName": "memory", "restartPolicy": "NotRequired"}])
        );
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    }

    #[test]
    fn qos_classes() {
        let spec =
            |res: Value| json!({"containers": [{"name": "c", "image": "i", "resources": res}]});
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(
                json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(
                json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})
            )),
            "Burstable"
        );
    }

    #[test]
    fn job_defaults_and_generated_selector() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}});
        let mut j = defaulted("batch", "Job", job);
        let spec = &j["spec"];
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert!(spec.get("manualSelector").is_none());
        assert!(spec["template"]["spec"].get("restartPolicy").is_none());
        crate::kinds::batch::job::default_job_selector(&mut j, "uid-1");
        assert_eq!(
            j["spec"]["selector"],
            json!({"matchLabels": {CONTROLLER_UID_LABEL: "uid-1"}})
        );
        let labels = &j["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels[JOB_NAME_LABEL], "pi");
        assert_eq!(labels[LEGACY_CONTROLLER_UID_LABEL], "uid-1");
        assert_eq!(&j["metadata"]["labels"], labels);
    }

    #[test]
    fn service_namespace_secret_defaults() {
        let svc = defaulted(
            "",
            "Service",
            json!({"kind": "Service", "metadata": {"name": "web"},
                "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        );
        let spec = &svc["spec"];
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));

        let ns = defaulted(
            "",
            "Namespace",
            json!({"kind": "Namespace", "metadata": {"name": "dev"}}),
        );
        assert_eq!(ns["metadata"]["labels"][NAMESPACE_NAME_LABEL], "dev");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");

        let s = defaulted(
            "",
            "Secret",
            json!({"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "hello"}}),
        );
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["data"]["a"], "aGVsbG8=");
        assert!(s.get("stringData").is_none());
    }

    #[test]
    fn namespace_finalizers_survive_finalize() {
        let ns_info = info("", "Namespace");
        let mut deleting = json!({"kind": "Namespace",
            "metadata": {"name": "dev", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {}, "status": {"phase": "Terminating"}});
        apply(ns_info, &mut deleting);
        assert!(deleting["spec"].get("finalizers").is_none());
        assert_eq!(deleting["status"]["phase"], "Terminating");
        let old = json!({"spec": {"finalizers": ["kubernetes"]}});
        let mut new = json!({"metadata": {"name": "dev"}, "spec": {"finalizers": []}});
        prepare_for_update(ns_info, &mut new, &old);
        assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
    }

    #[test]
    fn workload_defaults() {
        let sts = defaulted(
            "apps",
            "StatefulSet",
            json!({"kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {}}),
        );
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            sts["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let ds = defaulted(
            "apps",
            "DaemonSet",
            json!({"kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {}}),
        );
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        let cj = defaulted(
            "batch",
            "CronJob",
            json!({"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "* * * * *"}}),
        );
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        let hpa = defaulted(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"kind": "HorizontalPodAutoscaler", "spec": {}}),
        );
        assert_eq!(hpa["spec"]["minReplicas"], 1);
    }

    #[test]
    fn service_update_keeps_allocated_values() {
        let svc = info("", "Service");
        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"],
            "ports": [{"port": 80, "nodePort": 30080}], "externalTrafficPolicy": "Cluster"}});
        let mut new = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        prepare_for_update(svc, &mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.7");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        let mut to_cluster_ip = old.clone();
        to_cluster_ip["spec"]["type"] = json!("ClusterIP");
        prepare_for_update(svc, &mut to_cluster_ip, &old);
        assert!(to_cluster_ip["spec"]["ports"][0].get("nodePort").is_none());
        assert!(to_cluster_ip["spec"].get("externalTrafficPolicy").is_none());
    }
}
