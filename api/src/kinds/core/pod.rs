//! Pod (core/v1): the unit the scheduler places and the kubelet runs.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The Pod strategy.
pub struct Pod;

/// `pods` in v1. Only the subresources served are listed: discovery offers
/// nothing that is not served (a request for anything else is 404, never a
/// retryable 5xx).
pub const RESOURCE: ResourceInfo = ResourceInfo::new("", "v1", "Pod", "pods", "pod", &Pod)
    .short_names(&["po"])
    .categories(&["all"])
    .subresources(&[
        "status",
        "binding",
        "eviction",
        "log",
        "exec",
        "attach",
        "portforward",
        "ephemeralcontainers",
    ]);

impl Strategy for Pod {
    fn pod_spec(&self, obj: &Value) -> Option<k8s_openapi::api::core::v1::PodSpec> {
        serde_json::from_value(obj.get("spec")?.clone()).ok()
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::Pod>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::Pod>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_pod(obj)
    }
    fn prepare_create(&self, obj: &mut Value, _uid: &str) {
        super::pod_apparmor::apply_version_skew(obj);
        mark_scheduling_gated(obj)
    }
    fn prepare_create_warnings(&self, obj: &Value) -> Vec<String> {
        super::pod_apparmor::warnings(obj)
    }
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        // Pods get none on update (kube-apiserver's WarningsOnUpdate).
        super::pod_warnings::warnings(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_pod(obj, errs)
    }
    fn validate_new(&self, obj: &Value, errs: &mut Errs) {
        super::pod_apparmor::validate_match(&obj["metadata"], &obj["spec"], "", errs);
        // Ephemeral containers come only through `pods/ephemeralcontainers`.
        if obj
            .pointer("/spec/ephemeralContainers")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
        {
            errs.push(FieldError::forbidden(
                "spec.ephemeralContainers",
                "cannot be set on create",
            ));
        }
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_pod_update(new, old, errs)
    }
    fn validate_ephemeral(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_ephemeral_update(new, old, errs)
    }
    fn deletion_grace_seconds(&self, pod: &Value, requested: Option<i64>) -> Option<i64> {
        Some(deletion_grace(pod, requested))
    }
    fn returns_deleted_object(&self) -> bool {
        true
    }
    fn columns(&self) -> &'static [Column] {
        POD_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pod_cells(obj, now)
    }
    fn row_conditions(&self, obj: &Value) -> Option<Value> {
        finished_row_condition(obj)
    }
    fn limit_range_defaults(&self, obj: &mut Value, ranges: &[core::LimitRange]) {
        super::limit_range::default_pod_resources(obj, ranges);
        // kube-apiserver computes the QoS class after admission
        // (PrepareForCreate): it follows the requests and limits just set.
        let qos = obj.get("spec").map(qos_class);
        if let (Some(q), Some(status)) = (qos, obj.get_mut("status").and_then(Value::as_object_mut))
        {
            status.insert("qosClass".into(), json!(q));
        }
    }
    fn limit_range_violations(&self, obj: &Value, ranges: &[core::LimitRange]) -> Vec<String> {
        super::limit_range::pod_violations(obj, ranges)
    }
    fn quota_usage(&self, obj: &Value, now: Timestamp) -> ResourceList {
        pod_quota_usage(obj, now)
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        POD_QUOTA_RESOURCES.contains(&resource)
    }
    fn quota_scope_matches(
        &self,
        obj: &Value,
        scope: &core::ScopedResourceSelectorRequirement,
    ) -> bool {
        pod_matches_scope(obj, scope)
    }
    fn quota_constraints(&self, obj: &Value, tracked: &BTreeSet<String>) -> Result<(), String> {
        pod_quota_constraints(obj, tracked)
    }
}

// -- quota (Kubernetes' pod evaluator, pkg/quota/v1/evaluator/core/pods.go) ----

use crate::quota::ResourceList;

