//! The StatefulSet controller: pods with stable names, stable network
//! identities and stable storage. Mirrors kube-controller-manager's
//! `pkg/controller/statefulset` step for step: `sync` (claim pods) →
//! `getStatefulSetRevisions` (ControllerRevisions) → `updateStatefulSet`
//! (create, recreate, scale down, roll) → `updateStatefulSetStatus` →
//! `truncateHistory`.
//!
//! What it shares with Kubernetes, in detail:
//! - Identity: pod `<set>-<ordinal>` for ordinals `spec.ordinals.start` …
//!   `start + replicas - 1`, labelled `statefulset.kubernetes.io/pod-name`,
//!   `apps.kubernetes.io/pod-index` and `controller-revision-hash: <revision
//!   name>`; `hostname` is the pod's name and `subdomain` the set's
//!   `serviceName`, so a headless Service of that name gives each pod the
//!   DNS name `<pod>.<service>.<ns>.svc.cluster.local`.
//! - Storage: each `volumeClaimTemplates` entry becomes the PVC
//!   `<template>-<set>-<ordinal>` (labels: the template's and the set's
//!   `selector.matchLabels`), created before the pod and mounted in it as
//!   the volume named after the template. Claims outlive their pods.
//!   `persistentVolumeClaimRetentionPolicy` is carried out through
//!   ownerReferences, which the garbage collector follows: `whenDeleted:
//!   Delete` makes the set the claims' controller, `whenScaled: Delete` makes
//!   a condemned pod the controller of its claims before it is deleted.
//! - Ordering: `OrderedReady` creates one pod at a time in ordinal order,
//!   each Running and Ready (and available for `minReadySeconds`) before
//!   the next, deletes from the highest ordinal down, and stops at an
//!   unhealthy pod; `Parallel` creates and deletes in slow-start batches.
//!   Failed (or Succeeded) pods are deleted and recreated.
//! - Updates: every template is a ControllerRevision `<set>-<hash>`
//!   (`history`); `status.currentRevision`/`updateRevision`, `collisionCount`.
//!   `RollingUpdate` deletes the highest-ordinal pod not at the update
//!   revision, one at a time, each replacement healthy before the next, down
//!   to `partition`; with `maxUnavailable` up to that many at once.
//!   `OnDelete` only makes new pods from the update revision. `kubectl
//!   rollout undo` patches the set back to a revision's template, which
//!   renumbers that revision.
//! - Status: replicas, readyReplicas, currentReplicas, updatedReplicas,
//!   availableReplicas, currentRevision, updateRevision, collisionCount,
//!   observedGeneration (what `kubectl get sts` and `kubectl rollout status`
//!   read).
//! - Events (reporter "statefulset-controller"): `SuccessfulCreate` "create
//!   Pod web-0 in StatefulSet web successful", "create Claim www-web-0 Pod
//!   web-0 in StatefulSet web success", `SuccessfulDelete`, `SuccessfulUpdate`
//!   and their `Failed…` Warnings ("… failed error: …"),
//!   `RecreatingFailedPod`, `RecreatingTerminatedPod`.
//!
//! Shape: a kube-rs `Controller` over StatefulSets that also watches pods
//! (routed to their controlling set, or for an orphan to every set whose
//! selector matches it) and claims (routed to the sets they are named
//! after); ControllerRevisions are read from a cache.
//! Like Kubernetes' it needs no expectations: pods have fixed names, so a
//! creation the cache has not shown yet fails with AlreadyExists and the sync
//! is retried.
//!
//! Where minik simplifies on purpose: orphaned ControllerRevisions are not
//! adopted (`adoptOrphanRevisions`); `maxUnavailable` is honoured as if
//! Kubernetes' `MaxUnavailableStatefulSet` gate were on (it is alpha in
//! 1.33).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    ObjectReference, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod,
    PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_client::errors;
use minik_client::informer::Synced;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::history::{self, REVISION_HASH_LABEL};
use crate::ownership::{claim_pods, controller_ref, key_of, owners_for_pod, selector};
use crate::pod_cache::CachedPod;
use crate::pod_control::slow_start_batch;
use crate::pods::{is_pod_available, is_pod_ready};
use crate::step_gate::gated;
use crate::template_hash::hash_bytes;
use crate::{Context, Error};

/// The pod label with the pod's own name (`apps.StatefulSetPodNameLabel`).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The pod label with the pod's ordinal (`apps.PodIndexLabel`).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Concurrent StatefulSet syncs (`--concurrent-statefulset-syncs`).
const CONCURRENT_SYNCS: u16 = 5;

/// Everything the reconcile reads besides the StatefulSet itself.
struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    revisions: Store<ControllerRevision>,
    claims: Store<PersistentVolumeClaim>,
    synced: Vec<Synced>,
    events: EventRecorder,
    retries: RetryBackoff,
}

