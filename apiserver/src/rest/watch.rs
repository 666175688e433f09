//! WATCH: a stream of newline-delimited JSON events
//! (`{"type":"ADDED","object":{…}}`), as kube-apiserver serves it.
//!
//! A watch is a small state machine:
//! 1. **start** — from the requested resourceVersion, or, when none is given
//!    (or `sendInitialEvents=true`), from "now" with a synthetic ADDED
//!    event per existing object, then (if asked) a BOOKMARK annotated
//!    `k8s.io/initial-events-end`;
//! 2. **replay** — changes after the start revision still in the hub's history;
//!    a start older than that history gets HTTP 200 and one in-stream ERROR
//!    event with a 410 Expired `Status`, the form clients relist on;
//! 3. **follow** — live changes, periodic BOOKMARKs if allowed, until the
//!    client goes away or `timeoutSeconds` passes.
//!
//! Selectors apply to every event; an object that stops matching is sent as
//! DELETED and one that starts matching as ADDED, as Kubernetes does.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::Stream;
use minik_api::catalogue::ResourceInfo;
use minik_api::selectors::{FieldSelector, LabelSelector};
use minik_api::tables;
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::{partial_metadata, Ctx};
use crate::error::ApiError;
use crate::hub::{watch_line, Change, EventType, Hub};
use crate::request::Output;

/// Interval between progress BOOKMARKs on an otherwise quiet watch.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Default watch lifetime (kube-apiserver uses 30–60 minutes).
const DEFAULT_TIMEOUT_SECS: u64 = 1800;
/// Changes a watch takes from the hub at a time: all a stalled watch can
/// keep alive past their eviction from history.
const FETCH: usize = 32;
/// How long a watch from a future resourceVersion waits for it to be
/// reached before 504 (kube-apiserver's watch cache waits 3 s).
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// Which events a watch wants.
struct Filter {
    prefix: String,
    exact_key: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// The selector's terms on the kind's indexed fields (a kubelet's
    /// `spec.nodeName=<node>`, a simulated node process's
    /// `spec.nodeName!=`, the scheduler's `status.phase!=Succeeded`…), and
    /// whether they are the whole selector: then each change is judged by
    /// the values the hub kept (see `hub::Indexed`), with no decode.
    indexed: Option<(Vec<IndexedTerm>, bool)>,
}

/// A field selector's term on an indexed field: `field=value` or
/// `field!=value`, `field` being the hub's `index`th for the kind.
#[derive(Debug, PartialEq, Eq)]
struct IndexedTerm {
    index: usize,
    value: String,
    equals: bool,
}

impl IndexedTerm {
    /// Whether the indexed values of one state satisfy the term.
    fn holds(&self, values: &[Box<str>]) -> bool {
        values
            .get(self.index)
            .is_some_and(|v| (**v == *self.value) == self.equals)
    }
}

impl Filter {
    fn new(
        prefix: String,
        exact_key: Option<String>,
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> Filter {
        let indexed = crate::hub::indexed_fields(&prefix).and_then(|indexed| {
            let terms: Vec<IndexedTerm> = fields
                .requirements()
                .iter()
                .filter_map(|r| {
                    Some(IndexedTerm {
                        index: indexed.iter().position(|f| *f == r.field)?,
                        value: r.value.clone(),
                        equals: r.op == minik_api::selectors::FieldOp::Equals,
                    })
                })
                .collect();
            let whole = labels.is_empty() && terms.len() == fields.requirements().len();
            (!terms.is_empty()).then_some((terms, whole))
        });
        Filter {
            prefix,
            exact_key,
            labels,
            fields,
            indexed,
        }
    }

    fn matches(&self, obj: &Value) -> bool {
        self.fields.matches(obj) && self.labels.matches_object(obj)
    }

    fn wants_key(&self, key: &str) -> bool {
        match &self.exact_key {
            Some(k) => k == key,
            None => key.starts_with(&self.prefix),
        }
    }

    fn selects_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// The event type this watch sees for a change, if any, and the object
    /// if deciding needed it decoded.
    fn view(&self, c: &Change) -> Option<(EventType, Option<Value>)> {
        if !self.wants_key(&c.key) {
            return None;
        }
        if self.selects_everything() {
            return Some((c.event_type, None));
        }
        if let (Some((terms, whole)), Some(values)) = (&self.indexed, &c.indexed) {
            let now = terms.iter().all(|t| t.holds(&values.now));
            let before = values
                .before
                .as_deref()
                .is_some_and(|b| terms.iter().all(|t| t.holds(b)));
            if !now && !before {
                // A term fails in both states, so the selector does too.
                return None;
            }
            if *whole {
                return seen_as(c.event_type, before, now).map(|t| (t, None));
            }
        }
        let (obj, prev) = c.decode();
        let now = self.matches(&obj);
        let before = prev.as_ref().is_some_and(|p| self.matches(p));
        seen_as(c.event_type, before, now).map(|t| (t, Some(obj)))
    }
}

/// What a selecting watch sees of a change, given whether the object
/// matched its selector before the change and after: one entering the
/// selection is ADDED, one leaving it DELETED (as kube-apiserver's watch
/// cache reports them).
fn seen_as(ty: EventType, before: bool, now: bool) -> Option<EventType> {
    match ty {
        EventType::Deleted => (now || before).then_some(EventType::Deleted),
        _ => match (before, now) {
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Added),
            (true, false) => Some(EventType::Deleted),
            (false, false) => None,
        },
    }
}

