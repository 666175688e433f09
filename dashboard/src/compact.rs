//! What the page needs of each object: a handful of fields under short,
//! stable names, so a snapshot of 10,000 pods stays a few megabytes and a
//! change is a line. Every compact object has `k` (its kind, in the page's
//! words: `pod`, `node`, `deploy`, `rs`, `svc`, `slice`, `ev`) and `id`
//! (`namespace/name`, or the name of a cluster-scoped object).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use minik_api::quantity::Quantity;
use serde_json::{json, Value};

use crate::pod_summary::PodSummary;

/// `namespace/name`, or the name of a cluster-scoped object.
pub fn id<K: ResourceExt>(o: &K) -> String {
    match o.namespace() {
        Some(ns) => format!("{ns}/{}", o.name_any()),
        None => o.name_any(),
    }
}

/// The controller owner as `Kind/name`, or `""`.
fn owner<K: ResourceExt>(o: &K) -> String {
    o.owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| format!("{}/{}", r.kind, r.name))
        .unwrap_or_default()
}

fn millis(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> i64 {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .map_or(0, |q| q.millis())
}

fn value(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> i64 {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .map_or(0, |q| q.value())
}

fn revision<K: ResourceExt>(o: &K) -> String {
    o.annotations()
        .get("deployment.kubernetes.io/revision")
        .cloned()
        .unwrap_or_default()
}

pub fn pod(p: &PodSummary) -> Value {
    let (spec, status) = (&p.spec, &p.status);
    let (mut cpu, mut mem) = (0, 0);
    for c in &spec.containers {
        let requests = c.resources.requests.as_ref();
        cpu += millis(requests.and_then(|r| r.get("cpu")));
        mem += value(requests.and_then(|r| r.get("memory")));
    }
    let restarts: i32 = status
        .container_statuses
        .iter()
        .map(|c| c.restart_count)
        .sum();
    // Why a container is not running, when it is waiting or ended (CrashLoopBackOff, OOMKilled).
    let trouble = status
        .container_statuses
        .iter()
        .find_map(|c| {
            let st = c.state.as_ref()?;
            st.waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .or_else(|| st.terminated.as_ref().and_then(|t| t.reason.clone()))
        })
        .unwrap_or_default();
    json!({
        "k": "pod",
        "id": id(p),
        "ns": p.namespace().unwrap_or_default(),
        "name": p.name_any(),
        "node": spec.node_name.clone().unwrap_or_default(),
        "phase": status.phase.clone().unwrap_or_else(|| "Pending".into()),
        "ready": p.ready(),
        "deleting": p.metadata.deletion_timestamp.is_some(),
        "owner": owner(p),
        "restarts": restarts,
        "trouble": trouble,
        "image": spec.containers.first().and_then(|c| c.image.clone()).unwrap_or_default(),
        "ip": status.pod_ip.clone().unwrap_or_default(),
        "cpu": cpu,
        "mem": mem,
        // The claims its volumes use (the graph's Pod → PVC edges).
        "claims": spec
            .volumes
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.clone())
            .collect::<Vec<_>>(),
    })
}

pub fn node(n: &Node) -> Value {
    let status = n.status.as_ref();
    let alloc = status.and_then(|s| s.allocatable.as_ref());
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    json!({
        "k": "node",
        "id": id(n),
        "name": n.name_any(),
        "ready": ready,
        "unschedulable": n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
        // Its kubelet silenced by the stop control (`kubelet.minik.io/stopped`).
        "stopped": n.annotations().get("kubelet.minik.io/stopped").is_some_and(|v| v == "true"),
        "cpu": millis(alloc.and_then(|a| a.get("cpu"))),
        "mem": value(alloc.and_then(|a| a.get("memory"))),
        "pods": value(alloc.and_then(|a| a.get("pods"))),
        "zone": n.labels().get("topology.kubernetes.io/zone").cloned().unwrap_or_default(),
    })
}

pub fn deployment(d: &Deployment) -> Value {
    let spec = d.spec.as_ref();
    let status = d.status.as_ref();
    let containers = spec
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    json!({
        "k": "deploy",
        "id": id(d),
        "ns": d.namespace().unwrap_or_default(),
        "name": d.name_any(),
        "replicas": spec.and_then(|s| s.replicas).unwrap_or(1),
        "ready": status.and_then(|s| s.ready_replicas).unwrap_or(0),
        "updated": status.and_then(|s| s.updated_replicas).unwrap_or(0),
        "containers": containers.iter().map(|c| json!({"name": c.name, "image": c.image})).collect::<Vec<_>>(),
        "revision": revision(d),
        "paused": spec.and_then(|s| s.paused).unwrap_or(false),
    })
}

pub fn replica_set(rs: &ReplicaSet) -> Value {
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    json!({
        "k": "rs",
        "id": id(rs),
        "ns": rs.namespace().unwrap_or_default(),
        "name": rs.name_any(),
        "owner": owner(rs),
        "desired": spec.and_then(|s| s.replicas).unwrap_or(1),
        "replicas": status.map_or(0, |s| s.replicas),
        "ready": status.and_then(|s| s.ready_replicas).unwrap_or(0),
        "revision": revision(rs),
        "image": spec
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
    })
}

pub fn stateful_set(s: &StatefulSet) -> Value {
    let spec = s.spec.as_ref();
    let status = s.status.as_ref();
    json!({
        "k": "sts",
        "id": id(s),
        "ns": s.namespace().unwrap_or_default(),
        "name": s.name_any(),
        "replicas": spec.and_then(|s| s.replicas).unwrap_or(1),
        "ready": status.and_then(|s| s.ready_replicas).unwrap_or(0),
        "service": spec.and_then(|s| s.service_name.clone()).unwrap_or_default(),
    })
}

/// A PersistentVolumeClaim: bound or not, to which volume, how big.
pub fn claim(c: &PersistentVolumeClaim) -> Value {
    let spec = c.spec.as_ref();
    let status = c.status.as_ref();
    json!({
        "k": "pvc",
        "id": id(c),
        "ns": c.namespace().unwrap_or_default(),
        "name": c.name_any(),
        "phase": status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()),
        "volume": spec.and_then(|s| s.volume_name.clone()).unwrap_or_default(),
        "size": status
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_default(),
    })
}