/// The set as one of its revisions describes it: the live set with that
/// revision's template (`ApplyRevision`), and the revision's name.
struct Versioned {
    set: StatefulSet,
    revision: String,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared StatefulSet, Pod,
/// ControllerRevision and PersistentVolumeClaim informers (the caller
/// starts them). Kubernetes' `NewStatefulSetController`.
pub fn build(ctx: &Arc<Context>) -> Built {
    let sets = ctx.informers.get::<StatefulSet>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let revisions = ctx.informers.get::<ControllerRevision>();
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    let state = Arc::new(State {
        events: EventRecorder::new(ctx.client.clone(), "statefulset-controller", None),
        ctx: ctx.clone(),
        pods: pods.store(),
        revisions: revisions.store(),
        claims: claims.store(),
        synced: vec![
            pods.synced(),
            revisions.synced(),
            claims.synced(),
            sets.synced(),
        ],
        retries: RetryBackoff::default(),
    });
    let set_store = sets.store();
    let claim_sets = sets.store();
    let controller = drive(
        "statefulset controller",
        Controller::for_shared_stream(sets.applied(), sets.store())
            .with_config(controller::Config::default().concurrency(CONCURRENT_SYNCS))
            .watches_shared_stream(pods.touched(), move |pod| {
                owners_for_pod(&pod, &set_store, |s| {
                    s.spec.as_ref().map(|s| s.selector.clone())
                })
            })
            // A claim going away may unblock a pod waiting on it (`claim_is_stale`).
            .watches_shared_stream(claims.touched(), move |claim| {
                sets_for_claim(&claim, &claim_sets)
            })
            .run(
                gated(ctx, "statefulset controller", sets.store(), reconcile),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

/// The sets in the claim's namespace whose claims are named like it
/// (`<template>-<set>-<ordinal>`).
fn sets_for_claim(
    claim: &PersistentVolumeClaim,
    sets: &Store<StatefulSet>,
) -> Vec<ObjectRef<StatefulSet>> {
    let name = claim.name_any();
    sets.state()
        .iter()
        .filter(|s| s.namespace() == claim.namespace())
        .filter(|s| {
            templates(s)
                .iter()
                .any(|t| name.starts_with(&format!("{}-{}-", t.name_any(), s.name_any())))
        })
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// Failed syncs are retried with client-go's per-object exponential backoff.
fn error_policy(set: Arc<StatefulSet>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*set, error)
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// Kubernetes' `sync` + `UpdateStatefulSet`: claim the pods, find the
/// revisions, bring pods to the spec, write status, trim the history.
async fn reconcile(set: Arc<StatefulSet>, state: Arc<State>) -> Result<Action, Error> {
    for synced in &state.synced {
        synced.wait().await;
    }
    let key = key_of(&set.metadata);
    let Some(spec) = set.spec.as_ref() else {
        return Err(Error::Malformed(format!("StatefulSet {key} has no spec")));
    };
    let sel = match selector(&spec.selector) {
        Ok(s) => s,
        Err(e) => {
            // Not transient: wait for the set to change.
            tracing::warn!(statefulset = %key, error = %e, "invalid selector");
            return Ok(Action::await_change());
        }
    };
    let pods = set_pods(&state, &set, &sel).await?;
    let ns = set.namespace().unwrap_or_default();
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let revisions = history::owned_revisions(&state.revisions, &ns, &uid);
    let (current, update, collision_count) = set_revisions(&state, &set, &revisions).await?;

    let (mut status, result) =
        update_stateful_set(&state, &set, &current, &update, collision_count, &pods).await;
    complete_rolling_update(&set, &mut status);
    update_status(&state, &set, status.clone()).await?;
    result?;
    truncate_history(&state, &set, &pods, &revisions, &current, &update).await?;
    state.retries.forget(&key);

    // Ready pods turn available with no event to say so.
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let replicas = spec.replicas.unwrap_or(1);
    if min_ready > 0 && status.available_replicas.unwrap_or(0) != replicas {
        return Ok(Action::requeue(Duration::from_secs(min_ready as u64)));
    }
    Ok(Action::await_change())
}

/// The pods this set controls: its members (`<set>-<n>`) matching its
/// selector, adopted if orphaned, released if relabelled
/// (`getPodsForStatefulSet`).
async fn set_pods(
    state: &State,
    set: &StatefulSet,
    sel: &minik_api::selectors::LabelSelector,
) -> Result<Vec<Arc<CachedPod>>, Error> {
    let ns = set.namespace().unwrap_or_default();
    let uid = set.metadata.uid.as_deref();
    let candidates: Vec<Arc<CachedPod>> = state
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| {
            is_member_of(set, p)
                || crate::ownership::controller_of(&p.metadata).map(|o| o.uid.as_str()) == uid
        })
        .collect();
    claim_pods(&state.ctx.client, set, sel, candidates).await
}

/// The current and update revisions and the collision count
/// (`getStatefulSetRevisions`): the update revision is the one storing the
/// set's template — the newest already, renumbered if older (a rollback),
/// or created; the current one is `status.currentRevision`, or the update
/// revision when there is none.
async fn set_revisions(
    state: &State,
    set: &StatefulSet,
    revisions: &[Arc<ControllerRevision>],
) -> Result<(ControllerRevision, ControllerRevision, i32), Error> {
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let patch = history::template_patch(&template);
    let next = history::next_revision(revisions);
    let api: Api<ControllerRevision> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    let equal = revisions.iter().rfind(|r| history::stores(r, &patch));
    let update = match equal {
        Some(r) if revisions.last().map(|l| &l.metadata.name) == Some(&r.metadata.name) => {
            (**r).clone()
        }
        Some(r) => history::renumber(&api, r, next).await?,
        None => {
            let data = serde_json::to_vec(&patch)?;
            let mut created = None;
            // Each collision moves the count on (`CreateControllerRevision`);
            // bounded, though a second collision is already unheard of.
            for _ in 0..16 {
                let hash = hash_bytes(&data, Some(collision_count));
                let new = history::new_revision(set, &template, patch.clone(), next, &hash);
                if let Some(c) = history::create(&api, &new).await? {
                    created = Some(c);
                    break;
                }
                collision_count += 1;
            }
            created.ok_or_else(|| {
                Error::Incomplete(format!(
                    "too many hash collisions for StatefulSet {}",
                    set.name_any()
                ))
            })?
        }
    };
    let current_name = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.as_deref())
        .unwrap_or("");
    let current = revisions
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(current_name))
        .map(|r| (**r).clone())
        .unwrap_or_else(|| update.clone());
    Ok((current, update, collision_count))
}

/// Brings the pods to the spec and returns the status they make, with the
/// first error (`updateStatefulSet`). The status is written even when a
/// step failed.
async fn update_stateful_set(
    state: &State,
    set: &StatefulSet,
    current: &ControllerRevision,
    update: &ControllerRevision,
    collision_count: i32,
    pods: &[Arc<CachedPod>],
) -> (StatefulSetStatus, Result<(), Error>) {
    let current_set = Versioned {
        set: apply_revision(set, current),
        revision: current.name_any(),
    };
    let update_set = Versioned {
        set: apply_revision(set, update),
        revision: update.name_any(),
    };
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(current_set.revision.clone()),
        update_revision: Some(update_set.revision.clone()),
        collision_count: Some(collision_count),
        ..Default::default()
    };
    let min_ready = min_ready_seconds(set);

    let start = start_ordinal(set);
    let count = replicas(set) as usize;
    let mut replicas: Vec<Option<Arc<CachedPod>>> = vec![None; count];
    let mut condemned: Vec<Arc<CachedPod>> = Vec::new();
    for pod in pods {
        let Some(ord) = ordinal_of(pod) else {
            continue;
        };
        if in_ordinal_range(set, ord) {
            replicas[(ord - start) as usize] = Some(pod.clone());
        } else {
            condemned.push(pod.clone());
        }
    }
    let replicas: Vec<Arc<CachedPod>> = replicas
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            p.unwrap_or_else(|| {
                Arc::new(CachedPod::of(&new_versioned_pod(
                    &current_set,
                    &update_set,
                    start + i as i32,
                )))
            })
        })
        .collect();
    // Highest ordinal first.
    condemned.sort_by_key(|p| std::cmp::Reverse(ordinal_of(p)));
    let first_unhealthy = replicas
        .iter()
        .chain(condemned.iter().rev())
        .find(|p| !is_healthy(p))
        .map(|p| p.name_any());
    let recount = |status: &mut StatefulSetStatus| {
        update_counts(status, min_ready, current, update, &[&replicas, &condemned])
    };
    recount(&mut status);
    if set.metadata.deletion_timestamp.is_some() {
        return (status, Ok(()));
    }
    let monotonic = !allows_burst(set);

    // Every replica in range: created, recreated, waited for.
    let outcome = run_for_all(replicas.len(), monotonic, |i| {
        process_replica(
            state,
            set,
            &current_set,
            &update_set,
            monotonic,
            &replicas[i],
        )
    })
    .await;
    if let Some(result) = outcome {
        recount(&mut status);
        return (status, result);
    }

    // Claims of condemned pods follow the retention policy before the pods go.
    let updated = &update_set.set;
    let outcome = run_for_all(condemned.len(), monotonic, |i| {
        let pod = condemned[i].clone();
        async move {
            if !claims_match_retention(state, updated, &pod) {
                update_claims_for_retention(state, updated, &pod).await?;
            }
            Ok(false)
        }
    })
    .await;
    if let Some(result) = outcome {
        recount(&mut status);
        return (status, result);
    }

    // Scale down, highest ordinal first (in monotonic mode one at a time,
    // once everything before is healthy).
    let outcome = run_for_all(condemned.len(), monotonic, |i| {
        process_condemned(
            state,
            set,
            first_unhealthy.as_deref(),
            monotonic,
            &condemned[i],
        )
    })
    .await;
    recount(&mut status);
    if let Some(result) = outcome {
        return (status, result);
    }
    if update_strategy(set) == "OnDelete" {
        return (status, Ok(()));
    }
    let result = rolling_update(state, set, &replicas, &update_set.revision, &mut status).await;
    (status, result)
}

