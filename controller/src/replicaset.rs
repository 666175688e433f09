//! The ReplicaSet controller: keeps `spec.replicas` pods alive for every
//! ReplicaSet. Mirrors kube-controller-manager's `pkg/controller/replicaset`
//! step for step: `syncReplicaSet` → `claimPods` (adopt orphans, release
//! pods that stopped matching) → `manageReplicas` (create or delete the
//! difference) → `calculateStatus`.
//!
//! What it shares with Kubernetes, in detail:
//! - Pods are created from `spec.template` with `generateName: <rs>-` (the API
//!   server appends 5 random characters) and an ownerReference
//!   `apps/v1 ReplicaSet, controller: true, blockOwnerDeletion: true`;
//!   creations go out in "slow start" batches of 1, 2, 4, … so a template
//!   that cannot be created fails once, not `replicas` times; at most 500
//!   (`burstReplicas`) pods are created or deleted per sync.
//! - Terminating (`deletionTimestamp` set), Succeeded and Failed pods are not
//!   *active*: they are neither counted nor chosen for deletion.
//! - Which pods go first on scale-down is Kubernetes' `ActivePodsWithRanks`
//!   order, see [`deletion_order`].
//! - Expectations (`crate::expectations`): after creating or deleting pods the
//!   controller does nothing more for that ReplicaSet until its pod cache has
//!   seen those creations and deletions, so a cache that lags behind the API
//!   server never makes it create duplicates (Kubernetes' `ControllerExpectations`,
//!   with the same 5-minute safety timeout).
//! - Status: `replicas`, `fullyLabeledReplicas`, `readyReplicas`,
//!   `availableReplicas` (ready for at least `minReadySeconds`, measured from
//!   the Ready condition's `lastTransitionTime`), `observedGeneration`, and a
//!   `ReplicaFailure` condition while creating/deleting fails.
//! - Events (reporter "replicaset-controller"): `SuccessfulCreate` "Created
//!   pod: web-7d9f5-x2x4q", `SuccessfulDelete` "Deleted pod: …", and Warnings
//!   `FailedCreate` "Error creating: …" / `FailedDelete` "Error deleting: …".
//!   minik adds the cause after Kubernetes' words: "Created pod:
//!   web-7d9f5-x2x4q (ReplicaSet web-7d9f5 wants 3 replicas, has 2)".
//! - Step mode's plan (`plan`): what a sync would create or delete now.
//!
//! Shape: a kube-rs `Controller` over ReplicaSets whose second input is one
//! watch of pods. That watch fills the pod cache the reconcile reads *and*
//! triggers it (the pod's controlling ReplicaSet, or for an orphan every
//! ReplicaSet whose selector matches it), so a reconcile never sees a cache
//! older than the event that woke it. The reconcile is level-triggered and
//! idempotent: it compares the pods that exist with `spec.replicas` and acts
//! on the difference, whatever the event was.
//!
//! Simplified on purpose: the alpha `terminatingReplicas` status field
//! (feature gate off by default in Kubernetes 1.33) is not reported.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;
use std::time::Duration;

use futures::future;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_client::informer::Synced;
use minik_client::{errors, Change};

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::{
    claim_pods, controller_of, controller_ref, key_of, labels_of, owners_for_pod, selector,
};
use crate::pod_cache::CachedPod;
use crate::pod_control::{delete_pod, slow_start_batch, Expectations};
use crate::pods::{is_pod_active, is_pod_available, is_pod_ready, ready_since};
use crate::status::{omit_zero, second_precision, write_status};
use crate::step_gate::{gated_with_plan, Plan};
use crate::{Context, Error};

/// Most pods created or deleted for one ReplicaSet in one sync
/// (kube-controller-manager's `BurstReplicas`).
const BURST_REPLICAS: usize = 500;
/// Annotation that lets users say which pods to delete first.
pub(crate) const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A kind this controller keeps `replicas` pods for: the ReplicaSet, and
/// the ReplicationController, which Kubernetes runs through this same
/// controller by converting it (`pkg/controller/replication`).
pub trait ReplicaOwner:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind (`ReplicaSet`).
    const KIND: &'static str;
    /// The Events' reporter (`replicaset-controller`).
    const REPORTER: &'static str;
    /// The object as a ReplicaSet: what the controller's rules read
    /// (a ReplicaSet itself, borrowed).
    fn as_replica_set(&self) -> Cow<'_, ReplicaSet>;
    /// Stores a ReplicaSet status as this kind's status.
    fn put_status(&mut self, status: ReplicaSetStatus);
}

