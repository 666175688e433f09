//! The node lifecycle controller: notices nodes whose kubelet stopped
//! reporting, taints them, and evicts their pods so that the pods'
//! controllers recreate them on healthy nodes.
//!
//! Mirrors two parts of kube-controller-manager:
//! - `node-controller` (pkg/controller/nodelifecycle): a node is healthy
//!   while its Lease in `kube-node-lease` (or its Ready condition's
//!   heartbeat) is younger than `--node-monitor-grace-period`. Past that,
//!   its Ready, MemoryPressure, DiskPressure and PIDPressure conditions
//!   become Unknown ("Kubelet stopped posting node status."), its pods are
//!   marked not Ready (`MarkPodsNotReady`), and a `NodeNotReady` Event is
//!   recorded. Taints follow the conditions (`TaintNodesByCondition` and
//!   taint-based eviction): Ready=False → `node.kubernetes.io/not-ready`,
//!   Ready=Unknown → `node.kubernetes.io/unreachable`, each as NoSchedule
//!   and NoExecute; pressure conditions and `spec.unschedulable` give their
//!   NoSchedule taints. A node that reports again (the kubelet renews its
//!   Lease and posts Ready=True) loses those taints. If every node of every
//!   zone is not Ready the controller assumes it is itself cut off (full
//!   disruption) and applies no NoExecute taints, removing existing ones;
//!   in a small zone (≤ 50 nodes) with more than 2 and at least 55 % of its
//!   nodes not Ready (partial disruption) it adds none either.
//! - `taint-eviction-controller` (the NoExecute taint manager): a pod on a
//!   node with NoExecute taints it does not tolerate is deleted at once; one
//!   that tolerates them for `tolerationSeconds` is deleted when that time
//!   has passed (its `DisruptionTarget` condition set first, and a
//!   `TaintManagerEviction` Event "Marking for deletion Pod ns/name"); an
//!   eviction that the taint's removal makes unnecessary is reported as
//!   "Cancelling deletion of Pod ns/name".
//!
//! One kube-rs `Controller` over Nodes, woken by the node's Lease and by
//! its pods, and by timers (`Action::requeue`) for the moments something
//! is due: the lease expiring, an eviction deadline, and at least every
//! `--node-monitor-period` as in Kubernetes. Level-triggered and idempotent.
//! Not held in step mode (`step_gate`): Kubernetes runs this as a periodic
//! monitor, not from a work queue, and every Lease renewal wakes it, so
//! holding it would fill the waiting list with nodes that are fine.
//!
//! Health is judged as Kubernetes does (`tryUpdateNodeHealth`): by when
//! the controller *observed* the heartbeat (the Lease's `renewTime`, the
//! Ready condition's heartbeat) change, on its own clock, not by the
//! heartbeat's timestamp. A node first seen — at start-up, or after the
//! Lease or Node cache was rebuilt by a relist — gets a full grace period
//! from that moment, and while either cache is not being kept current (a
//! watch failed and has not relisted yet) no node is judged at all: a gap
//! in what the controller could observe never counts against a node. (An
//! API server restart once made every healthy node NotReady: the Node
//! cache relisted before the Lease cache, whose renewTimes were seconds old.)
//!
//! Simplified on purpose:
//! - eviction deadlines count from the taint's `timeAdded`, not from when
//!   the taint manager first saw the pod — so a controller restart neither
//!   resets nor forgets them;
//! - the `--node-eviction-rate` limiter (one node tainted per 10 s) is left
//!   out: all failed nodes are tainted at once;
//! - [`Settings::pod_eviction_timeout`](crate::Settings) stands in for
//!   kube-apiserver's `--default-unreachable-toleration-seconds` /
//!   `--default-not-ready-toleration-seconds`: a toleration identical to the
//!   one the API server adds by default (Exists, NoExecute, 300 s) lasts
//!   `pod_eviction_timeout`, so demos and tests can shorten it. Tolerations
//!   a user wrote with other values are honoured as written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, ObjectReference, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::Controller;
use kube::{Api, Resource, ResourceExt};
use minik_client::informer::{wait_for_cache_sync, Change, Synced};
use minik_client::{errors, Informer};
use serde_json::json;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};

