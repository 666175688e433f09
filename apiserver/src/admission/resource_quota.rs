//! The ResourceQuota admission plugin
//! (`k8s.io/apiserver/pkg/admission/plugin/resourcequota`): a create that
//! would take a namespace past one of its quotas' `hard` limits is refused
//! with 403 `exceeded quota: q, requested: pods=1, used: pods=2, limited:
//! pods=2`, and a pod that leaves out a quoted compute resource with
//! `failed quota: q: must specify limits.cpu for: web`. An update is
//! charged what it adds ([`UpdateQuotas`]).
//!
//! ## Why it cannot be raced
//!
//! kube-apiserver checks a create against the quota's `status.used` and
//! writes the new usage to the quota (optimistic concurrency: a conflict
//! re-reads and re-checks) *before* the object is stored; the quota
//! controller later corrects what a failed create over-charged.
//!
//! minik counts instead of charging. Its store is in-process and every
//! write goes through one writer, so the usage a create needs — the sum of
//! what the namespace's objects of that kind cost — can be read exactly
//! from the store. What remains is the window between that read and the
//! object being stored: two creates could both see `pods=1` under
//! `pods: 2`. So the creates a quota limits are serialized per namespace:
//! [`admit`] takes the namespace's lock *before* it counts and hands it
//! back as a [`Reservation`] that the create handler holds until the
//! writer has stored (or refused) the object (an update that a quota limits
//! takes the same lock). The next create in that
//! namespace counts after the previous one is in the store. Creates no
//! quota limits (and every other namespace) take no lock, so group commit
//! still batches them.
//!
//! Nothing is charged, so nothing needs reconciling: a refused or failed
//! create leaves no trace, a deletion frees its share at once, and a
//! restarted API server counts what its store holds. `status.used` is the
//! quota controller's report (`controller/src/resource_quota.rs`), computed
//! with the same [`minik_api::quota`] functions.
//!
//! The cost: a create a quota limits scans the namespace's objects of its
//! kind (as the quota controller does on each sync). Quotas are checked
//! against `spec.hard`, so a quota whose status the controller has not yet
//! filled in is enforced at once (kube-apiserver refuses with "status
//! unknown for quota" until then).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ResourceQuota;
use minik_api::catalogue::{self, ResourceInfo};
use minik_api::quantity::Quantity;
use minik_api::quota::{self, ResourceList};
use serde_json::Value;

use crate::error::ApiError;
use crate::AppState;