impl ReplicaOwner for ReplicaSet {
    const KIND: &'static str = "ReplicaSet";
    const REPORTER: &'static str = "replicaset-controller";
    fn as_replica_set(&self) -> Cow<'_, ReplicaSet> {
        Cow::Borrowed(self)
    }
    fn put_status(&mut self, status: ReplicaSetStatus) {
        self.status = Some(status);
    }
}

/// Everything the reconcile reads besides the owner itself.
struct State<K: ReplicaOwner> {
    ctx: Arc<Context>,
    /// Every pod in the cluster, kept by this controller's pod watch.
    pods: Store<CachedPod>,
    /// The Pod informer's first list is in.
    pods_synced: Synced,
    /// Every owner (the controller's own cache).
    replica_sets: Store<K>,
    expectations: Arc<Expectations>,
    events: EventRecorder,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared ReplicaSet and Pod informers (the
/// caller starts them). Kubernetes' `NewReplicaSetController`.
pub fn build(ctx: &Arc<Context>) -> Built {
    build_for::<ReplicaSet>(ctx, "replicaset controller")
}

/// The controller for one [`ReplicaOwner`] kind.
pub fn build_for<K: ReplicaOwner>(ctx: &Arc<Context>, name: &'static str) -> Built {
    let replica_sets = ctx.informers.get::<K>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let expectations = Arc::new(Expectations::for_kind(K::KIND));
    let state = Arc::new(State {
        events: EventRecorder::new(ctx.client.clone(), K::REPORTER, None),
        ctx: ctx.clone(),
        pods: pods.store(),
        pods_synced: pods.synced(),
        replica_sets: replica_sets.store(),
        expectations: expectations.clone(),
        retries: RetryBackoff::default(),
    });
    let rs_store = replica_sets.store();
    let pod_changes = pod_changes(pods.subscribe(), pods.store(), expectations);
    let controller = drive(
        name,
        Controller::for_shared_stream(replica_sets.applied(), replica_sets.store())
            .with_config(
                controller::Config::default().concurrency(ctx.settings.concurrent_replicaset_syncs),
            )
            .watches_shared_stream(pod_changes, move |pod| {
                replica_sets_for_pod(&pod, &rs_store)
            })
            .run(
                gated_with_plan(ctx, name, replica_sets.store(), plan::<K>, reconcile),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

/// Pod changes: each lowers the expectations it satisfies, then (as a
/// touched pod) triggers reconciles. Kubernetes' pod informer event
/// handlers (`addPod`, `updatePod`, `deletePod`). The shared cache already
/// holds the change when it arrives.
fn pod_changes(
    changes: impl Stream<Item = Change<CachedPod>> + Send + 'static,
    cache: Store<CachedPod>,
    expectations: Arc<Expectations>,
) -> impl Stream<Item = Arc<CachedPod>> + Send + 'static {
    changes.filter_map(move |change| {
        expectations.observe(&change, &cache);
        future::ready(change.touched())
    })
}

/// Which ReplicaSets a pod event concerns: its controller if that is a
/// ReplicaSet, or, for an orphan, every ReplicaSet in its namespace whose
/// selector matches it (one of them will adopt it).
fn replica_sets_for_pod<K: ReplicaOwner>(
    pod: &CachedPod,
    replica_sets: &Store<K>,
) -> Vec<ObjectRef<K>> {
    owners_for_pod(pod, replica_sets, |k| {
        k.as_replica_set().spec.as_ref().map(|s| s.selector.clone())
    })
}

/// Failed syncs are retried with client-go's per-object exponential backoff.
fn error_policy<K: ReplicaOwner>(rs: Arc<K>, error: &Error, state: Arc<State<K>>) -> Action {
    state.retries.requeue(&*rs, error)
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// Level-triggered and idempotent: compares the active pods this ReplicaSet
/// controls with `spec.replicas`, creates or deletes the difference (unless
/// earlier creations/deletions are still unobserved), and writes status.
/// Kubernetes' `syncReplicaSet`.
async fn reconcile<K: ReplicaOwner>(owner: Arc<K>, state: Arc<State<K>>) -> Result<Action, Error> {
    // Kubernetes starts its workers only after the informer caches synced.
    state.pods_synced.wait().await;
    let rs = owner.as_replica_set();
    let key = key_of(&rs.metadata);
    let needs_sync = state.expectations.satisfied(&key);
    let Some(spec) = rs.spec.as_ref() else {
        return Err(Error::Malformed(format!("ReplicaSet {key} has no spec")));
    };
    let sel = match selector(&spec.selector) {
        Ok(s) => s,
        Err(e) => {
            // As in Kubernetes: a selector that cannot be parsed is not retried.
            tracing::warn!(replicaset = %key, error = %e, "invalid selector");
            return Ok(Action::await_change());
        }
    };
    let ns = rs.namespace().unwrap_or_default();
    let active: Vec<Arc<CachedPod>> = state
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && is_pod_active(p))
        .collect();
    let claimed = claim_pods(&state.ctx.client, owner.as_ref(), &sel, active).await?;

    let manage_result = if needs_sync && rs.metadata.deletion_timestamp.is_none() {
        manage_replicas(&state, owner.as_ref(), &rs, &claimed).await
    } else {
        Ok(())
    };
    let now = Timestamp::now();
    let status = calculate_status(&rs, &claimed, manage_result.as_ref().err(), now);
    update_status(&state, owner.as_ref(), &rs, status).await?;
    manage_result?;
    state.retries.forget(&key);

    // A ready pod becomes available `minReadySeconds` after it turned ready,
    // with no event to say so: come back then (Kubernetes' `AddAfter`).
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let next_available = claimed
        .iter()
        .filter_map(|p| ready_since(p))
        .map(|since| since + SignedDuration::from_secs(min_ready.into()))
        .filter(|at| *at >= now)
        .min();
    let mut wait = match (min_ready > 0, next_available) {
        (true, Some(at)) => {
            Some(at.duration_since(now).unsigned_abs() + Duration::from_millis(100))
        }
        _ => None,
    };
    // Held back by expectations: the pod events that meet them wake us, but
    // if one was lost (a watch gap) nothing would; come back when they expire.
    if let Some(expiry) = state.expectations.expires_in(&key) {
        wait = Some(wait.map_or(expiry, |w| w.min(expiry)));
    }
    Ok(wait.map_or_else(Action::await_change, Action::requeue))
}

/// Creates or deletes pods until `replicas` are active. Kubernetes' `manageReplicas`.
async fn manage_replicas<K: ReplicaOwner>(
    state: &State<K>,
    owner: &K,
    rs: &ReplicaSet,
    pods: &[Arc<CachedPod>],
) -> Result<(), kube::Error> {
    let key = key_of(&rs.metadata);
    let want = desired_replicas(rs);
    let ns = rs.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(state.ctx.client.clone(), &ns);
    let reference = owner.object_ref(&());

    if pods.len() < want {
        let diff = (want - pods.len()).min(BURST_REPLICAS);
        state.expectations.expect_creations(&key, diff);
        let template = pod_from_template(owner, rs);
        // Each note counts the pods there were before it: "has 0", "has 1", …
        let made = std::sync::atomic::AtomicUsize::new(0);
        let (created, result) = slow_start_batch(diff, || async {
            // The Event's time is the create's: the scheduler may bind the
            // pod before the Event is written.
            let asked = k8s_openapi::jiff::Timestamp::now();
            match api.create(&PostParams::default(), &template).await {
                Ok(pod) => {
                    let before = pods.len() + made.fetch_add(1, AtomicOrdering::Relaxed);
                    let note = format!(
                        "Created pod: {} ({})",
                        pod.name_any(),
                        wants_has::<K>(&rs.name_any(), want, before)
                    );
                    state
                        .events
                        .publish_at(
                            &reference,
                            Some(&pod.object_ref(&())),
                            EventType::Normal,
                            "SuccessfulCreate",
                            "SuccessfulCreate",
                            note,
                            Default::default(),
                            asked,
                        )
                        .await;
                    Ok(())
                }
                // Nothing can be created in a terminating namespace; that is
                // not this ReplicaSet's failure.
                Err(e) if errors::has_cause(&e, "NamespaceTerminating") => Ok(()),
                Err(e) => {
                    let note = format!("Error creating: {}", errors::message(&e));
                    state
                        .events
                        .publish(&reference, EventType::Warning, "FailedCreate", note)
                        .await;
                    Err(e)
                }
            }
        })
        .await;
        // Pods never created will never be observed.
        for _ in created..diff {
            state.expectations.creation_observed(&key);
        }
        return result;
    }

    if pods.len() > want {
        let diff = (pods.len() - want).min(BURST_REPLICAS);
        let related = indirectly_related_pods(state, rs);
        let victims = deletion_order(pods.to_vec(), &related, Timestamp::now());
        let victims = &victims[..diff];
        state
            .expectations
            .expect_deletions(&key, victims.iter().map(|p| key_of(&p.metadata)).collect());
        let results = futures::future::join_all(victims.iter().enumerate().map(|(i, pod)| {
            delete_pod(
                &api,
                pod,
                DeleteParams::default(),
                (&reference, &key),
                &state.expectations,
                &state.events,
                Some(wants_has::<K>(&rs.name_any(), want, pods.len() - i)),
            )
        }))
        .await;
        return results.into_iter().collect();
    }
    Ok(())
}

/// The ReplicaSet's status as its pods say it is. Kubernetes' `calculateStatus`.
fn calculate_status(
    rs: &ReplicaSet,
    pods: &[Arc<CachedPod>],
    manage_error: Option<&kube::Error>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .map(|t| labels_of(t.metadata.as_ref().unwrap_or(&ObjectMeta::default())))
        .unwrap_or_default();
    let template_selector = minik_api::selectors::LabelSelector::from_map(&template_labels);
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let fully_labeled = pods
        .iter()
        .filter(|p| template_selector.matches(&labels_of(&p.metadata)))
        .count();
    let ready = pods.iter().filter(|p| is_pod_ready(p)).count();
    let available = pods
        .iter()
        .filter(|p| is_pod_available(p, min_ready, now))
        .count();

    let mut status = rs.status.clone().unwrap_or_default();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match manage_error {
        Some(e) if !has_failure => {
            let reason = match pods.len().cmp(&desired_replicas(rs)) {
                Ordering::Less => "FailedCreate",
                Ordering::Greater => "FailedDelete",
                Ordering::Equal => "",
            };
            conditions.push(ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(errors::message(e)),
                last_transition_time: Some(second_precision(now)),
            });
        }
        None if has_failure => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    status.replicas = pods.len() as i32;
    status.fully_labeled_replicas = omit_zero(fully_labeled as i32);
    status.ready_replicas = omit_zero(ready as i32);
    status.available_replicas = omit_zero(available as i32);
    status
}

/// Writes `status` (with `observedGeneration`) unless nothing changed; on a
/// failed write re-reads the ReplicaSet and tries once more. Kubernetes'
/// `updateReplicaSetStatus`.
async fn update_status<K: ReplicaOwner>(
    state: &State<K>,
    owner: &K,
    rs: &ReplicaSet,
    mut status: ReplicaSetStatus,
) -> Result<(), Error> {
    let generation = rs.metadata.generation;
    let current = rs.status.clone().unwrap_or_default();
    let unchanged = current.replicas == status.replicas
        && current.fully_labeled_replicas.unwrap_or(0)
            == status.fully_labeled_replicas.unwrap_or(0)
        && current.ready_replicas.unwrap_or(0) == status.ready_replicas.unwrap_or(0)
        && current.available_replicas.unwrap_or(0) == status.available_replicas.unwrap_or(0)
        && current.observed_generation == generation
        && current.conditions.clone().unwrap_or_default()
            == status.conditions.clone().unwrap_or_default();
    if unchanged {
        return Ok(());
    }
    status.observed_generation = generation;
    let api: Api<K> = Api::namespaced(
        state.ctx.client.clone(),
        &rs.namespace().unwrap_or_default(),
    );
    let put = |k: &mut K, s| k.put_status(s);
    let refresh = |fresh: &K, s: &mut ReplicaSetStatus| {
        s.observed_generation = fresh.meta().generation;
    };
    Ok(write_status(&api, owner, status, put, refresh).await?)
}

// ---------------------------------------------------------------------------
// adoption and release
// ---------------------------------------------------------------------------

/// A new pod for this ReplicaSet: the template's labels, annotations,
/// finalizers and spec, `generateName: <rs>-`, and the controller reference.
/// Kubernetes' `GetPodFromTemplate`.
fn pod_from_template<K: ReplicaOwner>(owner: &K, rs: &ReplicaSet) -> Pod {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name_any())),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

// ---------------------------------------------------------------------------
// which pods to delete
// ---------------------------------------------------------------------------

/// Pods controlled by this ReplicaSet or by its siblings (ReplicaSets with
/// the same controller, e.g. the other revisions of one Deployment), used to
/// see which nodes are crowded. Kubernetes' `getIndirectlyRelatedPods`.
fn indirectly_related_pods<K: ReplicaOwner>(
    state: &State<K>,
    rs: &ReplicaSet,
) -> Vec<Arc<CachedPod>> {
    let ns = rs.namespace().unwrap_or_default();
    // The selectors of this owner's siblings (itself, without an owner).
    let siblings: Vec<LabelSelector> = match controller_of(&rs.metadata) {
        None => rs.spec.iter().map(|s| s.selector.clone()).collect(),
        Some(owner) => state
            .replica_sets
            .state()
            .iter()
            .filter(|other| {
                other.meta().namespace.as_deref() == Some(ns.as_str())
                    && controller_of(other.meta()).is_some_and(|o| o.uid == owner.uid)
            })
            .filter_map(|other| {
                other
                    .as_replica_set()
                    .spec
                    .as_ref()
                    .map(|s| s.selector.clone())
            })
            .collect(),
    };
    let pods = state.pods.state();
    let mut seen = HashSet::new();
    let mut related = Vec::new();
    for sibling in siblings {
        let Ok(sel) = selector(&sibling) else {
            continue;
        };
        for pod in &pods {
            if pod.namespace().as_deref() == Some(ns.as_str())
                && sel.matches(&labels_of(&pod.metadata))
                && seen.insert(pod.metadata.uid.clone())
            {
                related.push(pod.clone());
            }
        }
    }
    related
}

/// Orders pods so the ones to delete first come first: Kubernetes'
/// `ActivePodsWithRanks.Less` with its default feature gates
/// (PodDeletionCost, LogarithmicScaleDown):
///
/// 1. not yet scheduled before scheduled;
/// 2. phase Pending before Unknown before Running;
/// 3. not Ready before Ready;
/// 4. lower `controller.kubernetes.io/pod-deletion-cost` first;
/// 5. pods on nodes crowded with more related active pods first;
/// 6. both Ready: ready more recently first (compared by the power-of-two
///    bucket of how long ago, ties broken by UID);
/// 7. more container restarts first;
/// 8. created more recently first (same bucketing as 6).
pub fn deletion_order(
    mut pods: Vec<Arc<CachedPod>>,
    related: &[Arc<CachedPod>],
    now: Timestamp,
) -> Vec<Arc<CachedPod>> {
    let mut on_node: HashMap<String, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_pod_active(p)) {
        *on_node.entry(node_of(p)).or_default() += 1;
    }
    let rank = |p: &CachedPod| on_node.get(&node_of(p)).copied().unwrap_or(0);
    // An insertion sort: Kubernetes' order is not a strict total order in
    // every corner (the log-bucket tie-break), which std's sorts may reject.
    for i in 1..pods.len() {
        let mut j = i;
        while j > 0 && delete_before(&pods[j], &pods[j - 1], &rank, now) {
            pods.swap(j, j - 1);
            j -= 1;
        }
    }
    pods
}

/// `ActivePodsWithRanks.Less(a, b)`: should `a` be deleted before `b`?
fn delete_before(
    a: &CachedPod,
    b: &CachedPod,
    rank: &dyn Fn(&CachedPod) -> usize,
    now: Timestamp,
) -> bool {
    let (na, nb) = (node_of(a), node_of(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    let (pa, pb) = (phase_ordinal(a), phase_ordinal(b));
    if pa != pb {
        return pa < pb;
    }
    let (ra, rb) = (is_pod_ready(a), is_pod_ready(b));
    if ra != rb {
        return !ra;
    }
    let (ca, cb) = (deletion_cost(a), deletion_cost(b));
    if ca != cb {
        return ca < cb;
    }
    let (ka, kb) = (rank(a), rank(b));
    if ka != kb {
        return ka > kb;
    }
    if ra && rb {
        let (ta, tb) = (ready_since(a), ready_since(b));
        if ta != tb {
            return newer_first(ta, tb, a, b, now);
        }
    }
    let (xa, xb) = (max_restarts(a), max_restarts(b));
    if xa != xb {
        return xa > xb;
    }
    let (ta, tb) = (
        a.metadata.creation_timestamp.as_ref(),
        b.metadata.creation_timestamp.as_ref(),
    );
    if ta != tb {
        return newer_first(ta.map(|t| t.0), tb.map(|t| t.0), a, b, now);
    }
    false
}

/// Kubernetes' time comparison under LogarithmicScaleDown: a missing time
/// first; otherwise the smaller log2(age) bucket first, UID breaking ties.
fn newer_first(
    ta: Option<Timestamp>,
    tb: Option<Timestamp>,
    a: &CachedPod,
    b: &CachedPod,
    now: Timestamp,
) -> bool {
    let (Some(ta), Some(tb)) = (ta, tb) else {
        return ta.is_none();
    };
    let bucket = |t: Timestamp| {
        let age = now.as_nanosecond() - t.as_nanosecond();
        if age > 0 {
            (age as f64).log2() as i64
        } else {
            -1
        }
    };
    match bucket(ta).cmp(&bucket(tb)) {
        Ordering::Equal => a.metadata.uid < b.metadata.uid,
        o => o == Ordering::Less,
    }
}

fn node_of(p: &CachedPod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

fn phase_ordinal(p: &CachedPod) -> u8 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn deletion_cost(p: &CachedPod) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The highest restart count among regular containers, then among
/// restartable init ("sidecar") containers, compared in that order.
fn max_restarts(p: &CachedPod) -> (i32, i32) {
    let status = p.status.as_ref();
    let regular = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: HashSet<&str> = p
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| sidecars.contains(c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// The cause a create or delete note gives: "ReplicaSet web-7c9f wants 3
/// replicas, has 2". Kubernetes' own words ("Created pod: web-7c9f-x2k4q")
/// lead the note, so `kubectl get events` reads as on a real cluster and
/// what searches for them still finds them; the cause follows in brackets.
fn wants_has<K: ReplicaOwner>(name: &str, want: usize, has: usize) -> String {
    let replicas = if want == 1 { "replica" } else { "replicas" };
    format!("{} {name} wants {want} {replicas}, has {has}", K::KIND)
}

/// What a sync would do now (step mode's plan): `manage_replicas`'s
/// arithmetic over the same caches, without adoption (an orphan it would
/// adopt is counted as missing).
fn plan<K: ReplicaOwner>(owner: &K, state: &State<K>) -> Plan {
    let rs = owner.as_replica_set();
    let key = key_of(&rs.metadata);
    let want = desired_replicas(&rs);
    let ns = rs.namespace();
    let has = state
        .pods
        .state()
        .iter()
        .filter(|p| p.namespace() == ns && is_pod_active(p))
        .filter(|p| {
            controller_of(&p.metadata).is_some_and(|o| rs.metadata.uid.as_ref() == Some(&o.uid))
        })
        .count();
    let pods = |n: usize| {
        if n == 1 {
            "1 pod".to_string()
        } else {
            format!("{n} pods")
        }
    };
    let head = wants_has::<K>(&key, want, has);
    let does = if rs.metadata.deletion_timestamp.is_some() {
        format!("{head}: being deleted, will only update its status")
    } else if !state.expectations.satisfied(&key) {
        format!("{head}: will wait for its earlier creations or deletions to show, then update its status")
    } else if has < want {
        format!(
            "{head}: will create {}",
            pods((want - has).min(BURST_REPLICAS))
        )
    } else if has > want {
        format!(
            "{head}: will delete {}",
            pods((has - want).min(BURST_REPLICAS))
        )
    } else {
        format!("{head}: nothing to create or delete, will update its status")
    };
    let observed = rs.status.as_ref().and_then(|s| s.observed_generation);
    let why = match (rs.metadata.generation, observed) {
        (Some(g), Some(o)) if g > o => Some(format!(
            "spec changed (generation {g}, status has seen {o})"
        )),
        (Some(g), None) => Some(format!("new {} (generation {g})", K::KIND)),
        _ => None,
    };
    Plan { why, does }
}

/// `spec.replicas` (defaulted to 1).
fn desired_replicas(rs: &ReplicaSet) -> usize {
    rs.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(
        name: &str,
        node: &str,
        phase: &str,
        ready_at: Option<i64>,
        created: i64,
    ) -> Arc<CachedPod> {
        let conditions = ready_at.map(|t| {
            vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(Timestamp::from_second(t).unwrap())),
                ..Default::default()
            }]
        });
        Arc::new(CachedPod::of(&Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                creation_timestamp: Some(Time(Timestamp::from_second(created).unwrap())),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions,
                ..Default::default()
            }),
        }))
    }

    fn names(pods: &[Arc<CachedPod>]) -> Vec<String> {
        pods.iter().map(|p| p.name_any()).collect()
    }

    #[test]
    fn deletion_order_follows_active_pods_ranking() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let pods = vec![
            pod("ready-old", "n1", "Running", Some(1000), 100),
            pod("unscheduled", "", "Pending", None, 900_000),
            pod("pending", "n2", "Pending", None, 900_000),
            pod("running-not-ready", "n3", "Running", None, 900_000),
            pod("ready-new", "n4", "Running", Some(999_990), 999_000),
        ];
        let order = deletion_order(pods.clone(), &pods, now);
        assert_eq!(
            names(&order),
            [
                "unscheduled",
                "pending",
                "running-not-ready",
                "ready-new",
                "ready-old"
            ]
        );
    }

