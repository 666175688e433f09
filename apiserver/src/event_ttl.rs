//! Event TTL: Events are deleted once `--event-ttl` (default 1h) has passed
//! since they were last written, so a busy cluster's Events do not pile up.
//!
//! kube-apiserver writes every Event to etcd with a lease of that length,
//! renewed by each write; etcd removes the key when the lease runs out and
//! watchers see it DELETED. minik has no leases, so this task keeps the
//! same deadline in memory: it follows the watch hub for writes to Events
//! (the time it sees a write is the write time), and a sweep deletes, through
//! the single writer like any other delete, the Events whose deadline has
//! passed — at most [`MAX_PER_SWEEP`] per sweep, so expiring a backlog never
//! monopolises the writer.
//!
//! Where minik simplifies: deadlines are not persisted. At start-up each
//! stored Event's last write is estimated from its own timestamps
//! (`lastTimestamp`, `eventTime`, `series.lastObservedTime`,
//! `creationTimestamp`), never later than the start-up itself, so a
//! restart does not extend any Event's life past one TTL from then.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use minik_api::kinds::core::event::RESOURCE as EVENTS;
use serde_json::Value;

use crate::commit::Outcome;
use crate::hub::EventType;
use crate::AppState;

/// Most Events deleted by one sweep (they go to the writer as one batch).
pub const MAX_PER_SWEEP: usize = 500;
/// Changes read from the hub at a time.
const FETCH: usize = 1024;

/// Every Event's deadline, ordered by last write.
#[derive(Default)]
struct Deadlines {
    by_key: HashMap<Arc<str>, (Instant, u64)>,
    by_time: BTreeMap<(Instant, u64), Arc<str>>,
}

impl Deadlines {
    /// The Event at `key` was written at `revision`, at `at`.
    fn written(&mut self, key: &str, revision: u64, at: Instant) {
        if let Some((t, r)) = self.by_key.get(key).copied() {
            if r >= revision {
                return;
            }
            self.by_time.remove(&(t, r));
        }
        let key: Arc<str> = key.into();
        self.by_key.insert(key.clone(), (at, revision));
        self.by_time.insert((at, revision), key);
    }

    /// The Event at `key` was deleted at `revision`.
    fn deleted(&mut self, key: &str, revision: u64) {
        if let Some((t, r)) = self.by_key.get(key).copied() {
            if r < revision {
                self.by_key.remove(key);
                self.by_time.remove(&(t, r));
            }
        }
    }

    /// Takes out up to `max` Events last written before `cutoff`.
    fn take_expired(&mut self, cutoff: Instant, max: usize) -> Vec<(Arc<str>, u64)> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(entry) = self.by_time.first_entry() else {
                break;
            };
            if entry.key().0 > cutoff {
                break;
            }
            let ((_, revision), key) = entry.remove_entry();
            self.by_key.remove(&key);
            out.push((key, revision));
        }
        out
    }

    fn len(&self) -> usize {
        self.by_key.len()
    }
}

/// How often to sweep: often enough that an Event outlives its TTL by a
/// tenth at most (and by no more than 10 s).
fn sweep_every(ttl: Duration) -> Duration {
    (ttl / 10).clamp(Duration::from_millis(100), Duration::from_secs(10))
}

/// Runs until the server shuts down. A zero TTL turns expiry off.
pub async fn run(state: Arc<AppState>, ttl: Duration) {
    if ttl.is_zero() {
        return;
    }
    let closed = state.hub.closed();
    tokio::select! {
        _ = closed => {}
        _ = follow(&state, ttl) => {}
    }
}

