//! The DaemonSet controller: one pod on every eligible node. Mirrors
//! kube-controller-manager's `pkg/controller/daemon` step for step:
//! `syncDaemonSet` → `constructHistory` (the ControllerRevision of the
//! current template) → `manage` (which nodes need a pod, which pods must
//! go) → `rollingUpdate` → `cleanupHistory` → `updateDaemonSetStatus`.
//!
//! What it shares with Kubernetes, in detail:
//! - Which nodes: [`node_should_run`] (`NodeShouldRunDaemonPod`): the
//!   template's `nodeName`, `nodeSelector` and required node affinity must
//!   admit the node, and its NoSchedule/NoExecute taints must be tolerated;
//!   a pod already there stays while the node's NoExecute taints are
//!   tolerated. The pod carries the DaemonSet's automatic tolerations
//!   ([`add_daemon_tolerations`]): not-ready and unreachable (NoExecute, no
//!   time limit), disk/memory/pid pressure and unschedulable (NoSchedule),
//!   network-unavailable for hostNetwork pods.
//! - Placement: pods are created *without* `nodeName`, with a required node
//!   affinity `matchFields: metadata.name In [<node>]` replacing the
//!   template's terms, and the default scheduler binds them (Kubernetes ≥ 1.12).
//! - Creations go out in slow-start batches with expectations, like the
//!   ReplicaSet controller's (`pod_control`). Failed daemon pods are deleted
//!   (Warning `FailedDaemonPod`) and replaced with a per-node backoff of 1 s
//!   doubling to 15 min; extra pods on a node are deleted, oldest kept. A
//!   node's replacement pod is created only once its terminating pod is
//!   gone, so two agents never contend for the node's host ports.
//! - Revisions: every template is snapshotted in a ControllerRevision named
//!   `<ds>-<hash>`, its `data` the patch `{"spec":{"template":{…,"$patch":
//!   "replace"}}}` and its `revision` one more than the highest; returning to
//!   an old template renumbers its revision (`kubectl rollout undo` applies
//!   that patch). Pods carry `controller-revision-hash: <hash>` and
//!   `pod-template-generation`. Old revisions beyond `revisionHistoryLimit`
//!   are deleted unless a pod still uses them.
//! - Updates: `OnDelete` replaces a pod only when it is deleted;
//!   `RollingUpdate` deletes old pods while at most `maxUnavailable` nodes
//!   lack an available pod, or with `maxSurge` starts the new pod first and
//!   deletes the old one once the new one is available.
//! - Status (what `kubectl rollout status ds/x` and `kubectl get ds` read):
//!   desiredNumberScheduled, currentNumberScheduled, numberMisscheduled,
//!   numberReady, numberAvailable, numberUnavailable, updatedNumberScheduled,
//!   observedGeneration.
//! - Events (reporter "daemonset-controller"): `SuccessfulCreate` "Created
//!   pod: …", `SuccessfulDelete` "Deleted pod: …", Warnings `FailedCreate`,
//!   `FailedDelete`, `FailedDaemonPod` "Found failed daemon pod ns/x on node
//!   n, will try to kill it".
//!
//! Shape: a kube-rs `Controller` over DaemonSets with two more watches, each
//! both a cache and a trigger: pods (routed to their controlling DaemonSet,
//! or for an orphan to every DaemonSet whose selector matches it) and nodes
//! (a node added or deleted, or whose labels or taints changed, wakes every
//! DaemonSet). ControllerRevisions are read from a cache. The reconcile is
//! level-triggered and idempotent: it recomputes from nodes and pods alone.
//!
//! Where minik simplifies on purpose:
//! - Pods bound to a node that no longer exists are force-deleted here;
//!   Kubernetes leaves that to its pod garbage collector, which minik lacks.
//! - ControllerRevisions are only ever the DaemonSet's own: orphaned
//!   revisions are not adopted, and a hash collision with another object's
//!   revision bumps `collisionCount` and retries, as in Kubernetes.
//! - `pod-template-generation` is the DaemonSet's `metadata.generation`
//!   (Kubernetes keeps a separate template generation in an annotation);
//!   pods are told apart by `controller-revision-hash` alone.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_client::informer::Synced;
use minik_client::{errors, Change};
use serde_json::Value;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::history::{self, REVISION_HASH_LABEL};
use crate::ownership::{claim_pods, controller_ref, key_of, owners_for_pod, selector};
use crate::pod_cache::CachedPod;
use crate::pod_control::{delete_pod, slow_start_batch, Expectations};
use crate::pods::{is_pod_available, is_pod_ready};
use crate::status::{omit_zero, write_status};
use crate::step_gate::gated;
use crate::template_hash::compute_hash;
use crate::{Context, Error};

/// Most pods created or deleted for one DaemonSet in one sync (`BurstReplicas`).
const BURST_REPLICAS: usize = 250;
/// The pod label with the DaemonSet generation it was made from.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// Backoff for replacing failed daemon pods: 1 s doubling up to 15 min.
const FAILED_POD_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const FAILED_POD_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// Everything the DaemonSet reconcile reads besides the DaemonSet itself.
struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    synced: Vec<Synced>,
    expectations: Arc<Expectations>,
    events: EventRecorder,
    retries: RetryBackoff,
    /// `ds-key/node` → (delay, when it was last raised): Kubernetes'
    /// `failedPodsBackoff`.
    failed_pods: Mutex<HashMap<String, (Duration, Instant)>>,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared DaemonSet, Pod, Node and