/// Runs `step` for each index: in order, stopping at the first that says
/// stop or fails (monotonic), or all in slow-start batches (Parallel).
/// `Some(result)` when the sync must stop here (`runForAll`).
async fn run_for_all<'a, F, Fut>(
    count: usize,
    monotonic: bool,
    step: F,
) -> Option<Result<(), Error>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<bool, Error>> + 'a,
{
    if monotonic {
        for i in 0..count {
            match step(i).await {
                Ok(false) => {}
                Ok(true) => return Some(Ok(())),
                Err(e) => return Some(Err(e)),
            }
        }
        return None;
    }
    let next = AtomicUsize::new(0);
    let (_, result) = slow_start_batch(count, || {
        step(next.fetch_add(1, Ordering::SeqCst)).map(|r| r.map(|_| ()))
    })
    .await;
    result.err().map(Err)
}

/// One replica in range (`processReplica`): recreate it if it failed or
/// finished, create it (and its claims) if missing, create claims a
/// pending pod lacks; in monotonic mode stop unless it is Running, Ready
/// and available; bring its identity, storage and claim ownership in line.
/// `Ok(true)`: stop this round.
async fn process_replica(
    state: &State,
    set: &StatefulSet,
    current_set: &Versioned,
    update_set: &Versioned,
    monotonic: bool,
    pod: &Arc<CachedPod>,
) -> Result<bool, Error> {
    let mut pod = pod.clone();
    let phase = phase(&pod).to_string();
    if matches!(phase.as_str(), "Failed" | "Succeeded") {
        let (reason, kind, what) = if phase == "Failed" {
            ("RecreatingFailedPod", EventType::Warning, "failed")
        } else {
            ("RecreatingTerminatedPod", EventType::Normal, "terminated")
        };
        let note = format!(
            "StatefulSet {} is recreating {what} Pod {}",
            key_of(&set.metadata),
            pod.name_any()
        );
        state
            .events
            .publish(&set_ref(set), kind, reason, note)
            .await;
        delete_stateful_pod(state, set, &pod).await?;
        let ord = ordinal_of(&pod).unwrap_or(0);
        pod = Arc::new(CachedPod::of(&new_versioned_pod(
            current_set,
            update_set,
            ord,
        )));
    }
    if !is_created(&pod) {
        if claim_is_stale(state, set, &pod) {
            // A claim of the pod's previous incarnation still awaits deletion.
            return Ok(true);
        }
        // The replica is the versioned pod for its ordinal (as built
        // above): built again whole, as the cache's form is not.
        let ord = ordinal_of(&pod).unwrap_or(0);
        let new = new_versioned_pod(current_set, update_set, ord);
        create_stateful_pod(state, set, &new).await?;
        return Ok(monotonic);
    }
    if phase == "Pending" {
        create_missing_claims(state, set, &pod).await?;
    }
    let min_ready = min_ready_seconds(set);
    if monotonic
        && (is_terminating(&pod)
            || !is_running_and_ready(&pod)
            || !is_pod_available(&pod, min_ready, Timestamp::now()))
    {
        return Ok(true);
    }
    let retention_ok = claims_match_retention(state, &update_set.set, &pod);
    if identity_matches(set, &pod) && storage_matches(set, &pod) && retention_ok {
        return Ok(false);
    }
    update_stateful_pod(state, &update_set.set, &pod).await?;
    Ok(false)
}

/// One pod beyond the range (`processCondemned`): wait for a terminating
/// one (monotonic), or, unless an earlier pod is unhealthy, delete it.
async fn process_condemned(
    state: &State,
    set: &StatefulSet,
    first_unhealthy: Option<&str>,
    monotonic: bool,
    pod: &Arc<CachedPod>,
) -> Result<bool, Error> {
    if is_terminating(pod) {
        return Ok(monotonic);
    }
    let is_first_unhealthy = first_unhealthy == Some(pod.name_any().as_str());
    let available = is_pod_available(pod, min_ready_seconds(set), Timestamp::now());
    if monotonic && !is_first_unhealthy && (!is_running_and_ready(pod) || !available) {
        return Ok(true);
    }
    delete_stateful_pod(state, set, pod).await?;
    Ok(monotonic)
}