/// Nodes reconciled at once: kube-controller-manager's
/// `nodeUpdateWorkerSize`. Every Lease renewal and every pod change wakes
/// its node, so unbounded, a thousand nodes each held a running reconcile.
const NODE_WORKERS: u16 = 8;
use crate::pod_cache::CachedPod;
use crate::{Context, Error};

/// Namespace of the kubelets' heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// Taint of a node whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint of a node whose Ready condition is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The conditions a silent node has set to Unknown.
const MONITORED_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
/// `NoSchedule` taints derived from conditions: (condition, status, taint key).
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", TAINT_NOT_READY),
    ("Ready", "Unknown", TAINT_UNREACHABLE),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];
/// `NoSchedule` taint of a cordoned node.
const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The toleration time the API server gives pods by default.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// A zone with more nodes than this keeps evicting (slowly) in partial disruption.
const LARGE_CLUSTER_THRESHOLD: usize = 50;
/// Share of not-Ready nodes from which a zone is partially disrupted.
const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// Label holding a node's zone.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

struct State {
    ctx: Arc<Context>,
    nodes: Store<Node>,
    leases: Store<Lease>,
    /// The informers behind `nodes` and `leases`: whether they are current.
    node_informer: Informer<Node>,
    lease_informer: Informer<Lease>,
    /// Per node: the heartbeat last seen and when it was seen to change
    /// (Kubernetes' `nodeHealthData.probeTimestamp`).
    observed: Mutex<HashMap<String, Observed>>,
    pods_synced: Synced,
    pods: Store<CachedPod>,
    /// Nodes already announced with `RegisteredNode`.
    registered: Mutex<HashSet<String>>,
    /// The Ready status last seen per node (to report transitions once).
    observed_ready: Mutex<HashMap<String, String>>,
    /// Pods with an eviction scheduled, per node.
    scheduled: Mutex<HashMap<String, HashSet<(String, String)>>>,
    /// Per node: when this controller first saw each NoExecute taint that
    /// came without `timeAdded` (`kubectl taint`), keyed by key and effect
    /// — the clock its tolerations' seconds run on.
    taints_seen: Mutex<HashMap<String, Vec<(Taint, Timestamp)>>>,
    /// UIDs of pods evicted whose deletion the pod cache may not show yet,
    /// per node (so a pass soon after does not evict them again).
    evicted: Mutex<HashMap<String, HashSet<String>>>,
    node_events: EventRecorder,
    eviction_events: EventRecorder,
    backoff: RetryBackoff,
}

/// When the controller last saw a node's heartbeat change.
struct Observed {
    heartbeat: Timestamp,
    /// The controller's clock when it saw `heartbeat` first.
    at: Timestamp,
    /// The Node and Lease informers' list counts then: a relist since
    /// restarts the grace period.
    lists: u64,
}

// ---------------------------------------------------------------------------
// Construct and run.
// ---------------------------------------------------------------------------

/// Builds the controller over the shared Node, Lease and Pod informers (the
/// caller starts them). The Lease informer is the process's one watch of
/// every Lease; only those in `kube-node-lease` wake a node.
pub fn build(ctx: &Arc<Context>) -> Built {
    let nodes = ctx.informers.get::<Node>();
    let leases = ctx.informers.get::<Lease>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let state = Arc::new(State {
        nodes: nodes.store(),
        leases: leases.store(),
        pods: pods.store(),
        node_informer: nodes.clone(),
        lease_informer: leases.clone(),
        observed: Mutex::default(),
        pods_synced: pods.synced(),
        registered: Mutex::default(),
        observed_ready: Mutex::default(),
        scheduled: Mutex::default(),
        taints_seen: Mutex::default(),
        evicted: Mutex::default(),
        node_events: EventRecorder::new(ctx.client.clone(), "node-controller", None),
        eviction_events: EventRecorder::new(ctx.client.clone(), "taint-eviction-controller", None),
        backoff: RetryBackoff::default(),
        ctx: ctx.clone(),
    });
    let controller = drive(
        "node lifecycle",
        Controller::for_shared_stream(nodes.applied(), nodes.store())
            .with_config(kube::runtime::controller::Config::default().concurrency(NODE_WORKERS))
            .watches_shared_stream(leases.touched(), |lease| {
                (lease.namespace().as_deref() == Some(NODE_LEASE_NAMESPACE))
                    .then(|| ObjectRef::new(&lease.name_any()))
            })
            .watches_shared_stream(pods.touched(), |pod| {
                let node = pod.spec.as_ref()?.node_name.clone()?;
                Some(ObjectRef::new(&node))
            })
            .run(reconcile, error_policy, state.clone()),
    );
    let removals = nodes.subscribe().for_each(move |change| {
        let st = state.clone();
        async move {
            if let Change::Deleted(node) = change {
                forget(&st, &node).await;
            }
        }
    });
    async move {
        futures::join!(controller, removals);
        Ok(())
    }
    .boxed()
}

