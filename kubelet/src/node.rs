//! The Node object: registration and status, as kubelet's node status
//! manager keeps them.
//!
//! - Registration creates the Node (or takes over an existing one of the
//!   same name) with the well-known labels (`kubernetes.io/hostname`,
//!   `kubernetes.io/os`, `kubernetes.io/arch` and their beta forms).
//! - Status: capacity and allocatable (cpu, memory from the host — or the
//!   flags —, pods 110), addresses (InternalIP = the pod network's gateway,
//!   the host side shared by all minik nodes; Hostname), nodeInfo,
//!   `daemonEndpoints.kubeletEndpoint.Port` (where the API server proxies
//!   logs and exec), and the conditions Ready plus Memory/Disk/PID pressure.
//! - The Node is watched: when its status differs from what this kubelet
//!   would report (say the node lifecycle controller marked it Unknown while
//!   the kubelet was away), the kubelet writes its status again. It also
//!   re-checks every `node_status_update_frequency` and writes at least
//!   every `node_status_report_frequency` (heartbeat times).
//!
//! - Events about the Node, in kubelet's words: on start (Docker nodes;
//!   a simulated process of many nodes would post thousands) `Starting`,
//!   `NodeAllocatableEnforced`, the three pressure conditions and
//!   `NodeReady`; on a cordon or uncordon, `NodeNotSchedulable` /
//!   `NodeSchedulable`.
//!
//! Simplified: the pressure conditions are always False (no eviction
//! manager), and allocatable equals capacity (no reservations).

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Resource;
use minik_api::meta::format_timestamp;
use minik_client::errors;
use minik_client::events::EventType;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::context::Kubelet;
use crate::node_watch;
use crate::Error;

pub const KUBELET_VERSION: &str = "v1.33.0-minik";

/// `amd64`/`arm64`, as Go names architectures.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The well-known labels, then `--node-labels` (which may not override them).
fn labels(name: &str, extra: &std::collections::BTreeMap<String, String>) -> Value {
    let mut labels = json!({
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": go_arch(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": go_arch(),
    });
    for (k, v) in extra {
        if labels.get(k).is_none() {
            labels[k] = json!(v);
        }
    }
    labels
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn format_cpu(millis: i64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Facts about the node that do not change while the kubelet runs.
pub struct NodeFacts {
    pub runtime_version: String,
    pub kubelet_port: u16,
    /// The host's, read once for every node of the process.
    pub host: Arc<HostInfo>,
}

/// What `nodeInfo` reports of the machine: the same for every node of a
/// process, and read once (the status is computed every
/// `node_status_update_frequency` for each of up to a thousand nodes).
#[derive(Debug)]
pub struct HostInfo {
    machine_id: String,
    boot_id: String,
    kernel_version: String,
    os_image: String,
}

impl HostInfo {
    /// This machine's ids, kernel and OS name.
    pub fn read() -> Self {
        Self {
            machine_id: read_trimmed("/etc/machine-id"),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
            os_image: os_image(),
        }
    }
}

/// The status this kubelet reports, heartbeat times set to `now`;
/// transition times are kept from `current` when a condition did not flip.
pub fn desired_status(k: &Kubelet, facts: &NodeFacts, current: Option<&Node>) -> Value {
    let now = json!(format_timestamp(jiff::Timestamp::now()));
    let resources = json!({
        "cpu": format_cpu(k.capacity.cpu_millis),
        "memory": format!("{}Ki", k.capacity.memory_bytes / 1024),
        "pods": k.capacity.pods.to_string(),
    });
    let old: Vec<Value> = current
        .and_then(|n| n.status.as_ref())
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .collect();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        let transition = old
            .iter()
            .find(|o| o["type"] == type_ && o["status"] == status)
            .map(|o| o["lastTransitionTime"].clone())
            .unwrap_or_else(|| now.clone());
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": transition,
        })
    };
    let host = &facts.host;
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": k.node_ip},
            {"type": "Hostname", "address": k.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": facts.kubelet_port}},
        "nodeInfo": {
            "machineID": host.machine_id,
            "systemUUID": host.machine_id,
            "bootID": host.boot_id,
            "kernelVersion": host.kernel_version,
            "osImage": host.os_image,
            "containerRuntimeVersion": facts.runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
    })
}

