//! Pod workers: one worker per pod, like kubelet's `podWorkers` (a task
//! while it has work: see parking below), fed by
//!
//! - the Pods bound to this node ([`crate::node_watch`]);
//! - the runtime's container events (the PLEG: a container started, died
//!   or was OOM-killed; every pod when the runtime's stream was broken);
//! - changes of ConfigMaps/Secrets the pod uses;
//! - probe results, and a periodic resync as a safety net.
//!
//! Each worker runs `sync::sync_pod` whenever one of these wakes it (or its
//! own timer, for back-off) and only ever holds the *latest* Pod, so a burst
//! of updates costs one sync. It holds it encoded ([`crate::encoded_pod`])
//! and decodes it for each sync. Syncs of one pod never overlap; pods sync in
//! parallel.
//!
//! A worker whose pod has settled — nothing to retry, no timer, and nothing
//! in its state that a new worker's would not have (no back-off, waiting
//! reason or probe) — parks: its task ends, the dispatcher keeps only the
//! pod, and the next event for the pod starts a worker again. Where minik
//! differs: kubelet's pod workers are goroutines waiting on their
//! channels, a few KB each. A process simulating 1,000 nodes runs every
//! pod of the cluster, and 30,000 waiting tasks with their channels and
//! state were a fifth of its memory. A started worker waits for a sync
//! slot before it builds anything, so a resync that starts every parked
//! pod's worker at once costs a small task each.
//!
//! After each (re)list of pods the watch reports, containers on this node
//! whose pod is no longer in the API (deleted while the kubelet was down)
//! are removed: nothing depends on what a previous kubelet process knew.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use tokio::sync::{broadcast, mpsc, watch, Notify, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

use crate::context::Kubelet;
use crate::encoded_pod::EncodedPod;
use crate::node_watch;
use crate::runtime::RuntimeEvent;
use crate::sync::{self, Next, PodState};
use crate::volumes;
use crate::Error;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The handle the dispatcher keeps for a pod's worker.
pub struct WorkerHandle {
    generation: u64,
    worker: Worker,
}

enum Worker {
    /// A task syncing the pod or waiting for its next event.
    Running {
        /// The newest Pod (`None` once it was deleted).
        pod: watch::Sender<Option<Arc<EncodedPod>>>,
        wake: Arc<Notify>,
        task: JoinHandle<()>,
    },
    /// Settled: no task, only the pod, until an event starts one again.
    Parked {
        pod: Arc<EncodedPod>,
        /// When a worker first saw the pod: its start time until the
        /// status it wrote comes back (the parked pod may predate it).
        first_seen: Timestamp,
    },
}

impl WorkerHandle {
    pub fn abort(&self) {
        if let Worker::Running { task, .. } = &self.worker {
            task.abort();
        }
    }

    /// The newest Pod this worker was given (`None` once it was deleted),
    /// still encoded.
    pub fn pod(&self) -> Option<Arc<EncodedPod>> {
        match &self.worker {
            Worker::Running { pod, .. } => pod.borrow().clone(),
            Worker::Parked { pod, .. } => Some(pod.clone()),
        }
    }

    /// Whether the worker is parked (its pod settled, no task).
    pub fn parked(&self) -> bool {
        matches!(self.worker, Worker::Parked { .. })
    }
}