async fn follow(state: &AppState, ttl: Duration) {
    let prefix = EVENTS.key_prefix();
    let mut deadlines = Deadlines::default();
    let mut last = state.writer.revision();
    load(state, &prefix, ttl, &mut deadlines);
    let mut published = state.hub.published();
    let every = sweep_every(ttl);
    let mut next_sweep = Instant::now() + every;
    loop {
        published.borrow_and_update();
        match state.hub.changes_after(last, FETCH) {
            Ok(batch) => {
                let now = Instant::now();
                for c in &batch {
                    last = c.revision;
                    if !c.key.starts_with(&prefix) {
                        continue;
                    }
                    match c.event_type {
                        EventType::Deleted => deadlines.deleted(&c.key, c.revision),
                        _ => deadlines.written(&c.key, c.revision, now),
                    }
                }
                if batch.len() == FETCH && Instant::now() < next_sweep {
                    continue;
                }
            }
            Err(_) => {
                // History moved past us (a burst of writes): read the
                // Events again; any we did not know were written just now.
                last = state.writer.revision();
                load(state, &prefix, ttl, &mut deadlines);
            }
        }
        if Instant::now() >= next_sweep {
            sweep(state, ttl, &mut deadlines).await;
            next_sweep = Instant::now() + every;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next_sweep.into()) => {}
            _ = published.changed() => {}
        }
    }
}

/// Records every stored Event not known yet, with its estimated last write.
fn load(state: &AppState, prefix: &str, ttl: Duration, deadlines: &mut Deadlines) {
    let now = Instant::now();
    let wall_now = jiff::Timestamp::now();
    let result = state.store.scan(prefix, None, &mut |key, bytes| {
        if !key.starts_with(prefix) {
            return false;
        }
        let Ok(obj) = serde_json::from_slice::<Value>(bytes) else {
            return true;
        };
        let revision = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let age = last_written(&obj)
            .and_then(|t| Duration::try_from(wall_now.duration_since(t)).ok())
            .unwrap_or_default()
            .min(ttl);
        let at = now.checked_sub(age).unwrap_or(now);
        deadlines.written(key, revision, at);
        true
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, "event TTL: cannot read stored Events");
    }
    tracing::debug!(events = deadlines.len(), "event TTL: tracking Events");
}

/// The newest of an Event's own timestamps.
fn last_written(obj: &Value) -> Option<jiff::Timestamp> {
    [
        "/lastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|p| obj.pointer(p)?.as_str()?.parse::<jiff::Timestamp>().ok())
    .max()
}

/// Deletes the Events whose TTL has run out, at most [`MAX_PER_SWEEP`].
async fn sweep(state: &AppState, ttl: Duration, deadlines: &mut Deadlines) {
    let Some(cutoff) = Instant::now().checked_sub(ttl) else {
        return;
    };
    let expired = deadlines.take_expired(cutoff, MAX_PER_SWEEP);
    if expired.is_empty() {
        return;
    }
    let count = expired.len();
    let deletes = expired.into_iter().map(|(key, revision)| {
        state.writer.mutate(
            key.to_string(),
            Box::new(move |current| {
                // Only the write we timed: one made since renews the TTL,
                // and the hub will tell us about it.
                Ok(match current {
                    Some(obj) if resource_version(&obj) == Some(revision) => Outcome::Delete,
                    Some(obj) => Outcome::Unchanged(obj),
                    None => Outcome::Unchanged(Value::Null),
                })
            }),
        )
    });
    let results = futures::future::join_all(deletes).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    tracing::debug!(count, failed, "event TTL: deleted expired Events");
}

fn resource_version(obj: &Value) -> Option<u64> {
    obj.pointer("/metadata/resourceVersion")?
        .as_str()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_the_last_write() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut d = Deadlines::default();
        d.written("/e/a", 1, t0);
        d.written("/e/b", 2, t0 + s);
        d.written("/e/a", 3, t0 + 2 * s); // a rewritten: deadline moves on
        d.written("/e/a", 2, t0); // an older write changes nothing
        let out = d.take_expired(t0 + s, 10);
        assert_eq!(out.len(), 1);
        assert_eq!(&*out[0].0, "/e/b");
        d.deleted("/e/a", 4);
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn sweeps_are_bounded() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        for i in 0..10 {
            d.written(&format!("/e/{i}"), i + 1, t0);
        }
        assert_eq!(d.take_expired(t0, 4).len(), 4);
        assert_eq!(d.len(), 6);
    }

    #[test]
    fn last_written_is_the_newest_timestamp() {
        let obj = serde_json::json!({
            "metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"},
            "lastTimestamp": "2024-01-01T00:05:00Z",
            "eventTime": null,
        });
        assert_eq!(
            last_written(&obj).unwrap().to_string(),
            "2024-01-01T00:05:00Z"
        );
    }
}