    #[test]
    fn crowded_nodes_and_deletion_cost_go_first() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let a = pod("alone", "n1", "Running", Some(500), 100);
        let b = pod("crowded-1", "n2", "Running", Some(500), 100);
        let c = pod("crowded-2", "n2", "Running", Some(500), 100);
        let order = deletion_order(
            vec![a.clone(), b.clone(), c.clone()],
            &[a.clone(), b, c],
            now,
        );
        assert_eq!(order.last().unwrap().name_any(), "alone");

        let mut cheap = (*pod("cheap", "n1", "Running", Some(500), 100)).clone();
        cheap.metadata.annotations =
            Some([(POD_DELETION_COST.to_string(), "-10".to_string())].into());
        let cheap = Arc::new(cheap);
        let order = deletion_order(vec![a.clone(), cheap.clone()], &[a, cheap], now);
        assert_eq!(order[0].name_any(), "cheap");
    }

    #[test]
    fn availability_waits_min_ready_seconds() {
        let now = Timestamp::from_second(1000).unwrap();
        let p = pod("p", "n", "Running", Some(995), 900);
        assert!(is_pod_available(&p, 0, now));
        assert!(is_pod_available(&p, 4, now));
        assert!(!is_pod_available(&p, 5, now));
        assert!(!is_pod_available(
            &pod("q", "n", "Running", None, 900),
            0,
            now
        ));
    }
}