/// Dispatches this node's pods (from [`node_watch`]) to workers, until
/// aborted.
pub async fn run(
    k: Arc<Kubelet>,
    mut pods: mpsc::UnboundedReceiver<node_watch::Event<EncodedPod>>,
) -> Result<(), Error> {
    let mut pleg = k.runtime.subscribe();
    let mut changes = k.objects.subscribe();
    let mut resync = tokio::time::interval(k.config.resync_period);
    resync.tick().await;
    loop {
        tokio::select! {
            event = pods.recv() => match event {
                Some(node_watch::Event::Changed(pod)) => update(&k, pod),
                Some(node_watch::Event::Deleted(pod)) => deleted(&k, &pod),
                // A (re)list is complete: the informer has already reported
                // pods it no longer lists as deleted; what the runtime still
                // runs for pods nobody knows goes now.
                Some(node_watch::Event::Listed(listed)) => {
                    let seen: HashSet<String> =
                        listed.iter().filter_map(|p| p.metadata.uid.clone()).collect();
                    forget_missing(&k, &seen);
                    if let Err(e) = remove_orphans(&k, &seen).await {
                        tracing::warn!(error = %e, "cannot remove containers of deleted pods");
                    }
                }
                None => return Ok(()),
            },
            event = pleg.recv() => match event {
                Ok(RuntimeEvent::Pod(uid)) => wake(&k, |u, _| u == uid),
                Ok(RuntimeEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    wake(&k, |_, _| true)
                }
                Err(broadcast::error::RecvError::Closed) => return Err(Error::Runtime("runtime event stream closed".into())),
            },
            change = changes.recv() => match change {
                Ok(c) => wake(&k, |_, h| h.pod().is_some_and(|p| {
                    p.metadata.namespace.as_deref() == Some(c.namespace.as_str())
                        && p.uses.contains(&(c.kind, c.name.clone()))
                })),
                Err(broadcast::error::RecvError::Lagged(_)) => wake(&k, |_, _| true),
                Err(broadcast::error::RecvError::Closed) => {}
            },
            _ = resync.tick() => wake(&k, |_, _| true),
        }
    }
}

/// Wakes the workers `which` picks; a parked one starts again. Under the
/// workers' lock, which a worker parking holds too (see [`park`]).
fn wake(k: &Arc<Kubelet>, which: impl Fn(&str, &WorkerHandle) -> bool) {
    let mut workers = k.workers.lock().unwrap();
    for (uid, handle) in workers.iter_mut() {
        if !which(uid, handle) {
            continue;
        }
        match &handle.worker {
            Worker::Running { wake, .. } => wake.notify_one(),
            Worker::Parked { pod, .. } => {
                let pod = pod.clone();
                resume(k, uid, handle, Some(pod));
            }
        }
    }
}

/// Hands the newest Pod to its worker, starting one for a new pod.
fn update(k: &Arc<Kubelet>, pod: Arc<EncodedPod>) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let mut workers = k.workers.lock().unwrap();
    match workers.get_mut(&uid) {
        Some(WorkerHandle {
            worker: Worker::Running { pod: newest, .. },
            ..
        }) => {
            newest.send_replace(Some(pod));
        }
        Some(handle) => resume(k, &uid, handle, Some(pod)),
        None => {
            let handle = start(k, &uid, pod.clone(), Some(pod), None);
            workers.insert(uid, handle);
        }
    }
}

/// Tells the worker its pod is gone: it cleans up.
fn stop(k: &Arc<Kubelet>, uid: &str, handle: &mut WorkerHandle) {
    match &handle.worker {
        Worker::Running { pod, .. } => {
            pod.send_replace(None);
        }
        Worker::Parked { .. } => resume(k, uid, handle, None),
    }
}

/// Starts a parked handle's worker again, given `current` (`None`: the pod
/// is gone); the pod it last synced and when it first saw it carry over.
fn resume(
    k: &Arc<Kubelet>,
    uid: &str,
    handle: &mut WorkerHandle,
    current: Option<Arc<EncodedPod>>,
) {
    if let Worker::Parked { pod, first_seen } = &handle.worker {
        *handle = start(k, uid, pod.clone(), current, Some(*first_seen));
    }
}

/// The pod is gone from the API server (its deletion was confirmed, or it
/// was force-deleted): its worker cleans up.
fn deleted(k: &Arc<Kubelet>, pod: &EncodedPod) {
    if let Some(uid) = &pod.metadata.uid {
        if let Some(handle) = k.workers.lock().unwrap().get_mut(uid) {
            stop(k, uid, handle);
        }
    }
}