/// What a quota can limit about pods (`podResources`; hugepages and
/// extended resources are not modelled).
const POD_QUOTA_RESOURCES: &[&str] = &[
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// The compute resources a pod must state per container when a quota
/// tracks them (`validationSet`; Kubernetes calls the rule a mistake it
/// keeps for compatibility, and adds no resource to it).
pub(crate) const MUST_SPECIFY: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// `PodUsageFunc`: a pod that still counts costs `pods` and its requests
/// and limits; a finished one (or one whose deletion grace has run out)
/// only its object count.
fn pod_quota_usage(pod: &Value, now: Timestamp) -> ResourceList {
    if !counts_for_quota(pod, now) {
        return ResourceList::new();
    }
    let (requests, limits) = super::limit_range::pod_totals(pod);
    compute_usage(&requests, &limits)
}

/// `QuotaV1Pod`: not Succeeded or Failed, and not stuck terminating past
/// its deletion time plus grace period (a lost node's pods stop counting).
fn counts_for_quota(pod: &Value, now: Timestamp) -> bool {
    if matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    ) {
        return false;
    }
    let deleted_at = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    let grace = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    match (deleted_at, grace) {
        (Some(at), Some(grace)) => now <= at + jiff::SignedDuration::from_secs(grace),
        _ => true,
    }
}

/// `podComputeUsageHelper`: `pods` plus each compute resource the lists set,
/// under its plain, `requests.` and `limits.` names.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("pods".into(), Quantity::from_value(1, Default::default()));
    for name in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(name) {
            usage.insert(name.into(), *q);
            usage.insert(format!("requests.{name}"), *q);
        }
        if let Some(q) = limits.get(name) {
            usage.insert(format!("limits.{name}"), *q);
        }
    }
    usage
}