/// A deleted node leaves the controller's memory (its heartbeat, Ready
/// state, scheduled evictions), with Kubernetes' `RemovingNode` Event.
async fn forget(st: &State, node: &Node) {
    let name = node.name_any();
    st.observed.lock().unwrap().remove(&name);
    st.observed_ready.lock().unwrap().remove(&name);
    st.scheduled.lock().unwrap().remove(&name);
    st.taints_seen.lock().unwrap().remove(&name);
    st.backoff.forget(&name);
    if st.registered.lock().unwrap().remove(&name) {
        st.node_events
            .publish(
                &node_ref(node),
                EventType::Normal,
                "RemovingNode",
                format!("Node {name} event: Removing Node {name} from Controller"),
            )
            .await;
    }
}

// ---------------------------------------------------------------------------
// Reconcile one node: health, taints, evictions.
// ---------------------------------------------------------------------------

/// Judges the node's health, brings its conditions and taints in line, and
/// evicts the pods that no longer tolerate it. Returns when to look again.
async fn reconcile(node: Arc<Node>, st: Arc<State>) -> Result<Action, Error> {
    // Until the Leases and pods have been listed once, a missing Lease may
    // only be not yet seen (Kubernetes' WaitForCacheSync).
    wait_for_cache_sync(&[st.lease_informer.synced(), st.pods_synced.clone()]).await;
    let name = node.name_any();
    let settings = &st.ctx.settings;
    let now = Timestamp::now();
    if st.registered.lock().unwrap().insert(name.clone()) {
        st.node_events
            .publish(
                &node_ref(&node),
                EventType::Normal,
                "RegisteredNode",
                format!("Node {name} event: Registered Node {name} in Controller"),
            )
            .await;
    }

    // 1. Health: has the kubelet reported within the grace period?
    let grace =
        SignedDuration::try_from(settings.node_monitor_grace_period).unwrap_or(SignedDuration::MAX);
    let deadline = plus(observed_heartbeat(&st, &node, now), grace);
    let mut node = (*node).clone();
    if now > deadline {
        if let Some(marked) = mark_unknown(&node, now) {
            let api: Api<Node> = Api::all(st.ctx.client.clone());
            node = match api
                .replace_status(&name, &PostParams::default(), &marked)
                .await
            {
                Ok(n) => n,
                // Changed meanwhile (the kubelet may be back): the change wakes us.
                Err(e) if errors::is_superseded(&e) => return Ok(Action::await_change()),
                Err(e) => return Err(e.into()),
            };
        }
    }

    // 2. Ready transitions: one event, and the pods stop being Ready.
    let ready = condition(&node, "Ready");
    let ready_status = ready.map_or("Unknown", |c| c.status.as_str()).to_string();
    let previous = st
        .observed_ready
        .lock()
        .unwrap()
        .insert(name.clone(), ready_status.clone());
    if previous.as_deref() == Some("True") && ready_status != "True" {
        st.node_events
            .publish(
                &node_ref(&node),
                EventType::Normal,
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            )
            .await;
    }
    if ready_status != "True" {
        let since = ready
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0);
        mark_pods_not_ready(&st, &name, since).await?;
    }

    // 3. Taints follow the conditions.
    let taints = desired_taints(&st, &node, now);
    if taints
        != node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
    {
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"taints": if taints.is_empty() { serde_json::Value::Null } else { json!(taints) }},
        });
        let api: Api<Node> = Api::all(st.ctx.client.clone());
        node = match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(n) => n,
            Err(e) if errors::is_superseded(&e) => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        };
    }

    // 4. Pods that do not tolerate the NoExecute taints (any more) go.
    let next_eviction = evict_pods(&st, &node, now).await?;

    st.backoff.forget(&name);
    let mut wait = settings.node_monitor_period;
    if now <= deadline {
        wait = wait.min(until(now, deadline));
    }
    if let Some(t) = next_eviction {
        wait = wait.min(until(now, t));
    }
    Ok(Action::requeue(wait))
}