/// One lock per namespace for the creates a quota limits.
#[derive(Default)]
pub struct NamespaceLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held from the quota check until the object is stored: no other create
/// limited by a quota in this namespace counts meanwhile.
pub struct Reservation {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl NamespaceLocks {
    async fn lock(&self, namespace: &str) -> Reservation {
        let lock = {
            let mut locks = self.locks.lock().unwrap();
            // Forget the locks nobody holds once there are many namespaces.
            if locks.len() > 1024 {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry(namespace.to_string()).or_default().clone()
        };
        Reservation {
            _guard: lock.lock_owned().await,
        }
    }
}

/// One quota that limits the object being created.
struct Pertinent {
    quota: ResourceQuota,
    hard: ResourceList,
    /// The names of `hard` the object's kind consumes.
    tracked: BTreeSet<String>,
}

/// `CheckRequest` for a create of `obj` (of `info`) in `namespace`.
pub async fn admit(
    state: &AppState,
    info: &'static ResourceInfo,
    namespace: &str,
    obj: &Value,
) -> Result<Option<Reservation>, ApiError> {
    let pertinent: Vec<Pertinent> = quotas_tracking(state, info, namespace)?
        .into_iter()
        .filter(|p| quota::matches(info, &p.quota, obj))
        .collect();
    if pertinent.is_empty() {
        return Ok(None);
    }
    for p in &pertinent {
        if let Err(why) = info.strategy.quota_constraints(obj, &p.tracked) {
            return Err(super::forbidden(
                info,
                obj,
                &[format!("failed quota: {}: {why}", quota_name(&p.quota))],
            ));
        }
    }
    let now = Timestamp::now();
    let delta = quota::usage(info, obj, now);
    let reservation = state.quota_locks.lock(namespace).await;
    let used = count_usage(state, info, namespace, &pertinent, now)?;
    for (p, used) in pertinent.iter().zip(&used) {
        check(info, obj, p, used, &delta)?;
    }
    Ok(Some(reservation))
}

/// The quotas of a namespace, with their usage, that an update of one of
/// its objects is checked against. Counted before the writer applies the
/// update (under the namespace's lock, which the handler holds until the
/// update is stored), checked by [`UpdateQuotas::check`] once the writer
/// knows the stored object the update replaces.
pub struct UpdateQuotas {
    quotas: Vec<(Pertinent, ResourceList)>,
    now: Timestamp,
}

/// Prepares the quota check of an update in `namespace`: `None` when no
/// quota there limits the kind (no lock is taken then).
pub async fn prepare_update(
    state: &AppState,
    info: &'static ResourceInfo,
    namespace: &str,
) -> Result<Option<(UpdateQuotas, Reservation)>, ApiError> {
    let pertinent = quotas_tracking(state, info, namespace)?;
    if pertinent.is_empty() {
        return Ok(None);
    }
    let now = Timestamp::now();
    let reservation = state.quota_locks.lock(namespace).await;
    let used = count_usage(state, info, namespace, &pertinent, now)?;
    let quotas = pertinent.into_iter().zip(used).collect();
    Ok(Some((UpdateQuotas { quotas, now }, reservation)))
}

impl UpdateQuotas {
    /// `CheckRequest` for an update from `old` to `new`: only what the
    /// update adds is charged (`SubtractWithNonNegativeResult`), so an
    /// update that costs nothing more — a label change, a pod finishing —
    /// passes even in a namespace over its quota; a Service turned
    /// NodePort or a claim that grows is refused past `hard`.
    pub fn check(&self, info: &ResourceInfo, new: &Value, old: &Value) -> Result<(), ApiError> {
        for (p, used) in &self.quotas {
            if !quota::matches(info, &p.quota, new) {
                continue;
            }
            let before = if quota::matches(info, &p.quota, old) {
                quota::usage(info, old, self.now)
            } else {
                ResourceList::default()
            };
            let delta = quota::increase(&quota::usage(info, new, self.now), &before);
            check(info, new, p, used, &delta)?;
        }
        Ok(())
    }
}

/// The namespace's quotas whose `hard` names something `info` consumes.
fn quotas_tracking(
    state: &AppState,
    info: &ResourceInfo,
    namespace: &str,
) -> Result<Vec<Pertinent>, ApiError> {
    let quotas_info = catalogue::lookup("", "v1", "resourcequotas").expect("quotas are served");
    Ok(
        super::list_in::<ResourceQuota>(&*state.store, quotas_info, namespace)?
            .into_iter()
            .filter_map(|q| {
                let hard = quota::hard(&q);
                let tracked = quota::matching_resources(info, hard.keys());
                (!tracked.is_empty()).then_some(Pertinent {
                    quota: q,
                    hard,
                    tracked,
                })
            })
            .collect(),
    )
}

/// Refuses `obj` if `used` plus what it adds (`delta`) passes the quota's `hard`.
fn check(
    info: &ResourceInfo,
    obj: &Value,
    p: &Pertinent,
    used: &ResourceList,
    delta: &ResourceList,
) -> Result<(), ApiError> {
    let requested = quota::remove_zeros(quota::mask(delta, &p.tracked));
    let exceeded: BTreeSet<String> = requested
        .iter()
        .filter(|(name, amount)| {
            let total = used.get(*name).copied().unwrap_or_default() + **amount;
            p.hard.get(*name).is_some_and(|hard| total > *hard)
        })
        .map(|(name, _)| name.clone())
        .collect();
    if exceeded.is_empty() {
        return Ok(());
    }
    Err(super::forbidden(
        info,
        obj,
        &[format!(
            "exceeded quota: {}, requested: {}, used: {}, limited: {}",
            quota_name(&p.quota),
            quota::pretty_print(&quota::mask(&requested, &exceeded)),
            quota::pretty_print(&quota::mask(used, &exceeded)),
            quota::pretty_print(&quota::mask(&p.hard, &exceeded)),
        )],
    ))
}

/// What the namespace's stored objects of `info` cost each pertinent quota
/// (every tracked name present, zero if nothing uses it).
fn count_usage(
    state: &AppState,
    info: &ResourceInfo,
    namespace: &str,
    pertinent: &[Pertinent],
    now: Timestamp,
) -> Result<Vec<ResourceList>, ApiError> {
    let mut used: Vec<ResourceList> = pertinent
        .iter()
        .map(|p| {
            p.tracked
                .iter()
                .map(|n| (n.clone(), Quantity::default()))
                .collect()
        })
        .collect();
    for existing in super::list_in::<Value>(&*state.store, info, namespace)? {
        let cost = quota::usage(info, &existing, now);
        for (p, used) in pertinent.iter().zip(used.iter_mut()) {
            if quota::matches(info, &p.quota, &existing) {
                *used = quota::add(used, &quota::mask(&cost, &p.tracked));
            }
        }
    }
    Ok(used)
}

fn quota_name(q: &ResourceQuota) -> &str {
    q.metadata.name.as_deref().unwrap_or("")
}
