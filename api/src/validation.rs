//! Per-kind validation: the checks kube-apiserver makes on create and update
//! (after defaulting), reported as [`FieldError`]s worded as Kubernetes words
//! them, e.g. `spec.template.spec.containers[0].image: Required value`.
//!
//! Mirrors `pkg/apis/core/validation` (Pod, PodSpec, containers, probes,
//! volumes, Service, ConfigMap, Secret, Namespace, PVC, Node),
//! `pkg/apis/apps/validation`, `pkg/apis/batch/validation`,
//! `pkg/apis/networking/validation`, `pkg/apis/autoscaling/validation` and
//! `pkg/apis/coordination/validation`, plus the immutability rules that
//! Kubernetes keeps in registry strategies (apps/v1 selectors are immutable,
//! Secret `type`, pod spec updates). Object metadata is checked by
//! [`names::validate_object_meta`] with the kind's name rule.
//!
//! Left out: security contexts, affinity, topology spread, DNS config,
//! resource claims, ephemeral containers beyond their names, volume sources
//! beyond the common ones' required fields, `volumeMounts` that name a
//! missing volume (Kubernetes reports "Not found", a reason minik's
//! [`FieldError`] does not carry), status subresource rules, and the
//! field-level diff Kubernetes appends to a forbidden pod update (minik
//! appends a short list of the changed fields instead).

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::catalogue::ResourceInfo;
use crate::defaults::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
use crate::field_error::{ErrorType, FieldError};
use crate::names;
use crate::quantity::{self, Quantity};
use crate::selectors::{self, LabelSelector};

type Errs = Vec<FieldError>;

/// `IsNegativeErrorMsg`.
const NEGATIVE: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
const IMMUTABLE: &str = "field is immutable";
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
const INVALID_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const QUANTITY_SYNTAX: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Largest ConfigMap or Secret payload (`core.MaxSecretSize`).
const MAX_SECRET_SIZE: usize = 1024 * 1024;
/// The pod fields an update may change (`updatablePodSpecFields`).
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
/// The NodePort range minik's API server allocates from (kube-apiserver's default).
pub const NODE_PORT_RANGE: (i64, i64) = (30000, 32767);

/// Validates an object about to be created. Call after defaulting.
pub fn validate_create(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errs =
        names::validate_object_meta(obj, info.namespaced, names::name_rule_for_kind(info.kind));
    let e = &mut errs;
    match (info.group, info.kind) {
        ("", "Pod") => validate_pod(obj, e),
        ("", "Service") => validate_service(obj, e),
        ("", "ConfigMap") => validate_config_map(obj, e),
        ("", "Secret") => validate_secret(obj, e),
        ("", "Namespace") => validate_namespace(obj, e),
        ("", "Node") => validate_node(obj, e),
        ("", "Endpoints") => validate_endpoints(obj, e),
        ("", "PersistentVolume") => validate_persistent_volume(obj, e),
        ("", "PersistentVolumeClaim") => validate_persistent_volume_claim(obj, e),
        ("", "ResourceQuota") => validate_resource_list(&obj["spec"]["hard"], "spec.hard", e),
        ("", "LimitRange") => validate_limit_range(obj, e),
        ("apps", "Deployment") => validate_deployment(obj, e),
        ("apps", "ReplicaSet") => validate_replica_set(obj, e),
        ("apps", "StatefulSet") => validate_stateful_set(obj, e),
        ("apps", "DaemonSet") => validate_daemon_set(obj, e),
        ("batch", "Job") => validate_job(obj, e),
        ("batch", "CronJob") => validate_cron_job(obj, e),
        ("networking.k8s.io", "Ingress") => validate_ingress(obj, e),
        ("networking.k8s.io", "IngressClass") => validate_ingress_class(obj, e),
        ("networking.k8s.io", "NetworkPolicy") => validate_network_policy(obj, e),
        ("autoscaling", "HorizontalPodAutoscaler") => validate_hpa(obj, info.version, e),
        ("coordination.k8s.io", "Lease") => validate_lease(obj, e),
        _ => {}
    }
    errs
}

/// Validates an update: the create rules on `new`, plus what may not change
/// between `old` and `new`. Call after defaulting `new`.
pub fn validate_update(info: &ResourceInfo, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate_object_meta_update(new, old);
    errs.extend(validate_create(info, new));
    let e = &mut errs;
    match (info.group, info.kind) {
        ("", "Pod") => validate_pod_update(new, old, e),
        ("", "Service") => validate_service_update(new, old, e),
        ("", "ConfigMap") => validate_immutable_data(new, old, &["data", "binaryData"], e),
        ("", "Secret") => {
            immutable_field(new.get("type"), old.get("type"), "type", e);
            validate_immutable_data(new, old, &["data"], e);
        }
        ("", "PersistentVolumeClaim") => validate_pvc_update(new, old, e),
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => immutable_selector(
            &new["spec"]["selector"],
            &old["spec"]["selector"],
            "spec.selector",
            e,
        ),
        ("apps", "StatefulSet") => validate_stateful_set_update(new, old, e),
        ("batch", "Job") => validate_job_update(new, old, e),
        ("networking.k8s.io", "IngressClass") => immutable_field(
            new["spec"].get("controller"),
            old["spec"].get("controller"),
            "spec.controller",
            e,
        ),
        _ => {}
    }
    errs
}

// ---------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn int_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn is_set(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

fn is_true(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

fn map_of<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// An `Invalid value` whose value Kubernetes prints unquoted in Go syntax
/// (`map[string]string{…}`, `v1.LabelSelector{…}`, `25%`).
fn invalid_shown(field: impl Into<String>, shown: &str, detail: &str) -> FieldError {
    FieldError {
        kind: ErrorType::Invalid,
        field: field.into(),
        value: None,
        detail: format!("{shown}: {detail}"),
    }
}

/// `ValidateNonnegativeField` on an optional integer.
fn non_negative(v: &Value, key: &str, path: &str, errs: &mut Errs) {
    if let Some(n) = int_of(v, key) {
        if n < 0 {
            errs.push(FieldError::invalid(
                format!("{path}.{key}"),
                Value::from(n),
                NEGATIVE,
            ));
        }
    }
}

fn immutable_field(new: Option<&Value>, old: Option<&Value>, path: &str, errs: &mut Errs) {
    let norm = |v: Option<&Value>| v.map(normalize).unwrap_or(Value::Null);
    if norm(new) != norm(old) {
        errs.push(FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            IMMUTABLE,
        ));
    }
}

/// The value with nulls, empty maps and empty lists dropped from maps, so
/// that absent and empty compare equal (apimachinery's semantic equality).
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| {
                    let n = normalize(v);
                    let empty = match &n {
                        Value::Null => true,
                        Value::Object(o) => o.is_empty(),
                        Value::Array(a) => a.is_empty(),
                        _ => false,
                    };
                    (!empty).then(|| (k.clone(), n))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

// --- Go-syntax rendering of values, as field.Invalid prints them ----------

fn go_quote(s: &str) -> String {
    Value::from(s).to_string()
}

/// `map[string]string{"app":"web", "tier":"fe"}`, keys sorted, as Go's `%#v`.
fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let mut pairs: Vec<(&String, &Value)> = m.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = pairs
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(go_quote)
                        .unwrap_or_else(|| go_quote(&v.to_string()));
                    format!("{}:{}", go_quote(k), v)
                })
                .collect();
            format!("map[string]string{{{}}}", body.join(", "))
        }
    }
}

/// `[]string{"a", "b"}` / `[]string(nil)`.
fn go_string_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(a) => {
            let body: Vec<String> = a
                .iter()
                .map(|x| go_quote(x.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", body.join(", "))
        }
    }
}

/// `v1.LabelSelector{MatchLabels:…, MatchExpressions:…}` as Go's `%#v`.
fn go_label_selector(v: &Value) -> String {
    let exprs = match v.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let body: Vec<String> = list
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(str_of(e, "key")),
                        go_quote(str_of(e, "operator")),
                        go_string_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", body.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(v.get("matchLabels")),
        exprs
    )
}

/// An int-or-string as `IntOrString.String()` prints it.
fn int_or_string_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// --- quantities ------------------------------------------------------------

/// A quantity (string, or number as YAML gives it).
fn quantity_value(v: &Value) -> Result<Quantity, String> {
    match v {
        Value::Null => Err(QUANTITY_SYNTAX.to_string()),
        other => quantity::from_json(other).map_err(|e| e.to_string()),
    }
}

/// A quantity as Kubernetes prints it (`Quantity.String()`).
fn quantity_text(v: &Value) -> String {
    match quantity::from_json(v) {
        Ok(q) => q.to_string(),
        Err(_) => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
    }
}

// --- ports -----------------------------------------------------------------

fn port_num_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![PORT_RANGE.to_string()]
    }
}

/// `IsValidPortName` (IANA service names).
fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// `ValidatePortNumOrName`: a number in range or an IANA port name. Absent
/// reads as 0, as an unset `IntOrString` does.
fn validate_port_num_or_name(v: Option<&Value>, path: &str, errs: &mut Errs) {
    match v {
        Some(Value::String(s)) => {
            for msg in port_name_errors(s) {
                errs.push(FieldError::invalid(path, Value::from(s.as_str()), msg));
            }
        }
        Some(Value::Number(n)) => {
            let port = n.as_i64().unwrap_or(0);
            for msg in port_num_errors(port) {
                errs.push(FieldError::invalid(path, Value::from(port), msg));
            }
        }
        _ => errs.push(FieldError::invalid(path, Value::from(0), PORT_RANGE)),
    }
}

fn validate_protocol(p: &Value, path: &str, errs: &mut Errs) {
    match p.get("protocol").and_then(Value::as_str) {
        None | Some("") => errs.push(FieldError::required(format!("{path}.protocol"), "")),
        Some("TCP" | "UDP" | "SCTP") => {}
        Some(other) => errs.push(FieldError::not_supported(
            format!("{path}.protocol"),
            Value::from(other),
            &["SCTP", "TCP", "UDP"],
        )),
    }
}

// ---------------------------------------------------------------------------
// Object metadata on update.
// ---------------------------------------------------------------------------

/// `ValidateObjectMetaUpdate`: name, namespace and uid may not change.
fn validate_object_meta_update(new: &Value, old: &Value) -> Errs {
    let mut errs = Vec::new();
    for key in ["name", "namespace", "uid"] {
        let n = new["metadata"]
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("");
        let o = old["metadata"]
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("");
        // An empty uid on the incoming object is filled in by the server.
        if n != o && !(key == "uid" && n.is_empty()) {
            errs.push(FieldError::invalid(
                format!("metadata.{key}"),
                Value::from(n),
                IMMUTABLE,
            ));
        }
    }
    errs
}

// ---------------------------------------------------------------------------
// Pods and pod specs.
// ---------------------------------------------------------------------------

/// Where a PodSpec lives, which changes a few rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpecOwner {
    Pod,
    /// A workload's pod template (ReplicaSet, Deployment, …).
    Template,
    /// A Job's (or CronJob's) pod template: the restart policy is checked
    /// by the Job rules instead.
    JobTemplate,
}

fn validate_pod(pod: &Value, errs: &mut Errs) {
    validate_pod_spec(&pod["spec"], "spec", SpecOwner::Pod, errs);
}

