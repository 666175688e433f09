//! # minik-scheduler: kube-scheduler, small
//!
//! Watches pods that have no node yet and binds each to the best node that
//! can run it: *filter* the nodes that fit, *score* the rest, bind to the
//! winner. Every decision is visible the way Kubernetes shows it: a
//! `Scheduled` or `FailedScheduling` Event and the pod's PodScheduled
//! condition.
//!
//! A tour, in the order a pod meets it:
//! - informers for nodes, assigned pods and pending pods, each with a
//!   reflector cache: `minik_client::SharedInformerFactory`, the same
//!   informer code as the controller-manager's (see [`scheduler`]); bound
//!   pods are cached as an [`assigned_pod`] projection;
//! - [`cache`] and [`node_info`] — every node with running sums of what its
//!   pods request, including pods *assumed* there while their binding is in
//!   flight; [`resources`] computes what one pod requests;
//! - [`queue`] — activeQ / backoffQ / unschedulable pods, with per-pod
//!   backoff (1 s doubling to 10 s) and re-queueing on cluster changes;
//! - [`scheduler`] — the loop that ties them together (kube's `ScheduleOne`);
//! - [`schedule_one`] — one decision: [`filters`] (one function per filter
//!   plugin), then [`scores`] (one function per score plugin), then a random
//!   pick among the best; [`pod_info`] and [`matching`] are what the plugins
//!   read and match with; [`inter_pod_affinity`] and [`topology_spread`]
//!   count where other pods are once per cycle (PreFilter) for their
//!   filters and scores;
//! - [`volume_binding`] — the VolumeBinding plugin: a pod's claims limit
//!   where it may go, and the chosen node decides `WaitForFirstConsumer`
//!   claims' volumes;
//! - [`diagnosis`] — the "0/3 nodes are available: …" message;
//! - [`binder`] — `POST pods/<name>/binding`;
//! - [`report`] — Events and the PodScheduled=False condition.
//!
//! Deliberately left out: preemption (the FailedScheduling message still
//! carries the preemption verdict kube-scheduler would give when no victim
//! exists), the volume plugins other than VolumeBinding,
//! multiple profiles, extenders, queueing hints, leader election.

pub mod assigned_pod;
pub mod binder;
pub mod cache;
pub mod cli;
pub mod decision_table;
pub mod diagnosis;
mod error;
pub mod filters;
pub mod inter_pod_affinity;
pub mod matching;
pub mod node_info;
pub mod pod_info;
pub mod queue;
pub mod report;
pub mod resources;
pub mod schedule_one;
pub mod scheduler;
pub mod scores;
pub mod topology_spread;
pub mod volume_binding;

pub use error::Error;
pub use queue::QueueSettings;

/// How to run the scheduler (KubeSchedulerConfiguration's knobs, with
/// Kubernetes' defaults from [`Config::new`]).
#[derive(Clone)]
pub struct Config {
    pub client: kube::Client,
    /// Pods whose `spec.schedulerName` is this are ours (`default-scheduler`).
    pub scheduler_name: String,
    /// `podInitialBackoffSeconds`, `podMaxBackoffSeconds`, and how long a
    /// pod may stay parked as unschedulable without a retry.
    pub queue: QueueSettings,
    /// `percentageOfNodesToScore`: 0 for kube's adaptive default.
    pub percentage_of_nodes_to_score: u8,
    /// Bindings in flight at once.
    pub max_concurrent_binds: usize,
    /// `reportingInstance` of the Events (`default-scheduler-<hostname>`).
    pub reporting_instance: String,
}

impl Config {
    pub fn new(client: kube::Client) -> Config {
        Config {
            client,
            scheduler_name: "default-scheduler".to_string(),
            queue: QueueSettings::default(),
            percentage_of_nodes_to_score: 0,
            max_concurrent_binds: 256,
            reporting_instance: format!("default-scheduler-{}", hostname()),
        }
    }
}

/// Runs the scheduler until its informers stop (normally: forever).
pub async fn run(config: Config) -> Result<(), Error> {
    scheduler::Scheduler::start(config).run().await
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