/// Renders events in the negotiated shape.
struct Encoder {
    info: &'static ResourceInfo,
    output: Output,
    columns_sent: bool,
}

impl Encoder {
    /// Whether stored JSON is what this watch sends (no conversion, no Table).
    fn sends_stored(&self) -> bool {
        matches!(self.output, Output::Object)
            && std::ptr::eq(minik_api::catalogue::storage_info(self.info), self.info)
    }

    /// One change's line: the hub's shared bytes when possible.
    fn change(&mut self, ty: EventType, c: &Change, decoded: Option<Value>) -> Bytes {
        if self.sends_stored() {
            if ty == c.event_type {
                return c.line();
            }
            return watch_line(ty, &c.object_json()).0;
        }
        let obj = decoded.unwrap_or_else(|| c.decode_object());
        self.event(ty.as_str(), obj)
    }

    fn event(&mut self, ty: &str, stored: Value) -> Bytes {
        let served = minik_api::convert::from_storage(self.info, stored);
        let obj = &served;
        let object = match self.output {
            Output::Object => return line(ty, obj),
            Output::Metadata => partial_metadata(obj),
            Output::Table(include) => {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let mut t = tables::table(
                    self.info,
                    std::slice::from_ref(obj),
                    jiff::Timestamp::now(),
                    include,
                    rv,
                    None,
                );
                // Like kube-apiserver, column definitions go with the first event only.
                if self.columns_sent {
                    t["columnDefinitions"] = json!([]);
                }
                self.columns_sent = true;
                t
            }
        };
        line(ty, &object)
    }

