//! Syncing one pod: desired (the Pod from the API) against actual (the
//! runtime's containers, found by label), like kubelet's `SyncPod` and
//! `computePodActions`. Level-triggered and idempotent: every call looks at
//! the world afresh, does the next steps, writes the status, and says when
//! it wants to run again. Running it twice in a row does nothing new.
//!
//! In pipeline order:
//! 1. terminating pods: preStop hooks, SIGTERM, the grace period, SIGKILL,
//!    remove containers and the pod directory, confirm the deletion;
//!    finished pods: whatever still runs is stopped; a new pod asking for
//!    a sysctl that is not safe is rejected (kubelet's admission); once
//!    the app containers are done for good, the sidecars are stopped;
//! 2. the sandbox (infra container) — recreated, with every container
//!    stopped, if it died;
//! 3. resolv.conf, hosts and volumes;
//! 4. init containers in order, each to success — a sidecar
//!    (`restartPolicy: Always`) until it has started, then kept running;
//! 5. app containers: start missing ones, restart dead ones per
//!    `restartPolicy` with CrashLoopBackOff, kill ones failing liveness or
//!    whose spec changed;
//! 6. probe workers, garbage collection of old dead instances;
//! 7. the status, patched only when it changed.
//!
//! What a sync learns that the runtime cannot tell (backoff timers, why a
//! container waits, probe results) lives in `PodState`, per pod worker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, EphemeralContainer, Pod, PodStatus};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::Resource;
use minik_client::errors;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::backoff::{go_duration, Backoff};
use crate::context::Kubelet;
use crate::env::{self, ConfigError, PodFacts};
use crate::events::{ephemeral_field_path, field_path, PodEvents};
use crate::images::{self, ImageOutcome, PullBackoff};
use crate::pod_dns;
use crate::probes::{self, Action, ProbeContext, ProbeKind, Prober};
use crate::runtime::{ContainerConfig, ContainerRecord, HostPort, PodRef, SandboxConfig};
use crate::security;
use crate::status::{self, instances, is_sidecar, Waiting};
use crate::termination;
use crate::volumes::{self, MountError};
use crate::Error;

/// What a pod worker remembers between syncs.
pub struct PodState {
    pub events: PodEvents,
    pub crash_backoff: Backoff,
    pub pulls: PullBackoff,
    pub waiting: Waiting,
    pub prober: Prober,
    pub wake: Arc<Notify>,
    pub first_seen: Timestamp,
    /// The status this worker last wrote, until the pod watch brings the
    /// pod back changed (see `write_status_of`).
    written: Option<Written>,
}

/// A status write the worker's copy of the pod does not show yet.
struct Written {
    /// The resourceVersion of the copy the status was computed from.
    base: String,
    /// The whole status as it is after the write.
    status: Value,
}

impl PodState {
    pub fn new(k: &Kubelet, pod: &impl Resource<DynamicType = ()>, wake: Arc<Notify>) -> Self {
        let backoff = Backoff::new(k.config.backoff_base, k.config.backoff_max);
        Self {
            events: PodEvents::new(&k.recorder, pod),
            crash_backoff: backoff.clone(),
            pulls: PullBackoff::new(backoff),
            waiting: Waiting::new(),
            prober: Prober::default(),
            wake,
            first_seen: Timestamp::now(),
            written: None,
        }
    }

    /// Holds nothing a new worker's state would not: no status write the
    /// pod does not show yet, no back-off, no waiting reason, no probes (a
    /// container that has crashed keeps its back-off until the entry
    /// expires, twice the cap after its last restart, and a finished pod
    /// its probes' last results). Its worker
    /// may park (`pod_worker`): the Events' reference is made again from
    /// the pod, and the parked handle keeps the first-seen time.
    pub fn settled(&self) -> bool {
        // A write the pod watch has not brought back yet: the pod's next
        // change syncs it anyway, and a worker started afresh would judge
        // by the parked, older copy and write the status again.
        self.written.is_none()
            && self.crash_backoff.is_empty()
            && self.pulls.is_empty()
            && self.waiting.is_empty()
            && self.prober.is_empty()
    }
}

/// What the worker should do after a sync.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// The pod is gone: stop the worker.
    Done,
    /// Sync again on the next event, or after this long at the latest.
    Requeue(Option<Duration>),
}

fn pod_ref(pod: &Pod) -> PodRef {
    PodRef {
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
    }
}