/// RollingUpdate: delete the highest-ordinal pod at or above `partition`
/// that is not at the update revision, waiting for each replacement to be
/// healthy; with `maxUnavailable`, up to that many pods unavailable at once
/// (`updateStatefulSetAfterInvariantEstablished`).
async fn rolling_update(
    state: &State,
    set: &StatefulSet,
    replicas: &[Arc<CachedPod>],
    update_revision: &str,
    status: &mut StatefulSetStatus,
) -> Result<(), Error> {
    let ru = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let partition = ru.and_then(|r| r.partition).unwrap_or(0).max(0) as usize;
    let max_unavailable = ru.and_then(|r| r.max_unavailable.as_ref());
    let Some(max_unavailable) = max_unavailable else {
        for target in (partition..replicas.len()).rev() {
            let pod = &replicas[target];
            if revision_of(pod) != update_revision && !is_terminating(pod) {
                delete_stateful_pod(state, set, pod).await?;
                status.current_replicas = status.current_replicas.map(|n| n - 1);
                return Ok(());
            }
            if !is_healthy(pod) {
                return Ok(());
            }
        }
        return Ok(());
    };
    let allowed = scaled_down(max_unavailable, replicas.len() as i32).max(1) as usize;
    let min_ready = min_ready_seconds(set);
    let now = Timestamp::now();
    let unavailable = replicas
        .iter()
        .filter(|p| !is_healthy(p) || !is_pod_available(p, min_ready, now))
        .count();
    if unavailable >= allowed {
        return Ok(());
    }
    let mut to_delete = allowed - unavailable;
    for target in (partition..replicas.len()).rev() {
        if to_delete == 0 {
            break;
        }
        let pod = &replicas[target];
        if revision_of(pod) != update_revision && !is_terminating(pod) {
            delete_stateful_pod(state, set, pod).await?;
            status.current_replicas = status.current_replicas.map(|n| n - 1);
            to_delete -= 1;
        }
    }
    Ok(())
}

/// Counts replicas, ready, available, current and updated pods over
/// `lists` (`updateStatus` / `computeReplicaStatus`).
fn update_counts(
    status: &mut StatefulSetStatus,
    min_ready: i32,
    current: &ControllerRevision,
    update: &ControllerRevision,
    lists: &[&[Arc<CachedPod>]],
) {
    let now = Timestamp::now();
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for pod in lists.iter().flat_map(|l| l.iter()) {
        if is_created(pod) {
            replicas += 1;
        }
        if is_running_and_ready(pod) {
            ready += 1;
            if is_pod_available(pod, min_ready, now) {
                available += 1;
            }
        }
        if is_created(pod) && !is_terminating(pod) {
            let revision = revision_of(pod);
            if Some(revision) == current.metadata.name.as_deref() {
                cur += 1;
            }
            if Some(revision) == update.metadata.name.as_deref() {
                upd += 1;
            }
        }
    }
    status.replicas = replicas;
    status.ready_replicas = crate::status::omit_zero(ready);
    status.available_replicas = Some(available);
    status.current_replicas = crate::status::omit_zero(cur);
    status.updated_replicas = crate::status::omit_zero(upd);
}

/// Once every pod is updated and Ready, the update revision is the current
/// one (`completeRollingUpdate`).
fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    if update_strategy(set) == "RollingUpdate"
        && status.updated_replicas.unwrap_or(0) == status.replicas
        && status.ready_replicas.unwrap_or(0) == status.replicas
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// Writes `status` if it differs from the stored one, retrying once on a
/// conflict with a fresh read (`updateStatefulSetStatus`).
async fn update_status(
    state: &State,
    set: &StatefulSet,
    status: StatefulSetStatus,
) -> Result<(), Error> {
    let old = set.status.clone().unwrap_or_default();
    if !inconsistent(&old, &status) {
        return Ok(());
    }
    let api: Api<StatefulSet> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    let mut target = set.clone();
    for attempt in 0..2 {
        target.status = Some(status.clone());
        match api
            .replace_status(&set.name_any(), &PostParams::default(), &target)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if attempt == 1 || !errors::is_conflict(&e) => return Err(e.into()),
            Err(_) => target = api.get(&set.name_any()).await?,
        }
    }
    Ok(())
}

/// Whether the computed status says something the stored one does not
/// (`inconsistentStatus`).
fn inconsistent(old: &StatefulSetStatus, new: &StatefulSetStatus) -> bool {
    new.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || new.replicas != old.replicas
        || new.current_replicas != old.current_replicas
        || new.ready_replicas != old.ready_replicas
        || new.updated_replicas != old.updated_replicas
        || new.current_revision != old.current_revision
        || new.available_replicas.unwrap_or(0) != old.available_replicas.unwrap_or(0)
        || new.update_revision != old.update_revision
        || new.collision_count != old.collision_count
}

/// Deletes the oldest revisions beyond `revisionHistoryLimit` that are
/// neither current, nor the update, nor used by a pod (`truncateHistory`).
async fn truncate_history(
    state: &State,
    set: &StatefulSet,
    pods: &[Arc<CachedPod>],
    revisions: &[Arc<ControllerRevision>],
    current: &ControllerRevision,
    update: &ControllerRevision,
) -> Result<(), Error> {
    let mut live: HashSet<String> = pods.iter().map(|p| revision_of(p).to_string()).collect();
    live.insert(current.name_any());
    live.insert(update.name_any());
    let old: Vec<Arc<ControllerRevision>> = revisions
        .iter()
        .filter(|r| !live.contains(&r.name_any()))
        .cloned()
        .collect();
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10)
        .max(0) as usize;
    let Some(excess) = old.len().checked_sub(limit).filter(|n| *n > 0) else {
        return Ok(());
    };
    let api: Api<ControllerRevision> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    history::delete_oldest(&api, &old, excess, |_| false).await
}

// ---------------------------------------------------------------------------
// pods and claims (`StatefulPodControl`)
// ---------------------------------------------------------------------------

/// Creates the pod's claims, then the pod, then sets the claims' owners
/// for the retention policy (`CreateStatefulPod`).
async fn create_stateful_pod(state: &State, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
    if let Err(e) = create_claims(state, set, &CachedPod::of(pod)).await {
        record_pod_event(state, set, "create", &pod.name_any(), Some(&e)).await;
        return Err(e);
    }
    let api: Api<Pod> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    match api.create(&PostParams::default(), pod).await {
        // The cache had not shown it yet: retry once it has.
        Err(e) if errors::is_already_exists(&e) => Err(e.into()),
        Err(e) => {
            let e = Error::Api(e);
            record_pod_event(state, set, "create", &pod.name_any(), Some(&e)).await;
            Err(e)
        }
        Ok(created) => {
            let created = CachedPod::of(&created);
            if let Err(e) = update_claims_for_retention(state, set, &created).await {
                record_pod_event(state, set, "update", &pod.name_any(), Some(&e)).await;
                return Err(e);
            }
            record_pod_event(state, set, "create", &pod.name_any(), None).await;
            Ok(())
        }
    }
}

