//! The writer: the one place that changes the store.
//!
//! Every create, update, patch and delete is sent here as a *mutation*: a
//! function from the object's current value to an [`Outcome`]. A single
//! thread applies mutations in order, so a mutation's view of "current" is
//! never stale and optimistic-concurrency checks inside it are exact (etcd
//! gets the same effect with compare-and-swap transactions). Mutations that
//! arrive together are applied as one atomic batch and made durable by one
//! flush — group commit — before any of them is acknowledged or published
//! to watches. A dedicated OS thread runs this so a flush never blocks the
//! async runtime's workers.
//!
//! After each flush the writer records the new revision in the store's
//! [`MarkerFile`] (see `store.rs` for what start-up does with it). The
//! marker's `fdatasync` would add a third to each batch's flush if paid in
//! series, so a `Recorder` thread writes batch N's marker while the writer
//! applies and flushes batch N+1. The marker never claims a revision that
//! is not durable (it is asked for only after the flush), and the writer
//! answers a batch only once the marker is within [`MAX_BATCH`] revisions
//! of it, so clients never see a revision more than that beyond the
//! marker — recovery and restore move the revision past that margin.
//!
//! Between batches the writer also takes [`Snapshot`]s: nothing writes
//! meanwhile, so a snapshot is one revision's state.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::etcd_commit::SharedWriter;
use crate::hub::{Before, Event, EventType, Hub};
use crate::store::{Marker, MarkerFile, Snapshot, Store};

/// What a mutation decided to do with the object.
pub enum Outcome {
    /// Store this object; the writer stamps `metadata.resourceVersion`.
    Put(Value),
    /// Remove the object (it must exist).
    Delete,
    /// Change nothing and answer with this object (a no-op update).
    Unchanged(Value),
}

pub type Mutation = Box<dyn FnOnce(Option<Value>) -> Result<Outcome, ApiError> + Send>;

/// The result of an applied mutation.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The object as stored (for a delete: its last state, stamped with the
    /// deletion's revision, as Kubernetes reports it in the DELETED event).
    pub object: Arc<Value>,
    /// What happened, or `None` for a no-op.
    pub event_type: Option<EventType>,
    /// `object` as JSON, when the writer stored exactly these bytes: the
    /// answer to the write can send them as they are.
    pub json: Option<Bytes>,
}

impl Committed {
    /// The stored object, owned: taken out of the `Arc` when nothing else
    /// holds it any more (the usual case once the change is published).
    pub fn into_object(self) -> Value {
        Arc::try_unwrap(self.object).unwrap_or_else(|shared| (*shared).clone())
    }
}

/// An object written earlier in the batch: what the next mutation of the
/// same key sees, and the bytes its change shares.
struct Written {
    object: Arc<Value>,
    json: Bytes,
}

struct Request {
    key: String,
    mutation: Mutation,
    reply: oneshot::Sender<Result<Committed, ApiError>>,
}

/// What the writer thread is asked to do.
enum Job {
    Mutate(Request),
    Snapshot(oneshot::Sender<Result<Snapshot, ApiError>>),
}

/// Handle to the writer: the sled writer thread, or, for an etcd store,
/// compare-and-swap transactions (`etcd_commit.rs`).
pub struct Writer {
    inner: Inner,
}

enum Inner {
    Local {
        tx: mpsc::Sender<Job>,
        applied: Arc<AtomicU64>,
    },
    Shared {
        writer: Arc<SharedWriter>,
        store: Arc<dyn Store>,
    },
}

/// Resolves once the writer thread has exited and released the store.
pub type WriterDone = oneshot::Receiver<()>;

/// Most mutations applied in one batch; bounds the latency of the first
/// one, and how far the marker may lag (each mutation takes one revision).
pub const MAX_BATCH: usize = 512;