/// After a relist: workers of pods that are no longer listed clean up.
fn forget_missing(k: &Arc<Kubelet>, seen: &HashSet<String>) {
    for (uid, handle) in k.workers.lock().unwrap().iter_mut() {
        if !seen.contains(uid) {
            stop(k, uid, handle);
        }
    }
}

/// Removes containers of pods that neither the API nor a worker knows.
async fn remove_orphans(k: &Kubelet, seen: &HashSet<String>) -> Result<(), Error> {
    let records = k.runtime.list_all().await?;
    let known: HashSet<String> = k.workers.lock().unwrap().keys().cloned().collect();
    let orphans: Vec<_> = records
        .into_iter()
        .filter(|r| !seen.contains(&r.pod.uid) && !known.contains(&r.pod.uid))
        .collect();
    for r in orphans.iter().filter(|r| r.running() && !r.sandbox) {
        k.runtime
            .stop_container(&r.id, Duration::from_secs(2))
            .await?;
    }
    for r in &orphans {
        tracing::info!(pod = %format!("{}/{}", r.pod.namespace, r.pod.name), container = %r.name, "removing container of deleted pod");
        k.runtime.remove_container(&r.id).await?;
        volumes::remove_pod_dir(&k.root_dir(), &r.pod.uid);
        k.objects.tokens.forget_pod(&r.pod.uid);
    }
    Ok(())
}

/// A worker for the pod last synced as `last`, given `current` (`None`: it
/// was deleted) and, for a parked pod's, when it was first seen. To sync,
/// the task waits for its node to be running and for a sync slot before
/// it builds the worker: a resync starts every parked pod's at once.
/// Terminating takes no slot, as before.
fn start(
    k: &Arc<Kubelet>,
    uid: &str,
    last: Arc<EncodedPod>,
    current: Option<Arc<EncodedPod>>,
    first_seen: Option<Timestamp>,
) -> WorkerHandle {
    let syncs = current.is_some();
    let (pod, pod_rx) = watch::channel(current);
    let wake = Arc::new(Notify::new());
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let (k, uid, woken) = (k.clone(), uid.to_string(), wake.clone());
    let task = tokio::spawn(async move {
        let slot = if syncs {
            let _ = k.stopped.subscribe().wait_for(|stopped| !stopped).await;
            k.syncs.clone().acquire_owned().await.ok()
        } else {
            None
        };
        let worker = worker(k, uid, last, pod_rx, woken, generation, (slot, first_seen));
        Box::pin(worker).await
    });
    WorkerHandle {
        generation,
        worker: Worker::Running { pod, wake, task },
    }
}

/// What a worker found when it went to park.
enum Parking {
    /// Parked: the task ends.
    Parked,
    /// Woken (a wake-up's permit taken) or given a newer pod: sync again.
    Woken,
    /// Not its handle's worker (never, in practice: only a parked handle
    /// is replaced): wait as before.
    NotMine,
}

/// Parks the worker if nothing came for it since its last sync. The
/// dispatcher sends pods and wake-ups only under the workers' lock, held
/// here, so none is lost: one that came first is seen here, one that comes
/// after finds the handle parked and starts a worker. (Probe workers wake
/// without the lock; a settled pod has none.)
fn park(
    k: &Kubelet,
    uid: &str,
    generation: u64,
    last: &Arc<EncodedPod>,
    first_seen: Timestamp,
    pod_rx: &watch::Receiver<Option<Arc<EncodedPod>>>,
    wake: &Notify,
) -> Parking {
    let mut workers = k.workers.lock().unwrap();
    let Some(handle) = workers.get_mut(uid).filter(|h| h.generation == generation) else {
        return Parking::NotMine;
    };
    if pod_rx.has_changed().unwrap_or(true) || wake.notified().now_or_never().is_some() {
        return Parking::Woken;
    }
    handle.worker = Worker::Parked {
        pod: last.clone(),
        first_seen,
    };
    Parking::Parked
}