/// Deletes a pod with its Event (`DeleteStatefulPod`); one already gone
/// counts as deleted.
async fn delete_stateful_pod(
    state: &State,
    set: &StatefulSet,
    pod: &CachedPod,
) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    match api.delete(&pod.name_any(), &DeleteParams::default()).await {
        Ok(_) => {
            record_pod_event(state, set, "delete", &pod.name_any(), None).await;
            Ok(())
        }
        Err(e) if errors::is_not_found(&e) => Ok(()),
        Err(e) => {
            let e = Error::Api(e);
            record_pod_event(state, set, "delete", &pod.name_any(), Some(&e)).await;
            Err(e)
        }
    }
}

/// Puts the pod's identity labels, volumes and claim owners in line with
/// the set (`UpdateStatefulPod`). Only labels may change on a live pod: a
/// volume change is refused by the API server, reported as Kubernetes does.
///
/// Kubernetes PUTs the cached pod back whole; here the change goes as a
/// merge patch of what it sets (with the cached resourceVersion as its
/// precondition, so a pod changed meanwhile is a conflict, as a PUT's
/// would be): the controller-manager's cache keeps only what its
/// controllers read (`pod_cache`), so the cached pod is not the whole pod.
async fn update_stateful_pod(
    state: &State,
    set: &StatefulSet,
    pod: &CachedPod,
) -> Result<(), Error> {
    let mut pod = pod.clone();
    let mut patch = serde_json::Map::new();
    if !identity_matches(set, &pod) {
        update_identity(set, &mut pod.metadata);
        patch.insert(
            "metadata".into(),
            serde_json::json!({"labels": pod.metadata.labels}),
        );
    }
    if !storage_matches(set, &pod) {
        // The cached volumes are the claims' only; the patch is refused
        // either way (a live pod's volumes cannot change), as Kubernetes'
        // PUT of the whole pod is.
        let mut volumes = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .map(|vs| {
                vs.iter()
                    .map(|v| Volume {
                        name: v.name.clone(),
                        persistent_volume_claim: v.persistent_volume_claim.clone(),
                        ..Default::default()
                    })
                    .collect()
            });
        update_storage(set, &pod.metadata, &mut volumes);
        patch.insert("spec".into(), serde_json::json!({"volumes": volumes}));
        if let Err(e) = create_claims(state, set, &pod).await {
            record_pod_event(state, set, "update", &pod.name_any(), Some(&e)).await;
            return Err(e);
        }
    }
    if !claims_match_retention(state, set, &pod) {
        if let Err(e) = update_claims_for_retention(state, set, &pod).await {
            record_pod_event(state, set, "update", &pod.name_any(), Some(&e)).await;
            return Err(e);
        }
        record_pod_event(state, set, "update", &pod.name_any(), None).await;
    }
    if patch.is_empty() {
        return Ok(());
    }
    let meta = patch
        .entry("metadata")
        .or_insert_with(|| serde_json::json!({}));
    meta["resourceVersion"] = serde_json::json!(pod.metadata.resource_version);
    let api: Api<Pod> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    let result = api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::Value::Object(patch)),
        )
        .await
        .map(|_| ())
        .map_err(Error::from);
    record_pod_event(state, set, "update", &pod.name_any(), result.as_ref().err()).await;
    result
}

/// Creates the claims of the pod that are missing (`createPersistentVolumeClaims`).
async fn create_claims(state: &State, set: &StatefulSet, pod: &CachedPod) -> Result<(), Error> {
    let Some(ord) = ordinal_of(pod) else {
        return Ok(());
    };
    let api: Api<PersistentVolumeClaim> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    let mut errs = Vec::new();
    for claim in claims_for(set, ord) {
        match state.claims.get(&ObjectRef::from_obj(&claim)) {
            Some(existing) if existing.metadata.deletion_timestamp.is_some() => {
                errs.push(format!("pvc {} is being deleted", claim.name_any()));
            }
            Some(_) => {}
            None => match api.create(&PostParams::default(), &claim).await {
                Ok(_) => record_claim_event(state, set, pod, &claim.name_any(), None).await,
                // The cache had not shown it yet.
                Err(e) if errors::is_already_exists(&e) => {}
                Err(e) => {
                    let e = Error::Api(e);
                    record_claim_event(state, set, pod, &claim.name_any(), Some(&e)).await;
                    errs.push(format!("failed to create PVC {}: {e}", claim.name_any()));
                }
            },
        }
    }
    match errs.is_empty() {
        true => Ok(()),
        false => Err(Error::Incomplete(errs.join(", "))),
    }
}

/// Creates missing claims of a pending pod, then sets their owners
/// (`createMissingPersistentVolumeClaims`).
async fn create_missing_claims(
    state: &State,
    set: &StatefulSet,
    pod: &CachedPod,
) -> Result<(), Error> {
    create_claims(state, set, pod).await?;
    if let Err(e) = update_claims_for_retention(state, set, pod).await {
        record_pod_event(state, set, "update", &pod.name_any(), Some(&e)).await;
        return Err(e);
    }
    Ok(())
}

/// The claims of ordinal `ord`: each template named
/// `<template>-<set>-<ord>`, labelled with the set's `matchLabels`
/// (`getPersistentVolumeClaims`).
pub fn claims_for(set: &StatefulSet, ord: i32) -> Vec<PersistentVolumeClaim> {
    let spec = set.spec.as_ref();
    let match_labels = spec
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    spec.and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|mut claim| {
            let template = claim.name_any();
            claim.metadata.name = Some(claim_name(&template, &set.name_any(), ord));
            claim.metadata.namespace = set.namespace();
            let labels = claim.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(match_labels.clone());
            // A template's status (kubectl shows `phase: Pending`) is not the claim's.
            claim.status = None;
            claim
        })
        .collect()
}

/// `<template>-<set>-<ordinal>` (`getPersistentVolumeClaimName`).
pub fn claim_name(template: &str, set: &str, ord: i32) -> String {
    format!("{template}-{set}-{ord}")
}

/// Whether a claim of the pod belongs to an earlier pod of its name that a
/// `whenScaled: Delete` policy is deleting; the pod waits for it to go
/// (`PodClaimIsStale`).
fn claim_is_stale(state: &State, set: &StatefulSet, pod: &CachedPod) -> bool {
    if retention(set).1 == "Retain" {
        return false;
    }
    let Some(ord) = ordinal_of(pod) else {
        return false;
    };
    claims_for(set, ord).iter().any(|c| {
        state
            .claims
            .get(&ObjectRef::from_obj(c))
            .is_some_and(|claim| {
                has_stale_ref(
                    &claim.metadata,
                    "v1",
                    "Pod",
                    &pod.name_any(),
                    pod.metadata.uid.as_deref(),
                )
            })
    })
}

