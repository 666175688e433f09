//! # minik-kubelet: the node agent
//!
//! Models the kubelet: it registers a Node, heartbeats a Lease, turns the
//! Pods bound to its node into containers, and reports their truth back.
//! Like every minik component it talks to the cluster only through the API
//! server (the `kube` crate); it is the only component that knows Docker.
//!
//! A tour, in the order things happen:
//! - [`config`] — the flags' settings, with Kubernetes' defaults.
//! - [`node`] registers the Node (capacity, labels, addresses, nodeInfo,
//!   kubelet port) and keeps its status true; [`lease`] renews the node
//!   Lease in `kube-node-lease`.
//! - [`node_watch`] watches the node's pods (`spec.nodeName=<node>`) and its
//!   Node — once for all the nodes of a process that simulates many; the
//!   pods are kept encoded between syncs ([`encoded_pod`]).
//! - [`pod_worker`] runs one worker per pod of the node; each worker calls
//!   [`sync::sync_pod`], the level-triggered desired-vs-actual step
//!   (sandbox, volumes, init containers, containers, restarts, probes,
//!   status), and [`sync::terminate`] for deletions.
//! - Inside a sync: [`images`] (pull policy, ErrImagePull/ImagePullBackOff),
//!   [`env`] (environment, CreateContainerConfigError), [`volumes`]
//!   (emptyDir, configMap, secret, hostPath, downwardAPI, projected),
//!   [`pod_dns`] (resolv.conf and hosts), [`backoff`] (CrashLoopBackOff),
//!   [`probes`] (startup/liveness/readiness workers and hook actions),
//!   [`security`] (security contexts, runAsNonRoot, sysctl admission),
//!   [`status`] (PodStatus as kubectl expects it), [`events`] (Pulled,
//!   Created, Started, Killing, Unhealthy, BackOff …).
//! - [`cache`] watches the ConfigMaps and Secrets pods consume.
//! - Watches, Events and errors go through `minik_client`, as in every
//!   component: one `SharedInformerFactory` per process (this node's pods,
//!   ConfigMaps, Secrets), one `EventRecorder` per node (client-go's
//!   correlation), `minik_client::errors` for what a failed call means.
//! - [`runtime`] is the CRI-like boundary: [`runtime::docker`] runs real
//!   containers (infra container + app containers sharing its network
//!   namespace, all labelled so a restarted kubelet adopts them), and
//!   [`runtime::sim`] simulates them for fast tests and many-node demos.
//! - [`server`] serves logs, exec ([`exec`], WebSocket channel protocol),
//!   port-forward ([`portforward`] over [`spdy`] or WebSocket) and stats to
//!   the API server's proxy; [`authn`] makes that HTTPS for the API server
//!   only.
//!
//! Ephemeral containers (`kubectl debug`) start once beside the app
//! containers, in the target container's process namespace. Sidecars
//! (init containers with `restartPolicy: Always`) start in init order, hold
//! the next until they have started, run beside the app containers, count
//! for readiness, are always restarted, and are stopped after them.
//! A `hostNetwork` pod's sandbox is in the host's network and UTS
//! namespaces: its IP, ports, hostname and (under `ClusterFirst`) DNS are
//! the node's — every Docker node's being this one host's. `hostPID`,
//! `hostIPC` and `shareProcessNamespace` put the containers in the host's
//! or the sandbox's process and IPC namespaces.
//!
//! Deliberately left out: static pods, user namespaces, SELinux, AppArmor,
//! procMount and `supplementalGroupsPolicy: Strict` (each pod asking gets
//! a `NotSupported` Warning Event), unsafe sysctls (refused as by a
//! kubelet without `--allowed-unsafe-sysctls`), eviction, device plugins, CSI and
//! other storage volumes, a SubjectAccessReview per kubelet request, CRI
//! over gRPC (the runtime is a Rust trait).

pub mod authn;
pub mod backoff;
pub mod cache;
pub mod cli;
pub mod config;
pub mod context;
pub mod encoded_pod;
pub mod env;
pub mod error;
pub mod events;
pub mod exec;
pub mod images;
pub mod lease;
pub mod node;
pub mod node_watch;
pub mod pod_dns;
pub mod pod_worker;
pub mod portforward;
pub mod probes;
pub mod runtime;
pub mod security;
pub mod server;
pub mod service_env;
pub mod spdy;
pub mod stats;
pub mod status;
pub mod sync;
pub mod termination;
pub mod token_manager;
pub mod volumes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::runtime::watcher;
use tokio::task::JoinHandle;

pub use config::{Config, RuntimeKind};
pub use context::Kubelet;
pub use error::Error;

use crate::cache::ObjectCache;
use crate::context::Capacity;
use crate::encoded_pod::EncodedPod;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::sim::SimRuntime;
use crate::runtime::Runtime;

/// One running node of this process.
pub struct NodeHandle {
    pub name: String,
    /// The kubelet's HTTP server (logs, exec, stats).
    pub addr: SocketAddr,
    pub kubelet: Arc<Kubelet>,
}