fn earliest(a: Option<Duration>, b: Duration) -> Option<Duration> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// Hash of what, when changed, means the container must be recreated.
/// FNV-1a: stable across builds, so a restarted kubelet agrees with the labels.
fn spec_hash(c: &Container) -> String {
    let text = json!([c.name, c.image, c.command, c.args]).to_string();
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Syncs a pod that exists in the API server.
pub async fn sync_pod(k: &Kubelet, pod: &Pod, st: &mut PodState) -> Result<Next, Error> {
    st.crash_backoff.gc(Timestamp::now());
    if pod.metadata.deletion_timestamp.is_some() {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                pod.spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(30);
        // As Kubernetes' kubelet does, the pod reaches a terminal phase (with
        // its containers' exit codes) before it goes, so controllers see how
        // it ended (a Job's podFailurePolicy, for one).
        stop_pod(k, pod, st, grace).await?;
        write_status_of(k, pod, st, true).await?;
        remove_pod(k, pod).await?;
        confirm_deletion(k, pod).await?;
        return Ok(Next::Done);
    }
    let pref = pod_ref(pod);
    let spec = pod.spec.clone().unwrap_or_default();
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
    let mut records = k.runtime.list_pod(&pref.uid).await?;

    // A finished pod runs nothing more; its dead containers stay for logs.
    if matches!(phase.as_deref(), Some("Succeeded" | "Failed")) {
        st.prober.stop_all();
        // Sidecars still running when a regular init container failed for
        // good, say: stopped as kubelet kills a pod, with the grace period.
        let running: Vec<&ContainerRecord> = records
            .iter()
            .filter(|r| r.running() && !r.sandbox)
            .collect();
        stop_in_order(k, pod, st, &running, grace_of(pod)).await;
        for r in records.iter().filter(|r| r.sandbox && r.running()) {
            k.runtime.stop_container(&r.id, Duration::ZERO).await?;
        }
        // dockerd may set a container's OOMKilled only after it reported
        // the exit (it handles containerd's oom and exit events apart):
        // once it does, the finished pod's status says so.
        if oom_reported_late(pod, &records) {
            write_status(k, pod, st).await?;
        }
        return Ok(Next::Requeue(None));
    }

    // kubelet's admission, before anything of the pod is created: a pod
    // asking for a sysctl that is not safe is rejected, and fails.
    if records.is_empty() {
        if let Some(message) = security::forbidden_sysctl(&spec) {
            reject(
                k,
                pod,
                "SysctlForbidden",
                &format!("Pod was rejected: {message}"),
            )
            .await?;
            st.events.warning("SysctlForbidden", message);
            return Ok(Next::Requeue(None));
        }
    }

    // A pod's first sync — nothing created yet, and no container status of
    // this kubelet's on the pod (so neither a retry after a failed sandbox
    // nor a pod whose containers were removed under it comes back here):
    // what minik does not do is said, and the pod is reported Pending with
    // its containers waiting in `ContainerCreating` before the sandbox,
    // pulls and starts (kubelet's SyncPod sets the status first), which is
    // what `kubectl get pods -w` shows meanwhile. The simulated runtime
    // starts pods at once and skips that write (one write less per pod at
    // scale, as kwok's pods go straight to Running).
    let reported = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|c| !c.is_empty());
    if records.is_empty() && !reported {
        for note in unsupported(&spec) {
            st.events.warning("NotSupported", note);
        }
        if k.config.runtime == crate::RuntimeKind::Docker {
            write_status(k, pod, st).await?;
        }
    }

    // The regular containers are done for good (restartPolicy Never or
    // OnFailure): the sidecars are stopped, last first, and the pod ends —
    // kubelet's `computePodActions` kills such a pod, and its phase counts
    // only the regular containers.
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let sidecars: Vec<&Container> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c))
        .collect();
    if !sidecars.is_empty() && regular_containers_done(&spec.containers, &records, policy) {
        st.prober.stop_all();
        // What has ended is shown while the sidecars take their grace period.
        write_status(k, pod, st).await?;
        let running: Vec<&ContainerRecord> = sidecars
            .iter()
            .filter_map(|c| instances(&records, &c.name).into_iter().next())
            .filter(|r| r.running())
            .collect();
        stop_in_order(k, pod, st, &running, grace_of(pod)).await;
        // Not to be restarted: no back-off to wait out or report.
        for c in &sidecars {
            st.waiting.remove(&c.name);
        }
        write_status(k, pod, st).await?;
        let records = k.runtime.list_pod(&pref.uid).await?;
        let stopped = sidecars
            .iter()
            .all(|c| !instances(&records, &c.name).iter().any(|r| r.running()));
        return Ok(Next::Requeue((!stopped).then_some(Duration::from_secs(1))));
    }

    let mut requeue = None;
    let sandbox = match records.iter().find(|r| r.sandbox && r.running()).cloned() {
        Some(s) => s,
        None => match create_sandbox(k, pod, st, &records).await? {
            Some(s) => {
                records = k.runtime.list_pod(&pref.uid).await?;
                s
            }
            None => {
                write_status(k, pod, st).await?;
                return Ok(Next::Requeue(Some(Duration::from_secs(5))));
            }
        },
    };
    let pod_ip = match spec.host_network {
        Some(true) => k.node_ip.clone(),
        _ => sandbox.ip.clone().unwrap_or_default(),
    };

    // Pod files and volumes (files only for containers that read them:
    // not in the simulated runtime, see volumes::setup).
    let root = k.root_dir();
    let materialize = k.config.runtime == crate::RuntimeKind::Docker;
    if materialize {
        volumes::write_pod_file(
            &root,
            &pref.uid,
            "resolv.conf",
            &pod_dns::resolv_conf(pod, &k.config.cluster_dns, &k.config.cluster_domain),
        )?;
        volumes::write_pod_file(
            &root,
            &pref.uid,
            "hosts",
            &pod_dns::hosts(pod, &pod_ip, &k.config.cluster_domain),
        )?;
    }
    let facts = PodFacts {
        pod,
        pod_ip: &pod_ip,
        host_ip: &k.node_ip,
        node_cpu_millis: k.capacity.cpu_millis,
        node_memory_bytes: k.capacity.memory_bytes,
    };
    let volumes = match volumes::setup(&root, &k.objects, &facts, materialize).await {
        Ok(v) => v,
        Err(MountError::Invalid(msg) | MountError::Unprocessed(msg)) => {
            st.events.warning("FailedMount", msg);
            write_status(k, pod, st).await?;
            return Ok(Next::Requeue(Some(Duration::from_secs(10))));
        }
        Err(MountError::Api(e)) => return Err(e),
    };
    let mut starter = Starter {
        k,
        pod,
        pref: &pref,
        sandbox: &sandbox,
        facts: &facts,
        volumes: &volumes,
    };

    let now = Timestamp::now();

    // Init containers, in order: a regular one runs to success, a sidecar
    // (restartPolicy Always) until it has started, then stays running and
    // is restarted whenever it exits, whatever the pod's restartPolicy.
    // One that a later init container or a live app container follows has
    // done its part (`computeInitContainerActions`' "previously
    // initialized"): a regular one is not run again, a sidecar is kept
    // running without holding the others back.
    let app_active = spec.containers.iter().any(|c| {
        instances(&records, &c.name)
            .first()
            .is_some_and(|r| !r.dead())
    });
    let inits: Vec<&Container> = spec.init_containers.iter().flatten().collect();
    let mut initialized = true;
    for (i, c) in inits.iter().copied().enumerate() {
        let followed = app_active
            || inits[i + 1..]
                .iter()
                .any(|later| !instances(&records, &later.name).is_empty());
        let latest = instances(&records, &c.name).first().map(|r| (*r).clone());
        if is_sidecar(c) {
            let started = match latest {
                Some(r) if r.running() => {
                    if kill_for_restart(k, pod, st, c, &r, true).await {
                        requeue = Some(Duration::ZERO);
                        false
                    } else {
                        st.prober.started(c, &r.id)
                    }
                }
                Some(r) if r.dead() => {
                    requeue =
                        restart_after_backoff(&mut starter, st, c, true, &r, now, requeue).await?;
                    false
                }
                Some(r) => {
                    k.runtime.start_container(&r.id).await?;
                    false
                }
                // Its start event wakes the worker to see it started.
                None => {
                    requeue = starter.start(st, c, true, 0).await?.or(requeue);
                    false
                }
            };
            if started || followed {
                continue;
            }
            initialized = false;
            break;
        }
        if followed {
            continue;
        }
        match latest {
            Some(r) if r.dead() && r.exit_code == 0 && r.error.is_empty() => continue,
            Some(r) if r.running() => {}
            Some(r) if r.dead() => {
                if policy != "Never" {
                    requeue =
                        restart_after_backoff(&mut starter, st, c, true, &r, now, requeue).await?;
                }
            }
            Some(r) => {
                // Created by a kubelet that died before starting it.
                k.runtime.start_container(&r.id).await?;
            }
            None => {
                requeue = starter.start(st, c, true, 0).await?.or(requeue);
            }
        }
        initialized = false;
        break;
    }

    if initialized {
        for c in &spec.containers {
            let latest = instances(&records, &c.name).first().map(|r| (*r).clone());
            match latest {
                None => requeue = starter.start(st, c, false, 0).await?.or(requeue),
                Some(r) if r.running() => {
                    if kill_for_restart(k, pod, st, c, &r, false).await {
                        requeue = Some(Duration::ZERO);
                    }
                }
                Some(r) if r.dead() => {
                    let restart = match policy {
                        "Always" => true,
                        "OnFailure" => !(r.exit_code == 0 && r.error.is_empty()),
                        _ => false,
                    };
                    if restart {
                        requeue =
                            restart_after_backoff(&mut starter, st, c, false, &r, now, requeue)
                                .await?;
                    } else {
                        st.waiting.remove(&c.name);
                    }
                }
                Some(r) => k.runtime.start_container(&r.id).await?,
            }
        }
    }

    // Ephemeral containers (`kubectl debug`): started once, never restarted.
    if initialized {
        let records = k.runtime.list_pod(&pref.uid).await?;
        for e in spec.ephemeral_containers.iter().flatten() {
            if !instances(&records, &e.name).is_empty() {
                continue;
            }
            let target = match e.target_container_name.as_deref() {
                Some(name) => match instances(&records, name).first() {
                    Some(r) if r.running() => Some(r.id.clone()),
                    // Its target is not running (yet): try again soon.
                    _ => {
                        requeue = earliest(requeue, Duration::from_secs(1));
                        continue;
                    }
                },
                None => None,
            };
            let c = ephemeral_as_container(e);
            let path = ephemeral_field_path(&e.name);
            requeue = starter.launch(st, &c, &path, 0, target).await?.or(requeue);
        }
    }

    // Probe workers follow the running containers.
    let records = k.runtime.list_pod(&pref.uid).await?;
    let running: Vec<(Container, String, bool)> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c))
        .map(|c| (c, true))
        .chain(spec.containers.iter().map(|c| (c, false)))
        .filter_map(|(c, init)| {
            let r = instances(&records, &c.name).into_iter().next()?;
            r.running().then(|| (c.clone(), r.id.clone(), init))
        })
        .collect();
    st.prober.sync(
        &running,
        &ProbeContext {
            runtime: k.runtime.clone(),
            pod_ip: pod_ip.clone(),
            wake: st.wake.clone(),
            events: st.events.clone(),
        },
    );
    collect_garbage(k, &records).await?;
    write_status(k, pod, st).await?;
    Ok(Next::Requeue(requeue))
}