/// Whether every existing claim of the pod has the owners the retention
/// policy asks for (`ClaimsMatchRetentionPolicy`).
fn claims_match_retention(state: &State, set: &StatefulSet, pod: &CachedPod) -> bool {
    let Some(ord) = ordinal_of(pod) else {
        return true;
    };
    claims_for(set, ord).iter().all(|c| {
        state
            .claims
            .get(&ObjectRef::from_obj(c))
            .is_none_or(|claim| claim_owner_up_to_date(&claim.metadata, set, pod))
    })
}

/// Rewrites the owners of the pod's claims for the retention policy
/// (`UpdatePodClaimForRetentionPolicy`).
async fn update_claims_for_retention(
    state: &State,
    set: &StatefulSet,
    pod: &CachedPod,
) -> Result<(), Error> {
    let Some(ord) = ordinal_of(pod) else {
        return Ok(());
    };
    let api: Api<PersistentVolumeClaim> = Api::namespaced(
        state.ctx.client.clone(),
        &set.namespace().unwrap_or_default(),
    );
    for c in claims_for(set, ord) {
        let Some(claim) = state.claims.get(&ObjectRef::from_obj(&c)) else {
            continue;
        };
        if has_unexpected_controller(&claim.metadata, set, pod) {
            let note = format!("PersistentVolumeClaim {} has a conflicting OwnerReference that acts as a managing controller, the retention policy is ignored for this claim", c.name_any());
            state
                .events
                .publish(
                    &set_ref(set),
                    EventType::Warning,
                    "ConflictingController",
                    note,
                )
                .await;
        }
        if claim_owner_up_to_date(&claim.metadata, set, pod) {
            continue;
        }
        let mut claim = (*claim).clone();
        claim.metadata.owner_references = Some(retention_owner_refs(&claim.metadata, set, pod));
        if let Err(e) = api
            .replace(&claim.name_any(), &PostParams::default(), &claim)
            .await
        {
            return Err(Error::Incomplete(format!(
                "could not update claim {} for delete policy ownerRefs: {e}",
                claim.name_any()
            )));
        }
    }
    Ok(())
}

/// (whenDeleted, whenScaled), `Retain` where unset.
fn retention(set: &StatefulSet) -> (&str, &str) {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    fn get(v: Option<&String>) -> &str {
        v.map(String::as_str).unwrap_or("Retain")
    }
    (
        get(policy.and_then(|p| p.when_deleted.as_ref())),
        get(policy.and_then(|p| p.when_scaled.as_ref())),
    )
}

/// What owners the policy wants on a claim: (the set, the pod)
/// as controllers. The set while the pod is in range and whenDeleted is
/// Delete; the pod once it is scaled away and whenScaled is Delete.
fn wanted_owners(set: &StatefulSet, pod: &CachedPod) -> (bool, bool) {
    let (when_deleted, when_scaled) = retention(set);
    let scaled_down = !ordinal_of(pod).is_some_and(|o| in_ordinal_range(set, o));
    match (when_scaled, when_deleted) {
        ("Delete", "Delete") => (!scaled_down, scaled_down),
        ("Delete", _) => (false, scaled_down),
        (_, "Delete") => (true, false),
        _ => (false, false),
    }
}

/// `isClaimOwnerUpToDate`: stale or foreign controllers are left alone;
/// otherwise the set and pod references must be what the policy wants.
fn claim_owner_up_to_date(claim: &ObjectMeta, set: &StatefulSet, pod: &CachedPod) -> bool {
    let set_uid = set.metadata.uid.as_deref();
    if has_stale_ref(claim, "apps/v1", "StatefulSet", &set.name_any(), set_uid)
        || has_stale_ref(
            claim,
            "v1",
            "Pod",
            &pod.name_any(),
            pod.metadata.uid.as_deref(),
        )
    {
        return true;
    }
    let has_set = has_ref(claim, set_uid);
    let has_pod = has_ref(claim, pod.metadata.uid.as_deref());
    if has_unexpected_controller(claim, set, pod) {
        return !(has_set || has_pod);
    }
    let non_controller = claim.owner_references.iter().flatten().any(|r| {
        (Some(r.uid.as_str()) == set_uid || Some(r.uid.as_str()) == pod.metadata.uid.as_deref())
            && r.controller != Some(true)
    });
    if non_controller {
        return false;
    }
    (has_set, has_pod) == wanted_owners(set, pod)
}

/// The claim's owners with the set's and the pod's references replaced by
/// what the policy wants (`updateClaimOwnerRefForSetAndPod`).
fn retention_owner_refs(
    claim: &ObjectMeta,
    set: &StatefulSet,
    pod: &CachedPod,
) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut refs: Vec<OwnerReference> = claim
        .owner_references
        .iter()
        .flatten()
        .filter(|r| {
            !matches_ref(r, "apps/v1", "StatefulSet", &set.name_any())
                && !matches_ref(r, "v1", "Pod", &pod.name_any())
        })
        .cloned()
        .collect();
    if unexpected {
        return refs;
    }
    let (want_set, want_pod) = wanted_owners(set, pod);
    if want_set {
        refs.push(controller_ref(set));
    }
    if want_pod && pod.metadata.uid.is_some() {
        refs.push(controller_ref(pod));
    }
    refs
}

/// Another controller manages the claim, or a reference to the set or pod
/// carries an old uid; never under Retain/Retain (`hasUnexpectedController`).
fn has_unexpected_controller(claim: &ObjectMeta, set: &StatefulSet, pod: &CachedPod) -> bool {
    if retention(set) == ("Retain", "Retain") {
        return false;
    }
    claim.owner_references.iter().flatten().any(|r| {
        if matches_ref(r, "apps/v1", "StatefulSet", &set.name_any()) {
            Some(r.uid.as_str()) != set.metadata.uid.as_deref()
        } else if matches_ref(r, "v1", "Pod", &pod.name_any()) {
            Some(r.uid.as_str()) != pod.metadata.uid.as_deref()
        } else {
            r.controller == Some(true)
        }
    })
}

/// A reference to `kind/name` whose uid is not `uid` (`hasStaleOwnerRef`).
fn has_stale_ref(
    meta: &ObjectMeta,
    api_version: &str,
    kind: &str,
    name: &str,
    uid: Option<&str>,
) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| matches_ref(r, api_version, kind, name))
        .is_some_and(|r| Some(r.uid.as_str()) != uid)
}

fn has_ref(meta: &ObjectMeta, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| meta.owner_references.iter().flatten().any(|r| r.uid == uid))
}

fn matches_ref(r: &OwnerReference, api_version: &str, kind: &str, name: &str) -> bool {
    r.api_version == api_version && r.kind == kind && r.name == name
}