fn error_policy(node: Arc<Node>, err: &Error, st: Arc<State>) -> Action {
    tracing::warn!(node = %node.name_any(), error = %err, "node lifecycle");
    Action::requeue(st.backoff.next_delay(&node.name_any()))
}

/// `t + d`, or the end of time if that overflows.
fn plus(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// Time from `now` until `t` (plus a few milliseconds, so the timer fires
/// after `t`, not at it).
fn until(now: Timestamp, t: Timestamp) -> Duration {
    let d = t.duration_since(now);
    Duration::try_from(d).unwrap_or_default() + Duration::from_millis(10)
}

fn node_ref(node: &Node) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(node.name_any()),
        uid: node.uid(),
        ..Default::default()
    }
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// When the controller saw the node's latest sign of life appear: now if
/// the heartbeat changed since the last look, if the node is new to it, if
/// the Node or Lease cache was relisted since, or if either cache is not
/// current (a failed watch not yet relisted) — the moment it was first
/// seen otherwise.
fn observed_heartbeat(st: &State, node: &Node, now: Timestamp) -> Timestamp {
    let heartbeat = last_heartbeat(st, node);
    let current = st.node_informer.is_watching() && st.lease_informer.is_watching();
    let lists = st.node_informer.lists() + st.lease_informer.lists();
    let mut observed = st.observed.lock().unwrap();
    let seen = observed.entry(node.name_any()).or_insert(Observed {
        heartbeat,
        at: now,
        lists,
    });
    if seen.heartbeat != heartbeat || seen.lists != lists || !current {
        *seen = Observed {
            heartbeat,
            at: now,
            lists,
        };
    }
    seen.at
}

/// The latest sign of life: the Lease's renewTime, the Ready condition's
/// heartbeat, or — for a node that never reported — its creation.
fn last_heartbeat(st: &State, node: &Node) -> Timestamp {
    let lease = st
        .leases
        .get(&ObjectRef::new(&node.name_any()).within(NODE_LEASE_NAMESPACE))
        .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
    let heartbeat =
        condition(node, "Ready").and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0));
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [lease, heartbeat, created]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The node with its monitored conditions set to Unknown, or `None` if
/// they already are.
fn mark_unknown(node: &Node, now: Timestamp) -> Option<Node> {
    let mut node = node.clone();
    let created = node.metadata.creation_timestamp.clone();
    let status = node.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for type_ in MONITORED_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: created.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(node)
}

