//! The scheduling queue: which pending pod to try next, and when a pod that
//! failed may be tried again.
//!
//! Mirrors kube-scheduler's `PriorityQueue` (`backend/queue`), before
//! queueing hints:
//! - **activeQ** — pods ready to be tried, highest `spec.priority` first,
//!   then in arrival order;
//! - **backoffQ** — pods waiting out their backoff after a failure: 1 s
//!   after the first attempt, doubling per attempt up to 10 s
//!   (`podInitialBackoffSeconds` / `podMaxBackoffSeconds`);
//! - **unschedulablePods** — pods no node fits. They are not retried on a
//!   timer but when the cluster changes in a way that could help (a node
//!   added or changed, an assigned pod deleted: [`SchedulingQueue::move_all`]),
//!   going to backoffQ if still backing off, else straight to activeQ; and
//!   as a safety net after 5 minutes (`podMaxInUnschedulablePodsDuration`).
//!
//! A pod that fails in a cycle during which such a change arrived goes to
//! backoffQ instead of unschedulablePods (kube's `moveRequestCycle`): the
//! change may be exactly what it was missing.
//!
//! The heaps hold (key, generation) items and are cleaned lazily: an item
//! whose pod has since moved, been deleted or been re-added is skipped.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Backoff,
    Unschedulable,
    /// Popped: being scheduled or bound. Leaves the queue when the pod stops
    /// being pending, or comes back through `requeue_*` if it fails.
    InFlight,
}

#[derive(Debug)]
struct Entry {
    priority: i32,
    attempts: u32,
    last_failure: Option<Instant>,
    state: State,
    generation: u64,
}

struct ActiveItem<K> {
    priority: i32,
    seq: u64,
    generation: u64,
    key: K,
}

impl<K> Ord for ActiveItem<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: higher priority first, then lower sequence (older) first.
        self.priority
            .cmp(&other.priority)
            .then(other.seq.cmp(&self.seq))
    }
}
impl<K> PartialOrd for ActiveItem<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> PartialEq for ActiveItem<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<K> Eq for ActiveItem<K> {}

struct BackoffItem<K> {
    until: Instant,
    seq: u64,
    generation: u64,
    key: K,
}

impl<K> Ord for BackoffItem<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap turned min-heap: earliest expiry first.
        other.until.cmp(&self.until).then(other.seq.cmp(&self.seq))
    }
}
impl<K> PartialOrd for BackoffItem<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> PartialEq for BackoffItem<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<K> Eq for BackoffItem<K> {}

/// Queue timing (KubeSchedulerConfiguration's names, Kubernetes' defaults).
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    pub pod_initial_backoff: Duration,
    pub pod_max_backoff: Duration,
    pub pod_max_in_unschedulable_pods_duration: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            pod_initial_backoff: Duration::from_secs(1),
            pod_max_backoff: Duration::from_secs(10),
            pod_max_in_unschedulable_pods_duration: Duration::from_secs(5 * 60),
        }
    }
}

pub struct SchedulingQueue<K> {
    settings: QueueSettings,
    pods: HashMap<K, Entry>,
    active: BinaryHeap<ActiveItem<K>>,
    backoff: BinaryHeap<BackoffItem<K>>,
    /// (entered at, generation, key), oldest first: entry times only grow.
    unschedulable: VecDeque<(Instant, u64, K)>,
    active_len: usize,
    seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
}

impl<K: Clone + Eq + Hash> SchedulingQueue<K> {
    pub fn new(settings: QueueSettings) -> Self {
        SchedulingQueue {
            settings,
            pods: HashMap::new(),
            active: BinaryHeap::new(),
            backoff: BinaryHeap::new(),
            unschedulable: VecDeque::new(),
            active_len: 0,
            seq: 0,
            scheduling_cycle: 0,
            move_request_cycle: 0,
        }
    }

