//! `minik-scheduler`: the scheduler binary (kube-scheduler). A thin main
//! over [`minik_scheduler::run`]: flags named after KubeSchedulerConfiguration
//! fields with Kubernetes' defaults, a client from `--kubeconfig` (or
//! `KUBECONFIG`, or the usual inference), then the scheduling loop.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use minik_client::leader_election::LeaderElection;
use minik_scheduler::{Config, QueueSettings};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info");
    let args = Args::parse();
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
        minik_scheduler::run(config).await?;
        return Ok(());
    }
    // kube-scheduler's lease: only its holder schedules.
    LeaderElection::new("kube-scheduler", &args.leader_election)
        .run(client, async { Ok(minik_scheduler::run(config).await?) })
        .await
}
