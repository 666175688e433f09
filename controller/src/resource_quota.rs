//! The resource quota controller: keeps each ResourceQuota's `status.hard`
//! (its `spec.hard`) and `status.used` (what the namespace's objects cost)
//! true as objects come and go. Kubernetes' `pkg/controller/resourcequota`.
//!
//! The API server enforces quotas at admission by counting its store
//! (`apiserver/src/admission/resource_quota.rs`); this controller only
//! reports, with the same [`minik_api::quota`] functions, so `kubectl
//! describe quota` shows the numbers admission decides by.
//!
//! Pipeline:
//! - a quota is synced when it changes, and again every
//!   `--resource-quota-sync-period` (5 m, Kubernetes' default: the full
//!   recalculation);
//! - a change to any object of a namespace (added, updated — a pod that
//!   finishes stops counting — or deleted) syncs that namespace's quotas
//!   at once (Kubernetes' replenishment). The changes come from the metadata
//!   informers the garbage collector shares, so no watch is added;
//! - a sync lists, from the API server, the namespace's objects of every
//!   kind the quota limits (a list is current, so usage is right after a
//!   delete and after an API server restart, whatever the caches hold), sums
//!   what each object under the quota's scopes costs, and writes the status
//!   if it differs (an update with the quota's resourceVersion; a conflict retries).
//!
//! Level-triggered and idempotent. Where minik simplifies: Events are not
//! counted (`count/events` stays 0; the garbage collector does not watch
//! them either), and usage is not charged by admission (nothing to
//! reconcile after a failed create).

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Amount;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use minik_api::catalogue::ResourceInfo;
use minik_api::quantity::Quantity;
use minik_api::quota::{self, ResourceList};

use crate::context::{drive, stored_kinds, Built, RetryBackoff};
use crate::ownership::key_of;
use crate::step_gate::gated;
use crate::{Context, Error};

struct State {
    ctx: Arc<Context>,
    /// The kinds whose objects a quota can count (one per storage).
    kinds: Vec<(&'static ResourceInfo, ApiResource)>,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared ResourceQuota informer, woken by
/// the metadata informers of every namespaced kind (the caller starts them).
pub fn build(ctx: &Arc<Context>) -> Built {
    let quotas = ctx.informers.get::<ResourceQuota>();
    let kinds: Vec<_> = stored_kinds()
        .into_iter()
        .filter(|(info, _)| info.namespaced && info.kind != "Event")
        .collect();
    // Any change in a namespace wakes that namespace's quotas.
    let quota_store = quotas.store();
    let changes = futures::stream::select_all(
        kinds
            .iter()
            .map(|(_, resource)| ctx.informers.metadata(resource).subscribe().boxed()),
    );
    let wakeups = changes.flat_map(move |change| {
        let namespace = change.touched().and_then(|o| o.metadata.namespace.clone());
        let refs: Vec<ObjectRef<ResourceQuota>> = match namespace {
            Some(ns) => quota_store
                .state()
                .iter()
                .filter(|q| q.metadata.namespace.as_deref() == Some(ns.as_str()))
                .map(|q| ObjectRef::from_obj(&**q))
                .collect(),
            None => Vec::new(),
        };
        futures::stream::iter(refs)
    });
    let state = Arc::new(State {
        ctx: ctx.clone(),
        kinds,
        retries: RetryBackoff::default(),
    });
    let controller = Controller::for_shared_stream(quotas.applied(), quotas.store())
        .reconcile_on(wakeups)
        .run(
            gated(ctx, "resource quota controller", quotas.store(), reconcile),
            error_policy,
            state,
        );
    drive("resource quota controller", controller)
        .map(Ok)
        .boxed()
}

fn error_policy(quota: Arc<ResourceQuota>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*quota, error)
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// Recalculates the quota's usage and writes its status if it changed
/// (Kubernetes' `syncResourceQuota`), then waits for the next full resync.
async fn reconcile(quota: Arc<ResourceQuota>, state: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&quota.metadata);
    let resync = Action::requeue(state.ctx.settings.resource_quota_sync_period);
    if quota.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = quota.namespace().unwrap_or_default();
    let hard = quota::hard(&quota);
    let mut used: ResourceList = hard
        .keys()
        .map(|k| (k.clone(), Quantity::default()))
        .collect();
    let now = jiff::Timestamp::now();
    for (info, resource) in &state.kinds {
        let tracked = quota::matching_resources(info, hard.keys());
        if tracked.is_empty() {
            continue;
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(state.ctx.client.clone(), &namespace, resource);
        for obj in api.list(&ListParams::default()).await?.items {
            let obj = serde_json::to_value(&obj)?;
            if quota::matches(info, &quota, &obj) {
                used = quota::add(
                    &used,
                    &quota::mask(&quota::usage(info, &obj, now), &tracked),
                );
            }
        }
    }
    let status = ResourceQuotaStatus {
        hard: Some(amounts(&hard)),
        used: Some(amounts(&used)),
    };
    if quota.status.as_ref() != Some(&status) {
        let mut updated = (*quota).clone();
        updated.status = Some(status);
        let api: Api<ResourceQuota> = Api::namespaced(state.ctx.client.clone(), &namespace);
        api.replace_status(&quota.name_any(), &PostParams::default(), &updated)
            .await?;
        tracing::debug!(quota = %key, "quota status updated");
    }
    state.retries.forget(&key);
    Ok(resync)
}

/// A resource list as the API writes it (canonical quantity strings).
fn amounts(list: &ResourceList) -> std::collections::BTreeMap<String, Amount> {
    list.iter()
        .map(|(k, v)| (k.clone(), Amount(v.to_string())))
        .collect()
}