    /// A pending pod appeared or changed. New pods go to activeQ; a pod
    /// parked as unschedulable whose spec or labels changed (`changed`)
    /// gets another chance (after its backoff); otherwise nothing moves.
    pub fn add_or_update(&mut self, key: K, priority: i32, changed: bool, now: Instant) {
        match self.pods.get(&key).map(|e| e.state) {
            None => {
                self.pods.insert(
                    key.clone(),
                    Entry {
                        priority,
                        attempts: 0,
                        last_failure: None,
                        state: State::InFlight,
                        generation: 0,
                    },
                );
                self.activate(&key);
            }
            Some(State::Unschedulable) if changed => self.wake(&key, now),
            Some(_) => {}
        }
    }

    /// The pod is no longer pending (deleted, or bound).
    pub fn delete(&mut self, key: &K) {
        if let Some(e) = self.pods.remove(key) {
            if e.state == State::Active {
                self.active_len -= 1;
            }
        }
    }

    /// The next pod to try, with the cycle number to hand back on failure.
    pub fn pop(&mut self) -> Option<(K, u64)> {
        while let Some(item) = self.active.pop() {
            let Some(e) = self.pods.get_mut(&item.key) else {
                continue;
            };
            if e.state != State::Active || e.generation != item.generation {
                continue;
            }
            e.state = State::InFlight;
            e.attempts += 1;
            self.active_len -= 1;
            self.scheduling_cycle += 1;
            return Some((item.key, self.scheduling_cycle));
        }
        None
    }

    pub fn has_active(&self) -> bool {
        self.active_len > 0
    }

    /// Pods known to the queue, in any state.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// No node fitted the pod popped in `cycle`.
    pub fn requeue_unschedulable(&mut self, key: &K, cycle: u64, now: Instant) {
        let moved_meanwhile = self.move_request_cycle >= cycle;
        let Some(e) = self.pods.get_mut(key) else {
            return;
        };
        e.last_failure = Some(now);
        if moved_meanwhile {
            self.back_off(key, now);
        } else {
            self.set_state(key, State::Unschedulable);
            let generation = self.pods[key].generation;
            self.unschedulable.push_back((now, generation, key.clone()));
        }
    }

    /// The attempt failed for another reason (API error, failed binding):
    /// retry after the pod's backoff.
    pub fn requeue_after_error(&mut self, key: &K, now: Instant) {
        if let Some(e) = self.pods.get_mut(key) {
            e.last_failure = Some(now);
            self.back_off(key, now);
        }
    }

    /// The cluster changed in a way that may help unschedulable pods.
    pub fn move_all(&mut self, now: Instant) {
        self.move_request_cycle = self.scheduling_cycle;
        let parked: Vec<(Instant, u64, K)> = self.unschedulable.drain(..).collect();
        for (_, generation, key) in parked {
            if self.is_current(&key, State::Unschedulable, generation) {
                self.wake(&key, now);
            }
        }
    }

    /// Moves pods whose backoff is over to activeQ, and pods parked as
    /// unschedulable for too long back into play.
    pub fn flush(&mut self, now: Instant) {
        while self.backoff.peek().is_some_and(|top| top.until <= now) {
            let item = self.backoff.pop().expect("peeked");
            if self.is_current(&item.key, State::Backoff, item.generation) {
                self.activate(&item.key);
            }
        }
        let limit = self.settings.pod_max_in_unschedulable_pods_duration;
        while self
            .unschedulable
            .front()
            .is_some_and(|(since, _, _)| *since + limit <= now)
        {
            let (_, generation, key) = self.unschedulable.pop_front().expect("peeked");
            if self.is_current(&key, State::Unschedulable, generation) {
                self.wake(&key, now);
            }
        }
    }

