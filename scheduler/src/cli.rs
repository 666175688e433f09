//! The `minik-scheduler` command line (kube-scheduler): flags named after
//! KubeSchedulerConfiguration fields with Kubernetes' defaults, a client
//! from `--kubeconfig` (or `KUBECONFIG`, or the usual inference), then
//! [`crate::run`], the scheduling loop.
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Config, QueueSettings};
use clap::Parser;
use minik_client::leader_election::LeaderElection;

/// minik's scheduler: binds pending pods to nodes (filter, then score).
#[derive(Debug, Parser)]
#[command(name = "minik-scheduler", version)]
struct Args {
    /// Path to a kubeconfig file for the API server.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,

    /// Schedule pods whose spec.schedulerName is this.
    #[arg(long, default_value = "default-scheduler")]
    scheduler_name: String,

    /// Backoff after a pod's first failed attempt; doubles per attempt.
    #[arg(long, default_value_t = 1)]
    pod_initial_backoff_seconds: u64,

    /// Longest backoff between attempts.
    #[arg(long, default_value_t = 10)]
    pod_max_backoff_seconds: u64,

    /// Retry an unschedulable pod after this long even if nothing changed.
    #[arg(long, default_value_t = 300)]
    pod_max_in_unschedulable_pods_seconds: u64,

    /// Share of nodes to find feasible before scoring (0 = adaptive, as Kubernetes).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    percentage_of_nodes_to_score: u8,

    /// Bindings in flight at once.
    #[arg(long, default_value_t = 256)]
    max_concurrent_binds: usize,

    #[command(flatten)]
    leader_election: minik_client::leader_election::LeaderElectionArgs,
}

/// Runs `minik-scheduler` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

/// One worker thread: the scheduler's work is its sync loops and their
/// API calls, which one core serves (in a 10,000-pod burst it used about
/// a quarter of one), and each thread has its own allocator heap: a second
/// worker cost 1–2 MB at 100 pods (BENCHMARKS.md, "Pods at scale" step
/// 20). The API server, which does half the cluster's work, keeps one per
/// core.
#[tokio::main(worker_threads = 1)]
async fn run(args: Args) -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info");
    let client = minik_client::connect(args.kubeconfig.as_deref()).await?;
    let mut config = Config::new(client.clone());
    config.scheduler_name = args.scheduler_name;
    config.queue = QueueSettings {
        pod_initial_backoff: Duration::from_secs(args.pod_initial_backoff_seconds),
        pod_max_backoff: Duration::from_secs(args.pod_max_backoff_seconds),
        pod_max_in_unschedulable_pods_duration: Duration::from_secs(
            args.pod_max_in_unschedulable_pods_seconds,
        ),
    };
    config.percentage_of_nodes_to_score = args.percentage_of_nodes_to_score;
    config.max_concurrent_binds = args.max_concurrent_binds;
    tracing::info!(scheduler = %config.scheduler_name, "minik-scheduler starting");
    if !args.leader_election.leader_elect {
        crate::run(config).await?;
        return Ok(());
    }
    // kube-scheduler's lease: only its holder schedules.
    LeaderElection::new("kube-scheduler", &args.leader_election)
        .run(client, async { Ok(crate::run(config).await?) })
        .await
}