/// ControllerRevision informers (the caller starts them).
/// Kubernetes' `NewDaemonSetsController`.
pub fn build(ctx: &Arc<Context>) -> Built {
    let daemon_sets = ctx.informers.get::<DaemonSet>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let nodes = ctx.informers.get::<Node>();
    let revisions = ctx.informers.get::<ControllerRevision>();
    let expectations = Arc::new(Expectations::for_kind("DaemonSet"));
    let state = Arc::new(State {
        events: EventRecorder::new(ctx.client.clone(), "daemonset-controller", None),
        ctx: ctx.clone(),
        pods: pods.store(),
        nodes: nodes.store(),
        revisions: revisions.store(),
        synced: vec![
            pods.synced(),
            nodes.synced(),
            revisions.synced(),
            daemon_sets.synced(),
        ],
        expectations: expectations.clone(),
        retries: RetryBackoff::default(),
        failed_pods: Mutex::default(),
    });
    let pod_changes = pods.subscribe().filter_map({
        let cache = pods.store();
        move |change| {
            expectations.observe(&change, &cache);
            future::ready(change.touched())
        }
    });
    let ds_store = daemon_sets.store();
    let all_ds = daemon_sets.store();
    let controller = drive(
        "daemonset controller",
        Controller::for_shared_stream(daemon_sets.applied(), daemon_sets.store())
            .with_config(
                controller::Config::default().concurrency(ctx.settings.concurrent_daemonset_syncs),
            )
            .watches_shared_stream(pod_changes, move |pod| daemon_sets_for_pod(&pod, &ds_store))
            .watches_shared_stream(node_changes(nodes.subscribe()), move |_node| {
                all_ds
                    .state()
                    .iter()
                    .map(|ds| ObjectRef::from_obj(ds.as_ref()))
                    .collect::<Vec<_>>()
            })
            .run(
                gated(ctx, "daemonset controller", daemon_sets.store(), reconcile),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

/// Node changes that can change where daemon pods belong: a node added or
/// deleted, or its labels, taints or unschedulable flag changed (not its
/// status heartbeats). Kubernetes' `addNode`/`updateNode`/`deleteNode`.
fn node_changes(
    changes: impl Stream<Item = Change<Node>> + Send + 'static,
) -> impl Stream<Item = Arc<Node>> + Send + 'static {
    changes.filter_map(|change| {
        future::ready(match change {
            Change::Added(n) | Change::Deleted(n) => Some(n),
            Change::Updated { old, new } => {
                let placement = |n: &Node| {
                    let spec = n.spec.as_ref();
                    (
                        n.metadata.labels.clone(),
                        spec.and_then(|s| s.taints.clone()),
                        spec.and_then(|s| s.unschedulable),
                    )
                };
                (placement(&old) != placement(&new)).then_some(new)
            }
            Change::Synced => None,
        })
    })
}

/// Which DaemonSets a pod event concerns: its controller if that is a
/// DaemonSet, or, for an orphan, every DaemonSet in its namespace whose
/// selector matches it.
fn daemon_sets_for_pod(
    pod: &CachedPod,
    daemon_sets: &Store<DaemonSet>,
) -> Vec<ObjectRef<DaemonSet>> {
    owners_for_pod(pod, daemon_sets, |ds| {
        ds.spec.as_ref().map(|s| s.selector.clone())
    })
}

/// Failed syncs are retried with client-go's per-object exponential backoff.
fn error_policy(ds: Arc<DaemonSet>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*ds, error)
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// Level-triggered and idempotent: snapshots the template as a revision,
/// creates the pods nodes lack, deletes the pods nodes should not have,
/// rolls old pods over to the new template, and writes status.
/// Kubernetes' `syncDaemonSet`.
async fn reconcile(ds: Arc<DaemonSet>, state: Arc<State>) -> Result<Action, Error> {
    for synced in &state.synced {
        synced.wait().await;
    }
    let key = key_of(&ds.metadata);
    if ds.metadata.deletion_timestamp.is_some() {
        // The garbage collector removes its pods and revisions.
        return Ok(Action::await_change());
    }
    let Some(spec) = ds.spec.as_ref() else {
        return Err(Error::Malformed(format!("DaemonSet {key} has no spec")));
    };
    let sel = match selector(&spec.selector) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(daemonset = %key, error = %e, "invalid selector");
            return Ok(Action::await_change());
        }
    };
    let (current, old) = construct_history(&state, &ds).await?;
    let hash = current
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_HASH_LABEL))
        .cloned()
        .unwrap_or_default();
    let nodes: Vec<Arc<Node>> = state.nodes.state();
    let mut requeue = None;

    let mut result = Ok(());
    if state.expectations.satisfied(&key) {
        result = update_daemon_set(&state, &ds, &sel, &nodes, &hash, &old, &mut requeue).await;
    }
    let pods = daemon_pods(&state, &ds, &sel).await?;
    let now = Timestamp::now();
    let status = calculate_status(&ds, &nodes, &pods, &hash, now);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    if min_ready > 0 && status.number_ready != status.number_available.unwrap_or(0) {
        // Ready pods turn available with no event to say so.
        requeue = earliest(requeue, Duration::from_secs(min_ready as u64));
    }
    update_status(&state, &ds, status).await?;
    result?;
    state.retries.forget(&key);
    if let Some(expiry) = state.expectations.expires_in(&key) {
        requeue = earliest(requeue, expiry);
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// `manage`, then `rollingUpdate` (once the pod cache has seen manage's
/// writes), then `cleanupHistory`. Kubernetes' `updateDaemonSet`.
async fn update_daemon_set(
    state: &State,
    ds: &DaemonSet,
    sel: &minik_api::selectors::LabelSelector,
    nodes: &[Arc<Node>],
    hash: &str,
    old: &[Arc<ControllerRevision>],
    requeue: &mut Option<Duration>,
) -> Result<(), Error> {
    let key = key_of(&ds.metadata);
    let pods = daemon_pods(state, ds, sel).await?;
    let by_node = pods_by_node(&pods);
    let (creates, deletes, force) = manage(state, ds, nodes, &by_node, hash, requeue).await;
    sync_nodes(state, ds, &deletes, &force, &creates, hash).await?;

    if state.expectations.satisfied(&key) && update_strategy(ds) == "RollingUpdate" {
        let pods = daemon_pods(state, ds, sel).await?;
        let (deletes, creates) = rolling_update(ds, nodes, &pods_by_node(&pods), hash);
        sync_nodes(state, ds, &deletes, &[], &creates, hash).await?;
    }
    cleanup_history(state, ds, &pods, old).await
}

/// The pods this DaemonSet controls (adopting and releasing as its selector
/// says), terminal-and-deleting ones left out. `getDaemonPods`.
async fn daemon_pods(
    state: &State,
    ds: &DaemonSet,
    sel: &minik_api::selectors::LabelSelector,
) -> Result<Vec<Arc<CachedPod>>, Error> {
    let ns = ds.namespace().unwrap_or_default();
    let candidates: Vec<Arc<CachedPod>> = state
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| !(is_terminal(p) && p.metadata.deletion_timestamp.is_some()))
        .collect();
    claim_pods(&state.ctx.client, ds, sel, candidates).await
}

