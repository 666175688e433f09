//! Recording Kubernetes Events, the way client-go's `EventRecorder` does
//! for every component (controllers, scheduler, kubelet, proxy).
//!
//! Before an Event is written it goes through a [`Correlator`], client-go's
//! `EventCorrelator` (`tools/record/events_cache.go`), in three steps:
//! 1. **spam filter** — a token bucket per source + object (burst 25,
//!    refilled one token per 5 minutes): a flapping object cannot flood the
//!    API server; events over the limit are dropped;
//! 2. **aggregation** — events that differ only in their message (same
//!    source, object, type, reason) are "similar"; from the 10th distinct
//!    message within 10 minutes on, they are folded into one Event whose
//!    message is prefixed `(combined from similar events): `;
//! 3. **deduplication** — an event identical to one already written (same
//!    source, object and field path, type, reason, message) is not written
//!    again: the existing Event's count and last-seen time are bumped with a
//!    PATCH.
//!
//! minik writes events.k8s.io/v1 Events (what kube-rs' `Recorder` writes and
//! `kubectl events` reads): a repeat sets `series.count` /
//! `series.lastObservedTime` and, for core/v1 readers, `deprecatedCount` /
//! `deprecatedLastTimestamp` (core `count` / `lastTimestamp`). A PATCH of an
//! Event that has meanwhile expired creates it again, as client-go does.
//!
//! Writing an Event never fails the action it describes: failures are
//! logged. Where minik simplifies: client-go's LRU caches are bounded maps
//! that drop their least recently used quarter when full.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
pub use kube::runtime::events::EventType;
use serde_json::json;

use crate::errors;

