//! The Docker runtime: pods as real containers through the Docker Engine API
//! (bollard), the way Kubernetes' dockershim ran them.
//!
//! - A pod sandbox is an infra container (`--pod-infra-image`, by default
//!   `minik/pause:3.10`) attached to the cluster's bridge network; its IP is
//!   the pod IP and its hostname the pod's hostname. It publishes the pod's
//!   `hostPort`s and carries its sysctls. A `hostNetwork` pod's sandbox is
//!   in the host's network and UTS namespaces instead (`hostIPC`,
//!   `hostPID`: the host's IPC and process namespaces).
//! - App and init containers join the sandbox's network and IPC namespaces
//!   (`network_mode: container:<sandbox>`), so a pod's containers share
//!   `localhost`; with `shareProcessNamespace`, its process namespace too.
//! - Every container is labelled (pod uid/namespace/name, container name,
//!   restart count, spec hash, node, cluster) and every query filters on this
//!   node's and cluster's labels, so several kubelets — and several test
//!   clusters — share one engine without touching each other's containers.
//! - Docker's event stream (start/die/oom) feeds the kubelet's PLEG.
//! - The bridge's ports are put in hairpin mode ([`super::hairpin`]).
//!
//! Simplified on purpose: images are only pulled by reference (no registry
//! credentials), and stats come from Docker's own stats endpoint.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWrite;

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, HostConfig, Ipam,
    IpamConfig, NetworkCreateRequest, NetworkInspect, PortBinding, PortMap,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use tokio::sync::broadcast;

use super::{
    container_name, labels, ContainerConfig, ContainerRecord, ContainerStats, ExecFrame,
    ExecOutput, ExecSession, LogOptions, PodRef, RunState, Runtime, RuntimeEvent, SandboxConfig,
    LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_HASH, LABEL_NODE, LABEL_POD_NAME,
    LABEL_POD_NAMESPACE, LABEL_POD_UID, LABEL_RESTART_COUNT, LABEL_TYPE, SANDBOX_NAME,
};
use crate::Error;

/// A connection to the Docker engine, scoped to one node of one cluster.
pub struct DockerRuntime {
    docker: Docker,
    node: String,
    cluster: String,
    network: String,
    /// The Linux bridge of `network`, whose ports get hairpin mode.
    bridge: String,
    events: broadcast::Sender<RuntimeEvent>,
    events_task: tokio::task::JoinHandle<()>,
    /// Containers Docker sent an `oom` event for. Docker 20.10 can lose
    /// `OOMKilled` in its inspect answer when it handles the exit after
    /// the OOM (the exit resets the flag); the event is not lost.
    oom_seen: OomSeen,
}

/// Container IDs with an `oom` event, forgotten when the container is
/// removed (and all at once past [`OOM_SEEN_MAX`], to stay bounded).
type OomSeen = Arc<std::sync::Mutex<HashSet<String>>>;
const OOM_SEEN_MAX: usize = 4096;

impl Drop for DockerRuntime {
    fn drop(&mut self) {
        self.events_task.abort();
    }
}

