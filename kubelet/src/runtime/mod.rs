//! The container runtime seen by the kubelet: a small trait in the spirit of
//! Kubernetes' CRI (Container Runtime Interface), with two implementations:
//! [`docker`] (real containers through the Docker Engine API) and [`sim`]
//! (a simulated runtime for fast tests and scale demos).
//!
//! Like CRI, the runtime knows *pod sandboxes* (the infra container holding
//! the pod's network namespace and IP) and *containers* joined to them. Every
//! container carries labels saying which pod and container it belongs to, so
//! the kubelet can always rebuild its view from the runtime alone: nothing
//! the kubelet must remember lives only in its memory.
//!
//! Simplified on purpose: no image service separate from the runtime service,
//! no streaming server of its own (the kubelet's HTTP server calls
//! [`Runtime::logs`] and [`Runtime::exec_attach`] directly), and no sandbox
//! configuration beyond what a Docker bridge network offers.

pub mod docker;
pub mod hairpin;
pub mod sim;

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use jiff::Timestamp;
use tokio::io::AsyncWrite;
use tokio::sync::broadcast;

use crate::Error;

/// Labels on every container minik creates (the first four are the ones
/// Kubernetes' dockershim used; `minik.*` keep clusters and nodes apart).
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// `podsandbox` or `container`, as dockershim labelled them.
pub const LABEL_TYPE: &str = "io.kubernetes.docker.type";
/// How many times this container had been restarted when it was created.
pub const LABEL_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Hash of the container's spec: a changed spec means a restart.
pub const LABEL_HASH: &str = "io.kubernetes.container.hash";
pub const LABEL_NODE: &str = "minik.node";
pub const LABEL_CLUSTER: &str = "minik.cluster";

/// The container name Kubernetes uses for the pod sandbox.
pub const SANDBOX_NAME: &str = "POD";

/// Which pod a sandbox or container belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub uid: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Created but not (successfully) started.
    Created,
    Running,
    Exited,
}

/// One container (or sandbox) as the runtime reports it.
#[derive(Debug, Clone)]
pub struct ContainerRecord {
    pub id: String,
    pub pod: PodRef,
    /// Container name from the pod spec, or [`SANDBOX_NAME`].
    pub name: String,
    pub sandbox: bool,
    pub restart_count: i32,
    pub hash: String,
    pub image: String,
    pub image_id: String,
    pub state: RunState,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// The runtime's error for a container that failed to start.
    pub error: String,
    /// A dead container's termination message: filled in by the kubelet
    /// (`termination.rs`), never by a runtime.
    pub message: String,
    /// Sandboxes only: the pod IP.
    pub ip: Option<String>,
}

impl ContainerRecord {
    pub fn running(&self) -> bool {
        self.state == RunState::Running
    }

    /// A container that will not run again: exited, or failed to start.
    pub fn dead(&self) -> bool {
        self.state == RunState::Exited
            || (self.state == RunState::Created && !self.error.is_empty())
    }

    /// Docker-style ID as Kubernetes shows it (`docker://<id>`).
    pub fn container_id(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.id)
    }
}

/// What the sandbox needs: identity, hostname and the cluster network.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub pod: PodRef,
    pub attempt: i32,
    pub hostname: String,
    pub image: String,
    /// The app containers' `hostPort`s, which the sandbox publishes.
    pub host_ports: Vec<HostPort>,
    /// `hostNetwork`: the sandbox is in the node's network namespace (and
    /// has no IP of its own: the pod's is the node's).
    pub host_network: bool,
    /// The pod's (safe) sysctls, set in its namespaces.
    pub sysctls: Vec<(String, String)>,
    /// `hostIPC`, `hostPID`: the sandbox in the host's namespaces.
    pub host_ipc: bool,
    pub host_pid: bool,
}

