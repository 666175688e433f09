//! PodStatus as kubelet computes it (`generateAPIPodStatus`), from the
//! containers the runtime reports, the waiting reasons the last sync left
//! (CrashLoopBackOff, ErrImagePull …) and the probe results:
//!
//! - `phase` by kubelet's `getPhase`: Pending while initializing or while a
//!   container waits; Running while one runs; Succeeded/Failed once all have
//!   terminated and will not be restarted (by `restartPolicy`). A running
//!   sidecar counts as running, one that has exited not at all. A terminal
//!   phase never changes back.
//! - conditions PodReadyToStartContainers, Initialized, Ready,
//!   ContainersReady (PodScheduled is the scheduler's), each keeping its
//!   `lastTransitionTime` until its status flips; conditions written by
//!   others are kept.
//! - `containerStatuses` / `initContainerStatuses` /
//!   `ephemeralContainerStatuses`: state and lastState
//!   (the previous instance's termination), ready, started, restartCount,
//!   image, imageID, containerID (`docker://<id>`).
//! - podIP(s) from the sandbox (a `hostNetwork` pod's: the node's),
//!   hostIP(s) from the node, startTime.
//!
//! The result is plain JSON, merged over the current status so fields other
//! writers own (qosClass, nominatedNodeName) stay.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};
use minik_api::meta::format_timestamp;
use serde_json::{json, Map, Value};

use crate::probes::Prober;
use crate::runtime::ContainerRecord;

/// A reason and message the last sync left for a container that is waiting.
pub type Waiting = HashMap<String, (String, String)>;

/// What the status is computed from.
pub struct Input<'a> {
    pub pod: &'a Pod,
    pub records: &'a [ContainerRecord],
    pub waiting: &'a Waiting,
    pub prober: &'a Prober,
    pub host_ip: &'a str,
    pub scheme: &'a str,
    pub start_time: Timestamp,
    pub now: Timestamp,
    /// The pod is being deleted and its containers have stopped
    /// (Kubernetes' `podIsTerminal`): it gets a terminal phase before it goes.
    pub terminal: bool,
}

/// The newest instance of a container, and the one before it.
pub fn instances<'a>(records: &'a [ContainerRecord], name: &str) -> Vec<&'a ContainerRecord> {
    records
        .iter()
        .filter(|r| !r.sandbox && r.name == name)
        .collect()
}

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(format_timestamp(t)))
}

/// The `terminated` state of a dead container.
pub fn terminated(r: &ContainerRecord, scheme: &str) -> Value {
    let start_error = !r.error.is_empty() && r.started_at.is_none();
    let reason = if r.oom_killed {
        "OOMKilled"
    } else if start_error {
        "StartError"
    } else if r.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    let mut t = json!({
        "exitCode": if start_error && r.exit_code == 0 { 128 } else { r.exit_code },
        "reason": reason,
        "startedAt": time(r.started_at.or(Some(r.created_at))),
        "finishedAt": time(r.finished_at.or(r.started_at).or(Some(r.created_at))),
        "containerID": r.container_id(scheme),
    });
    if start_error {
        t["message"] = json!(r.error);
    } else if !r.message.is_empty() {
        t["message"] = json!(r.message);
    }
    t
}

fn container_status(input: &Input<'_>, c: &Container, init: bool, default_waiting: &str) -> Value {
    let all = instances(input.records, &c.name);
    let latest = all.first().copied();
    let previous = all.get(1).copied();
    let waiting = input.waiting.get(&c.name);
    let last_of = |r: Option<&ContainerRecord>| match r {
        Some(r) if r.dead() => json!({"terminated": terminated(r, input.scheme)}),
        _ => json!({}),
    };
    let waiting_state = |reason: &str, message: &str| {
        let mut w = json!({"reason": reason});
        if !message.is_empty() {
            w["message"] = json!(message);
        }
        json!({"waiting": w})
    };
    let (state, last_state) = match (latest, waiting) {
        (Some(r), _) if r.running() => (
            json!({"running": {"startedAt": time(r.started_at)}}),
            last_of(previous),
        ),
        (Some(r), Some((reason, message))) if r.dead() => {
            (waiting_state(reason, message), last_of(Some(r)))
        }
        (Some(r), None) if r.dead() => (
            json!({"terminated": terminated(r, input.scheme)}),
            last_of(previous),
        ),
        (_, Some((reason, message))) => (waiting_state(reason, message), last_of(previous)),
        (_, None) => (waiting_state(default_waiting, ""), last_of(previous)),
    };
    let running = latest.is_some_and(|r| r.running());
    // A sidecar is ready and started as an app container is, by its probes.
    let run_to_completion = init && !is_sidecar(c);
    let (ready, started) = match latest {
        Some(r) if run_to_completion => (succeeded(r), running),
        Some(r) if running => (input.prober.ready(c, &r.id), input.prober.started(c, &r.id)),
        _ => (false, false),
    };
    let mut s = json!({
        "name": c.name,
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "restartCount": latest.map_or(0, |r| r.restart_count),
        "image": c.image.clone().unwrap_or_default(),
        "imageID": latest.map(|r| r.image_id.clone()).unwrap_or_default(),
        "started": started,
    });
    if let Some(r) = latest {
        s["containerID"] = json!(r.container_id(input.scheme));
    }
    s
}

