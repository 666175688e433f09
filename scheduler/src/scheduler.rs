//! The scheduling loop: the one task that owns the cache and the queue.
//!
//! Mirrors kube-scheduler's `Scheduler.Run` / `ScheduleOne`, in pipeline
//! order:
//! 1. **construct** ([`Scheduler::start`]) — shared informers
//!    (`minik_client::informer`) for nodes, assigned pods and pending pods,
//!    their changes merged into one stream;
//! 2. **run** ([`Scheduler::run`]) — absorb every change already delivered
//!    (so decisions use the freshest cache), release pods whose backoff is
//!    over, then schedule one pod; sleep only when there is nothing to do
//!    (waiting for a change, a finished binding, or the next backoff expiry);
//! 3. **schedule one** ([`Scheduler::schedule_one`]) — pop the next pod,
//!    pick a node ([`crate::schedule_one`]), *assume* the pod on it in the
//!    cache and start its binding on a separate task; or report why no node
//!    fits and park the pod;
//! 4. **binding done** ([`Scheduler::binding_done`]) — `Scheduled` event,
//!    or forget the assumption and retry the pod after its backoff.
//!
//! Changes that can help unschedulable pods (kube's cluster events): a node
//! added, a node whose labels, taints, cordon, allocatable or readiness
//! changed, an assigned pod deleted or finished, a binding that failed
//! (its resources are free again), any change to a PersistentVolumeClaim,
//! PersistentVolume or StorageClass (VolumeBinding).
//!
//! Everything here is level-triggered: a missed change is made up by the
//! informers' relists, and the cache is always rebuilt from what the API
//! server says, never from what the scheduler hoped.

use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use minik_client::{Change, SharedInformerFactory};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::assigned_pod::AssignedPod;
use crate::cache::{Cache, NodeChange};
use crate::diagnosis::NO_NODES;
use crate::pod_info::PodInfo;
use crate::queue::SchedulingQueue;
use crate::report::{Reporter, REASON_SCHEDULER_ERROR, REASON_UNSCHEDULABLE};
use crate::schedule_one::{Algorithm, NoFit, Placement};
use crate::volume_binding::{self, Stores};
use crate::{binder, Config, Error};

/// A change delivered by one of the informers.
enum ClusterEvent {
    Node(Change<Node>),
    AssignedPod(Change<AssignedPod>),
    PendingPod(Change<Pod>),
    /// A claim, volume or class changed (what VolumeBinding reads).
    Storage,
}

/// How a binding ended.
struct BindOutcome {
    key: ObjectRef<Pod>,
    pod: Arc<Pod>,
    node: String,
    /// The decision table (JSON) for the `Scheduled` Event.
    table: String,
    /// When the binding was asked for: the `Scheduled` Event's time, so it
    /// sorts before anything the kubelet does with the bound pod.
    decided: k8s_openapi::jiff::Timestamp,
    result: Result<(), kube::Error>,
}

pub struct Scheduler {
    client: kube::Client,
    cache: Cache,
    queue: SchedulingQueue<ObjectRef<Pod>>,
    algorithm: Algorithm,
    /// Reflector cache of pending pods: the queue holds keys, this the objects.
    pending: Store<Pod>,
    /// Claims, volumes and classes, for VolumeBinding.
    storage: Stores,
    reporter: Arc<Reporter>,
    binds: Arc<Semaphore>,
    bind_tx: mpsc::UnboundedSender<BindOutcome>,
    bind_rx: mpsc::UnboundedReceiver<BindOutcome>,
    /// Every informer's changes, merged (the informers live in `_informers`).
    events: BoxStream<'static, ClusterEvent>,
    _informers: SharedInformerFactory,
    nodes_synced: bool,
    assigned_synced: bool,
    rng: StdRng,
}