async fn record_pod_event(
    state: &State,
    set: &StatefulSet,
    verb: &str,
    pod: &str,
    err: Option<&Error>,
) {
    let (kind, reason, note) = match err {
        None => (
            EventType::Normal,
            format!("Successful{}", title(verb)),
            format!(
                "{verb} Pod {pod} in StatefulSet {} successful",
                set.name_any()
            ),
        ),
        Some(e) => (
            EventType::Warning,
            format!("Failed{}", title(verb)),
            format!(
                "{verb} Pod {pod} in StatefulSet {} failed error: {}",
                set.name_any(),
                error_text(e)
            ),
        ),
    };
    state
        .events
        .publish(&set_ref(set), kind, &reason, note)
        .await;
}

async fn record_claim_event(
    state: &State,
    set: &StatefulSet,
    pod: &CachedPod,
    claim: &str,
    err: Option<&Error>,
) {
    let pod = pod.name_any();
    let (kind, reason, note) = match err {
        None => (
            EventType::Normal,
            "SuccessfulCreate",
            format!(
                "create Claim {claim} Pod {pod} in StatefulSet {} success",
                set.name_any()
            ),
        ),
        Some(e) => (
            EventType::Warning,
            "FailedCreate",
            format!(
                "create Claim {claim} for Pod {pod} in StatefulSet {} failed error: {}",
                set.name_any(),
                error_text(e)
            ),
        ),
    };
    state
        .events
        .publish(&set_ref(set), kind, reason, note)
        .await;
}

/// An API error as Kubernetes prints it (its Status message), else the error.
fn error_text(e: &Error) -> String {
    match e {
        Error::Api(e) => errors::message(e),
        other => other.to_string(),
    }
}

fn title(verb: &str) -> String {
    let mut c = verb.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn set_ref(set: &StatefulSet) -> ObjectReference {
    set.object_ref(&())
}

// ---------------------------------------------------------------------------
// identity
// ---------------------------------------------------------------------------

/// The pod for `ordinal` from the current or the update revision: current
/// below the partition (or, without rollingUpdate, below currentReplicas),
/// update otherwise (`newVersionedStatefulSetPod`).
fn new_versioned_pod(current: &Versioned, update: &Versioned, ordinal: i32) -> Pod {
    let set = &current.set;
    let start = start_ordinal(set);
    let ru = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let current_replicas = set
        .status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .unwrap_or(0);
    let use_current = match ru {
        None => update_strategy(set) == "RollingUpdate" && ordinal < start + current_replicas,
        Some(ru) => ordinal < start + ru.partition.unwrap_or(0),
    };
    let chosen = if use_current { current } else { update };
    new_pod(&chosen.set, ordinal, &chosen.revision)
}

/// The set's pod for `ordinal` at `revision`: the template with identity
/// labels, hostname and subdomain, and a volume per claim template
/// (`newStatefulSetPod` + `initIdentity` + `updateStorage`).
pub fn new_pod(set: &StatefulSet, ordinal: i32, revision: &str) -> Pod {
    let template: PodTemplateSpec = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(set, ordinal)),
            // Kubernetes' `GetPodFromTemplate` leaves the prefix there too.
            generate_name: Some(format!("{}-", set.name_any())),
            namespace: set.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(set)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    update_identity(set, &mut pod.metadata);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = pod.metadata.name.clone();
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    update_storage(set, &pod.metadata, &mut spec.volumes);
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION_HASH_LABEL.into(), revision.into());
    pod
}

/// `<set>-<ordinal>`.
fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// Sets the identity labels (`updateIdentity`).
fn update_identity(set: &StatefulSet, meta: &mut ObjectMeta) {
    let Some(ord) = ordinal_in(meta) else {
        return;
    };
    let name = pod_name(set, ord);
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ord.to_string());
    meta.name = Some(name);
    meta.namespace = set.namespace();
}

/// The pod is `<set>-<ord>` in the set's namespace with its identity
/// labels (`identityMatches`).
fn identity_matches(set: &StatefulSet, pod: &CachedPod) -> bool {
    let Some(ord) = ordinal_of(pod) else {
        return false;
    };
    let labels = pod.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    is_member_of(set, pod)
        && pod.namespace() == set.namespace()
        && label(POD_NAME_LABEL) == Some(pod.name_any().as_str())
        && label(POD_INDEX_LABEL) == Some(ord.to_string().as_str())
}

/// Every claim template is mounted from the pod's own claim (`storageMatches`).
fn storage_matches(set: &StatefulSet, pod: &CachedPod) -> bool {
    let Some(ord) = ordinal_of(pod) else {
        return false;
    };
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    templates(set).iter().all(|t| {
        let name = t.name_any();
        volumes
            .and_then(|v| v.iter().find(|v| v.name == name))
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .is_some_and(|c| c.claim_name == claim_name(&name, &set.name_any(), ord))
    })
}

