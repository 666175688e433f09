//! What every controller shares: the API client, the timing settings
//! (Kubernetes' controller-manager flags, with their defaults), and
//! helpers for recording Kubernetes Events.

use std::time::Duration;

/// Timing knobs kube-controller-manager has as flags, with its defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--node-monitor-grace-period` (40 s): a node whose Lease is older is unreachable.
    pub node_monitor_grace_period: Duration,
    /// Default `tolerationSeconds` for the not-ready/unreachable taints (300 s):
    /// how long pods stay on an unreachable node before eviction.
    pub pod_eviction_timeout: Duration,
    /// How often node health is checked (`--node-monitor-period`, 5 s).
    pub node_monitor_period: Duration,
    /// `--concurrent-replicaset-syncs` (5): ReplicaSets reconciled at once.
    pub concurrent_replicaset_syncs: u16,
    /// `--concurrent-deployment-syncs` (5): Deployments reconciled at once.
    pub concurrent_deployment_syncs: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node_monitor_grace_period: Duration::from_secs(40),
            pod_eviction_timeout: Duration::from_secs(300),
            node_monitor_period: Duration::from_secs(5),
            concurrent_replicaset_syncs: 5,
            concurrent_deployment_syncs: 5,
        }
    }
}

/// Shared by every controller's reconcile.
pub struct Context {
    pub client: kube::Client,
    pub settings: Settings,
}

impl Context {
    pub fn new(client: kube::Client, settings: Settings) -> Self {
        Self { client, settings }
    }
}

/// Records Events the way client-go's `EventRecorder` does: the same event
/// (same object, type, reason *and message*) repeated within kube's 6-minute
/// window becomes one Event whose series count grows; a different message is
/// a new Event. (kube's `Recorder` alone keys its series by reason, not
/// message, so "Created pod: web-a" and "Created pod: web-b" would collapse
/// into one Event showing only the first pod.)
pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    recorders: std::sync::Mutex<
        std::collections::HashMap<EventKey, (kube::runtime::events::Recorder, std::time::Instant)>,
    >,
}

/// What makes two events "the same" for [`EventRecorder`].
type EventKey = (String, String, &'static str, String, String);

/// kube's `Recorder` forgets an event this long after it was last seen.
const EVENT_SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

impl EventRecorder {
    /// A recorder reporting as `controller` (Kubernetes' component name,
    /// e.g. "replicaset-controller", "deployment-controller").
    pub fn new(client: kube::Client, controller: &str) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            recorders: Default::default(),
        }
    }

    /// Publishes one Event about `regarding`. A failure is logged, not
    /// returned: an event that cannot be written never fails the action it
    /// describes (as in client-go).
    pub async fn publish(
        &self,
        regarding: &k8s_openapi::api::core::v1::ObjectReference,
        type_: kube::runtime::events::EventType,
        reason: &str,
        note: String,
    ) {
        use kube::runtime::events::{EventType, Recorder, Reporter};
        let type_name = match type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let key: EventKey = (
            regarding.uid.clone().unwrap_or_default(),
            regarding.name.clone().unwrap_or_default(),
            type_name,
            reason.to_string(),
            note.clone(),
        );
        let recorder = {
            let mut map = self.recorders.lock().unwrap();
            let now = std::time::Instant::now();
            map.retain(|_, (_, seen)| now.duration_since(*seen) < EVENT_SERIES_WINDOW);
            let entry = map.entry(key).or_insert_with(|| {
                let reporter = Reporter {
                    controller: self.controller.clone(),
                    instance: None,
                };
                (Recorder::new(self.client.clone(), reporter), now)
            });
            entry.1 = now;
            entry.0.clone()
        };
        let event = kube::runtime::events::Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, regarding).await {
            tracing::warn!(reason, error = %e, "cannot record event");
        }
    }
}

/// Per-object retry delays after failed reconciles: client-go's default
/// controller rate limiter (5 ms, doubling per consecutive failure, capped
/// at 1000 s), forgotten after a success.
#[derive(Default)]
pub struct RetryBackoff {
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl RetryBackoff {
    /// The delay before retrying `key` after one more failure.
    pub fn next_delay(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap();
        let n = failures.entry(key.to_string()).or_insert(0);
        let delay = Duration::from_millis(5)
            .saturating_mul(1u32 << (*n).min(20))
            .min(Duration::from_secs(1000));
        *n += 1;
        delay
    }

    /// `key` reconciled successfully: its next failure starts at 5 ms again.
    pub fn forget(&self, key: &str) {
        self.failures.lock().unwrap().remove(key);
    }
}