/// Which nodes need a pod, and which pods must go: Kubernetes' `manage` and
/// `podsShouldBeOnNode`. Returns (nodes needing a pod, pods to delete, pods
/// to force-delete because their node is gone).
async fn manage(
    state: &State,
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    by_node: &BTreeMap<String, Vec<Arc<CachedPod>>>,
    hash: &str,
    requeue: &mut Option<Duration>,
) -> (Vec<String>, Vec<Arc<CachedPod>>, Vec<Arc<CachedPod>>) {
    let mut creates = Vec::new();
    let mut deletes = Vec::new();
    let allows_surge = max_surge_param(ds).is_some_and(|s| !is_zero(&s));
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let empty = Vec::new();
    for node in nodes {
        let name = node.name_any();
        let (should_run, should_continue) = node_should_run(node, ds);
        let pods = by_node.get(&name).unwrap_or(&empty);
        if should_run && pods.is_empty() {
            creates.push(name);
            continue;
        }
        if should_continue {
            // A node whose pod is still terminating gets its new pod once the
            // old one is gone (no two agents fighting over host ports).
            let mut running = Vec::new();
            for pod in pods {
                if pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                match phase(pod) {
                    "Failed" => {
                        // Replace failed pods, but not faster than the backoff.
                        let backoff_key = format!("{}/{name}", key_of(&ds.metadata));
                        if let Some(wait) = failed_pod_backoff(&state.failed_pods, &backoff_key) {
                            *requeue = earliest(*requeue, wait);
                            continue;
                        }
                        let note = format!(
                            "Found failed daemon pod {}/{} on node {name}, will try to kill it",
                            pod.namespace().unwrap_or_default(),
                            pod.name_any()
                        );
                        state
                            .events
                            .publish(
                                &ds.object_ref(&()),
                                EventType::Warning,
                                "FailedDaemonPod",
                                note,
                            )
                            .await;
                        deletes.push(pod.clone());
                    }
                    "Succeeded" => deletes.push(pod.clone()),
                    _ => running.push(pod.clone()),
                }
            }
            running.sort_by(|a, b| by_creation_and_phase(a, b));
            if allows_surge {
                deletes.extend(surplus_during_surge(running, hash, min_ready));
            } else {
                // One pod per node: keep the oldest.
                deletes.extend(running.into_iter().skip(1));
            }
        } else {
            deletes.extend(
                pods.iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .cloned(),
            );
        }
    }
    // Pods for nodes that do not exist: the unscheduled ones are deleted
    // (Kubernetes' `getUnscheduledPodsWithoutNode`), the bound ones
    // force-deleted (Kubernetes' pod GC, see the module doc).
    let existing: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
    let mut force = Vec::new();
    for (node, pods) in by_node {
        if existing.contains(node) {
            continue;
        }
        for pod in pods {
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some();
            if bound {
                force.push(pod.clone());
            } else if pod.metadata.deletion_timestamp.is_none() {
                deletes.push(pod.clone());
            }
        }
    }
    (creates, deletes, force)
}

/// With maxSurge a node may run two pods: the oldest of the current
/// revision and the oldest of an old one, the old one only while it is
/// Ready and the new one not yet available. Everything else on the node is
/// surplus (`podsShouldBeOnNode`). `running` is sorted oldest first.
fn surplus_during_surge(
    running: Vec<Arc<CachedPod>>,
    hash: &str,
    min_ready: i32,
) -> Vec<Arc<CachedPod>> {
    let mut surplus = Vec::new();
    let (mut oldest_new, mut oldest_old): (Option<Arc<CachedPod>>, Option<Arc<CachedPod>>) =
        (None, None);
    for pod in running {
        let slot = if revision_hash(&pod) == hash {
            &mut oldest_new
        } else {
            &mut oldest_old
        };
        if slot.is_none() {
            *slot = Some(pod);
        } else {
            surplus.push(pod);
        }
    }
    if let (Some(new_pod), Some(old_pod)) = (oldest_new, oldest_old) {
        if !is_pod_ready(&old_pod) || is_pod_available(&new_pod, min_ready, Timestamp::now()) {
            surplus.push(old_pod);
        }
    }
    surplus
}

