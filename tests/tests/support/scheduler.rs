//! Helpers for the scheduler tests: run minik-scheduler in-process (with
//! shortened backoff: 200 ms doubling to 1 s), register nodes the way a
//! kubelet does (the Node, then `nodes/status` with capacity, allocatable
//! and a Ready condition), build pods, and wait — through watches — for a
//! pod to be bound or for an Event about it.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::{json, Value};

/// How long any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// The scheduler running in the background, stopped when dropped.
pub struct RunningScheduler(tokio::task::JoinHandle<()>);

impl Drop for RunningScheduler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn start_scheduler(client: &kube::Client) -> RunningScheduler {
    let mut config = minik_scheduler::Config::new(client.clone());
    config.queue.pod_initial_backoff = Duration::from_millis(200);
    config.queue.pod_max_backoff = Duration::from_secs(1);
    RunningScheduler(tokio::spawn(async move {
        let result = minik_scheduler::run(config).await;
        panic!("the scheduler stopped: {result:?}");
    }))
}

/// A node to register: 4 GiB of memory and 110 pods unless changed.
pub struct NodeBuilder {
    name: String,
    cpu: String,
    memory: String,
    pods: String,
    labels: Value,
    spec: Value,
    ready: &'static str,
}

pub fn node(name: &str, cpu: &str) -> NodeBuilder {
    NodeBuilder {
        name: name.to_string(),
        cpu: cpu.to_string(),
        memory: "4Gi".to_string(),
        pods: "110".to_string(),
        labels: json!({"kubernetes.io/hostname": name}),
        spec: json!({}),
        ready: "True",
    }
}

impl NodeBuilder {
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels[key] = json!(value);
        self
    }

    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let mut taints = self.spec["taints"].as_array().cloned().unwrap_or_default();
        taints.push(json!({"key": key, "value": value, "effect": effect}));
        self.spec["taints"] = json!(taints);
        self
    }

    pub fn cordoned(mut self) -> Self {
        self.spec["unschedulable"] = json!(true);
        self
    }

    pub fn ready(mut self, status: &'static str) -> Self {
        self.ready = status;
        self
    }

    pub fn memory(mut self, memory: &str) -> Self {
        self.memory = memory.to_string();
        self
    }

    /// Creates the Node, then reports its status through `nodes/status`.
    pub async fn create(self, client: &kube::Client) -> Node {
        let nodes: Api<Node> = Api::all(client.clone());
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": self.name, "labels": self.labels},
            "spec": self.spec,
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        let resources = json!({"cpu": self.cpu, "memory": self.memory, "pods": self.pods});
        let status = json!({"status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": self.ready, "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
        }});
        nodes
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap()
    }
}

/// A busybox pod requesting `cpu` (if any) and 1Mi of memory, with
/// `extra` merged into its spec (and `extra.metadata` into its metadata).
pub fn pod(name: &str, cpu: Option<&str>, extra: Value) -> Pod {
    let mut requests = json!({"memory": "1Mi"});
    if let Some(cpu) = cpu {
        requests["cpu"] = json!(cpu);
    }
    let mut p = json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.35",
                                 "resources": {"requests": requests}}]},
    });
    let mut extra = extra;
    if let Some(meta) = extra.as_object_mut().and_then(|o| o.remove("metadata")) {
        merge(&mut p["metadata"], meta);
    }
    merge(&mut p["spec"], extra);
    serde_json::from_value(p).unwrap()
}

/// The metadata that makes a pod one of `owner`'s (a ReplicaSet's) pods.
pub fn owned_by(owner_uid: &str) -> Value {
    json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": format!("rs-{owner_uid}"), "uid": owner_uid, "controller": true}]})
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

pub async fn create(pods: &Api<Pod>, pod: &Pod) -> Pod {
    pods.create(&PostParams::default(), pod).await.unwrap()
}

/// Waits (watching the pod) until it is bound; returns its node.
pub async fn wait_bound(pods: &Api<Pod>, name: &str) -> String {
    let bound = |p: Option<&Pod>| p.is_some_and(|p| node_of(p).is_some());
    let pod = tokio::time::timeout(WAIT, await_condition(pods.clone(), name, bound))
        .await
        .unwrap_or_else(|_| panic!("pod {name} was not bound within {WAIT:?}"))
        .unwrap()
        .unwrap();
    node_of(&pod).unwrap()
}

pub fn node_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref().and_then(|s| s.node_name.clone())
}

/// Waits (watching events.k8s.io Events) for an Event about pod `name`
/// with `reason` whose note satisfies `note_ok`.
pub async fn wait_event(
    client: &kube::Client,
    ns: &str,
    name: &str,
    reason: &str,
    note_ok: impl Fn(&str) -> bool,
) -> Event {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let stream = watcher(events, watcher::Config::default()).applied_objects();
    let found = stream.try_filter(|e| {
        let about = e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name);
        let ok = about
            && e.reason.as_deref() == Some(reason)
            && note_ok(e.note.as_deref().unwrap_or_default());
        std::future::ready(ok)
    });
    let mut found = std::pin::pin!(found);
    tokio::time::timeout(WAIT, found.next())
        .await
        .unwrap_or_else(|_| panic!("no {reason} event about {name} within {WAIT:?}"))
        .unwrap()
        .unwrap()
}

/// The pod's PodScheduled condition as (status, reason, message).
pub fn pod_scheduled(pod: &Pod) -> Option<(String, String, String)> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")?;
    Some((
        c.status.clone(),
        c.reason.clone().unwrap_or_default(),
        c.message.clone().unwrap_or_default(),
    ))
}

/// Waits (watching the pod) until its PodScheduled condition has `status`,
/// `reason` and `message`.
pub async fn wait_pod_scheduled(
    pods: &Api<Pod>,
    name: &str,
    status: &str,
    reason: &str,
    message: &str,
) {
    let want = (status.to_string(), reason.to_string(), message.to_string());
    let cond = move |p: Option<&Pod>| p.and_then(pod_scheduled).as_ref() == Some(&want);
    tokio::time::timeout(WAIT, await_condition(pods.clone(), name, cond))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "pod {name} never got PodScheduled={status} ({reason}: {message}) within {WAIT:?}"
            )
        })
        .unwrap();
}
