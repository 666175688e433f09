//! The watch hub: the in-memory history of recent changes that every open
//! watch reads from.
//!
//! kube-apiserver serves watches from its watch cache, a ring of recent
//! events over etcd's history; minik does the same with a ring bounded both
//! by count (`--watch-history`) and by bytes (`--watch-history-bytes`), so
//! one large object updated many times cannot grow it without limit. A
//! watch that asks for a resourceVersion older than the ring gets 410 Gone,
//! and so does a watcher that falls so far behind that the ring moved past
//! it: no event is ever silently skipped.
//!
//! The history is also kept per kind (kube-apiserver has one watch cache per
//! resource): a watch is woken only by changes of its own kind and reads
//! only those, and it expires (410 Gone) only when changes *of its kind*
//! newer than its resourceVersion have left the history. A thousand
//! kubelets' Node watches are not woken by every pod change, and a quiet
//! kind's watch is not expired by a burst of another.
//!
//! Each change is encoded to JSON once — the writer hands over the bytes it
//! stored ([`Event::json`]) — and the same bytes (`bytes::Bytes`,
//! reference-counted) are handed to every watcher, so memory does not grow
//! with object size × history × watchers. kube-apiserver
//! gets the same effect by caching each event's serialization. Watchers
//! *pull* from the ring with a cursor (their last revision) and are woken by
//! a `watch` channel holding the newest revision; nothing is queued per
//! watcher here, so a watcher that stops reading holds no history. Its own
//! output buffer is bounded in `rest/watch.rs`.
//!
//! Where minik simplifies: the ring keeps the JSON, not the decoded object,
//! so a watch with a label or field selector (or one served as a Table or in
//! another API version) decodes each change it looks at. kube-apiserver
//! keeps decoded objects and their selectable fields instead.
//!
//! Three fields are kept beside the JSON: a pod's `spec.nodeName`,
//! `status.phase` and `spec.schedulerName`, before and after the change
//! ([`Indexed`]). Every kubelet
//! watches its own pods with `fieldSelector=spec.nodeName=<node>`, and the
//! scheduler its pending and its bound pods with `spec.nodeName` and
//! `status.phase` terms; with a thousand nodes, testing each pod change
//! against each of those watches by decoding it was half the API server's
//! CPU, and the scheduler's two watches alone still decoded every pod
//! change twice. kube-apiserver's watch cache likewise computes each
//! event's selectable fields once (`GetAttrs`) and dispatches pod events
//! by node name (`NodeNameTriggerFunc`); here a watch whose field selector
//! names only these fields compares strings and never decodes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change to one object, as the writer hands it over.
#[derive(Debug)]
pub struct Event {
    pub revision: u64,
    pub event_type: EventType,
    /// Storage key of the object (prefix-matched by watches).
    pub key: String,
    /// The object after the change; for DELETED, its last state.
    pub object: Arc<Value>,
    /// `object` as JSON: for a write, the very bytes stored, so the hub
    /// does not encode the object a second time.
    pub json: Bytes,
    /// The object before the change, so a watch with a selector can tell an
    /// object that *left* the selector (seen as DELETED) from one never in it.
    pub before: Option<Before>,
}

impl Event {
    /// An event from decoded states, encoded here (the etcd follower, tests).
    pub fn encoded(
        revision: u64,
        event_type: EventType,
        key: String,
        object: Arc<Value>,
        prev: Option<&Value>,
    ) -> Self {
        let json = Bytes::from(serde_json::to_vec(&*object).expect("JSON values serialize"));
        let before = prev.map(|p| {
            let json = serde_json::to_vec(p).expect("JSON values serialize");
            Before::of(&key, p, json.into())
        });
        Self {
            revision,
            event_type,
            key,
            object,
            json,
            before,
        }
    }
}

/// The state before a change, as much of it as the hub needs: its JSON and
/// its indexed fields. The writer reads these off the stored object before
/// handing it to the mutation, which may then change it in place: no copy
/// of the decoded object is kept for the hub.
#[derive(Debug)]
pub struct Before {
    /// As stored.
    pub json: Bytes,
    /// Its resourceVersion: if the change that wrote it is still in the
    /// ring, the hub shares that change's bytes instead.
    pub revision: Option<u64>,
    /// The kind's indexed fields (see [`INDEXED_FIELDS`]), if it has any.
    pub indexed: Option<Box<[Box<str>]>>,
}