/// What minik's kubelet accepts but does not do, said once per pod when
/// it first syncs (a Warning Event each, rather than silence): user
/// namespaces, SELinux, AppArmor and procMount settings are left to
/// Docker's defaults.
fn unsupported(spec: &k8s_openapi::api::core::v1::PodSpec) -> Vec<String> {
    let mut notes = Vec::new();
    let pod_sc = spec.security_context.as_ref();
    if spec.host_users == Some(false) {
        notes.push(
            "hostUsers: false is not supported by minik: the pod runs without a user namespace"
                .into(),
        );
    }
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        notes.extend(security::unsupported(pod_sc, c));
    }
    notes
}

/// Every regular container has exited and, by the pod's restartPolicy,
/// will not be started again.
fn regular_containers_done(
    containers: &[Container],
    records: &[ContainerRecord],
    policy: &str,
) -> bool {
    policy != "Always"
        && containers
            .iter()
            .all(|c| match instances(records, &c.name).first() {
                Some(r) if r.dead() => {
                    policy == "Never" || (r.exit_code == 0 && r.error.is_empty())
                }
                _ => false,
            })
}

/// Stops a running container that must be started again ([`restart_reason`]),
/// with a Killing Event; whether it did. `sidecar`: an init container.
async fn kill_for_restart(
    k: &Kubelet,
    pod: &Pod,
    st: &PodState,
    c: &Container,
    r: &ContainerRecord,
    sidecar: bool,
) -> bool {
    let Some((reason, grace)) = restart_reason(st, c, r, sidecar) else {
        return false;
    };
    st.events
        .container(&field_path(sidecar, &c.name))
        .normal("Killing", reason);
    let grace = grace.unwrap_or_else(|| grace_of(pod));
    stop_container(k, pod, st, c, r, grace, sidecar).await;
    true
}