impl DockerRuntime {
    /// Connects to the engine at `endpoint` (a Unix socket, `unix://` or
    /// not; `None`: `DOCKER_HOST`, else /var/run/docker.sock), negotiating
    /// the API version (Debian's engine speaks 1.41), makes sure the
    /// cluster network exists, and starts following events.
    pub async fn connect(
        endpoint: Option<&str>,
        node: &str,
        cluster: &str,
        network: &str,
        subnet: Option<&str>,
    ) -> Result<Self, Error> {
        let docker = match endpoint {
            Some(path) => Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)?,
            None => Docker::connect_with_local_defaults()?,
        }
        .negotiate_version()
        .await?;
        let net = ensure_network(&docker, network, cluster, subnet).await?;
        let bridge = super::hairpin::bridge_name(
            net.id.as_deref().unwrap_or_default(),
            net.options.as_ref(),
        );
        let (events, _) = broadcast::channel(1024);
        let mut filters = node_filters(node, cluster, None);
        filters.insert("type".into(), vec!["container".into()]);
        filters.insert(
            "event".into(),
            vec!["start".into(), "die".into(), "oom".into()],
        );
        let oom_seen = OomSeen::default();
        let events_task = tokio::spawn(follow_events(
            docker.clone(),
            filters,
            events.clone(),
            oom_seen.clone(),
        ));
        Ok(Self {
            docker,
            node: node.to_string(),
            cluster: cluster.to_string(),
            network: network.to_string(),
            bridge,
            events,
            events_task,
            oom_seen,
        })
    }

    fn filters(&self, extra: Option<String>) -> HashMap<String, Vec<String>> {
        node_filters(&self.node, &self.cluster, extra)
    }

    async fn list(&self, extra: Option<String>) -> Result<Vec<ContainerRecord>, Error> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&self.filters(extra))
            .build();
        let summaries = self.docker.list_containers(Some(options)).await?;
        let mut records = Vec::with_capacity(summaries.len());
        for s in summaries {
            let Some(id) = s.id else { continue };
            match self.inspect_settled(&id).await {
                Ok(inspect) => records.extend(self.record(inspect)),
                // Removed between the list and the inspect.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(records)
    }

    /// Inspects a container; one just killed with SIGKILL (exit 137) under a
    /// memory limit is inspected again for a moment until Docker has
    /// processed the OOM event. dockerd handles containerd's `oom` and
    /// `exit` events separately, so right after the exit `OOMKilled` can
    /// still read false, and the pod would say `Error` instead of
    /// `OOMKilled`. Bounded: only in that case, and only until 2 s after the
    /// exit (under load dockerd took longer than 0.5 s to set the flag).
    async fn inspect_settled(
        &self,
        id: &str,
    ) -> Result<ContainerInspectResponse, bollard::errors::Error> {
        let mut inspect = self.docker.inspect_container(id, None).await?;
        for _ in 0..20 {
            let state = inspect.state.as_ref();
            let maybe_oom = state.and_then(|s| s.exit_code) == Some(137)
                && state.and_then(|s| s.oom_killed) != Some(true)
                && !self.oom_seen.lock().unwrap().contains(id)
                && inspect
                    .host_config
                    .as_ref()
                    .and_then(|h| h.memory)
                    .is_some_and(|m| m > 0)
                && docker_time(state.and_then(|s| s.finished_at.as_deref()))
                    .is_some_and(|t| Timestamp::now().duration_since(t).as_secs_f64() < 2.0);
            if !maybe_oom {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            inspect = self.docker.inspect_container(id, None).await?;
        }
        Ok(inspect)
    }

    fn record(&self, c: ContainerInspectResponse) -> Option<ContainerRecord> {
        let oom_event =
            c.id.as_ref()
                .is_some_and(|id| self.oom_seen.lock().unwrap().contains(id));
        let config = c.config?;
        let labels = config.labels.unwrap_or_default();
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let state = c.state.unwrap_or_default();
        let run_state = match state.status {
            Some(ContainerStateStatusEnum::RUNNING)
            | Some(ContainerStateStatusEnum::PAUSED)
            | Some(ContainerStateStatusEnum::RESTARTING) => RunState::Running,
            Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
            _ => RunState::Exited,
        };
        let ip = c
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(&self.network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty());
        Some(ContainerRecord {
            id: c.id?,
            pod: PodRef {
                uid: label(LABEL_POD_UID),
                namespace: label(LABEL_POD_NAMESPACE),
                name: label(LABEL_POD_NAME),
            },
            name: label(LABEL_CONTAINER_NAME),
            sandbox: label(LABEL_TYPE) == "podsandbox",
            restart_count: label(LABEL_RESTART_COUNT).parse().unwrap_or(0),
            hash: label(LABEL_HASH),
            image: config.image.unwrap_or_default(),
            image_id: format!("docker://{}", c.image.unwrap_or_default()),
            state: run_state,
            created_at: c
                .created
                .and_then(|d| d.to_string().parse().ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            started_at: docker_time(state.started_at.as_deref()),
            finished_at: docker_time(state.finished_at.as_deref()),
            exit_code: state.exit_code.unwrap_or(0),
            oom_killed: state.oom_killed.unwrap_or(false) || oom_event,
            error: state.error.unwrap_or_default(),
            message: String::new(),
            ip,
        })
    }

    /// Creates a container, replacing a stale one of the same name left by
    /// a kubelet that died between create and start.
    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, Error> {
        for attempt in 0..2 {
            let options = CreateContainerOptionsBuilder::default().name(name).build();
            match self
                .docker
                .create_container(Some(options), body.clone())
                .await
            {
                Ok(created) => return Ok(created.id),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) if attempt == 0 => self.remove_container(name).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Runtime(format!("cannot create container {name}")))
    }
}

/// Label filters selecting one node's containers.
fn node_filters(node: &str, cluster: &str, extra: Option<String>) -> HashMap<String, Vec<String>> {
    let mut labels = vec![
        format!("{LABEL_NODE}={node}"),
        format!("{LABEL_CLUSTER}={cluster}"),
    ];
    labels.extend(extra);
    HashMap::from([("label".to_string(), labels)])
}

/// Forwards Docker's container events for one node to subscribers, as pod
/// UIDs, reopening the stream when the engine drops it. A stream reopened
/// starts from the newest event seen (`since`), so dockerd replays what it
/// sent meanwhile from its log of recent events (the last 256, an `oom`
/// among them); and subscribers get [`RuntimeEvent::Resync`], because what
/// the log no longer holds (or lost with a restarted dockerd) is missed.
async fn follow_events(
    docker: Docker,
    filters: HashMap<String, Vec<String>>,
    tx: broadcast::Sender<RuntimeEvent>,
    oom_seen: OomSeen,
) {
    // Docker's `since`: seconds and nanoseconds, events at that time
    // included (the newest one is sent again; every use of it is
    // idempotent). Before any event, the first stream's opening.
    let since_of =
        |nanos: i64| format!("{}.{:09}", nanos.div_euclid(NANOS), nanos.rem_euclid(NANOS));
    let mut since: Option<String> = None;
    // Streams in a row that broke within a second, bringing nothing: the
    // wait before the next one doubles (1 s up to 32 s), and so does the
    // time between the resyncs each reopening sends.
    let mut failures = 0u32;
    loop {
        let mut options = EventsOptionsBuilder::default().filters(&filters);
        match &since {
            Some(since) => {
                // Not until the engine answers again: every pod woken while
                // it is down would only fail to sync.
                if docker.ping().await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                options = options.since(since);
                let _ = tx.send(RuntimeEvent::Resync);
            }
            None => since = Some(since_of(Timestamp::now().as_nanosecond() as i64)),
        }
        let opened = std::time::Instant::now();
        let mut delivered = false;
        let mut stream = docker.events(Some(options.build()));
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "Docker's event stream broke; reopening it");
                    }
                    break;
                }
            };
            delivered = true;
            if let Some(nanos) = event.time_nano {
                since = Some(since_of(nanos));
            }
            if event.action.as_deref() == Some("oom") {
                if let Some(id) = event.actor.as_ref().and_then(|a| a.id.clone()) {
                    let mut seen = oom_seen.lock().unwrap();
                    if seen.len() >= OOM_SEEN_MAX {
                        seen.clear();
                    }
                    seen.insert(id);
                }
            }
            let uid = event
                .actor
                .and_then(|a| a.attributes)
                .and_then(|mut a| a.remove(LABEL_POD_UID));
            if let Some(uid) = uid {
                let _ = tx.send(RuntimeEvent::Pod(uid));
            }
        }
        failures = match delivered || opened.elapsed() >= Duration::from_secs(1) {
            true => 0,
            false => (failures + 1).min(5),
        };
        tokio::time::sleep(Duration::from_secs(1 << failures)).await;
    }
}

