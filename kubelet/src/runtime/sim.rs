//! The simulated runtime: the kubelet's whole pod state machine without
//! containers, for fast tests and for scale demos with many nodes in one
//! process (`--runtime sim --nodes N`).
//!
//! A "container" here is a record in memory. Starting one takes a
//! configurable delay (standing in for image unpacking and process start),
//! after which it is Running. A command that is trivially run-to-completion
//! exits after the same delay again: one ending in `exit N` exits with N,
//! `true` and a lone `echo`/`date` exit 0, `false` exits 1; anything else
//! runs until stopped. Probes succeed, pod IPs come from the node's own /24
//! in 10.128.0.0/9 (like a node's podCIDR, so nodes in separate processes
//! never hand out the same IP) and reach nothing, and there are no logs or exec.
//! Usage is synthetic: a busy loop (`while :; do :; done`, no `sleep`)
//! burns one core (or its CPU limit), anything else idles; the pod
//! annotations `sim.minik.io/cpu` and `sim.minik.io/memory` set each
//! container's usage outright, so an autoscaling demo can drive load on
//! many simulated nodes (`kubectl annotate pods -l app=web sim.minik.io/cpu=300m`). The Docker
//! runtime is what the real behaviour is tested against; this one never
//! substitutes for it.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::broadcast;

use super::{
    ContainerConfig, ContainerRecord, ContainerStats, ExecOutput, ExecSession, LogOptions, PodRef,
    RunState, Runtime, RuntimeEvent, SandboxConfig, SANDBOX_NAME,
};
use crate::Error;

/// Which /24 of 10.128.0.0/9 a node gets: its number for `name-N`
/// (node-1 → 10.128.1.0/24), else a hash of its name.
fn node_block(node_name: &str) -> u32 {
    const BLOCKS: u32 = 1 << 15;
    let digits = node_name.rsplit('-').next().unwrap_or("");
    match digits.parse::<u32>() {
        Ok(n) => n % BLOCKS,
        Err(_) => {
            node_name.bytes().fold(2_166_136_261u32, |h, b| {
                (h ^ b as u32).wrapping_mul(16_777_619)
            }) % BLOCKS
        }
    }
}

fn no_such_container(id: &str) -> Error {
    Error::NotFound(format!("no such container: {id}"))
}

/// How a simulated container's process behaves once started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    RunForever,
    Exit(i64),
}

/// A simulated container, kept small: a process simulating 1,000 nodes
/// holds two for each of the cluster's pods (the sandbox and the app). Its
/// [`ContainerRecord`] is built when asked for; the pod's names are shared
/// by its containers and an image's name by the node's containers of it,
/// and what is the same for every simulated container (no error, never
/// OOM-killed, the image id) is not kept.
struct SimContainer {
    pod: Arc<PodRef>,
    /// `None` for the sandbox.
    name: Option<Box<str>>,
    hash: Box<str>,
    image: Arc<str>,
    /// The sandbox's pod IP.
    ip: Option<Ipv4Addr>,
    restart_count: i32,
    state: RunState,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    exit_code: i64,
    behaviour: Behaviour,
    /// Millicores its command uses unless an annotation says otherwise.
    cpu_millis: i64,
    /// CPU time used up to `sampled` (integrated at each stats call).
    cpu_core_nanoseconds: u64,
    sampled: Option<Timestamp>,
}

impl SimContainer {
    fn record(&self, id: String) -> ContainerRecord {
        ContainerRecord {
            id,
            pod: PodRef::clone(&self.pod),
            name: self.name.as_deref().unwrap_or(SANDBOX_NAME).to_string(),
            sandbox: self.name.is_none(),
            restart_count: self.restart_count,
            hash: self.hash.to_string(),
            image: self.image.to_string(),
            image_id: format!("sim-image:{}", self.image),
            state: self.state,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            exit_code: self.exit_code,
            oom_killed: false,
            error: String::new(),
            message: String::new(),
            ip: self.ip.map(|ip| ip.to_string()),
        }
    }
}

/// Working set of a simulated container without an annotation (about
/// what a busybox shell holds).
const SIM_IDLE_MEMORY: u64 = 1 << 20;

/// Millicores a command burns: a busy loop takes a core, or its limit.
fn cpu_millis(config: &ContainerConfig) -> i64 {
    let script: String = config
        .entrypoint
        .iter()
        .flatten()
        .chain(config.cmd.iter().flatten())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let busy = script.contains("while") && !script.contains("sleep");
    if busy {
        config.cpu_limit_millis.unwrap_or(1000).min(1000)
    } else {
        0
    }
}