/// A restartable init container (`restartPolicy: Always`): a sidecar.
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn succeeded(r: &ContainerRecord) -> bool {
    r.dead() && r.exit_code == 0 && r.error.is_empty()
}

/// The pod's status fields the kubelet owns.
pub fn compute(input: &Input<'_>) -> Map<String, Value> {
    let pod = input.pod;
    let spec = pod.spec.clone().unwrap_or_default();
    let current = pod.status.clone().unwrap_or_default();
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let inits = spec.init_containers.clone().unwrap_or_default();
    let sandbox = input.records.iter().find(|r| r.sandbox && r.running());

    // Init containers: done when each regular one has succeeded and each
    // sidecar has started (or once a regular container has run: a sidecar
    // restarting later does not make the pod uninitialized); failed for
    // good when a regular one failed under restartPolicy Never.
    let regular_started = spec
        .containers
        .iter()
        .any(|c| !instances(input.records, &c.name).is_empty());
    let mut incomplete = Vec::new();
    let mut init_failed = false;
    for c in &inits {
        let latest = instances(input.records, &c.name).first().copied();
        if is_sidecar(c) {
            let started = latest.is_some_and(|r| r.running() && input.prober.started(c, &r.id));
            if !started && !regular_started {
                incomplete.push(c.name.clone());
            }
            continue;
        }
        match latest {
            Some(r) if succeeded(r) => {}
            Some(r) if r.dead() && policy == "Never" => {
                init_failed = true;
                incomplete.push(c.name.clone());
            }
            _ if regular_started => {}
            _ => incomplete.push(c.name.clone()),
        }
    }
    let initialized = incomplete.is_empty();

    let init_statuses: Vec<Value> = inits
        .iter()
        .map(|c| container_status(input, c, true, "PodInitializing"))
        .collect();
    // kubelet's default waiting reason: PodInitializing for every
    // container of a pod with init containers, even once they are done.
    let app_default = if inits.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| container_status(input, c, false, app_default))
        .collect();

    let phase = match current.phase.as_deref() {
        Some(p @ ("Succeeded" | "Failed")) => p.to_string(),
        _ if init_failed => "Failed".into(),
        _ if !initialized => "Pending".into(),
        _ => {
            let sidecar_statuses: Vec<&Value> = inits
                .iter()
                .zip(&init_statuses)
                .filter(|(c, _)| is_sidecar(c))
                .map(|(_, s)| s)
                .collect();
            phase_of(&statuses, &sidecar_statuses, policy, input.terminal)
        }
    };
    // The status manager's `TerminatePod`: a pod that ends without a
    // terminal phase of its own (a container never started) has Failed.
    let phase = if input.terminal && phase != "Succeeded" {
        "Failed".to_string()
    } else {
        phase
    };

    // Sidecars count for readiness, before the app containers.
    let unready: Vec<String> = inits
        .iter()
        .zip(&init_statuses)
        .filter(|(c, _)| is_sidecar(c))
        .map(|(_, s)| s)
        .chain(&statuses)
        .filter(|s| s["ready"] != json!(true))
        .map(|s| s["name"].as_str().unwrap_or("").to_string())
        .collect();
    let terminal = phase == "Succeeded" || phase == "Failed";
    let completed_reason = if phase == "Succeeded" {
        "PodCompleted"
    } else {
        "PodFailed"
    };
    let mut conditions = Vec::new();
    conditions.push(condition(
        "PodReadyToStartContainers",
        sandbox.is_some(),
        None,
    ));
    conditions.push(if phase == "Succeeded" {
        condition("Initialized", true, Some(("PodCompleted", String::new())))
    } else {
        condition(
            "Initialized",
            initialized,
            (!initialized).then(|| {
                (
                    "ContainersNotInitialized",
                    format!(
                        "containers with incomplete status: [{}]",
                        incomplete.join(" ")
                    ),
                )
            }),
        )
    });
    let containers_ready = unready.is_empty() && !terminal;
    // Readiness does not look at initialization (GenerateContainersReadyCondition):
    // before it, the app containers are simply not ready.
    let not_ready = if terminal {
        Some((completed_reason, String::new()))
    } else {
        (!unready.is_empty()).then(|| {
            (
                "ContainersNotReady",
                format!("containers with unready status: [{}]", unready.join(" ")),
            )
        })
    };
    let gates_unready: Vec<String> = spec
        .readiness_gates
        .iter()
        .flatten()
        .map(|g| g.condition_type.clone())
        .filter(|t| {
            !current
                .conditions
                .iter()
                .flatten()
                .any(|c| &c.type_ == t && c.status == "True")
        })
        .collect();
    let ready_reason = match &not_ready {
        Some(r) => Some(r.clone()),
        None if !gates_unready.is_empty() => Some((
            "ReadinessGatesNotReady",
            format!(
                "corresponding condition of pod readiness gate \"{}\" does not exist.",
                gates_unready.join("\", \"")
            ),
        )),
        None => None,
    };
    conditions.push(condition(
        "Ready",
        containers_ready && gates_unready.is_empty(),
        ready_reason,
    ));
    conditions.push(condition("ContainersReady", containers_ready, not_ready));

    // Keep transition times of unchanged conditions; keep others' conditions.
    let old: Vec<Value> = current
        .conditions
        .iter()
        .flatten()
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .collect();
    let now = json!(format_timestamp(input.now));
    let ours = [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
    ];
    for c in conditions.iter_mut() {
        let prior = old.iter().find(|o| o["type"] == c["type"]);
        c["lastTransitionTime"] = match prior {
            Some(p) if p["status"] == c["status"] => p["lastTransitionTime"].clone(),
            _ => now.clone(),
        };
    }
    match old.iter().find(|o| o["type"] == "PodScheduled") {
        Some(p) => conditions.push(p.clone()),
        None => conditions
            .push(json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now})),
    }
    conditions.extend(
        old.iter()
            .filter(|o| {
                let t = o["type"].as_str().unwrap_or("");
                !ours.contains(&t) && t != "PodScheduled"
            })
            .cloned(),
    );

    // A hostNetwork pod's IP is its node's.
    let pod_ip = match spec.host_network {
        Some(true) => Some(input.host_ip.to_string()),
        _ => sandbox.and_then(|s| s.ip.clone()),
    }
    .or(current.pod_ip.clone());
    let mut status = Map::new();
    status.insert("phase".into(), json!(phase));
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("hostIP".into(), json!(input.host_ip));
    status.insert("hostIPs".into(), json!([{"ip": input.host_ip}]));
    if let Some(ip) = pod_ip {
        status.insert("podIP".into(), json!(ip));
        status.insert("podIPs".into(), json!([{"ip": ip}]));
    }
    status.insert(
        "startTime".into(),
        current
            .start_time
            .map(|t| json!(format_timestamp(t.0)))
            .unwrap_or_else(|| json!(format_timestamp(input.start_time))),
    );
    if !inits.is_empty() {
        status.insert("initContainerStatuses".into(), Value::Array(init_statuses));
    }
    status.insert("containerStatuses".into(), Value::Array(statuses));
    // Ephemeral containers are never ready (they serve nothing); started
    // says whether one runs.
    let ephemeral: Vec<Value> = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|e| {
            let c = crate::sync::ephemeral_as_container(e);
            let mut s = container_status(input, &c, false, app_default);
            s["ready"] = json!(false);
            s["started"] = json!(instances(input.records, &c.name)
                .first()
                .is_some_and(|r| r.running()));
            s
        })
        .collect();
    if !ephemeral.is_empty() {
        status.insert("ephemeralContainerStatuses".into(), Value::Array(ephemeral));
    }
    status
}