impl Before {
    /// `state`, stored under `key` as `json`.
    pub fn of(key: &str, state: &Value, json: Bytes) -> Self {
        Self {
            json,
            revision: state
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            indexed: indexed_fields(key).map(|fields| indexed_values(state, fields)),
        }
    }
}

/// The values of `fields` in `obj`, as [`Indexed`] keeps them.
fn indexed_values(obj: &Value, fields: &[&str]) -> Box<[Box<str>]> {
    fields
        .iter()
        .map(|f| minik_api::selectors::field_value(obj, f).into())
        .collect()
}

/// The fields the hub reads out of every change of a kind, so a watch
/// selecting on them need not decode the change: key prefix and fields.
/// Pods by node, phase and scheduler: the kubelets' and the scheduler's
/// selectors.
const INDEXED_FIELDS: &[(&str, &[&str])] = &[(
    "/registry/core/pods/",
    &["spec.nodeName", "status.phase", "spec.schedulerName"],
)];

/// The indexed fields of the kind a key or a watch's key prefix (a kind's,
/// or one namespace of it) belongs to, if the kind has any.
pub fn indexed_fields(prefix: &str) -> Option<&'static [&'static str]> {
    INDEXED_FIELDS
        .iter()
        .find(|(kind, _)| prefix.starts_with(kind))
        .map(|(_, fields)| *fields)
}

/// A change's values of its kind's indexed fields (in the order of
/// [`indexed_fields`]), as field selectors read them (a missing field is
/// ""): now, and before the change when there was a before.
#[derive(Debug)]
pub struct Indexed {
    pub now: Box<[Box<str>]>,
    pub before: Option<Box<[Box<str>]>>,
}

/// A change as the hub retains it: encoded once, shared by every watcher.
#[derive(Debug)]
pub struct Change {
    pub revision: u64,
    pub event_type: EventType,
    pub key: Box<str>,
    /// The kind's indexed fields (see [`INDEXED_FIELDS`]), if it has any.
    pub indexed: Option<Indexed>,
    /// `{"type":"<event_type>","object":<object>}\n`, the watch line most
    /// watchers send as is.
    line: Bytes,
    /// Where the object's JSON sits inside `line`.
    object_at: (usize, usize),
    /// The previous state's JSON; shares the previous change's bytes when
    /// that change is still in the ring.
    prev: Option<Bytes>,
}

impl Change {
    /// The watch line for this change's own event type.
    pub fn line(&self) -> Bytes {
        self.line.clone()
    }

    /// The object's JSON (storage form).
    pub fn object_json(&self) -> Bytes {
        self.line.slice(self.object_at.0..self.object_at.1)
    }

    /// The object, decoded.
    pub fn decode_object(&self) -> Value {
        decode(&self.line[self.object_at.0..self.object_at.1])
    }

    /// The object and the state before, decoded for the one reader that
    /// asks. Not kept: a decoded pod and its previous state take ten times
    /// their JSON, and kept with the change they would stay for its whole
    /// life in the history. The readers that need a decode are few (a
    /// watch selecting on anything but a pod's node, a watch served as a
    /// Table or in another version, the API server's own followers); the
    /// thousand kubelets' `spec.nodeName` watches judge by [`Indexed`].
    pub fn decode(&self) -> (Value, Option<Value>) {
        (self.decode_object(), self.prev.as_deref().map(decode))
    }

    /// Bytes this change accounts for. A shared `prev` is counted again:
    /// the budget errs on the side of holding less.
    fn cost(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.key.len()
            + self.line.len()
            + self.prev.as_ref().map_or(0, Bytes::len)
    }
}

/// JSON the hub encoded itself, decoded.
fn decode(json: &[u8]) -> Value {
    serde_json::from_slice(json).expect("the hub encoded this JSON")
}

/// `{"type":"<ty>","object":<object_json>}\n`, and where the object sits in it.
pub fn watch_line(ty: EventType, object_json: &[u8]) -> (Bytes, (usize, usize)) {
    let head = format!("{{\"type\":\"{}\",\"object\":", ty.as_str());
    let mut b = BytesMut::with_capacity(head.len() + object_json.len() + 2);
    b.put_slice(head.as_bytes());
    let start = b.len();
    b.put_slice(object_json);
    let end = b.len();
    b.put_slice(b"}\n");
    (b.freeze(), (start, end))
}

