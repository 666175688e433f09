//! Pod workers: one task per pod, like kubelet's `podWorkers`, fed by
//!
//! - the Pods bound to this node ([`crate::node_watch`]);
//! - the runtime's container events (the PLEG: a container started, died
//!   or was OOM-killed);
//! - changes of ConfigMaps/Secrets the pod uses;
//! - probe results, and a periodic resync as a safety net.
//!
//! Each worker runs `sync::sync_pod` whenever one of these wakes it (or its
//! own timer, for back-off) and only ever holds the *latest* Pod, so a burst
//! of updates costs one sync. It holds it encoded ([`crate::encoded_pod`])
//! and decodes it for each sync. Syncs of one pod never overlap; pods sync in
//! parallel.
//!
//! After each (re)list of pods the watch reports, containers on this node
//! whose pod is no longer in the API (deleted while the kubelet was down)
//! are removed: nothing depends on what a previous kubelet process knew.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::context::Kubelet;
use crate::encoded_pod::{EncodedPod, Use};
use crate::node_watch;
use crate::sync::{self, Next, PodState};
use crate::volumes;
use crate::Error;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The handle the dispatcher keeps for a pod's worker.
pub struct WorkerHandle {
    pod: watch::Sender<Option<Arc<EncodedPod>>>,
    wake: Arc<Notify>,
    namespace: String,
    /// ConfigMaps, Secrets and claims the pod uses: ("ConfigMap", name).
    uses: Arc<HashSet<Use>>,
    generation: u64,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    pub fn abort(&self) {
        self.task.abort();
    }

    /// The newest Pod this worker was given (`None` once it was deleted),
    /// still encoded.
    pub fn pod(&self) -> Option<Arc<EncodedPod>> {
        self.pod.borrow().clone()
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
            uid = pleg.recv() => match uid {
                Ok(uid) => wake(&k, |u, _| u == uid),
                Err(broadcast::error::RecvError::Lagged(_)) => wake(&k, |_, _| true),
                Err(broadcast::error::RecvError::Closed) => return Err(Error::Runtime("runtime event stream closed".into())),
            },
            change = changes.recv() => match change {
                Ok(c) => wake(&k, |_, h| h.namespace == c.namespace && h.uses.contains(&(c.kind, c.name.clone()))),
                Err(broadcast::error::RecvError::Lagged(_)) => wake(&k, |_, _| true),
                Err(broadcast::error::RecvError::Closed) => {}
            },
            _ = resync.tick() => wake(&k, |_, _| true),
        }
    }
}

fn wake(k: &Kubelet, which: impl Fn(&str, &WorkerHandle) -> bool) {
    for (uid, handle) in k.workers.lock().unwrap().iter() {
        if which(uid, handle) {
            handle.wake.notify_one();
        }
    }
}

/// Hands the newest Pod to its worker, starting one for a new pod.
fn update(k: &Arc<Kubelet>, pod: Arc<EncodedPod>) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let mut workers = k.workers.lock().unwrap();
    if let Some(handle) = workers.get_mut(&uid) {
        handle.uses = pod.uses.clone();
        handle.pod.send_replace(Some(pod));
        return;
    }
    let (tx, rx) = watch::channel(Some(pod.clone()));
    let wake = Arc::new(Notify::new());
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let task = tokio::spawn(worker(k.clone(), uid.clone(), rx, wake.clone(), generation));
    workers.insert(
        uid,
        WorkerHandle {
            pod: tx,
            wake,
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            uses: pod.uses.clone(),
            generation,
            task,
        },
    );
}

/// The pod is gone from the API server (its deletion was confirmed, or it
/// was force-deleted): its worker cleans up.
fn deleted(k: &Kubelet, pod: &EncodedPod) {
    if let Some(uid) = &pod.metadata.uid {
        if let Some(handle) = k.workers.lock().unwrap().get(uid) {
            handle.pod.send_replace(None);
        }
    }
}

/// After a relist: workers of pods that are no longer listed clean up.
fn forget_missing(k: &Kubelet, seen: &HashSet<String>) {
    for (uid, handle) in k.workers.lock().unwrap().iter() {
        if !seen.contains(uid) {
            handle.pod.send_replace(None);
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

/// One pod's worker: sync, then wait for the pod to change, a wake-up or
/// the requeue timer; stop once the pod is gone.
async fn worker(
    k: Arc<Kubelet>,
    uid: String,
    mut pod_rx: watch::Receiver<Option<Arc<EncodedPod>>>,
    wake: Arc<Notify>,
    generation: u64,
) {
    let Some(first) = pod_rx.borrow().clone() else {
        return;
    };
    let mut state = PodState::new(&k, &*first, wake.clone());
    // The last pod synced, encoded: what a deletion terminates.
    let mut last = first;
    let mut failures = 0u32;
    loop {
        // A stopped node does nothing until it is started again.
        let _ = k.stopped.subscribe().wait_for(|stopped| !stopped).await;
        let current = pod_rx.borrow_and_update().clone();
        // Boxed: a sync's state (every step it may await, and the decoded
        // Pod, 2 KB inline) is large, and a task is allocated at its
        // future's full size for its whole life; boxed, only a syncing pod
        // holds it, not each idle one of the thousands a simulated node
        // process runs. Decoded for the sync only (`EncodedPod`).
        let result = match current {
            Some(encoded) => {
                let _slot = k.syncs.acquire().await;
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
    /// Size of the future an async fn with five arguments returns.
    fn future_size<A, B, C, D, E, F: std::future::Future>(_: fn(A, B, C, D, E) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn an_idle_workers_task_stays_small() {
        // Every pod of a simulated process holds one for its whole life;
        // the decoded Pod (2 KB inline) and the sync's state must stay in
        // the boxed future (2,952 bytes when the Pod was held here).
        let size = future_size(super::worker);
        assert!(size <= 1536, "the worker's future is {size} bytes");
    }
}
