//! Admission: what kube-apiserver's built-in admission plugins do to a
//! create between decoding and storage, one file per plugin:
//! [`limit_ranger`] (LimitRanger), [`service_account`] (ServiceAccount),
//! [`pod_security`] (PodSecurity) and [`resource_quota`] (ResourceQuota).
//!
//! The order is kube-apiserver's: defaulting, then the mutating step
//! ([`mutate`]: LimitRanger's defaults, the ServiceAccount token volume), then the kind's validation, then
//! the validating step ([`validate`]: LimitRanger's bounds, then quota).
//! A refusal is 403 Forbidden, `pods "web" is forbidden: …`.
//!
//! What a plugin needs to know about a kind it asks the kind's `Strategy`
//! (`limit_range_defaults`, `quota_usage`, …); nothing here names a kind.
//! Plugins read LimitRanges, ResourceQuotas and the objects they count
//! straight from the store: it is in-process and current (kube-apiserver
//! reads informer caches and lists live on a miss).
//!
//! Creates (POST, and server-side apply of an absent object) run both
//! steps. Updates of an object itself (PUT and PATCH; subresources such as
//! `status` are not admitted, as in Kubernetes) run the validating step
//! only ([`prepare_update`], then [`UpdateAdmission::check`]): LimitRanger
//! bounds for the kinds whose strategy asks for it (claims; a pod's
//! containers cannot change), and quota on what the update adds (a Service
//! turned NodePort).

pub mod limit_ranger;
pub mod pod_security;
pub mod resource_quota;
pub mod service_account;

use minik_api::catalogue::ResourceInfo;
use minik_api::meta;
use serde_json::Value;

use crate::error::ApiError;
use crate::store::Store;
use crate::AppState;

pub use resource_quota::{NamespaceLocks, Reservation};

use k8s_openapi::api::core::v1::LimitRange;
use resource_quota::UpdateQuotas;

/// The mutating step, run after defaulting and before validation.
pub fn mutate(store: &dyn Store, info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(ns) = namespace_of(info, obj) else {
        return Ok(());
    };
    limit_ranger::mutate(store, info, &ns, obj)?;
    service_account::mutate(store, info, &ns, obj)
}

/// The validating step, run on the validated object. A returned
/// [`Reservation`] must be held until the object is stored (or refused):
/// it keeps the namespace's quota-affected creates in line.
pub async fn validate(
    state: &AppState,
    info: &'static ResourceInfo,
    obj: &Value,
    warnings: &crate::decode::Decoder,
) -> Result<Option<Reservation>, ApiError> {
    let Some(ns) = namespace_of(info, obj) else {
        return Ok(None);
    };
    limit_ranger::validate(&*state.store, info, &ns, obj)?;
    service_account::admit(&*state.store, info, &ns, obj)?;
    pod_security::admit(&*state.store, info, &ns, obj, warnings)?;
    resource_quota::admit(state, info, &ns, obj).await
}

/// The validating step of an update, read before the writer applies it.
pub struct UpdateAdmission {
    ranges: Vec<LimitRange>,
    quotas: Option<UpdateQuotas>,
}

/// Reads what an update of an object of `info` in `namespace` will be
/// checked against. The [`Reservation`], if any, must be held until the
/// update is stored (or refused), as for a create.
pub async fn prepare_update(
    state: &AppState,
    info: &'static ResourceInfo,
    namespace: Option<&str>,
) -> Result<(UpdateAdmission, Option<Reservation>), ApiError> {
    let Some(ns) = namespace.filter(|_| info.namespaced) else {
        let none = UpdateAdmission {
            ranges: Vec::new(),
            quotas: None,
        };
        return Ok((none, None));
    };
    let ranges = if info.strategy.limit_range_checks_updates() {
        limit_ranger::ranges(&*state.store, ns)?
    } else {
        Vec::new()
    };
    let (quotas, reservation) = match resource_quota::prepare_update(state, info, ns).await? {
        Some((quotas, reservation)) => (Some(quotas), Some(reservation)),
        None => (None, None),
    };
    Ok((UpdateAdmission { ranges, quotas }, reservation))
}

impl UpdateAdmission {
    /// Refuses the update from `old` to `new` with 403 Forbidden, as on create.
    pub fn check(&self, info: &ResourceInfo, new: &Value, old: &Value) -> Result<(), ApiError> {
        if !self.ranges.is_empty() {
            let violations = info.strategy.limit_range_violations(new, &self.ranges);
            if !violations.is_empty() {
                return Err(forbidden(info, new, &violations));
            }
        }
        match &self.quotas {
            Some(quotas) => quotas.check(info, new, old),
            None => Ok(()),
        }
    }
}

fn namespace_of(info: &ResourceInfo, obj: &Value) -> Option<String> {
    info.namespaced
        .then(|| meta::namespace(obj).map(str::to_string))
        .flatten()
}

/// Every object stored under `resource`'s prefix in `namespace`, decoded as `T`
/// (objects that do not decode are skipped: validation let none in).
fn list_in<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    resource: &ResourceInfo,
    namespace: &str,
) -> Result<Vec<T>, ApiError> {
    let mut out = Vec::new();
    let prefix = format!("{}{namespace}/", resource.key_prefix());
    store.scan(&prefix, None, &mut |_, bytes| {
        if let Ok(v) = serde_json::from_slice(bytes) {
            out.push(v);
        }
        true
    })?;
    Ok(out)
}

/// `admission.NewForbidden`: `<resource> "<name>" is forbidden: <why>`,
/// several reasons as `[a, b]` (an aggregate error's text).
pub fn forbidden(info: &ResourceInfo, obj: &Value, reasons: &[String]) -> ApiError {
    let name = match meta::name(obj) {
        "" => meta::meta_str(obj, "generateName").unwrap_or("Unknown"),
        n => n,
    };
    let why = if reasons.len() == 1 {
        reasons[0].clone()
    } else {
        format!("[{}]", reasons.join(", "))
    };
    ApiError::forbidden_object(info, name, &why)
}