/// Which old pods the rolling update deletes now and which nodes get a
/// surge pod. Kubernetes' `rollingUpdate`.
fn rolling_update(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    by_node: &BTreeMap<String, Vec<Arc<CachedPod>>>,
    hash: &str,
) -> (Vec<Arc<CachedPod>>, Vec<String>) {
    let now = Timestamp::now();
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let available = |p: &CachedPod| is_pod_available(p, min_ready, now);
    let (max_surge, max_unavailable, by_node) = updated_desired_counts(ds, nodes, by_node);
    let mut deletes = Vec::new();
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace_now = Vec::new();
        let mut candidates = Vec::new();
        for pods in by_node.values() {
            let Some((new_pod, old_pod)) = updated_pods_on_node(pods, hash) else {
                // More than one pod on the node: manage sorts it out.
                unavailable += 1;
                continue;
            };
            match (new_pod, old_pod) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new_pod), None) => {
                    if !available(&new_pod) {
                        unavailable += 1;
                    }
                }
                (None, Some(old_pod)) => {
                    if !available(&old_pod) {
                        // Replacing an unavailable pod costs nothing.
                        replace_now.push(old_pod);
                    } else if unavailable < max_unavailable {
                        candidates.push(old_pod);
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).clamp(0, candidates.len() as i32) as usize;
        deletes.extend(replace_now);
        deletes.extend(candidates.into_iter().take(room));
        return (deletes, Vec::new());
    }
    let mut surge = 0;
    let mut surge_nodes = Vec::new();
    for (node, pods) in &by_node {
        let Some((new_pod, old_pod)) = updated_pods_on_node(pods, hash) else {
            surge += 1;
            continue;
        };
        match (new_pod, old_pod) {
            (_, None) => {}
            (None, Some(old_pod)) => {
                if !available(&old_pod) {
                    surge_nodes.push(node.clone());
                } else if surge < max_surge {
                    surge += 1;
                    surge_nodes.push(node.clone());
                }
            }
            (Some(new_pod), Some(old_pod)) => {
                if available(&new_pod) {
                    deletes.push(old_pod);
                } else {
                    surge += 1;
                }
            }
        }
    }
    (deletes, surge_nodes)
}

/// maxSurge and maxUnavailable scaled to the number of nodes that should run
/// the pod, and the pods by node with an empty entry for every such node.
/// Kubernetes' `updatedDesiredNodeCounts`.
fn updated_desired_counts(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    by_node: &BTreeMap<String, Vec<Arc<CachedPod>>>,
) -> (i32, i32, BTreeMap<String, Vec<Arc<CachedPod>>>) {
    let mut by_node = by_node.clone();
    let mut desired = 0;
    for node in nodes {
        if node_should_run(node, ds).0 {
            desired += 1;
            by_node.entry(node.name_any()).or_default();
        }
    }
    let ru = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let max_unavailable = scaled(
        ru.and_then(|r| r.max_unavailable.as_ref())
            .unwrap_or(&IntOrString::Int(1)),
        desired,
    );
    let max_surge = scaled(
        ru.and_then(|r| r.max_surge.as_ref())
            .unwrap_or(&IntOrString::Int(0)),
        desired,
    );
    let max_unavailable = if desired > 0 && max_unavailable == 0 && max_surge == 0 {
        1
    } else {
        max_unavailable
    };
    (max_surge, max_unavailable, by_node)
}

/// The node's updated and old pod (not counting terminating ones), or `None`
/// if it has more than one of either. `findUpdatedPodsOnNode`.
#[allow(clippy::type_complexity)]
fn updated_pods_on_node(
    pods: &[Arc<CachedPod>],
    hash: &str,
) -> Option<(Option<Arc<CachedPod>>, Option<Arc<CachedPod>>)> {
    let (mut new_pod, mut old_pod) = (None, None);
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if revision_hash(pod) == hash {
            &mut new_pod
        } else {
            &mut old_pod
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod.clone());
    }
    Some((new_pod, old_pod))
}

/// Deletes `deletes` (and force-deletes `force`), then creates a pod for
/// each node of `creates`, in slow-start batches, under expectations.
/// Kubernetes' `syncNodes`.
async fn sync_nodes(
    state: &State,
    ds: &DaemonSet,
    deletes: &[Arc<CachedPod>],
    force: &[Arc<CachedPod>],
    creates: &[String],
    hash: &str,
) -> Result<(), Error> {
    let key = key_of(&ds.metadata);
    let creates = &creates[..creates.len().min(BURST_REPLICAS)];
    let deletes: Vec<(Arc<CachedPod>, bool)> = deletes
        .iter()
        .map(|p| (p.clone(), false))
        .chain(force.iter().map(|p| (p.clone(), true)))
        .take(BURST_REPLICAS)
        .collect();
    if creates.is_empty() && deletes.is_empty() {
        return Ok(());
    }
    state.expectations.set(
        &key,
        creates.len(),
        deletes.iter().map(|(p, _)| key_of(&p.metadata)).collect(),
    );
    let api: Api<Pod> = Api::namespaced(
        state.ctx.client.clone(),
        &ds.namespace().unwrap_or_default(),
    );
    let reference = ds.object_ref(&());

    let results = futures::future::join_all(deletes.iter().map(|(pod, force)| {
        let params = if *force {
            DeleteParams::default().grace_period(0)
        } else {
            DeleteParams::default()
        };
        let (api, reference, key) = (&api, &reference, &key);
        async move {
            delete_pod(
                api,
                pod,
                params,
                (reference, key),
                &state.expectations,
                &state.events,
                None,
            )
            .await
        }
    }))
    .await;
    let delete_result: Result<(), kube::Error> = results.into_iter().collect();

    let next = std::sync::atomic::AtomicUsize::new(0);
    let (created, create_result) = slow_start_batch(creates.len(), || {
        let node = &creates[next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)];
        let pod = new_pod(ds, node, hash);
        let (api, reference) = (&api, &reference);
        async move {
            match api.create(&PostParams::default(), &pod).await {
                Ok(pod) => {
                    let note = format!("Created pod: {}", pod.name_any());
                    state
                        .events
                        .publish(reference, EventType::Normal, "SuccessfulCreate", note)
                        .await;
                    Ok(())
                }
                Err(e) if errors::has_cause(&e, "NamespaceTerminating") => Ok(()),
                Err(e) => {
                    let note = format!("Error creating: {}", errors::message(&e));
                    state
                        .events
                        .publish(reference, EventType::Warning, "FailedCreate", note)
                        .await;
                    Err(e)
                }
            }
        }
    })
    .await;
    // Pods never created will never be observed.
    for _ in created..creates.len() {
        state.expectations.creation_observed(&key);
    }
    delete_result?;
    create_result?;
    Ok(())
}

