//! The decision feed: the newest [`FEED_LENGTH`] events.k8s.io Events,
//! compact, kept from a watch of Events that caches nothing else.
//!
//! Every other kind the dashboard shows is an informer cache
//! ([`crate::model`]); Events are not. A cluster records about four a pod
//! and the page shows only the newest 500: at 30,000 pods a cache of every
//! Event was most of the dashboard's memory. The `why` trace, which needs
//! a namespace's Events, lists them from the API server when asked
//! ([`crate::trace`]), as `miniktl why` does.
//!
//! Each change is still a delta to the open pages (a put, or a del when an
//! Event is deleted), so a page sees every decision as it is recorded. A
//! relist (at start, after a failed or expired watch) rebuilds the feed
//! from the listed Events and sends what changed: puts for the new feed,
//! dels for Events it no longer holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{watcher, WatchStreamExt};
use minik_client::informer::{typed, OnUndecodable};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use crate::compact;
use crate::model::{del_delta, put_delta, send};

/// How many Events a snapshot carries (the newest); the page keeps as many.
pub const FEED_LENGTH: usize = 500;

/// The newest Events, compact, shared by the watch and the snapshots.
/// The watch stops when the feed is dropped (as the informers stop with
/// their factory).
#[derive(Default)]
pub struct EventFeed {
    newest: Mutex<Newest>,
    watch: OnceLock<AbortHandle>,
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.get() {
            watch.abort();
        }
    }
}

impl EventFeed {
    /// Starts the watch of every Event; its changes go to `deltas`.
    pub fn start(client: kube::Client, deltas: broadcast::Sender<Arc<str>>) -> Arc<Self> {
        let feed = Arc::new(Self::default());
        // Watched untyped and decoded one Event at a time, as the informers
        // do: one Event that does not decode is left out, not the feed.
        let api = Api::<DynamicObject>::all_with(client, &ApiResource::erase::<Event>(&()));
        let on_error: OnUndecodable = Arc::new(|obj, error| {
            let name = obj.metadata.name.unwrap_or_default();
            tracing::warn!(event = %name, %error, "an Event did not decode; not in the feed");
            async {}.boxed()
        });
        let source = typed::<Event>(watcher(api, watcher::Config::default()), on_error);
        // The task holds the feed only weakly: dropping the model ends it.
        let weak = Arc::downgrade(&feed);
        let task = tokio::spawn(async move {
            let source = source.default_backoff();
            EventFeed::follow(weak, source, deltas).await;
        });
        let _ = feed.watch.set(task.abort_handle());
        feed
    }

    /// The feed, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.newest.lock().unwrap().events()
    }

    async fn follow(
        feed: Weak<Self>,
        source: impl Stream<Item = Result<watcher::Event<Event>, watcher::Error>>,
        deltas: broadcast::Sender<Arc<str>>,
    ) {
        let mut source = std::pin::pin!(source);
        // The feed of a list in progress; it replaces the feed when done.
        let mut listing = Newest::default();
        while let Some(event) = source.next().await {
            let Some(feed) = feed.upgrade() else {
                return;
            };
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    // The stream backs off and relists by itself.
                    tracing::warn!(%error, "Event watch failed; relisting");
                    continue;
                }
            };
            let sent: Vec<Value> = match event {
                watcher::Event::Init => {
                    listing = Newest::default();
                    Vec::new()
                }
                watcher::Event::InitApply(e) => {
                    listing.put(compact::event(&e));
                    Vec::new()
                }
                watcher::Event::InitDone => {
                    let listed = std::mem::take(&mut listing);
                    let mut newest = feed.newest.lock().unwrap();
                    let gone = newest
                        .time_of
                        .keys()
                        .filter(|id| !listed.time_of.contains_key(*id))
                        .map(|id| del_delta("ev", id));
                    let put = listed.by_time.values().cloned().map(put_delta);
                    let sent = gone.chain(put).collect();
                    *newest = listed;
                    sent
                }
                watcher::Event::Apply(e) => {
                    let o = compact::event(&e);
                    feed.newest.lock().unwrap().put(o.clone());
                    vec![put_delta(o)]
                }
                watcher::Event::Delete(e) => {
                    let id = compact::id(&e);
                    feed.newest.lock().unwrap().remove(&id);
                    vec![del_delta("ev", &id)]
                }
            };
            for delta in sent {
                send(&deltas, delta);
            }
        }
    }
}

/// The newest [`FEED_LENGTH`] compact Events by their latest occurrence.
#[derive(Default)]
struct Newest {
    /// Ordered by (time, id): the first entry is the oldest kept.
    by_time: BTreeMap<(String, String), Value>,
    /// Each kept Event's time, to find its entry when it changes.
    time_of: HashMap<String, String>,
}