/// A container's usage at `now`: its CPU integrated since the last sample
/// at its command's (or the annotation's) rate.
fn sample(
    c: &mut SimContainer,
    annotations: &BTreeMap<String, String>,
    now: Timestamp,
) -> ContainerStats {
    let quantity = |key: &str| {
        annotations
            .get(key)
            .and_then(|q| minik_api::quantity::Quantity::parse(q).ok())
    };
    let millis = quantity(super::SIM_CPU_ANNOTATION).map_or(c.cpu_millis, |q| q.millis());
    let since = c.sampled.or(c.started_at).unwrap_or(now);
    let elapsed_ns = now.duration_since(since).as_nanos().max(0) as u128;
    c.cpu_core_nanoseconds += (elapsed_ns * millis.max(0) as u128 / 1000) as u64;
    c.sampled = Some(now);
    let memory =
        quantity(super::SIM_MEMORY_ANNOTATION).map_or(SIM_IDLE_MEMORY, |q| q.value().max(0) as u64);
    ContainerStats {
        time: now,
        cpu_usage_core_nanoseconds: c.cpu_core_nanoseconds,
        memory_usage_bytes: memory,
        memory_working_set_bytes: memory,
    }
}

/// One simulated node's containers.
pub struct SimRuntime {
    delay: Duration,
    /// First address of this node's /24 of pod IPs.
    pod_cidr_base: u32,
    next_ip: AtomicU32,
    /// By the number in their ids. Boxed: a map keeps its values inline in
    /// a table sized to a power of two, mostly empty slots — a thousand
    /// nodes' tables were ~30 MB at 30,000 pods.
    containers: Arc<Mutex<HashMap<u32, Box<SimContainer>>>>,
    events: broadcast::Sender<RuntimeEvent>,
    /// `sim` and the process id: every id's start.
    id_prefix: String,
    next_id: AtomicU32,
}

/// Container events a node's runtime buffers for its reader.
const EVENTS_BUFFERED: usize = 64;

impl SimRuntime {
    /// `delay` is how long a container takes to start (and to exit, for
    /// run-to-completion commands).
    pub fn new(delay: Duration, node_name: &str) -> Self {
        Self {
            delay,
            pod_cidr_base: 0x0A80_0000 + (node_block(node_name) << 8),
            next_ip: AtomicU32::new(0),
            containers: Arc::default(),
            // Small: one of these per simulated node, and a reader that
            // falls behind loses nothing (it syncs all its pods instead).
            events: broadcast::channel(EVENTS_BUFFERED).0,
            id_prefix: format!("sim{:08x}", std::process::id()),
            next_id: AtomicU32::new(1),
        }
    }

    fn id(&self, number: u32) -> String {
        format!("{}{number:08x}", self.id_prefix)
    }

    /// The number in an id this runtime made.
    fn number(&self, id: &str) -> Result<u32, Error> {
        id.strip_prefix(&self.id_prefix)
            .filter(|n| n.len() == 8)
            .and_then(|n| u32::from_str_radix(n, 16).ok())
            .ok_or_else(|| no_such_container(id))
    }

    /// Adds a container of `pod` (its names shared with the pod's other
    /// containers, its image's with the node's: a scan of the node's
    /// containers, a few hundred at most) and returns its record.
    fn insert(
        &self,
        pod: &PodRef,
        image: &str,
        make: impl FnOnce(Arc<PodRef>, Arc<str>) -> SimContainer,
    ) -> ContainerRecord {
        let mut all = self.containers.lock().unwrap();
        let shared_pod = all
            .values()
            .find(|c| c.pod.uid == pod.uid)
            .map(|c| c.pod.clone());
        let shared_image = all
            .values()
            .find(|c| &*c.image == image)
            .map(|c| c.image.clone());
        let container = make(
            shared_pod.unwrap_or_else(|| Arc::new(pod.clone())),
            shared_image.unwrap_or_else(|| image.into()),
        );
        let number = self.next_id.fetch_add(1, Ordering::Relaxed);
        let record = container.record(self.id(number));
        all.insert(number, Box::new(container));
        record
    }

