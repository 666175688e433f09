//! The `minik-dns` command line: its flags, then [`crate::start`] until
//! Ctrl-C or SIGTERM.
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// minik's cluster DNS: authoritative for cluster.local, forwards the rest.
#[derive(Parser, Debug)]
#[command(name = "minik-dns", version)]
struct Args {
    /// Kubeconfig of the cluster (else KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Address to serve UDP and TCP on; repeat for several.
    #[arg(long, default_values = ["10.96.0.10:53", "127.0.0.1:10053"])]
    listen: Vec<SocketAddr>,
    /// Upstream resolver for names outside the cluster; repeat for several
    /// (default: the nameservers of --resolv-conf). Port 53 unless given.
    #[arg(long, value_parser = parse_upstream)]
    upstream: Vec<SocketAddr>,
    /// Where the host's resolvers are read from when --upstream is absent.
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// Total time to wait for upstreams before answering SERVFAIL.
    #[arg(long, default_value_t = 2000)]
    forward_timeout_ms: u64,
    /// The cluster domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// The service CIDR (its reverse zone is answered authoritatively).
    #[arg(long, default_value = "10.96.0.0/16")]
    service_cidr: ipnet::IpNet,
}

fn parse_upstream(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|e| format!("{s}: {e}"))
}

/// Runs `minik-dns` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    // hickory logs every query at INFO (`hickory_server::server`); a cluster
    // answering thousands of lookups must not grow its log with them.
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info,hickory_server::server=warn");
    let mut config = crate::Config::new(minik_client::connect(args.kubeconfig.as_deref()).await?);
    config.listen = args.listen;
    config.upstreams = args.upstream;
    config.resolv_conf = args.resolv_conf;
    config.forward_timeout = Duration::from_millis(args.forward_timeout_ms);
    config.domain = args.cluster_domain;
    config.service_cidr = Some(args.service_cidr);
    let dns = crate::start(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = dns.wait() => r?,
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