impl Newest {
    /// Keeps a compact Event (replacing its earlier state) if it is among
    /// the newest; drops the oldest past [`FEED_LENGTH`].
    fn put(&mut self, event: Value) {
        let id = event["id"].as_str().unwrap_or_default().to_string();
        let time = event["time"].as_str().unwrap_or_default().to_string();
        self.remove(&id);
        self.by_time.insert((time.clone(), id.clone()), event);
        self.time_of.insert(id, time);
        while self.by_time.len() > FEED_LENGTH {
            if let Some(((_, id), _)) = self.by_time.pop_first() {
                self.time_of.remove(&id);
            }
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some((key, time)) = self.time_of.remove_entry(id) {
            self.by_time.remove(&(time, key));
        }
    }

    fn events(&self) -> Vec<Value> {
        self.by_time.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, time: &str) -> Value {
        json!({"k": "ev", "id": id, "time": time, "reason": id})
    }

    fn ids(n: &Newest) -> Vec<String> {
        n.events()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn keeps_the_newest_in_time_order() {
        let mut n = Newest::default();
        // Arriving out of order, more than the feed holds.
        for i in (0..FEED_LENGTH + 10).rev() {
            n.put(event(
                &format!("ns/e{i:04}"),
                &format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
            ));
        }
        let kept = ids(&n);
        assert_eq!(kept.len(), FEED_LENGTH);
        assert_eq!(kept.first().unwrap(), "ns/e0010");
        assert_eq!(kept.last().unwrap(), &format!("ns/e{:04}", FEED_LENGTH + 9));
        assert_eq!(n.time_of.len(), FEED_LENGTH);
    }

    #[test]
    fn a_repeated_event_moves_to_its_new_time_and_a_deleted_one_goes() {
        let mut n = Newest::default();
        n.put(event("ns/a", "2026-01-01T00:00:01Z"));
        n.put(event("ns/b", "2026-01-01T00:00:02Z"));
        // `a` recurs (its series' lastObservedTime moves on).
        n.put(event("ns/a", "2026-01-01T00:00:03Z"));
        assert_eq!(ids(&n), ["ns/b", "ns/a"]);
        n.remove("ns/b");
        n.remove("ns/never-kept");
        assert_eq!(ids(&n), ["ns/a"]);
        assert_eq!(n.time_of.len(), 1);
    }

    fn typed_event(name: &str, second: u32) -> Event {
        serde_json::from_value(json!({
            "metadata": {"namespace": "ns", "name": name},
            "eventTime": format!("2026-01-01T00:00:{second:02}.000000Z"),
            "reason": "Scheduled",
        }))
        .unwrap()
    }

    /// A relist replaces the feed and tells the pages what left it; watch
    /// changes after it are put and deleted one by one.
    #[tokio::test]
    async fn follows_lists_and_changes_with_deltas() {
        let feed = Arc::new(EventFeed::default());
        feed.newest
            .lock()
            .unwrap()
            .put(event("ns/before", "2026-01-01T00:00:00Z"));
        let (deltas, mut rx) = broadcast::channel(64);
        let stream = futures::stream::iter([
            watcher::Event::Init,
            watcher::Event::InitApply(typed_event("a", 1)),
            watcher::Event::InitApply(typed_event("b", 2)),
            watcher::Event::InitDone,
            watcher::Event::Apply(typed_event("c", 3)),
            watcher::Event::Delete(typed_event("a", 1)),
        ])
        .map(Ok);
        EventFeed::follow(Arc::downgrade(&feed), stream, deltas).await;
        let feed_ids: Vec<Value> = feed.events().iter().map(|e| e["id"].clone()).collect();
        assert_eq!(feed_ids, [json!("ns/b"), json!("ns/c")]);
        let mut sent = Vec::new();
        while let Ok(d) = rx.try_recv() {
            let d: Value = serde_json::from_str(&d).unwrap();
            let id = d["id"]
                .as_str()
                .or(d["o"]["id"].as_str())
                .unwrap()
                .to_string();
            sent.push(format!("{} {id}", d["op"].as_str().unwrap()));
        }
        assert_eq!(
            sent,
            [
                "del ns/before",
                "put ns/a",
                "put ns/b",
                "put ns/c",
                "del ns/a"
            ]
        );
    }

    /// A dropped feed's watch ends at its next event and sends nothing.
    #[tokio::test]
    async fn a_dropped_feed_stops_following() {
        let feed = Arc::new(EventFeed::default());
        let weak = Arc::downgrade(&feed);
        drop(feed);
        let (deltas, mut rx) = broadcast::channel(4);
        let stream = futures::stream::iter([watcher::Event::Apply(typed_event("a", 1))])
            .chain(futures::stream::pending())
            .map(Ok);
        EventFeed::follow(weak, stream, deltas).await;
        assert!(rx.try_recv().is_err());
    }
}