    /// Marks a container exited and tells the PLEG.
    fn exit(
        containers: &Mutex<HashMap<u32, Box<SimContainer>>>,
        events: &broadcast::Sender<RuntimeEvent>,
        number: u32,
        code: i64,
    ) {
        let uid = {
            let mut all = containers.lock().unwrap();
            let Some(c) = all.get_mut(&number) else {
                return;
            };
            if c.state != RunState::Running {
                return;
            }
            c.state = RunState::Exited;
            c.exit_code = code;
            c.finished_at = Some(Timestamp::now());
            c.pod.uid.clone()
        };
        let _ = events.send(RuntimeEvent::Pod(uid));
    }

    /// Records of the containers `which` picks, newest first.
    fn list(&self, which: impl Fn(&SimContainer) -> bool) -> Vec<ContainerRecord> {
        let all = self.containers.lock().unwrap();
        let mut list: Vec<(u32, &SimContainer)> = all
            .iter()
            .filter(|(_, c)| which(c))
            .map(|(n, c)| (*n, &**c))
            .collect();
        list.sort_by(|(a_n, a), (b_n, b)| b.created_at.cmp(&a.created_at).then(b_n.cmp(a_n)));
        list.into_iter()
            .map(|(n, c)| c.record(self.id(n)))
            .collect()
    }
}

/// Guesses what a command does, for the few shapes worth simulating.
fn behaviour(config: &ContainerConfig) -> Behaviour {
    let words: Vec<String> = config
        .entrypoint
        .iter()
        .flatten()
        .chain(config.cmd.iter().flatten())
        .cloned()
        .collect();
    let script = words.join(" ");
    let script = script.trim().trim_end_matches(';').trim();
    let last = script
        .rsplit([';', '&', '|', '\n'])
        .next()
        .unwrap_or("")
        .trim();
    let tokens: Vec<&str> = last.split_whitespace().collect();
    if let [.., "exit", code] = tokens.as_slice() {
        if let Ok(code) = code.parse() {
            return Behaviour::Exit(code);
        }
    }
    let compound = ["while", "sleep", "httpd", "nc ", "tail", ";", "&&", "||"]
        .iter()
        .any(|k| script.contains(k));
    let first = words
        .iter()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .find(|w| !matches!(*w, "sh" | "-c" | "bash"))
        .unwrap_or("");
    match first {
        "true" if !compound => Behaviour::Exit(0),
        "false" if !compound => Behaviour::Exit(1),
        "echo" | "date" if !compound => Behaviour::Exit(0),
        _ => Behaviour::RunForever,
    }
}

