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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node_monitor_grace_period: Duration::from_secs(40),
            pod_eviction_timeout: Duration::from_secs(300),
            node_monitor_period: Duration::from_secs(5),
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