impl Scheduler {
    /// Starts the informers and the event writers.
    ///
    /// Three informers from the shared factory, as kube-scheduler's pod
    /// informer is split by its handlers:
    /// - **nodes** — every Node;
    /// - **assigned pods** — `spec.nodeName!=`, not Succeeded or Failed: what
    ///   uses node capacity, cached as [`AssignedPod`]s (what they take from
    ///   their node, not whole Pods);
    /// - **pending pods** — `spec.nodeName=` for this scheduler's name, not
    ///   Succeeded or Failed: what needs scheduling. A pod that gets bound
    ///   leaves this watch (the API server sends DELETED when an object stops
    ///   matching a field selector) and enters the assigned one.
    ///
    /// Nothing is scheduled before nodes and assigned pods have synced
    /// (kube's `WaitForCacheSync`).
    pub fn start(config: Config) -> Scheduler {
        let client = config.client;
        let informers = SharedInformerFactory::new(client.clone());
        let not_finished = "status.phase!=Succeeded,status.phase!=Failed";
        let nodes = informers.get::<Node>();
        let assigned = informers.get_with::<AssignedPod>(
            watcher::Config::default().fields(&format!("spec.nodeName!=,{not_finished}")),
        );
        let pending = informers.get_with::<Pod>(watcher::Config::default().fields(&format!(
            "spec.nodeName=,spec.schedulerName={},{not_finished}",
            config.scheduler_name
        )));
        let claims = informers.get::<PersistentVolumeClaim>();
        let volumes = informers.get::<PersistentVolume>();
        let classes = informers.get::<StorageClass>();
        let storage = Stores {
            claims: claims.store(),
            volumes: volumes.store(),
            classes: classes.store(),
        };
        let events = stream::select_all([
            nodes.subscribe().map(ClusterEvent::Node).boxed(),
            assigned.subscribe().map(ClusterEvent::AssignedPod).boxed(),
            pending.subscribe().map(ClusterEvent::PendingPod).boxed(),
            claims.subscribe().map(|_| ClusterEvent::Storage).boxed(),
            volumes.subscribe().map(|_| ClusterEvent::Storage).boxed(),
            classes.subscribe().map(|_| ClusterEvent::Storage).boxed(),
        ])
        .boxed();
        informers.start();
        let pending = pending.store();
        let (bind_tx, bind_rx) = mpsc::unbounded_channel();
        Scheduler {
            reporter: Reporter::start(client.clone(), &config.reporting_instance),
            client,
            cache: Cache::new(),
            queue: SchedulingQueue::new(config.queue),
            algorithm: Algorithm::new(config.percentage_of_nodes_to_score),
            pending,
            storage,
            binds: Arc::new(Semaphore::new(config.max_concurrent_binds.max(1))),
            bind_tx,
            bind_rx,
            events,
            _informers: informers,
            nodes_synced: false,
            assigned_synced: false,
            rng: StdRng::from_rng(&mut rand::rng()),
        }
    }

    /// Runs until an informer stops.
    pub async fn run(mut self) -> Result<(), Error> {
        loop {
            loop {
                match self.events.next().now_or_never() {
                    Some(Some(event)) => self.handle(event),
                    Some(None) => return Err(Error::InformerStopped),
                    None => break,
                }
            }
            while let Ok(outcome) = self.bind_rx.try_recv() {
                self.binding_done(outcome);
            }
            self.queue.flush(Instant::now());
            if self.nodes_synced && self.assigned_synced && self.queue.has_active() {
                if let Ok(permit) = Arc::clone(&self.binds).try_acquire_owned() {
                    self.schedule_one(permit);
                    continue;
                }
            }
            let wakeup = self.queue.next_wakeup();
            tokio::select! {
                event = self.events.next() => match event {
                    Some(event) => self.handle(event),
                    None => return Err(Error::InformerStopped),
                },
                Some(outcome) = self.bind_rx.recv() => self.binding_done(outcome),
                _ = sleep_until(wakeup) => {}
            }
        }
    }

    /// Applies one informer change to the cache and the queue.
    fn handle(&mut self, event: ClusterEvent) {
        let now = Instant::now();
        match event {
            ClusterEvent::Node(Change::Added(new) | Change::Updated { new, .. }) => {
                if self.cache.upsert_node(&new) != NodeChange::Unchanged {
                    self.queue.move_all(now);
                }
            }
            ClusterEvent::Node(Change::Deleted(node)) => self.cache.remove_node(&node.name_any()),
            ClusterEvent::Node(Change::Synced) => self.nodes_synced = true,
            ClusterEvent::AssignedPod(Change::Added(new) | Change::Updated { new, .. }) => {
                self.cache.upsert_pod(&new.to_pod())
            }
            ClusterEvent::AssignedPod(Change::Deleted(pod)) => {
                self.cache.remove_pod(&pod.uid().unwrap_or_default());
                self.queue.move_all(now);
            }
            ClusterEvent::AssignedPod(Change::Synced) => self.assigned_synced = true,
            ClusterEvent::PendingPod(change @ (Change::Added(_) | Change::Updated { .. })) => {
                let (old, new) = match change {
                    Change::Updated { old, new } => (Some(old), new),
                    Change::Added(new) => (None, new),
                    _ => return,
                };
                // A pod whose binding is in flight is not queued again.
                if self.cache.has_pod(&new.uid().unwrap_or_default()) {
                    return;
                }
                // `spec.schedulingGates` hold a pod back until they are all
                // removed (kube's SchedulingGates PreEnqueue plugin).
                if new
                    .spec
                    .as_ref()
                    .and_then(|s| s.scheduling_gates.as_ref())
                    .is_some_and(|g| !g.is_empty())
                {
                    self.queue.delete(&ObjectRef::from_obj(&*new));
                    return;
                }
                let changed = old.is_some_and(|old| {
                    old.spec != new.spec
                        || old.metadata.labels != new.metadata.labels
                        || old.metadata.annotations != new.metadata.annotations
                });
                let priority = new.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
                self.queue
                    .add_or_update(ObjectRef::from_obj(&*new), priority, changed, now);
            }
            ClusterEvent::PendingPod(Change::Deleted(pod)) => {
                self.queue.delete(&ObjectRef::from_obj(&*pod));
            }
            ClusterEvent::PendingPod(Change::Synced) => {}
            ClusterEvent::Storage => self.queue.move_all(now),
        }
    }