#[async_trait]
impl Runtime for SimRuntime {
    fn scheme(&self) -> &'static str {
        "sim"
    }

    fn reaches_pods(&self) -> bool {
        false
    }

    async fn version(&self) -> Result<String, Error> {
        Ok(format!("sim://{}", env!("CARGO_PKG_VERSION")))
    }

    async fn node_ip(&self) -> Result<String, Error> {
        Ok("127.0.0.1".into())
    }

    async fn list_pod(&self, pod_uid: &str) -> Result<Vec<ContainerRecord>, Error> {
        Ok(self.list(|c| c.pod.uid == pod_uid))
    }

    async fn list_all(&self) -> Result<Vec<ContainerRecord>, Error> {
        Ok(self.list(|_| true))
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, Error> {
        Ok(Some(format!("sim-image:{image}")))
    }

    /// Simulated images have no user: `runAsNonRoot` cannot be checked.
    async fn image_user(&self, _image: &str) -> Result<Option<String>, Error> {
        Ok(None)
    }

    async fn pull_image(&self, _image: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<ContainerRecord, Error> {
        // .1 to .254 of the node's /24, round and round.
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed) % 254 + 1;
        let ip = Ipv4Addr::from(self.pod_cidr_base + n);
        let now = Timestamp::now();
        let record = self.insert(&config.pod, &config.image, |pod, image| SimContainer {
            pod,
            name: None,
            hash: "".into(),
            image,
            ip: Some(ip),
            restart_count: config.attempt,
            state: RunState::Running,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            exit_code: 0,
            behaviour: Behaviour::RunForever,
            cpu_millis: 0,
            cpu_core_nanoseconds: 0,
            sampled: None,
        });
        Ok(record)
    }

    async fn create_container(
        &self,
        pod: &PodRef,
        _sandbox_id: &str,
        config: &ContainerConfig,
    ) -> Result<String, Error> {
        let now = Timestamp::now();
        let record = self.insert(pod, &config.image, |pod, image| SimContainer {
            pod,
            name: Some(config.name.as_str().into()),
            hash: config.hash.as_str().into(),
            image,
            ip: None,
            restart_count: config.restart_count,
            state: RunState::Created,
            created_at: now,
            started_at: None,
            finished_at: None,
            exit_code: 0,
            behaviour: behaviour(config),
            cpu_millis: cpu_millis(config),
            cpu_core_nanoseconds: 0,
            sampled: None,
        });
        Ok(record.id)
    }

    async fn start_container(&self, id: &str) -> Result<(), Error> {
        let number = self.number(id)?;
        tokio::time::sleep(self.delay).await;
        let (uid, behaviour) = {
            let mut all = self.containers.lock().unwrap();
            let c = all.get_mut(&number).ok_or_else(|| no_such_container(id))?;
            c.state = RunState::Running;
            c.started_at = Some(Timestamp::now());
            (c.pod.uid.clone(), c.behaviour)
        };
        let _ = self.events.send(RuntimeEvent::Pod(uid));
        if let Behaviour::Exit(code) = behaviour {
            let (containers, events, delay) =
                (self.containers.clone(), self.events.clone(), self.delay);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                Self::exit(&containers, &events, number, code);
            });
        }
        Ok(())
    }

    async fn stop_container(&self, id: &str, _grace: Duration) -> Result<(), Error> {
        // A simulated process honours SIGTERM at once (exit code 143).
        if let Ok(number) = self.number(id) {
            Self::exit(&self.containers, &self.events, number, 143);
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<(), Error> {
        if let Ok(number) = self.number(id) {
            self.containers.lock().unwrap().remove(&number);
        }
        Ok(())
    }

    async fn exec_sync(
        &self,
        _id: &str,
        _cmd: &[String],
        _timeout: Duration,
    ) -> Result<ExecOutput, Error> {
        Ok(ExecOutput {
            exit_code: 0,
            output: String::new(),
        })
    }

    async fn exec_attach(
        &self,
        _id: &str,
        _cmd: &[String],
        _tty: bool,
        _stdin: bool,
    ) -> Result<ExecSession, Error> {
        Err(Error::BadRequest(
            "the simulated runtime has no processes to exec into".into(),
        ))
    }

    async fn exec_resize(&self, _exec_id: &str, _w: u16, _h: u16) -> Result<(), Error> {
        Ok(())
    }

    async fn attach(&self, _id: &str, _stdin: bool) -> Result<ExecSession, Error> {
        Err(Error::BadRequest(
            "the simulated runtime has no processes to attach to".into(),
        ))
    }

    async fn resize(&self, _id: &str, _w: u16, _h: u16) -> Result<(), Error> {
        Ok(())
    }

    async fn exec_exit_code(&self, _exec_id: &str) -> Result<Option<i64>, Error> {
        Ok(Some(0))
    }

    async fn logs(
        &self,
        _id: &str,
        _options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, Error>>, Error> {
        Ok(futures::stream::once(async {
            Ok(Bytes::from_static(
                b"(simulated container: the sim runtime keeps no logs)\n",
            ))
        })
        .boxed())
    }

    async fn stats(
        &self,
        id: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Result<ContainerStats, Error> {
        self.stats_all(&[(id, annotations)]).await.remove(0)
    }

    async fn stats_all(
        &self,
        containers: &[(&str, &BTreeMap<String, String>)],
    ) -> Vec<Result<ContainerStats, Error>> {
        let mut all = self.containers.lock().unwrap();
        let now = Timestamp::now();
        containers
            .iter()
            .map(|(id, annotations)| {
                let c = self
                    .number(id)
                    .ok()
                    .and_then(|n| all.get_mut(&n))
                    .ok_or_else(|| no_such_container(id))?;
                Ok(sample(c, annotations, now))
            })
            .collect()
    }

    fn subscribe(&self) -> broadcast::Receiver<RuntimeEvent> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entrypoint: &[&str], cmd: &[&str]) -> ContainerConfig {
        ContainerConfig {
            pid_target: None,
            host_ipc: false,
            host_pid: false,
            share_process_namespace: false,
            entrypoint: (!entrypoint.is_empty())
                .then(|| entrypoint.iter().map(|s| s.to_string()).collect()),
            cmd: (!cmd.is_empty()).then(|| cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn containers_are_kept_small_and_listed_whole() {
        // Two of these for each pod a process simulates (sandbox and app):
        // 376 bytes when each kept its whole ContainerRecord.
        assert!(std::mem::size_of::<SimContainer>() <= 224);
        let rt = SimRuntime::new(Duration::ZERO, "node-7");
        let pod = PodRef {
            uid: "u1".into(),
            namespace: "ns".into(),
            name: "web-1".into(),
        };
        let sandbox = rt
            .run_sandbox(&SandboxConfig {
                pod: pod.clone(),
                attempt: 0,
                hostname: "web-1".into(),
                image: "pause".into(),
                host_ports: Vec::new(),
                host_network: false,
                sysctls: Vec::new(),
                host_ipc: false,
                host_pid: false,
            })
            .await
            .unwrap();
        assert!(sandbox.sandbox && sandbox.running());
        assert_eq!(sandbox.name, SANDBOX_NAME);
        assert_eq!(sandbox.ip.as_deref(), Some("10.128.7.1"));
        let app = ContainerConfig {
            name: "app".into(),
            image: "minik/web:v1".into(),
            hash: "00ff".into(),
            restart_count: 2,
            ..config(&["sh", "-c", "exit 3"], &[])
        };
        let id = rt.create_container(&pod, &sandbox.id, &app).await.unwrap();
        let other = PodRef {
            uid: "u2".into(),
            ..pod.clone()
        };
        rt.create_container(&other, "", &app).await.unwrap();
        {
            // The pod's names are shared by its containers, an image's by
            // the node's containers of it.
            let all = rt.containers.lock().unwrap();
            let mine: Vec<_> = all.values().filter(|c| c.pod.uid == "u1").collect();
            assert!(Arc::ptr_eq(&mine[0].pod, &mine[1].pod));
            let apps: Vec<_> = all.values().filter(|c| c.name.is_some()).collect();
            assert!(Arc::ptr_eq(&apps[0].image, &apps[1].image));
        }
        let mut events = rt.subscribe();
        rt.start_container(&id).await.unwrap();
        let listed = rt.list_pod("u1").await.unwrap();
        assert_eq!(listed.len(), 2);
        let c = &listed[0];
        assert_eq!((c.id.as_str(), c.name.as_str()), (id.as_str(), "app"));
        assert_eq!((c.hash.as_str(), c.restart_count), ("00ff", 2));
        assert_eq!(c.image_id, "sim-image:minik/web:v1");
        assert!(c.running() && !c.sandbox && c.ip.is_none());
        assert_eq!(c.pod.name, "web-1");
        // `exit 3` exits after the (zero) delay, and says so.
        let exited = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let c = rt.list_pod("u1").await.unwrap().remove(0);
                if c.dead() {
                    return c;
                }
                let _ = events.recv().await;
            }
        })
        .await
        .unwrap();
        assert_eq!(exited.exit_code, 3);
        assert!(exited.finished_at.is_some());
        assert_eq!(rt.list_all().await.unwrap().len(), 3);
        rt.remove_container(&id).await.unwrap();
        rt.remove_container("not-an-id").await.unwrap();
        assert_eq!(rt.list_pod("u1").await.unwrap().len(), 1);
        assert!(rt.start_container("sim-nonsense").await.is_err());
    }

    #[test]
    fn guesses_run_to_completion_commands() {
        assert_eq!(
            behaviour(&config(&["sh", "-c", "exit 3"], &[])),
            Behaviour::Exit(3)
        );
        assert_eq!(
            behaviour(&config(&["sh", "-c", "echo hi; exit 0"], &[])),
            Behaviour::Exit(0)
        );
        assert_eq!(behaviour(&config(&["true"], &[])), Behaviour::Exit(0));
        assert_eq!(behaviour(&config(&["/bin/false"], &[])), Behaviour::Exit(1));
        assert_eq!(behaviour(&config(&["echo"], &["done"])), Behaviour::Exit(0));
        assert_eq!(
            behaviour(&config(&["sh", "-c", "sleep 3600"], &[])),
            Behaviour::RunForever
        );
        assert_eq!(behaviour(&config(&[], &[])), Behaviour::RunForever);
        assert_eq!(
            behaviour(&config(&["sh", "-c", "while true; do echo x; done"], &[])),
            Behaviour::RunForever
        );
    }
}