    /// When [`flush`](Self::flush) next has something to do.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let backoff = self.backoff.peek().map(|top| top.until);
        let parked = self
            .unschedulable
            .front()
            .map(|(since, _, _)| *since + self.settings.pod_max_in_unschedulable_pods_duration);
        match (backoff, parked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// kube's `calculateBackoffDuration`: initial × 2^(attempts−1), capped.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.settings.pod_initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d > self.settings.pod_max_backoff {
                return self.settings.pod_max_backoff;
            }
        }
        d
    }

    fn backoff_until(&self, key: &K) -> Option<Instant> {
        let e = self.pods.get(key)?;
        Some(e.last_failure? + self.backoff_duration(e.attempts))
    }

    /// Out of unschedulablePods: to backoffQ if still backing off, else activeQ.
    fn wake(&mut self, key: &K, now: Instant) {
        if self.backoff_until(key).is_some_and(|t| t > now) {
            self.back_off(key, now);
        } else {
            self.activate(key);
        }
    }

    fn activate(&mut self, key: &K) {
        self.set_state(key, State::Active);
        self.seq += 1;
        let e = &self.pods[key];
        self.active.push(ActiveItem {
            priority: e.priority,
            seq: self.seq,
            generation: e.generation,
            key: key.clone(),
        });
    }

    fn back_off(&mut self, key: &K, now: Instant) {
        let until = self.backoff_until(key).unwrap_or(now);
        self.set_state(key, State::Backoff);
        self.seq += 1;
        let generation = self.pods[key].generation;
        self.backoff.push(BackoffItem {
            until,
            seq: self.seq,
            generation,
            key: key.clone(),
        });
    }

    /// Changes a pod's state and generation (invalidating its old heap items).
    fn set_state(&mut self, key: &K, state: State) {
        let e = self.pods.get_mut(key).expect("queued pod");
        if e.state == State::Active {
            self.active_len -= 1;
        }
        if state == State::Active {
            self.active_len += 1;
        }
        e.state = state;
        e.generation += 1;
    }

    fn is_current(&self, key: &K, state: State, generation: u64) -> bool {
        self.pods
            .get(key)
            .is_some_and(|e| e.state == state && e.generation == generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> SchedulingQueue<&'static str> {
        SchedulingQueue::new(QueueSettings::default())
    }

    #[test]
    fn higher_priority_first_then_arrival_order() {
        let mut q = queue();
        let now = Instant::now();
        q.add_or_update("low-1", 0, false, now);
        q.add_or_update("high", 100, false, now);
        q.add_or_update("low-2", 0, false, now);
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(k, _)| k)).collect();
        assert_eq!(order, ["high", "low-1", "low-2"]);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let q = queue();
        let secs: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_cluster_change_and_their_backoff() {
        let mut q = queue();
        let t0 = Instant::now();
        q.add_or_update("p", 0, false, t0);
        let (_, cycle) = q.pop().unwrap();
        q.requeue_unschedulable(&"p", cycle, t0);
        // No timer retries an unschedulable pod (short of the 5-minute flush).
        q.flush(t0 + Duration::from_secs(60));
        assert!(!q.has_active());
        // A status-only update does not wake it either.
        q.add_or_update("p", 0, false, t0);
        assert!(!q.has_active());
        // A node appears while the 1 s backoff still runs: backoffQ first.
        q.move_all(t0 + Duration::from_millis(500));
        assert!(!q.has_active());
        assert_eq!(q.next_wakeup(), Some(t0 + Duration::from_secs(1)));
        q.flush(t0 + Duration::from_secs(1));
        assert_eq!(q.pop().map(|(k, _)| k), Some("p"));
    }

    #[test]
    fn a_change_during_the_cycle_sends_the_pod_to_backoff_not_to_parking() {
        let mut q = queue();
        let t0 = Instant::now();
        q.add_or_update("p", 0, false, t0);
        let (_, cycle) = q.pop().unwrap();
        q.move_all(t0);
        q.requeue_unschedulable(&"p", cycle, t0);
        q.flush(t0 + Duration::from_secs(1));
        assert!(q.has_active());
    }

    #[test]
    fn parked_pods_are_retried_after_five_minutes_and_deleted_pods_vanish() {
        let mut q = queue();
        let t0 = Instant::now();
        for k in ["a", "b"] {
            q.add_or_update(k, 0, false, t0);
        }
        while let Some((k, cycle)) = q.pop() {
            q.requeue_unschedulable(&k, cycle, t0);
        }
        q.delete(&"b");
        q.flush(t0 + Duration::from_secs(300));
        assert_eq!(q.pop().map(|(k, _)| k), Some("a"));
        assert_eq!(q.pop(), None);
        assert_eq!(q.len(), 1);
    }
}
