//! Container probes and lifecycle hook actions, as kubelet's prober:
//!
//! - one probe worker (a task) per container instance and probe kind, from
//!   `initialDelaySeconds`, every `periodSeconds`, each try bounded by
//!   `timeoutSeconds`; `successThreshold` successes in a row make the
//!   result Success, `failureThreshold` failures in a row make it Failure;
//! - **startup**: until it succeeds, liveness and readiness wait and the
//!   container is not `started`; its failure restarts the container;
//! - **liveness**: Failure makes the pod worker kill and restart the
//!   container ("failed liveness probe, will be restarted");
//! - **readiness**: drives the container's `ready`, hence the pod's
//!   ContainersReady and Ready conditions. It starts as not ready.
//! - each failed try is an `Unhealthy` event with kubelet's wording.
//!
//! Actions: `httpGet` from the host to the pod IP (like kubelet, which
//! probes from the node), `tcpSocket` the same way, `exec` through the
//! runtime (Docker exec). Results are kept per container ID, so a restarted
//! container starts from the initial result again.
//!
//! Simplified: no HTTPS or gRPC probes (they fail with a message saying so),
//! no redirects followed, no initial jitter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use k8s_openapi::api::core::v1::{
    Container, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::events::PodEvents;
use crate::runtime::Runtime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    fn label(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }

    fn of(self, c: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Startup => c.startup_probe.as_ref(),
            ProbeKind::Liveness => c.liveness_probe.as_ref(),
            ProbeKind::Readiness => c.readiness_probe.as_ref(),
        }
    }
}

/// What a probe or hook does.
#[derive(Debug, Clone)]
pub enum Action {
    Exec(Vec<String>),
    Http(HTTPGetAction),
    Tcp(TCPSocketAction),
    Sleep(i64),
    Unsupported(&'static str),
}

impl Action {
    pub fn of_probe(p: &Probe) -> Action {
        if let Some(e) = &p.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(h) = &p.http_get {
            Action::Http(h.clone())
        } else if let Some(t) = &p.tcp_socket {
            Action::Tcp(t.clone())
        } else {
            Action::Unsupported("gRPC probes are not supported by minik")
        }
    }

    pub fn of_hook(h: &LifecycleHandler) -> Action {
        if let Some(e) = &h.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(g) = &h.http_get {
            Action::Http(g.clone())
        } else if let Some(t) = &h.tcp_socket {
            Action::Tcp(t.clone())
        } else if let Some(s) = &h.sleep {
            Action::Sleep(s.seconds)
        } else {
            Action::Unsupported("empty lifecycle handler")
        }
    }
}

/// Where an action runs.
pub struct Target<'a> {
    pub runtime: &'a dyn Runtime,
    pub container: &'a Container,
    pub container_id: &'a str,
    pub pod_ip: &'a str,
}

/// Runs an action once: `Ok(())` on success, `Err(message)` on failure.
pub async fn run(action: &Action, target: &Target<'_>, timeout: Duration) -> Result<(), String> {
    match action {
        Action::Exec(cmd) => {
            match target
                .runtime
                .exec_sync(target.container_id, cmd, timeout)
                .await
            {
                Ok(out) if out.exit_code == 0 => Ok(()),
                Ok(out) if out.output.trim().is_empty() => {
                    Err(format!("command {cmd:?} exited with {}", out.exit_code))
                }
                Ok(out) => Err(out.output.trim_end().to_string()),
                Err(e) => Err(format!("command {cmd:?} failed: {e}")),
            }
        }
        Action::Http(_) | Action::Tcp(_) if !target.runtime.reaches_pods() => Ok(()),
        Action::Http(h) => http_get(h, target, timeout).await,
        Action::Tcp(t) => {
            let host = t.host.clone().unwrap_or_else(|| target.pod_ip.to_string());
            let port = resolve_port(&t.port, target.container)?;
            match tokio::time::timeout(
                timeout,
                tokio::net::TcpStream::connect((host.as_str(), port)),
            )
            .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("dial tcp {host}:{port}: connect: {}", io_text(&e))),
                Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
            }
        }
        Action::Sleep(secs) => {
            tokio::time::sleep(Duration::from_secs((*secs).max(0) as u64)).await;
            Ok(())
        }
        Action::Unsupported(why) => Err(why.to_string()),
    }
}