    /// One scheduling cycle for the next pod in the queue.
    fn schedule_one(&mut self, permit: OwnedSemaphorePermit) {
        let Some((key, cycle)) = self.queue.pop() else {
            return;
        };
        let Some(pod) = self.pending.get(&key) else {
            // Deleted or bound since it was queued; its informer event follows.
            self.queue.delete(&key);
            return;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            self.reporter.skipped_deleting(&pod);
            return;
        }
        let mut info = PodInfo::new(&pod);
        info.volumes = volume_binding::pre_filter(&pod, &self.storage);
        let decision = self.algorithm.schedule(&self.cache, &info, &mut self.rng);
        let now = Instant::now();
        match decision {
            Ok(Placement { node, why, table }) => {
                let table = table.to_json();
                let decided = k8s_openapi::jiff::Timestamp::now();
                let (namespace, name, uid) = (
                    pod.namespace().unwrap_or_default(),
                    pod.name_any(),
                    pod.uid().unwrap_or_default(),
                );
                let labels = self
                    .cache
                    .node(&node)
                    .and_then(|n| n.node.as_ref())
                    .map(|n| n.labels.clone())
                    .unwrap_or_default();
                let volumes = info.volumes.ok().flatten();
                self.cache.assume(&uid, &node, info.usage);
                let client = self.client.clone();
                let done = self.bind_tx.clone();
                tokio::spawn(async move {
                    let prebound = match &volumes {
                        Some(v) => volume_binding::prebind(&client, v, &node, &labels).await,
                        None => Ok(()),
                    };
                    let result = match prebound {
                        Ok(()) => binder::bind(client, &namespace, &name, &uid, &node, &why).await,
                        Err(e) => Err(e),
                    };
                    drop(permit);
                    let _ = done.send(BindOutcome {
                        key,
                        pod,
                        node,
                        table,
                        decided,
                        result,
                    });
                });
            }
            Err(no_fit) => {
                let (message, table) = match no_fit {
                    NoFit::NoNodes => (NO_NODES.to_string(), None),
                    NoFit::Unschedulable(diagnosis, table) => (
                        diagnosis.message(info.never_preempts),
                        Some(table.to_json()),
                    ),
                };
                tracing::debug!(pod = %key, %message, "unschedulable");
                self.queue.requeue_unschedulable(&key, cycle, now);
                self.reporter
                    .failed(&pod, REASON_UNSCHEDULABLE, message, true, table);
            }
        }
    }

    /// A binding finished.
    fn binding_done(&mut self, outcome: BindOutcome) {
        let BindOutcome {
            key,
            pod,
            node,
            table,
            decided,
            result,
        } = outcome;
        match result {
            Ok(()) => self.reporter.scheduled(&pod, &node, table, decided),
            Err(e) => {
                let uid = pod.uid().unwrap_or_default();
                tracing::info!(pod = %key, %node, error = %e, "binding failed");
                self.cache.forget(&uid);
                let still_pending = self
                    .pending
                    .get(&key)
                    .is_some_and(|p| p.uid().as_deref() == Some(uid.as_str()));
                let now = Instant::now();
                if still_pending {
                    self.queue.requeue_after_error(&key, now);
                } else {
                    self.queue.delete(&key);
                }
                self.queue.move_all(now);
                self.reporter.failed(
                    &pod,
                    REASON_SCHEDULER_ERROR,
                    binder::failure_message(&e),
                    still_pending,
                    None,
                );
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