/// Why a running container must be killed and started again, in kubelet's
/// words (a sidecar's are "Init container …" and say no more), with the
/// failed probe's own terminationGracePeriodSeconds if it sets one
/// (ProbeTerminationGracePeriod): its spec changed, or its startup or
/// liveness probe failed.
fn restart_reason(
    st: &PodState,
    c: &Container,
    r: &ContainerRecord,
    sidecar: bool,
) -> Option<(String, Option<i64>)> {
    let probe_grace = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref().and_then(|p| p.termination_grace_period_seconds)
    };
    let say = |what: &str| {
        if sidecar {
            format!("Init container {} {what}", c.name)
        } else {
            format!("Container {} {what}, will be restarted", c.name)
        }
    };
    if r.hash != spec_hash(c) && !r.hash.is_empty() {
        return Some((say("definition changed"), None));
    }
    match st.prober.failed(c, &r.id) {
        Some(ProbeKind::Liveness) => {
            Some((say("failed liveness probe"), probe_grace(&c.liveness_probe)))
        }
        Some(ProbeKind::Startup) => {
            Some((say("failed startup probe"), probe_grace(&c.startup_probe)))
        }
        _ => None,
    }
}

/// An ephemeral container as the container it is to the runtime (the same
/// fields; ports, probes and lifecycle hooks are refused by validation).
pub fn ephemeral_as_container(e: &EphemeralContainer) -> Container {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Everything needed to create one container of the pod.
struct Starter<'a> {
    k: &'a Kubelet,
    pod: &'a Pod,
    pref: &'a PodRef,
    sandbox: &'a ContainerRecord,
    facts: &'a PodFacts<'a>,
    volumes: &'a std::collections::BTreeMap<String, std::path::PathBuf>,
}