/// The DaemonSet's status as its nodes and pods say it is.
/// Kubernetes' `updateDaemonSetStatus`.
fn calculate_status(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    pods: &[Arc<CachedPod>],
    hash: &str,
    now: Timestamp,
) -> DaemonSetStatus {
    let by_node = pods_by_node(pods);
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for node in nodes {
        let should_run = node_should_run(node, ds).0;
        let on_node = by_node.get(&node.name_any()).filter(|p| !p.is_empty());
        match (should_run, on_node) {
            (true, None) => desired += 1,
            (true, Some(pods)) => {
                desired += 1;
                current += 1;
                let mut pods = pods.clone();
                pods.sort_by(|a, b| by_creation_and_phase(a, b));
                let pod = &pods[0];
                if is_pod_ready(pod) {
                    ready += 1;
                    if is_pod_available(pod, min_ready, now) {
                        available += 1;
                    }
                }
                if revision_hash(pod) == hash {
                    updated += 1;
                }
            }
            (false, Some(_)) => misscheduled += 1,
            (false, None) => {}
        }
    }
    let mut status = ds.status.clone().unwrap_or_default();
    status.desired_number_scheduled = desired;
    status.current_number_scheduled = current;
    status.number_misscheduled = misscheduled;
    status.number_ready = ready;
    status.number_available = omit_zero(available);
    status.number_unavailable = omit_zero(desired - available);
    status.updated_number_scheduled = omit_zero(updated);
    status
}

/// Writes `status` with `observedGeneration` unless nothing changed.
/// Kubernetes' `storeDaemonSetStatus` (one retry after a fresh read).
async fn update_status(
    state: &State,
    ds: &DaemonSet,
    mut status: DaemonSetStatus,
) -> Result<(), Error> {
    status.observed_generation = ds.metadata.generation;
    if ds.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<DaemonSet> = Api::namespaced(
        state.ctx.client.clone(),
        &ds.namespace().unwrap_or_default(),
    );
    let put = |ds: &mut DaemonSet, s| ds.status = Some(s);
    let refresh = |fresh: &DaemonSet, s: &mut DaemonSetStatus| {
        s.collision_count = fresh.status.as_ref().and_then(|f| f.collision_count);
    };
    Ok(write_status(&api, ds, status, put, refresh).await?)
}

// ---------------------------------------------------------------------------
// revisions
// ---------------------------------------------------------------------------

/// The ControllerRevision of the current template (created or renumbered
/// as needed) and the DaemonSet's other revisions. `constructHistory`.
async fn construct_history(
    state: &State,
    ds: &DaemonSet,
) -> Result<(ControllerRevision, Vec<Arc<ControllerRevision>>), Error> {
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let ns = ds.namespace().unwrap_or_default();
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let patch = history::template_patch(&template);
    let (current, old): (Vec<_>, Vec<_>) = history::owned_revisions(&state.revisions, &ns, &uid)
        .into_iter()
        .partition(|r| history::stores(r, &patch));
    let next = history::next_revision(&old);
    let api: Api<ControllerRevision> = Api::namespaced(state.ctx.client.clone(), &ns);
    let current = match current.into_iter().max_by_key(|r| r.revision) {
        Some(r) if r.revision >= next => (*r).clone(),
        // Back to an older template (`rollout undo`): it is the newest now.
        Some(r) => history::renumber(&api, &r, next).await?,
        None => snapshot(state, ds, &api, &template, patch, next).await?,
    };
    Ok((current, old))
}

/// Creates the ControllerRevision `<ds>-<hash>` for the current template.
/// On a name taken by something else, bumps `status.collisionCount` so the
/// next try hashes differently (`snapshot`).
async fn snapshot(
    state: &State,
    ds: &DaemonSet,
    api: &Api<ControllerRevision>,
    template: &PodTemplateSpec,
    patch: Value,
    revision: i64,
) -> Result<ControllerRevision, Error> {
    let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
    let hash = compute_hash(template, collision_count);
    let new = history::new_revision(ds, template, patch, revision, &hash);
    if let Some(created) = history::create(api, &new).await? {
        return Ok(created);
    }
    let ds_api: Api<DaemonSet> = Api::namespaced(
        state.ctx.client.clone(),
        &ds.namespace().unwrap_or_default(),
    );
    let mut fresh = ds_api.get(&ds.name_any()).await?;
    let status = fresh.status.get_or_insert_with(Default::default);
    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
    ds_api
        .replace_status(&ds.name_any(), &PostParams::default(), &fresh)
        .await?;
    Err(Error::Incomplete(format!(
        "found a hash collision for DaemonSet {:?} - bumping collisionCount",
        ds.name_any()
    )))
}

