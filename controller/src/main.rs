//! `minik-controller`: the controller manager binary (kube-controller-manager).
//! A thin main over [`minik_controller::run`]: flags with Kubernetes' names
//! and defaults, a client from `--kubeconfig` (or `KUBECONFIG`, or the usual
//! inference), then every controller until the process stops.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use minik_controller::Settings;

/// minik's controller manager: ReplicaSet, Deployment, DaemonSet, Job,
/// CronJob, TTL-after-finished, disruption, Endpoints, garbage collector,
/// Namespace and node lifecycle controllers in one process.
#[derive(Debug, Parser)]
#[command(name = "minik-controller", version)]
struct Args {
    /// Path to a kubeconfig file for the API server.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,

    /// A node whose Lease has not been renewed for this long is unreachable.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,

    /// How long pods stay on an unreachable or not-ready node before they
    /// are evicted (the default toleration of those taints).
    #[arg(long, default_value = "5m0s", value_parser = parse_duration)]
    pod_eviction_timeout: Duration,

    /// How often node health is checked.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
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
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    job_pod_failure_backoff: Duration,
    /// DaemonSets synced concurrently.
    #[arg(long, default_value_t = 2)]
    concurrent_daemonset_syncs: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    minik_client::init_tracing("info");
    let args = Args::parse();
    let client = minik_client::connect(args.kubeconfig.as_deref()).await?;
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
        ..Settings::default()
    };
    tracing::info!(?settings, "starting controllers");
    minik_controller::run(client, settings).await
}

/// A Go duration as Kubernetes' flags take it: "40s", "5m", "1h30m",
/// "1.5s", "300ms", or "0".
fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?} (expected e.g. 40s, 5m, 1h30m, 500ms)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("40s").unwrap(), Duration::from_secs(40));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m0s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