/// `MarkPodsNotReady`: the node's pods that were Ready before the node
/// stopped being Ready get Ready=False (pods the kubelet marked Ready again
/// since are its business).
async fn mark_pods_not_ready(
    st: &State,
    node: &str,
    since: Option<Timestamp>,
) -> Result<(), Error> {
    for pod in pods_on(st, node) {
        let Some(ready) = crate::pods::ready_condition(&pod) else {
            continue;
        };
        let became_ready = ready.last_transition_time.as_ref().map(|t| t.0);
        if ready.status != "True" || matches!((became_ready, since), (Some(p), Some(n)) if p > n) {
            continue;
        }
        let mut conditions = pod
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .cloned()
            .collect::<Vec<_>>();
        for c in conditions.iter_mut().filter(|c| c.type_ == "Ready") {
            c.status = "False".into();
            c.last_transition_time = Some(Time(Timestamp::now()));
        }
        // The cache holds only part of a pod's status, so the conditions
        // are sent as a merge patch (the list replaced whole, as the PUT of
        // `UpdateStatus` replaces it), preconditioned on the cached
        // resourceVersion as that PUT is.
        let patch = json!({
            "metadata": {"resourceVersion": pod.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(st.ctx.client.clone(), &ns);
        tracing::info!(pod = %pod.name_any(), node, "marking pod not ready: its node is not ready");
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                st.node_events
                    .publish(
                        &pod.object_ref(&()),
                        EventType::Warning,
                        "NodeNotReady",
                        "Node is not ready".into(),
                    )
                    .await
            }
            // Changed or gone meanwhile: the change wakes the node again.
            Err(e) if errors::is_superseded(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn pods_on(st: &State, node: &str) -> Vec<Arc<CachedPod>> {
    st.pods
        .state()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .collect()
}

// ---------------------------------------------------------------------------
// Taints.
// ---------------------------------------------------------------------------

/// The node's taints as they should be: other taints kept as they are,
/// the controller's NoSchedule taints from its conditions, and its
/// NoExecute taints from Ready unless the zone is disrupted. A taint that
/// stays keeps its `timeAdded`.
fn desired_taints(st: &State, node: &Node, now: Timestamp) -> Vec<Taint> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let mut no_schedule: Vec<&str> = CONDITION_TAINTS
        .iter()
        .filter(|(c, s, _)| condition(node, c).is_some_and(|cond| cond.status == *s))
        .map(|(_, _, key)| *key)
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        no_schedule.push(TAINT_UNSCHEDULABLE);
    }
    let no_execute: Option<&str> = match condition(node, "Ready").map(|c| c.status.as_str()) {
        Some("False") => Some(TAINT_NOT_READY),
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        _ => None,
    };
    let no_execute = no_execute.filter(|_| evictions_allowed(st, node));
    let managed_no_schedule = |key: &str| {
        key == TAINT_UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, k)| *k == key)
    };
    let managed_no_execute = |key: &str| key == TAINT_NOT_READY || key == TAINT_UNREACHABLE;
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| match t.effect.as_str() {
            "NoSchedule" => !managed_no_schedule(&t.key) || no_schedule.contains(&t.key.as_str()),
            "NoExecute" => !managed_no_execute(&t.key) || no_execute == Some(t.key.as_str()),
            _ => true,
        })
        .cloned()
        .collect();
    let has = |taints: &[Taint], key: &str, effect: &str| {
        taints.iter().any(|t| t.key == key && t.effect == effect)
    };
    for key in no_schedule {
        if !has(&taints, key, "NoSchedule") {
            taints.push(Taint {
                key: key.into(),
                effect: "NoSchedule".into(),
                value: None,
                time_added: None,
            });
        }
    }
    if let Some(key) = no_execute {
        if !has(&taints, key, "NoExecute") {
            taints.push(Taint {
                key: key.into(),
                effect: "NoExecute".into(),
                value: None,
                time_added: Some(Time(now)),
            });
        }
    }
    taints
}

/// Kubernetes' zone states: NoExecute taints are applied in a zone in
/// normal state, or fully disrupted while another zone is not; never when
/// every node everywhere is not Ready, nor in a partially disrupted small zone.
fn evictions_allowed(st: &State, node: &Node) -> bool {
    let zone_of = |n: &Node| n.labels().get(ZONE_LABEL).cloned().unwrap_or_default();
    let mut zones: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let all = st.nodes.state();
    for n in &all {
        // The store may not have caught up with this node's own update.
        let n: &Node = if n.name_any() == node.name_any() {
            node
        } else {
            n
        };
        let entry = zones.entry(zone_of(n)).or_default();
        if condition(n, "Ready").is_some_and(|c| c.status == "True") {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    let state = |(ready, not_ready): (usize, usize)| {
        if ready == 0 && not_ready > 0 {
            "full"
        } else if not_ready > 2
            && not_ready as f64 / (ready + not_ready) as f64 >= UNHEALTHY_ZONE_THRESHOLD
        {
            "partial"
        } else {
            "normal"
        }
    };
    if zones.values().all(|z| state(*z) == "full") {
        return false;
    }
    let here = zones.get(&zone_of(node)).copied().unwrap_or((0, 1));
    !(state(here) == "partial" && here.0 + here.1 <= LARGE_CLUSTER_THRESHOLD)
}

// ---------------------------------------------------------------------------
// The NoExecute taint manager.
// ---------------------------------------------------------------------------

/// When `pod` must leave a node with `taints` (NoExecute only): `None` if
/// it tolerates them forever, else the deadline (now or later).
fn eviction_time(
    pod: &CachedPod,
    taints: &[&Taint],
    now: Timestamp,
    default_toleration: Duration,
) -> Option<Timestamp> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let mut deadline: Option<Timestamp> = None;
    for taint in taints {
        let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Some(now);
        };
        let Some(secs) = toleration_seconds(toleration, default_toleration) else {
            continue;
        };
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let due = plus(added, secs);
        deadline = Some(deadline.map_or(due, |d| d.min(due)));
    }
    deadline
}