impl Starter<'_> {
    /// Pulls, configures, creates and starts one container instance.
    /// Returns when to retry if it must wait (image pull back-off).
    async fn start(
        &mut self,
        st: &mut PodState,
        c: &Container,
        init: bool,
        restart_count: i32,
    ) -> Result<Option<Duration>, Error> {
        self.launch(st, c, &field_path(init, &c.name), restart_count, None)
            .await
    }

    /// [`Self::start`] for any list of containers: `path` names it in
    /// Events; `pid_target` is an ephemeral container's target.
    async fn launch(
        &mut self,
        st: &mut PodState,
        c: &Container,
        path: &str,
        restart_count: i32,
        pid_target: Option<String>,
    ) -> Result<Option<Duration>, Error> {
        let k = self.k;
        let events = st.events.container(path);
        match images::ensure(k.runtime.as_ref(), &events, &mut st.pulls, c).await? {
            ImageOutcome::Ready => {}
            ImageOutcome::Waiting(reason, message, retry) => {
                st.waiting.insert(c.name.clone(), (reason, message));
                return Ok(retry);
            }
        }
        let config_error = |st: &mut PodState, msg: String| {
            events.warning("Failed", format!("Error: {msg}"));
            st.waiting
                .insert(c.name.clone(), ("CreateContainerConfigError".into(), msg));
        };
        let env = match env::container_env(&k.objects, self.facts, c).await {
            Ok(env) => env,
            Err(ConfigError::Invalid(msg)) => {
                config_error(st, msg);
                return Ok(Some(Duration::from_secs(10)));
            }
            Err(ConfigError::Api(e)) => return Err(e),
        };
        let mut binds = match volumes::binds(self.pod, c, self.volumes, &env) {
            Ok(b) => b,
            Err(msg) => {
                config_error(st, msg);
                return Ok(Some(Duration::from_secs(10)));
            }
        };
        let dir = volumes::pod_dir(&k.root_dir(), &self.pref.uid);
        binds.push(format!("{}:/etc/hosts", dir.join("hosts").display()));
        binds.push(format!(
            "{}:/etc/resolv.conf",
            dir.join("resolv.conf").display()
        ));
        if k.config.runtime == crate::RuntimeKind::Docker {
            match termination::prepare(&dir, c, restart_count) {
                Ok(bind) => binds.push(bind),
                Err(e) => return Err(Error::Runtime(format!("termination message file: {e}"))),
            }
        }

        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let expand = |v: &Option<Vec<String>>| {
            v.as_ref().map(|args| {
                args.iter()
                    .map(|a| env::expand(a, lookup))
                    .collect::<Vec<_>>()
            })
        };
        let resources = c.resources.clone().unwrap_or_default();
        let quantity = |m: &Option<
            std::collections::BTreeMap<
                String,
                k8s_openapi::apimachinery::pkg::api::resource::Quantity,
            >,
        >,
                        key: &str| {
            m.as_ref()
                .and_then(|m| m.get(key))
                .and_then(|q| minik_api::quantity::Quantity::parse(&q.0).ok())
        };
        let pod_spec = self.pod.spec.as_ref();
        // The security context, and kubelet's runAsNonRoot check against
        // the image's user, before anything is created.
        let pod_sc = pod_spec.and_then(|s| s.security_context.as_ref());
        let image_user = if security::needs_image_user(pod_sc, c) {
            let image = c.image.clone().unwrap_or_default();
            match k.runtime.image_user(&image).await {
                Ok(user) => user,
                Err(e) => {
                    config_error(
                        st,
                        format!("failed to get the user of image {image:?}: {e}"),
                    );
                    return Ok(Some(Duration::from_secs(10)));
                }
            }
        } else {
            None
        };
        let pod_desc = format!(
            "{}_{}({})",
            self.pref.name, self.pref.namespace, self.pref.uid
        );
        let security =
            security::verify_run_as_non_root(pod_sc, c, image_user.as_deref(), &pod_desc).and_then(
                |()| security::apply(pod_sc, c, image_user.as_deref(), &k.config.root_dir),
            );
        let security = match security {
            Ok(s) => s,
            Err(msg) => {
                config_error(st, msg);
                return Ok(Some(Duration::from_secs(10)));
            }
        };
        let config = ContainerConfig {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            entrypoint: expand(&c.command),
            cmd: match (&c.command, &c.args) {
                // A command without args drops the image's CMD, as in Kubernetes.
                (Some(_), None) => Some(vec![]),
                (_, args) => expand(args),
            },
            env: env.clone(),
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
            binds,
            memory_limit: quantity(&resources.limits, "memory").map(|q| q.value()),
            cpu_limit_millis: quantity(&resources.limits, "cpu").map(|q| q.millis()),
            cpu_request_millis: quantity(&resources.requests, "cpu").map(|q| q.millis()),
            restart_count,
            hash: spec_hash(c),
            tty: c.tty == Some(true),
            stdin: c.stdin == Some(true),
            stdin_once: c.stdin_once == Some(true),
            security,
            pid_target,
            host_ipc: pod_spec.is_some_and(|s| s.host_ipc == Some(true)),
            host_pid: pod_spec.is_some_and(|s| s.host_pid == Some(true)),
            share_process_namespace: pod_spec
                .is_some_and(|s| s.share_process_namespace == Some(true)),
        };
        let id = match k
            .runtime
            .create_container(self.pref, &self.sandbox.id, &config)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                events.warning("Failed", format!("Error: {e}"));
                st.waiting.insert(
                    c.name.clone(),
                    ("CreateContainerError".into(), e.to_string()),
                );
                return Ok(Some(Duration::from_secs(10)));
            }
        };
        events.normal("Created", format!("Created container: {}", c.name));
        st.waiting.remove(&c.name);
        if let Err(e) = k.runtime.start_container(&id).await {
            events.warning(
                "Failed",
                format!("Error: failed to start container \"{}\": {e}", c.name),
            );
            // The dead instance is restarted with back-off by the next sync.
            return Ok(Some(Duration::from_millis(100)));
        }
        events.normal("Started", format!("Started container {}", c.name));
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let target = probes::Target {
                runtime: k.runtime.as_ref(),
                container: c,
                container_id: &id,
                pod_ip: self.facts.pod_ip,
            };
            let timeout = Duration::from_secs(grace_of(self.pod).max(1) as u64);
            if let Err(msg) = probes::run(&Action::of_hook(hook), &target, timeout).await {
                // As Kubernetes' kubelet: the hook's output goes to the log,
                // not into the Event, where it could leak a secret.
                tracing::warn!(pod = %format!("{}/{}", self.pref.namespace, self.pref.name), container = %c.name, "PostStartHook failed: {msg}");
                events.warning("FailedPostStartHook", "PostStartHook failed".to_string());
                events.normal("Killing", "FailedPostStartHook".to_string());
                k.runtime.stop_container(&id, Duration::ZERO).await?;
                return Ok(Some(Duration::from_millis(100)));
            }
        }
        Ok(None)
    }
}

