//! The ServiceAccount admission plugin, in part: a pod that names a
//! ServiceAccount its namespace does not have is refused with 403
//! `error looking up service account <ns>/<name>: serviceaccount "<name>"
//! not found`, as in Kubernetes. (Defaulting `serviceAccountName` to
//! `default` is the pod strategy's.)
//!
//! Where minik simplifies: a pod that names `default` is admitted even
//! before the ServiceAccount controller has created it (Kubernetes refuses
//! it until then, and controllers retry); no token volume is mounted, as
//! minik issues no ServiceAccount tokens yet.

use minik_api::catalogue::{self, ResourceInfo};
use serde_json::Value;

use crate::error::ApiError;
use crate::store::Store;

/// Refuses a pod whose ServiceAccount does not exist.
pub fn admit(
    store: &dyn Store,
    info: &ResourceInfo,
    namespace: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let Some(spec) = info.strategy.pod_spec(obj) else {
        return Ok(());
    };
    let name = spec.service_account_name.unwrap_or_default();
    if name.is_empty() || name == "default" {
        return Ok(());
    }
    let accounts =
        catalogue::lookup("", "v1", "serviceaccounts").expect("serviceaccounts are served");
    if store.get(&accounts.key(Some(namespace), &name))?.is_some() {
        return Ok(());
    }
    Err(super::forbidden(
        info,
        obj,
        &[format!(
            "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
        )],
    ))
}