/// The fields this kubelet reports, without heartbeat times, for "did
/// anything change?".
fn comparable(status: &Value, keys: &Value) -> Value {
    let mut s = json!({});
    for key in keys.as_object().into_iter().flat_map(|o| o.keys()) {
        s[key] = status.get(key).cloned().unwrap_or(Value::Null);
    }
    for c in s["conditions"].as_array_mut().into_iter().flatten() {
        if let Some(o) = c.as_object_mut() {
            o.remove("lastHeartbeatTime");
        }
    }
    s
}

/// Creates the Node with its status, as kubelet registers (its initial
/// Node carries the whole status), or adopts an existing one (after a
/// restart) and writes its status. Returns the Node as registered (its uid
/// owns the Lease; the status loop starts from it).
pub async fn register(k: &Kubelet, facts: &NodeFacts) -> Result<Node, Error> {
    let api: Api<Node> = Api::all(k.client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": k.node_name,
            "labels": labels(&k.node_name, &k.config.node_labels),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": desired_status(k, facts, None),
    }))
    .expect("valid Node");
    match api.create(&PostParams::default(), &node).await {
        Ok(created) => Ok(created),
        Err(e) if errors::is_already_exists(&e) => {
            let patch =
                json!({"metadata": {"labels": labels(&k.node_name, &k.config.node_labels)}});
            let current = api
                .patch(&k.node_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            write_status(&api, k, desired_status(k, facts, Some(&current))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What kubelet records about its Node as it starts (Docker nodes only).
pub fn record_start(k: &Kubelet, node: &Node) {
    if k.config.runtime != crate::RuntimeKind::Docker {
        return;
    }
    let name = &k.node_name;
    let status_is = |s: &str| format!("Node {name} status is now: {s}");
    for (reason, note) in [
        ("Starting", "Starting kubelet.".to_string()),
        (
            "NodeAllocatableEnforced",
            "Updated Node Allocatable limit across pods".to_string(),
        ),
        (
            "NodeHasSufficientMemory",
            status_is("NodeHasSufficientMemory"),
        ),
        ("NodeHasNoDiskPressure", status_is("NodeHasNoDiskPressure")),
        ("NodeHasSufficientPID", status_is("NodeHasSufficientPID")),
        ("NodeReady", status_is("NodeReady")),
    ] {
        k.recorder
            .spawn_publish(node.object_ref(&()), EventType::Normal, reason.into(), note);
    }
}

async fn write_status(api: &Api<Node>, k: &Kubelet, status: Value) -> Result<Node, Error> {
    let patch = json!({"status": status});
    Ok(api
        .patch_status(&k.node_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// The Node annotation that stops this node's kubelet while it is
/// `"true"` — minik's own switch for the classroom's "lose a node" (the
/// dashboard's stop control, or `kubectl annotate node NAME
/// kubelet.minik.io/stopped=true`): the kubelet stops renewing its Lease,
/// reporting status and syncing pods, as a frozen or unplugged machine
/// would, so the node lifecycle controller marks it unreachable and evicts
/// its pods; with the annotation gone it resumes. Its containers keep
/// running (on Docker, like a network partition), and its HTTP server
/// (logs, exec) still answers.
pub const STOPPED_ANNOTATION: &str = "kubelet.minik.io/stopped";

/// Follows the Node's stop switch (logging when it flips).
fn follow_stop_switch(k: &Kubelet, node: Option<&Node>) {
    let stopped = node
        .and_then(|n| n.metadata.annotations.as_ref())
        .and_then(|a| a.get(STOPPED_ANNOTATION))
        .is_some_and(|v| v == "true");
    let changed = k
        .stopped
        .send_if_modified(|s| std::mem::replace(s, stopped) != stopped);
    if changed {
        tracing::warn!(node = %k.node_name, stopped, "node stop switch {}", if stopped { "on: no heartbeats, status or pod syncs" } else { "off: resuming" });
    }
}

/// Keeps the Node's status true (hearing of its changes through
/// [`node_watch`]), until aborted; `registered` is the Node as
/// registration left it.
pub async fn run(
    k: Arc<Kubelet>,
    facts: NodeFacts,
    registered: Arc<Node>,
    mut nodes: mpsc::UnboundedReceiver<node_watch::Event<Node>>,
) {
    let api: Api<Node> = Api::all(k.client.clone());
    let mut ticker = tokio::time::interval(k.config.node_status_update_frequency);
    let mut current: Option<Arc<Node>> = Some(registered);
    let mut last_report = Instant::now();
    // kubelet's `lastNodeUnschedulable`: a cordon or uncordon is an Event.
    let mut unschedulable = false;
    loop {
        tokio::select! {
            event = nodes.recv() => match event {
                Some(node_watch::Event::Changed(n)) => current = Some(n),
                Some(node_watch::Event::Deleted(_)) => current = None,
                Some(node_watch::Event::Listed(mut listed)) => current = listed.pop(),
                None => return,
            },
            _ = ticker.tick() => {}
        }
        follow_stop_switch(&k, current.as_deref());
        if *k.stopped.borrow() {
            continue;
        }
        if let Some(node) = current.as_deref() {
            let now = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
            if now != unschedulable {
                unschedulable = now;
                let state = if now {
                    "NodeNotSchedulable"
                } else {
                    "NodeSchedulable"
                };
                let note = format!("Node {} status is now: {state}", k.node_name);
                k.recorder.spawn_publish(
                    node.object_ref(&()),
                    EventType::Normal,
                    state.into(),
                    note,
                );
            }
        }
        let desired = desired_status(&k, &facts, current.as_deref());
        let reported = current
            .as_ref()
            .and_then(|n| n.status.as_ref())
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        let changed =
            reported.map(|r| comparable(&r, &desired)) != Some(comparable(&desired, &desired));
        let due = last_report.elapsed() >= k.config.node_status_report_frequency;
        if !changed && !due {
            continue;
        }
        // The requests are boxed: their futures are large, and this loop's
        // task is allocated at its future's full size for the node's life.
        let result = if current.is_none() {
            // Not in the watch's cache: deleted (e.g. by a student), or a
            // list older than the registration. Asked first, then
            // registered again if gone, as kubelet does.
            match Box::pin(api.get_opt(&k.node_name)).await {
                Ok(Some(node)) => {
                    current = Some(Arc::new(node));
                    continue;
                }
                Ok(None) => Box::pin(register(&k, &facts)).await.map(drop),
                Err(e) => Err(e.into()),
            }
        } else {
            Box::pin(write_status(&api, &k, desired)).await.map(drop)
        };
        match result {
            Ok(()) => last_report = Instant::now(),
            Err(e) => tracing::warn!(node = %k.node_name, error = %e, "cannot update node status"),
        }
    }
}

#[cfg(test)]
mod tests {
    fn future_size4<A, B, C, D, F: std::future::Future>(_: fn(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    fn future_size1<A, F: std::future::Future>(_: fn(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn a_nodes_loops_stay_small() {
        // Each simulated node runs both for its whole life, and a task is
        // allocated at its future's full size: the requests they await are
        // boxed, and the registered Node comes in an Arc (10,320 and 3,904
        // bytes before: 14 MB for a thousand nodes). The sizes are this
        // compiler's in the test profile; the bounds leave room.
        let status = future_size4(super::run);
        assert!(status <= 2560, "the status loop's future is {status} bytes");
        let lease = future_size1(crate::lease::run);
        assert!(lease <= 256, "the Lease loop's future is {lease} bytes");
    }
}