/// Restarts a dead container unless it is still backing off, in which case
/// it waits in CrashLoopBackOff. Returns the updated requeue time.
async fn restart_after_backoff(
    starter: &mut Starter<'_>,
    st: &mut PodState,
    c: &Container,
    init: bool,
    dead: &ContainerRecord,
    now: Timestamp,
    requeue: Option<Duration>,
) -> Result<Option<Duration>, Error> {
    let finished = dead.finished_at.unwrap_or(dead.created_at);
    if let Some(left) = st.crash_backoff.remaining(&c.name, finished, now) {
        let p = starter.pref;
        st.waiting.insert(
            c.name.clone(),
            (
                "CrashLoopBackOff".into(),
                format!(
                    "back-off {} restarting failed container={} pod={}_{}({})",
                    go_duration(st.crash_backoff.delay(&c.name)),
                    c.name,
                    p.name,
                    p.namespace,
                    p.uid
                ),
            ),
        );
        st.events.container(&field_path(init, &c.name)).warning(
            "BackOff",
            format!(
                "Back-off restarting failed container {} in pod {}_{}({})",
                c.name, p.name, p.namespace, p.uid
            ),
        );
        return Ok(earliest(requeue, left));
    }
    st.crash_backoff.next(&c.name, finished, now);
    let retry = starter.start(st, c, init, dead.restart_count + 1).await?;
    Ok(match retry {
        Some(d) => earliest(requeue, d),
        None => requeue,
    })
}

fn grace_of(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
}

/// Creates the pod's sandbox (stopping containers left in a dead one).
async fn create_sandbox(
    k: &Kubelet,
    pod: &Pod,
    st: &mut PodState,
    records: &[ContainerRecord],
) -> Result<Option<ContainerRecord>, Error> {
    let had_sandbox = records.iter().any(|r| r.sandbox);
    if had_sandbox {
        st.events.normal(
            "SandboxChanged",
            "Pod sandbox changed, it will be killed and re-created.",
        );
        for r in records.iter().filter(|r| r.running()) {
            k.runtime.stop_container(&r.id, Duration::ZERO).await?;
        }
    }
    let image = &k.config.pod_infra_image;
    if k.runtime.image_id(image).await?.is_none() {
        if let Err(e) = k.runtime.pull_image(image).await {
            st.events.warning(
                "FailedCreatePodSandBox",
                format!(
                    "Failed to create pod sandbox: failed to pull infra image \"{image}\": {e}"
                ),
            );
            return Ok(None);
        }
    }
    let attempt = records
        .iter()
        .filter(|r| r.sandbox)
        .map(|r| r.restart_count + 1)
        .max()
        .unwrap_or(0);
    let config = SandboxConfig {
        pod: pod_ref(pod),
        attempt,
        hostname: pod_dns::hostname(pod),
        image: image.clone(),
        host_ports: host_ports(pod),
        host_network: pod.spec.as_ref().and_then(|s| s.host_network) == Some(true),
        sysctls: pod.spec.as_ref().map(security::sysctls).unwrap_or_default(),
        host_ipc: pod.spec.as_ref().and_then(|s| s.host_ipc) == Some(true),
        host_pid: pod.spec.as_ref().and_then(|s| s.host_pid) == Some(true),
    };
    match k.runtime.run_sandbox(&config).await {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            st.events.warning(
                "FailedCreatePodSandBox",
                format!("Failed to create pod sandbox: {e}"),
            );
            Ok(None)
        }
    }
}

/// kubelet's `rejectPod`: the pod fails with this reason and message
/// (kubectl shows the reason as its STATUS) and nothing of it runs.
async fn reject(k: &Kubelet, pod: &Pod, reason: &str, message: &str) -> Result<(), Error> {
    let pref = pod_ref(pod);
    let api: Api<Pod> = Api::namespaced(k.client.clone(), &pref.namespace);
    let patch = json!({"status": {"phase": "Failed", "reason": reason, "message": message}});
    match api
        .patch_status(&pref.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if errors::is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The app containers' `hostPort`s (kubelet's `MakePortMappings`, app
/// containers only, as its sandbox config takes them), each once.
fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let mut out: Vec<HostPort> = Vec::new();
    let containers = pod.spec.iter().flat_map(|s| &s.containers);
    for p in containers.flat_map(|c| c.ports.iter().flatten()) {
        let (Ok(host_port), Ok(container_port)) = (
            u16::try_from(p.host_port.unwrap_or(0)),
            u16::try_from(p.container_port),
        ) else {
            continue;
        };
        if host_port == 0 {
            continue;
        }
        let port = HostPort {
            host_ip: p.host_ip.clone().unwrap_or_default(),
            host_port,
            container_port,
            protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
        };
        if !out.contains(&port) {
            out.push(port);
        }
    }
    out
}

/// Runs the container's preStop hook, if it has one and there is time
/// before `deadline`. A failure is a FailedPreStopHook Event.
async fn run_pre_stop(
    k: &Kubelet,
    pod: &Pod,
    st: &PodState,
    c: &Container,
    r: &ContainerRecord,
    init: bool,
    deadline: std::time::Instant,
) {
    let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) else {
        return;
    };
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        return;
    }
    let pod_ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default();
    let target = probes::Target {
        runtime: k.runtime.as_ref(),
        container: c,
        container_id: &r.id,
        pod_ip: &pod_ip,
    };
    if let Err(msg) = probes::run(&Action::of_hook(hook), &target, left).await {
        st.events
            .container(&field_path(init, &c.name))
            .warning("FailedPreStopHook", format!("PreStopHook failed: {msg}"));
    }
}