pub fn service(s: &Service) -> Value {
    let spec = s.spec.as_ref();
    json!({
        "k": "svc",
        "id": id(s),
        "ns": s.namespace().unwrap_or_default(),
        "name": s.name_any(),
        "type": spec.and_then(|s| s.type_.clone()).unwrap_or_else(|| "ClusterIP".into()),
        "clusterIP": spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default(),
        "selector": spec.and_then(|s| s.selector.clone()).unwrap_or_default(),
    })
}

/// An EndpointSlice as its Service's ready and not-ready pods.
pub fn slice(s: &EndpointSlice) -> Value {
    let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
    for e in &s.endpoints {
        let pod = e
            .target_ref
            .as_ref()
            .and_then(|t| t.name.clone())
            .unwrap_or_else(|| e.addresses.join(","));
        let is_ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        if is_ready {
            ready.push(pod);
        } else {
            not_ready.push(pod);
        }
    }
    json!({
        "k": "slice",
        "id": id(s),
        "ns": s.namespace().unwrap_or_default(),
        "service": s.labels().get("kubernetes.io/service-name").cloned().unwrap_or_default(),
        "ready": ready,
        "notReady": not_ready,
    })
}

fn reference(r: Option<&k8s_openapi::api::core::v1::ObjectReference>) -> Value {
    match r {
        Some(r) => json!({
            "kind": r.kind.clone().unwrap_or_default(),
            "ns": r.namespace.clone().unwrap_or_default(),
            "name": r.name.clone().unwrap_or_default(),
        }),
        None => Value::Null,
    }
}

/// An events.k8s.io Event: the decision (reason, note), who made it, what
/// it was about (`regarding`) and what caused it (`related`).
pub fn event(e: &Event) -> Value {
    let raw = serde_json::to_value(e).unwrap_or(Value::Null);
    // The latest occurrence, to the microsecond where the Event has it (the
    // feed is ordered by it).
    let time = ["/series/lastObservedTime", "/eventTime"]
        .iter()
        .filter_map(|p| raw.pointer(p).and_then(Value::as_str))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| minik_client::why::event_time(&raw));
    json!({
        "k": "ev",
        "id": id(e),
        "ns": e.namespace().unwrap_or_default(),
        "time": time,
        "type": e.type_.clone().unwrap_or_default(),
        "reason": e.reason.clone().unwrap_or_default(),
        "note": e.note.clone().unwrap_or_default(),
        "action": e.action.clone().unwrap_or_default(),
        "by": e.reporting_controller.clone()
            .or_else(|| e.deprecated_source.as_ref().and_then(|s| s.component.clone()))
            .unwrap_or_default(),
        "count": e.series.as_ref().map(|s| s.count).or(e.deprecated_count).unwrap_or(1),
        "regarding": reference(e.regarding.as_ref()),
        "related": reference(e.related.as_ref()),
    })
}
