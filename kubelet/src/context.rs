//! What every part of one node's kubelet shares: its name and settings, the
//! API client, the container runtime, the ConfigMap/Secret cache, the
//! node's address and capacity, and the pod workers (one per pod).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::cache::ObjectCache;
use crate::config::Config;
use crate::pod_worker::WorkerHandle;
use crate::runtime::Runtime;

/// The node's resources (allocatable = capacity: minik reserves nothing).
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub pods: u32,
}

impl Capacity {
    /// Measured from the host, unless the configuration overrides it.
    pub fn of_host(config: &Config) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let mem_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse::<i64>().ok())
            })
            .unwrap_or(4 * 1024 * 1024);
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|q| minik_api::quantity::Quantity::parse(q).ok())
        };
        Self {
            cpu_millis: parse(&config.cpu_capacity).map_or(cpus * 1000, |q| q.millis()),
            memory_bytes: parse(&config.memory_capacity).map_or(mem_kib * 1024, |q| q.value()),
            pods: config.max_pods,
        }
    }
}

/// One node's kubelet.
pub struct Kubelet {
    pub config: Arc<Config>,
    pub node_name: String,
    pub client: kube::Client,
    pub runtime: Arc<dyn Runtime>,
    pub objects: Arc<ObjectCache>,
    /// The node's InternalIP, which is also every pod's hostIP.
    pub node_ip: String,
    pub capacity: Capacity,
    /// Pod workers by pod UID.
    pub workers: Mutex<HashMap<String, WorkerHandle>>,
    /// The process's shared informers (this node's pods, ConfigMaps, Secrets).
    pub informers: Arc<minik_client::SharedInformerFactory>,
    /// The node's one Event recorder ("kubelet", instance: the node name).
    pub recorder: minik_client::EventRecorder,
    /// Each running container's previous usage sample, for CPU rates.
    pub rates: crate::stats::RateCache,
    /// Whether the node is "stopped" (its Node's
    /// [`crate::node::STOPPED_ANNOTATION`]): no heartbeats, no status, no
    /// pod syncs — to the cluster, a lost node.
    pub stopped: tokio::sync::watch::Sender<bool>,
    /// Pod syncs the process runs at once ([`CONCURRENT_SYNCS`]).
    pub syncs: Arc<tokio::sync::Semaphore>,
}

/// How many pods a kubelet process syncs at once. A real kubelet's node
/// holds at most `--max-pods` (110), never more than this; a process
/// simulating 1,000 nodes had every pod of a burst syncing at once, each
/// holding its decoded pod, its status write and its Events in flight —
/// a peak heap of 451 MB for 5,000 pods, which the allocator then kept.
pub const CONCURRENT_SYNCS: usize = 512;

impl Kubelet {
    pub fn root_dir(&self) -> PathBuf {
        self.config.root_dir.clone()
    }

    /// The UID of this node's pod `namespace/name`, if a worker has it.
    pub fn pod_uid(&self, namespace: &str, name: &str) -> Option<String> {
        self.workers.lock().unwrap().iter().find_map(|(uid, w)| {
            let pod = w.pod()?;
            (pod.metadata.namespace.as_deref() == Some(namespace)
                && pod.metadata.name.as_deref() == Some(name))
            .then(|| uid.clone())
        })
    }
}