/// Entries each correlator cache holds (client-go's `maxLruCacheEntries`).
const CACHE_ENTRIES: usize = 4096;
/// Distinct messages of similar events before they are combined.
const AGGREGATE_MAX_EVENTS: usize = 10;
/// How long similar events are remembered for aggregation.
const AGGREGATE_INTERVAL: Duration = Duration::from_secs(600);
/// Events a source may send about one object at once.
const SPAM_BURST: f64 = 25.0;
/// Tokens refilled per second: one every 5 minutes.
const SPAM_QPS: f64 = 1.0 / 300.0;
/// Longest note the API accepts (events.k8s.io `NoteLengthLimit`).
const NOTE_LIMIT: usize = 1024;
/// Prefix of an aggregated event's message.
pub const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// Writes Events as one component (`reportingController`, and
/// `reportingInstance` such as the node name). Cheap to clone; clones share
/// the correlator, and so do recorders made with [`EventRecorder::for_instance`].
#[derive(Clone)]
pub struct EventRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    controller: String,
    instance: String,
    correlator: Arc<Mutex<Correlator>>,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (e.g. "replicaset-controller",
    /// "kubelet"); `instance` defaults to the controller name.
    pub fn new(client: kube::Client, controller: &str, instance: Option<&str>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                controller: controller.to_string(),
                instance: instance.unwrap_or(controller).to_string(),
                correlator: Default::default(),
            }),
        }
    }

    /// A recorder for another instance of the same component that shares
    /// this one's correlator: a simulated kubelet's nodes. Each real
    /// kubelet has a correlator of its own; with one per simulated node, a
    /// 1,000-node process held 377–390 MB at 10,100 pods, and 326–350 MB
    /// sharing one (the caches key every entry by strings, for events that
    /// are mostly one-offs: Pulled, Created, Started). Shared, the caches
    /// stay bounded at one kubelet's size, and an entry is forgotten
    /// sooner: a repeat after that is written as a new Event instead of
    /// counted on the old one.
    pub fn for_instance(&self, instance: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                client: self.inner.client.clone(),
                controller: self.inner.controller.clone(),
                instance: instance.to_string(),
                correlator: self.inner.correlator.clone(),
            }),
        }
    }

    /// Records an Event about `regarding` whose action is its reason.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        self.publish_action(regarding, type_, reason, reason, note)
            .await
    }

    /// Records an Event about `regarding`; failures are logged.
    pub async fn publish_action(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        self.publish_related(regarding, None, type_, reason, action, note)
            .await
    }

    /// Records an Event about `regarding` whose other party is `related`
    /// (events.k8s.io's `related`): the pod a ReplicaSet created, the
    /// ReplicaSet a Deployment scaled, the Node a pod was bound to or
    /// evicted from — so a reader (`miniktl why`, the dashboard's feed)
    /// can follow a decision to both objects.
    pub async fn publish_related(
        &self,
        regarding: &ObjectReference,
        related: Option<&ObjectReference>,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        self.publish_at(
            regarding,
            related,
            type_,
            reason,
            action,
            note,
            BTreeMap::new(),
            Timestamp::now(),
        )
        .await
    }

    /// Records an Event about `regarding` from a task of its own, so the
    /// caller never waits; its time is taken now, so events recorded one
    /// after another keep their order however their writes race (the
    /// kubelet's Pulled, Created, Started).
    pub fn spawn_publish(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: String,
        note: String,
    ) {
        let (recorder, at) = (self.clone(), Timestamp::now());
        tokio::spawn(async move {
            recorder
                .publish_at(
                    &regarding,
                    None,
                    type_,
                    &reason,
                    &reason,
                    note,
                    BTreeMap::new(),
                    at,
                )
                .await
        });
    }

    /// [`Self::publish_related`] for something that happened `at` (a
    /// writer that queues Events stamps them when they happen, so they
    /// sort among other components' Events as they happened), with
    /// `annotations` on the Event object: data a reader can use beyond the
    /// note's 1 KB of text (the scheduler's decision table). A repeat of
    /// the Event replaces them.
    #[allow(clippy::too_many_arguments)]
    pub async fn publish_at(
        &self,
        regarding: &ObjectReference,
        related: Option<&ObjectReference>,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
        annotations: BTreeMap<String, String>,
        at: Timestamp,
    ) {
        let note = truncate(note);
        let type_ = match type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let key = EventKey {
            controller: self.inner.controller.clone(),
            instance: self.inner.instance.clone(),
            object: ObjectKey::of(regarding),
            type_: type_.to_string(),
            reason: reason.to_string(),
        };
        let decision = self.inner.correlator.lock().unwrap().correlate(
            &key,
            &regarding.field_path,
            &note,
            Instant::now(),
        );
        let result = match decision {
            Decision::Drop => {
                tracing::debug!(reason, "event dropped by the spam filter");
                return;
            }
            Decision::Write { name, count, note } => {
                let what = What {
                    related,
                    type_,
                    reason,
                    action,
                    annotations,
                    at,
                };
                self.write(regarding, &what, &name, count, note).await
            }
        };
        if let Err(error) = result {
            tracing::warn!(reason, %error, "cannot record event");
        }
    }

    /// Creates the Event (`count` 1) or bumps its count (PATCH); a PATCH of
    /// an Event gone meanwhile creates it, a create that finds it patches.
    async fn write(
        &self,
        regarding: &ObjectReference,
        what: &What<'_>,
        name: &str,
        count: i32,
        note: String,
    ) -> Result<(), kube::Error> {
        let annotations = (!what.annotations.is_empty()).then(|| what.annotations.clone());
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<Event> = Api::namespaced(self.inner.client.clone(), namespace);
        let now = what.at;
        let patch = || {
            json!({
                "metadata": {"annotations": annotations},
                "note": note,
                "series": {"count": count, "lastObservedTime": MicroTime(now)},
                "deprecatedCount": count,
                "deprecatedLastTimestamp": Time(now),
            })
        };
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                annotations: annotations.clone(),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(what.action.to_string()),
            reason: Some(what.reason.to_string()),
            note: Some(note.clone()),
            regarding: Some(regarding.clone()),
            related: what.related.cloned(),
            reporting_controller: Some(self.inner.controller.clone()),
            reporting_instance: Some(self.inner.instance.clone()),
            type_: Some(what.type_.to_string()),
            ..Default::default()
        };
        // Two writers of one Event (a create still in flight when its repeat
        // is patched) settle within a few rounds.
        let mut create = count == 1;
        for _ in 0..3 {
            let result = if create {
                api.create(&PostParams::default(), &event).await.map(drop)
            } else {
                api.patch(name, &PatchParams::default(), &Patch::Merge(patch()))
                    .await
                    .map(drop)
            };
            match result {
                Err(e) if create && errors::is_already_exists(&e) => create = false,
                Err(e) if !create && errors::is_not_found(&e) => create = true,
                other => return other,
            }
        }
        Ok(())
    }
}

/// What an Event says besides its object, name, count and note.
struct What<'a> {
    related: Option<&'a ObjectReference>,
    type_: &'a str,
    reason: &'a str,
    action: &'a str,
    annotations: BTreeMap<String, String>,
    /// When it happened (taken when it was recorded, not when written).
    at: Timestamp,
}

/// kube's limit on notes: at most 1024 bytes, cut at a character boundary
/// and ending in " ..." (kube-scheduler's `truncateMessage`).
pub fn truncate(note: String) -> String {
    if note.len() <= NOTE_LIMIT {
        return note;
    }
    let mut cut = NOTE_LIMIT - " ...".len();
    while !note.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ...", &note[..cut])
}