const NANOS: i64 = 1_000_000_000;

/// Docker reports "0001-01-01T00:00:00Z" for times that never happened.
fn docker_time(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|s| s.parse::<Timestamp>().ok())
        .filter(|t| t.as_second() > 0)
}

/// Creates the cluster's bridge network unless it exists, and returns it.
/// Two kubelets may race here: the loser's 409 Conflict means the network
/// is there.
async fn ensure_network(
    docker: &Docker,
    network: &str,
    cluster: &str,
    subnet: Option<&str>,
) -> Result<NetworkInspect, Error> {
    if let Ok(net) = docker.inspect_network(network, None).await {
        return Ok(net);
    }
    let request = NetworkCreateRequest {
        name: network.to_string(),
        driver: Some("bridge".into()),
        labels: Some(HashMap::from([(
            LABEL_CLUSTER.to_string(),
            cluster.to_string(),
        )])),
        ipam: subnet.map(|s| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(s.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_)
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(docker.inspect_network(network, None).await?),
        Err(e) => Err(e.into()),
    }
}

fn nonempty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

/// A stop or remove that found the container gone, or Docker answering
/// `benign` (its way of saying the container is already so), succeeded.
fn already_so(result: Result<(), bollard::errors::Error>, benign: u16) -> Result<(), Error> {
    match result {
        Err(e) if is_not_found(&e) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code, .. })
            if status_code == benign =>
        {
            Ok(())
        }
        r => r.map_err(Error::from),
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn scheme(&self) -> &'static str {
        "docker"
    }

    fn reaches_pods(&self) -> bool {
        true
    }

    async fn version(&self) -> Result<String, Error> {
        let v = self.docker.version().await?;
        Ok(format!("docker://{}", v.version.unwrap_or_default()))
    }

    async fn node_ip(&self) -> Result<String, Error> {
        let net = self.docker.inspect_network(&self.network, None).await?;
        net.ipam
            .and_then(|i| i.config)
            .into_iter()
            .flatten()
            .find_map(|c| c.gateway)
            .ok_or_else(|| Error::Runtime(format!("network {} has no gateway", self.network)))
    }

    async fn list_pod(&self, pod_uid: &str) -> Result<Vec<ContainerRecord>, Error> {
        self.list(Some(format!("{LABEL_POD_UID}={pod_uid}"))).await
    }

    async fn list_all(&self) -> Result<Vec<ContainerRecord>, Error> {
        self.list(None).await
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, Error> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(i.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn image_user(&self, image: &str) -> Result<Option<String>, Error> {
        let inspect = self.docker.inspect_image(image).await?;
        Ok(Some(
            inspect.config.and_then(|c| c.user).unwrap_or_default(),
        ))
    }

    async fn pull_image(&self, image: &str) -> Result<(), Error> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| Error::Runtime(e.to_string()))?;
        }
        Ok(())
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<ContainerRecord, Error> {
        // hostPorts: published by the sandbox, whose network namespace the
        // app containers share (Docker's DNAT, and its proxy for loopback).
        let mut port_bindings: PortMap = HashMap::new();
        for p in &config.host_ports {
            port_bindings
                .entry(format!("{}/{}", p.container_port, p.protocol))
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
                    host_port: Some(p.host_port.to_string()),
                });
        }
        let published = !port_bindings.is_empty() && !config.host_network;
        // A hostNetwork pod shares the host's network and its hostname
        // (the node's, as in Kubernetes), and has no ports to publish.
        let (network_mode, uts_mode, hostname) = match config.host_network {
            true => ("host".to_string(), Some("host".to_string()), None),
            false => (self.network.clone(), None, Some(config.hostname.clone())),
        };
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            hostname,
            exposed_ports: published.then(|| port_bindings.keys().cloned().collect()),
            labels: Some(labels(
                &config.pod,
                SANDBOX_NAME,
                &self.node,
                &self.cluster,
                true,
                config.attempt,
                "",
            )),
            host_config: Some(HostConfig {
                network_mode: Some(network_mode),
                uts_mode,
                // The pod's containers join its IPC namespace, as in Kubernetes.
                ipc_mode: Some(match config.host_ipc {
                    true => "host".into(),
                    false => "shareable".into(),
                }),
                pid_mode: config.host_pid.then(|| "host".into()),
                port_bindings: published.then_some(port_bindings),
                sysctls: (!config.sysctls.is_empty())
                    .then(|| config.sysctls.iter().cloned().collect()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = container_name(&config.pod, SANDBOX_NAME, config.attempt);
        let id = self.create(&name, body).await?;
        if let Err(e) = self.docker.start_container(&id, None).await {
            // A sandbox that cannot start is useless: do not leave it behind.
            let _ = self.remove_container(&id).await;
            return Err(e.into());
        }
        // The sandbox's veth is on the bridge now: let the pod reach itself
        // through its Service (see hairpin.rs). A hostNetwork one has none.
        let hairpin = (!config.host_network).then(|| super::hairpin::enable(&self.bridge));
        if let Some(Err(error)) = hairpin {
            tracing::warn!(bridge = %self.bridge, %error, "cannot set hairpin mode: a pod calling its own Service may stall");
        }
        let inspect = self.docker.inspect_container(&id, None).await?;
        self.record(inspect)
            .ok_or_else(|| Error::Runtime(format!("sandbox {id} vanished")))
    }

    async fn create_container(
        &self,
        pod: &PodRef,
        sandbox_id: &str,
        c: &ContainerConfig,
    ) -> Result<String, Error> {
        let namespace_of_sandbox = format!("container:{sandbox_id}");
        // CPU limit as CFS quota over a 100 ms period, exactly like kubelet.
        let (cpu_quota, cpu_period) = match c.cpu_limit_millis {
            Some(m) if m > 0 => (Some((m * 100_000 / 1000).max(1000)), Some(100_000)),
            _ => (None, None),
        };
        let host_config = HostConfig {
            network_mode: Some(namespace_of_sandbox.clone()),
            // A sandbox in the host's IPC namespace cannot lend it: each
            // container of a hostIPC pod joins the host's itself.
            ipc_mode: Some(match c.host_ipc {
                true => "host".into(),
                false => namespace_of_sandbox.clone(),
            }),
            binds: Some(c.binds.clone()),
            memory: c.memory_limit,
            // No swap: a container over its limit is OOM-killed, as on a node.
            memory_swap: c.memory_limit,
            cpu_quota,
            cpu_period,
            cpu_shares: c.cpu_request_millis.map(|m| (m * 1024 / 1000).max(2)),
            privileged: Some(c.security.privileged),
            readonly_rootfs: Some(c.security.readonly_rootfs),
            group_add: nonempty(&c.security.group_add),
            cap_add: nonempty(&c.security.cap_add),
            cap_drop: nonempty(&c.security.cap_drop),
            security_opt: nonempty(&c.security.security_opt),
            pid_mode: match (&c.pid_target, c.host_pid, c.share_process_namespace) {
                (Some(id), _, _) => Some(format!("container:{id}")),
                (None, true, _) => Some("host".into()),
                (None, false, true) => Some(namespace_of_sandbox),
                (None, false, false) => None,
            },
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(c.image.clone()),
            entrypoint: c.entrypoint.clone(),
            cmd: c.cmd.clone(),
            env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: c.working_dir.clone(),
            user: c.security.user.clone(),
            tty: Some(c.tty),
            open_stdin: Some(c.stdin),
            stdin_once: Some(c.stdin_once),
            labels: Some(labels(
                pod,
                &c.name,
                &self.node,
                &self.cluster,
                false,
                c.restart_count,
                &c.hash,
            )),
            host_config: Some(host_config),
            ..Default::default()
        };
        self.create(&container_name(pod, &c.name, c.restart_count), body)
            .await
    }

    async fn start_container(&self, id: &str) -> Result<(), Error> {
        Ok(self.docker.start_container(id, None).await?)
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<(), Error> {
        let t = grace.as_secs_f64().ceil() as i32;
        let options = StopContainerOptionsBuilder::default().t(t).build();
        // 304: already stopped.
        already_so(self.docker.stop_container(id, Some(options)).await, 304)
    }

    async fn remove_container(&self, id: &str) -> Result<(), Error> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        self.oom_seen.lock().unwrap().remove(id);
        // 409: removal already in progress.
        already_so(self.docker.remove_container(id, Some(options)).await, 409)
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, Error> {
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let run = async {
            let mut output = Vec::new();
            if let StartExecResults::Attached {
                output: mut out, ..
            } = self.docker.start_exec(&exec.id, None).await?
            {
                while let Some(frame) = out.next().await {
                    output.extend_from_slice(frame?.as_ref());
                }
            }
            Ok::<_, bollard::errors::Error>(output)
        };
        let output = tokio::time::timeout(timeout, run).await.map_err(|_| {
            Error::Runtime(format!(
                "command timed out after {}s",
                timeout.as_secs_f64()
            ))
        })??;
        let exit_code = self
            .docker
            .inspect_exec(&exec.id)
            .await?
            .exit_code
            .unwrap_or(-1);
        Ok(ExecOutput {
            exit_code,
            output: String::from_utf8_lossy(&output).into_owned(),
        })
    }

    async fn exec_attach(
        &self,
        id: &str,
        cmd: &[String],
        tty: bool,
        stdin: bool,
    ) -> Result<ExecSession, Error> {
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(!tty),
                    tty: Some(tty),
                    ..Default::default()
                },
            )
            .await?;
        let start = StartExecOptions {
            detach: false,
            tty,
            output_capacity: None,
        };
        match self.docker.start_exec(&exec.id, Some(start)).await? {
            StartExecResults::Attached { output, input } => Ok(ExecSession {
                exec_id: exec.id,
                output: output
                    .map_ok(|frame| match frame {
                        LogOutput::StdErr { message } => ExecFrame::Stderr(message),
                        LogOutput::StdOut { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message } => ExecFrame::Stdout(message),
                    })
                    .map_err(Error::from)
                    .boxed(),
                input,
            }),
            StartExecResults::Detached => Err(Error::Runtime("exec started detached".into())),
        }
    }

    async fn exec_resize(&self, exec_id: &str, width: u16, height: u16) -> Result<(), Error> {
        let options = bollard::exec::ResizeExecOptions { width, height };
        Ok(self.docker.resize_exec(exec_id, options).await?)
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<ExecSession, Error> {
        let options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        // Docker ends an attach when the client's stdin ends, unless the
        // container closes its stdin then (`stdinOnce`). Kubernetes streams
        // on until the container exits (`kubectl debug -i` with a closed
        // stdin still shows the output), so without `stdinOnce` the end of
        // the client's stdin is not passed on.
        let stdin_once = self
            .docker
            .inspect_container(id, None)
            .await?
            .config
            .and_then(|c| c.stdin_once)
            .unwrap_or(false);
        let attached = self.docker.attach_container(id, Some(options)).await?;
        let input: Pin<Box<dyn AsyncWrite + Send>> = if stdin_once {
            attached.input
        } else {
            Box::pin(KeepOpen(attached.input))
        };
        Ok(ExecSession {
            exec_id: id.to_string(),
            output: attached
                .output
                .map_ok(|frame| match frame {
                    LogOutput::StdErr { message } => ExecFrame::Stderr(message),
                    LogOutput::StdOut { message }
                    | LogOutput::Console { message }
                    | LogOutput::StdIn { message } => ExecFrame::Stdout(message),
                })
                .map_err(Error::from)
                .boxed(),
            input,
        })
    }

    async fn resize(&self, id: &str, width: u16, height: u16) -> Result<(), Error> {
        let options = bollard::query_parameters::ResizeContainerTTYOptions {
            h: i32::from(height),
            w: i32::from(width),
        };
        Ok(self.docker.resize_container_tty(id, options).await?)
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, Error> {
        let inspect = self.docker.inspect_exec(exec_id).await?;
        Ok(if inspect.running == Some(true) {
            None
        } else {
            inspect.exit_code
        })
    }

    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, Error>>, Error> {
        let mut builder = LogsOptionsBuilder::default()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(options.timestamps)
            .tail(
                &options
                    .tail_lines
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "all".into()),
            );
        if let Some(since) = options.since {
            builder = builder.since(since.as_second() as i32);
        }
        // Fail now (404) rather than inside the stream.
        self.docker.inspect_container(id, None).await?;
        Ok(self
            .docker
            .logs(id, Some(builder.build()))
            .map_ok(LogOutput::into_bytes)
            .map_err(Error::from)
            .boxed())
    }

    async fn stats(
        &self,
        id: &str,
        _annotations: &BTreeMap<String, String>,
    ) -> Result<ContainerStats, Error> {
        // one_shot: one sample of the cgroup counters, answered at once
        // (without it Docker samples twice, a second apart, to fill in
        // precpu); the kubelet computes the rate between its own samples.
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let s = self
            .docker
            .stats(id, Some(options))
            .next()
            .await
            .ok_or_else(|| Error::Runtime(format!("no stats for {id}")))??;
        let total = s
            .cpu_stats
            .and_then(|c| c.cpu_usage)
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        let mem = s.memory_stats.unwrap_or_default();
        let usage = mem.usage.unwrap_or(0);
        // Working set = usage minus inactive file cache, as cAdvisor computes it.
        let inactive = mem
            .stats
            .as_ref()
            .and_then(|st| {
                st.get("inactive_file")
                    .or_else(|| st.get("total_inactive_file"))
            })
            .copied()
            .unwrap_or(0);
        Ok(ContainerStats {
            // Docker's own `read` time would be closer; its type depends
            // on bollard's date features, so the answer's arrival it is.
            time: Timestamp::now(),
            cpu_usage_core_nanoseconds: total,
            memory_usage_bytes: usage,
            memory_working_set_bytes: usage.saturating_sub(inactive),
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<RuntimeEvent> {
        self.events.subscribe()
    }
}

/// A writer whose shutdown leaves the stream open (see `attach`).
struct KeepOpen(Pin<Box<dyn AsyncWrite + Send>>);

impl AsyncWrite for KeepOpen {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