/// How much the hub and each watch may hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most changes kept in history (`--watch-history`).
    pub changes: usize,
    /// Most bytes of encoded changes kept in history (`--watch-history-bytes`).
    pub bytes: usize,
    /// Most bytes queued for one watch whose client is not reading.
    pub watcher_bytes: usize,
    /// How long a watch's full buffer may see no progress before the watch
    /// is closed (the client then re-watches or relists).
    pub stall_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            changes: 10_000,
            bytes: 64 << 20,
            watcher_bytes: 1 << 20,
            stall_timeout: Duration::from_secs(5),
        }
    }
}

/// The requested resourceVersion is older than the retained history.
#[derive(Debug)]
pub struct Expired {
    pub oldest: u64,
}

/// What the hub holds now (for tests and benchmarks).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Changes in history.
    pub changes: usize,
    /// Bytes accounted for them.
    pub history_bytes: usize,
    /// Open watches.
    pub watchers: usize,
    /// Bytes queued in watches' output buffers, not yet taken by their connection.
    pub buffered_bytes: usize,
    /// Watches closed because their client stopped reading.
    pub slow_closed: u64,
}

/// Counters the watches keep up to date.
#[derive(Debug, Default)]
pub struct Gauges {
    pub watchers: AtomicUsize,
    pub buffered_bytes: AtomicUsize,
    pub slow_closed: AtomicU64,
}

struct Ring {
    changes: VecDeque<Arc<Change>>,
    /// The same changes by kind ([`kind_of`] their key), oldest first.
    by_kind: HashMap<Box<str>, VecDeque<Arc<Change>>>,
    bytes: usize,
    /// Every change with a revision above this one is in `changes`.
    complete_after: u64,
    /// Every change above this revision was published here: the store's
    /// revision at start-up, or the last reset.
    base: u64,
    /// Per kind, the newest revision of that kind evicted from history:
    /// every change of the kind above it (and above `base`) is still here.
    evicted: HashMap<Box<str>, u64>,
    /// Per key, the revision and JSON of its newest change still in the
    /// ring: the next change's `prev` shares these bytes.
    newest: HashMap<Box<str>, (u64, Bytes)>,
}

impl Ring {
    fn check_kind(&self, kind: &str, revision: u64) -> Result<(), Expired> {
        let floor = self.base.max(self.evicted.get(kind).copied().unwrap_or(0));
        if revision < floor {
            return Err(Expired { oldest: floor });
        }
        Ok(())
    }
}

/// The kind a storage key belongs to, as the history groups changes:
/// `/registry/<group>/<plural>/` (a key with fewer parts is its own kind).
pub fn kind_of(key: &str) -> &str {
    match key.match_indices('/').nth(3) {
        Some((at, _)) => &key[..=at],
        None => key,
    }
}

pub struct Hub {
    ring: Mutex<Ring>,
    limits: Limits,
    /// The newest published revision; the API server's own followers wait on it.
    published: tokio::sync::watch::Sender<u64>,
    /// Per kind, the newest revision of that kind: its watches wait on it.
    published_kinds: Mutex<HashMap<Box<str>, tokio::sync::watch::Sender<u64>>>,
    gauges: Gauges,
    /// Flips to true when the server shuts down, ending every watch.
    closing: tokio::sync::watch::Sender<bool>,
    /// Counters bumped when a change under their key prefix is published,
    /// for in-memory caches of a few kinds (the RBAC authorizer's policy).
    generations: Mutex<Vec<(String, Arc<AtomicU64>)>>,
}

impl Hub {
    /// A hub whose history starts at `revision` (the store's revision at start-up).
    pub fn new(revision: u64, limits: Limits) -> Self {
        Self {
            ring: Mutex::new(Ring {
                changes: VecDeque::new(),
                by_kind: HashMap::new(),
                bytes: 0,
                complete_after: revision,
                base: revision,
                evicted: HashMap::new(),
                newest: HashMap::new(),
            }),
            limits,
            published: tokio::sync::watch::Sender::new(revision),
            published_kinds: Mutex::default(),
            gauges: Gauges::default(),
            closing: tokio::sync::watch::Sender::new(false),
            generations: Mutex::default(),
        }
    }