/// `ToleratesTaint`: same effect (or any), same key (or any, with Exists),
/// and for `Equal` the same value.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect_ok = t
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key = t.key.as_deref().unwrap_or("");
    let op = t.operator.as_deref().unwrap_or("Equal");
    let key_ok = (key.is_empty() && op == "Exists") || key == taint.key;
    let value_ok = match op {
        "Exists" => true,
        _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    };
    effect_ok && key_ok && value_ok
}

/// How long a toleration lasts (`None`: forever). Negative means zero. The
/// API server's default toleration lasts `default_toleration` (see the module doc).
fn toleration_seconds(t: &Toleration, default_toleration: Duration) -> Option<SignedDuration> {
    let secs = t.toleration_seconds?;
    let is_default = secs == DEFAULT_TOLERATION_SECONDS
        && t.operator.as_deref() == Some("Exists")
        && t.effect.as_deref() == Some("NoExecute")
        && matches!(t.key.as_deref(), Some(TAINT_NOT_READY | TAINT_UNREACHABLE))
        && t.value.is_none();
    if is_default {
        return SignedDuration::try_from(default_toleration).ok();
    }
    Some(SignedDuration::from_secs(secs.max(0)))
}

/// Deletes the pods whose time on this node is up; reports (and forgets)
/// evictions the node's recovery cancelled. Returns the next deadline.
async fn evict_pods(st: &State, node: &Node, now: Timestamp) -> Result<Option<Timestamp>, Error> {
    let name = node.name_any();
    let taints: Vec<&Taint> = node
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .filter(|t| t.effect == "NoExecute")
        .collect();
    let taints = timed_taints(st, &name, &taints, now);
    let taints: Vec<&Taint> = taints.iter().collect();
    let mut next: Option<Timestamp> = None;
    let mut still_scheduled = HashSet::new();
    // Evicted now: a scheduled eviction carried out, not cancelled (the
    // pod cache may not show its deletion yet).
    let mut evicted = HashSet::new();
    // Most nodes have no NoExecute taint: no need to look at their pods.
    let pods = if taints.is_empty() {
        Vec::new()
    } else {
        pods_on(st, &name)
    };
    // Evicted earlier, deletion not yet in the cache: still evicted.
    let mut earlier = st.evicted.lock().unwrap().remove(&name).unwrap_or_default();
    earlier.retain(|uid| {
        pods.iter().any(|p| {
            p.metadata.deletion_timestamp.is_none() && p.metadata.uid.as_ref() == Some(uid)
        })
    });
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some()
            || pod
                .metadata
                .uid
                .as_ref()
                .is_some_and(|u| earlier.contains(u))
        {
            continue;
        }
        let Some(when) = eviction_time(&pod, &taints, now, st.ctx.settings.pod_eviction_timeout)
        else {
            continue;
        };
        let key = (pod.namespace().unwrap_or_default(), pod.name_any());
        if when > now {
            still_scheduled.insert(key);
            next = Some(next.map_or(when, |n| n.min(when)));
            continue;
        }
        evict(st, &pod).await?;
        evicted.insert(key);
        earlier.extend(pod.metadata.uid.clone());
    }
    if !earlier.is_empty() {
        st.evicted.lock().unwrap().insert(name.clone(), earlier);
    }
    let cancelled: Vec<(String, String)> = {
        let mut scheduled = st.scheduled.lock().unwrap();
        let previous = scheduled
            .insert(name.clone(), still_scheduled.clone())
            .unwrap_or_default();
        previous
            .into_iter()
            .filter(|k| !still_scheduled.contains(k) && !evicted.contains(k))
            .collect()
    };
    for (ns, pod_name) in cancelled {
        // Gone (evicted, or deleted by someone else) is not cancelled.
        let Some(pod) = st.pods.get(&ObjectRef::new(&pod_name).within(&ns)) else {
            continue;
        };
        if pod.metadata.deletion_timestamp.is_none() {
            st.eviction_events
                .publish(
                    &pod.object_ref(&()),
                    EventType::Normal,
                    "TaintManagerEviction",
                    format!("Cancelling deletion of Pod {ns}/{pod_name}"),
                )
                .await;
        }
    }
    Ok(next)
}