fn condition(type_: &str, ok: bool, reason: Option<(&str, String)>) -> Value {
    let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" }});
    if let Some((reason, message)) = reason {
        c["reason"] = json!(reason);
        if !message.is_empty() {
            c["message"] = json!(message);
        }
    }
    c
}

/// kubelet's `getPhase` over the app containers' statuses. A `terminal` pod
/// (deleted, containers stopped) is not restarted whatever its policy.
fn phase_of(statuses: &[Value], sidecars: &[&Value], policy: &str, terminal: bool) -> String {
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    // A running sidecar keeps the pod Running and one never run yet keeps
    // it Pending; one that has exited does not count: the pod's outcome is
    // its regular containers'.
    for s in sidecars {
        if s.pointer("/state/running").is_some() {
            running += 1;
        } else if s.pointer("/state/waiting").is_some()
            && s.pointer("/lastState/terminated").is_none()
        {
            waiting += 1;
        }
    }
    for s in statuses {
        if s.pointer("/state/running").is_some() {
            running += 1;
        } else if let Some(t) = s.pointer("/state/terminated") {
            stopped += 1;
            if t["exitCode"] == json!(0) {
                succeeded += 1;
            }
        } else if s.pointer("/lastState/terminated").is_some() {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    let phase = if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if terminal {
            if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            }
        } else if policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    };
    phase.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{PodRef, RunState};

    fn record(name: &str, state: RunState, exit: i64, restarts: i32, age: i64) -> ContainerRecord {
        let t = Timestamp::from_second(1_700_000_000 + age).unwrap();
        ContainerRecord {
            id: format!("{name}-{restarts}"),
            pod: PodRef {
                uid: "u".into(),
                namespace: "ns".into(),
                name: "p".into(),
            },
            name: name.into(),
            sandbox: name == "POD",
            restart_count: restarts,
            hash: String::new(),
            image: "busybox".into(),
            image_id: "docker://sha256:1".into(),
            state,
            created_at: t,
            started_at: Some(t),
            finished_at: (state == RunState::Exited).then_some(t),
            exit_code: exit,
            oom_killed: false,
            error: String::new(),
            message: String::new(),
            ip: (name == "POD").then(|| "10.244.0.9".to_string()),
        }
    }

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec}),
        )
        .unwrap()
    }

    fn compute_for(
        pod: &Pod,
        records: &[ContainerRecord],
        waiting: &Waiting,
    ) -> Map<String, Value> {
        let prober = Prober::default();
        compute(&Input {
            pod,
            records,
            waiting,
            prober: &prober,
            host_ip: "10.244.0.1",
            scheme: "docker",
            start_time: Timestamp::from_second(1_700_000_000).unwrap(),
            terminal: false,
            now: Timestamp::from_second(1_700_000_100).unwrap(),
        })
    }

    #[test]
    fn running_pod_is_ready_with_ips() {
        let p = pod(json!({"containers": [{"name": "web", "image": "minik/web:v1"}]}));
        let records = vec![
            record("web", RunState::Running, 0, 0, 2),
            record("POD", RunState::Running, 0, 0, 1),
        ];
        let s = compute_for(&p, &records, &Waiting::new());
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], "10.244.0.9");
        assert_eq!(s["hostIPs"], json!([{"ip": "10.244.0.1"}]));
        let ready = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert_eq!(s["containerStatuses"][0]["containerID"], "docker://web-0");
        assert_eq!(s["containerStatuses"][0]["started"], true);
    }

    #[test]
    fn crash_loop_shows_waiting_with_last_termination() {
        let p = pod(json!({"containers": [{"name": "c", "image": "busybox"}]}));
        let records = vec![
            record("c", RunState::Exited, 1, 3, 5),
            record("c", RunState::Exited, 1, 2, 4),
            record("POD", RunState::Running, 0, 0, 1),
        ];
        let waiting = Waiting::from([(
            "c".to_string(),
            ("CrashLoopBackOff".to_string(), "back-off 40s".to_string()),
        )]);
        let s = compute_for(&p, &records, &waiting);
        let c = &s["containerStatuses"][0];
        assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(c["lastState"]["terminated"]["reason"], "Error");
        assert_eq!(c["restartCount"], 3);
        assert_eq!(s["phase"], "Running");
    }

    #[test]
    fn init_containers_gate_the_app_and_fail_under_never() {
        let spec = json!({"restartPolicy": "Never", "initContainers": [{"name": "i1", "image": "b"}, {"name": "i2", "image": "b"}], "containers": [{"name": "c", "image": "b"}]});
        let p = pod(spec);
        let records = vec![
            record("i1", RunState::Exited, 0, 0, 2),
            record("i2", RunState::Running, 0, 0, 3),
            record("POD", RunState::Running, 0, 0, 1),
        ];
        let s = compute_for(&p, &records, &Waiting::new());
        assert_eq!(s["phase"], "Pending");
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        let init = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Initialized")
            .unwrap();
        assert_eq!(init["message"], "containers with incomplete status: [i2]");

        let records = vec![
            record("i1", RunState::Exited, 0, 0, 2),
            record("i2", RunState::Exited, 2, 0, 3),
            record("POD", RunState::Running, 0, 0, 1),
        ];
        assert_eq!(
            compute_for(&p, &records, &Waiting::new())["phase"],
            "Failed"
        );
    }

    #[test]
    fn run_to_completion_phases_follow_restart_policy() {
        let statuses = |code: i64| vec![json!({"state": {"terminated": {"exitCode": code}}})];
        assert_eq!(phase_of(&statuses(0), &[], "Never", false), "Succeeded");
        assert_eq!(phase_of(&statuses(1), &[], "Never", false), "Failed");
        assert_eq!(phase_of(&statuses(1), &[], "OnFailure", false), "Running");
        assert_eq!(phase_of(&statuses(0), &[], "OnFailure", false), "Succeeded");
        assert_eq!(phase_of(&statuses(0), &[], "Always", false), "Running");
        // Deleted and stopped: terminal whatever the policy.
        assert_eq!(phase_of(&statuses(0), &[], "Always", true), "Succeeded");
        assert_eq!(phase_of(&statuses(1), &[], "Always", true), "Failed");
    }
}
