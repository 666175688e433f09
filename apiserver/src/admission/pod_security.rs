//! The PodSecurity admission plugin: a pod created in a namespace labelled
//! `pod-security.kubernetes.io/enforce: <level>` that breaks that Pod
//! Security Standard is refused with 403 `violates PodSecurity
//! "restricted:latest": …`; one that breaks the `warn` level is created
//! with a `Warning: would violate PodSecurity …` header. The standards
//! themselves are `minik_api::pod_security`. Where minik simplifies: pods
//! are checked on create only (their spec barely changes after), workload
//! templates get no warnings, and `audit` has no audit log to write to.

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
    let judged = |(level, version): &(Level, String)| {
        let failures = pod_security::evaluate(*level, &spec);
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
