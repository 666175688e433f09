//! The LimitRanger admission plugin (`plugin/pkg/admission/limitranger`):
//! the namespace's LimitRanges default a pod's container requests and
//! limits, then hold pods and claims to their min, max and
//! maxLimitRequestRatio. The rules themselves are the kinds' (the pod and
//! PVC strategies call `kinds::core::limit_range`); this file finds the
//! ranges and turns a violation into 403 Forbidden.

use k8s_openapi::api::core::v1::LimitRange;
use minik_api::catalogue::{self, ResourceInfo};
use serde_json::Value;

use crate::error::ApiError;
use crate::store::Store;

/// The namespace's LimitRanges, in name order (the store's key order).
pub fn ranges(store: &dyn Store, namespace: &str) -> Result<Vec<LimitRange>, ApiError> {
    let info = catalogue::lookup("", "v1", "limitranges").expect("limitranges are served");
    super::list_in(store, info, namespace)
}

/// `Admit`: the ranges' defaults, applied by the kind.
pub fn mutate(
    store: &dyn Store,
    info: &ResourceInfo,
    namespace: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let ranges = ranges(store, namespace)?;
    if !ranges.is_empty() {
        info.strategy.limit_range_defaults(obj, &ranges);
    }
    Ok(())
}

/// `Validate`: the first range the object breaks refuses it, with every
/// bound of that range it breaks.
pub fn validate(
    store: &dyn Store,
    info: &ResourceInfo,
    namespace: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let ranges = ranges(store, namespace)?;
    if ranges.is_empty() {
        return Ok(());
    }
    let violations = info.strategy.limit_range_violations(obj, &ranges);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(super::forbidden(info, obj, &violations))
    }
}
