//! How a kubelet is run: the settings `minik-kubelet`'s flags map to, with
//! Kubernetes' defaults (KubeletConfiguration) where minik has one.
//!
//! Tests shorten the timings (lease renewal, backoff, sim delays) through
//! the same struct instead of waiting for real-life periods.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which container runtime runs the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Real containers through the Docker engine.
    Docker,
    /// Simulated containers (no processes), for tests and scale demos.
    Sim,
}

/// One kubelet process: one node, or `nodes` simulated nodes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kubeconfig to reach the API server (`None`: KUBECONFIG or in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The Node's name; with `nodes > 1`, names are `<name>-1..<name>-N`.
    pub node_name: String,
    pub nodes: usize,
    pub runtime: RuntimeKind,
    /// Pod directories (volumes, resolv.conf, hosts) live under here.
    pub root_dir: PathBuf,
    pub cluster_dns: String,
    pub cluster_domain: String,
    pub pod_infra_image: String,
    /// The Docker engine's socket (`--docker-endpoint`, the kubelet's flag
    /// from its dockershim days); `None`: `DOCKER_HOST`, else
    /// /var/run/docker.sock.
    pub docker_endpoint: Option<String>,
    /// The cluster's Docker bridge network (created if missing).
    pub network: String,
    /// Its subnet when minik creates it (`None`: Docker picks one).
    pub network_subnet: Option<String>,
    /// Labels every container, so clusters on one engine stay apart.
    pub cluster_name: String,
    /// The kubelet's HTTP server (logs, exec, stats); port 0 picks one.
    pub listen: SocketAddr,
    /// Lease renewal interval (kubelet: 10 s) and duration (40 s).
    pub lease_renew_interval: Duration,
    pub lease_duration_seconds: i32,
    /// How often node status is recomputed; it is written when it changed
    /// or when `node_status_report_frequency` has passed.
    pub node_status_update_frequency: Duration,
    pub node_status_report_frequency: Duration,
    /// CrashLoopBackOff: first delay (10 s), cap (5 min); reset after a
    /// container ran for twice the cap (10 min).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A full resync of every pod worker, in case an event was missed.
    pub resync_period: Duration,
    /// Simulated runtime: time to start (and to exit) a container.
    pub sim_delay: Duration,
    /// Capacity overrides (`None`: measured from the host).
    pub cpu_capacity: Option<String>,
    pub memory_capacity: Option<String>,
    pub max_pods: u32,
    /// Labels the Node registers with besides the well-known ones
    /// (`--node-labels`), e.g. `topology.kubernetes.io/zone`.
    pub node_labels: std::collections::BTreeMap<String, String>,
    /// Serve HTTPS to the API server only (`--tls-cert-file`,
    /// `--tls-private-key-file`, `--client-ca-file`); `None` is plain HTTP.
    pub tls: Option<minik_client::tls::TlsFiles>,
}

impl Config {
    /// Kubernetes' defaults for a node named `node_name`.
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            kubeconfig: None,
            node_name: node_name.into(),
            nodes: 1,
            runtime: RuntimeKind::Docker,
            root_dir: PathBuf::from("/var/lib/minik/kubelet"),
            cluster_dns: "10.96.0.10".into(),
            cluster_domain: "cluster.local".into(),
            pod_infra_image: "minik/pause:3.10".into(),
            docker_endpoint: None,
            network: "minik".into(),
            network_subnet: Some("10.244.0.0/16".into()),
            cluster_name: "minik".into(),
            listen: "127.0.0.1:10250".parse().expect("valid address"),
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            node_status_update_frequency: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            resync_period: Duration::from_secs(60),
            sim_delay: Duration::from_millis(500),
            cpu_capacity: None,
            memory_capacity: None,
            max_pods: 110,
            node_labels: Default::default(),
            tls: None,
        }
    }

    /// The node names this process runs.
    pub fn node_names(&self) -> Vec<String> {
        if self.nodes <= 1 {
            vec![self.node_name.clone()]
        } else {
            (1..=self.nodes)
                .map(|i| format!("{}-{i}", self.node_name))
                .collect()
        }
    }
}
