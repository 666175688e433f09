//! The `minik-kubelet` command line (the node agent): flags following the
//! cluster conventions (and kubelet's names where they exist), then
//! [`crate::run`].
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Config, RuntimeKind};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RuntimeFlag {
    Docker,
    Sim,
}

/// minik's kubelet: runs the pods bound to its node(s).
#[derive(Debug, Parser)]
#[command(name = "minik-kubelet", version)]
struct Args {
    /// Kubeconfig of the API server (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// The node's name (with --nodes N: NAME-1 … NAME-N).
    #[arg(long)]
    node_name: String,
    /// Container runtime.
    #[arg(long, value_enum, default_value = "docker")]
    runtime: RuntimeFlag,
    /// How many nodes this process runs (simulated runtime only).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Directory for pod volumes and files.
    #[arg(long, default_value = "/var/lib/minik/kubelet")]
    root_dir: PathBuf,
    /// The cluster DNS server given to pods.
    #[arg(long, default_value = "10.96.0.10")]
    cluster_dns: String,
    /// The cluster domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Image of the infra container holding each pod's network namespace.
    #[arg(long, default_value = "minik/pause:3.10")]
    pod_infra_image: String,
    /// The Docker engine's Unix socket (default: $DOCKER_HOST, then
    /// /var/run/docker.sock).
    #[arg(long, value_name = "unix://PATH")]
    docker_endpoint: Option<String>,
    /// The cluster's Docker network (created if missing).
    #[arg(long, default_value = "minik")]
    network: String,
    /// Subnet for the network when it is created ("" lets Docker pick).
    #[arg(long, default_value = "10.244.0.0/16")]
    network_subnet: String,
    /// Cluster name, labelled on every container.
    #[arg(long, default_value = "minik")]
    cluster_name: String,
    /// The kubelet's serving certificate (PEM): serve HTTPS, answering only
    /// clients with a certificate from --client-ca-file that are the API
    /// server or in system:masters.
    #[arg(long, value_name = "FILE", requires_all = ["tls_private_key_file", "client_ca_file"])]
    tls_cert_file: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    tls_private_key_file: Option<PathBuf>,
    /// The CA client certificates must be signed by.
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    client_ca_file: Option<PathBuf>,
    /// Address of the kubelet's HTTP server (logs, exec, stats).
    #[arg(long, default_value = "127.0.0.1:10250")]
    listen: SocketAddr,
    /// Seconds between node Lease renewals.
    #[arg(long, default_value_t = 10.0)]
    lease_renew_interval: f64,
    /// First CrashLoopBackOff delay in seconds (doubles up to 300).
    #[arg(long, default_value_t = 10.0)]
    backoff_base: f64,
    /// Simulated runtime: seconds for a container to start (and exit).
    #[arg(long, default_value_t = 0.5)]
    sim_delay: f64,
    /// Node CPU capacity (e.g. "4", "3500m"); default: the host's CPUs.
    #[arg(long)]
    cpu: Option<String>,
    /// Node memory capacity (e.g. "8Gi"); default: the host's memory.
    #[arg(long)]
    memory: Option<String>,
    /// Maximum pods on the node.
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
    /// Labels to register the node with: `key=value,key2=value2`
    /// (e.g. `topology.kubernetes.io/zone=zone-a`).
    #[arg(long, value_parser = parse_labels, default_value = "")]
    node_labels: std::collections::BTreeMap<String, String>,
}

/// `--node-labels`' `key=value,…` form.
fn parse_labels(s: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    s.split(',')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("invalid label {kv:?}: expected key=value")),
        })
        .collect()
}

/// Runs `minik-kubelet` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info,kube=warn");
    if args.nodes > 1 && matches!(args.runtime, RuntimeFlag::Docker) {
        anyhow::bail!("--nodes N needs --runtime sim; run one minik-kubelet per Docker node");
    }
    let mut config = Config::new(args.node_name);
    config.kubeconfig = args.kubeconfig;
    config.docker_endpoint = args.docker_endpoint;
    config.runtime = match args.runtime {
        RuntimeFlag::Docker => RuntimeKind::Docker,
        RuntimeFlag::Sim => RuntimeKind::Sim,
    };
    config.nodes = args.nodes.max(1);
    config.root_dir = args.root_dir;
    config.cluster_dns = args.cluster_dns;
    config.cluster_domain = args.cluster_domain;
    config.pod_infra_image = args.pod_infra_image;
    config.network = args.network;
    config.network_subnet = Some(args.network_subnet).filter(|s| !s.is_empty());
    config.cluster_name = args.cluster_name;
    config.listen = args.listen;
    config.lease_renew_interval = Duration::from_secs_f64(args.lease_renew_interval);
    config.backoff_base = Duration::from_secs_f64(args.backoff_base);
    config.sim_delay = Duration::from_secs_f64(args.sim_delay);
    config.cpu_capacity = args.cpu;
    config.memory_capacity = args.memory;
    config.max_pods = args.max_pods;
    config.node_labels = args.node_labels;
    if let (Some(cert), Some(key), Some(ca)) = (
        &args.tls_cert_file,
        &args.tls_private_key_file,
        &args.client_ca_file,
    ) {
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        };
        config.tls = Some(minik_client::tls::TlsFiles {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            ca_pem: read(ca)?,
        });
    }
    tokio::select! {
        result = crate::run(config) => result?,
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; containers keep running"),
    }
    Ok(())
}