/// `podMatchesScopeFunc`.
fn pod_matches_scope(pod: &Value, scope: &core::ScopedResourceSelectorRequirement) -> bool {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let terminating = spec
        .get("activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s >= 0);
    let best_effort = qos_class(spec) == "BestEffort";
    match scope.scope_name.as_str() {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        "PriorityClass" => {
            // The pod's class name as the label `PriorityClass` (`podMatchesSelector`).
            let class = spec
                .get("priorityClassName")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty());
            let listed = |c: &str| scope.values.iter().flatten().any(|v| v == c);
            match scope.operator.as_str() {
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                "In" => class.is_some_and(listed),
                "NotIn" => !class.is_some_and(listed),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(spec),
        _ => false,
    }
}

/// Whether a pod (anti-)affinity term names other namespaces.
fn uses_cross_namespace_affinity(spec: &Value) -> bool {
    let cross = |term: &Value| {
        term.get("namespaces")
            .and_then(Value::as_array)
            .is_some_and(|n| !n.is_empty())
            || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(a) = spec.pointer(&format!("/affinity/{kind}")) else {
            return false;
        };
        let required = a
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(cross);
        let preferred = a
            .get("preferredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|w| w.get("podAffinityTerm").is_some_and(cross));
        required || preferred
    })
}

/// The pod evaluator's `Constraints`: with cpu or memory quoted, every
/// container must state them (`must specify limits.cpu for: web`).
fn pod_quota_constraints(pod: &Value, tracked: &BTreeSet<String>) -> Result<(), String> {
    let required: Vec<&String> = tracked
        .iter()
        .filter(|r| MUST_SPECIFY.contains(&r.as_str()))
        .collect();
    let mut missing: std::collections::BTreeMap<&str, BTreeSet<&str>> = Default::default();
    for key in ["containers", "initContainers"] {
        for c in pod
            .pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let list =
                |which: &str| crate::quota::from_json(c.pointer(&format!("/resources/{which}")));
            let has = compute_usage(&list("requests"), &list("limits"));
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            for r in &required {
                if !has.contains_key(r.as_str()) {
                    missing.entry(r.as_str()).or_default().insert(name);
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(r, names)| {
            format!(
                "{r} for: {}",
                names.iter().copied().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    Err(format!("must specify {}", parts.join("; ")))
}

fn validate_pod(pod: &Value, errs: &mut Errs) {
    super::pod_apparmor::validate(&pod["metadata"], &pod["spec"], "", errs);
    if let Some(pod) = typed::<core::Pod>(pod, errs) {
        let spec = pod.spec.unwrap_or_default();
        validate_pod_spec(&spec, "spec", SpecOwner::Pod, errs);
    }
}

/// `ValidatePodUpdate`: only images, activeDeadlineSeconds (set or lower),
/// added tolerations, removed scheduling gates, and a negative grace period
/// set to 1 may change. `spec.nodeName` is set through `pods/binding`.
/// `ValidatePodEphemeralContainersUpdate` and `validateEphemeralContainers`:
/// existing ephemeral containers stay as they are; a new one has an image,
/// a name no other container has, no ports, probes, lifecycle, resources or
/// restart policy, and a `targetContainerName` that names a container.
fn validate_ephemeral_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (Some(new), Some(old)) = (typed::<core::Pod>(new, errs), typed::<core::Pod>(old, errs))
    else {
        return;
    };
    let (ns, os) = (new.spec.unwrap_or_default(), old.spec.unwrap_or_default());
    let news = list(&ns.ephemeral_containers);
    for (i, was) in list(&os.ephemeral_containers).iter().enumerate() {
        match news.iter().find(|c| c.name == was.name) {
            None => errs.push(FieldError::forbidden(
                "spec.ephemeralContainers",
                format!(
                    "existing ephemeral containers {:?} may not be removed",
                    was.name
                ),
            )),
            Some(now) if json_of(now) != json_of(was) => errs.push(FieldError::forbidden(
                format!("spec.ephemeralContainers[{i}]"),
                format!(
                    "existing ephemeral containers {:?} may not be changed",
                    was.name
                ),
            )),
            _ => {}
        }
    }
    let containers: Vec<&str> = ns
        .containers
        .iter()
        .chain(list(&ns.init_containers))
        .map(|c| c.name.as_str())
        .collect();
    let existing: Vec<&str> = list(&os.ephemeral_containers)
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for (i, c) in news.iter().enumerate() {
        if existing.contains(&c.name.as_str()) {
            continue;
        }
        let path = format!("spec.ephemeralContainers[{i}]");
        if containers.contains(&c.name.as_str()) {
            errs.push(FieldError::duplicate(format!("{path}.name"), json!(c.name)));
        }
        if c.image.as_deref().unwrap_or_default().is_empty() {
            errs.push(FieldError::required(format!("{path}.image"), ""));
        }
        let set = [
            ("ports", c.ports.as_ref().is_some_and(|p| !p.is_empty())),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
            ("lifecycle", c.lifecycle.is_some()),
            (
                "resources",
                c.resources
                    .as_ref()
                    .is_some_and(|r| json_of(r) != json!({})),
            ),
            ("resizePolicy", c.resize_policy.is_some()),
            ("restartPolicy", c.restart_policy.is_some()),
        ];
        for (field, present) in set {
            if present {
                errs.push(FieldError::forbidden(
                    format!("{path}.{field}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        if let Some(target) = c.target_container_name.as_deref() {
            if !containers.contains(&target) {
                errs.push(FieldError {
                    kind: ErrorType::NotFound,
                    field: format!("{path}.targetContainerName"),
                    value: Some(json!(target)),
                    detail: String::new(),
                });
            }
        }
    }
}

fn validate_pod_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (Some(new), Some(old)) = (typed::<core::Pod>(new, errs), typed::<core::Pod>(old, errs))
    else {
        return;
    };
    let (ns, os) = (new.spec.unwrap_or_default(), old.spec.unwrap_or_default());
    for (key, n, o) in [
        ("containers", ns.containers.len(), os.containers.len()),
        (
            "initContainers",
            list(&ns.init_containers).len(),
            list(&os.init_containers).len(),
        ),
    ] {
        if n != o {
            errs.push(FieldError::forbidden(
                format!("spec.{key}"),
                "pod updates may not add or remove containers",
            ));
            return;
        }
    }

    match (ns.active_deadline_seconds, os.active_deadline_seconds) {
        (Some(n), _) if n < 0 || n > i64::from(i32::MAX) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                Value::from(n),
                format!("must be between 0 and {}, inclusive", i32::MAX),
            ));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                Value::from(n),
                "must be less than or equal to previous value",
            ));
            return;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::from("null"),
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    // Tolerations: every old one must still be there (its tolerationSeconds may change).
    let strip_seconds = |t: &core::Toleration| {
        let mut t = normalize(&json_of(t));
        if let Some(m) = t.as_object_mut() {
            m.remove("tolerationSeconds");
        }
        t
    };
    let new_tolerations: Vec<Value> = list(&ns.tolerations).iter().map(strip_seconds).collect();
    if list(&os.tolerations)
        .iter()
        .any(|t| !new_tolerations.contains(&strip_seconds(t)))
    {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    // Scheduling gates may only be removed.
    let old_gates: Vec<&str> = list(&os.scheduling_gates)
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    for g in list(&ns.scheduling_gates) {
        if !old_gates.contains(&g.name.as_str()) {
            errs.push(FieldError::forbidden(
                "spec.schedulingGates",
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }

    // Munge the updatable fields back to their old values, then compare.
    let mut munged = ns.clone();
    for (c, old) in munged.containers.iter_mut().zip(&os.containers) {
        c.image.clone_from(&old.image);
    }
    if let (Some(cs), Some(olds)) = (&mut munged.init_containers, &os.init_containers) {
        for (c, old) in cs.iter_mut().zip(olds) {
            c.image.clone_from(&old.image);
        }
    }
    munged.active_deadline_seconds = os.active_deadline_seconds;
    munged.tolerations.clone_from(&os.tolerations);
    munged.scheduling_gates.clone_from(&os.scheduling_gates);
    let old_grace = os.termination_grace_period_seconds;
    if old_grace.is_some_and(|g| g < 0) && ns.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old_grace;
    }
    let (munged, old_spec) = (normalize(&json_of(&munged)), normalize(&json_of(&os)));
    if munged != old_spec {
        let mut lines = Vec::new();
        diff_values(&old_spec, &munged, "", &mut lines);
        let more = lines.len().saturating_sub(20);
        lines.truncate(20);
        if more > 0 {
            lines.push(format!("  \t... ({more} more)"));
        }
        errs.push(FieldError::forbidden(
            "spec",
            format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n  spec{{\n{}\n  }}", lines.join("\n")),
        ));
    }
}

/// Lines `- \tpath: old` / `+ \tpath: new` for every leaf that differs.
fn diff_values(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            for k in keys {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                if x != y {
                    diff_values(x, y, &join(k), out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    diff_values(x, y, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {
            if !old.is_null() {
                out.push(format!("- \t{path}: {old}"));
            }
            if !new.is_null() {
                out.push(format!("+ \t{path}: {new}"));
            }
        }
    }
}

/// The pod fields an update may change (`updatablePodSpecFields`).
pub(crate) const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Pod: PodSpec defaults plus the Pod-only ones (requests from limits,
/// service links, service account, priority, admission tolerations) and the
/// initial status.
fn default_pod(pod: &mut Obj) {
    let Some(spec) = child(pod, "spec") else {
        return;
    };
    default_value(spec, "serviceAccountName", json!("default"));
    default_pod_spec(spec, true);
    for key in ["containers", "initContainers"] {
        for c in each_item(spec, key) {
            default_requests_from_limits(c);
        }
    }
    for c in each_item(spec, "containers") {
        default_resize_policy(c);
    }
    default_value(spec, "enableServiceLinks", json!(true));
    default_priority(spec);
    default_not_ready_tolerations(spec);
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for key in ["containers", "initContainers"] {
            for c in each_item(spec, key) {
                for p in each_item(c, "ports") {
                    let unset = p.get("hostPort").is_none_or(|h| h.is_null() || h == 0);
                    if let Some(cp) = p.get("containerPort").cloned().filter(|_| unset) {
                        p.insert("hostPort".into(), cp);
                    }
                }
            }
        }
    }
    let qos = pod.get("spec").map(qos_class);
    if let Some(status) = child(pod, "status") {
        default_value(status, "phase", json!("Pending"));
        if let Some(q) = qos {
            default_value(status, "qosClass", json!(q));
        }
    }
}

/// Pod-only: a container that sets limits but not requests requests what it
/// limits.
fn default_requests_from_limits(c: &mut Obj) {
    let Some(resources) = existing(c, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    let Some(requests) = child(resources, "requests") else {
        return;
    };
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

/// Priority admission: built-in classes and otherwise priority 0.
fn default_priority(spec: &mut Obj) {
    let priority = match str_at(spec, "priorityClassName") {
        Some("system-node-critical") => 2_000_001_000,
        Some("system-cluster-critical") => 2_000_000_000,
        _ => 0,
    };
    default_value(spec, "priority", json!(priority));
    default_value(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// DefaultTolerationSeconds admission: tolerate `not-ready` and
/// `unreachable` nodes for 300s unless the pod already says otherwise.
fn default_not_ready_tolerations(spec: &mut Obj) {
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .is_some_and(|ts| {
                ts.iter().any(|t| {
                    let t_key = t.get("key").and_then(Value::as_str).unwrap_or("");
                    let op = t.get("operator").and_then(Value::as_str).unwrap_or("");
                    let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                    (t_key == key || (t_key.is_empty() && op == "Exists"))
                        && (effect.is_empty() || effect == "NoExecute")
                })
            });
        if tolerated {
            continue;
        }
        if spec.get("tolerations").is_none_or(|v| !v.is_array()) {
            spec.insert("tolerations".into(), json!([]));
        }
        if let Some(ts) = spec.get_mut("tolerations").and_then(Value::as_array_mut) {
            ts.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300
            }));
        }
    }
}

const POD_COLUMNS: &[Column] = &[
    NAME,
    string("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    string("Status", "The aggregate status of the containers in this pod."),
    string("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    wide("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
    wide("Node", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"),
    wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled."),
    wide("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"),
];

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = PodSummary::of(pod);
    let restarts = match summary.last_restart {
        Some(at) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, duration_between(at, now))
        }
        _ => summary.restarts.to_string(),
    };
    let pod_ip = first_nonempty(&[text(pod, "/status/podIPs/0/ip"), text(pod, "/status/podIP")]);
    vec![
        name_cell(pod),
        format!("{}/{}", summary.ready, summary.total).into(),
        summary.reason.into(),
        restarts.into(),
        age_cell(pod, now),
        or_none(pod_ip).into(),
        or_none(text(pod, "/spec/nodeName")).into(),
        or_none(text(pod, "/status/nominatedNodeName")).into(),
        readiness_gates(pod).into(),
    ]
}

/// READY, STATUS and RESTARTS of a pod, computed as `kubectl get pods` does.
#[derive(Debug, PartialEq)]
struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

impl PodSummary {
    fn of(pod: &Value) -> PodSummary {
        let phase = text(pod, "/status/phase");
        let mut reason = first_nonempty(&[text(pod, "/status/reason"), phase]).to_string();
        let gated = items_at(pod, "/status/conditions")
            .iter()
            .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated");
        if gated {
            reason = "SchedulingGated".into();
        }

        let init_specs = items_at(pod, "/spec/initContainers");
        let is_sidecar = |name: &str| {
            init_specs
                .iter()
                .any(|c| text(c, "/name") == name && text(c, "/restartPolicy") == "Always")
        };
        let sidecars = init_specs
            .iter()
            .filter(|c| text(c, "/restartPolicy") == "Always")
            .count();
        let mut summary = PodSummary {
            ready: 0,
            total: items_at(pod, "/spec/containers").len() + sidecars,
            reason,
            restarts: 0,
            last_restart: None,
        };

        // Init containers, in order, up to the first one not done yet.
        let mut sidecar_restarts = 0;
        let mut sidecar_last_restart = None;
        let mut initializing = false;
        for (index, status) in items_at(pod, "/status/initContainerStatuses")
            .iter()
            .enumerate()
        {
            let count = int(status, "/restartCount");
            let finished = last_termination(status);
            summary.restarts += count;
            summary.last_restart = later(summary.last_restart, finished);
            let sidecar = is_sidecar(text(status, "/name"));
            if sidecar {
                sidecar_restarts += count;
                sidecar_last_restart = later(sidecar_last_restart, finished);
            }
            let terminated = present(status, "/state/terminated");
            let waiting_reason = text(status, "/state/waiting/reason");
            if terminated && int(status, "/state/terminated/exitCode") == 0 {
                continue;
            }
            if sidecar && flag(status, "/started") {
                if flag(status, "/ready") {
                    summary.ready += 1;
                }
                continue;
            }
            summary.reason = if terminated {
                match text(status, "/state/terminated/reason") {
                    "" => match int(status, "/state/terminated/signal") {
                        0 => format!(
                            "Init:ExitCode:{}",
                            int(status, "/state/terminated/exitCode")
                        ),
                        signal => format!("Init:Signal:{signal}"),
                    },
                    r => format!("Init:{r}"),
                }
            } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
                format!("Init:{waiting_reason}")
            } else {
                format!("Init:{}/{}", index, init_specs.len())
            };
            initializing = true;
            break;
        }

        // Regular containers, last first, so the first container's state wins.
        if !initializing || first_condition_true(pod, "Initialized") {
            summary.restarts = sidecar_restarts;
            summary.last_restart = sidecar_last_restart;
            let mut has_running = false;
            for status in items_at(pod, "/status/containerStatuses").iter().rev() {
                summary.restarts += int(status, "/restartCount");
                summary.last_restart = later(summary.last_restart, last_termination(status));
                let waiting_reason = text(status, "/state/waiting/reason");
                let terminated_reason = text(status, "/state/terminated/reason");
                if !waiting_reason.is_empty() {
                    summary.reason = waiting_reason.into();
                } else if !terminated_reason.is_empty() {
                    summary.reason = terminated_reason.into();
                } else if present(status, "/state/terminated") {
                    summary.reason = match int(status, "/state/terminated/signal") {
                        0 => format!("ExitCode:{}", int(status, "/state/terminated/exitCode")),
                        signal => format!("Signal:{signal}"),
                    };
                } else if flag(status, "/ready") && present(status, "/state/running") {
                    has_running = true;
                    summary.ready += 1;
                }
            }
            if summary.reason == "Completed" && has_running {
                summary.reason = if any_condition_true(pod, "Ready") {
                    "Running"
                } else {
                    "NotReady"
                }
                .into();
            }
        }

        if present(pod, "/metadata/deletionTimestamp") {
            if text(pod, "/status/reason") == "NodeLost" {
                summary.reason = "Unknown".into();
            } else if phase != "Succeeded" && phase != "Failed" {
                summary.reason = "Terminating".into();
            }
        }
        summary
    }
}

fn last_termination(container_status: &Value) -> Option<Timestamp> {
    timestamp(container_status, "/lastState/terminated/finishedAt")
}

fn readiness_gates(pod: &Value) -> String {
    let gates = items_at(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".into();
    }
    let conditions = items_at(pod, "/status/conditions");
    let passed = gates
        .iter()
        .filter(|gate| {
            conditions
                .iter()
                .find(|c| text(c, "/type") == text(gate, "/conditionType"))
                .is_some_and(|c| text(c, "/status") == "True")
        })
        .count();
    format!("{passed}/{}", gates.len())
}

/// A pod created with scheduling gates says why it waits, as kube-apiserver does.
fn mark_scheduling_gated(pod: &mut Value) {
    let gated = pod
        .pointer("/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    if gated {
        pod["status"]["conditions"] = json!([{
            "type": "PodScheduled",
            "status": "False",
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
            "lastProbeTime": null,
            "lastTransitionTime": meta::now_rfc3339(),
        }]);
    }
}

/// A running pod bound to a node is given its grace period (the client's,
/// else `terminationGracePeriodSeconds`, else 30 s) for the kubelet to stop
/// it; an unbound or finished pod goes at once.
fn deletion_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let bound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    let requested = requested
        .or_else(|| {
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0);
    if bound && !finished {
        requested
    } else {
        0
    }
}

/// kube marks finished pods' rows as `Completed` (kubectl may use it to dim them).
fn finished_row_condition(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{ "type": "Completed", "status": "True", "reason": reason, "message": message }]))
}