/// Runs the preStop hook, then stops the container within the grace period.
async fn stop_container(
    k: &Kubelet,
    pod: &Pod,
    st: &PodState,
    c: &Container,
    r: &ContainerRecord,
    grace_seconds: i64,
    init: bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(grace_seconds.max(0) as u64);
    run_pre_stop(k, pod, st, c, r, init, deadline).await;
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if let Err(e) = k.runtime.stop_container(&r.id, left).await {
        tracing::warn!(container = %r.id, error = %e, "cannot stop container");
    }
}

/// Stops these running containers of the pod as kubelet's
/// `killContainersWithSyncResult` does: each is told at once (a Killing
/// Event) and runs its preStop hook at once; the others are stopped
/// together, within the grace period, and the sidecars only after them,
/// one by one, last first, each within what is left of the grace period
/// but given at least kubelet's minimum of 2 s (unless the grace period is
/// 0) — so a sidecar serves its pod until the pod's own containers have
/// gone.
async fn stop_in_order(
    k: &Kubelet,
    pod: &Pod,
    st: &PodState,
    running: &[&ContainerRecord],
    grace: i64,
) {
    let spec = pod.spec.clone().unwrap_or_default();
    let spec_of = |r: &ContainerRecord| -> (Container, bool) {
        spec.containers
            .iter()
            .map(|c| (c, false))
            .chain(spec.init_containers.iter().flatten().map(|c| (c, true)))
            .find(|(c, _)| c.name == r.name)
            .map(|(c, init)| (c.clone(), init))
            .unwrap_or_else(|| {
                let c = Container {
                    name: r.name.clone(),
                    ..Default::default()
                };
                (c, false)
            })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(grace.max(0) as u64);
    let mut sidecars = Vec::new();
    let mut others = Vec::new();
    for r in running {
        let (c, init) = spec_of(r);
        st.events
            .container(&field_path(init, &c.name))
            .normal("Killing", format!("Stopping container {}", c.name));
        if is_sidecar(&c) && init {
            sidecars.push((*r, c));
        } else {
            others.push((*r, c, init));
        }
    }
    let stops = others
        .iter()
        .map(|(r, c, init)| stop_container(k, pod, st, c, r, grace, *init));
    let hooks = sidecars
        .iter()
        .map(|(r, c)| run_pre_stop(k, pod, st, c, r, true, deadline));
    futures::future::join(
        futures::future::join_all(stops),
        futures::future::join_all(hooks),
    )
    .await;
    let order: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    sidecars.sort_by_key(|(r, _)| std::cmp::Reverse(order.iter().position(|n| *n == r.name)));
    let floor = Duration::from_secs(grace.clamp(0, 2) as u64);
    for (r, _) in sidecars {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if let Err(e) = k.runtime.stop_container(&r.id, left.max(floor)).await {
            tracing::warn!(container = %r.id, error = %e, "cannot stop container");
        }
    }
}

/// Stops every container of the pod (app containers in parallel, honouring
/// the grace period), then removes them and the pod's directory.
pub async fn terminate(k: &Kubelet, pod: &Pod, st: &mut PodState, grace: i64) -> Result<(), Error> {
    stop_pod(k, pod, st, grace).await?;
    remove_pod(k, pod).await
}

/// Stops every container of the pod (in order, see [`stop_in_order`]),
/// then the sandbox.
async fn stop_pod(k: &Kubelet, pod: &Pod, st: &mut PodState, grace: i64) -> Result<(), Error> {
    st.prober.stop_all();
    let pref = pod_ref(pod);
    let records = k.runtime.list_pod(&pref.uid).await?;
    let running: Vec<&ContainerRecord> = records
        .iter()
        .filter(|r| r.running() && !r.sandbox)
        .collect();
    stop_in_order(k, pod, st, &running, grace).await;
    for r in records.iter().filter(|r| r.sandbox && r.running()) {
        k.runtime.stop_container(&r.id, Duration::ZERO).await?;
    }
    Ok(())
}

/// Removes the pod's (stopped) containers and its directory.
async fn remove_pod(k: &Kubelet, pod: &Pod) -> Result<(), Error> {
    let pref = pod_ref(pod);
    for r in &k.runtime.list_pod(&pref.uid).await? {
        k.runtime.remove_container(&r.id).await?;
    }
    volumes::remove_pod_dir(&k.root_dir(), &pref.uid);
    k.objects.tokens.forget_pod(&pref.uid);
    Ok(())
}

/// Tells the API server the pod's containers are gone: a delete with grace
/// period 0, guarded by the UID so a new pod of the same name is safe.
async fn confirm_deletion(k: &Kubelet, pod: &Pod) -> Result<(), Error> {
    let pref = pod_ref(pod);
    let api: Api<Pod> = Api::namespaced(k.client.clone(), &pref.namespace);
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(pref.uid.clone()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pref.name, &params).await {
        Ok(_) => Ok(()),
        Err(e) if errors::is_superseded(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes dead instances beyond the newest two of each container (the
/// current and the previous, for `kubectl logs --previous`) and dead
/// sandboxes other than the newest.
async fn collect_garbage(k: &Kubelet, records: &[ContainerRecord]) -> Result<(), Error> {
    let mut seen: HashMap<(bool, &str), usize> = HashMap::new();
    for r in records {
        let n = seen.entry((r.sandbox, r.name.as_str())).or_default();
        *n += 1;
        let keep = if r.sandbox { 1 } else { 2 };
        if *n > keep && r.dead() {
            k.runtime.remove_container(&r.id).await?;
            if !r.sandbox {
                // Its termination message file goes with it.
                let dir = volumes::pod_dir(&k.root_dir(), &r.pod.uid);
                let _ =
                    std::fs::remove_file(termination::host_file(&dir, &r.name, r.restart_count));
            }
        }
    }
    Ok(())
}

/// Whether the runtime now says a container was OOM-killed while the pod's
/// status still shows it terminated for another reason.
fn oom_reported_late(pod: &Pod, records: &[ContainerRecord]) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    let shown = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten());
    shown.into_iter().any(|cs| {
        let reason = cs
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.reason.as_deref());
        reason.is_some_and(|r| r != "OOMKilled")
            && records
                .iter()
                .any(|r| !r.sandbox && r.name == cs.name && r.oom_killed && !r.running())
    })
}

/// Computes the status and patches it when it differs from the API's.
pub async fn write_status(k: &Kubelet, pod: &Pod, st: &mut PodState) -> Result<(), Error> {
    write_status_of(k, pod, st, false).await
}

/// Patches the pod's status when what the kubelet computes differs from
/// what the pod shows. Like kubelet's status manager, which compares with
/// the status it last wrote rather than with its pod informer, a write the
/// worker's copy of the pod does not show yet counts as shown: in a burst
/// the pod watch can bring the written status back after the next sync
/// (a container's start event), which would otherwise write it again.
/// `terminal`: the pod's containers have all stopped for good.
async fn write_status_of(
    k: &Kubelet,
    pod: &Pod,
    st: &mut PodState,
    terminal: bool,
) -> Result<(), Error> {
    let base = pod.metadata.resource_version.clone().unwrap_or_default();
    if st.written.as_ref().is_some_and(|w| w.base != base) {
        // The copy has changed since: it shows the write, or a newer status.
        st.written = None;
    }
    let shown = st.written.as_ref().and_then(|w| {
        let status = PodStatus::deserialize(&w.status).ok()?;
        let mut shown = pod.clone();
        shown.status = Some(status);
        Some(shown)
    });
    let pod = shown.as_ref().unwrap_or(pod);
    let pref = pod_ref(pod);
    let mut records = k.runtime.list_pod(&pref.uid).await?;
    if k.config.runtime == crate::RuntimeKind::Docker {
        let dir = volumes::pod_dir(&k.root_dir(), &pref.uid);
        termination::fill(k.runtime.as_ref(), pod, &dir, &mut records).await;
    }
    let mine = status::compute(&status::Input {
        pod,
        records: &records,
        waiting: &st.waiting,
        prober: &st.prober,
        host_ip: &k.node_ip,
        scheme: k.runtime.scheme(),
        start_time: st.first_seen,
        now: Timestamp::now(),
        terminal,
    });
    let current = pod
        .status
        .as_ref()
        .map(|s| serde_json::to_value(s).unwrap_or_default())
        .unwrap_or_else(|| json!({}));
    let mut merged = current.clone();
    for (key, value) in &mine {
        merged[key] = value.clone();
    }
    if merged == current {
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(k.client.clone(), &pref.namespace);
    let patch = json!({"status": Value::Object(mine)});
    match api
        .patch_status(&pref.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            st.written = Some(Written {
                base,
                status: merged,
            });
            Ok(())
        }
        Err(e) if errors::is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_hash_is_stable_and_tracks_the_image() {
        let c = |image: &str| Container {
            name: "web".into(),
            image: Some(image.into()),
            ..Default::default()
        };
        assert_eq!(spec_hash(&c("minik/web:v1")), spec_hash(&c("minik/web:v1")));
        assert_ne!(spec_hash(&c("minik/web:v1")), spec_hash(&c("minik/web:v2")));
        // Pinned: a kubelet built later must agree with labels written now.
        assert_eq!(spec_hash(&c("minik/web:v1")).len(), 16);
    }
}
