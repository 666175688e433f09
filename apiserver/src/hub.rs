//! The watch hub: the in-memory history of recent changes and the fan-out
//! of new ones to every open watch.
//!
//! kube-apiserver serves watches from its watch cache, a ring of recent
//! events over etcd's history; minik does the same with a ring of the last
//! `capacity` events plus a broadcast channel. A watch that asks for a
//! resourceVersion older than the ring gets 410 Gone, and a watcher that
//! falls behind the channel catches up from the ring (or gets 410 if even the
//! ring has moved past it), so no event is ever silently skipped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;

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

/// One committed change to one object.
#[derive(Debug)]
pub struct Event {
    pub revision: u64,
    pub event_type: EventType,
    /// Storage key of the object (prefix-matched by watches).
    pub key: String,
    /// The object after the change; for DELETED, its last state.
    pub object: Arc<Value>,
    /// The object before the change, so a watch with a selector can tell an
    /// object that *left* the selector (seen as DELETED) from one never in it.
    pub prev: Option<Arc<Value>>,
}

/// Backlog of retained events plus a receiver for the ones to come.
pub type Subscription = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// The requested resourceVersion is older than the retained history.
#[derive(Debug)]
pub struct Expired {
    pub oldest: u64,
}

struct Ring {
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    /// Every event with a revision above this one is in `events`.
    complete_after: u64,
}

pub struct Hub {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Arc<Event>>,
    /// Flips to true when the server shuts down, ending every watch.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Hub {
    /// A hub whose history starts at `revision` (the store's revision at start-up).
    pub fn new(revision: u64, capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self {
            ring: Mutex::new(Ring {
                events: VecDeque::with_capacity(capacity),
                capacity,
                complete_after: revision,
            }),
            tx,
            closing: tokio::sync::watch::Sender::new(false),
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

    /// Records committed events (in revision order) and wakes the watches.
    pub fn publish(&self, events: Vec<Arc<Event>>) {
        let mut ring = self.ring.lock().unwrap();
        for ev in events {
            if ring.events.len() == ring.capacity {
                if let Some(old) = ring.events.pop_front() {
                    ring.complete_after = old.revision;
                }
            }
            ring.events.push_back(ev.clone());
            // No receivers is fine: nobody is watching.
            let _ = self.tx.send(ev);
        }
    }

    /// Events after `revision` still in history, and a receiver for what
    /// comes next, taken atomically so nothing falls in between.
    pub fn subscribe_after(&self, revision: u64) -> Result<Subscription, Expired> {
        let ring = self.ring.lock().unwrap();
        let backlog = Self::collect_after(&ring, revision)?;
        Ok((backlog, self.tx.subscribe()))
    }

    /// Events after `revision` (used by a watcher that lagged behind the channel).
    pub fn events_after(&self, revision: u64) -> Result<Vec<Arc<Event>>, Expired> {
        let ring = self.ring.lock().unwrap();
        Self::collect_after(&ring, revision)
    }

    fn collect_after(ring: &Ring, revision: u64) -> Result<Vec<Arc<Event>>, Expired> {
        if revision < ring.complete_after {
            return Err(Expired {
                oldest: ring.complete_after,
            });
        }
        let start = ring.events.partition_point(|e| e.revision <= revision);
        Ok(ring.events.range(start..).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(rev: u64) -> Arc<Event> {
        Arc::new(Event {
            revision: rev,
            event_type: EventType::Added,
            key: format!("/k/{rev}"),
            object: Arc::new(Value::Null),
            prev: None,
        })
    }

    #[test]
    fn history_window_and_expiry() {
        let hub = Hub::new(10, 3);
        hub.publish(vec![ev(11), ev(12)]);
        assert_eq!(hub.events_after(10).unwrap().len(), 2);
        assert_eq!(hub.events_after(11).unwrap().len(), 1);
        assert!(hub.events_after(9).is_err());
        hub.publish(vec![ev(13), ev(14)]); // evicts 11
        assert!(hub.events_after(10).is_err());
        assert_eq!(hub.events_after(11).unwrap().len(), 3);
    }

    #[tokio::test]
    async fn subscribers_see_new_events() {
        let hub = Hub::new(0, 10);
        let (backlog, mut rx) = hub.subscribe_after(0).unwrap();
        assert!(backlog.is_empty());
        hub.publish(vec![ev(1)]);
        assert_eq!(rx.recv().await.unwrap().revision, 1);
    }
}