/// The kubelet(s) running in this process; dropping it stops them
/// (containers keep running, as when a real kubelet stops).
pub struct Running {
    pub nodes: Vec<NodeHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Runs until one of the kubelet's loops ends (it should not).
    pub async fn wait(mut self) {
        if !self.tasks.is_empty() {
            let tasks = std::mem::take(&mut self.tasks);
            let _ = futures::future::select_all(tasks).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for n in &self.nodes {
            for w in n.kubelet.workers.lock().unwrap().values() {
                w.abort();
            }
        }
    }
}

/// Builds the API client from `--kubeconfig` (or KUBECONFIG / defaults),
/// the same way every minik component does ([`minik_client::connect`]).
pub async fn client(config: &Config) -> Result<kube::Client, Error> {
    minik_client::connect(config.kubeconfig.as_deref())
        .await
        .map_err(|e| Error::Config(format!("{e:#}")))
}

/// How many simulated nodes of one process register at once. Each
/// registration is a few round trips (Node, its status, its Lease); one
/// after another, a thousand simulated nodes took most of `cluster up`'s
/// time. Docker nodes start one at a time: the first one creates the
/// cluster's network, which the others then join.
const REGISTER_AT_ONCE: usize = 32;

/// Starts the configured node(s) with `client`: registers each Node and
/// its Lease (trying again while the API server cannot be reached or
/// answers 429 or 5xx), then runs the pod workers, status loops and HTTP servers in
/// the background.
pub async fn start(config: Config, client: kube::Client) -> Result<Running, Error> {
    use futures::{StreamExt, TryStreamExt};
    let config = Arc::new(config);
    // One informer per kind (and node selector) for every node of the process.
    let informers = Arc::new(minik_client::SharedInformerFactory::new(client.clone()));
    let objects = ObjectCache::start(client.clone(), &informers).await?;
    std::fs::create_dir_all(&config.root_dir)
        .map_err(|e| Error::io(format!("creating {}", config.root_dir.display()), e))?;
    let names = config.node_names();
    let (pods, pod_router) = node_watch::start::<EncodedPod>(
        &informers,
        &names,
        |node| watcher::Config::default().fields(&format!("spec.nodeName={node}")),
        watcher::Config::default().fields("spec.nodeName!="),
        |pod| pod.node_name.as_deref(),
    );
    let (nodes, node_router) = node_watch::start::<Node>(
        &informers,
        &names,
        |node| watcher::Config::default().fields(&format!("metadata.name={node}")),
        watcher::Config::default(),
        |node| node.metadata.name.as_deref(),
    );
    let shared = Shared {
        recorder: minik_client::EventRecorder::new(client.clone(), "kubelet", None),
        tls: server::tls_config(&config)?,
        router: server::router(),
        syncs: Arc::new(tokio::sync::Semaphore::new(context::CONCURRENT_SYNCS)),
        host: Arc::new(node::HostInfo::read()),
        pods,
        nodes,
        config: config.clone(),
        client,
        informers,
        objects,
    };
    let started: Vec<(NodeHandle, Vec<JoinHandle<()>>)> =
        futures::stream::iter(config.node_names().into_iter().enumerate())
            .map(|(i, name)| start_node(&shared, i, name))
            .buffered(match config.runtime {
                RuntimeKind::Sim => REGISTER_AT_ONCE,
                RuntimeKind::Docker => 1,
            })
            .try_collect()
            .await?;
    let mut running = Running {
        nodes: Vec::new(),
        tasks: vec![pod_router, node_router],
    };
    for (node, tasks) in started {
        running.nodes.push(node);
        running.tasks.extend(tasks);
    }
    Ok(running)
}

/// What every node of the process shares.
struct Shared {
    config: Arc<Config>,
    client: kube::Client,
    informers: Arc<minik_client::SharedInformerFactory>,
    objects: Arc<ObjectCache>,
    /// Each node's pods and its Node, from one watch of each.
    pods: node_watch::Routes<EncodedPod>,
    nodes: node_watch::Routes<Node>,
    /// Each node's recorder is this one's, as that node (one correlator
    /// for the process: `EventRecorder::for_instance`).
    recorder: minik_client::EventRecorder,
    /// The HTTPS server's configuration, the same for every node.
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The HTTP routes, the same for every node (`server::router`).
    router: axum::Router,
    /// Pod syncs under way in the process (`Kubelet::syncs`).
    syncs: Arc<tokio::sync::Semaphore>,
    /// The machine's `nodeInfo`, read once.
    host: Arc<node::HostInfo>,
}

/// Starts node `i` (`name`): its runtime, HTTP server, Node and Lease, and
/// its loops (returned, to be aborted when the process stops).
async fn start_node(
    shared: &Shared,
    i: usize,
    name: String,
) -> Result<(NodeHandle, Vec<JoinHandle<()>>), Error> {
    let config = &shared.config;
    let client = &shared.client;
    let runtime: Arc<dyn Runtime> = match config.runtime {
        RuntimeKind::Docker => Arc::new(
            DockerRuntime::connect(
                config.docker_endpoint.as_deref(),
                &name,
                &config.cluster_name,
                &config.network,
                config.network_subnet.as_deref(),
            )
            .await?,
        ),
        RuntimeKind::Sim => Arc::new(SimRuntime::new(config.sim_delay, &name)),
    };
    let mut listen = config.listen;
    if listen.port() != 0 {
        listen.set_port(listen.port() + i as u16);
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::io(format!("listening on {listen}"), e))?;
    let kubelet = Arc::new(Kubelet {
        config: config.clone(),
        node_name: name.clone(),
        client: client.clone(),
        node_ip: runtime.node_ip().await?,
        capacity: Capacity::of_host(config),
        runtime: runtime.clone(),
        objects: shared.objects.clone(),
        workers: Default::default(),
        stopped: tokio::sync::watch::Sender::new(false),
        informers: shared.informers.clone(),
        recorder: shared.recorder.for_instance(&name),
        rates: Default::default(),
        syncs: shared.syncs.clone(),
    });
    let mut tasks = Vec::new();
    let (addr, server) = server::start(
        kubelet.clone(),
        shared.router.clone(),
        listener,
        shared.tls.clone(),
    )
    .await?;
    tasks.push(server);
    let facts = node::NodeFacts {
        runtime_version: runtime.version().await?,
        kubelet_port: addr.port(),
        host: shared.host.clone(),
    };
    let registered = until_done(&name, "register the node", || {
        node::register(&kubelet, &facts)
    })
    .await?;
    node::record_start(&kubelet, &registered);
    let uid = registered.metadata.uid.clone();
    until_done(&name, "create the node's Lease", || {
        lease::create(&kubelet, uid.clone())
    })
    .await?;
    let taken = |what| Error::Config(format!("node {name}'s {what} are already watched"));
    let node_events = shared
        .nodes
        .take(&name)
        .ok_or_else(|| taken("Node changes"))?;
    let pod_events = shared.pods.take(&name).ok_or_else(|| taken("pods"))?;
    tasks.push(tokio::spawn(node::run(
        kubelet.clone(),
        facts,
        Arc::new(registered),
        node_events,
    )));
    tasks.push(tokio::spawn(lease::run(kubelet.clone())));
    let pods = kubelet.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = pod_worker::run(pods, pod_events).await {
            tracing::error!(error = %e, "pod workers stopped");
        }
    }));
    tracing::info!(node = %name, %addr, runtime = ?config.runtime, "kubelet running");
    Ok((
        NodeHandle {
            name,
            addr,
            kubelet,
        },
        tasks,
    ))
}

