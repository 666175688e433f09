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

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use minik_api::catalogue::ResourceInfo;
use minik_api::selectors::{FieldSelector, LabelSelector};
use minik_api::tables;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{partial_metadata, Ctx};
use crate::error::ApiError;
use crate::hub::{Event, EventType, Hub};
use crate::request::Output;

/// Interval between progress BOOKMARKs on an otherwise quiet watch.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Default watch lifetime (kube-apiserver uses 30–60 minutes).
const DEFAULT_TIMEOUT_SECS: u64 = 1800;

/// Which events a watch wants.
struct Filter {
    prefix: String,
    exact_key: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(&minik_api::meta::labels(obj)) && self.fields.matches(obj)
    }

    fn wants_key(&self, key: &str) -> bool {
        match &self.exact_key {
            Some(k) => k == key,
            None => key.starts_with(&self.prefix),
        }
    }

    /// The event type this watch sees for a change, if any.
    fn view(&self, ev: &Event) -> Option<EventType> {
        if !self.wants_key(&ev.key) {
            return None;
        }
        let now = self.matches(&ev.object);
        let before = ev.prev.as_deref().is_some_and(|p| self.matches(p));
        match ev.event_type {
            EventType::Deleted => (now || before).then_some(EventType::Deleted),
            _ => match (before, now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }
}

/// Renders events in the negotiated shape.
struct Encoder {
    info: &'static ResourceInfo,
    output: Output,
    columns_sent: bool,
}

impl Encoder {
    fn event(&mut self, ty: &str, stored: &Value) -> Bytes {
        let served = minik_api::convert::from_storage(self.info, stored.clone());
        let obj = &served;
        let object = match self.output {
            Output::Object => served.clone(),
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
    let mut s = json!({"type": ty, "object": obj}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn expired_line(message: String) -> Bytes {
    line("ERROR", &ApiError::expired(message).status())
}

pub async fn watch(ctx: Ctx) -> Result<Response, ApiError> {
    let filter = Filter {
        prefix: ctx.target.collection_prefix(),
        exact_key: ctx.target.name.as_ref().map(|_| ctx.target.key()),
        labels: ctx.params.label_selector()?,
        fields: ctx.params.field_selector()?,
    };
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
    // "Get state and start at most recent" unless the client names a start.
    let synthesize = send_initial.unwrap_or(requested.is_none());
    let from = if synthesize {
        ctx.state.writer.revision()
    } else {
        requested.unwrap_or_else(|| ctx.state.writer.revision())
    };

    let mut enc = Encoder {
        info: ctx.target.served,
        output: ctx.output,
        columns_sent: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    match ctx.state.hub.subscribe_after(from) {
        Err(expired) => {
            let msg = format!("too old resource version: {from} ({})", expired.oldest);
            tx.try_send(expired_line(msg))
                .expect("fresh channel has room");
            drop(tx);
        }
        Ok((backlog, live)) => {
            // Subscribed first, listed second: a change racing the list is
            // replayed, and the per-key revisions below drop the repeats.
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
                    initial.push(enc.event("ADDED", &obj));
                }
            }
            if synthesize && send_initial == Some(true) && bookmarks {
                initial.push(enc.bookmark(from, true));
            }
            let stream = WatchStream {
                hub: ctx.state.hub.clone(),
                filter,
                enc,
                bookmarks,
                last: from,
                listed,
                tx,
            };
            tokio::spawn(stream.run(initial, backlog, live, timeout));
        }
    }
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    Ok(Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .expect("valid response"))
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
    tx: mpsc::Sender<Bytes>,
}

impl WatchStream {
    async fn run(
        mut self,
        initial: Vec<Bytes>,
        backlog: Vec<Arc<Event>>,
        mut live: broadcast::Receiver<Arc<Event>>,
        timeout: Duration,
    ) {
        for l in initial {
            if self.tx.send(l).await.is_err() {
                return;
            }
        }
        for ev in backlog {
            if !self.deliver(&ev).await {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let closed = self.hub.closed();
        tokio::pin!(closed);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = self.tx.closed() => return,
                _ = &mut deadline => return,
                _ = &mut closed => return,
                _ = ticker.tick(), if self.bookmarks => {
                    let b = self.enc.bookmark(self.last, false);
                    if self.tx.send(b).await.is_err() { return; }
                }
                received = live.recv() => match received {
                    Ok(ev) => if !self.deliver(&ev).await { return },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the channel: catch up from history, or
                        // tell the client to relist if history moved on.
                        match self.hub.events_after(self.last) {
                            Ok(events) => for ev in events {
                                if !self.deliver(&ev).await { return }
                            },
                            Err(_) => {
                                let _ = self.tx.send(expired_line(format!("too old resource version: {}", self.last))).await;
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }

    /// Sends one event if this watch wants it; false once the client is gone.
    async fn deliver(&mut self, ev: &Event) -> bool {
        if ev.revision <= self.last {
            return true;
        }
        self.last = ev.revision;
        if let Some(&listed_rv) = self.listed.get(&ev.key) {
            if ev.revision <= listed_rv {
                return true;
            }
        }
        match self.filter.view(ev) {
            Some(ty) => self
                .tx
                .send(self.enc.event(ty.as_str(), &ev.object))
                .await
                .is_ok(),
            None => true,
        }
    }
}