/// Deletes the oldest revisions beyond `revisionHistoryLimit` that no pod
/// uses any more. `cleanupHistory`.
async fn cleanup_history(
    state: &State,
    ds: &DaemonSet,
    pods: &[Arc<CachedPod>],
    old: &[Arc<ControllerRevision>],
) -> Result<(), Error> {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10)
        .max(0) as usize;
    let Some(excess) = old.len().checked_sub(limit).filter(|n| *n > 0) else {
        return Ok(());
    };
    let live: HashSet<&str> = pods.iter().map(|p| revision_hash(p)).collect();
    let api: Api<ControllerRevision> = Api::namespaced(
        state.ctx.client.clone(),
        &ds.namespace().unwrap_or_default(),
    );
    history::delete_oldest(&api, old, excess, |r| live.contains(history::hash_of(r))).await
}

// ---------------------------------------------------------------------------
// which nodes, which pod
// ---------------------------------------------------------------------------

/// (should run a new pod here, may keep an existing one here):
/// Kubernetes' `NodeShouldRunDaemonPod`. The template's `nodeName`,
/// `nodeSelector` and required node affinity must admit the node; then every
/// NoSchedule and NoExecute taint must be tolerated (with the automatic
/// daemon tolerations) to start a pod, while a running pod stays as long as
/// every NoExecute taint is tolerated.
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> (bool, bool) {
    let name = node.name_any();
    let mut spec = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return (false, false);
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_fits = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let affinity_fits = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_none_or(|required| {
            required
                .node_selector_terms
                .iter()
                .any(|t| term_matches(t, &name, &labels))
        });
    if !selector_fits || !affinity_fits {
        return (false, false);
    }
    add_daemon_tolerations(&mut spec);
    let tolerations = spec.tolerations.unwrap_or_default();
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let untolerated = |effects: &[&str]| {
        taints
            .iter()
            .filter(|t| effects.contains(&t.effect.as_str()))
            .any(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
    };
    if untolerated(&["NoSchedule", "NoExecute"]) {
        return (false, !untolerated(&["NoExecute"]));
    }
    (true, true)
}

/// Adds the tolerations every daemon pod gets (`AddOrUpdateDaemonPodTolerations`),
/// so node conditions and cordoning never keep a node agent away.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in wanted {
        let toleration = Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(effect.into()),
            ..Default::default()
        };
        if !tolerations.contains(&toleration) {
            tolerations.push(toleration);
        }
    }
}