/// One `hostPort`: the node's port (on `host_ip`, or on every address when
/// empty) forwarded to the pod's `container_port` — what the CNI portmap
/// plugin does for kubelet, Docker's port publishing does here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// A container fully resolved by the kubelet (env expanded, mounts made).
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    /// `command` of the pod spec (Docker's entrypoint), already expanded.
    pub entrypoint: Option<Vec<String>>,
    /// `args` of the pod spec (Docker's cmd), already expanded.
    pub cmd: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    /// `host:container[:ro]` bind mounts.
    pub binds: Vec<String>,
    pub memory_limit: Option<i64>,
    pub cpu_limit_millis: Option<i64>,
    pub cpu_request_millis: Option<i64>,
    pub restart_count: i32,
    pub hash: String,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    /// User, groups, capabilities, seccomp and the rest (`security.rs`).
    pub security: crate::security::Applied,
    /// An ephemeral container's target: the runtime ID of the container
    /// whose process namespace it joins (`kubectl debug --target`).
    pub pid_target: Option<String>,
    /// `hostIPC`, `hostPID`: the host's IPC or process namespace.
    pub host_ipc: bool,
    pub host_pid: bool,
    /// `shareProcessNamespace`: the sandbox's process namespace, shared
    /// by all the pod's containers.
    pub share_process_namespace: bool,
}

/// Output of a command run to completion (probes and hooks).
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub output: String,
}

/// What `kubectl logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail_lines: Option<i64>,
    pub since: Option<Timestamp>,
    pub timestamps: bool,
}

