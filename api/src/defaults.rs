//! Defaulting: the values kube-apiserver fills in before it validates and
//! stores an object, so that controllers, kubelets and `kubectl` can rely on
//! them being present.
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
//! - Job: the generated selector and labels ([`default_job_selector`], which
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

use serde_json::{json, Map, Value};

use crate::catalogue::ResourceInfo;
use crate::quantity::{self, Quantity};

type Obj = Map<String, Value>;

/// The name of the label Kubernetes puts on every Namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Job pod labels (current and legacy spellings), see [`default_job_selector`].
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";

/// Applies the defaults of `info`'s kind to `obj` (a full object).
pub fn apply(info: &ResourceInfo, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (info.group, info.kind) {
        ("", "Pod") => default_pod(root),
        ("", "Service") => default_service(root),
        ("", "Namespace") => default_namespace(root),
        ("", "Secret") => default_secret(root),
        ("", "Node") => default_node(root),
        ("", "Endpoints") => default_endpoints(root),
        ("", "PersistentVolume") => default_persistent_volume(root),
        ("", "PersistentVolumeClaim") => default_persistent_volume_claim(root),
        ("", "ResourceQuota") => default_resource_quota(root),
        ("", "LimitRange") => default_limit_range(root),
        ("apps", "Deployment") => default_deployment(root),
        ("apps", "ReplicaSet") => default_replica_set(root),
        ("apps", "StatefulSet") => default_stateful_set(root),
        ("apps", "DaemonSet") => default_daemon_set(root),
        ("batch", "Job") => default_job(root),
        ("batch", "CronJob") => default_cron_job(root),
        ("networking.k8s.io", "NetworkPolicy") => default_network_policy(root),
        ("autoscaling", "HorizontalPodAutoscaler") => default_hpa(root, info.version),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Small helpers over JSON maps.
// ---------------------------------------------------------------------------

/// Sets `key` to `value` unless it already holds a non-null value.
fn default_value(map: &mut Obj, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

/// The object at `key`, created empty when absent or null. `None` when the
/// key holds something else (left for validation to report).
fn child<'a>(map: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), Value::Object(Map::new()));
    }
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key` if there is one; never creates it.
fn existing<'a>(map: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// Every object element of the array at `key`.
fn each_item<'a>(map: &'a mut Obj, key: &str) -> impl Iterator<Item = &'a mut Obj> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn str_at<'a>(map: &'a Obj, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// True when `key` holds a non-empty array or object.
fn non_empty(map: &Obj, key: &str) -> bool {
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
fn canonicalize_quantities(list: &mut Obj) {
    for v in list.values_mut() {
        canonicalize_quantity(v);
    }
}

/// One quantity in canonical form, rounded up to milli-units as
/// `SetDefaults_ResourceList` does (`100u` → `1m`).
fn canonicalize_quantity(v: &mut Value) {
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

/// Defaults of a pod template (`spec.template` of a workload): the PodSpec
/// only. `restart_policy` is false for Job templates, which must choose.
fn default_pod_template(template: &mut Obj, restart_policy: bool) {
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
fn default_container(c: &mut Obj) {
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
fn image_tag(image: &str) -> Option<String> {
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
fn default_probe(p: &mut Obj) {
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
fn default_http_get(get: &mut Obj) {
    if get.get("path").is_none_or(|v| v.is_null() || v == "") {
        get.insert("path".into(), json!("/"));
    }
    default_value(get, "scheme", json!("HTTP"));
}

/// `SetDefaults_Volume` and the volume sources' defaults.
fn default_volume(v: &mut Obj) {
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

fn default_downward_items(d: &mut Obj) {
    for item in each_item(d, "items") {
        if let Some(f) = existing(item, "fieldRef") {
            default_value(f, "apiVersion", json!("v1"));
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

/// Pod-only, app containers (in-place resize, on by default since 1.33):
/// every requested CPU or memory resource gets a `NotRequired` resize
/// policy unless the container names one.
fn default_resize_policy(c: &mut Obj) {
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

/// `SetDefaults_Service` plus the single-stack IP family fields the service
/// REST storage fills in.
fn default_service(svc: &mut Obj) {
    let Some(spec) = child(svc, "spec") else {
        return;
    };
    default_value(spec, "sessionAffinity", json!("None"));
    if str_at(spec, "sessionAffinity") == Some("None") {
        spec.remove("sessionAffinityConfig");
    }
    if str_at(spec, "sessionAffinity") == Some("ClientIP") {
        if let Some(cfg) = child(spec, "sessionAffinityConfig") {
            if let Some(ip) = child(cfg, "clientIP") {
                default_value(ip, "timeoutSeconds", json!(10800));
            }
        }
    }
    default_value(spec, "type", json!("ClusterIP"));
    for p in each_item(spec, "ports") {
        default_value(p, "protocol", json!("TCP"));
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if unset {
            if let Some(port) = p.get("port").cloned() {
                p.insert("targetPort".into(), port);
            }
        }
    }
    let ty = str_at(spec, "type").unwrap_or("ClusterIP").to_string();
    let externally_accessible = ty == "NodePort"
        || ty == "LoadBalancer"
        || (ty == "ClusterIP" && non_empty(spec, "externalIPs"));
    if externally_accessible {
        default_value(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_value(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_value(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty != "ExternalName" {
        // clusterIP and clusterIPs[0] name the same address.
        let ip = str_at(spec, "clusterIP").unwrap_or("").to_string();
        let ips_empty = !non_empty(spec, "clusterIPs");
        if !ip.is_empty() && ips_empty {
            spec.insert("clusterIPs".into(), json!([ip]));
        } else if ip.is_empty() && !ips_empty {
            if let Some(first) = spec.get("clusterIPs").and_then(|v| v.get(0)).cloned() {
                spec.insert("clusterIP".into(), first);
            }
        }
        let family = if str_at(spec, "clusterIP").is_some_and(|ip| ip.contains(':')) {
            "IPv6"
        } else {
            "IPv4"
        };
        default_value(spec, "ipFamilyPolicy", json!("SingleStack"));
        if !non_empty(spec, "ipFamilies") {
            spec.insert("ipFamilies".into(), json!([family]));
        }
    }
}

/// `SetDefaults_Namespace`/`SetDefaults_NamespaceStatus` and the namespace
/// strategy's `kubernetes` finalizer.
fn default_namespace(ns: &mut Obj) {
    let name = ns
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let deleting = ns
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|v| !v.is_null());
    if !name.is_empty() {
        if let Some(labels) = child(ns, "metadata").and_then(|m| child(m, "labels")) {
            labels.insert(NAMESPACE_NAME_LABEL.into(), json!(name));
        }
    }
    // Only before deletion starts: once the namespace controller has
    // finalized it, the list must stay empty.
    if !deleting {
        if let Some(spec) = child(ns, "spec") {
            default_value(spec, "finalizers", json!(["kubernetes"]));
        }
    }
    if let Some(status) = child(ns, "status") {
        default_value(status, "phase", json!("Active"));
    }
}

/// `SetDefaults_Secret` (type `Opaque`) and the conversion that folds the
/// write-only `stringData` into base64 `data`.
fn default_secret(secret: &mut Obj) {
    default_value(secret, "type", json!("Opaque"));
    if let Some(Value::Object(string_data)) = secret.remove("stringData") {
        if let Some(data) = child(secret, "data") {
            for (k, v) in string_data {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                data.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

/// Standard base64 with padding (what `data` of a Secret holds).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `SetDefaults_NodeStatus`: allocatable defaults to capacity.
fn default_node(node: &mut Obj) {
    let Some(status) = existing(node, "status") else {
        return;
    };
    for key in ["capacity", "allocatable"] {
        if let Some(list) = existing(status, key) {
            canonicalize_quantities(list);
        }
    }
    if non_empty(status, "capacity") && !non_empty(status, "allocatable") {
        if let Some(cap) = status.get("capacity").cloned() {
            status.insert("allocatable".into(), cap);
        }
    }
}

/// `SetDefaults_EndpointPort`: protocol TCP.
fn default_endpoints(ep: &mut Obj) {
    for subset in each_item(ep, "subsets") {
        for p in each_item(subset, "ports") {
            default_value(p, "protocol", json!("TCP"));
        }
    }
}

/// `SetDefaults_PersistentVolume`.
fn default_persistent_volume(pv: &mut Obj) {
    if let Some(spec) = child(pv, "spec") {
        default_value(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default_value(spec, "volumeMode", json!("Filesystem"));
        if let Some(cap) = existing(spec, "capacity") {
            canonicalize_quantities(cap);
        }
    }
    if let Some(status) = child(pv, "status") {
        default_value(status, "phase", json!("Pending"));
    }
}

/// `SetDefaults_PersistentVolumeClaim` (also used for StatefulSet claim
/// templates).
fn default_persistent_volume_claim(pvc: &mut Obj) {
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

fn default_resource_quota(q: &mut Obj) {
    if let Some(hard) = existing(q, "spec").and_then(|s| existing(s, "hard")) {
        canonicalize_quantities(hard);
    }
}

/// `SetDefaults_LimitRangeItem`: for `Container` items, default limits come
/// from `max`, default requests from the default limits, then from `min`.
fn default_limit_range(lr: &mut Obj) {
    let Some(spec) = existing(lr, "spec") else {
        return;
    };
    for item in each_item(spec, "limits") {
        for key in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
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

// ---------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------

/// `SetDefaults_Deployment`.
fn default_deployment(d: &mut Obj) {
    let Some(spec) = child(d, "spec") else {
        return;
    };
    default_value(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        default_value(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == Some("RollingUpdate") {
            if let Some(ru) = child(strategy, "rollingUpdate") {
                default_value(ru, "maxUnavailable", json!("25%"));
                default_value(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default_value(spec, "revisionHistoryLimit", json!(10));
    default_value(spec, "progressDeadlineSeconds", json!(600));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
}

/// `SetDefaults_ReplicaSet`.
fn default_replica_set(rs: &mut Obj) {
    let Some(spec) = child(rs, "spec") else {
        return;
    };
    default_value(spec, "replicas", json!(1));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
}

/// `SetDefaults_StatefulSet`.
fn default_stateful_set(sts: &mut Obj) {
    let Some(spec) = child(sts, "spec") else {
        return;
    };
    default_value(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child(spec, "updateStrategy") {
        if strategy.get("type").is_none_or(|v| v.is_null() || v == "") {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_value(strategy, "rollingUpdate", json!({}));
        }
        if str_at(strategy, "type") == Some("RollingUpdate") {
            if let Some(ru) = existing(strategy, "rollingUpdate") {
                default_value(ru, "partition", json!(0));
            }
        }
    }
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        default_value(policy, "whenDeleted", json!("Retain"));
        default_value(policy, "whenScaled", json!("Retain"));
    }
    default_value(spec, "replicas", json!(1));
    default_value(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
    for claim in each_item(spec, "volumeClaimTemplates") {
        default_persistent_volume_claim(claim);
    }
}

/// `SetDefaults_DaemonSet`.
fn default_daemon_set(ds: &mut Obj) {
    let Some(spec) = child(ds, "spec") else {
        return;
    };
    if let Some(strategy) = child(spec, "updateStrategy") {
        default_value(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == Some("RollingUpdate") {
            if let Some(ru) = child(strategy, "rollingUpdate") {
                default_value(ru, "maxUnavailable", json!(1));
                default_value(ru, "maxSurge", json!(0));
            }
        }
    }
    default_value(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
}

// ---------------------------------------------------------------------------
// batch/v1
// ---------------------------------------------------------------------------

/// `SetDefaults_Job`. The generated selector needs the uid: see
/// [`default_job_selector`].
fn default_job(job: &mut Obj) {
    let Some(spec) = child(job, "spec") else {
        return;
    };
    default_job_spec(spec);
    copy_template_labels_to_job(job);
}

fn default_job_spec(spec: &mut Obj) {
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

/// A Job without labels of its own takes its pod template's labels.
fn copy_template_labels_to_job(job: &mut Obj) {
    let template_labels = job
        .get("spec")
        .and_then(|s| s.pointer("/template/metadata/labels"))
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned();
    let Some(template_labels) = template_labels else {
        return;
    };
    let Some(meta) = child(job, "metadata") else {
        return;
    };
    let has_labels = meta
        .get("labels")
        .and_then(Value::as_object)
        .is_some_and(|l| !l.is_empty());
    if !has_labels {
        meta.insert("labels".into(), Value::Object(template_labels));
    }
}

/// The Job strategy's selector generation, run by the server at create time
/// once `metadata.uid` is known (unless `spec.manualSelector` is true): pod
/// template labels `batch.kubernetes.io/controller-uid`, `controller-uid`,
/// `batch.kubernetes.io/job-name`, `job-name`, and a selector on
/// `batch.kubernetes.io/controller-uid`. Labels the user set are kept (a
/// conflict then fails validation, as in Kubernetes).
pub fn default_job_selector(obj: &mut Value, uid: &str) {
    let Some(job) = obj.as_object_mut() else {
        return;
    };
    let name = job
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = child(job, "spec") else {
        return;
    };
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if let Some(labels) = child(spec, "template")
        .and_then(|t| child(t, "metadata"))
        .and_then(|m| child(m, "labels"))
    {
        for (k, v) in [
            (CONTROLLER_UID_LABEL, uid),
            (JOB_NAME_LABEL, name.as_str()),
            (LEGACY_CONTROLLER_UID_LABEL, uid),
            (LEGACY_JOB_NAME_LABEL, name.as_str()),
        ] {
            labels.entry(k).or_insert_with(|| json!(v));
        }
    }
    if let Some(match_labels) = child(spec, "selector").and_then(|s| child(s, "matchLabels")) {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| json!(uid));
    }
    copy_template_labels_to_job(job);
}

/// `SetDefaults_CronJob`; the job template's pod spec is defaulted like a
/// Job's (no restart policy), its JobSpec is not (as in Kubernetes).
fn default_cron_job(cj: &mut Obj) {
    let Some(spec) = child(cj, "spec") else {
        return;
    };
    default_value(spec, "concurrencyPolicy", json!("Allow"));
    default_value(spec, "suspend", json!(false));
    default_value(spec, "successfulJobsHistoryLimit", json!(3));
    default_value(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(t) = child(spec, "jobTemplate")
        .and_then(|jt| child(jt, "spec"))
        .and_then(|js| child(js, "template"))
    {
        default_pod_template(t, false);
    }
}

// ---------------------------------------------------------------------------
// networking.k8s.io/v1, autoscaling
// ---------------------------------------------------------------------------

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`.
fn default_network_policy(np: &mut Obj) {
    let Some(spec) = child(np, "spec") else {
        return;
    };
    for dir in ["ingress", "egress"] {
        for rule in each_item(spec, dir) {
            for p in each_item(rule, "ports") {
                default_value(p, "protocol", json!("TCP"));
            }
        }
    }
    if !non_empty(spec, "policyTypes") {
        let mut types = vec![json!("Ingress")];
        if non_empty(spec, "egress") {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` (v1: minReplicas; v2: also the
/// default CPU metric and, when `behavior` is given, its missing rules).
fn default_hpa(hpa: &mut Obj, version: &str) {
    let Some(spec) = child(hpa, "spec") else {
        return;
    };
    default_value(spec, "minReplicas", json!(1));
    if version != "v2" {
        return;
    }
    if !non_empty(spec, "metrics") {
        spec.insert(
            "metrics".into(),
            json!([{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
            }]),
        );
    }
    if let Some(behavior) = existing(spec, "behavior") {
        if let Some(up) = child(behavior, "scaleUp") {
            default_value(up, "stabilizationWindowSeconds", json!(0));
            default_value(up, "selectPolicy", json!("Max"));
            default_value(
                up,
                "policies",
                json!([
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]),
            );
        }
        if let Some(down) = child(behavior, "scaleDown") {
            default_value(down, "selectPolicy", json!("Max"));
            default_value(
                down,
                "policies",
                json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Update-time preparation.
// ---------------------------------------------------------------------------

/// What Kubernetes does to an incoming object on update before defaulting
/// and validation, beyond copying status and system metadata (the server's
/// job): a Service keeps the values the server allocated when the new
/// object omits them (`kubectl replace` of a manifest without `clusterIP`)
/// and drops fields its new type no longer allows; a Namespace keeps its
/// finalizers (only the `finalize` subresource changes them).
pub fn prepare_for_update(info: &ResourceInfo, new: &mut Value, old: &Value) {
    match (info.group, info.kind) {
        ("", "Service") => prepare_service_update(new, old),
        ("", "Namespace") => {
            let old_finalizers = old.pointer("/spec/finalizers").cloned();
            if let Some(spec) = new.as_object_mut().and_then(|n| child(n, "spec")) {
                match old_finalizers {
                    Some(f) => {
                        spec.insert("finalizers".into(), f);
                    }
                    None => {
                        spec.remove("finalizers");
                    }
                }
            }
        }
        _ => {}
    }
}

fn service_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn needs_node_ports(svc: &Value) -> bool {
    match service_type(svc) {
        "NodePort" => true,
        "LoadBalancer" => {
            svc.pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false)
        }
        _ => false,
    }
}

fn prepare_service_update(new: &mut Value, old: &Value) {
    let new_type = service_type(new).to_string();
    let old_type = service_type(old).to_string();
    let new_needs_node_ports = needs_node_ports(new);
    let old_needs_node_ports = needs_node_ports(old);
    let Some(spec) = new.as_object_mut().and_then(|n| child(n, "spec")) else {
        return;
    };
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let old_str = |k: &str| {
        old_spec
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };

    // patchAllocatedValues
    if new_type != "ExternalName" && old_type != "ExternalName" {
        if str_at(spec, "clusterIP").unwrap_or("").is_empty() && !old_str("clusterIP").is_empty() {
            spec.insert("clusterIP".into(), json!(old_str("clusterIP")));
        }
        if !non_empty(spec, "clusterIPs") {
            if let Some(ips) = old_spec
                .get("clusterIPs")
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                spec.insert("clusterIPs".into(), ips.clone());
            }
        }
    }
    if new_needs_node_ports && old_needs_node_ports {
        let old_ports: Vec<(String, Value)> = old_spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let np = p.get("nodePort").filter(|v| v.as_i64().unwrap_or(0) != 0)?;
                Some((
                    p.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    np.clone(),
                ))
            })
            .collect();
        let used: Vec<Value> = spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                p.get("nodePort")
                    .filter(|v| v.as_i64().unwrap_or(0) != 0)
                    .cloned()
            })
            .collect();
        for p in each_item(spec, "ports") {
            if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                continue;
            }
            let name = str_at(p, "name").unwrap_or("").to_string();
            if let Some((_, np)) = old_ports.iter().find(|(n, _)| *n == name) {
                if !used.contains(np) {
                    p.insert("nodePort".into(), np.clone());
                }
            }
        }
        if new_type == "LoadBalancer"
            && old_type == "LoadBalancer"
            && spec
                .get("healthCheckNodePort")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0
        {
            if let Some(hc) = old_spec
                .get("healthCheckNodePort")
                .filter(|v| v.as_i64().unwrap_or(0) != 0)
            {
                spec.insert("healthCheckNodePort".into(), hc.clone());
            }
        }
    }

    // dropTypeDependentFields: only fields the user left as they were.
    let unchanged = |spec: &Obj, k: &str| spec.get(k) == old_spec.get(k);
    if new_type != old_type {
        if new_type == "ExternalName" {
            for k in [
                "clusterIP",
                "clusterIPs",
                "ipFamilies",
                "ipFamilyPolicy",
                "internalTrafficPolicy",
            ] {
                if unchanged(spec, k) {
                    spec.remove(k);
                }
            }
        }
        if !new_needs_node_ports {
            let old_ports = old_spec
                .get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, p) in each_item(spec, "ports").enumerate() {
                let old_np = old_ports.get(i).and_then(|op| op.get("nodePort"));
                if p.get("nodePort").is_some() && p.get("nodePort") == old_np {
                    p.remove("nodePort");
                }
            }
        }
        if new_type != "LoadBalancer" {
            for k in [
                "healthCheckNodePort",
                "allocateLoadBalancerNodePorts",
                "loadBalancerClass",
            ] {
                if unchanged(spec, k) {
                    spec.remove(k);
                }
            }
        }
        let externally_accessible = new_type == "NodePort"
            || new_type == "LoadBalancer"
            || (new_type == "ClusterIP" && non_empty(spec, "externalIPs"));
        if !externally_accessible && unchanged(spec, "externalTrafficPolicy") {
            spec.remove("externalTrafficPolicy");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    fn info(group: &str, kind: &str) -> &'static ResourceInfo {
        catalogue::all()
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .expect("kind in catalogue")
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
        default_job_selector(&mut j, "uid-1");
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
