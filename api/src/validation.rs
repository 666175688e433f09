//! Validation: the checks kube-apiserver makes on create and update (after
//! defaulting), reported as [`FieldError`]s worded as Kubernetes words them,
//! e.g. `spec.template.spec.containers[0].image: Required value`.
//!
//! This module holds the entry points ([`validate_new`] for a create,
//! [`validate_create`] for what every stored object must be, [`validate_update`],
//! which ask the kind's [`crate::kinds::Strategy`]) and the checks several kinds
//! share: object metadata updates, pod templates and pod specs, containers,
//! probes, volumes, resources, ports, workload selectors, Job specs. Each
//! kind's own checks live in its file under `kinds/`.
//!
//! Checks run on the kind's k8s-openapi struct (`PodSpec`, `Container`,
//! `IntOrString`, …), decoded from the stored JSON by the kind file
//! ([`crate::kinds::typed`]), as kube-apiserver validates its Go structs: a
//! misspelt field does not compile. HorizontalPodAutoscaler is still
//! validated on its JSON (`serde_json::Value`) with the small untyped
//! helpers at the top of this file (its file says why). Two things the
//! typed form cannot say are read from the JSON: a
//! required field that is absent (k8s-openapi defaults it where Go keeps a
//! nil pointer; see [`crate::kinds::is_present`]) and, for label selectors
//! and label maps, the shared checks in [`crate::selectors`] and
//! [`crate::names`], which take the JSON form (`json_of`). Maps come in
//! key order in the typed form (Go walks them in random order).
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

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, ExecAction, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, TCPSocketAction, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalogue::ResourceInfo;
use crate::field_error::{ErrorType, FieldError};
use crate::names;
use crate::quantity::{self, Quantity};
use crate::selectors::{self, LabelSelector};

use crate::kinds::Errs;

/// `IsNegativeErrorMsg`.
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
pub(crate) const IMMUTABLE: &str = "field is immutable";
pub(crate) const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
pub(crate) const INVALID_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
pub(crate) const QUANTITY_SYNTAX: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Largest ConfigMap or Secret payload (`core.MaxSecretSize`).
pub(crate) const MAX_SECRET_SIZE: usize = 1024 * 1024;
/// The NodePort range minik's API server allocates from (kube-apiserver's default).
pub const NODE_PORT_RANGE: (i64, i64) = (30000, 32767);

/// Validates an object about to be created. Call after defaulting.
pub fn validate_create(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let strategy = info.strategy;
    let mut errs = names::validate_object_meta(obj, info.namespaced, strategy.name_rule());
    strategy.validate(info, obj, &mut errs);
    errs
}

/// Validates a new object: [`validate_create`], plus what only a create may
/// not carry (a pod's ephemeral containers).
pub fn validate_new(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_create(info, obj);
    info.strategy.validate_new(obj, &mut errs);
    errs
}

/// Validates an update: the create rules on `new`, plus what may not change
/// between `old` and `new`. Call after defaulting `new`.
pub fn validate_update(info: &ResourceInfo, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate_object_meta_update(new, old);
    errs.extend(validate_create(info, new));
    info.strategy.validate_update(new, old, &mut errs);
    errs
}

// ---------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------

// JSON accessors, for the one kind validated on its JSON (HorizontalPodAutoscaler).

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn int_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

pub(crate) fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An `Invalid value` whose value Kubernetes prints unquoted in Go syntax
/// (`map[string]string{…}`, `v1.LabelSelector{…}`, `25%`).
pub(crate) fn invalid_shown(field: impl Into<String>, shown: &str, detail: &str) -> FieldError {
    FieldError {
        kind: ErrorType::Invalid,
        field: field.into(),
        value: None,
        detail: format!("{shown}: {detail}"),
    }
}

/// `ValidateNonnegativeField` on an optional integer at `path`.
pub(crate) fn non_negative(v: Option<impl Into<i64>>, path: &str, errs: &mut Errs) {
    if let Some(n) = v.map(Into::into) {
        if n < 0 {
            errs.push(FieldError::invalid(path, Value::from(n), NEGATIVE));
        }
    }
}

pub(crate) fn immutable_field(
    new: Option<&Value>,
    old: Option<&Value>,
    path: &str,
    errs: &mut Errs,
) {
    let norm = |v: Option<&Value>| v.map(normalize).unwrap_or(Value::Null);
    if norm(new) != norm(old) {
        errs.push(FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            IMMUTABLE,
        ));
    }
}

/// [`immutable_field`] on a typed field (`None` reads as absent).
pub(crate) fn immutable<T: serde::Serialize>(new: &T, old: &T, path: &str, errs: &mut Errs) {
    immutable_field(Some(&json_of(new)), Some(&json_of(old)), path, errs)
}