/// The object an event is about, as the correlator keys it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjectKey {
    api_version: String,
    kind: String,
    namespace: String,
    name: String,
    uid: String,
}

impl ObjectKey {
    fn of(r: &ObjectReference) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            api_version: s(&r.api_version),
            kind: s(&r.kind),
            namespace: s(&r.namespace),
            name: s(&r.name),
            uid: s(&r.uid),
        }
    }
}

/// Source, object, type and reason: what similar events share (client-go's
/// `EventAggregatorByReasonFunc` key). The spam filter keys on source and
/// object only; deduplication adds field path and message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventKey {
    controller: String,
    instance: String,
    object: ObjectKey,
    type_: String,
    reason: String,
}

/// What to do with one event.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Over the spam limit: not written.
    Drop,
    /// Write Event `name`: create it when `count` is 1, else bump it to `count`.
    Write {
        name: String,
        count: i32,
        note: String,
    },
}

/// client-go's `EventCorrelator`: spam filter, aggregator and
/// deduplication, with their caches. Pure: the clock is an argument.
#[derive(Default)]
pub struct Correlator {
    spam: Lru<(String, String, ObjectKey), TokenBucket>,
    similar: Lru<EventKey, Similar>,
    written: Lru<(EventKey, Option<String>, String), Written>,
}

struct TokenBucket {
    tokens: f64,
    refilled: Instant,
}

/// The distinct messages of similar events seen lately.
struct Similar {
    messages: HashSet<String>,
    last: Instant,
}

/// An Event already written: its name and count.
struct Written {
    name: String,
    count: i32,
}

impl Correlator {
    /// Decides what becomes of an event with `key`, `field_path` and `note` at `now`.
    pub fn correlate(
        &mut self,
        key: &EventKey,
        field_path: &Option<String>,
        note: &str,
        now: Instant,
    ) -> Decision {
        // 1. Spam filter, per source + object.
        let spam_key = (
            key.controller.clone(),
            key.instance.clone(),
            key.object.clone(),
        );
        let bucket = self.spam.get_or_insert_with(spam_key, || TokenBucket {
            tokens: SPAM_BURST,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * SPAM_QPS).min(SPAM_BURST);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return Decision::Drop;
        }
        bucket.tokens -= 1.0;

        // 2. Aggregation of similar events (same key, other messages).
        let similar = self.similar.get_or_insert_with(key.clone(), || Similar {
            messages: HashSet::new(),
            last: now,
        });
        if now.saturating_duration_since(similar.last) > AGGREGATE_INTERVAL {
            similar.messages.clear();
        }
        similar.messages.insert(note.to_string());
        similar.last = now;
        let (dedup_key, note) = if similar.messages.len() < AGGREGATE_MAX_EVENTS {
            (
                (key.clone(), field_path.clone(), note.to_string()),
                note.to_string(),
            )
        } else {
            // Keep the set from growing; one combined Event per key from now on.
            if let Some(any) = similar.messages.iter().next().cloned() {
                similar.messages.remove(&any);
            }
            (
                (key.clone(), None, String::new()),
                truncate(format!("{COMBINED_PREFIX}{note}")),
            )
        };

        // 3. Deduplication: a repeat bumps the Event already written.
        let written = self.written.get_or_insert_with(dedup_key, || Written {
            name: event_name(&key.object.name, &key.controller),
            count: 0,
        });
        written.count += 1;
        Decision::Write {
            name: written.name.clone(),
            count: written.count,
            note,
        }
    }
}

/// `<object>.<hex nanoseconds>`, the name client-go and kube-rs give Events.
fn event_name(object: &str, controller: &str) -> String {
    let base = if object.is_empty() {
        controller
    } else {
        object
    };
    format!("{base}.{:x}", Timestamp::now().as_nanosecond())
}

/// A map bounded to [`CACHE_ENTRIES`]: when full, the least recently used
/// quarter goes.
struct Lru<K, V> {
    entries: HashMap<K, (V, u64)>,
    tick: u64,
}

impl<K, V> Default for Lru<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            tick: 0,
        }
    }
}

impl<K: Eq + Hash + Clone, V> Lru<K, V> {
    fn get_or_insert_with(&mut self, key: K, new: impl FnOnce() -> V) -> &mut V {
        self.tick += 1;
        if !self.entries.contains_key(&key) && self.entries.len() >= CACHE_ENTRIES {
            let mut ticks: Vec<u64> = self.entries.values().map(|(_, t)| *t).collect();
            ticks.sort_unstable();
            let cutoff = ticks[CACHE_ENTRIES / 4];
            self.entries.retain(|_, (_, t)| *t > cutoff);
        }
        let tick = self.tick;
        let entry = self.entries.entry(key).or_insert_with(|| (new(), tick));
        entry.1 = tick;
        &mut entry.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reason: &str) -> EventKey {
        EventKey {
            controller: "replicaset-controller".into(),
            instance: "replicaset-controller".into(),
            object: ObjectKey {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                namespace: "default".into(),
                name: "web".into(),
                uid: "u1".into(),
            },
            type_: "Normal".into(),
            reason: reason.into(),
        }
    }