    /// A counter that grows whenever a change under `prefix` is published:
    /// a cache built from those keys is stale once it differs.
    pub fn generation(&self, prefix: &str) -> Arc<AtomicU64> {
        let counter = Arc::new(AtomicU64::new(0));
        self.generations
            .lock()
            .unwrap()
            .push((prefix.to_string(), counter.clone()));
        counter
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn gauges(&self) -> &Gauges {
        &self.gauges
    }

    pub fn stats(&self) -> Stats {
        let ring = self.ring.lock().unwrap();
        Stats {
            changes: ring.changes.len(),
            history_bytes: ring.bytes,
            watchers: self.gauges.watchers.load(Ordering::Relaxed),
            buffered_bytes: self.gauges.buffered_bytes.load(Ordering::Relaxed),
            slow_closed: self.gauges.slow_closed.load(Ordering::Relaxed),
        }
    }

    /// Ends every open watch (server shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when the server shuts down.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// The newest published revision, and a way to wait for the next one.
    pub fn published(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// Records committed events (in revision order) and wakes the watches.
    pub fn publish(&self, events: Vec<Arc<Event>>) {
        let Some(last) = events.last().map(|e| e.revision) else {
            return;
        };
        for (prefix, counter) in self.generations.lock().unwrap().iter() {
            if events.iter().any(|e| e.key.starts_with(prefix.as_str())) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
        // Build the lines outside the lock; only `prev` needs the ring.
        let encoded: Vec<_> = events
            .into_iter()
            .map(|ev| {
                let (line, object_at) = watch_line(ev.event_type, &ev.json);
                let indexed = indexed_fields(&ev.key).map(|fields| Indexed {
                    now: indexed_values(&ev.object, fields),
                    before: ev.before.as_ref().and_then(|b| b.indexed.clone()),
                });
                (ev, line, object_at, indexed)
            })
            .collect();
        // Per kind, its newest revision here: whom to wake once the lock is gone.
        let mut newest_per_kind: HashMap<String, u64> = HashMap::new();
        let mut ring = self.ring.lock().unwrap();
        for (ev, line, object_at, indexed) in encoded {
            let prev = ev
                .before
                .as_ref()
                .map(|b| match ring.newest.get(ev.key.as_str()) {
                    Some((rev, json)) if Some(*rev) == b.revision => json.clone(),
                    _ => b.json.clone(),
                });
            let change = Arc::new(Change {
                revision: ev.revision,
                event_type: ev.event_type,
                key: ev.key.as_str().into(),
                indexed,
                line,
                object_at,
                prev,
            });
            if change.event_type == EventType::Deleted {
                ring.newest.remove(ev.key.as_str());
            } else {
                ring.newest
                    .insert(change.key.clone(), (change.revision, change.object_json()));
            }
            ring.bytes += change.cost();
            let kind = kind_of(&change.key);
            newest_per_kind.insert(kind.to_string(), change.revision);
            ring.by_kind
                .entry(kind.into())
                .or_default()
                .push_back(change.clone());
            ring.changes.push_back(change);
            // Keep at least the newest change, however large.
            while ring.changes.len() > 1
                && (ring.changes.len() > self.limits.changes || ring.bytes > self.limits.bytes)
            {
                let old = ring.changes.pop_front().expect("not empty");
                ring.bytes -= old.cost();
                ring.complete_after = old.revision;
                let kind = kind_of(&old.key);
                if let Some(of_kind) = ring.by_kind.get_mut(kind) {
                    // Evicted oldest first, so it is its kind's oldest too.
                    of_kind.pop_front();
                    if of_kind.is_empty() {
                        ring.by_kind.remove(kind);
                    }
                }
                match ring.evicted.get_mut(kind) {
                    Some(rev) => *rev = old.revision,
                    None => {
                        ring.evicted.insert(kind.into(), old.revision);
                    }
                }
                if ring
                    .newest
                    .get(&old.key)
                    .is_some_and(|(r, _)| *r == old.revision)
                {
                    ring.newest.remove(&old.key);
                }
            }
        }
        drop(ring);
        self.published.send_replace(last);
        let kinds = self.published_kinds.lock().unwrap();
        for (kind, revision) in newest_per_kind {
            if let Some(sender) = kinds.get(kind.as_str()) {
                sender.send_replace(revision);
            }
        }
    }

    /// A receiver woken whenever a change of `kind` (see [`kind_of`]) is
    /// published.
    pub fn published_kind(&self, kind: &str) -> tokio::sync::watch::Receiver<u64> {
        let mut kinds = self.published_kinds.lock().unwrap();
        // Senders of kinds nobody watches any more are let go here.
        kinds.retain(|_, sender| sender.receiver_count() > 0);
        match kinds.get(kind) {
            Some(sender) => sender.subscribe(),
            None => {
                let sender = tokio::sync::watch::Sender::new(*self.published.borrow());
                let receiver = sender.subscribe();
                kinds.insert(kind.into(), sender);
                receiver
            }
        }
    }

    /// Forgets all history: every watch older than `revision` is answered
    /// 410 Gone and relists. For an etcd store whose history was compacted
    /// before the hub could follow it.
    pub fn reset(&self, revision: u64) {
        let mut ring = self.ring.lock().unwrap();
        ring.changes.clear();
        ring.by_kind.clear();
        ring.evicted.clear();
        ring.newest.clear();
        ring.bytes = 0;
        ring.complete_after = ring.complete_after.max(revision);
        ring.base = ring.complete_after;
        drop(ring);
        // Wakes every watch, so those behind `revision` learn they expired.
        self.published.send_modify(|r| *r = (*r).max(revision));
        for sender in self.published_kinds.lock().unwrap().values() {
            sender.send_modify(|r| *r = (*r).max(revision));
        }
    }

    /// Fails if history no longer holds every change of `kind` after `revision`.
    pub fn check_kind(&self, kind: &str, revision: u64) -> Result<(), Expired> {
        let ring = self.ring.lock().unwrap();
        ring.check_kind(kind, revision)
    }

    /// Up to `max` changes of `kind` after `revision`, oldest first, and the
    /// revision up to which the history has now been read for that kind: a
    /// watch's cursor moves there even when its kind had no change, so its
    /// bookmarks stay current.
    pub fn changes_of_kind_after(
        &self,
        kind: &str,
        revision: u64,
        max: usize,
    ) -> Result<(Vec<Arc<Change>>, u64), Expired> {
        let ring = self.ring.lock().unwrap();
        ring.check_kind(kind, revision)?;
        let newest = ring
            .changes
            .back()
            .map_or(ring.complete_after, |c| c.revision)
            .max(revision);
        let Some(of_kind) = ring.by_kind.get(kind) else {
            return Ok((Vec::new(), newest));
        };
        let start = of_kind.partition_point(|c| c.revision <= revision);
        let batch: Vec<Arc<Change>> = of_kind.range(start..).take(max).cloned().collect();
        let through = if start + batch.len() < of_kind.len() {
            batch.last().map_or(revision, |c| c.revision)
        } else {
            newest
        };
        Ok((batch, through))
    }

    /// Up to `max` changes after `revision`, oldest first.
    pub fn changes_after(&self, revision: u64, max: usize) -> Result<Vec<Arc<Change>>, Expired> {
        let ring = self.ring.lock().unwrap();
        if revision < ring.complete_after {
            return Err(Expired {
                oldest: ring.complete_after,
            });
        }
        let start = ring.changes.partition_point(|c| c.revision <= revision);
        Ok(ring.changes.range(start..).take(max).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(rev: u64, key: &str, obj: Value, prev: Option<Value>) -> Arc<Event> {
        let event_type = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        Arc::new(Event::encoded(
            rev,
            event_type,
            key.into(),
            Arc::new(obj),
            prev.as_ref(),
        ))
    }

    fn added(rev: u64) -> Arc<Event> {
        ev(rev, &format!("/k/{rev}"), Value::Null, None)
    }

    fn limits(changes: usize, bytes: usize) -> Limits {
        Limits {
            changes,
            bytes,
            ..Limits::default()
        }
    }

    #[test]
    fn history_window_and_expiry() {
        let hub = Hub::new(10, limits(3, 1 << 20));
        hub.publish(vec![added(11), added(12)]);
        assert_eq!(hub.changes_after(10, 100).unwrap().len(), 2);
        assert_eq!(hub.changes_after(11, 100).unwrap().len(), 1);
        assert!(hub.changes_after(9, 100).is_err());
        hub.publish(vec![added(13), added(14)]); // evicts 11
        assert!(hub.changes_after(10, 100).is_err());
        assert_eq!(hub.changes_after(11, 100).unwrap().len(), 3);
        assert_eq!(hub.changes_after(11, 2).unwrap().len(), 2);
    }

    #[test]
    fn history_is_bounded_by_bytes() {
        let hub = Hub::new(0, limits(10_000, 256 * 1024));
        let blob = "x".repeat(32 * 1024);
        let mut prev = None;
        for rev in 1..=100u64 {
            let obj = json!({"metadata": {"resourceVersion": rev.to_string()}, "data": blob});
            hub.publish(vec![ev(rev, "/k/big", obj.clone(), prev.take())]);
            prev = Some(obj);
        }
        let stats = hub.stats();
        assert!(stats.history_bytes <= 256 * 1024, "{stats:?}");
        assert!(stats.changes >= 3, "{stats:?}");
        assert!(hub.changes_after(50, 100).is_err());
        assert!(hub.changes_after(99, 100).is_ok());
    }

    #[test]
    fn lines_and_shared_prev() {
        let hub = Hub::new(0, Limits::default());
        let a = json!({"metadata": {"resourceVersion": "1"}, "n": 1});
        let b = json!({"metadata": {"resourceVersion": "2"}, "n": 2});
        hub.publish(vec![ev(1, "/k/a", a.clone(), None)]);
        hub.publish(vec![ev(2, "/k/a", b.clone(), Some(a.clone()))]);
        let changes = hub.changes_after(0, 10).unwrap();
        let line: Value = serde_json::from_slice(&changes[1].line()).unwrap();
        assert_eq!(line, json!({"type": "MODIFIED", "object": b}));
        assert_eq!(changes[1].decode(), (b.clone(), Some(a)));
        // The second change's prev is the first change's bytes, not a copy.
        assert_eq!(
            changes[1].prev.as_ref().unwrap().as_ptr(),
            changes[0].object_json().as_ptr()
        );
    }

    #[test]
    fn kinds_of_keys() {
        assert_eq!(kind_of("/registry/core/pods/ns/p"), "/registry/core/pods/");
        assert_eq!(kind_of("/registry/core/nodes/n1"), "/registry/core/nodes/");
        assert_eq!(kind_of("/registry/core/pods/"), "/registry/core/pods/");
        assert_eq!(kind_of("/k/1"), "/k/1");
    }

    /// A burst of pod changes pushes older history out: a pod watch from
    /// before it has missed changes (410), a node watch from the same
    /// revision has not — its kind's changes are all still there.
    #[test]
    fn history_expires_per_kind() {
        let hub = Hub::new(0, limits(4, 1 << 20));
        let at = |rev: u64, key: &str| ev(rev, key, json!({}), None);
        hub.publish(vec![at(1, "/registry/core/nodes/n1")]);
        hub.publish(vec![at(2, "/registry/core/pods/ns/a")]);
        hub.publish(
            (3..=6)
                .map(|r| at(r, &format!("/registry/core/pods/ns/p{r}")))
                .collect(),
        );
        let (pods, nodes) = ("/registry/core/pods/", "/registry/core/nodes/");
        // Revisions 1 and 2 left the history.
        assert!(
            hub.changes_after(1, 10).is_err(),
            "the whole history moved on"
        );
        assert!(hub.check_kind(pods, 1).is_err(), "pod change 2 is gone");
        assert!(hub.changes_of_kind_after(pods, 1, 10).is_err());
        assert!(hub.check_kind(pods, 2).is_ok());
        // The node change left too, but a node watch from 1 missed nothing.
        let (batch, through) = hub.changes_of_kind_after(nodes, 1, 10).unwrap();
        assert!(batch.is_empty());
        assert_eq!(through, 6, "the cursor moves to the newest revision");
        assert!(
            hub.changes_of_kind_after(nodes, 0, 10).is_err(),
            "but not from 0"
        );
        let (batch, through) = hub.changes_of_kind_after(pods, 3, 2).unwrap();
        let revs: Vec<u64> = batch.iter().map(|c| c.revision).collect();
        assert_eq!(
            (revs, through),
            (vec![4, 5], 5),
            "stops where the batch ends"
        );
    }

    #[tokio::test]
    async fn a_kind_watch_is_woken_only_by_its_kind() {
        let hub = Hub::new(0, Limits::default());
        let mut nodes = hub.published_kind("/registry/core/nodes/");
        nodes.borrow_and_update();
        hub.publish(vec![ev(1, "/registry/core/pods/ns/p", json!({}), None)]);
        assert!(
            !nodes.has_changed().unwrap(),
            "a pod change does not wake it"
        );
        hub.publish(vec![ev(2, "/registry/core/nodes/n", json!({}), None)]);
        assert!(nodes.has_changed().unwrap());
        assert_eq!(*nodes.borrow_and_update(), 2);
        hub.reset(10);
        assert!(nodes.has_changed().unwrap(), "a reset wakes every watch");
    }

    #[tokio::test]
    async fn watchers_are_woken_by_new_revisions() {
        let hub = Hub::new(0, Limits::default());
        let mut rx = hub.published();
        assert_eq!(*rx.borrow_and_update(), 0);
        hub.publish(vec![added(1)]);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
    }
}