/// The value with nulls, empty maps and empty lists dropped from maps, so
/// that absent and empty compare equal (apimachinery's semantic equality).
pub(crate) fn normalize(v: &Value) -> Value {
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

pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

// --- Go-syntax rendering of values, as field.Invalid prints them ----------

pub(crate) fn go_quote(s: &str) -> String {
    Value::from(s).to_string()
}

/// `map[string]string{"app":"web", "tier":"fe"}`, keys sorted, as Go's `%#v`.
pub(crate) fn go_string_map(v: Option<&Value>) -> String {
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
pub(crate) fn go_string_slice(v: Option<&Value>) -> String {
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
pub(crate) fn go_label_selector(v: &Value) -> String {
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

// --- quantities ------------------------------------------------------------

/// A quantity (string, or number as YAML gives it).
pub(crate) fn quantity_value(v: &Value) -> Result<Quantity, String> {
    match v {
        Value::Null => Err(QUANTITY_SYNTAX.to_string()),
        other => quantity::from_json(other).map_err(|e| e.to_string()),
    }
}

/// A quantity as Kubernetes prints it (`Quantity.String()`).
pub(crate) fn quantity_text(v: &Value) -> String {
    match quantity::from_json(v) {
        Ok(q) => q.to_string(),
        Err(_) => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
    }
}

// --- ports -----------------------------------------------------------------

pub(crate) fn port_num_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![PORT_RANGE.to_string()]
    }
}

/// `IsValidPortName` (IANA service names).
pub(crate) fn port_name_errors(name: &str) -> Vec<String> {
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

/// `ValidatePortNumOrName`: a number in range or an IANA port name.
pub(crate) fn validate_port_num_or_name(v: &IntOrString, path: &str, errs: &mut Errs) {
    match v {
        IntOrString::String(s) => {
            for msg in port_name_errors(s) {
                errs.push(FieldError::invalid(path, Value::from(s.as_str()), msg));
            }
        }
        IntOrString::Int(port) => {
            for msg in port_num_errors(i64::from(*port)) {
                errs.push(FieldError::invalid(path, Value::from(*port), msg));
            }
        }
    }
}

/// A port's `protocol` at `{path}.protocol`.
/// A required enum field: empty is `Required value`, anything but one of
/// `allowed` is `Unsupported value` listing them (in the order given).
pub(crate) fn required_one_of(value: &str, path: &str, allowed: &[&str], errs: &mut Errs) {
    if value.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !allowed.contains(&value) {
        errs.push(FieldError::not_supported(path, Value::from(value), allowed));
    }
}

pub(crate) fn validate_protocol(protocol: Option<&str>, path: &str, errs: &mut Errs) {
    let path = format!("{path}.protocol");
    required_one_of(protocol.unwrap_or(""), &path, &["SCTP", "TCP", "UDP"], errs);
}

// ---------------------------------------------------------------------------
// Object metadata on update.
// ---------------------------------------------------------------------------

/// `ValidateObjectMetaUpdate`: name, namespace and uid may not change.
pub(crate) fn validate_object_meta_update(new: &Value, old: &Value) -> Errs {
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
// Pods and pod specs, on the typed k8s-openapi structs.
// ---------------------------------------------------------------------------

/// Where a PodSpec lives, which changes a few rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpecOwner {
    Pod,
    /// A workload's pod template (ReplicaSet, Deployment, …).
    Template,
    /// A Job's (or CronJob's) pod template: the restart policy is checked
    /// by the Job rules instead.
    JobTemplate,
}

/// A list field that may be absent, as a slice.
pub(crate) fn list<T>(v: &Option<Vec<T>>) -> &[T] {
    v.as_deref().unwrap_or_default()
}

/// A string field that may be absent, as `""` when it is.
pub(crate) fn opt_str(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

/// A typed value in its JSON form, for the messages and helpers (label
/// selectors, label maps) that print or read JSON.
pub(crate) fn json_of<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// `ValidatePodTemplateSpec` at `path` (e.g. `spec.template`).
pub(crate) fn validate_pod_template(
    template: &PodTemplateSpec,
    path: &str,
    owner: SpecOwner,
    errs: &mut Errs,
) {
    let meta = template.metadata.as_ref();
    if let Some(labels) = meta.and_then(|m| m.labels.as_ref()) {
        errs.extend(names::validate_labels(
            &json_of(labels),
            &format!("{path}.metadata.labels"),
        ));
    }
    if let Some(annotations) = meta.and_then(|m| m.annotations.as_ref()) {
        errs.extend(names::validate_annotations(
            &json_of(annotations),
            &format!("{path}.metadata.annotations"),
        ));
        use crate::kinds::core::pod_apparmor;
        if annotations
            .keys()
            .any(|k| k.starts_with(pod_apparmor::ANNOTATION_PREFIX))
        {
            let (meta, spec) = (json_of(&template.metadata), json_of(&template.spec));
            let at = format!("{path}.");
            pod_apparmor::validate(&meta, &spec, &at, errs);
            pod_apparmor::validate_match(&meta, &spec, &at, errs);
        }
    }
    let spec = template.spec.clone().unwrap_or_default();
    validate_pod_spec(&spec, &format!("{path}.spec"), owner, errs);
    if !list(&spec.ephemeral_containers).is_empty() {
        errs.push(FieldError::forbidden(
            format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// `validateSeccompProfileField`: a known type, and a `localhostProfile`
/// (a relative path within the node's profile directory) for `Localhost`.
fn validate_seccomp_profile(
    profile: &k8s_openapi::api::core::v1::SeccompProfile,
    path: &str,
    errs: &mut Errs,
) {
    match profile.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(FieldError::required(
            format!("{path}.type"),
            "type is required when seccompProfile is set",
        )),
        other => errs.push(FieldError::not_supported(
            format!("{path}.type"),
            Value::from(other),
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    if profile.type_ == "Localhost" {
        match profile.localhost_profile.as_deref() {
            None => errs.push(FieldError::required(
                format!("{path}.localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(p) if p.starts_with('/') => errs.push(FieldError::invalid(
                format!("{path}.localhostProfile"),
                Value::from(p),
                "must be a relative path",
            )),
            Some(p) if p.split('/').any(|part| part == "..") => errs.push(FieldError::invalid(
                format!("{path}.localhostProfile"),
                Value::from(p),
                "must not contain '..'",
            )),
            Some(_) => {}
        }
    }
}

/// `validateSysctls`: each name present, well formed (dots or slashes)
/// and given once, and none of a namespace the pod shares with its host
/// (`ValidateHostSysctl`).
fn validate_sysctls(spec: &PodSpec, path: &str, errs: &mut Errs) {
    const SEGMENT: &str = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
    let pattern = format!("^({SEGMENT}[\\./])*{SEGMENT}$");
    let re = regex::Regex::new(&pattern).expect("the sysctl pattern");
    let mut seen = HashSet::new();
    let sysctls = spec
        .security_context
        .iter()
        .flat_map(|s| s.sysctls.iter().flatten());
    for (i, s) in sysctls.enumerate() {
        let p = format!("{path}.securityContext.sysctls[{i}].name");
        let name = s.name.as_str();
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if name.len() > 253 || !re.is_match(name) {
            errs.push(FieldError::invalid(
                &p,
                Value::from(name),
                format!("must have at most 253 characters and match regex {pattern}"),
            ));
        } else if !seen.insert(name) {
            errs.push(FieldError::duplicate(&p, Value::from(name)));
        }
        use crate::pod_security::{sysctl_namespace, sysctl_with_dots, SysctlNamespace};
        let namespace = sysctl_namespace(&sysctl_with_dots(name));
        if namespace == Some(SysctlNamespace::Net) && spec.host_network == Some(true) {
            errs.push(FieldError::invalid(
                &p,
                Value::from(name),
                "may not be specified when 'hostNetwork' is true",
            ));
        } else if namespace == Some(SysctlNamespace::Ipc) && spec.host_ipc == Some(true) {
            errs.push(FieldError::invalid(
                &p,
                Value::from(name),
                "may not be specified when 'hostIPC' is true",
            ));
        }
    }
}

/// `ValidatePodSpec` (the parts minik implements).
pub(crate) fn validate_pod_spec(spec: &PodSpec, path: &str, owner: SpecOwner, errs: &mut Errs) {
    validate_volumes(list(&spec.volumes), path, errs);
    let host_network = spec.host_network == Some(true);
    let mut names_seen: HashSet<String> = HashSet::new();

    if spec.containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    // Containers before init containers, as ValidatePodSpec has them: a
    // name both use is the init container's duplicate.
    for (i, c) in spec.containers.iter().enumerate() {
        let ctx = ContainerCtx {
            path: format!("{path}.containers[{i}]"),
            init: false,
            owner,
            host_network,
        };
        validate_container(c, &ctx, &mut names_seen, errs);
    }
    for (i, c) in list(&spec.init_containers).iter().enumerate() {
        let ctx = ContainerCtx {
            path: format!("{path}.initContainers[{i}]"),
            init: true,
            owner,
            host_network,
        };
        validate_container(c, &ctx, &mut names_seen, errs);
    }
    for (i, c) in list(&spec.ephemeral_containers).iter().enumerate() {
        let p = format!("{path}.ephemeralContainers[{i}].name");
        if c.name.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else if !names_seen.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(p, Value::from(c.name.as_str())));
        }
    }

    validate_sysctls(spec, path, errs);
    if let Some(profile) = spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        validate_seccomp_profile(
            profile,
            &format!("{path}.securityContext.seccompProfile"),
            errs,
        );
    }
    if spec.host_pid == Some(true) && spec.share_process_namespace == Some(true) {
        errs.push(FieldError::invalid(
            format!("{path}.shareProcessNamespace"),
            Value::from(true),
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }

    if owner != SpecOwner::JobTemplate {
        required_one_of(
            opt_str(&spec.restart_policy),
            &format!("{path}.restartPolicy"),
            &["Always", "OnFailure", "Never"],
            errs,
        );
    }
    match opt_str(&spec.dns_policy) {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" => {}
        "None" => {
            if spec.dns_config.is_none() {
                errs.push(FieldError::required(
                    format!("{path}.dnsConfig"),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
            }
        }
        "" => errs.push(FieldError::required(format!("{path}.dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            format!("{path}.dnsPolicy"),
            Value::from(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    if let Some(ads) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                Value::from(ads),
                format!("must be between 1 and {}, inclusive", i32::MAX),
            ));
        }
    }
    for (key, value, label) in [
        ("nodeName", &spec.node_name, false),
        ("serviceAccountName", &spec.service_account_name, false),
        ("hostname", &spec.hostname, true),
        ("subdomain", &spec.subdomain, true),
    ] {
        let v = opt_str(value);
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
    if let Some(selector) = &spec.node_selector {
        errs.extend(names::validate_labels(
            &json_of(selector),
            &format!("{path}.nodeSelector"),
        ));
    }
    validate_tolerations(
        list(&spec.tolerations),
        &format!("{path}.tolerations"),
        errs,
    );
    if let Some(overhead) = &spec.overhead {
        validate_resource_list(&json_of(overhead), &format!("{path}.overhead"), errs);
    }
}

pub(crate) struct ContainerCtx {
    path: String,
    init: bool,
    owner: SpecOwner,
    host_network: bool,
}

/// `validateContainerCommon` and friends for one container.
/// A required name that is a DNS-1123 label and unique among its siblings
/// (`seen`): containers', volumes'.
fn unique_label_name(name: &str, path: &str, seen: &mut HashSet<String>, errs: &mut Errs) {
    if name.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    for msg in names::is_dns1123_label(name) {
        errs.push(FieldError::invalid(path, Value::from(name), msg));
    }
    if !seen.insert(name.to_string()) {
        errs.push(FieldError::duplicate(path, Value::from(name)));
    }
}

pub(crate) fn validate_container(
    c: &Container,
    ctx: &ContainerCtx,
    names_seen: &mut HashSet<String>,
    errs: &mut Errs,
) {
    let p = &ctx.path;
    let name = c.name.as_str();
    unique_label_name(name, &format!("{p}.name"), names_seen, errs);

    let image = opt_str(&c.image);
    if image.is_empty() {
        errs.push(FieldError::required(format!("{p}.image"), ""));
    } else if ctx.owner == SpecOwner::Pod && image.trim() != image {
        errs.push(FieldError::invalid(
            format!("{p}.image"),
            Value::from(image),
            "must not have leading or trailing whitespace",
        ));
    }

    required_one_of(
        opt_str(&c.image_pull_policy),
        &format!("{p}.imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        errs,
    );
    if let Some(profile) = c
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        validate_seccomp_profile(
            profile,
            &format!("{p}.securityContext.seccompProfile"),
            errs,
        );
    }
    match opt_str(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            format!("{p}.terminationMessagePolicy"),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        other => errs.push(FieldError::invalid(
            format!("{p}.terminationMessagePolicy"),
            Value::from(other),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
    }

    // Sidecars are init containers with restartPolicy Always; nothing else
    // may set a container restart policy.
    let restartable_init = ctx.init && c.restart_policy.as_deref() == Some("Always");
    if let Some(rp) = &c.restart_policy {
        if !ctx.init {
            errs.push(FieldError::forbidden(
                format!("{p}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        } else if rp != "Always" {
            errs.push(FieldError::not_supported(
                format!("{p}.restartPolicy"),
                Value::from(rp.as_str()),
                &["Always"],
            ));
        }
    }

    validate_container_ports(list(&c.ports), p, ctx.host_network, errs);
    validate_env(list(&c.env), p, errs);
    for (i, m) in list(&c.volume_mounts).iter().enumerate() {
        let mp = format!("{p}.volumeMounts[{i}]");
        if m.name.is_empty() {
            errs.push(FieldError::required(format!("{mp}.name"), ""));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(format!("{mp}.mountPath"), ""));
        }
    }
    if let Some(resources) = &c.resources {
        validate_resources(resources, &format!("{p}.resources"), errs);
    }

    let probes = [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ];
    if ctx.init && !restartable_init {
        let set = [
            ("lifecycle", c.lifecycle.is_some()),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
        ];
        for (key, _) in set.into_iter().filter(|(_, set)| *set) {
            errs.push(FieldError::forbidden(
                format!("{p}.{key}"),
                "may not be set for init containers without restartPolicy=Always",
            ));
        }
    } else {
        for (key, probe) in probes {
            if let Some(probe) = probe {
                validate_probe(probe, &format!("{p}.{key}"), errs);
            }
        }
        for (key, probe) in [probes[0], probes[2]] {
            if let Some(st) = probe.as_ref().and_then(|pr| pr.success_threshold) {
                if st != 1 {
                    errs.push(FieldError::invalid(
                        format!("{p}.{key}.successThreshold"),
                        Value::from(st),
                        "must be 1",
                    ));
                }
            }
        }
        if let Some(lifecycle) = &c.lifecycle {
            for (hook, h) in [
                ("postStart", &lifecycle.post_start),
                ("preStop", &lifecycle.pre_stop),
            ] {
                if let Some(h) = h {
                    let actions = [
                        ("exec", h.exec.as_ref().map(Action::Exec)),
                        ("httpGet", h.http_get.as_ref().map(Action::HttpGet)),
                        ("tcpSocket", h.tcp_socket.as_ref().map(Action::TcpSocket)),
                        ("sleep", h.sleep.as_ref().map(|_| Action::Sleep)),
                    ];
                    validate_handler(actions, &format!("{p}.lifecycle.{hook}"), errs);
                }
            }
        }
    }
}

/// `validateContainerPorts`.
pub(crate) fn validate_container_ports(
    ports: &[ContainerPort],
    path: &str,
    host_network: bool,
    errs: &mut Errs,
) {
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("{path}.ports[{i}]");
        let name = opt_str(&port.name);
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
        let container_port = i64::from(port.container_port);
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
        let host_port = i64::from(port.host_port.unwrap_or(0));
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
        validate_protocol(port.protocol.as_deref(), &p, errs);
    }
}

/// `ValidateEnv` (names and the value/valueFrom choice).
pub(crate) fn validate_env(env: &[EnvVar], path: &str, errs: &mut Errs) {
    for (i, env) in env.iter().enumerate() {
        let p = format!("{path}.env[{i}]");
        let name = env.name.as_str();
        if name.is_empty() {
            errs.push(FieldError::required(format!("{p}.name"), ""));
        } else if !name.bytes().all(|b| (32..=126).contains(&b) && b != b'=') {
            errs.push(FieldError::invalid(
                format!("{p}.name"),
                Value::from(name),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        if let Some(from) = &env.value_from {
            let sources = [
                from.field_ref.is_some(),
                from.resource_field_ref.is_some(),
                from.config_map_key_ref.is_some(),
                from.secret_key_ref.is_some(),
            ]
            .into_iter()
            .filter(|set| *set)
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
            if !opt_str(&env.value).is_empty() {
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
pub(crate) fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

/// `validateContainerResourceName`.
pub(crate) fn validate_container_resource_name(name: &str, path: &str, errs: &mut Errs) {
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

/// `ValidateResourceRequirements` for a container's `resources`. The lists
/// are sorted maps in the typed form; Go walks them in random order.
pub(crate) fn validate_resources(resources: &ResourceRequirements, path: &str, errs: &mut Errs) {
    let empty = BTreeMap::new();
    let limits = resources.limits.as_ref().unwrap_or(&empty);
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut limit_values: Vec<(&str, Quantity)> = Vec::new();
    for (name, q) in limits {
        let p = format!("{path}.limits[{name}]");
        validate_container_resource_name(name, &p, errs);
        if let Some(v) = validate_quantity(name, &Value::from(q.0.as_str()), &p, errs) {
            limit_values.push((name, v));
        }
    }
    for (name, q) in requests {
        let p = format!("{path}.requests[{name}]");
        validate_container_resource_name(name, &p, errs);
        let Some(request) = validate_quantity(name, &Value::from(q.0.as_str()), &p, errs) else {
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

/// A quantity's value (its JSON form: a string, or a number as YAML gives
/// it), reporting syntax errors, negatives and (for extended resources)
/// fractions at `path`.
pub(crate) fn validate_quantity(
    name: &str,
    q: &Value,
    path: &str,
    errs: &mut Errs,
) -> Option<Quantity> {
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

/// Every quantity of a resource list (quota `hard`, node capacity, …), in
/// its JSON form.
pub(crate) fn validate_resource_list(list: &Value, path: &str, errs: &mut Errs) {
    if let Some(m) = list.as_object() {
        for (name, q) in m {
            validate_quantity(name, q, &format!("{path}[{name}]"), errs);
        }
    }
}

/// `validateProbe`.
pub(crate) fn validate_probe(probe: &Probe, path: &str, errs: &mut Errs) {
    let actions = [
        ("exec", probe.exec.as_ref().map(Action::Exec)),
        ("httpGet", probe.http_get.as_ref().map(Action::HttpGet)),
        (
            "tcpSocket",
            probe.tcp_socket.as_ref().map(Action::TcpSocket),
        ),
        ("grpc", probe.grpc.as_ref().map(|g| Action::Grpc(g.port))),
    ];
    validate_handler(actions, path, errs);
    for (key, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        non_negative(value, &format!("{path}.{key}"), errs);
    }
    if let Some(tgp) = probe.termination_grace_period_seconds {
        if tgp <= 0 {
            errs.push(FieldError::invalid(
                format!("{path}.terminationGracePeriodSeconds"),
                Value::from(tgp),
                "must be greater than 0",
            ));
        }
    }
}

/// One action of a probe or lifecycle hook.
pub(crate) enum Action<'a> {
    Exec(&'a ExecAction),
    HttpGet(&'a HTTPGetAction),
    TcpSocket(&'a TCPSocketAction),
    /// A gRPC probe, by its port.
    Grpc(i32),
    Sleep,
}

/// `validateHandler`: exactly one action. `actions` are the handler's
/// fields in Kubernetes' order (probes: exec, httpGet, tcpSocket, grpc;
/// lifecycle hooks: exec, httpGet, tcpSocket, sleep), `None` where unset.
pub(crate) fn validate_handler(actions: [(&str, Option<Action>); 4], path: &str, errs: &mut Errs) {
    let mut found = 0;
    for (kind, action) in actions {
        let Some(action) = action else {
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
        match action {
            Action::Exec(exec) if list(&exec.command).is_empty() => {
                errs.push(FieldError::required(format!("{p}.command"), ""));
            }
            Action::HttpGet(get) => {
                if opt_str(&get.path).is_empty() {
                    errs.push(FieldError::required(format!("{p}.path"), ""));
                }
                validate_port_num_or_name(&get.port, &format!("{p}.port"), errs);
                match opt_str(&get.scheme) {
                    "HTTP" | "HTTPS" => {}
                    other => errs.push(FieldError::not_supported(
                        format!("{p}.scheme"),
                        Value::from(other),
                        &["HTTP", "HTTPS"],
                    )),
                }
            }
            Action::TcpSocket(tcp) => {
                validate_port_num_or_name(&tcp.port, &format!("{p}.port"), errs)
            }
            Action::Grpc(port) => {
                for msg in port_num_errors(i64::from(port)) {
                    errs.push(FieldError::invalid(
                        format!("{p}.port"),
                        Value::from(port),
                        msg,
                    ));
                }
            }
            Action::Exec(_) | Action::Sleep => {}
        }
    }
    if found == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
}

/// `ValidateVolumes`: names and exactly one source each. The sources are
/// read from the volume's JSON form, so they come in k8s-openapi's field
/// order (Go checks them in its own fixed order).
pub(crate) fn validate_volumes(volumes: &[Volume], path: &str, errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = format!("{path}.volumes[{i}]");
        let name = v.name.as_str();
        unique_label_name(name, &format!("{p}.name"), &mut seen, errs);
        let json = json_of(v);
        let sources: Vec<&String> = json
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, val)| k.as_str() != "name" && !val.is_null())
            .map(|(k, _)| k)
            .collect();
        if sources.is_empty() {
            errs.push(FieldError::required(
                p.clone(),
                "must specify a volume type",
            ));
        }
        for k in sources.iter().skip(1) {
            errs.push(FieldError::forbidden(
                format!("{p}.{k}"),
                "may not specify more than 1 volume type",
            ));
        }
        let missing = match sources.first().map(|k| k.as_str()) {
            Some("secret") => v
                .secret
                .as_ref()
                .is_some_and(|s| opt_str(&s.secret_name).is_empty())
                .then_some("secret.secretName"),
            Some("configMap") => v
                .config_map
                .as_ref()
                .is_some_and(|c| c.name.is_empty())
                .then_some("configMap.name"),
            Some("persistentVolumeClaim") => v
                .persistent_volume_claim
                .as_ref()
                .is_some_and(|c| c.claim_name.is_empty())
                .then_some("persistentVolumeClaim.claimName"),
            Some("hostPath") => v
                .host_path
                .as_ref()
                .is_some_and(|h| h.path.is_empty())
                .then_some("hostPath.path"),
            Some("nfs") => v
                .nfs
                .as_ref()
                .is_some_and(|n| n.server.is_empty())
                .then_some("nfs.server"),
            _ => None,
        };
        if let Some(field) = missing {
            errs.push(FieldError::required(format!("{p}.{field}"), ""));
        }
    }
}

/// `ValidateTolerations`.
pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &str, errs: &mut Errs) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let key = opt_str(&t.key);
        let operator = opt_str(&t.operator);
        let effect = opt_str(&t.effect);
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
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                format!("{p}.effect"),
                Value::from(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "" | "Equal" => {
                let value = opt_str(&t.value);
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
                if !opt_str(&t.value).is_empty() {
                    errs.push(FieldError::invalid(
                        format!("{p}.operator"),
                        json_of(t),
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

// ---------------------------------------------------------------------------
// Services and endpoints.
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// ConfigMaps, Secrets, Namespaces, Nodes, volumes.
// ---------------------------------------------------------------------------

/// `IsConfigMapKey`.
pub(crate) fn config_key_errors(key: &str) -> Vec<String> {
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

/// Checks the keys of a ConfigMap's or Secret's `field` and adds up the
/// sizes of their values (`entries` pairs each key with its value's size).
pub(crate) fn validate_config_keys<'a>(
    entries: impl IntoIterator<Item = (&'a String, usize)>,
    field: &str,
    errs: &mut Errs,
) -> usize {
    let mut size = 0;
    for (key, value_size) in entries {
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid(
                format!("{field}[{key}]"),
                Value::from(key.as_str()),
                msg,
            ));
        }
        size += value_size;
    }
    size
}

/// The length of `n` bytes in base64, as a ConfigMap's `binaryData` or a
/// Secret's `data` stores them; their size is counted as three quarters of
/// it.
pub(crate) fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

pub(crate) fn too_long(path: &str, max: usize) -> FieldError {
    FieldError {
        kind: ErrorType::TooLong,
        field: path.to_string(),
        value: None,
        detail: format!("may not be more than {max} bytes"),
    }
}

/// ConfigMap/Secret update: nothing changes once `immutable` is true.
/// `fields` are the payload fields, each with its new and old value.
pub(crate) fn validate_immutable_data(
    immutable: (Option<bool>, Option<bool>),
    fields: &[(&str, Value, Value)],
    errs: &mut Errs,
) {
    if immutable.1 != Some(true) {
        return;
    }
    const MSG: &str = "field is immutable when `immutable` is set";
    if immutable.0 != Some(true) {
        errs.push(FieldError::forbidden("immutable", MSG));
    }
    for (field, new, old) in fields {
        if normalize(new) != normalize(old) {
            errs.push(FieldError::forbidden(*field, MSG));
        }
    }
}

pub(crate) const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

pub(crate) fn validate_access_modes(modes: &[String], errs: &mut Errs) {
    if modes.is_empty() {
        errs.push(FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(
                "spec.accessModes",
                Value::from(m.as_str()),
                &ACCESS_MODES,
            ));
        }
    }
}

/// A PV's or PVC's `storageClassName`: empty (no class) or a DNS subdomain.
pub(crate) fn validate_class_name(name: &str, path: &str, errs: &mut Errs) {
    for msg in names::is_dns1123_subdomain(name)
        .into_iter()
        .filter(|_| !name.is_empty())
    {
        errs.push(FieldError::invalid(path, Value::from(name), msg));
    }
}

pub(crate) fn validate_volume_mode(mode: Option<&str>, errs: &mut Errs) {
    if let Some(mode) = mode {
        if !matches!(mode, "Block" | "Filesystem") {
            errs.push(FieldError::not_supported(
                "spec.volumeMode",
                Value::from(mode),
                &["Block", "Filesystem"],
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------

/// Selector checks shared by the apps kinds: required, well formed, not
/// empty. `selector` is `None` when the object has none. Returns the selector to match the
/// template's labels with: a missing one is Kubernetes' `labels.Nothing()`
/// (what `LabelSelectorAsSelector` makes of nil), which matches no labels,
/// so the template mismatch is reported beside the missing selector, as
/// kube-apiserver does; `None` when the selector does not parse.
pub(crate) fn validate_workload_selector(
    selector: Option<&metav1::LabelSelector>,
    what: &str,
    errs: &mut Errs,
) -> Option<LabelSelector> {
    let Some(selector) = selector else {
        errs.push(FieldError::required("spec.selector", ""));
        return Some(LabelSelector::nothing());
    };
    let json = json_of(selector);
    let before = errs.len();
    errs.extend(selectors::validate_label_selector(&json, "spec.selector"));
    let empty = selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && list(&selector.match_expressions).is_empty();
    if empty {
        errs.push(invalid_shown(
            "spec.selector",
            &go_label_selector(&json),
            &format!("empty selector is invalid for {what}"),
        ));
    }
    match LabelSelector::from_json(&json) {
        Ok(s) => Some(s),
        Err(_) => {
            if errs.len() == before {
                errs.push(invalid_shown(
                    "spec.selector",
                    &go_label_selector(&json),
                    "invalid label selector",
                ));
            }
            None
        }
    }
}

/// The labels of a pod template, in their JSON form (for selector matching
/// and for messages).
pub(crate) fn template_labels(template: &PodTemplateSpec) -> Option<Value> {
    let labels = template.metadata.as_ref()?.labels.as_ref()?;
    Some(json_of(labels))
}

/// The selector must select the pods the template makes.
pub(crate) fn validate_selector_matches_template(
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    path: &str,
    errs: &mut Errs,
) {
    let Some(selector) = selector else {
        return;
    };
    if selector.is_empty() {
        return;
    }
    let labels = template_labels(template);
    let empty = Map::new();
    if !selector.matches(labels.as_ref().and_then(Value::as_object).unwrap_or(&empty)) {
        errs.push(invalid_shown(
            format!("{path}.metadata.labels"),
            &go_string_map(labels.as_ref()),
            "`selector` does not match template `labels`",
        ));
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` (also used for the other apps
/// kinds): selector match, the pod template, restart policy Always and no
/// active deadline.
pub(crate) fn validate_replica_template(
    template: &PodTemplateSpec,
    selector: Option<&LabelSelector>,
    owner_kind: &str,
    errs: &mut Errs,
) {
    validate_selector_matches_template(selector, template, "spec.template", errs);
    validate_pod_template(template, "spec.template", SpecOwner::Template, errs);
    let spec = template.spec.as_ref();
    let restart = spec.map_or("", |s| opt_str(&s.restart_policy));
    if restart != "Always" && !restart.is_empty() {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            Value::from(restart),
            &["Always"],
        ));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {owner_kind} is not Supported"),
        ));
    }
}

/// The numeric value of an int-or-percent (`25%` → 25).
pub(crate) fn int_or_percent(v: &IntOrString) -> i64 {
    match v {
        IntOrString::String(s) => s
            .strip_suffix('%')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        IntOrString::Int(n) => i64::from(*n),
    }
}

/// An int-or-string as `IntOrString.String()` prints it.
pub(crate) fn int_or_string_text(v: &IntOrString) -> String {
    match v {
        IntOrString::String(s) => s.clone(),
        IntOrString::Int(n) => n.to_string(),
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
pub(crate) fn validate_int_or_percent(
    v: Option<&IntOrString>,
    path: &str,
    max_100: bool,
    errs: &mut Errs,
) {
    match v {
        None => {}
        Some(IntOrString::String(s)) => {
            let digits = s
                .strip_suffix('%')
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if digits.is_none() {
                errs.push(invalid_shown(
                    path,
                    s,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ));
            } else if max_100 && digits.and_then(|n| n.parse::<i64>().ok()).unwrap_or(0) > 100 {
                errs.push(invalid_shown(path, s, "must not be greater than 100%"));
            }
        }
        Some(IntOrString::Int(n)) if *n < 0 => {
            errs.push(FieldError::invalid(path, Value::from(*n), NEGATIVE));
        }
        Some(IntOrString::Int(_)) => {}
    }
}

/// apps/v1 (and Job) selectors never change; Kubernetes prints the new one.
/// `None` is an absent selector.
pub(crate) fn immutable_selector(
    new: Option<&metav1::LabelSelector>,
    old: Option<&metav1::LabelSelector>,
    path: &str,
    errs: &mut Errs,
) {
    let (new, old) = (new.map(json_of), old.map(json_of));
    let norm = |v: &Option<Value>| v.as_ref().map(normalize).unwrap_or(Value::Null);
    if norm(&new) != norm(&old) {
        let shown = match &new {
            None => "null".to_string(),
            Some(new) => go_label_selector(new),
        };
        errs.push(invalid_shown(path, &shown, IMMUTABLE));
    }
}

/// apps/v1 workloads may not change `spec.selector` (their pods would be
/// orphaned). Only the selectors are decoded, as `Option`s, which keep an
/// absent selector apart from an empty one.
pub(crate) fn immutable_spec_selector(new: &Value, old: &Value, errs: &mut Errs) {
    let selector = |obj: &Value| {
        let json = obj.pointer("/spec/selector").unwrap_or(&Value::Null);
        Option::<metav1::LabelSelector>::deserialize(json)
            .ok()
            .flatten()
    };
    immutable_selector(
        selector(new).as_ref(),
        selector(old).as_ref(),
        "spec.selector",
        errs,
    );
}

// ---------------------------------------------------------------------------
// batch/v1
// ---------------------------------------------------------------------------

/// `validateJobSpec` without the selector: counts, completion mode, the pod
/// template and its restart policy. `path` is `spec` or `spec.jobTemplate.spec`.
pub(crate) fn validate_job_spec_common(spec: &JobSpec, path: &str, errs: &mut Errs) {
    for (key, value) in [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        (
            "ttlSecondsAfterFinished",
            spec.ttl_seconds_after_finished.map(i64::from),
        ),
    ] {
        non_negative(value, &format!("{path}.{key}"), errs);
    }
    match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            if spec.completions.is_none() {
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
    validate_pod_template(&spec.template, &template_path, SpecOwner::JobTemplate, errs);
    let restart = spec
        .template
        .spec
        .as_ref()
        .map_or("", |s| opt_str(&s.restart_policy));
    if restart != "OnFailure" && restart != "Never" {
        errs.push(FieldError::required(
            format!("{template_path}.spec.restartPolicy"),
            "valid values: \"OnFailure\", \"Never\"",
        ));
    }
}

// ---------------------------------------------------------------------------
// networking.k8s.io/v1
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// autoscaling, coordination.k8s.io
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{catalogue, defaults};
    use serde_json::json;

    fn info(group: &str, kind: &str) -> &'static ResourceInfo {
        catalogue::by_group_kind(group, kind).expect("kind in catalogue")
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
        crate::kinds::batch::job::default_job_selector(&mut job, "u-1");
        assert_eq!(validate_create(i, &job), vec![]);
        assert_eq!(validate_update(i, &job, &job), vec![]);

        let mut manual = json!({"kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "pi"}},
                "template": {"metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
        defaults::apply(i, &mut manual);
        manual["metadata"]["uid"] = json!("u-2");
        crate::kinds::batch::job::default_job_selector(&mut manual, "u-2");
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
        // A name an init container shares with a container is the init
        // container's duplicate; ephemeral containers only come later.
        let mut p = pod(json!([{"name": "c", "image": "x"}]));
        p["spec"]["initContainers"] =
            json!([{"name": "c", "image": "y", "restartPolicy": "Always"}]);
        p["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "z"}]);
        let i = info("", "Pod");
        defaults::apply(i, &mut p);
        let errs: Vec<String> = validate_new(i, &p)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.initContainers[0].name: Duplicate value: \"c\"",
                "spec.ephemeralContainers: Forbidden: cannot be set on create",
            ]
        );
        // Sysctls: well formed, once each, none of a namespace shared with
        // the host (kube-apiserver's words).
        let mut p = pod(json!([{"name": "c", "image": "x"}]));
        p["spec"]["hostNetwork"] = json!(true);
        p["spec"]["securityContext"] = json!({"sysctls": [
            {"name": "net.ipv4.tcp_syncookies", "value": "0"},
            {"name": "Bad_Name", "value": "1"},
            {"name": "kernel/shm_rmid_forced", "value": "1"},
            {"name": "kernel/shm_rmid_forced", "value": "1"}]});
        assert_eq!(
            create("", "Pod", p),
            vec![
                "spec.securityContext.sysctls[0].name: Invalid value: \"net.ipv4.tcp_syncookies\": may not be specified when 'hostNetwork' is true",
                "spec.securityContext.sysctls[1].name: Invalid value: \"Bad_Name\": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
                "spec.securityContext.sysctls[3].name: Duplicate value: \"kernel/shm_rmid_forced\"",
            ]
        );
        let mut p = pod(json!([{"name": "c", "image": "x",
            "securityContext": {"seccompProfile": {"type": "Localhost"}}}]));
        p["spec"]["securityContext"] = json!({"seccompProfile": {"type": "Custom"}});
        assert_eq!(
            create("", "Pod", p),
            vec![
                "spec.containers[0].securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
                "spec.securityContext.seccompProfile.type: Unsupported value: \"Custom\": supported values: \"Localhost\", \"RuntimeDefault\", \"Unconfined\"",
            ]
        );
        let mut p = pod(json!([{"name": "c", "image": "x"}]));
        p["spec"]["hostPID"] = json!(true);
        p["spec"]["shareProcessNamespace"] = json!(true);
        assert_eq!(
            create("", "Pod", p),
            vec!["spec.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled"]
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
        // A missing selector is `labels.Nothing()` for the template check
        // too (ValidateDeploymentSpec), so both are reported.
        let mut d = deployment();
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            create("apps", "Deployment", d.clone()),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
        // The first Deployment of many tutorials: no selector, no labels.
        d["spec"]["template"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        let mismatch = "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`";
        let both = vec!["spec.selector: Required value", mismatch];
        assert_eq!(create("apps", "Deployment", d.clone()), both);
        d["kind"] = json!("StatefulSet");
        d["spec"]["serviceName"] = json!("web");
        assert_eq!(create("apps", "StatefulSet", d.clone()), both);
        // ValidateDaemonSetSpec never calls a missing selector required.
        d["kind"] = json!("DaemonSet");
        let spec = d["spec"].as_object_mut().unwrap();
        spec.remove("replicas");
        spec.remove("serviceName");
        assert_eq!(create("apps", "DaemonSet", d), vec![mismatch]);
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

    /// k8s-openapi defaults an absent required field where Go keeps a nil
    /// pointer; the kind files tell the two apart from the JSON.
    #[test]
    fn absent_and_empty_required_fields_differ() {
        let mut d = deployment();
        d["spec"]["selector"] = json!({});
        let errs = create("apps", "Deployment", d);
        assert!(
            errs.iter()
                .any(|e| e.ends_with("empty selector is invalid for deployment")),
            "{errs:?}"
        );
        assert!(
            !errs.iter().any(|e| e.contains("Required value")),
            "{errs:?}"
        );

        let ingress = |path: Value| {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "i", "namespace": "default"},
                "spec": {"rules": [{"http": {"paths": [path]}}]}})
        };
        let backend = json!({"service": {"name": "web", "port": {"number": 80}}});
        assert_eq!(
            create(
                "networking.k8s.io",
                "Ingress",
                ingress(json!({"path": "/", "pathType": "", "backend": backend}))
            ),
            vec!["spec.rules[0].http.paths[0].pathType: Unsupported value: \"\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""]
        );

        let mut without = deployment();
        without["spec"].as_object_mut().unwrap().remove("selector");
        let errs = update("apps", "Deployment", without, deployment());
        assert!(
            errs.contains(&"spec.selector: Invalid value: null: field is immutable".to_string()),
            "{errs:?}"
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
        let expected = format!(
            "spec: Forbidden: pod updates may not change fields other than {}\n",
            crate::kinds::core::pod::UPDATABLE_POD_SPEC_FIELDS
        );
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
