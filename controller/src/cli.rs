//! The `minik-controller` command line (kube-controller-manager): flags
//! with Kubernetes' names and defaults, a client from `--kubeconfig` (or
//! `KUBECONFIG`, or the usual inference), then [`crate::run`] — every
//! controller until the process stops.
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::path::PathBuf;
use std::time::Duration;

use crate::Settings;
use anyhow::Context as _;
use clap::Parser;
use minik_client::leader_election::LeaderElection;

/// minik's controller manager: ReplicaSet, Deployment, DaemonSet, Job,
/// CronJob, TTL-after-finished, disruption, PersistentVolume (with the
/// local-path provisioner and volume protection), Endpoints, garbage collector,
/// Namespace and node lifecycle controllers in one process.
#[derive(Debug, Parser)]
#[command(name = "minik-controller", version)]
struct Args {
    /// Path to a kubeconfig file for the API server.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,

    /// A node whose Lease has not been renewed for this long is unreachable.
    #[arg(long, default_value = "40s", value_parser = minik_api::duration::parse_go_duration)]
    node_monitor_grace_period: Duration,

    /// How long pods stay on an unreachable or not-ready node before they
    /// are evicted (the default toleration of those taints).
    #[arg(long, default_value = "5m0s", value_parser = minik_api::duration::parse_go_duration)]
    pod_eviction_timeout: Duration,

    /// How often node health is checked.
    #[arg(long, default_value = "5s", value_parser = minik_api::duration::parse_go_duration)]
    node_monitor_period: Duration,

    /// ReplicaSets synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_replicaset_syncs: u16,

    /// Deployments synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_deployment_syncs: u16,

    /// Jobs synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_job_syncs: u16,

    /// CronJobs synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_cron_job_syncs: u16,

    /// Finished Jobs checked for their TTL concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_ttl_after_finished_syncs: u16,

    /// First delay before a failed Job pod is replaced; doubles with each
    /// consecutive failure up to 10m (minik's own flag: Kubernetes has the
    /// 10s as a constant). Shorten it for demos.
    #[arg(long, default_value = "10s", value_parser = minik_api::duration::parse_go_duration)]
    job_pod_failure_backoff: Duration,
    /// DaemonSets synced concurrently.
    #[arg(long, default_value_t = 2)]
    concurrent_daemonset_syncs: u16,
    /// Objects the garbage collector checks concurrently (per kind).
    #[arg(long, default_value_t = 20)]
    concurrent_gc_syncs: u16,
    /// How often every ResourceQuota's usage is recalculated in full.
    #[arg(long, default_value = "5m0s", value_parser = minik_api::duration::parse_go_duration)]
    resource_quota_sync_period: Duration,

    /// Directory the local-path provisioner (`minik.io/local-path`) makes
    /// volumes in; unset, the provisioner is off (minik's own flag).
    #[arg(long)]
    local_path_dir: Option<PathBuf>,
    /// The CA certificate that signs approved CertificateSigningRequests.
    #[arg(long, requires = "cluster_signing_key_file")]
    cluster_signing_cert_file: Option<PathBuf>,
    /// The CA key that signs approved CertificateSigningRequests.
    #[arg(long, requires = "cluster_signing_cert_file")]
    cluster_signing_key_file: Option<PathBuf>,
    /// The CA bundle published to every namespace as the `kube-root-ca.crt`
    /// ConfigMap; default: the CA of --kubeconfig's cluster.
    #[arg(long, value_name = "FILE")]
    root_ca_file: Option<PathBuf>,
    /// The longest a signed certificate is valid (Go duration).
    #[arg(long, default_value = "8760h0m0s", value_parser = positive_duration)]
    cluster_signing_duration: Duration,
    /// How often each HorizontalPodAutoscaler is synced (Go duration).
    #[arg(long, default_value = "15s", value_parser = positive_duration)]
    horizontal_pod_autoscaler_sync_period: Duration,
    /// How long a scale-down waits for higher recommendations to expire (HPAs without `behavior`).
    #[arg(long, default_value = "5m0s", value_parser = minik_api::duration::parse_go_duration)]
    horizontal_pod_autoscaler_downscale_stabilization: Duration,
    /// The usage/target ratio within which no scaling happens.
    #[arg(long, default_value_t = 0.1)]
    horizontal_pod_autoscaler_tolerance: f64,
    /// How long after a pod starts its CPU samples may be skipped.
    #[arg(long, default_value = "5m0s", value_parser = minik_api::duration::parse_go_duration)]
    horizontal_pod_autoscaler_cpu_initialization_period: Duration,
    /// How long after a pod starts a readiness change still counts as initial.
    #[arg(long, default_value = "30s", value_parser = minik_api::duration::parse_go_duration)]
    horizontal_pod_autoscaler_initial_readiness_delay: Duration,