/// The longest wait between two tries of a startup step (kubelet's
/// `registerWithAPIServer`: from 100 ms, doubling, up to 7 s).
const STARTUP_RETRY_MAX: Duration = Duration::from_secs(7);

/// Runs a startup step that needs the API server until it succeeds, as
/// kubelet registers its node: an API server that is down, restarting or
/// overloaded while the kubelet starts delays the node, it does not stop
/// the process (a stopped kubelet is every node of a simulated process
/// NotReady, and nobody restarts it). An answer that will not change — a
/// 403 for the kubeconfig's identity, a 422 for a bad `--node-labels` —
/// still ends the start with that error, for `cluster up` to show.
async fn until_done<T, F, Fut>(node: &str, what: &str, mut step: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match step().await {
            Err(Error::Kube(e)) if minik_client::errors::is_transient(&e) => {
                tracing::warn!(%node, error = %e, ?delay, "cannot {what}; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(STARTUP_RETRY_MAX);
            }
            done => return done,
        }
    }
}

/// Runs the kubelet(s) described by `config` until the process stops.
pub async fn run(config: Config) -> Result<(), Error> {
    let client = client(&config).await?;
    start(config, client).await?.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> Error {
        Error::Kube(kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        })))
    }

    #[tokio::test]
    async fn a_startup_step_is_tried_again_while_the_server_is_away() {
        let mut tries = 0;
        let done = until_done("node-1", "register the node", || {
            tries += 1;
            let answer = match tries {
                1 => Err(Error::Kube(kube::Error::Service(
                    "connection refused".into(),
                ))),
                2 => Err(api_error(503)),
                _ => Ok(()),
            };
            std::future::ready(answer)
        })
        .await;
        assert!(done.is_ok());
        assert_eq!(tries, 3);
    }

    #[tokio::test]
    async fn a_final_answer_ends_the_start() {
        let mut tries = 0;
        let done: Result<(), Error> = until_done("node-1", "register the node", || {
            tries += 1;
            std::future::ready(Err(api_error(422)))
        })
        .await;
        assert!(matches!(done, Err(Error::Kube(_))));
        assert_eq!(tries, 1, "a 422 is not tried again");
    }
}
