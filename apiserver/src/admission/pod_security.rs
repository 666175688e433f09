//! The PodSecurity admission plugin: a pod created in a namespace labelled
//! `pod-security.kubernetes.io/enforce: <level>` that breaks that Pod
//! Security Standard is refused with 403 `violates PodSecurity
//! "restricted:latest": …`; one that breaks the `warn` level is created
//! with a `Warning: would violate PodSecurity …` header. A namespace whose
//! enforce level is raised warns about the pods already there that break
//! it (they keep running, as in Kubernetes). The standards themselves are
//! `minik_api::pod_security`. Where minik simplifies: pods are checked on
//! create only (their spec barely changes after), workload templates get
//! no warnings, and `audit` has no audit log to write to.

use std::collections::BTreeMap;

use minik_api::catalogue::{self, ResourceInfo};
use minik_api::pod_security::{self, Level};
use serde_json::Value;

use crate::decode::Decoder;
use crate::error::ApiError;
use crate::store::Store;

/// The labels of `namespace` (none if it is not stored).
fn labels(store: &dyn Store, namespace: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let info = catalogue::lookup("", "v1", "namespaces").expect("namespaces are served");
    let Some(bytes) = store.get(&info.key(None, namespace))? else {
        return Ok(BTreeMap::new());
    };
    let ns: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(ns
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

fn label_map(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether [`namespace_updated`] judges an update of `info` (through
/// `subresource`): a namespace's own, where its labels are. Only such an
/// update reads the state before it for the warning.
pub fn judges_update(info: &ResourceInfo, subresource: Option<&str>) -> bool {
    let namespaces = catalogue::lookup("", "v1", "namespaces").expect("namespaces are served");
    std::ptr::eq(info, namespaces) && subresource.is_none()
}

/// After a namespace's update (one [`judges_update`] accepts): if its
/// enforce level changed, a warning for each group of existing pods that
/// break the new level, in pod-security-admission's words (`existing pods
/// in namespace "demo" violate the new PodSecurity enforce level
/// "restricted:latest"`, then `web-1 (and 2 other pods):
/// allowPrivilegeEscalation != false, …`).
pub fn namespace_updated(store: &dyn Store, old: &Value, new: &Value, warnings: &Decoder) {
    let before = pod_security::namespace_policy(&label_map(old)).enforce;
    let Some((level, version)) = pod_security::namespace_policy(&label_map(new)).enforce else {
        return;
    };
    if before == Some((level, version.clone())) {
        return;
    }
    let pods = catalogue::lookup("", "v1", "pods").expect("pods are served");
    let ns = minik_api::meta::name(new);
    // Pods with the same failures are reported together.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let _ = store.scan(
        &format!("{}{ns}/", pods.key_prefix()),
        None,
        &mut |_, bytes| {
            let Ok(pod) = serde_json::from_slice::<Value>(bytes) else {
                return true;
            };
            if let Some(spec) = pods.strategy.pod_spec(&pod) {
                let failures = pod_security::evaluate(level, &annotations_of(&pod), &spec);
                if !failures.is_empty() {
                    let reasons: Vec<String> = failures.iter().map(|(r, _)| r.clone()).collect();
                    let reasons = reasons.join(", ");
                    let name = minik_api::meta::name(&pod).to_string();
                    match groups.iter_mut().find(|(r, _)| *r == reasons) {
                        Some((_, names)) => names.push(name),
                        None => groups.push((reasons, vec![name])),
                    }
                }
            }
            true
        },
    );
    if groups.is_empty() {
        return;
    }
    warnings.warn(format!(
        "existing pods in namespace {ns:?} violate the new PodSecurity enforce level \"{}:{version}\"",
        level.as_str()
    ));
    for (reasons, names) in groups {
        let who = match names.len() {
            1 => names[0].clone(),
            2 => format!("{} (and 1 other pod)", names[0]),
            n => format!("{} (and {} other pods)", names[0], n - 1),
        };
        warnings.warn(format!("{who}: {reasons}"));
    }
}

/// Checks a pod being created in `namespace` against its labels' levels.
pub fn admit(
    store: &dyn Store,
    info: &ResourceInfo,
    namespace: &str,
    obj: &Value,
    warnings: &Decoder,
) -> Result<(), ApiError> {
    let Some(spec) = info.strategy.pod_spec(obj) else {
        return Ok(());
    };
    let policy = pod_security::namespace_policy(&labels(store, namespace)?);
    let annotations = annotations_of(obj);
    let judged = |(level, version): &(Level, String)| {
        let failures = pod_security::evaluate(*level, &annotations, &spec);
        (!failures.is_empty()).then(|| {
            format!(
                "PodSecurity \"{}:{version}\": {}",
                level.as_str(),
                pod_security::forbidden_detail(&failures)
            )
        })
    };
    if let Some(violation) = policy.enforce.as_ref().and_then(judged) {
        return Err(super::forbidden(
            info,
            obj,
            &[format!("violates {violation}")],
        ));
    }
    if let Some(violation) = policy.warn.as_ref().and_then(judged) {
        warnings.warn(format!("would violate {violation}"));
    }
    Ok(())
}

/// A pod's annotations (what the AppArmor check reads).
fn annotations_of(obj: &Value) -> std::collections::BTreeMap<String, String> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default()
}