/// `ValidatePodTemplateSpec` at `path` (e.g. `spec.template`).
fn validate_pod_template(template: &Value, path: &str, owner: SpecOwner, errs: &mut Errs) {
    if let Some(labels) = template["metadata"].get("labels") {
        errs.extend(names::validate_labels(
            labels,
            &format!("{path}.metadata.labels"),
        ));
    }
    if let Some(annotations) = template["metadata"].get("annotations") {
        errs.extend(names::validate_annotations(
            annotations,
            &format!("{path}.metadata.annotations"),
        ));
    }
    validate_pod_spec(&template["spec"], &format!("{path}.spec"), owner, errs);
    if !items(&template["spec"], "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// `ValidatePodSpec` (the parts minik implements).
fn validate_pod_spec(spec: &Value, path: &str, owner: SpecOwner, errs: &mut Errs) {
    validate_volumes(spec, path, errs);
    let host_network = is_true(spec, "hostNetwork");
    let mut names_seen: HashSet<String> = HashSet::new();

    let containers = items(spec, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    for (i, c) in items(spec, "initContainers").iter().enumerate() {
        let ctx = ContainerCtx {
            path: format!("{path}.initContainers[{i}]"),
            init: true,
            owner,
            host_network,
        };
        validate_container(c, &ctx, &mut names_seen, errs);
    }
    for (i, c) in containers.iter().enumerate() {
        let ctx = ContainerCtx {
            path: format!("{path}.containers[{i}]"),
            init: false,
            owner,
            host_network,
        };
        validate_container(c, &ctx, &mut names_seen, errs);
    }
    for (i, c) in items(spec, "ephemeralContainers").iter().enumerate() {
        let p = format!("{path}.ephemeralContainers[{i}].name");
        let name = str_of(c, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else if !names_seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(p, Value::from(name)));
        }
    }

    if owner != SpecOwner::JobTemplate {
        match spec.get("restartPolicy").and_then(Value::as_str) {
            Some("Always" | "OnFailure" | "Never") => {}
            None | Some("") => errs.push(FieldError::required(format!("{path}.restartPolicy"), "")),
            Some(other) => errs.push(FieldError::not_supported(
                format!("{path}.restartPolicy"),
                Value::from(other),
                &["Always", "OnFailure", "Never"],
            )),
        }
    }
    match spec.get("dnsPolicy").and_then(Value::as_str) {
        Some("ClusterFirstWithHostNet" | "ClusterFirst" | "Default") => {}
        Some("None") => {
            if !is_set(spec, "dnsConfig") {
                errs.push(FieldError::required(
                    format!("{path}.dnsConfig"),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
            }
        }
        None | Some("") => errs.push(FieldError::required(format!("{path}.dnsPolicy"), "")),
        Some(other) => errs.push(FieldError::not_supported(
            format!("{path}.dnsPolicy"),
            Value::from(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    if let Some(ads) = int_of(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                Value::from(ads),
                format!("must be between 1 and {}, inclusive", i32::MAX),
            ));
        }
    }
    for (key, label) in [
        ("nodeName", false),
        ("serviceAccountName", false),
        ("hostname", true),
        ("subdomain", true),
    ] {
        let v = str_of(spec, key);
        if v.is_empty() {
            continue;
        }
        let msgs = if label {
            names::is_dns1123_label(v)
        } else {
            names::is_dns1123_subdomain(v)
        };
        for msg in msgs {
            errs.push(FieldError::invalid(
                format!("{path}.{key}"),
                Value::from(v),
                msg,
            ));
        }
    }
    if let Some(selector) = spec.get("nodeSelector") {
        errs.extend(names::validate_labels(
            selector,
            &format!("{path}.nodeSelector"),
        ));
    }
    validate_tolerations(
        items(spec, "tolerations"),
        &format!("{path}.tolerations"),
        errs,
    );
    if let Some(overhead) = spec.get("overhead") {
        validate_resource_list(overhead, &format!("{path}.overhead"), errs);
    }
}

struct ContainerCtx {
    path: String,
    init: bool,
    owner: SpecOwner,
    host_network: bool,
}

/// `validateContainerCommon` and friends for one container.
fn validate_container(
    c: &Value,
    ctx: &ContainerCtx,
    names_seen: &mut HashSet<String>,
    errs: &mut Errs,
) {
    let p = &ctx.path;
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{p}.name"), ""));
    } else {
        for msg in names::is_dns1123_label(name) {
            errs.push(FieldError::invalid(
                format!("{p}.name"),
                Value::from(name),
                msg,
            ));
        }
    }
    if !name.is_empty() && !names_seen.insert(name.to_string()) {
        errs.push(FieldError::duplicate(
            format!("{p}.name"),
            Value::from(name),
        ));
    }

    let image = str_of(c, "image");
    if image.is_empty() {
        errs.push(FieldError::required(format!("{p}.image"), ""));
    } else if ctx.owner == SpecOwner::Pod && image.trim() != image {
        errs.push(FieldError::invalid(
            format!("{p}.image"),
            Value::from(image),
            "must not have leading or trailing whitespace",
        ));
    }

    match c.get("imagePullPolicy").and_then(Value::as_str) {
        Some("Always" | "IfNotPresent" | "Never") => {}
        None | Some("") => errs.push(FieldError::required(format!("{p}.imagePullPolicy"), "")),
        Some(other) => errs.push(FieldError::not_supported(
            format!("{p}.imagePullPolicy"),
            Value::from(other),
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    match c.get("terminationMessagePolicy").and_then(Value::as_str) {
        Some("File" | "FallbackToLogsOnError") => {}
        None | Some("") => errs.push(FieldError::required(
            format!("{p}.terminationMessagePolicy"),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        Some(other) => errs.push(FieldError::invalid(
            format!("{p}.terminationMessagePolicy"),
            Value::from(other),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
    }

    // Sidecars are init containers with restartPolicy Always; nothing else
    // may set a container restart policy.
    let restartable_init = ctx.init && str_of(c, "restartPolicy") == "Always";
    if let Some(rp) = c.get("restartPolicy").and_then(Value::as_str) {
        if !ctx.init {
            errs.push(FieldError::forbidden(
                format!("{p}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        } else if rp != "Always" {
            errs.push(FieldError::not_supported(
                format!("{p}.restartPolicy"),
                Value::from(rp),
                &["Always"],
            ));
        }
    }

    validate_container_ports(c, p, ctx.host_network, errs);
    validate_env(c, p, errs);
    for (i, m) in items(c, "volumeMounts").iter().enumerate() {
        let mp = format!("{p}.volumeMounts[{i}]");
        if str_of(m, "name").is_empty() {
            errs.push(FieldError::required(format!("{mp}.name"), ""));
        }
        if str_of(m, "mountPath").is_empty() {
            errs.push(FieldError::required(format!("{mp}.mountPath"), ""));
        }
    }
    if let Some(resources) = c.get("resources") {
        validate_resources(resources, &format!("{p}.resources"), errs);
    }

    let probes = ["livenessProbe", "readinessProbe", "startupProbe"];
    if ctx.init && !restartable_init {
        for key in [
            "lifecycle",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
        ] {
            if is_set(c, key) {
                errs.push(FieldError::forbidden(
                    format!("{p}.{key}"),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    } else {
        for key in probes {
            if let Some(probe) = c.get(key).filter(|v| !v.is_null()) {
                validate_probe(probe, &format!("{p}.{key}"), errs);
            }
        }
        for key in ["livenessProbe", "startupProbe"] {
            if let Some(st) = c.get(key).and_then(|pr| int_of(pr, "successThreshold")) {
                if st != 1 {
                    errs.push(FieldError::invalid(
                        format!("{p}.{key}.successThreshold"),
                        Value::from(st),
                        "must be 1",
                    ));
                }
            }
        }
        if let Some(lifecycle) = c.get("lifecycle").filter(|v| !v.is_null()) {
            for hook in ["postStart", "preStop"] {
                if let Some(h) = lifecycle.get(hook).filter(|v| !v.is_null()) {
                    validate_handler(h, &format!("{p}.lifecycle.{hook}"), false, errs);
                }
            }
        }
    }
}

/// `validateContainerPorts`.
fn validate_container_ports(c: &Value, path: &str, host_network: bool, errs: &mut Errs) {
    let mut port_names = HashSet::new();
    for (i, port) in items(c, "ports").iter().enumerate() {
        let p = format!("{path}.ports[{i}]");
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(
                        format!("{p}.name"),
                        Value::from(name),
                        msg,
                    ));
                }
            } else if !port_names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{p}.name"),
                    Value::from(name),
                ));
            }
        }
        let container_port = int_of(port, "containerPort").unwrap_or(0);
        if container_port == 0 {
            errs.push(FieldError::required(format!("{p}.containerPort"), ""));
        } else {
            for msg in port_num_errors(container_port) {
                errs.push(FieldError::invalid(
                    format!("{p}.containerPort"),
                    Value::from(container_port),
                    msg,
                ));
            }
        }
        let host_port = int_of(port, "hostPort").unwrap_or(0);
        if host_port != 0 {
            for msg in port_num_errors(host_port) {
                errs.push(FieldError::invalid(
                    format!("{p}.hostPort"),
                    Value::from(host_port),
                    msg,
                ));
            }
        }
        if host_network && host_port != container_port && host_port != 0 {
            errs.push(FieldError::invalid(
                format!("{p}.hostPort"),
                Value::from(host_port),
                "must match `containerPort` when `hostNetwork` is true",
            ));
        }
        validate_protocol(port, &p, errs);
    }
}

/// `ValidateEnv` (names and the value/valueFrom choice).
fn validate_env(c: &Value, path: &str, errs: &mut Errs) {
    for (i, env) in items(c, "env").iter().enumerate() {
        let p = format!("{path}.env[{i}]");
        let name = str_of(env, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{p}.name"), ""));
        } else if !name.bytes().all(|b| (32..=126).contains(&b) && b != b'=') {
            errs.push(FieldError::invalid(
                format!("{p}.name"),
                Value::from(name),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        if let Some(from) = env.get("valueFrom").and_then(Value::as_object) {
            let sources = [
                "fieldRef",
                "resourceFieldRef",
                "configMapKeyRef",
                "secretKeyRef",
            ]
            .iter()
            .filter(|k| from.get(**k).is_some_and(|v| !v.is_null()))
            .count();
            if sources == 0 {
                errs.push(FieldError::invalid(
                    format!("{p}.valueFrom"),
                    Value::from(""),
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                ));
            } else if sources > 1 {
                errs.push(FieldError::invalid(
                    format!("{p}.valueFrom"),
                    Value::from(""),
                    "may not have more than one field specified at a time",
                ));
            }
            if !str_of(env, "value").is_empty() {
                errs.push(FieldError::invalid(
                    format!("{p}.valueFrom"),
                    Value::from(""),
                    "may not be specified when `value` is not empty",
                ));
            }
        }
    }
}

/// Whether Kubernetes allows requests below limits for this resource
/// (`IsOvercommitAllowed`: native resources except huge pages).
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

/// `validateContainerResourceName`.
fn validate_container_resource_name(name: &str, path: &str, errs: &mut Errs) {
    for msg in names::is_qualified_name(name) {
        errs.push(FieldError::invalid(path, Value::from(name), msg));
    }
    let standard =
        matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    if !name.contains('/') && !standard {
        errs.push(FieldError::invalid(
            path,
            Value::from(name),
            "must be a standard resource for containers",
        ));
    }
}

/// `ValidateResourceRequirements` for a container's `resources`.
fn validate_resources(resources: &Value, path: &str, errs: &mut Errs) {
    let empty = Map::new();
    let limits = map_of(resources, "limits").unwrap_or(&empty);
    let requests = map_of(resources, "requests").unwrap_or(&empty);
    let mut limit_values: Vec<(&str, Quantity)> = Vec::new();
    for (name, q) in limits {
        let p = format!("{path}.limits[{name}]");
        validate_container_resource_name(name, &p, errs);
        if let Some(v) = validate_quantity(name, q, &p, errs) {
            limit_values.push((name, v));
        }
    }
    for (name, q) in requests {
        let p = format!("{path}.requests[{name}]");
        validate_container_resource_name(name, &p, errs);
        let Some(request) = validate_quantity(name, q, &p, errs) else {
            continue;
        };
        let limit = limit_values
            .iter()
            .find(|(n, _)| *n == name.as_str())
            .map(|(_, q)| *q);
        match limit {
            Some(limit) => {
                let shown = Value::from(request.to_string());
                if !overcommit_allowed(name) && request != limit {
                    errs.push(FieldError::invalid(
                        format!("{path}.requests"),
                        shown,
                        format!("must be equal to {name} limit of {limit}"),
                    ));
                } else if request > limit {
                    errs.push(FieldError::invalid(
                        format!("{path}.requests"),
                        shown,
                        format!("must be less than or equal to {name} limit of {limit}"),
                    ));
                }
            }
            None if !limits.contains_key(name) && !overcommit_allowed(name) => {
                errs.push(FieldError::required(
                    format!("{path}.limits"),
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
    }
}

/// A quantity's value, reporting syntax errors, negatives and (for extended
/// resources) fractions at `path`.
fn validate_quantity(name: &str, q: &Value, path: &str, errs: &mut Errs) -> Option<Quantity> {
    match quantity_value(q) {
        Err(msg) => {
            errs.push(FieldError::invalid(path, q.clone(), msg));
            None
        }
        Ok(v) => {
            if v < Quantity::default() {
                errs.push(FieldError::invalid(
                    path,
                    Value::from(v.to_string()),
                    NEGATIVE,
                ));
            } else if !overcommit_allowed(name)
                && !name.starts_with("hugepages-")
                && v.millis() % 1000 != 0
            {
                errs.push(FieldError::invalid(
                    path,
                    Value::from(v.to_string()),
                    "must be an integer",
                ));
            }
            Some(v)
        }
    }
}

/// Every quantity of a resource list (quota `hard`, node capacity, …).
fn validate_resource_list(list: &Value, path: &str, errs: &mut Errs) {
    if let Some(m) = list.as_object() {
        for (name, q) in m {
            validate_quantity(name, q, &format!("{path}[{name}]"), errs);
        }
    }
}

/// `validateProbe`.
fn validate_probe(probe: &Value, path: &str, errs: &mut Errs) {
    validate_handler(probe, path, true, errs);
    for key in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        non_negative(probe, key, path, errs);
    }
    if let Some(tgp) = int_of(probe, "terminationGracePeriodSeconds") {
        if tgp <= 0 {
            errs.push(FieldError::invalid(
                format!("{path}.terminationGracePeriodSeconds"),
                Value::from(tgp),
                "must be greater than 0",
            ));
        }
    }
}

/// `validateHandler`: exactly one action (probes: exec, httpGet, tcpSocket,
/// grpc; lifecycle hooks: exec, httpGet, tcpSocket, sleep).
fn validate_handler(h: &Value, path: &str, probe: bool, errs: &mut Errs) {
    let kinds: [&str; 4] = if probe {
        ["exec", "httpGet", "tcpSocket", "grpc"]
    } else {
        ["exec", "httpGet", "tcpSocket", "sleep"]
    };
    let mut found = 0;
    for kind in kinds {
        let Some(action) = h.get(kind).filter(|v| !v.is_null()) else {
            continue;
        };
        let p = format!("{path}.{kind}");
        if found > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        found += 1;
        match kind {
            "exec" if items(action, "command").is_empty() => {
                errs.push(FieldError::required(format!("{p}.command"), ""));
            }
            "httpGet" => {
                if str_of(action, "path").is_empty() {
                    errs.push(FieldError::required(format!("{p}.path"), ""));
                }
                validate_port_num_or_name(action.get("port"), &format!("{p}.port"), errs);
                match action.get("scheme").and_then(Value::as_str) {
                    Some("HTTP" | "HTTPS") => {}
                    other => errs.push(FieldError::not_supported(
                        format!("{p}.scheme"),
                        Value::from(other.unwrap_or("")),
                        &["HTTP", "HTTPS"],
                    )),
                }
            }
            "tcpSocket" => {
                validate_port_num_or_name(action.get("port"), &format!("{p}.port"), errs)
            }
            "grpc" => {
                let port = int_of(action, "port").unwrap_or(0);
                for msg in port_num_errors(port) {
                    errs.push(FieldError::invalid(
                        format!("{p}.port"),
                        Value::from(port),
                        msg,
                    ));
                }
            }
            _ => {}
        }
    }
    if found == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
}

/// `ValidateVolumes`: names and exactly one source each.
fn validate_volumes(spec: &Value, path: &str, errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (i, v) in items(spec, "volumes").iter().enumerate() {
        let p = format!("{path}.volumes[{i}]");
        let name = str_of(v, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{p}.name"), ""));
        } else {
            for msg in names::is_dns1123_label(name) {
                errs.push(FieldError::invalid(
                    format!("{p}.name"),
                    Value::from(name),
                    msg,
                ));
            }
            if !seen.insert(name.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{p}.name"),
                    Value::from(name),
                ));
            }
        }
        let sources: Vec<(&String, &Value)> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, val)| k.as_str() != "name" && !val.is_null())
            .collect();
        if sources.is_empty() {
            errs.push(FieldError::required(
                p.clone(),
                "must specify a volume type",
            ));
        }
        for (k, _) in sources.iter().skip(1) {
            errs.push(FieldError::forbidden(
                format!("{p}.{k}"),
                "may not specify more than 1 volume type",
            ));
        }
        if let Some((kind, source)) = sources.first() {
            let required = match kind.as_str() {
                "secret" => Some("secretName"),
                "configMap" => Some("name"),
                "persistentVolumeClaim" => Some("claimName"),
                "hostPath" => Some("path"),
                "nfs" => Some("server"),
                _ => None,
            };
            if let Some(field) = required {
                if str_of(source, field).is_empty() {
                    errs.push(FieldError::required(format!("{p}.{kind}.{field}"), ""));
                }
            }
        }
    }
}

/// `ValidateTolerations`.
fn validate_tolerations(tolerations: &[Value], path: &str, errs: &mut Errs) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let key = str_of(t, "key");
        let operator = str_of(t, "operator");
        let effect = str_of(t, "effect");
        if !key.is_empty() {
            for msg in names::is_qualified_name(key) {
                errs.push(FieldError::invalid(
                    format!("{p}.key"),
                    Value::from(key),
                    msg,
                ));
            }
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                format!("{p}.operator"),
                Value::from(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if is_set(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                format!("{p}.effect"),
                Value::from(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "" | "Equal" => {
                let value = str_of(t, "value");
                let msgs = names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        format!("{p}.operator"),
                        Value::from(value),
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !str_of(t, "value").is_empty() {
                    errs.push(FieldError::invalid(
                        format!("{p}.operator"),
                        t.clone(),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                format!("{p}.operator"),
                Value::from(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(FieldError::not_supported(
                format!("{p}.effect"),
                Value::from(effect),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// `ValidatePodUpdate`: only images, activeDeadlineSeconds (set or lower),
/// added tolerations, removed scheduling gates, and a negative grace period
/// set to 1 may change. `spec.nodeName` is set through `pods/binding`.
fn validate_pod_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (ns, os) = (&new["spec"], &old["spec"]);
    for key in ["containers", "initContainers"] {
        if items(ns, key).len() != items(os, key).len() {
            errs.push(FieldError::forbidden(
                format!("spec.{key}"),
                "pod updates may not add or remove containers",
            ));
            return;
        }
    }

    match (
        int_of(ns, "activeDeadlineSeconds"),
        int_of(os, "activeDeadlineSeconds"),
    ) {
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
    let strip_seconds = |t: &Value| {
        let mut t = normalize(t);
        if let Some(m) = t.as_object_mut() {
            m.remove("tolerationSeconds");
        }
        t
    };
    let new_tolerations: Vec<Value> = items(ns, "tolerations").iter().map(strip_seconds).collect();
    if items(os, "tolerations")
        .iter()
        .any(|t| !new_tolerations.contains(&strip_seconds(t)))
    {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    // Scheduling gates may only be removed.
    let old_gates: Vec<&str> = items(os, "schedulingGates")
        .iter()
        .map(|g| str_of(g, "name"))
        .collect();
    for g in items(ns, "schedulingGates") {
        let name = str_of(g, "name");
        if !old_gates.contains(&name) {
            errs.push(FieldError::forbidden(
                "spec.schedulingGates",
                format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            ));
        }
    }

    // Munge the updatable fields back to their old values, then compare.
    let mut munged = ns.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    if let Some(c) = c.as_object_mut() {
                        match os[key][i].get("image") {
                            Some(img) => c.insert("image".into(), img.clone()),
                            None => c.remove("image"),
                        };
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
            match os.get(key) {
                Some(v) => m.insert(key.into(), v.clone()),
                None => m.remove(key),
            };
        }
        let old_grace = int_of(os, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && int_of(ns, "terminationGracePeriodSeconds") == Some(1)
        {
            m.insert(
                "terminationGracePeriodSeconds".into(),
                Value::from(old_grace),
            );
        }
    }
    let (munged, old_spec) = (normalize(&munged), normalize(os));
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

// ---------------------------------------------------------------------------
// Services and endpoints.
// ---------------------------------------------------------------------------

fn is_headless(spec: &Value) -> bool {
    str_of(spec, "clusterIP") == "None"
        || items(spec, "clusterIPs").first().and_then(Value::as_str) == Some("None")
}

/// `ValidateService`.
fn validate_service(svc: &Value, errs: &mut Errs) {
    let spec = &svc["spec"];
    let ty = str_of(spec, "type");
    let ports = items(spec, "ports");
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            Value::from("None"),
            format!("may not be set to 'None' for {ty} services"),
        )),
        "ExternalName" => {
            if !items(spec, "clusterIPs").is_empty() || !str_of(spec, "clusterIP").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !items(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if is_set(spec, "ipFamilyPolicy") {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = str_of(spec, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                for msg in names::is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid(
                        "spec.externalName",
                        Value::from(cname),
                        msg,
                    ));
                }
            }
        }
        _ => {}
    }

    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_service_port(
            port,
            &format!("spec.ports[{i}]"),
            ports.len() > 1,
            &mut port_names,
            errs,
        );
    }
    if let Some(selector) = spec.get("selector") {
        errs.extend(names::validate_labels(selector, "spec.selector"));
    }

    match spec.get("sessionAffinity").and_then(Value::as_str) {
        None | Some("") => errs.push(FieldError::required("spec.sessionAffinity", "")),
        Some("ClientIP") => {
            let timeout = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .and_then(Value::as_i64);
            match timeout {
                None => errs.push(FieldError::required(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    "",
                )),
                Some(t) if !(1..=86400).contains(&t) => errs.push(FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    Value::from(t),
                    "must be greater than 0 and less than 86400",
                )),
                _ => {}
            }
        }
        Some("None") => {
            if is_set(spec, "sessionAffinityConfig") {
                errs.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            Value::from(other),
            &["ClientIP", "None"],
        )),
    }

    validate_cluster_ips(spec, ty, errs);

    for (i, ip) in items(spec, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        if !is_ip(ip) {
            errs.push(FieldError::invalid(
                format!("spec.externalIPs[{i}]"),
                Value::from(ip),
                INVALID_IP,
            ));
        }
    }

    match ty {
        "" => errs.push(FieldError::required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(FieldError::not_supported(
            "spec.type",
            Value::from(other),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }

    let mut node_ports = HashSet::new();
    let mut port_keys = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = int_of(port, "nodePort").unwrap_or(0);
        let protocol = str_of(port, "protocol");
        if node_port != 0 {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&node_port) {
                errs.push(FieldError::invalid(
                    format!("spec.ports[{i}].nodePort"),
                    Value::from(node_port),
                    format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                    ),
                ));
            }
            if !node_ports.insert((protocol.to_string(), node_port)) {
                errs.push(FieldError::duplicate(
                    format!("spec.ports[{i}].nodePort"),
                    Value::from(node_port),
                ));
            }
        }
        let port_num = int_of(port, "port").unwrap_or(0);
        if !port_keys.insert((protocol.to_string(), port_num)) {
            errs.push(FieldError {
                kind: ErrorType::Duplicate,
                field: format!("spec.ports[{i}]"),
                value: None,
                detail: format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port_num}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_quote(protocol)
                ),
            });
        }
    }

    if !items(spec, "loadBalancerSourceRanges").is_empty() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.LoadBalancerSourceRanges",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if is_set(spec, "allocateLoadBalancerNodePorts") && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }

    let externally_accessible = matches!(ty, "NodePort" | "LoadBalancer")
        || (ty == "ClusterIP" && !items(spec, "externalIPs").is_empty());
    match spec
        .get("externalTrafficPolicy")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "" if externally_accessible => {
            errs.push(FieldError::required("spec.externalTrafficPolicy", ""))
        }
        "" => {}
        etp if !externally_accessible => errs.push(FieldError::invalid(
            "spec.externalTrafficPolicy",
            Value::from(etp),
            "may only be set for externally-accessible services",
        )),
        "Cluster" | "Local" => {}
        other => errs.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            Value::from(other),
            &["Cluster", "Local"],
        )),
    }
    let needs_health_check =
        ty == "LoadBalancer" && str_of(spec, "externalTrafficPolicy") == "Local";
    if let Some(hc) = int_of(spec, "healthCheckNodePort").filter(|p| *p != 0) {
        if !needs_health_check {
            errs.push(FieldError::invalid(
                "spec.healthCheckNodePort",
                Value::from(hc),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        } else {
            for msg in port_num_errors(hc) {
                errs.push(FieldError::invalid(
                    "spec.healthCheckNodePort",
                    Value::from(hc),
                    msg,
                ));
            }
        }
    }
    match spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        None if matches!(ty, "ClusterIP" | "NodePort" | "LoadBalancer") => {
            errs.push(FieldError::required("spec.internalTrafficPolicy", ""))
        }
        None | Some("Cluster" | "Local") => {}
        Some(other) => errs.push(FieldError::not_supported(
            "spec.internalTrafficPolicy",
            Value::from(other),
            &["Cluster", "Local"],
        )),
    }
}

/// `validateServicePort`.
fn validate_service_port(
    port: &Value,
    path: &str,
    require_name: bool,
    seen: &mut HashSet<String>,
    errs: &mut Errs,
) {
    let name = str_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else if !name.is_empty() {
        for msg in names::is_dns1123_label(name) {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                Value::from(name),
                msg,
            ));
        }
        if !seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(
                format!("{path}.name"),
                Value::from(name),
            ));
        }
    }
    let port_num = int_of(port, "port").unwrap_or(0);
    for msg in port_num_errors(port_num) {
        errs.push(FieldError::invalid(
            format!("{path}.port"),
            Value::from(port_num),
            msg,
        ));
    }
    validate_protocol(port, path, errs);
    validate_port_num_or_name(port.get("targetPort"), &format!("{path}.targetPort"), errs);
    if let Some(app) = port.get("appProtocol").and_then(Value::as_str) {
        for msg in names::is_qualified_name(app) {
            errs.push(FieldError::invalid(
                format!("{path}.appProtocol"),
                Value::from(app),
                msg,
            ));
        }
    }
}

/// The cluster IP fields: addresses, `clusterIP` = `clusterIPs[0]`, the
/// IP family fields.
fn validate_cluster_ips(spec: &Value, ty: &str, errs: &mut Errs) {
    if ty == "ExternalName" {
        return;
    }
    let ips = items(spec, "clusterIPs");
    let cluster_ip = str_of(spec, "clusterIP");
    if let Some(first) = ips.first().and_then(Value::as_str) {
        if first != cluster_ip {
            errs.push(invalid_shown(
                "spec.clusterIPs",
                &go_string_slice(spec.get("clusterIPs")),
                "first value must match `clusterIP`",
            ));
        }
    }
    for (i, ip) in ips.iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        if ip == "None" && ips.len() == 1 {
            continue;
        }
        if !is_ip(ip) {
            errs.push(FieldError::invalid(
                format!("spec.clusterIPs[{i}]"),
                Value::from(ip),
                INVALID_IP,
            ));
        }
    }
    if ips.is_empty() && !cluster_ip.is_empty() && cluster_ip != "None" && !is_ip(cluster_ip) {
        errs.push(FieldError::invalid(
            "spec.clusterIP",
            Value::from(cluster_ip),
            INVALID_IP,
        ));
    }
    if let Some(policy) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        if !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        ) {
            errs.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                Value::from(policy),
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
    for (i, family) in items(spec, "ipFamilies").iter().enumerate() {
        let family = family.as_str().unwrap_or("");
        if !matches!(family, "IPv4" | "IPv6") {
            errs.push(FieldError::not_supported(
                format!("spec.ipFamilies[{i}]"),
                Value::from(family),
                &["IPv4", "IPv6"],
            ));
        }
    }
}

/// `ValidateServiceUpdate`: cluster IPs may not change once set (except to
/// or from ExternalName, or between headless forms); the health-check node
/// port and load balancer class stay.
fn validate_service_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (ns, os) = (&new["spec"], &old["spec"]);
    let ips = |s: &Value| -> Vec<String> {
        let list: Vec<String> = items(s, "clusterIPs")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if list.is_empty() && !str_of(s, "clusterIP").is_empty() {
            vec![str_of(s, "clusterIP").to_string()]
        } else {
            list
        }
    };
    if str_of(ns, "type") != "ExternalName"
        && str_of(os, "type") != "ExternalName"
        && !(is_headless(ns) && is_headless(os))
    {
        let (new_ips, old_ips) = (ips(ns), ips(os));
        let shown = go_string_slice(Some(&Value::from(new_ips.clone())));
        if new_ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != new_ips[i] {
                    errs.push(invalid_shown(
                        format!("spec.clusterIPs[{i}]"),
                        &shown,
                        "may not change once set",
                    ));
                }
            }
        } else if new_ips.len() < old_ips.len() {
            if new_ips.is_empty() {
                errs.push(invalid_shown(
                    "spec.clusterIPs[0]",
                    &shown,
                    "primary clusterIP can not be unset",
                ));
            } else if new_ips[0] != old_ips[0] {
                errs.push(invalid_shown(
                    "spec.clusterIPs[0]",
                    &shown,
                    "may not change once set",
                ));
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(invalid_shown(
                "spec.clusterIPs[0]",
                &shown,
                "may not change once set",
            ));
        }
    }
    let needs_hc = |s: &Value| {
        str_of(s, "type") == "LoadBalancer" && str_of(s, "externalTrafficPolicy") == "Local"
    };
    if needs_hc(ns)
        && needs_hc(os)
        && int_of(ns, "healthCheckNodePort") != int_of(os, "healthCheckNodePort")
    {
        errs.push(FieldError::forbidden("spec.healthCheckNodePort", IMMUTABLE));
    }
    if str_of(ns, "type") == "LoadBalancer"
        && str_of(os, "type") == "LoadBalancer"
        && ns.get("loadBalancerClass") != os.get("loadBalancerClass")
    {
        errs.push(FieldError::invalid(
            "spec.loadBalancerClass",
            ns.get("loadBalancerClass").cloned().unwrap_or(Value::Null),
            "may not change once set",
        ));
    }
}

fn validate_endpoints(ep: &Value, errs: &mut Errs) {
    for (i, subset) in items(ep, "subsets").iter().enumerate() {
        for (j, addr) in items(subset, "addresses")
            .iter()
            .chain(items(subset, "notReadyAddresses"))
            .enumerate()
        {
            let ip = str_of(addr, "ip");
            if !is_ip(ip) {
                errs.push(FieldError::invalid(
                    format!("subsets[{i}].addresses[{j}].ip"),
                    Value::from(ip),
                    INVALID_IP,
                ));
            }
        }
        for (j, port) in items(subset, "ports").iter().enumerate() {
            let p = format!("subsets[{i}].ports[{j}]");
            let num = int_of(port, "port").unwrap_or(0);
            for msg in port_num_errors(num) {
                errs.push(FieldError::invalid(
                    format!("{p}.port"),
                    Value::from(num),
                    msg,
                ));
            }
            validate_protocol(port, &p, errs);
        }
    }
}

// ---------------------------------------------------------------------------
// ConfigMaps, Secrets, Namespaces, Nodes, volumes.
// ---------------------------------------------------------------------------

/// `IsConfigMapKey`.
fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string());
    }
    match key {
        "." => errs.push("must not be '.'".to_string()),
        ".." => errs.push("must not be '..'".to_string()),
        k if k.starts_with("..") => errs.push("must not start with '..'".to_string()),
        _ => {}
    }
    errs
}

fn validate_config_keys(obj: &Value, field: &str, errs: &mut Errs) -> usize {
    let mut size = 0;
    for (key, value) in map_of(obj, field).into_iter().flatten() {
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid(
                format!("{field}[{key}]"),
                Value::from(key.as_str()),
                msg,
            ));
        }
        size += value.as_str().map(str::len).unwrap_or(0);
    }
    size
}

fn too_long(path: &str, max: usize) -> FieldError {
    FieldError {
        kind: ErrorType::TooLong,
        field: path.to_string(),
        value: None,
        detail: format!("may not be more than {max} bytes"),
    }
}

/// `ValidateConfigMap`.
fn validate_config_map(cm: &Value, errs: &mut Errs) {
    let mut size = validate_config_keys(cm, "data", errs);
    for key in map_of(cm, "data").into_iter().flatten().map(|(k, _)| k) {
        if map_of(cm, "binaryData").is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                format!("data[{key}]"),
                Value::from(key.as_str()),
                "duplicate of key present in binaryData",
            ));
        }
    }
    // binaryData holds base64: count decoded bytes.
    size += validate_config_keys(cm, "binaryData", errs) * 3 / 4;
    if size > MAX_SECRET_SIZE {
        errs.push(too_long("", MAX_SECRET_SIZE));
    }
}

/// `ValidateSecret`: keys, the size limit, and what each well-known type requires.
fn validate_secret(secret: &Value, errs: &mut Errs) {
    let size = validate_config_keys(secret, "data", errs) * 3 / 4;
    if size > MAX_SECRET_SIZE {
        errs.push(too_long("data", MAX_SECRET_SIZE));
    }
    let has = |k: &str| map_of(secret, "data").is_some_and(|d| d.contains_key(k));
    let required =
        |k: &str, errs: &mut Errs| errs.push(FieldError::required(format!("data[{k}]"), ""));
    match str_of(secret, "type") {
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    required(k, errs);
                }
            }
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            required(".dockerconfigjson", errs)
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => required(".dockercfg", errs),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            required("username", errs);
            required("password", errs);
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => required("ssh-privatekey", errs),
        "kubernetes.io/service-account-token" => {
            let annotated = secret
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !annotated {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        _ => {}
    }
}

/// ConfigMap/Secret update: nothing changes once `immutable` is true.
fn validate_immutable_data(new: &Value, old: &Value, fields: &[&str], errs: &mut Errs) {
    if !is_true(old, "immutable") {
        return;
    }
    const MSG: &str = "field is immutable when `immutable` is set";
    if !is_true(new, "immutable") {
        errs.push(FieldError::forbidden("immutable", MSG));
    }
    for field in fields {
        if normalize(new.get(*field).unwrap_or(&Value::Null))
            != normalize(old.get(*field).unwrap_or(&Value::Null))
        {
            errs.push(FieldError::forbidden(*field, MSG));
        }
    }
}

/// `ValidateNamespace`: the name (a DNS label) is checked with the metadata;
/// `spec.finalizers` must be standard or fully qualified names.
fn validate_namespace(ns: &Value, errs: &mut Errs) {
    for (i, f) in items(&ns["spec"], "finalizers").iter().enumerate() {
        let f = f.as_str().unwrap_or("");
        let p = format!("spec.finalizers[{i}]");
        let msgs = names::is_qualified_name(f);
        if !msgs.is_empty() {
            for msg in msgs {
                errs.push(FieldError::invalid(p.clone(), Value::from(f), msg));
            }
        } else if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                p,
                Value::from(f),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

/// `ValidateNode`: taints and resource quantities.
fn validate_node(node: &Value, errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (i, taint) in items(&node["spec"], "taints").iter().enumerate() {
        let p = format!("metadata.taints[{i}]");
        let key = str_of(taint, "key");
        for msg in names::is_qualified_name(key) {
            errs.push(FieldError::invalid(
                format!("{p}.key"),
                Value::from(key),
                msg,
            ));
        }
        let value = str_of(taint, "value");
        let msgs = names::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("{p}.value"),
                Value::from(value),
                msgs.join(";"),
            ));
        }
        let effect = str_of(taint, "effect");
        match effect {
            "" => errs.push(FieldError::required(format!("{p}.effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errs.push(FieldError::not_supported(
                format!("{p}.effect"),
                Value::from(other),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((key.to_string(), effect.to_string())) {
            errs.push(FieldError {
                kind: ErrorType::Duplicate,
                field: p,
                value: Some(taint.clone()),
                detail: "taints must be unique by key and effect pair".into(),
            });
        }
    }
    validate_resource_list(&node["status"]["capacity"], "status.capacity", errs);
    validate_resource_list(&node["status"]["allocatable"], "status.allocatable", errs);
}

const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn validate_access_modes(spec: &Value, errs: &mut Errs) {
    let modes = items(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    for m in modes {
        let m = m.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(
                "spec.accessModes",
                Value::from(m),
                &ACCESS_MODES,
            ));
        }
    }
}

fn validate_volume_mode(spec: &Value, errs: &mut Errs) {
    if let Some(mode) = spec.get("volumeMode").and_then(Value::as_str) {
        if !matches!(mode, "Block" | "Filesystem") {
            errs.push(FieldError::not_supported(
                "spec.volumeMode",
                Value::from(mode),
                &["Block", "Filesystem"],
            ));
        }
    }
}

fn validate_persistent_volume(pv: &Value, errs: &mut Errs) {
    let spec = &pv["spec"];
    validate_access_modes(spec, errs);
    match map_of(spec, "capacity") {
        None => errs.push(FieldError::required("spec.capacity", "")),
        Some(cap) => {
            if !cap.contains_key("storage") {
                errs.push(FieldError::required("spec.capacity[storage]", ""));
            }
            validate_resource_list(&spec["capacity"], "spec.capacity", errs);
        }
    }
    validate_volume_mode(spec, errs);
}

fn validate_persistent_volume_claim(pvc: &Value, errs: &mut Errs) {
    let spec = &pvc["spec"];
    validate_access_modes(spec, errs);
    match spec.pointer("/resources/requests/storage") {
        None => errs.push(FieldError::required("spec.resources[storage]", "")),
        Some(q) => {
            if let Some(v) = validate_quantity("storage", q, "spec.resources[storage]", errs) {
                if v <= Quantity::default() {
                    errs.push(FieldError::invalid(
                        "spec.resources[storage]",
                        Value::from(quantity_text(q)),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    validate_volume_mode(spec, errs);
}

/// PVC update: the spec is fixed once created, except the requested size
/// and the volume a pending claim gets bound to.
fn validate_pvc_update(new: &Value, old: &Value, errs: &mut Errs) {
    let strip = |spec: &Value, binding: bool| {
        let mut s = normalize(spec);
        if let Some(m) = s.as_object_mut() {
            if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut) {
                r.remove("requests");
            }
            m.remove("volumeAttributesClassName");
            if binding {
                m.remove("volumeName");
            }
        }
        normalize(&s)
    };
    let binding = str_of(&old["spec"], "volumeName").is_empty();
    if strip(&new["spec"], binding) != strip(&old["spec"], binding) {
        errs.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
}

fn validate_limit_range(lr: &Value, errs: &mut Errs) {
    for (i, item) in items(&lr["spec"], "limits").iter().enumerate() {
        let p = format!("spec.limits[{i}]");
        match str_of(item, "type") {
            "Pod" | "Container" | "PersistentVolumeClaim" => {}
            "" => errs.push(FieldError::required(format!("{p}.type"), "")),
            other => errs.push(FieldError::not_supported(
                format!("{p}.type"),
                Value::from(other),
                &["Container", "PersistentVolumeClaim", "Pod"],
            )),
        }
        for key in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            validate_resource_list(&item[key], &format!("{p}.{key}"), errs);
        }
    }
}

// ---------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------

/// Selector checks shared by the apps kinds: required, well formed, not
/// empty. Returns the parsed selector when it can be used for matching.
fn validate_workload_selector(spec: &Value, what: &str, errs: &mut Errs) -> Option<LabelSelector> {
    let selector = spec.get("selector").filter(|v| !v.is_null());
    let Some(selector) = selector else {
        errs.push(FieldError::required("spec.selector", ""));
        return None;
    };
    let before = errs.len();
    errs.extend(selectors::validate_label_selector(
        selector,
        "spec.selector",
    ));
    let empty = map_of(selector, "matchLabels").is_none_or(Map::is_empty)
        && items(selector, "matchExpressions").is_empty();
    if empty {
        errs.push(invalid_shown(
            "spec.selector",
            &go_label_selector(selector),
            &format!("empty selector is invalid for {what}"),
        ));
    }
    match LabelSelector::from_json(selector) {
        Ok(s) => Some(s),
        Err(_) => {
            if errs.len() == before {
                errs.push(invalid_shown(
                    "spec.selector",
                    &go_label_selector(selector),
                    "invalid label selector",
                ));
            }
            None
        }
    }
}

/// The selector must select the pods the template makes.
fn validate_selector_matches_template(
    selector: Option<&LabelSelector>,
    template: &Value,
    path: &str,
    errs: &mut Errs,
) {
    let Some(selector) = selector else {
        return;
    };
    if selector.is_empty() {
        return;
    }
    let empty = Map::new();
    let labels = template["metadata"]
        .get("labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !selector.matches(labels) {
        errs.push(invalid_shown(
            format!("{path}.metadata.labels"),
            &go_string_map(template["metadata"].get("labels")),
            "`selector` does not match template `labels`",
        ));
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` (also used for the other apps
/// kinds): selector match, the pod template, restart policy Always and no
/// active deadline.
fn validate_replica_template(
    spec: &Value,
    selector: Option<&LabelSelector>,
    owner_kind: &str,
    errs: &mut Errs,
) {
    let template = &spec["template"];
    validate_selector_matches_template(selector, template, "spec.template", errs);
    validate_pod_template(template, "spec.template", SpecOwner::Template, errs);
    let restart = str_of(&template["spec"], "restartPolicy");
    if restart != "Always" && !restart.is_empty() {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            Value::from(restart),
            &["Always"],
        ));
    }
    if is_set(&template["spec"], "activeDeadlineSeconds") {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {owner_kind} is not Supported"),
        ));
    }
}

fn validate_deployment(d: &Value, errs: &mut Errs) {
    let spec = &d["spec"];
    non_negative(spec, "replicas", "spec", errs);
    let selector = validate_workload_selector(spec, "deployment", errs);
    validate_replica_template(spec, selector.as_ref(), "ReplicaSet", errs);
    validate_deployment_strategy(&spec["strategy"], errs);
    non_negative(spec, "minReadySeconds", "spec", errs);
    non_negative(spec, "revisionHistoryLimit", "spec", errs);
    if let Some(pds) = int_of(spec, "progressDeadlineSeconds") {
        non_negative(spec, "progressDeadlineSeconds", "spec", errs);
        if pds <= int_of(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                Value::from(pds),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// The numeric value of an int-or-percent (`25%` → 25).
fn int_or_percent(v: &Value) -> i64 {
    match v {
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
fn validate_int_or_percent(v: Option<&Value>, path: &str, max_100: bool, errs: &mut Errs) {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return;
    };
    match v {
        Value::String(s) => {
            let valid = s
                .strip_suffix('%')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !valid {
                errs.push(invalid_shown(
                    path,
                    s,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ));
            } else if max_100 && int_or_percent(v) > 100 {
                errs.push(invalid_shown(path, s, "must not be greater than 100%"));
            }
        }
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(path, Value::from(n), NEGATIVE));
            }
        }
        other => errs.push(FieldError::invalid(
            path,
            other.clone(),
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

/// `ValidateDeploymentStrategy`.
fn validate_deployment_strategy(strategy: &Value, errs: &mut Errs) {
    let ru = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match str_of(strategy, "type") {
        "Recreate" => {
            if ru.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match ru {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = "spec.strategy.rollingUpdate";
                validate_int_or_percent(
                    ru.get("maxUnavailable"),
                    &format!("{p}.maxUnavailable"),
                    false,
                    errs,
                );
                validate_int_or_percent(ru.get("maxSurge"), &format!("{p}.maxSurge"), false, errs);
                let unavailable = ru.get("maxUnavailable").map(int_or_percent).unwrap_or(0);
                let surge = ru.get("maxSurge").map(int_or_percent).unwrap_or(0);
                if unavailable == 0 && surge == 0 {
                    let shown = ru
                        .get("maxUnavailable")
                        .map(int_or_string_text)
                        .unwrap_or_else(|| "0".into());
                    errs.push(invalid_shown(
                        format!("{p}.maxUnavailable"),
                        &shown,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(Value::String(s)) = ru.get("maxUnavailable") {
                    if int_or_percent(&Value::from(s.as_str())) > 100 {
                        errs.push(invalid_shown(
                            format!("{p}.maxUnavailable"),
                            s,
                            "must not be greater than 100%",
                        ));
                    }
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            "spec.strategy",
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

fn validate_replica_set(rs: &Value, errs: &mut Errs) {
    let spec = &rs["spec"];
    non_negative(spec, "replicas", "spec", errs);
    non_negative(spec, "minReadySeconds", "spec", errs);
    let selector = validate_workload_selector(spec, "deployment", errs);
    validate_replica_template(spec, selector.as_ref(), "ReplicaSet", errs);
}

fn validate_stateful_set(sts: &Value, errs: &mut Errs) {
    let spec = &sts["spec"];
    match str_of(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            Value::from(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = &spec["updateStrategy"];
    match str_of(strategy, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if is_set(strategy, "rollingUpdate") {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    strategy["rollingUpdate"].clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = &strategy["rollingUpdate"];
            non_negative(ru, "partition", "spec.updateStrategy.rollingUpdate", errs);
            if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                validate_int_or_percent(Some(mu), p, true, errs);
                if int_or_percent(mu) == 0 {
                    errs.push(invalid_shown(p, &int_or_string_text(mu), "cannot be 0"));
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            "spec.updateStrategy",
            strategy.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    for key in ["whenDeleted", "whenScaled"] {
        if let Some(v) = spec["persistentVolumeClaimRetentionPolicy"]
            .get(key)
            .and_then(Value::as_str)
        {
            if !matches!(v, "Retain" | "Delete") {
                errs.push(FieldError::not_supported(
                    format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                    Value::from(v),
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    non_negative(spec, "replicas", "spec", errs);
    non_negative(spec, "minReadySeconds", "spec", errs);
    if let Some(start) = spec["ordinals"].get("start").and_then(Value::as_i64) {
        if start < 0 {
            errs.push(FieldError::invalid(
                "spec.ordinals.start",
                Value::from(start),
                NEGATIVE,
            ));
        }
    }
    let selector = validate_workload_selector(spec, "statefulset", errs);
    validate_replica_template(spec, selector.as_ref(), "StatefulSet", errs);
}

/// `ValidateStatefulSetUpdate`: only some of the spec may change.
fn validate_stateful_set_update(new: &Value, old: &Value, errs: &mut Errs) {
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
        "revisionHistoryLimit",
    ];
    let strip = |spec: &Value| {
        let mut s = normalize(spec);
        if let Some(m) = s.as_object_mut() {
            for k in mutable {
                m.remove(k);
            }
        }
        s
    };
    if strip(&new["spec"]) != strip(&old["spec"]) {
        errs.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
}

fn validate_daemon_set(ds: &Value, errs: &mut Errs) {
    let spec = &ds["spec"];
    let selector = validate_workload_selector(spec, "daemonset", errs);
    validate_replica_template(spec, selector.as_ref(), "DaemonSet", errs);
    non_negative(spec, "minReadySeconds", "spec", errs);
    let strategy = &spec["updateStrategy"];
    match str_of(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let p = "spec.updateStrategy.rollingUpdate";
            match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
                None => errs.push(FieldError::required(p, "")),
                Some(ru) => {
                    validate_int_or_percent(
                        ru.get("maxUnavailable"),
                        &format!("{p}.maxUnavailable"),
                        true,
                        errs,
                    );
                    validate_int_or_percent(
                        ru.get("maxSurge"),
                        &format!("{p}.maxSurge"),
                        true,
                        errs,
                    );
                    let unavailable =
                        ru.get("maxUnavailable").map(int_or_percent).unwrap_or(0) != 0;
                    let surge = ru.get("maxSurge").map(int_or_percent).unwrap_or(0) != 0;
                    if unavailable && surge {
                        let shown = ru
                            .get("maxSurge")
                            .map(int_or_string_text)
                            .unwrap_or_default();
                        errs.push(invalid_shown(
                            format!("{p}.maxSurge"),
                            &shown,
                            "may not be set when maxUnavailable is non-zero",
                        ));
                    } else if !unavailable && !surge {
                        errs.push(FieldError::required(
                            format!("{p}.maxUnavailable"),
                            "cannot be 0 when maxSurge is 0",
                        ));
                    }
                }
            }
        }
        _ => errs.push(FieldError::not_supported(
            "spec.updateStrategy",
            strategy.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    non_negative(spec, "revisionHistoryLimit", "spec", errs);
}

/// apps/v1 (and Job) selectors never change; Kubernetes prints the new one.
fn immutable_selector(new: &Value, old: &Value, path: &str, errs: &mut Errs) {
    if normalize(new) != normalize(old) {
        let shown = if new.is_null() {
            "null".to_string()
        } else {
            go_label_selector(new)
        };
        errs.push(invalid_shown(path, &shown, IMMUTABLE));
    }
}

// ---------------------------------------------------------------------------
// batch/v1
// ---------------------------------------------------------------------------

/// `validateJobSpec` without the selector: counts, completion mode, the pod
/// template and its restart policy. `path` is `spec` or `spec.jobTemplate.spec`.
fn validate_job_spec_common(spec: &Value, path: &str, errs: &mut Errs) {
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        non_negative(spec, key, path, errs);
    }
    match spec.get("completionMode").and_then(Value::as_str) {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            if !is_set(spec, "completions") {
                errs.push(FieldError::required(
                    format!("{path}.completions"),
                    "when completion mode is Indexed",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            format!("{path}.completionMode"),
            Value::from(other),
            &["NonIndexed", "Indexed"],
        )),
    }
    let template_path = format!("{path}.template");
    validate_pod_template(
        &spec["template"],
        &template_path,
        SpecOwner::JobTemplate,
        errs,
    );
    let restart = str_of(&spec["template"]["spec"], "restartPolicy");
    if restart != "OnFailure" && restart != "Never" {
        errs.push(FieldError::required(
            format!("{template_path}.spec.restartPolicy"),
            "valid values: \"OnFailure\", \"Never\"",
        ));
    }
}

fn validate_job(job: &Value, errs: &mut Errs) {
    let spec = &job["spec"];
    let manual = is_true(spec, "manualSelector");
    let selector = spec.get("selector").filter(|v| !v.is_null());
    let uid = job["metadata"]
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    // validateGeneratedSelector: only once the server has generated it.
    if !manual && selector.is_some() && !uid.is_empty() {
        let name = job["metadata"]
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let template_labels = &spec["template"]["metadata"]["labels"];
        let mut expected = Map::new();
        for (key, want) in [
            (LEGACY_CONTROLLER_UID_LABEL, uid),
            (LEGACY_JOB_NAME_LABEL, name),
            (CONTROLLER_UID_LABEL, uid),
            (JOB_NAME_LABEL, name),
        ] {
            expected.insert(key.to_string(), Value::from(want));
            let p = format!("spec.template.metadata.labels[{key}]");
            match template_labels.get(key).and_then(Value::as_str) {
                None => errs.push(FieldError::required(p, format!("must be '{want}'"))),
                Some(v) if v != want => errs.push(invalid_shown(
                    p,
                    &go_string_map(Some(template_labels)),
                    &format!("must be '{want}'"),
                )),
                _ => {}
            }
        }
        if let (Some(sel), Ok(parsed)) = (
            selector,
            LabelSelector::from_json(selector.unwrap_or(&Value::Null)),
        ) {
            if !parsed.matches(&expected) {
                errs.push(invalid_shown(
                    "spec.selector",
                    &go_label_selector(sel),
                    "`selector` not auto-generated",
                ));
            }
        }
    }
    validate_job_spec_common(spec, "spec", errs);
    match selector {
        // Without a manual selector the server generates one at create time.
        None if manual => errs.push(FieldError::required("spec.selector", "")),
        None => {}
        Some(sel) => {
            errs.extend(selectors::validate_label_selector(sel, "spec.selector"));
            if let Ok(parsed) = LabelSelector::from_json(sel) {
                let empty = Map::new();
                let labels = spec["template"]["metadata"]
                    .get("labels")
                    .and_then(Value::as_object)
                    .unwrap_or(&empty);
                if !parsed.matches(labels) {
                    errs.push(invalid_shown(
                        "spec.template.metadata.labels",
                        &go_string_map(spec["template"]["metadata"].get("labels")),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
}

/// `ValidateJobSpecUpdate`: completions, selector, completion mode and the
/// pod template are fixed; a suspended Job that never started may still
/// change its template's labels, annotations and scheduling directives.
fn validate_job_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (ns, os) = (&new["spec"], &old["spec"]);
    immutable_field(
        ns.get("completions"),
        os.get("completions"),
        "spec.completions",
        errs,
    );
    immutable_selector(&ns["selector"], &os["selector"], "spec.selector", errs);
    let mut old_template = os["template"].clone();
    let suspended_unstarted = is_true(os, "suspend") && !is_set(&old["status"], "startTime");
    if suspended_unstarted {
        for (outer, key) in [
            ("metadata", "labels"),
            ("metadata", "annotations"),
            ("spec", "nodeSelector"),
            ("spec", "tolerations"),
            ("spec", "affinity"),
            ("spec", "schedulingGates"),
        ] {
            let v = ns["template"][outer].get(key).cloned();
            if let Some(m) = old_template.get_mut(outer).and_then(Value::as_object_mut) {
                match v {
                    Some(v) => m.insert(key.into(), v),
                    None => m.remove(key),
                };
            }
        }
    }
    immutable_field(
        Some(&ns["template"]),
        Some(&old_template),
        "spec.template",
        errs,
    );
    immutable_field(
        ns.get("completionMode"),
        os.get("completionMode"),
        "spec.completionMode",
        errs,
    );
    immutable_field(
        ns.get("podFailurePolicy"),
        os.get("podFailurePolicy"),
        "spec.podFailurePolicy",
        errs,
    );
}

/// A five-field cron schedule or a `@` descriptor, as `cron.ParseStandard`.
fn cron_errors(schedule: &str) -> Option<String> {
    if schedule.contains("TZ") {
        return Some("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(desc) = schedule.strip_prefix('@') {
        return match desc {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            d if d.starts_with("every ") => None,
            _ => Some(format!("unrecognized descriptor: {schedule}")),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let bounds: [(i64, i64, &[&str]); 5] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, &MONTHS),
        (0, 6, &DAYS),
    ];
    for (field, (min, max, names)) in fields.iter().zip(bounds) {
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step {
                if step.parse::<u32>().is_err() {
                    return Some(format!("failed to parse int from {step}: strconv.Atoi: parsing \"{step}\": invalid syntax"));
                }
            }
            if range == "*" || range == "?" {
                continue;
            }
            let value = |s: &str| -> Result<i64, String> {
                let lower = s.to_ascii_lowercase();
                if let Some(i) = names.iter().position(|n| *n == lower) {
                    return Ok(i as i64 + if min == 1 { 1 } else { 0 });
                }
                s.parse::<i64>()
                    .map_err(|_| format!("failed to parse int from {s}: strconv.Atoi: parsing \"{s}\": invalid syntax"))
            };
            let (lo, hi) = match range.split_once('-') {
                Some((a, b)) => (value(a), value(b)),
                None => (value(range), value(range)),
            };
            let (lo, hi) = match (lo, hi) {
                (Ok(l), Ok(h)) => (l, h),
                (Err(e), _) | (_, Err(e)) => return Some(e),
            };
            if lo < min {
                return Some(format!(
                    "beginning of range ({lo}) below minimum ({min}): {part}"
                ));
            }
            if hi > max {
                return Some(format!("end of range ({hi}) above maximum ({max}): {part}"));
            }
            if lo > hi {
                return Some(format!(
                    "beginning of range ({lo}) beyond end of range ({hi}): {part}"
                ));
            }
        }
    }
    None
}

fn validate_cron_job(cj: &Value, errs: &mut Errs) {
    let name = cj["metadata"]
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            Value::from(name),
            "must be no more than 52 characters",
        ));
    }
    let spec = &cj["spec"];
    let schedule = str_of(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else if let Some(msg) = cron_errors(schedule) {
        errs.push(FieldError::invalid(
            "spec.schedule",
            Value::from(schedule),
            msg,
        ));
    }
    non_negative(spec, "startingDeadlineSeconds", "spec", errs);
    match str_of(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            Value::from(other),
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let job_template = &spec["jobTemplate"];
    if let Some(labels) = job_template["metadata"].get("labels") {
        errs.extend(names::validate_labels(
            labels,
            "spec.jobTemplate.metadata.labels",
        ));
    }
    let job_spec = &job_template["spec"];
    validate_job_spec_common(job_spec, "spec.jobTemplate.spec", errs);
    if let Some(sel) = job_spec.get("selector").filter(|v| !v.is_null()) {
        errs.push(invalid_shown(
            "spec.jobTemplate.spec.selector",
            &go_label_selector(sel),
            "`selector` will be auto-generated",
        ));
    }
    if is_true(job_spec, "manualSelector") {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            Value::from(true),
            &["nil", "false"],
        ));
    }
    non_negative(spec, "successfulJobsHistoryLimit", "spec", errs);
    non_negative(spec, "failedJobsHistoryLimit", "spec", errs);
}

// ---------------------------------------------------------------------------
// networking.k8s.io/v1
// ---------------------------------------------------------------------------

/// `IsWildcardDNS1123Subdomain`.
fn wildcard_host_errors(host: &str) -> Vec<String> {
    let valid = host
        .strip_prefix("*.")
        .is_some_and(|rest| names::is_dns1123_subdomain(rest).is_empty());
    let mut errs = Vec::new();
    if host.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !valid {
        errs.push("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
    }
    errs
}

fn validate_ingress(ing: &Value, errs: &mut Errs) {
    let spec = &ing["spec"];
    let rules = items(spec, "rules");
    let default_backend = spec.get("defaultBackend").filter(|v| !v.is_null());
    if rules.is_empty() && default_backend.is_none() {
        errs.push(invalid_shown(
            "spec",
            "[]networking.IngressRule(nil)",
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        validate_ingress_backend(b, "spec.defaultBackend", errs);
    }
    for (i, rule) in rules.iter().enumerate() {
        let p = format!("spec.rules[{i}]");
        let host = str_of(rule, "host");
        if !host.is_empty() {
            if is_ip(host) {
                errs.push(FieldError::invalid(
                    format!("{p}.host"),
                    Value::from(host),
                    "must be a DNS name, not an IP address",
                ));
            }
            let msgs = if host.contains('*') {
                wildcard_host_errors(host)
            } else {
                names::is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(
                    format!("{p}.host"),
                    Value::from(host),
                    msg,
                ));
            }
        }
        let Some(http) = rule.get("http").filter(|v| !v.is_null()) else {
            continue;
        };
        let paths = items(http, "paths");
        if paths.is_empty() {
            errs.push(FieldError::required(format!("{p}.http.paths"), ""));
        }
        for (j, path) in paths.iter().enumerate() {
            validate_ingress_path(path, &format!("{p}.http.paths[{j}]"), errs);
        }
    }
    if let Some(class) = spec.get("ingressClassName").and_then(Value::as_str) {
        for msg in names::is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid(
                "spec.ingressClassName",
                Value::from(class),
                msg,
            ));
        }
    }
    for (i, tls) in items(spec, "tls").iter().enumerate() {
        for (j, host) in items(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or("");
            let msgs = if host.contains('*') {
                wildcard_host_errors(host)
            } else {
                names::is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(
                    format!("spec.tls[{i}].hosts[{j}]"),
                    Value::from(host),
                    msg,
                ));
            }
        }
    }
}

/// `validateHTTPIngressPath`.
fn validate_ingress_path(path: &Value, p: &str, errs: &mut Errs) {
    let value = str_of(path, "path");
    match path.get("pathType").and_then(Value::as_str) {
        None => {
            errs.push(FieldError::required(
                format!("{p}.pathType"),
                "pathType must be specified",
            ));
            return;
        }
        Some("Exact" | "Prefix") => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    format!("{p}.path"),
                    Value::from(value),
                    "must be an absolute path",
                ));
            }
            if !value.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            format!("{p}.path"),
                            Value::from(value),
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            format!("{p}.path"),
                            Value::from(value),
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        Some("ImplementationSpecific") => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    format!("{p}.path"),
                    Value::from(value),
                    "must be an absolute path",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            format!("{p}.pathType"),
            Value::from(other),
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    validate_ingress_backend(&path["backend"], &format!("{p}.backend"), errs);
}

/// `validateIngressBackend`.
fn validate_ingress_backend(backend: &Value, p: &str, errs: &mut Errs) {
    let resource = backend.get("resource").filter(|v| !v.is_null());
    let service = backend.get("service").filter(|v| !v.is_null());
    match (resource, service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            p,
            Value::from(""),
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            for key in ["kind", "name"] {
                if str_of(r, key).is_empty() {
                    errs.push(FieldError::required(format!("{p}.resource.{key}"), ""));
                }
            }
        }
        (None, Some(s)) => {
            let name = str_of(s, "name");
            if name.is_empty() {
                errs.push(FieldError::required(format!("{p}.service.name"), ""));
            } else {
                for msg in names::is_dns1035_label(name) {
                    errs.push(FieldError::invalid(
                        format!("{p}.service.name"),
                        Value::from(name),
                        msg,
                    ));
                }
            }
            let port_name = str_of(&s["port"], "name");
            let port_number = int_of(&s["port"], "number").unwrap_or(0);
            if !port_name.is_empty() && port_number != 0 {
                errs.push(FieldError::invalid(
                    p,
                    Value::from(""),
                    "cannot set both port name & port number",
                ));
            } else if !port_name.is_empty() {
                for msg in port_name_errors(port_name) {
                    errs.push(FieldError::invalid(
                        format!("{p}.service.port.name"),
                        Value::from(port_name),
                        msg,
                    ));
                }
            } else if port_number != 0 {
                for msg in port_num_errors(port_number) {
                    errs.push(FieldError::invalid(
                        format!("{p}.service.port.number"),
                        Value::from(port_number),
                        msg,
                    ));
                }
            } else {
                errs.push(FieldError::required(p, "port name or number is required"));
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            p,
            Value::from(""),
            "resource or service backend is required",
        )),
    }
}

fn validate_ingress_class(ic: &Value, errs: &mut Errs) {
    if str_of(&ic["spec"], "controller").is_empty() {
        errs.push(FieldError::required("spec.controller", ""));
    }
}

fn validate_network_policy(np: &Value, errs: &mut Errs) {
    let spec = &np["spec"];
    errs.extend(selectors::validate_label_selector(
        &spec["podSelector"],
        "spec.podSelector",
    ));
    for (i, t) in items(spec, "policyTypes").iter().enumerate() {
        let t = t.as_str().unwrap_or("");
        if !matches!(t, "Ingress" | "Egress") {
            errs.push(FieldError::not_supported(
                format!("spec.policyTypes[{i}]"),
                Value::from(t),
                &["Ingress", "Egress"],
            ));
        }
    }
    for dir in ["ingress", "egress"] {
        for (i, rule) in items(spec, dir).iter().enumerate() {
            for (j, port) in items(rule, "ports").iter().enumerate() {
                let p = format!("spec.{dir}[{i}].ports[{j}]");
                if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
                    if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                        errs.push(FieldError::not_supported(
                            format!("{p}.protocol"),
                            Value::from(proto),
                            &["SCTP", "TCP", "UDP"],
                        ));
                    }
                }
                if let Some(port_value) = port.get("port").filter(|v| !v.is_null()) {
                    validate_port_num_or_name(Some(port_value), &format!("{p}.port"), errs);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// autoscaling, coordination.k8s.io
// ---------------------------------------------------------------------------

fn validate_hpa(hpa: &Value, version: &str, errs: &mut Errs) {
    let spec = &hpa["spec"];
    let min = int_of(spec, "minReplicas");
    let max = int_of(spec, "maxReplicas").unwrap_or(0);
    if let Some(min) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            Value::from(min),
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            Value::from(max),
            "must be greater than 0",
        ));
    }
    if let Some(min) = min {
        if max < min {
            errs.push(FieldError::invalid(
                "spec.maxReplicas",
                Value::from(max),
                "must be greater than or equal to `minReplicas`",
            ));
        }
    }
    let target = &spec["scaleTargetRef"];
    let before = errs.len();
    for key in ["kind", "name"] {
        let v = str_of(target, key);
        let p = format!("spec.scaleTargetRef.{key}");
        if v.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else if v == "." || v == ".." {
            errs.push(FieldError::invalid(
                p,
                Value::from(v),
                format!("may not be '{v}'"),
            ));
        } else {
            for bad in ["/", "%"] {
                if v.contains(bad) {
                    errs.push(FieldError::invalid(
                        p.clone(),
                        Value::from(v),
                        format!("may not contain '{bad}'"),
                    ));
                }
            }
        }
    }
    if errs.len() != before {
        return;
    }
    if version == "v1" {
        if let Some(t) = int_of(spec, "targetCPUUtilizationPercentage").filter(|t| *t < 1) {
            errs.push(FieldError::invalid(
                "spec.targetCPUUtilizationPercentage",
                Value::from(t),
                "must be greater than 0",
            ));
        }
        return;
    }
    for (i, metric) in items(spec, "metrics").iter().enumerate() {
        validate_metric(metric, &format!("spec.metrics[{i}]"), errs);
    }
}

/// `validateMetricSpec` (types, the matching source, its target).
fn validate_metric(metric: &Value, p: &str, errs: &mut Errs) {
    let ty = str_of(metric, "type");
    let source_key = match ty {
        "" => {
            errs.push(FieldError::required(
                format!("{p}.type"),
                "must specify a metric source type",
            ));
            return;
        }
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        other => {
            errs.push(FieldError::not_supported(
                format!("{p}.type"),
                Value::from(other),
                &[
                    "Object",
                    "Pods",
                    "Resource",
                    "External",
                    "ContainerResource",
                ],
            ));
            return;
        }
    };
    let Some(source) = metric.get(source_key).filter(|v| !v.is_null()) else {
        errs.push(FieldError::required(
            format!("{p}.{source_key}"),
            "must populate information for the given metric source",
        ));
        return;
    };
    let sp = format!("{p}.{source_key}");
    match source_key {
        "resource" | "containerResource" => {
            if str_of(source, "name").is_empty() {
                errs.push(FieldError::required(
                    format!("{sp}.name"),
                    "must specify a resource name",
                ));
            }
            if source_key == "containerResource" && str_of(source, "container").is_empty() {
                errs.push(FieldError::required(
                    format!("{sp}.container"),
                    "must specify a container",
                ));
            }
        }
        _ => {
            if str_of(&source["metric"], "name").is_empty() {
                errs.push(FieldError::required(
                    format!("{sp}.metric.name"),
                    "must specify a metric name",
                ));
            }
        }
    }
    let target = &source["target"];
    let tp = format!("{sp}.target");
    match str_of(target, "type") {
        "" => errs.push(FieldError::required(
            format!("{tp}.type"),
            "must specify a metric target type",
        )),
        "Utilization" | "Value" | "AverageValue" => {}
        other => errs.push(FieldError::invalid(
            format!("{tp}.type"),
            Value::from(other),
            "must be either Utilization, Value, or AverageValue",
        )),
    }
    for key in ["value", "averageValue"] {
        if let Some(q) = target.get(key).filter(|v| !v.is_null()) {
            if quantity_value(q)
                .map(|v| v <= Quantity::default())
                .unwrap_or(true)
            {
                errs.push(FieldError::invalid(
                    format!("{tp}.{key}"),
                    q.clone(),
                    "must be positive",
                ));
            }
        }
    }
    if let Some(u) = int_of(target, "averageUtilization").filter(|u| *u < 1) {
        errs.push(FieldError::invalid(
            format!("{tp}.averageUtilization"),
            Value::from(u),
            "must be greater than 0",
        ));
    }
}

fn validate_lease(lease: &Value, errs: &mut Errs) {
    let spec = &lease["spec"];
    if let Some(d) = int_of(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            Value::from(d),
            "must be greater than 0",
        ));
    }
    if let Some(t) = int_of(spec, "leaseTransitions").filter(|t| *t < 0) {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            Value::from(t),
            NEGATIVE,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{catalogue, defaults};
    use serde_json::json;

    fn info(group: &str, kind: &str) -> &'static ResourceInfo {
        catalogue::all()
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .expect("kind in catalogue")
    }

    /// Defaults then validates on create, returning the messages.
    fn create(group: &str, kind: &str, mut obj: Value) -> Vec<String> {
        let i = info(group, kind);
        defaults::apply(i, &mut obj);
        validate_create(i, &obj)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    fn update(group: &str, kind: &str, mut new: Value, mut old: Value) -> Vec<String> {
        let i = info(group, kind);
        defaults::apply(i, &mut old);
        defaults::apply(i, &mut new);
        validate_update(i, &new, &old)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": containers}})
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}
                }
            }
        })
    }

    #[test]
    fn valid_objects_pass() {
        assert_eq!(
            create("apps", "Deployment", deployment()),
            Vec::<String>::new()
        );
        assert_eq!(
            create("", "Pod", pod(json!([{"name": "c", "image": "busybox"}]))),
            Vec::<String>::new()
        );
        let svc = json!({"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}});
        assert_eq!(create("", "Service", svc), Vec::<String>::new());
        let job = json!({"kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
        assert_eq!(create("batch", "Job", job), Vec::<String>::new());
    }

    #[test]
    fn realistic_manifests_pass_create_and_noop_update() {
        let cases = [
            (
                "apps",
                "StatefulSet",
                json!({"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
                "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "busybox",
                        "command": ["sh", "-c", "sleep 3600"], "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        "resources": {"requests": {"cpu": 0.1, "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 2}}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
                "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]},
                    "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [{"name": "a", "image": "busybox:1.36", "ports": [{"containerPort": 9100, "name": "metrics"}],
                            "livenessProbe": {"httpGet": {"port": "metrics", "path": "/healthz"}}}]}}}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
                "spec": {"schedule": "*/5 * * * 1-5", "jobTemplate": {"spec": {"template": {"spec": {
                    "restartPolicy": "OnFailure", "containers": [{"name": "t", "image": "busybox", "args": ["date"]}]}}}}}}),
            ),
            (
                "",
                "Service",
                json!({"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http"}, {"name": "https", "port": 443}]}}),
            ),
            (
                "",
                "Service",
                json!({"kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
                "spec": {"type": "ExternalName", "externalName": "example.com."}}),
            ),
            (
                "",
                "Secret",
                json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                "type": "kubernetes.io/tls", "stringData": {"tls.crt": "x", "tls.key": "y"}}),
            ),
            (
                "",
                "ConfigMap",
                json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
                "data": {"app.properties": "a=b", "KEY_1": "v"}}),
            ),
            (
                "",
                "Namespace",
                json!({"kind": "Namespace", "metadata": {"name": "dev"}}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "c", "namespace": "default"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"kind": "Ingress", "metadata": {"name": "i", "namespace": "default"},
                "spec": {"ingressClassName": "minik", "rules": [{"host": "*.example.com", "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h", "namespace": "default"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}),
            ),
            (
                "networking.k8s.io",
                "NetworkPolicy",
                json!({"kind": "NetworkPolicy", "metadata": {"name": "n", "namespace": "default"},
                "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}),
            ),
            (
                "coordination.k8s.io",
                "Lease",
                json!({"kind": "Lease", "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}),
            ),
            (
                "",
                "Node",
                json!({"kind": "Node", "metadata": {"name": "node-1"},
                "status": {"capacity": {"cpu": 4, "memory": "8Gi", "pods": "110"}}}),
            ),
        ];
        for (group, kind, obj) in cases {
            assert_eq!(
                create(group, kind, obj.clone()),
                Vec::<String>::new(),
                "{kind} create"
            );
            assert_eq!(
                update(group, kind, obj.clone(), obj),
                Vec::<String>::new(),
                "{kind} update"
            );
        }
        let mut p = pod(
            json!([{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]),
        );
        p["spec"]["volumes"] =
            json!([{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]);
        assert_eq!(create("", "Pod", p.clone()), Vec::<String>::new());
        assert_eq!(update("", "Pod", p.clone(), p), Vec::<String>::new());
    }

    #[test]
    fn generated_job_selector_validates() {
        let i = info("batch", "Job");
        let mut job = json!({"kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
        defaults::apply(i, &mut job);
        job["metadata"]["uid"] = json!("u-1");
        defaults::default_job_selector(&mut job, "u-1");
        assert_eq!(validate_create(i, &job), vec![]);
        assert_eq!(validate_update(i, &job, &job), vec![]);

        let mut manual = json!({"kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "pi"}},
                "template": {"metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
        defaults::apply(i, &mut manual);
        manual["metadata"]["uid"] = json!("u-2");
        defaults::default_job_selector(&mut manual, "u-2");
        let msgs: Vec<String> = validate_create(i, &manual)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].ends_with("`selector` not auto-generated"),
            "{msgs:?}"
        );
    }

    #[test]
    fn bad_name_is_rejected() {
        let mut d = deployment();
        d["metadata"]["name"] = json!("Web_1");
        let errs = create("apps", "Deployment", d);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain"
            ),
            "{errs:?}"
        );
        let ns = json!({"kind": "Namespace", "metadata": {"name": "a.b"}});
        assert_eq!(
            create("", "Namespace", ns),
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
    }

    #[test]
    fn missing_image_and_container_rules() {
        assert_eq!(
            create("", "Pod", pod(json!([{"name": "c"}]))),
            vec!["spec.containers[0].image: Required value"]
        );
        let mut d = deployment();
        d["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("image");
        assert_eq!(
            create("apps", "Deployment", d),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
        assert_eq!(
            create("", "Pod", pod(json!([]))),
            vec!["spec.containers: Required value"]
        );
        let errs = create(
            "",
            "Pod",
            pod(
                json!([{"name": "a", "image": "x", "ports": [{"containerPort": 70000, "protocol": "HTTP"}]},
                      {"name": "a", "image": "y"}]),
            ),
        );
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[1].name: Duplicate value: \"a\"",
            ]
        );
        let errs = create(
            "",
            "Pod",
            pod(
                json!([{"name": "c", "image": "x", "imagePullPolicy": "Sometimes",
                "livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]),
            ),
        );
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ]
        );
        let mut p = pod(json!([{"name": "c", "image": "x"}]));
        p["spec"]["restartPolicy"] = json!("Sometimes");
        p["spec"]["dnsPolicy"] = json!("Google");
        assert_eq!(
            create("", "Pod", p),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ]
        );
    }

    #[test]
    fn requests_must_not_exceed_limits() {
        let errs = create(
            "",
            "Pod",
            pod(
                json!([{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]),
            ),
        );
        assert_eq!(
            errs,
            vec!["spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"]
        );
        let errs = create(
            "",
            "Pod",
            pod(
                json!([{"name": "c", "image": "x", "resources": {"requests": {"memory": "lots"}}}]),
            ),
        );
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match"));
    }

    #[test]
    fn selector_must_match_template() {
        let mut d = deployment();
        d["spec"]["template"]["metadata"]["labels"] = json!({"app": "api", "tier": "fe"});
        assert_eq!(
            create("apps", "Deployment", d),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\", \"tier\":\"fe\"}: `selector` does not match template `labels`"]
        );
        let mut d = deployment();
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            create("apps", "Deployment", d),
            vec!["spec.selector: Required value"]
        );
    }

    #[test]
    fn negative_replicas_and_strategy() {
        let mut d = deployment();
        d["spec"]["replicas"] = json!(-1);
        assert_eq!(
            create("apps", "Deployment", d),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
        let mut d = deployment();
        d["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
        assert_eq!(
            create("apps", "Deployment", d),
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]
        );
        let mut d = deployment();
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            create("apps", "Deployment", d),
            vec!["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]
        );
    }

    #[test]
    fn selector_is_immutable() {
        let mut new = deployment();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web2"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web2"});
        assert_eq!(
            update("apps", "Deployment", new, deployment()),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
        );
        let mut scaled = deployment();
        scaled["spec"]["replicas"] = json!(5);
        assert_eq!(
            update("apps", "Deployment", scaled, deployment()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn pod_updates_are_limited() {
        let old =
            pod(json!([{"name": "c", "image": "busybox:1", "ports": [{"containerPort": 80}]}]));
        let mut image = old.clone();
        image["spec"]["containers"][0]["image"] = json!("busybox:2");
        assert_eq!(update("", "Pod", image, old.clone()), Vec::<String>::new());

        let mut port = old.clone();
        port["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(8080);
        let errs = update("", "Pod", port, old.clone());
        assert_eq!(errs.len(), 1);
        let expected = format!("spec: Forbidden: pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n");
        assert!(errs[0].starts_with(&expected), "{}", errs[0]);
        assert!(
            errs[0].contains("containers[0].ports[0].containerPort: 8080"),
            "{}",
            errs[0]
        );

        let mut node = old.clone();
        node["spec"]["nodeName"] = json!("node-1");
        assert!(update("", "Pod", node, old.clone())[0]
            .starts_with("spec: Forbidden: pod updates may not change"));

        let mut more = old.clone();
        more["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "d", "image": "x"}));
        assert_eq!(
            update("", "Pod", more, old),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
    }

    #[test]
    fn service_rules() {
        let svc = |spec: Value| json!({"kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        assert_eq!(
            create("", "Service", svc(json!({"selector": {"app": "web"}}))),
            vec!["spec.ports: Required value"]
        );
        assert_eq!(
            create("", "Service", svc(json!({"clusterIP": "None"}))),
            Vec::<String>::new()
        );
        assert_eq!(
            create(
                "",
                "Service",
                svc(json!({"ports": [{"port": 80}, {"port": 81, "name": "b"}]}))
            ),
            vec!["spec.ports[0].name: Required value"]
        );
        assert_eq!(
            create("", "Service", svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}))),
            vec!["spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"]
        );
        assert_eq!(
            create("", "Service", svc(json!({"type": "ExternalName"}))),
            vec!["spec.externalName: Required value"]
        );
        let old = svc(json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}));
        let new = svc(json!({"clusterIP": "10.96.0.11", "ports": [{"port": 80}]}));
        assert_eq!(
            update("", "Service", new, old),
            vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"]
        );
    }

    #[test]
    fn config_keys_and_secret_type() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"bad key": "v"}});
        assert_eq!(
            create("", "ConfigMap", cm),
            vec!["data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
        let old = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": {}});
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/basic-auth");
        new["data"] = json!({"username": "YQ=="});
        assert_eq!(
            update("", "Secret", new, old),
            vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
        );
    }

    #[test]
    fn jobs_cronjobs_and_others() {
        let job = json!({"kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}});
        assert_eq!(
            create("batch", "Job", job),
            vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
        );
        let cj = json!({"kind": "CronJob", "metadata": {"name": "c", "namespace": "default"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "busybox"}]}}}}}});
        assert_eq!(
            create("batch", "CronJob", cj.clone()),
            vec!["spec.schedule: Required value"]
        );
        let mut bad = cj;
        bad["spec"]["schedule"] = json!("61 * * * *");
        assert_eq!(
            create("batch", "CronJob", bad),
            vec!["spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"]
        );
        let ing = json!({"kind": "Ingress", "metadata": {"name": "i", "namespace": "default"},
            "spec": {"rules": [{"host": "example.com", "http": {"paths": [{"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
        assert_eq!(
            create("networking.k8s.io", "Ingress", ing),
            vec![
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"
            ]
        );
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "default"},
            "spec": {"minReplicas": 3, "maxReplicas": 2}});
        assert_eq!(
            create("autoscaling", "HorizontalPodAutoscaler", hpa),
            vec![
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.kind: Required value",
                "spec.scaleTargetRef.name: Required value",
            ]
        );
    }
}
