//! `minik-apiserver`: parses flags and runs [`minik_apiserver::run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// minik's API server: the Kubernetes REST API over an embedded sled store.
#[derive(Parser, Debug)]
#[command(name = "minik-apiserver", version)]
struct Args {
    /// Directory holding the store (created if missing).
    #[arg(long, env = "MINIK_DATA_DIR", default_value = "minik-data")]
    data_dir: PathBuf,
    /// Address to serve the API on (plain HTTP).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Write a kubeconfig for this server to FILE once listening.
    #[arg(long, value_name = "FILE")]
    write_kubeconfig: Option<PathBuf>,
    /// Range ClusterIPs are allocated from (the cluster DNS uses its .10 address).
    #[arg(long, default_value = "10.96.0.0/16")]
    service_cluster_ip_range: minik_apiserver::allocator::Cidr,
    /// Range NodePorts are allocated from, as FIRST-LAST.
    #[arg(long, default_value = "30000-32767", value_parser = parse_port_range)]
    service_node_port_range: std::ops::RangeInclusive<u16>,
    /// How many recent changes a watch can resume from before getting 410 Gone.
    #[arg(long, default_value_t = 10_000)]
    watch_history: usize,
    /// Connections served at once, watches included; more are answered 429.
    /// Keep it well below the process's file descriptor limit.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Start even if the store is damaged, keeping what is intact and saying what was lost.
    #[arg(long)]
    recover: bool,
    /// Replace the (stopped) store in --data-dir with this snapshot, keeping the old one aside, then exit.
    #[arg(long, value_name = "FILE")]
    restore_snapshot: Option<PathBuf>,
    /// The most bytes of encoded changes kept for watches to resume from.
    #[arg(long, default_value_t = 64 << 20)]
    watch_history_bytes: usize,
    /// How long Events are kept after their last write, as a Go duration
    /// (`1h`, `30m`, `90s`); 0 keeps them forever.
    #[arg(long, default_value = "1h", value_parser = minik_api::duration::parse_go_duration)]
    event_ttl: Duration,
    /// How often every kubelet's resource metrics are scraped for
    /// metrics.k8s.io, as a Go duration (metrics-server's default, 15s).
    #[arg(long, default_value = "15s", value_parser = parse_resolution)]
    metrics_resolution: Duration,
}

fn parse_resolution(s: &str) -> Result<Duration, String> {
    match minik_api::duration::parse_go_duration(s)? {
        d if d.is_zero() => Err("must be greater than 0".into()),
        d => Ok(d),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    minik_client::init_tracing("info");
    let args = Args::parse();
    if let Some(file) = &args.restore_snapshot {
        return restore(file, &args.data_dir);
    }
    let mut config = minik_apiserver::Config::new(args.data_dir, args.listen);
    config.watch_history = args.watch_history;
    config.watch_history_bytes = args.watch_history_bytes;
    config.event_ttl = args.event_ttl;
    config.metrics_resolution = args.metrics_resolution;
    config.service_cidr = args.service_cluster_ip_range;
    config.node_ports = args.service_node_port_range;
    config.max_connections = args.max_connections;
    config.recover = args.recover;
    let server = minik_apiserver::start(config).await?;
    if let Some(path) = &args.write_kubeconfig {
        minik_apiserver::kubeconfig::write(path, &server.url())
            .with_context(|| format!("writing kubeconfig to {}", path.display()))?;
        tracing::info!(path = %path.display(), "wrote kubeconfig");
    }
    tokio::select! {
        r = server.wait() => Ok(r?),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// `--restore-snapshot FILE`: etcd's `snapshot restore`, then exit.
fn restore(file: &std::path::Path, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let snapshot = minik_apiserver::store::Snapshot::decode(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!("{}", snapshot.restore(data_dir)?);
    Ok(())
}

fn parse_port_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?} is not a range like 30000-32767"))?;
    let a: u16 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a port"))?;
    let b: u16 = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?} is not a port"))?;
    if a > b {
        return Err(format!("{s:?}: the first port must not exceed the last"));
    }
    Ok(a..=b)
}