/// Go-style text for common connect errors ("connection refused").
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).map_err(|_| format!("invalid port {p}")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| {
                format!(
                    "couldn't find port {name:?} in container {}",
                    container.name
                )
            }),
    }
}

async fn http_get(h: &HTTPGetAction, target: &Target<'_>, timeout: Duration) -> Result<(), String> {
    let scheme = h.scheme.as_deref().unwrap_or("HTTP");
    if !scheme.eq_ignore_ascii_case("http") {
        return Err("HTTPS probes are not supported by minik".into());
    }
    let host = h.host.clone().unwrap_or_else(|| target.pod_ip.to_string());
    let port = resolve_port(&h.port, target.container)?;
    let path = match h.path.as_deref() {
        Some(p) if p.starts_with('/') => p.to_string(),
        Some(p) => format!("/{p}"),
        None => "/".to_string(),
    };
    let url = format!("http://{host}:{port}{path}");
    let attempt = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("dial tcp {host}:{port}: connect: {}", io_text(&e)))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut request = http::Request::get(&path)
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::USER_AGENT, "kube-probe/1.33")
            .header(http::header::ACCEPT, "*/*");
        for header in h.http_headers.iter().flatten() {
            request = request.header(header.name.as_str(), header.value.as_str());
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(response.status().as_u16())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
        Ok(Ok(code)) => Err(format!("HTTP probe failed with statuscode: {code}")),
        Ok(Err(e)) => Err(format!("Get \"{url}\": {e}")),
        Err(_) => Err(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// Probe results of one pod, keyed by container name and kind, tagged with
/// the container ID they are about.
type Results = Arc<Mutex<HashMap<(String, ProbeKind), (String, bool)>>>;

/// The probe workers and results of one pod.
#[derive(Default)]
pub struct Prober {
    results: Results,
    workers: HashMap<(String, ProbeKind), (String, JoinHandle<()>)>,
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Everything a probe worker needs, owned.
pub struct ProbeContext {
    pub runtime: Arc<dyn Runtime>,
    pub pod_ip: String,
    pub wake: Arc<Notify>,
    pub events: PodEvents,
}

impl Prober {
    /// Runs one worker per probe of each running container (`(spec, id,
    /// whether it is an init container)`: sidecars have probes too), and
    /// stops workers of containers that are gone or replaced.
    pub fn sync(&mut self, running: &[(Container, String, bool)], ctx: &ProbeContext) {
        let mut wanted = std::collections::HashSet::new();
        for (container, id, init) in running {
            for kind in [
                ProbeKind::Startup,
                ProbeKind::Liveness,
                ProbeKind::Readiness,
            ] {
                let Some(probe) = kind.of(container) else {
                    continue;
                };
                let key = (container.name.clone(), kind);
                wanted.insert(key.clone());
                if self.workers.get(&key).is_some_and(|(wid, _)| wid == id) {
                    continue;
                }
                if let Some((_, old)) = self.workers.remove(&key) {
                    old.abort();
                }
                let worker = Worker {
                    kind,
                    probe: probe.clone(),
                    container: container.clone(),
                    container_id: id.clone(),
                    has_startup: container.startup_probe.is_some(),
                    results: self.results.clone(),
                    runtime: ctx.runtime.clone(),
                    pod_ip: ctx.pod_ip.clone(),
                    wake: ctx.wake.clone(),
                    events: ctx
                        .events
                        .container(&crate::events::field_path(*init, &container.name)),
                };
                self.workers
                    .insert(key, (id.clone(), tokio::spawn(worker.run())));
            }
        }
        self.workers.retain(|key, (_, task)| {
            let keep = wanted.contains(key);
            if !keep {
                task.abort();
            }
            keep
        });
    }

    /// No probe runs or has a result.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty() && self.results.lock().unwrap().is_empty()
    }

    pub fn stop_all(&mut self) {
        for (_, (_, task)) in self.workers.drain() {
            task.abort();
        }
    }

    fn result(&self, name: &str, id: &str, kind: ProbeKind) -> Option<bool> {
        self.results
            .lock()
            .unwrap()
            .get(&(name.to_string(), kind))
            .filter(|(rid, _)| rid == id)
            .map(|(_, ok)| *ok)
    }

    /// Started: no startup probe, or it has succeeded.
    pub fn started(&self, c: &Container, id: &str) -> bool {
        c.startup_probe.is_none() || self.result(&c.name, id, ProbeKind::Startup) == Some(true)
    }

    /// Ready: started, and no readiness probe or it has succeeded.
    pub fn ready(&self, c: &Container, id: &str) -> bool {
        self.started(c, id)
            && (c.readiness_probe.is_none()
                || self.result(&c.name, id, ProbeKind::Readiness) == Some(true))
    }

    /// The probe whose failure means the container must be restarted.
    pub fn failed(&self, c: &Container, id: &str) -> Option<ProbeKind> {
        [ProbeKind::Startup, ProbeKind::Liveness]
            .into_iter()
            .find(|k| self.result(&c.name, id, *k) == Some(false))
    }
}

struct Worker {
    kind: ProbeKind,
    probe: Probe,
    container: Container,
    container_id: String,
    has_startup: bool,
    results: Results,
    runtime: Arc<dyn Runtime>,
    pod_ip: String,
    wake: Arc<Notify>,
    events: PodEvents,
}

impl Worker {
    fn started(&self) -> bool {
        !self.has_startup
            || self
                .results
                .lock()
                .unwrap()
                .get(&(self.container.name.clone(), ProbeKind::Startup))
                .is_some_and(|(id, ok)| *id == self.container_id && *ok)
    }

    fn set(&self, ok: bool) {
        let key = (self.container.name.clone(), self.kind);
        let value = (self.container_id.clone(), ok);
        let changed = self.results.lock().unwrap().insert(key, value.clone()) != Some(value);
        if changed {
            self.wake.notify_one();
        }
    }

    async fn run(self) {
        let secs =
            |v: Option<i32>, default: i32| Duration::from_secs(v.unwrap_or(default).max(0) as u64);
        let p = &self.probe;
        let period = secs(p.period_seconds, 10).max(Duration::from_secs(1));
        let timeout = secs(p.timeout_seconds, 1).max(Duration::from_secs(1));
        let success_threshold = p.success_threshold.unwrap_or(1).max(1);
        let failure_threshold = p.failure_threshold.unwrap_or(3).max(1);
        let action = Action::of_probe(p);
        tokio::time::sleep(secs(p.initial_delay_seconds, 0)).await;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut successes, mut failures) = (0, 0);
        loop {
            ticker.tick().await;
            if self.kind != ProbeKind::Startup && !self.started() {
                continue;
            }
            let target = Target {
                runtime: self.runtime.as_ref(),
                container: &self.container,
                container_id: &self.container_id,
                pod_ip: &self.pod_ip,
            };
            match run(&action, &target, timeout).await {
                Ok(()) => {
                    successes += 1;
                    failures = 0;
                    if successes >= success_threshold {
                        self.set(true);
                        if self.kind == ProbeKind::Startup {
                            return;
                        }
                    }
                }
                Err(output) => {
                    failures += 1;
                    successes = 0;
                    self.events.warning(
                        "Unhealthy",
                        format!("{} probe failed: {output}", self.kind.label()),
                    );
                    if failures >= failure_threshold {
                        self.set(false);
                        if self.kind != ProbeKind::Readiness {
                            return;
                        }
                    }
                }
            }
        }
    }
}