    #[command(flatten)]
    leader_election: minik_client::leader_election::LeaderElectionArgs,
}

/// Runs `minik-controller` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

/// One worker thread: the controller-manager's work is its sync loops and
/// their API calls, which one core serves (in a 10,000-pod burst it used
/// about a quarter of one), and each thread has its own allocator heap: a
/// second worker cost 1–2 MB at 100 pods (BENCHMARKS.md, "Pods at scale"
/// step 20). The API server, which does half the cluster's work, keeps one
/// per core.
#[tokio::main(worker_threads = 1)]
async fn run(args: Args) -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info");
    let client = minik_client::connect(args.kubeconfig.as_deref()).await?;
    let root_ca = match (&args.root_ca_file, &args.kubeconfig) {
        (Some(file), _) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading --root-ca-file {}", file.display()))?,
        ),
        (None, Some(kubeconfig)) => minik_client::kubeconfig::ca_pem(kubeconfig),
        (None, None) => None,
    };
    // `..default()`: a knob added to Settings before it has a flag here keeps
    // Kubernetes' default rather than breaking the build.
    #[allow(clippy::needless_update)]
    let settings = Settings {
        node_monitor_grace_period: args.node_monitor_grace_period,
        pod_eviction_timeout: args.pod_eviction_timeout,
        node_monitor_period: args.node_monitor_period,
        concurrent_replicaset_syncs: args.concurrent_replicaset_syncs,
        concurrent_deployment_syncs: args.concurrent_deployment_syncs,
        concurrent_job_syncs: args.concurrent_job_syncs,
        concurrent_cron_job_syncs: args.concurrent_cron_job_syncs,
        concurrent_ttl_after_finished_syncs: args.concurrent_ttl_after_finished_syncs,
        job_pod_failure_backoff: args.job_pod_failure_backoff,
        concurrent_daemonset_syncs: args.concurrent_daemonset_syncs,
        concurrent_gc_syncs: args.concurrent_gc_syncs,
        resource_quota_sync_period: args.resource_quota_sync_period,
        local_path_dir: args.local_path_dir,
        cluster_signing: args
            .cluster_signing_cert_file
            .zip(args.cluster_signing_key_file),
        cluster_signing_duration: args.cluster_signing_duration,
        root_ca,
        hpa_sync_period: args.horizontal_pod_autoscaler_sync_period,
        hpa_downscale_stabilization: args.horizontal_pod_autoscaler_downscale_stabilization,
        hpa_tolerance: args.horizontal_pod_autoscaler_tolerance,
        hpa_cpu_initialization_period: args.horizontal_pod_autoscaler_cpu_initialization_period,
        hpa_initial_readiness_delay: args.horizontal_pod_autoscaler_initial_readiness_delay,
        ..Settings::default()
    };
    tracing::info!(?settings, "starting controllers");
    if !args.leader_election.leader_elect {
        return crate::run(client, settings).await;
    }
    // kube-controller-manager's lease: only its holder runs the controllers.
    LeaderElection::new("kube-controller-manager", &args.leader_election)
        .run(client.clone(), crate::run(client, settings))
        .await
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    match minik_api::duration::parse_go_duration(s)? {
        d if d.is_zero() => Err("must be greater than 0".into()),
        d => Ok(d),
    }
}