/// Puts a volume per claim template first, replacing a template volume of
/// the same name (`updateStorage`).
fn update_storage(set: &StatefulSet, meta: &ObjectMeta, pod_volumes: &mut Option<Vec<Volume>>) {
    let Some(ord) = ordinal_in(meta) else {
        return;
    };
    let templates = templates(set);
    let names: HashSet<String> = templates.iter().map(|t| t.name_any()).collect();
    let mut volumes: Vec<Volume> = templates
        .iter()
        .map(|t| Volume {
            name: t.name_any(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&t.name_any(), &set.name_any(), ord),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(
        pod_volumes
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !names.contains(&v.name)),
    );
    *pod_volumes = (!volumes.is_empty()).then_some(volumes);
}

fn templates(set: &StatefulSet) -> Vec<PersistentVolumeClaim> {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default()
}

/// The ordinal in a pod's name `<parent>-<ordinal>` (`getOrdinal`).
fn parent_and_ordinal(meta: &ObjectMeta) -> Option<(&str, i32)> {
    let name = meta.name.as_deref()?;
    let (parent, ord) = name.rsplit_once('-')?;
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

fn ordinal_of(pod: &CachedPod) -> Option<i32> {
    ordinal_in(&pod.metadata)
}

fn ordinal_in(meta: &ObjectMeta) -> Option<i32> {
    parent_and_ordinal(meta).map(|(_, o)| o)
}

/// The pod's name says it is one of the set's (`isMemberOf`).
fn is_member_of(set: &StatefulSet, pod: &CachedPod) -> bool {
    parent_and_ordinal(&pod.metadata).is_some_and(|(p, _)| Some(p) == set.metadata.name.as_deref())
}

fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

fn replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

fn in_ordinal_range(set: &StatefulSet, ord: i32) -> bool {
    let start = start_ordinal(set);
    ord >= start && ord < start + replicas(set)
}

/// The set with the revision's template (`ApplyRevision`).
fn apply_revision(set: &StatefulSet, revision: &ControllerRevision) -> StatefulSet {
    let mut set = set.clone();
    if let (Some(spec), Some(template)) = (set.spec.as_mut(), history::template_of(revision)) {
        spec.template = template;
    }
    set
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn phase(pod: &CachedPod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The API server has the pod (it has a phase) (`isCreated`).
fn is_created(pod: &CachedPod) -> bool {
    !phase(pod).is_empty()
}

fn is_terminating(pod: &CachedPod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn is_running_and_ready(pod: &CachedPod) -> bool {
    phase(pod) == "Running" && is_pod_ready(pod)
}

/// Running, Ready and not terminating (`isHealthy`).
fn is_healthy(pod: &CachedPod) -> bool {
    is_running_and_ready(pod) && !is_terminating(pod)
}

fn revision_of(pod: &CachedPod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_HASH_LABEL))
        .map(String::as_str)
        .unwrap_or("")
}

fn update_strategy(set: &StatefulSet) -> &str {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

/// `Parallel` pod management (`allowsBurst`).
fn allows_burst(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        == Some("Parallel")
}

fn min_ready_seconds(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// An int or a percentage of `total`, rounded down
/// (`GetScaledValueFromIntOrPercent(…, false)`).
fn scaled_down(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            (pct * i64::from(total) / 100) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(extra: serde_json::Value) -> StatefulSet {
        let mut v = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
            "spec": {
                "replicas": 3,
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                      "volumes": [{"name": "www", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"tier": "db"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Pending"}}],
            },
        });
        if let Some(spec) = extra.as_object() {
            for (k, val) in spec {
                v["spec"][k] = val.clone();
            }
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pods_get_identity_storage_and_revision() {
        let s = set(json!({"ordinals": {"start": 5}}));
        let pod = new_pod(&s, 6, "web-abc");
        assert_eq!(pod.name_any(), "web-6");
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels[POD_NAME_LABEL], "web-6");
        assert_eq!(labels[POD_INDEX_LABEL], "6");
        assert_eq!(labels[REVISION_HASH_LABEL], "web-abc");
        assert_eq!(labels["app"], "web");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-6"));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        let volumes = spec.volumes.as_ref().unwrap();
        // The claim replaces the template's volume of the same name, first.
        assert_eq!(volumes.len(), 2);
        assert_eq!(
            volumes[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "www-web-6"
        );
        assert_eq!(volumes[1].name, "cfg");
        // As the cache will hold it once created.
        let cached = CachedPod::of(&pod);
        assert!(identity_matches(&s, &cached) && storage_matches(&s, &cached));
        assert!(in_ordinal_range(&s, 7) && !in_ordinal_range(&s, 8) && !in_ordinal_range(&s, 4));
        assert_eq!(
            crate::ownership::controller_of(&pod.metadata).unwrap().kind,
            "StatefulSet"
        );
    }

    #[test]
    fn claims_carry_the_selector_labels() {
        let claims = claims_for(&set(json!({})), 1);
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].name_any(), "www-web-1");
        let labels = claims[0].metadata.labels.clone().unwrap();
        assert_eq!(labels["app"], "web");
        assert_eq!(labels["tier"], "db");
        assert!(claims[0].status.is_none());
    }

    #[test]
    fn ordinals_come_from_names() {
        let pod = |n: &str| CachedPod {
            metadata: ObjectMeta {
                name: Some(n.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = set(json!({}));
        assert_eq!(ordinal_of(&pod("web-12")), Some(12));
        assert!(is_member_of(&s, &pod("web-0")));
        assert!(!is_member_of(&s, &pod("web-x-0")));
        assert_eq!(ordinal_of(&pod("web-")), None);
        assert_eq!(ordinal_of(&pod("web")), None);
    }

    #[test]
    fn retention_policy_decides_the_claim_owners() {
        let with = |deleted: &str, scaled: &str| {
            set(json!({"persistentVolumeClaimRetentionPolicy":
                {"whenDeleted": deleted, "whenScaled": scaled}}))
        };
        let mut pod = CachedPod::of(&new_pod(&set(json!({})), 1, "r"));
        pod.metadata.uid = Some("pod-uid".into());
        let mut gone = CachedPod::of(&new_pod(&set(json!({})), 4, "r"));
        gone.metadata.uid = Some("gone-uid".into());
        for (deleted, scaled, on, want) in [
            ("Retain", "Retain", &pod, (false, false)),
            ("Delete", "Retain", &pod, (true, false)),
            ("Retain", "Delete", &pod, (false, false)),
            ("Retain", "Delete", &gone, (false, true)),
            ("Delete", "Delete", &pod, (true, false)),
            ("Delete", "Delete", &gone, (false, true)),
        ] {
            assert_eq!(
                wanted_owners(&with(deleted, scaled), on),
                want,
                "{deleted}/{scaled}"
            );
        }

        let s = with("Delete", "Delete");
        let claim = ObjectMeta::default();
        assert!(!claim_owner_up_to_date(&claim, &s, &pod));
        let refs = retention_owner_refs(&claim, &s, &pod);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].kind, "StatefulSet");
        let owned = ObjectMeta {
            owner_references: Some(refs),
            ..Default::default()
        };
        assert!(claim_owner_up_to_date(&owned, &s, &pod));
        // Scaled away: the set's reference gives way to the pod's.
        let refs = retention_owner_refs(&owned, &s, &gone);
        assert_eq!(refs.len(), 1);
        assert_eq!(
            (refs[0].kind.as_str(), refs[0].uid.as_str()),
            ("Pod", "gone-uid")
        );
        // A claim of an earlier pod of the name is stale.
        let stale = ObjectMeta {
            owner_references: Some(refs),
            ..Default::default()
        };
        assert!(has_stale_ref(&stale, "v1", "Pod", "web-4", None));
    }

    #[test]
    fn versioned_pods_follow_the_partition() {
        let s = set(
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
        );
        let current = Versioned {
            set: s.clone(),
            revision: "web-old".into(),
        };
        let update = Versioned {
            set: s.clone(),
            revision: "web-new".into(),
        };
        assert_eq!(
            revision_of(&CachedPod::of(&new_versioned_pod(&current, &update, 1))),
            "web-old"
        );
        assert_eq!(
            revision_of(&CachedPod::of(&new_versioned_pod(&current, &update, 2))),
            "web-new"
        );
        assert_eq!(scaled_down(&IntOrString::String("50%".into()), 3), 1);
    }
}