/// `Toleration.ToleratesTaint`.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    let key = toleration.key.as_deref().unwrap_or("");
    if (!effect.is_empty() && effect != taint.effect) || (!key.is_empty() && key != taint.key) {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// One required node selector term against a node (expressions on labels,
/// fields on `metadata.name`); a term with neither matches nothing.
fn term_matches(term: &NodeSelectorTerm, node: &str, labels: &BTreeMap<String, String>) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(node)))
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let listed = |v: &str| values.iter().any(|x| x == v);
    match req.operator.as_str() {
        "In" => value.is_some_and(listed),
        "NotIn" => value.is_none_or(|v| !listed(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op @ ("Gt" | "Lt") => {
            let parse = |v: &str| v.parse::<i64>().ok();
            match (value.and_then(parse), values.first().and_then(|b| parse(b))) {
                (Some(v), Some(bound)) => (op == "Gt" && v > bound) || (op == "Lt" && v < bound),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The daemon pod for `node`: the template with the revision labels, the
/// automatic tolerations and a node affinity naming only that node, so the
/// scheduler binds it there. `CreatePodTemplate` + `ReplaceDaemonSetPodNodeNameNodeAffinity`.
pub fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(REVISION_HASH_LABEL.into(), hash.into());
    if let Some(generation) = ds.metadata.generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), generation.to_string());
    }
    let mut spec = template.spec.unwrap_or_default();
    add_daemon_tolerations(&mut spec);
    let only_this_node = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(only_this_node);
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(ds)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Pods by the node they are on or, unscheduled, the node their affinity
/// names (`util.GetTargetNodeName`); pods with neither are left out.
fn pods_by_node(pods: &[Arc<CachedPod>]) -> BTreeMap<String, Vec<Arc<CachedPod>>> {
    let mut by_node: BTreeMap<String, Vec<Arc<CachedPod>>> = BTreeMap::new();
    for pod in pods {
        if let Some(node) = target_node(pod) {
            by_node.entry(node).or_default().push(pod.clone());
        }
    }
    by_node
}

/// `spec.nodeName`, or the single `metadata.name In [node]` of the pod's
/// required node affinity.
fn target_node(pod: &CachedPod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(node.clone());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

/// Scheduled pods first, then older first, then by name
/// (`podByCreationTimestampAndPhase`).
fn by_creation_and_phase(a: &CachedPod, b: &CachedPod) -> Ordering {
    let scheduled = |p: &CachedPod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some_and(|n| !n.is_empty())
    };
    scheduled(b)
        .cmp(&scheduled(a))
        .then_with(|| {
            let created = |p: &CachedPod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            created(a).cmp(&created(b))
        })
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn revision_hash(pod: &CachedPod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_HASH_LABEL))
        .map(String::as_str)
        .unwrap_or("")
}

fn phase(pod: &CachedPod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_terminal(pod: &CachedPod) -> bool {
    matches!(phase(pod), "Failed" | "Succeeded")
}

fn update_strategy(ds: &DaemonSet) -> &str {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

fn max_surge_param(ds: &DaemonSet) -> Option<IntOrString> {
    if update_strategy(ds) != "RollingUpdate" {
        return None;
    }
    ds.spec
        .as_ref()?
        .update_strategy
        .as_ref()?
        .rolling_update
        .as_ref()?
        .max_surge
        .clone()
}

fn is_zero(v: &IntOrString) -> bool {
    match v {
        IntOrString::Int(n) => *n == 0,
        IntOrString::String(s) => s.trim_end_matches('%').parse::<i32>() == Ok(0),
    }
}

/// An int or a percentage of `total`, rounded up
/// (`intstr.GetScaledValueFromIntOrPercent(…, true)`).
fn scaled(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            ((pct * i64::from(total) + 99) / 100) as i32
        }
    }
}

/// If the node's failed-pod backoff is running, how long it still runs;
/// otherwise raises it (1 s, doubling, at most 15 min) and returns `None`.
/// Kubernetes' `failedPodsBackoff` (`IsInBackOffSinceUpdate`, `Next`).
fn failed_pod_backoff(
    backoffs: &Mutex<HashMap<String, (Duration, Instant)>>,
    key: &str,
) -> Option<Duration> {
    let mut map = backoffs.lock().unwrap();
    let now = Instant::now();
    match map.get_mut(key) {
        Some((delay, since)) if now < *since + *delay => Some(*since + *delay - now),
        Some((delay, since)) => {
            // Forgotten after twice the maximum without failures, as client-go does.
            *delay = if now.duration_since(*since) > 2 * FAILED_POD_BACKOFF_MAX {
                FAILED_POD_BACKOFF_INITIAL
            } else {
                (*delay * 2).min(FAILED_POD_BACKOFF_MAX)
            };
            *since = now;
            None
        }
        None => {
            map.insert(key.to_string(), (FAILED_POD_BACKOFF_INITIAL, now));
            None
        }
    }
}

fn earliest(current: Option<Duration>, candidate: Duration) -> Option<Duration> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::controller_of;
    use serde_json::json;

    fn node(name: &str, labels: Value, taints: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints},
        }))
        .unwrap()
    }

    fn daemon_set(pod_spec: Value) -> DaemonSet {
        let mut spec = json!({"containers": [{"name": "agent", "image": "busybox"}]});
        spec.as_object_mut()
            .unwrap()
            .extend(pod_spec.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 2},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec},
            },
        }))
        .unwrap()
    }

    #[test]
    fn node_selector_and_affinity_choose_nodes() {
        let ds = daemon_set(json!({"nodeSelector": {"disk": "ssd"}}));
        assert_eq!(
            node_should_run(&node("a", json!({"disk": "ssd"}), json!([])), &ds),
            (true, true)
        );
        assert_eq!(
            node_should_run(&node("b", json!({"disk": "hdd"}), json!([])), &ds),
            (false, false)
        );

        let ds = daemon_set(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
            ]}}}}),
        );
        assert!(node_should_run(&node("a", json!({"zone": "z2"}), json!([])), &ds).0);
        assert!(node_should_run(&node("special", json!({}), json!([])), &ds).0);
        assert!(!node_should_run(&node("b", json!({"zone": "z3"}), json!([])), &ds).0);

        let ds = daemon_set(json!({"nodeName": "a"}));
        assert!(node_should_run(&node("a", json!({}), json!([])), &ds).0);
        assert!(!node_should_run(&node("b", json!({}), json!([])), &ds).1);
    }

    #[test]
    fn taints_need_tolerations_but_daemon_defaults_are_given() {
        let plain = daemon_set(json!({}));
        let gpu = json!([{"key": "gpu", "value": "true", "effect": "NoSchedule"}]);
        // NoSchedule untolerated: no new pod, but an existing one may stay.
        assert_eq!(
            node_should_run(&node("a", json!({}), gpu.clone()), &plain),
            (false, true)
        );
        let evict = json!([{"key": "dedicated", "effect": "NoExecute"}]);
        assert_eq!(
            node_should_run(&node("a", json!({}), evict), &plain),
            (false, false)
        );
        let tolerant = daemon_set(json!({"tolerations": [{"key": "gpu", "operator": "Exists"}]}));
        assert_eq!(
            node_should_run(&node("a", json!({}), gpu), &tolerant),
            (true, true)
        );

        // Cordoned, not ready, unreachable, under pressure: daemon pods still run.
        let system = json!([
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/pid-pressure", "effect": "NoSchedule"},
        ]);
        assert_eq!(
            node_should_run(&node("a", json!({}), system), &plain),
            (true, true)
        );
        // network-unavailable only for hostNetwork pods.
        let network =
            json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]);
        assert!(!node_should_run(&node("a", json!({}), network.clone()), &plain).0);
        let host = daemon_set(json!({"hostNetwork": true}));
        assert!(node_should_run(&node("a", json!({}), network), &host).0);
    }

    #[test]
    fn tolerations_match_like_kubernetes() {
        let taint: Taint =
            serde_json::from_value(json!({"key": "k", "value": "v", "effect": "NoSchedule"}))
                .unwrap();
        let t = |v: Value| -> Toleration { serde_json::from_value(v).unwrap() };
        assert!(tolerates(&t(json!({"key": "k", "value": "v"})), &taint));
        assert!(tolerates(
            &t(json!({"key": "k", "operator": "Exists", "effect": "NoSchedule"})),
            &taint
        ));
        assert!(tolerates(&t(json!({"operator": "Exists"})), &taint));
        assert!(!tolerates(&t(json!({"key": "k", "value": "w"})), &taint));
        assert!(!tolerates(
            &t(json!({"key": "k", "operator": "Exists", "effect": "NoExecute"})),
            &taint
        ));
    }

    #[test]
    fn new_pods_name_their_node_by_affinity_and_carry_the_revision() {
        let ds = daemon_set(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}}}}),
        );
        let pod = new_pod(&ds, "node-2", "abc123");
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("agent-"));
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels[REVISION_HASH_LABEL], "abc123");
        assert_eq!(labels[TEMPLATE_GENERATION_LABEL], "2");
        assert_eq!(labels["app"], "agent");
        let spec = pod.spec.as_ref().unwrap();
        assert!(spec.node_name.is_none());
        let required = serde_json::to_value(&spec.affinity).unwrap();
        assert_eq!(
            required["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]})
        );
        assert_eq!(spec.tolerations.as_ref().unwrap().len(), 6);
        assert_eq!(target_node(&CachedPod::of(&pod)).as_deref(), Some("node-2"));
        assert_eq!(controller_of(&pod.metadata).unwrap().kind, "DaemonSet");
    }

    fn pod_on(node: &str, hash: &str, ready: bool) -> Arc<CachedPod> {
        let status = if ready { "True" } else { "False" };
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": format!("agent-{node}-{hash}"), "labels": {REVISION_HASH_LABEL: hash}},
                "spec": {"nodeName": node, "containers": []},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn rolling_update_replaces_at_most_max_unavailable() {
        let ds = daemon_set(json!({}));
        let nodes: Vec<Arc<Node>> = ["a", "b", "c"]
            .iter()
            .map(|n| Arc::new(node(n, json!({}), json!([]))))
            .collect();
        let pods = vec![
            pod_on("a", "old", true),
            pod_on("b", "old", true),
            pod_on("c", "old", true),
        ];
        // maxUnavailable 1 (the default): one old pod goes.
        let (deletes, creates) = rolling_update(&ds, &nodes, &pods_by_node(&pods), "new");
        assert_eq!(deletes.len(), 1);
        assert!(creates.is_empty());
        // One node already has an unready new pod: nothing more goes.
        let pods = vec![
            pod_on("a", "new", false),
            pod_on("b", "old", true),
            pod_on("c", "old", true),
        ];
        let (deletes, _) = rolling_update(&ds, &nodes, &pods_by_node(&pods), "new");
        assert!(deletes.is_empty());
        // An unavailable old pod is replaced regardless.
        let pods = vec![
            pod_on("a", "new", false),
            pod_on("b", "old", false),
            pod_on("c", "old", true),
        ];
        let (deletes, _) = rolling_update(&ds, &nodes, &pods_by_node(&pods), "new");
        assert_eq!(deletes.len(), 1);
        assert_eq!(
            deletes[0].spec.as_ref().unwrap().node_name.as_deref(),
            Some("b")
        );

        // maxSurge 1: a new pod is started beside an old one, which goes once
        // the new one is available.
        let mut surge = daemon_set(json!({}));
        surge.spec.as_mut().unwrap().update_strategy = serde_json::from_value(json!(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}))
        .unwrap();
        let pods = vec![
            pod_on("a", "old", true),
            pod_on("b", "old", true),
            pod_on("c", "old", true),
        ];
        let (deletes, creates) = rolling_update(&surge, &nodes, &pods_by_node(&pods), "new");
        assert!(deletes.is_empty());
        assert_eq!(creates, vec!["a".to_string()]);
        let pods = vec![
            pod_on("a", "old", true),
            pod_on("a", "new", true),
            pod_on("b", "old", true),
            pod_on("c", "old", true),
        ];
        let (deletes, creates) = rolling_update(&surge, &nodes, &pods_by_node(&pods), "new");
        assert_eq!(deletes.len(), 1);
        assert_eq!(revision_hash(&deletes[0]), "old");
        assert_eq!(creates, vec!["b".to_string()]);
    }

    #[test]
    fn failed_pods_are_replaced_with_backoff() {
        let backoffs = Mutex::default();
        // The first failure is acted on at once, the next waits about 1 s.
        assert_eq!(failed_pod_backoff(&backoffs, "default/agent/a"), None);
        let wait = failed_pod_backoff(&backoffs, "default/agent/a").unwrap();
        assert!(wait <= FAILED_POD_BACKOFF_INITIAL && wait > Duration::from_millis(900));
        // Per node.
        assert_eq!(failed_pod_backoff(&backoffs, "default/agent/b"), None);
    }

    #[test]
    fn surge_keeps_an_old_ready_pod_until_its_replacement_is_available() {
        let old = pod_on("a", "old", true);
        let new_unready = pod_on("a", "new", false);
        assert!(surplus_during_surge(vec![old.clone(), new_unready.clone()], "new", 0).is_empty());
        let new_ready = pod_on("a", "new", true);
        let surplus = surplus_during_surge(vec![old.clone(), new_ready], "new", 0);
        assert_eq!(surplus.len(), 1);
        assert_eq!(revision_hash(&surplus[0]), "old");
        let old_unready = pod_on("a", "old", false);
        assert_eq!(
            surplus_during_surge(vec![old_unready, new_unready], "new", 0).len(),
            1
        );
    }

    #[test]
    fn status_counts_nodes_not_pods() {
        let ds = daemon_set(json!({"nodeSelector": {"agent": "yes"}}));
        let nodes: Vec<Arc<Node>> = vec![
            Arc::new(node("a", json!({"agent": "yes"}), json!([]))),
            Arc::new(node("b", json!({"agent": "yes"}), json!([]))),
            Arc::new(node("c", json!({}), json!([]))),
        ];
        let pods = vec![pod_on("a", "new", true), pod_on("c", "old", true)];
        let s = calculate_status(&ds, &nodes, &pods, "new", Timestamp::now());
        assert_eq!(s.desired_number_scheduled, 2);
        assert_eq!(s.current_number_scheduled, 1);
        assert_eq!(s.number_misscheduled, 1);
        assert_eq!(s.number_ready, 1);
        assert_eq!(s.number_available, Some(1));
        assert_eq!(s.number_unavailable, Some(1));
        assert_eq!(s.updated_number_scheduled, Some(1));
    }
}