    fn bookmark(&self, revision: u64, initial_end: bool) -> Bytes {
        let mut obj = json!({
            "kind": self.info.kind,
            "apiVersion": self.info.api_version(),
            "metadata": {"resourceVersion": revision.to_string()},
        });
        if initial_end {
            obj["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line("BOOKMARK", &obj)
    }
}

fn line(ty: &str, obj: &Value) -> Bytes {
    // Written out, not `json!`, which would copy the object first.
    let ty = Value::from(ty);
    Bytes::from(format!("{{\"type\":{ty},\"object\":{obj}}}\n"))
}

fn expired_line(message: String) -> Bytes {
    line("ERROR", &ApiError::expired(message).status())
}

/// kube-apiserver's answer to a resourceVersion it has not reached:
/// `storage.NewTooLargeResourceVersionError`, a 504 Timeout to retry.
fn too_large(requested: u64, current: u64) -> ApiError {
    let mut err = ApiError::new(
        504,
        "Timeout",
        format!("Timeout: Too large resource version: {requested}, current: {current}"),
    );
    err.details = Some(json!({
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }));
    err
}

/// Waits (briefly) until the hub has published `revision`; false if it did not.
async fn wait_until_published(hub: &Hub, revision: u64) -> bool {
    let mut published = hub.published();
    tokio::time::timeout(FRESHNESS_WAIT, published.wait_for(|r| *r >= revision))
        .await
        .is_ok_and(|r| r.is_ok())
}

pub async fn watch(ctx: Ctx) -> Result<Response, ApiError> {
    let fields = ctx.params.field_selector()?;
    let labels = ctx.params.label_selector()?;
    let exact_key = ctx.target.single_key(&fields);
    let filter = Filter::new(ctx.target.collection_prefix(), exact_key, labels, fields);
    let bookmarks = ctx.params.flag("allowWatchBookmarks");
    let send_initial = ctx.params.get("sendInitialEvents").map(|s| s == "true");
    let timeout = Duration::from_secs(
        ctx.params
            .u64("timeoutSeconds")?
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let requested = match ctx.params.get("resourceVersion") {
        None | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let hub = ctx.state.hub.clone();
    if let Some(rv) = requested {
        // A revision the server has not reached: wait a little (a write may
        // be on its way), then answer as kube-apiserver does rather than
        // accept a watch that would silently skip events up to `rv`.
        if rv > ctx.state.writer.revision() && !wait_until_published(&hub, rv).await {
            return Err(too_large(rv, ctx.state.writer.revision()));
        }
    }
    // "Get state and start at most recent" unless the client names a start.
    let synthesize = send_initial.unwrap_or(requested.is_none());
    let from = if synthesize {
        ctx.state.writer.revision()
    } else {
        requested.unwrap_or_else(|| ctx.state.writer.revision())
    };

    let enc = Encoder {
        info: ctx.target.served,
        output: ctx.output,
        columns_sent: false,
    };
    let (tx, body) = outbox(hub.clone());
    match hub.check_kind(crate::hub::kind_of(&filter.prefix), from) {
        Err(expired) => {
            let msg = format!("too old resource version: {from} ({})", expired.oldest);
            tx.push_final(expired_line(msg));
        }
        Ok(()) => {
            // The start revision was read before the list: a change racing
            // the list is replayed, and the per-key revisions below drop
            // the repeats.
            let mut initial = Vec::new();
            let mut listed: HashMap<String, u64> = HashMap::new();
            if synthesize {
                let (items, _) = super::read::select(&ctx, 0, None)?;
                for (key, obj) in items {
                    if !filter.wants_key(&key) {
                        continue;
                    }
                    let rv = obj
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    listed.insert(key, rv);
                    initial.push(obj);
                }
            }
            let initial_end = synthesize && send_initial == Some(true) && bookmarks;
            let stream = WatchStream {
                hub,
                filter,
                enc,
                bookmarks,
                last: from,
                listed,
                tx,
            };
            tokio::spawn(stream.run(initial, initial_end, timeout));
        }
    }
    Ok(Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(body))
        .expect("valid response"))
}

/// Why a watch stopped sending.
enum Stop {
    /// The client went away, or stopped reading and was cut off.
    Gone,
}

/// One open watch, following the hub.
struct WatchStream {
    hub: Arc<Hub>,
    filter: Filter,
    enc: Encoder,
    bookmarks: bool,
    /// Newest revision delivered or passed over.
    last: u64,
    /// Revisions of objects sent in the synthetic initial list.
    listed: HashMap<String, u64>,
    tx: Sender,
}

impl WatchStream {
    async fn run(mut self, initial: Vec<Value>, initial_end: bool, timeout: Duration) {
        let _ = self.follow(initial, initial_end, timeout).await;
        // Dropping `self.tx` ends the response; whatever it still buffers is
        // handed to the connection and then released.
    }

    async fn follow(
        &mut self,
        initial: Vec<Value>,
        initial_end: bool,
        timeout: Duration,
    ) -> Result<(), Stop> {
        for obj in initial {
            let l = self.enc.event("ADDED", obj);
            self.tx.send(l).await?;
        }
        if initial_end {
            let b = self.enc.bookmark(self.last, true);
            self.tx.send(b).await?;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let closed = self.hub.closed();
        tokio::pin!(closed);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        // Woken, and reading, only by changes of this watch's own kind.
        let kind = crate::hub::kind_of(&self.filter.prefix).to_string();
        let mut published = self.hub.published_kind(&kind);
        let mut bookmark_due = false;
        loop {
            // Marked seen before reading the ring: a change published after
            // this point wakes the `changed()` below.
            published.borrow_and_update();
            let (batch, through) = match self.hub.changes_of_kind_after(&kind, self.last, FETCH) {
                Ok(fetched) => fetched,
                Err(_) => {
                    // The ring moved past this watch: tell the client to relist.
                    let msg = format!("too old resource version: {}", self.last);
                    self.tx.push_final(expired_line(msg));
                    return Ok(());
                }
            };
            let caught_up = batch.is_empty();
            for c in batch {
                self.deliver(&c).await?;
            }
            self.last = self.last.max(through);
            if !caught_up {
                continue;
            }
            if bookmark_due {
                // Caught up just now, so the bookmark names the newest revision.
                bookmark_due = false;
                let b = self.enc.bookmark(self.last, false);
                self.tx.send(b).await?;
            }
            tokio::select! {
                _ = self.tx.gone() => return Err(Stop::Gone),
                _ = &mut deadline => return Ok(()),
                _ = &mut closed => return Ok(()),
                _ = ticker.tick(), if self.bookmarks => bookmark_due = true,
                changed = published.changed() => if changed.is_err() { return Ok(()) },
            }
        }
    }

    /// Sends one change if this watch wants it.
    async fn deliver(&mut self, c: &Change) -> Result<(), Stop> {
        if c.revision <= self.last {
            return Ok(());
        }
        self.last = c.revision;
        if let Some(&listed_rv) = self.listed.get(&*c.key) {
            if c.revision <= listed_rv {
                return Ok(());
            }
        }
        match self.filter.view(c) {
            Some((ty, decoded)) => {
                let l = self.enc.change(ty, c, decoded);
                self.tx.send(l).await
            }
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------
// The outbox: one watch's output buffer, bounded by bytes.
//
// kube-apiserver's watch cache gives each watcher a bounded channel and
// closes a watcher whose channel stays full ("Forcing watcher close due to
// unresponsiveness"); the client sees the stream end and re-watches or
// relists. minik does the same by bytes: a watch may queue up to
// `Limits::watcher_bytes` (a single larger line is let through alone), and
// when the buffer stays full for `Limits::stall_timeout` with nothing taken
// by the connection, the queue is dropped and the stream ends. Since
// watchers pull from the hub, a stalled one never slows the others.

#[derive(Default)]
struct Queue {
    lines: VecDeque<Bytes>,
    bytes: usize,
    /// No more lines will be added: the stream ends once `lines` is empty.
    finished: bool,
    /// Where the connection waits for the next line.
    waker: Option<Waker>,
}

struct Outbox {
    queue: Mutex<Queue>,
    /// The connection took a line (or went away): the sender may have room.
    room: Notify,
    /// Set when the connection drops the response body.
    gone: AtomicBool,
    gone_notify: Notify,
    hub: Arc<Hub>,
}

impl Outbox {
    /// Drops every queued line (their memory is released now).
    fn clear(&self, q: &mut Queue) {
        self.hub
            .gauges()
            .buffered_bytes
            .fetch_sub(q.bytes, Ordering::Relaxed);
        q.lines.clear();
        q.bytes = 0;
    }

    fn finish(&self, q: &mut Queue) {
        q.finished = true;
        if let Some(w) = q.waker.take() {
            w.wake();
        }
    }
}

/// The watch task's end of an outbox.
struct Sender(Arc<Outbox>);

/// The response body's end of an outbox.
struct BodyStream(Arc<Outbox>);

fn outbox(hub: Arc<Hub>) -> (Sender, BodyStream) {
    hub.gauges().watchers.fetch_add(1, Ordering::Relaxed);
    let o = Arc::new(Outbox {
        queue: Mutex::new(Queue::default()),
        room: Notify::new(),
        gone: AtomicBool::new(false),
        gone_notify: Notify::new(),
        hub,
    });
    (Sender(o.clone()), BodyStream(o))
}

impl Sender {
    /// Queues a line, waiting for room; a client that takes nothing for
    /// the stall timeout is cut off.
    async fn send(&self, line: Bytes) -> Result<(), Stop> {
        let o = &*self.0;
        let limits = o.hub.limits();
        loop {
            {
                let mut q = o.queue.lock().unwrap();
                if o.gone.load(Ordering::Acquire) || q.finished {
                    return Err(Stop::Gone);
                }
                if q.bytes == 0 || q.bytes + line.len() <= limits.watcher_bytes {
                    q.bytes += line.len();
                    o.hub
                        .gauges()
                        .buffered_bytes
                        .fetch_add(line.len(), Ordering::Relaxed);
                    q.lines.push_back(line);
                    if let Some(w) = q.waker.take() {
                        w.wake();
                    }
                    return Ok(());
                }
            }
            // `notify_one` keeps a permit, so progress made between the
            // check above and this wait is not missed.
            if tokio::time::timeout(limits.stall_timeout, o.room.notified())
                .await
                .is_err()
            {
                let mut q = o.queue.lock().unwrap();
                if q.bytes > 0 && q.bytes + line.len() > limits.watcher_bytes {
                    tracing::info!(
                        buffered = q.bytes,
                        "closing a watch whose client stopped reading"
                    );
                    o.clear(&mut q);
                    o.finish(&mut q);
                    o.hub.gauges().slow_closed.fetch_add(1, Ordering::Relaxed);
                    return Err(Stop::Gone);
                }
            }
        }
    }

    /// Queues a last line regardless of room (the in-stream 410 ERROR).
    fn push_final(&self, line: Bytes) {
        let mut q = self.0.queue.lock().unwrap();
        q.bytes += line.len();
        self.0
            .hub
            .gauges()
            .buffered_bytes
            .fetch_add(line.len(), Ordering::Relaxed);
        q.lines.push_back(line);
        self.0.finish(&mut q);
    }

    /// Resolves when the connection has dropped the response.
    async fn gone(&self) {
        loop {
            let notified = self.0.gone_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.0.gone.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut q = self.0.queue.lock().unwrap();
        self.0.finish(&mut q);
        drop(q);
        self.0.hub.gauges().watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let o = &*self.0;
        let mut q = o.queue.lock().unwrap();
        if let Some(line) = q.lines.pop_front() {
            q.bytes -= line.len();
            o.hub
                .gauges()
                .buffered_bytes
                .fetch_sub(line.len(), Ordering::Relaxed);
            o.room.notify_one();
            return Poll::Ready(Some(Ok(line)));
        }
        if q.finished {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        let o = &*self.0;
        let mut q = o.queue.lock().unwrap();
        o.clear(&mut q);
        drop(q);
        o.gone.store(true, Ordering::Release);
        o.room.notify_one();
        o.gone_notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Event, Limits};

    fn pod(node: Option<&str>, app: &str, rv: u64) -> Value {
        let mut p = json!({
            "metadata": {"name": "p", "namespace": "ns", "resourceVersion": rv.to_string(),
                "labels": {"app": app}},
            "spec": {},
        });
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        p
    }

    /// The hub's changes for one pod's `states`, each with the state
    /// before it (none after a deletion).
    fn pod_life(states: &[(EventType, Value)]) -> Vec<Arc<Change>> {
        let hub = Hub::new(0, Limits::default());
        let mut prev: Option<Value> = None;
        for (rev, (ty, obj)) in states.iter().enumerate() {
            hub.publish(vec![Arc::new(Event::encoded(
                rev as u64 + 1,
                *ty,
                "/registry/core/pods/ns/p".into(),
                Arc::new(obj.clone()),
                prev.replace(obj.clone()).as_ref(),
            ))]);
            if *ty == EventType::Deleted {
                prev = None;
            }
        }
        hub.changes_after(0, 10).unwrap()
    }

    /// What a pod watch with these selectors sees of each change, judged
    /// from the index and by decoding (asserted equal); with the filter, and
    /// whether any change was decoded to judge it.
    fn judged(
        changes: &[Arc<Change>],
        fields: &str,
        labels: &str,
    ) -> (Filter, Vec<Option<EventType>>, bool) {
        let filter = || {
            Filter::new(
                "/registry/core/pods/".into(),
                None,
                LabelSelector::parse(labels).unwrap(),
                FieldSelector::parse(fields).unwrap(),
            )
        };
        let (f, mut decoded) = (filter(), filter());
        decoded.indexed = None;
        let views: Vec<_> = changes.iter().map(|c| f.view(c)).collect();
        let decoding = views.iter().flatten().any(|(_, obj)| obj.is_some());
        let indexed: Vec<_> = views.into_iter().map(|v| v.map(|(t, _)| t)).collect();
        let by_decoding: Vec<_> = changes
            .iter()
            .map(|c| decoded.view(c).map(|(t, _)| t))
            .collect();
        assert_eq!(indexed, by_decoding, "{fields} {labels}");
        (f, indexed, decoding)
    }

    /// A pod's life as a kubelet's watch sees it: unbound (nothing), bound
    /// to this node (ADDED), updated (MODIFIED), moved away (DELETED),
    /// bound elsewhere and deleted (nothing); the same with a label term,
    /// and with `!=` terms. Each judged from the index and by decoding.
    #[test]
    fn a_node_watch_sees_what_the_decoded_selector_sees() {
        let changes = pod_life(&[
            (EventType::Added, pod(None, "a", 1)),
            (EventType::Modified, pod(Some("n1"), "a", 2)),
            (EventType::Modified, pod(Some("n1"), "b", 3)),
            (EventType::Modified, pod(Some("n2"), "b", 4)),
            (EventType::Deleted, pod(Some("n2"), "b", 5)),
        ]);
        let seen = |fields: &str, labels: &str| judged(&changes, fields, labels).1;
        use EventType::*;
        let by_node = seen("spec.nodeName=n1", "");
        assert_eq!(
            by_node,
            [None, Some(Added), Some(Modified), Some(Deleted), None]
        );
        let indexed = Filter::new(
            "/registry/core/pods/".into(),
            None,
            LabelSelector::everything(),
            FieldSelector::parse("spec.nodeName=n1").unwrap(),
        );
        let term = |index, value: &str, equals| IndexedTerm {
            index,
            value: value.into(),
            equals,
        };
        assert_eq!(indexed.indexed, Some((vec![term(0, "n1", true)], true)));
        assert!(
            indexed.view(&changes[1]).unwrap().1.is_none(),
            "judged without decoding"
        );
        assert_eq!(
            seen("spec.nodeName=n1", "app=b"),
            [None, None, Some(Added), Some(Deleted), None]
        );
        assert_eq!(
            seen("spec.nodeName=n2,metadata.namespace=ns", ""),
            [None, None, None, Some(Added), Some(Deleted)]
        );
        assert_eq!(
            seen("spec.nodeName=", ""),
            [Some(Added), Some(Deleted), None, None, None]
        );
        assert_eq!(
            seen("spec.nodeName!=n1", ""),
            [Some(Added), Some(Deleted), None, Some(Added), Some(Deleted)]
        );
        // Every bound pod (a simulated node process's one watch), judged
        // from the index too.
        assert_eq!(
            seen("spec.nodeName!=", ""),
            [
                None,
                Some(Added),
                Some(Modified),
                Some(Modified),
                Some(Deleted)
            ]
        );
        let bound = Filter::new(
            "/registry/core/pods/".into(),
            None,
            LabelSelector::everything(),
            FieldSelector::parse("spec.nodeName!=").unwrap(),
        );
        assert_eq!(bound.indexed, Some((vec![term(0, "", false)], true)));
        assert!(bound.view(&changes[1]).unwrap().1.is_none());
    }

    /// The scheduler's two pod watches — pending pods, and bound pods that
    /// have not finished — judged from the indexed node name and phase as
    /// decoding would judge them, over a pod's whole life.
    #[test]
    fn the_schedulers_watches_see_what_the_decoded_selectors_see() {
        let state = |node: Option<&str>, phase: Option<&str>, rv: u64| {
            let mut p = pod(node, "a", rv);
            p["spec"]["schedulerName"] = json!("default-scheduler");
            if let Some(phase) = phase {
                p["status"] = json!({"phase": phase});
            }
            p
        };
        let changes = pod_life(&[
            (EventType::Added, state(None, Some("Pending"), 1)),
            (EventType::Modified, state(Some("n1"), Some("Pending"), 2)),
            (EventType::Modified, state(Some("n1"), Some("Running"), 3)),
            (EventType::Modified, state(Some("n1"), Some("Succeeded"), 4)),
            (EventType::Deleted, state(Some("n1"), Some("Succeeded"), 5)),
            (EventType::Added, state(None, None, 6)),
            (EventType::Modified, state(None, Some("Failed"), 7)),
            (EventType::Deleted, state(None, Some("Failed"), 8)),
        ]);
        let seen = |fields: &str| {
            let (f, seen, decoding) = judged(&changes, fields, "");
            assert!(f.indexed.as_ref().is_some_and(|(_, whole)| *whole));
            assert!(!decoding, "judged without decoding: {fields}");
            seen
        };
        use EventType::*;
        assert_eq!(
            seen("spec.nodeName=,spec.schedulerName=default-scheduler,status.phase!=Succeeded,status.phase!=Failed"),
            [
                Some(Added),
                Some(Deleted),
                None,
                None,
                None,
                Some(Added),
                Some(Deleted),
                None
            ]
        );
        assert_eq!(
            seen("spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"),
            [
                None,
                Some(Added),
                Some(Modified),
                Some(Deleted),
                None,
                None,
                None,
                None
            ]
        );
    }
}
