//! Per-key exponential backoff, as client-go's `flowcontrol.Backoff` that the
//! kubelet uses for restarting crashed containers (CrashLoopBackOff) and for
//! pulling images (ImagePullBackOff).
//!
//! The first failure is retried at once; each retry after that waits twice
//! as long as the previous one (10 s, 20 s, 40 s … capped at 5 min). An entry
//! expires when the next failure comes more than twice the cap after the
//! last retry: a container that ran for 10 minutes starts over at 10 s.
//!
//! Times are wall-clock `Timestamp`s because the events they are compared
//! with (a container's `finishedAt`) come from the runtime.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last_update: Timestamp,
}

/// Backoff state for many keys (container names, images).
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            entries: HashMap::new(),
        }
    }

    /// No key has backed off.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expired(&self, entry: &Entry, event: Timestamp) -> bool {
        event.duration_since(entry.last_update)
            > SignedDuration::try_from(self.max * 2).unwrap_or(SignedDuration::MAX)
    }

    /// If `key` is still backing off from a failure at `event`, how long is
    /// left (`None`: go ahead now).
    pub fn remaining(&self, key: &str, event: Timestamp, now: Timestamp) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        if self.expired(entry, event) {
            return None;
        }
        let until = event + SignedDuration::try_from(entry.delay).ok()?;
        let left = until.duration_since(now);
        (left > SignedDuration::ZERO).then(|| Duration::try_from(left).unwrap_or_default())
    }

    /// Records a retry now after a failure at `event`: doubles the delay, or
    /// starts over at the base when the entry expired.
    pub fn next(&mut self, key: &str, event: Timestamp, now: Timestamp) {
        let delay = match self.entries.get(key) {
            Some(e) if !self.expired(e, event) => (e.delay * 2).min(self.max),
            _ => self.base,
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                delay,
                last_update: now,
            },
        );
    }

    /// The current delay for `key` (the base when it never failed).
    pub fn delay(&self, key: &str) -> Duration {
        self.entries.get(key).map_or(self.base, |e| e.delay)
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops the entries last updated more than twice the cap before `now`
    /// (client-go's `Backoff.GC`, by the clock, which kubelet's pod cleanups
    /// call): the next failure of such a key starts over at the base, as it
    /// would after expiring, and a pod whose container crashed long ago can
    /// settle (`PodState::settled`).
    pub fn gc(&mut self, now: Timestamp) {
        let max = SignedDuration::try_from(self.max * 2).unwrap_or(SignedDuration::MAX);
        self.entries
            .retain(|_, e| now.duration_since(e.last_update) <= max);
    }
}

/// `10s`, `1m20s`, `5m0s`: Go's duration formatting, as kubelet's messages use it.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else if d.subsec_millis() == 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn first_failure_retries_at_once_then_doubles_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        assert_eq!(b.remaining("c", at(0), at(0)), None);
        b.next("c", at(0), at(0));
        assert_eq!(b.delay("c"), Duration::from_secs(10));
        // Crashed again 1 s after the restart: wait out the 10 s.
        assert_eq!(b.remaining("c", at(1), at(2)), Some(Duration::from_secs(9)));
        assert_eq!(b.remaining("c", at(1), at(11)), None);
        b.next("c", at(1), at(11));
        assert_eq!(b.delay("c"), Duration::from_secs(20));
        for i in 0..10 {
            b.next("c", at(12 + i), at(12 + i));
        }
        assert_eq!(b.delay("c"), Duration::from_secs(300));
    }

    #[test]
    fn resets_after_running_for_twice_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        b.next("c", at(0), at(0));
        b.next("c", at(5), at(20));
        assert_eq!(b.delay("c"), Duration::from_secs(20));
        // Next crash 11 minutes after the last restart: no backoff, base again.
        assert_eq!(b.remaining("c", at(20 + 660), at(20 + 661)), None);
        b.next("c", at(20 + 660), at(20 + 661));
        assert_eq!(b.delay("c"), Duration::from_secs(10));
    }

    #[test]
    fn expired_entries_are_dropped_and_the_next_failure_starts_over() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        b.next("old", at(0), at(0));
        b.next("old", at(5), at(20));
        b.next("new", at(400), at(400));
        b.gc(at(20 + 600));
        assert!(!b.is_empty(), "an entry still within twice the cap stays");
        assert_eq!(b.delay("old"), Duration::from_secs(20));
        b.gc(at(20 + 601));
        assert_eq!(b.delay("old"), Duration::from_secs(10), "dropped");
        assert_eq!(b.remaining("old", at(700), at(700)), None);
        b.gc(at(400 + 601));
        assert!(b.is_empty());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}