impl Writer {
    /// Starts the writer thread. It runs until every `Writer` handle is
    /// dropped, then drops the store and resolves the returned [`WriterDone`].
    /// `objects` is how many objects the store holds (counted at start-up);
    /// the writer keeps the count in the marker.
    pub fn start(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        marker: MarkerFile,
        objects: u64,
    ) -> Result<(Self, WriterDone), ApiError> {
        let revision = store.revision()?;
        let applied = Arc::new(AtomicU64::new(revision));
        let (tx, rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = oneshot::channel();
        let applied_in_thread = applied.clone();
        std::thread::Builder::new()
            .name("minik-writer".into())
            .spawn(move || {
                let recorder = Recorder::start(marker, revision);
                let tally = Tally {
                    recorder,
                    revision,
                    objects,
                };
                run(store, hub, rx, applied_in_thread, tally);
                let _ = done_tx.send(());
            })
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok((
            Self {
                inner: Inner::Local { tx, applied },
            },
            done_rx,
        ))
    }

    /// A writer over an etcd store shared with other API servers.
    pub fn shared(writer: Arc<SharedWriter>, store: Arc<dyn Store>) -> (Self, WriterDone) {
        let (done_tx, done_rx) = oneshot::channel();
        let _ = done_tx.send(());
        (
            Self {
                inner: Inner::Shared { writer, store },
            },
            done_rx,
        )
    }

    /// Applies `mutation` to the object at `key` and waits until it is durable.
    pub async fn mutate(&self, key: String, mutation: Mutation) -> Result<Committed, ApiError> {
        let tx = match &self.inner {
            Inner::Local { tx, .. } => tx,
            Inner::Shared { writer, .. } => return writer.mutate(key, mutation).await,
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Job::Mutate(Request {
            key,
            mutation,
            reply,
        }))
        .map_err(|_| ApiError::internal("the store writer has stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("the store writer has stopped"))?
    }

    /// A consistent copy of the store, taken between two batches.
    ///
    /// Writes wait while it is copied: etcd streams its snapshot from a
    /// read transaction instead, but a minik store is a laptop cluster's
    /// few megabytes, copied in milliseconds.
    pub async fn snapshot(&self) -> Result<Snapshot, ApiError> {
        let tx = match &self.inner {
            Inner::Local { tx, .. } => tx,
            // One scan at one etcd revision (pages share it).
            Inner::Shared { store, .. } => {
                let store = store.clone();
                return tokio::task::spawn_blocking(move || Snapshot::take(&*store))
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?
                    .map_err(ApiError::from);
            }
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Job::Snapshot(reply))
            .map_err(|_| ApiError::internal("the store writer has stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("the store writer has stopped"))?
    }

    /// The newest revision applied to the store (what a list reports).
    pub fn revision(&self) -> u64 {
        match &self.inner {
            Inner::Local { applied, .. } => applied.load(Ordering::SeqCst),
            Inner::Shared { writer, .. } => writer.revision(),
        }
    }
}

/// The writer's running state, mirrored durably in the marker.
struct Tally {
    recorder: Recorder,
    revision: u64,
    objects: u64,
}

/// Writes markers on its own thread, newest first: a marker asked for
/// while another is being written replaces any older one still waiting.
struct Recorder {
    shared: Arc<(Mutex<Recording>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Recording {
    wanted: Option<Marker>,
    /// The newest revision the marker holds (or failed to: the error is
    /// logged and the writer goes on, as the data itself is durable).
    recorded: u64,
    closed: bool,
}

impl Recorder {
    fn start(mut file: MarkerFile, recorded: u64) -> Self {
        let shared = Arc::new((
            Mutex::new(Recording {
                wanted: None,
                recorded,
                closed: false,
            }),
            Condvar::new(),
        ));
        let in_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("minik-marker".into())
            .spawn(move || {
                let (lock, cvar) = &*in_thread;
                let mut state = lock.lock().unwrap();
                loop {
                    let Some(marker) = state.wanted.take() else {
                        if state.closed {
                            return;
                        }
                        state = cvar.wait(state).unwrap();
                        continue;
                    };
                    drop(state);
                    // The data is durable either way; a marker that cannot be
                    // written only weakens the next start-up's check.
                    if let Err(e) = file.write(marker) {
                        tracing::error!(error = %e, "cannot record the store marker");
                    }
                    state = lock.lock().unwrap();
                    state.recorded = marker.revision;
                    cvar.notify_all();
                }
            })
            .ok();
        Self { shared, thread }
    }

    /// Asks for `marker` to be recorded (its revision must be durable).
    fn record(&self, marker: Marker) {
        let (lock, cvar) = &*self.shared;
        lock.lock().unwrap().wanted = Some(marker);
        cvar.notify_all();
    }

    /// Waits until the marker holds at least `revision`.
    fn wait_for(&self, revision: u64) {
        if self.thread.is_none() {
            return;
        }
        let (lock, cvar) = &*self.shared;
        let state = lock.lock().unwrap();
        drop(cvar.wait_while(state, |s| s.recorded < revision).unwrap());
    }
}

impl Drop for Recorder {
    /// Writes the last marker before the store closes: a clean stop leaves it exact.
    fn drop(&mut self) {
        let (lock, cvar) = &*self.shared;
        lock.lock().unwrap().closed = true;
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    rx: mpsc::Receiver<Job>,
    applied: Arc<AtomicU64>,
    mut tally: Tally,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        // Snapshots asked for while this batch gathers are taken after it.
        let mut snapshots = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Mutate(r) => batch.push(r),
                Job::Snapshot(reply) => snapshots.push(reply),
            }
            next = if batch.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        commit_batch(&*store, &hub, &applied, &mut tally, batch);
        for reply in snapshots {
            let _ = reply.send(Snapshot::take(&*store).map_err(ApiError::from));
        }
    }
}

/// Applies one batch of mutations, flushes it, records the marker, then
/// publishes and answers.
fn commit_batch(
    store: &dyn Store,
    hub: &Hub,
    applied: &AtomicU64,
    tally: &mut Tally,
    batch: Vec<Request>,
) {
    let start_revision = tally.revision;
    let mut revision = start_revision;
    // Objects written earlier in this batch, not yet in the store.
    let mut overlay: HashMap<String, Option<Written>> = HashMap::new();
    let mut ops = Vec::new();
    let mut events = Vec::new();
    let mut replies = Vec::new();
    for req in batch {
        let stored = match overlay.get(&req.key) {
            // A second write to a key in one batch: the only copy made.
            Some(w) => Ok(w.as_ref().map(|w| (w.json.clone(), (*w.object).clone()))),
            None => read_stored(store, &req.key),
        };
        let result = stored.and_then(|stored| {
            // What the hub needs of the state before is read off it now:
            // the mutation takes the decoded object and may change it.
            let (current, before) = match stored {
                Some((json, current)) => {
                    let before = Before::of(&req.key, &current, json);
                    (Some(current), Some(before))
                }
                None => (None, None),
            };
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (req.mutation)(current)))
                .unwrap_or_else(|_| {
                    Err(ApiError::internal(
                        "a request handler panicked; nothing was written",
                    ))
                })?;
            apply_outcome(
                outcome,
                before,
                &req.key,
                &mut revision,
                &mut ops,
                &mut events,
                &mut overlay,
            )
        });
        replies.push((req.reply, result));
    }
    // The batch's objects are now held only by their events and answers.
    drop(overlay);
    if !ops.is_empty() {
        let durable = store.apply(ops, revision).and_then(|_| {
            applied.store(revision, Ordering::SeqCst);
            store.flush()
        });
        if let Err(e) = durable {
            tracing::error!(error = %e, "store write failed; rejecting the batch");
            tally.revision = store.revision().unwrap_or(start_revision);
            applied.store(tally.revision, Ordering::SeqCst);
            for (reply, _) in replies {
                let _ = reply.send(Err(ApiError::internal(e.to_string())));
            }
            return;
        }
        let added = events
            .iter()
            .filter(|e| e.event_type == EventType::Added)
            .count();
        let deleted = events
            .iter()
            .filter(|e| e.event_type == EventType::Deleted)
            .count();
        tally.revision = revision;
        tally.objects = (tally.objects + added as u64).saturating_sub(deleted as u64);
        tally.recorder.record(Marker {
            revision,
            objects: tally.objects,
        });
        // Clients may see revisions at most MAX_BATCH ahead of the marker.
        // The marker keeps up on its own (one fdatasync per batch, cheaper
        // than sled's flush), so this waits only if the disk stalls.
        tally
            .recorder
            .wait_for(revision.saturating_sub(MAX_BATCH as u64));
        hub.publish(events);
    }
    for (reply, result) in replies {
        let _ = reply.send(result);
    }
}

/// The stored object at `key`, decoded (a corrupt value is an internal error).
pub fn read(store: &dyn Store, key: &str) -> Result<Option<Value>, ApiError> {
    read_as(store, key)
}

/// The stored object at `key`, decoded only as far as `T` reads it.
pub fn read_as<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<T>, ApiError> {
    Ok(read_stored(store, key)?.map(|(_, v)| v))
}

/// The stored object at `key`: its bytes, and decoded.
fn read_stored<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<(Bytes, T)>, ApiError> {
    match store.get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(|v| Some((Bytes::from(bytes), v)))
            .map_err(|e| ApiError::internal(format!("corrupt object at {key}: {e}"))),
        None => Ok(None),
    }
}

fn apply_outcome(
    outcome: Outcome,
    before: Option<Before>,
    key: &str,
    revision: &mut u64,
    ops: &mut Vec<(String, Option<Vec<u8>>)>,
    events: &mut Vec<Arc<Event>>,
    overlay: &mut HashMap<String, Option<Written>>,
) -> Result<Committed, ApiError> {
    Ok(match outcome {
        Outcome::Unchanged(v) => Committed {
            object: Arc::new(v),
            event_type: None,
            json: None,
        },
        Outcome::Put(mut v) => {
            *revision += 1;
            v["metadata"]["resourceVersion"] = json!(revision.to_string());
            minik_api::meta::go_field_order(&mut v);
            let event_type = if before.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            };
            // Encoded once: the store, the watch line and the answer share it.
            let json = Bytes::from(serde_json::to_vec(&v).expect("JSON values serialize"));
            ops.push((key.to_string(), Some(json.to_vec())));
            let object = Arc::new(v);
            overlay.insert(
                key.to_string(),
                Some(Written {
                    object: object.clone(),
                    json: json.clone(),
                }),
            );
            events.push(Arc::new(Event {
                revision: *revision,
                event_type,
                key: key.to_string(),
                object: object.clone(),
                json: json.clone(),
                before,
            }));
            Committed {
                object,
                event_type: Some(event_type),
                json: Some(json),
            }
        }
        Outcome::Delete => {
            // The last state, decoded again from its bytes (the mutation
            // took the decoded one): deletes are few beside updates.
            let mut last = match &before {
                Some(b) => serde_json::from_slice(&b.json)
                    .map_err(|e| ApiError::internal(format!("corrupt object at {key}: {e}")))?,
                None => Value::Null,
            };
            *revision += 1;
            if last.is_object() {
                last["metadata"]["resourceVersion"] = json!(revision.to_string());
            }
            ops.push((key.to_string(), None));
            overlay.insert(key.to_string(), None);
            let json = Bytes::from(serde_json::to_vec(&last).expect("JSON values serialize"));
            let object = Arc::new(last);
            events.push(Arc::new(Event {
                revision: *revision,
                event_type: EventType::Deleted,
                key: key.to_string(),
                object: object.clone(),
                json,
                before,
            }));
            Committed {
                object,
                event_type: Some(EventType::Deleted),
                json: None,
            }
        }
    })
}