/// The node's NoExecute `taints`, each with a `timeAdded`: one added without
/// (by `kubectl taint`; the node controller's own taints carry one) gets
/// the time this controller first saw it, so tolerations' seconds run out
/// rather than restarting at every pass. (Kubernetes' taint manager counts
/// from when it first handles each pod on the tainted node; minik counts
/// from the taint, as for taints with a `timeAdded`.) Forgets taints the
/// node no longer has.
fn timed_taints(st: &State, node: &str, taints: &[&Taint], now: Timestamp) -> Vec<Taint> {
    // A taint is its key and effect (`MatchTaint`): a new value is the same taint.
    let same = |a: &Taint, b: &Taint| a.key == b.key && a.effect == b.effect;
    let mut seen = st.taints_seen.lock().unwrap();
    let entry = seen.entry(node.to_string()).or_default();
    entry.retain(|(t, _)| taints.iter().any(|n| same(n, t)));
    let timed = taints
        .iter()
        .map(|&taint| {
            let mut taint = taint.clone();
            if taint.time_added.is_none() {
                let first = match entry.iter().find(|(t, _)| same(t, &taint)) {
                    Some((_, at)) => *at,
                    None => {
                        entry.push((taint.clone(), now));
                        now
                    }
                };
                taint.time_added = Some(Time(first));
            }
            taint
        })
        .collect();
    if entry.is_empty() {
        seen.remove(node);
    }
    timed
}

/// Kubernetes' `addConditionAndDeletePod`: the DisruptionTarget condition,
/// the event, then an ordinary (graceful) delete.
async fn evict(st: &State, pod: &CachedPod) -> Result<(), Error> {
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    tracing::info!(pod = %format!("{ns}/{name}"), "evicting pod from a NoExecute-tainted node");
    // Related: the Node whose NoExecute taint evicts the pod.
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let node_ref = node.map(|n| ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(n),
        ..Default::default()
    });
    st.eviction_events
        .publish_related(
            &pod.object_ref(&()),
            node_ref.as_ref(),
            EventType::Normal,
            "TaintManagerEviction",
            "TaintManagerEviction",
            format!("Marking for deletion Pod {ns}/{name}"),
        )
        .await;
    let api: Api<Pod> = Api::namespaced(st.ctx.client.clone(), &ns);
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": Timestamp::now().to_string(),
    }]}});
    match api
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Strategic(&condition),
        )
        .await
    {
        Ok(_) => {}
        Err(e) if errors::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if errors::is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_cache::CachedPodSpec;

    fn taint(key: &str, added: Timestamp) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: Some(Time(added)),
        }
    }

    fn pod_with(tolerations: Vec<Toleration>) -> CachedPod {
        CachedPod {
            spec: Some(CachedPodSpec {
                tolerations: Some(tolerations),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn toleration(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn eviction_deadlines_follow_tolerations() {
        let now = Timestamp::now();
        let added = now - SignedDuration::from_secs(10);
        let t = taint(TAINT_UNREACHABLE, added);
        let five_min = Duration::from_secs(2);
        // No matching toleration: at once.
        assert_eq!(
            eviction_time(&pod_with(vec![]), &[&t], now, five_min),
            Some(now)
        );
        // Tolerated forever.
        let forever = pod_with(vec![toleration(TAINT_UNREACHABLE, None)]);
        assert_eq!(eviction_time(&forever, &[&t], now, five_min), None);
        // Tolerated for 60 s from the taint's timeAdded.
        let minute = pod_with(vec![toleration(TAINT_UNREACHABLE, Some(60))]);
        assert_eq!(
            eviction_time(&minute, &[&t], now, five_min),
            Some(added + SignedDuration::from_secs(60))
        );
        // The API server's default toleration lasts the configured timeout.
        let default = pod_with(vec![toleration(TAINT_UNREACHABLE, Some(300))]);
        assert_eq!(
            eviction_time(&default, &[&t], now, five_min),
            Some(added + SignedDuration::from_secs(2))
        );
        // A wildcard toleration (empty key, Exists) matches every taint.
        let mut wildcard = toleration("", Some(5));
        wildcard.key = None;
        wildcard.effect = None;
        assert!(tolerates(&wildcard, &t));
    }
}