/// An interactive exec: output frames tagged by stream, and the input side.
pub struct ExecSession {
    pub exec_id: String,
    pub output: BoxStream<'static, Result<ExecFrame, Error>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

#[derive(Debug)]
pub enum ExecFrame {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// One container's resource usage at one moment: cumulative CPU time and
/// memory now. The kubelet turns successive samples into a CPU rate
/// (`crate::stats`), as cAdvisor does.
#[derive(Debug, Clone)]
pub struct ContainerStats {
    /// When the counters were read. Rates are taken between these times,
    /// not when the answer reached the kubelet: under load that can be a
    /// few hundred milliseconds later, and a 15 s window then misreads a
    /// busy loop at its 300m limit as 304m.
    pub time: Timestamp,
    pub cpu_usage_core_nanoseconds: u64,
    pub memory_usage_bytes: u64,
    pub memory_working_set_bytes: u64,
}

/// Pod annotations through which a simulated container's usage is driven
/// (`kubectl annotate pod p sim.minik.io/cpu=400m`): each container of the
/// pod then uses that much. The Docker runtime measures instead.
pub const SIM_CPU_ANNOTATION: &str = "sim.minik.io/cpu";
pub const SIM_MEMORY_ANNOTATION: &str = "sim.minik.io/memory";

/// The container runtime as the kubelet uses it.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// `docker` or `sim`: the scheme of container IDs.
    fn scheme(&self) -> &'static str;
    /// Whether network probes (httpGet, tcpSocket) can reach pod IPs.
    fn reaches_pods(&self) -> bool;
    /// `docker://20.10.24`, for the Node's nodeInfo.
    async fn version(&self) -> Result<String, Error>;
    /// The node's InternalIP: the host side of the pod network.
    async fn node_ip(&self) -> Result<String, Error>;
    /// Every container (and sandbox) of one pod, newest first.
    async fn list_pod(&self, pod_uid: &str) -> Result<Vec<ContainerRecord>, Error>;
    /// Every container (and sandbox) of this node, newest first.
    async fn list_all(&self) -> Result<Vec<ContainerRecord>, Error>;
    /// The image's ID when it is present locally.
    async fn image_id(&self, image: &str) -> Result<Option<String>, Error>;
    /// The user a (present) image runs as (its `USER`, "" for root), or
    /// None when the runtime cannot tell.
    async fn image_user(&self, image: &str) -> Result<Option<String>, Error>;
    /// Pulls an image from its registry.
    async fn pull_image(&self, image: &str) -> Result<(), Error>;
    /// Creates and starts the infra container; returns it with its IP.
    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<ContainerRecord, Error>;
    /// Creates an app or init container inside the sandbox.
    async fn create_container(
        &self,
        pod: &PodRef,
        sandbox_id: &str,
        config: &ContainerConfig,
    ) -> Result<String, Error>;
    async fn start_container(&self, id: &str) -> Result<(), Error>;
    /// SIGTERM, then SIGKILL once `grace` has passed.
    async fn stop_container(&self, id: &str, grace: Duration) -> Result<(), Error>;
    async fn remove_container(&self, id: &str) -> Result<(), Error>;
    /// Runs a command in a running container and waits for it (probes, hooks).
    async fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, Error>;
    /// Starts an interactive command in a running container.
    async fn exec_attach(
        &self,
        id: &str,
        cmd: &[String],
        tty: bool,
        stdin: bool,
    ) -> Result<ExecSession, Error>;
    async fn exec_resize(&self, exec_id: &str, width: u16, height: u16) -> Result<(), Error>;
    /// Attaches to a container's main process (`kubectl attach`, `run -i`):
    /// its output from now on, and its stdin when `stdin`. The session's
    /// `exec_id` is the container's ID.
    async fn attach(&self, id: &str, stdin: bool) -> Result<ExecSession, Error>;
    /// Resizes a container's TTY.
    async fn resize(&self, id: &str, width: u16, height: u16) -> Result<(), Error>;
    /// Exit code of a finished interactive exec.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, Error>;
    /// The container's log stream.
    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, Error>>, Error>;
    /// One sample of a running container's usage. `annotations` are its
    /// pod's: the simulated runtime's usage is driven by them.
    async fn stats(
        &self,
        id: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Result<ContainerStats, Error>;
    /// Samples of several containers (id and pod annotations each), in
    /// order: by default one [`stats`](Self::stats) call each, at once.
    /// The simulated runtime reads them all at one instant, as cAdvisor
    /// reads a node's root cgroup at once: otherwise a node's sum mixes
    /// samples a descheduled moment apart, and over the short windows
    /// tests use (500 ms) a node at 300m read as 292m.
    async fn stats_all(
        &self,
        containers: &[(&str, &BTreeMap<String, String>)],
    ) -> Vec<Result<ContainerStats, Error>> {
        futures::future::join_all(containers.iter().map(|(id, a)| self.stats(id, a))).await
    }
    /// Pods whose containers changed (started, died, OOM): the kubelet's
    /// PLEG (pod lifecycle event generator), fed by the runtime's own events.
    fn subscribe(&self) -> broadcast::Receiver<RuntimeEvent>;
}

/// What a runtime's event stream says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEvent {
    /// A container of the pod with this UID started, died or was OOM-killed.
    Pod(String),
    /// The stream broke and was opened again: what happened in between
    /// may be missing, so every pod is looked at again (as an informer
    /// relists after its watch breaks).
    Resync,
}

/// Labels minik puts on a container of `pod`.
pub fn labels(
    pod: &PodRef,
    container: &str,
    node: &str,
    cluster: &str,
    sandbox: bool,
    restart_count: i32,
    hash: &str,
) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_POD_UID.to_string(), pod.uid.clone()),
        (LABEL_POD_NAMESPACE.to_string(), pod.namespace.clone()),
        (LABEL_POD_NAME.to_string(), pod.name.clone()),
        (LABEL_CONTAINER_NAME.to_string(), container.to_string()),
        (
            LABEL_TYPE.to_string(),
            if sandbox { "podsandbox" } else { "container" }.to_string(),
        ),
        (LABEL_RESTART_COUNT.to_string(), restart_count.to_string()),
        (LABEL_HASH.to_string(), hash.to_string()),
        (LABEL_NODE.to_string(), node.to_string()),
        (LABEL_CLUSTER.to_string(), cluster.to_string()),
    ])
}

/// Docker container name, as dockershim named them:
/// `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`.
pub fn container_name(pod: &PodRef, container: &str, attempt: i32) -> String {
    format!(
        "k8s_{container}_{}_{}_{}_{attempt}",
        pod.name, pod.namespace, pod.uid
    )
}