/// One pod's worker: sync, then wait for the pod to change, a wake-up or
/// the requeue timer, or park once the pod has settled; stop once the pod
/// is gone. `resumed` is the first sync's slot and, for a parked pod's
/// worker, when the pod was first seen.
async fn worker(
    k: Arc<Kubelet>,
    uid: String,
    mut last: Arc<EncodedPod>,
    mut pod_rx: watch::Receiver<Option<Arc<EncodedPod>>>,
    wake: Arc<Notify>,
    generation: u64,
    resumed: (Option<OwnedSemaphorePermit>, Option<Timestamp>),
) {
    let (mut first_slot, first_seen) = resumed;
    let mut state = PodState::new(&k, &*last, wake.clone());
    if let Some(first_seen) = first_seen {
        state.first_seen = first_seen;
    }
    let mut failures = 0u32;
    loop {
        // A stopped node does nothing until it is started again, and holds
        // no sync slot meanwhile.
        if *k.stopped.borrow() {
            first_slot = None;
            let _ = k.stopped.subscribe().wait_for(|stopped| !stopped).await;
        }
        let current = pod_rx.borrow_and_update().clone();
        if current.is_none() {
            // Terminating takes no sync slot (it may wait out a grace period).
            first_slot = None;
        }
        // Boxed: a sync's state (every step it may await, and the decoded
        // Pod, 2 KB inline) is large, and a task is allocated at its
        // future's full size for its whole life; boxed, only a syncing pod
        // holds it. Decoded for the sync only (`EncodedPod`).
        let result = match current {
            Some(encoded) => {
                let _slot = match first_slot.take() {
                    Some(slot) => Some(slot),
                    None => k.syncs.clone().acquire_owned().await.ok(),
                };
                let synced =
                    Box::pin(async { sync::sync_pod(&k, &encoded.decode(), &mut state).await })
                        .await;
                last = encoded;
                synced
            }
            None => Box::pin(async {
                let pod = last.decode();
                let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
                sync::terminate(&k, &pod, &mut state, grace).await
            })
            .await
            .map(|()| Next::Done),
        };
        let delay = match result {
            Ok(Next::Done) => break,
            Ok(Next::Requeue(None)) if state.settled() => {
                failures = 0;
                match park(
                    &k,
                    &uid,
                    generation,
                    &last,
                    state.first_seen,
                    &pod_rx,
                    &wake,
                ) {
                    Parking::Parked => return,
                    Parking::Woken => continue,
                    Parking::NotMine => None,
                }
            }
            Ok(Next::Requeue(d)) => {
                failures = 0;
                d
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(pod = %format!("{}/{}", last.metadata.namespace.as_deref().unwrap_or(""), last.metadata.name.as_deref().unwrap_or("")), error = %e, "sync failed");
                Some(Duration::from_millis(500 * u64::from(failures.min(20))))
            }
        };
        let timer = async {
            match delay {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = pod_rx.changed() => if changed.is_err() { break },
            _ = wake.notified() => {}
            _ = timer => {}
        }
    }
    let mut workers = k.workers.lock().unwrap();
    if workers
        .get(&uid)
        .is_some_and(|h| h.generation == generation)
    {
        workers.remove(&uid);
    }
}

#[cfg(test)]
mod tests {
    /// Size of the future an async fn with seven arguments returns.
    fn future_size<A, B, C, D, E, G, H, F: std::future::Future>(
        _: fn(A, B, C, D, E, G, H) -> F,
    ) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn a_waiting_workers_task_stays_small() {
        // A pod with probes or a back-off keeps its worker between syncs;
        // the decoded Pod (2 KB inline) and the sync's state must stay in
        // the boxed future (2,952 bytes when the Pod was held here).
        let size = future_size(super::worker);
        assert!(size <= 1536, "the worker's future is {size} bytes");
    }
}