    fn write(d: Decision) -> (String, i32, String) {
        match d {
            Decision::Write { name, count, note } => (name, count, note),
            Decision::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn a_repeat_bumps_the_count_of_the_same_event() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let (a, n, _) = write(c.correlate(&key("SuccessfulCreate"), &None, "Created pod: a", now));
        assert_eq!(n, 1);
        let (b, n, _) = write(c.correlate(&key("SuccessfulCreate"), &None, "Created pod: b", now));
        assert_ne!(a, b, "another message is another Event");
        assert_eq!(n, 1);
        let (again, n, _) =
            write(c.correlate(&key("SuccessfulCreate"), &None, "Created pod: a", now));
        assert_eq!((again, n), (a, 2));
    }

    #[test]
    fn similar_events_are_combined_from_the_tenth_message() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let mut names = HashSet::new();
        for i in 0..9 {
            let (name, n, note) =
                write(c.correlate(&key("SuccessfulCreate"), &None, &format!("pod {i}"), now));
            assert_eq!((n, note), (1, format!("pod {i}")));
            names.insert(name);
        }
        let (combined, n, note) = write(c.correlate(&key("SuccessfulCreate"), &None, "pod 9", now));
        assert_eq!(n, 1);
        assert_eq!(note, format!("{COMBINED_PREFIX}pod 9"));
        assert!(!names.contains(&combined));
        let (same, n, note) = write(c.correlate(&key("SuccessfulCreate"), &None, "pod 10", now));
        assert_eq!((same, n), (combined, 2));
        assert_eq!(note, format!("{COMBINED_PREFIX}pod 10"));
        // Another reason is not similar.
        let (_, n, note) = write(c.correlate(&key("SuccessfulDelete"), &None, "pod 0", now));
        assert_eq!((n, note.as_str()), (1, "pod 0"));
        // Ten minutes later the similar messages are forgotten.
        let later = now + AGGREGATE_INTERVAL + Duration::from_secs(1);
        let (_, _, note) = write(c.correlate(&key("SuccessfulCreate"), &None, "pod 11", later));
        assert_eq!(note, "pod 11");
    }

    #[test]
    fn the_spam_filter_allows_a_burst_of_25_then_one_per_five_minutes() {
        let mut c = Correlator::default();
        let now = Instant::now();
        for _ in 0..25 {
            assert_ne!(
                c.correlate(&key("Unhealthy"), &None, "probe failed", now),
                Decision::Drop
            );
        }
        assert_eq!(
            c.correlate(&key("BackOff"), &None, "back-off", now),
            Decision::Drop
        );
        let later = now + Duration::from_secs(300);
        assert_ne!(
            c.correlate(&key("Unhealthy"), &None, "probe failed", later),
            Decision::Drop
        );
        assert_eq!(
            c.correlate(&key("Unhealthy"), &None, "probe failed", later),
            Decision::Drop
        );
    }

    #[tokio::test]
    async fn instances_of_one_component_share_its_correlator() {
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let kubelet = EventRecorder::new(kube::Client::try_from(config).unwrap(), "kubelet", None);
        let node = kubelet.for_instance("node-2");
        assert!(Arc::ptr_eq(
            &kubelet.inner.correlator,
            &node.inner.correlator
        ));
        assert_eq!(node.inner.controller, "kubelet");
        assert_eq!(node.inner.instance, "node-2");
        // Its events are still the node's own to the correlator: the
        // instance is part of every key.
        let mut c = node.inner.correlator.lock().unwrap();
        let now = Instant::now();
        let mut other = key("Pulled");
        other.instance = "node-3".into();
        let count = |d: Decision| match d {
            Decision::Write { count, .. } => count,
            Decision::Drop => 0,
        };
        assert_eq!(count(c.correlate(&key("Pulled"), &None, "pulled", now)), 1);
        assert_eq!(count(c.correlate(&other, &None, "pulled", now)), 1);
        assert_eq!(count(c.correlate(&key("Pulled"), &None, "pulled", now)), 2);
    }

    #[test]
    fn long_notes_are_cut_like_kube_does() {
        let t = truncate("x".repeat(2000));
        assert_eq!(t.len(), NOTE_LIMIT);
        assert!(t.ends_with(" ..."));
        assert_eq!(truncate("short".into()), "short");
    }
}
