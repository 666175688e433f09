//! What a pod asks of a node: resource requests, host ports, its owner and
//! priority, computed once per pod and then only added and subtracted.
//!
//! Mirrors kube-scheduler's `framework.Resource`/`calculateResource` and
//! `resourcehelper.PodRequests`: the effective request of a pod is the sum
//! of its containers' requests, raised to the largest init container
//! (init containers run one at a time before the others), with restartable
//! init containers ("sidecars", `restartPolicy: Always`) added to both, plus
//! `spec.overhead`. Scoring uses the "non-zero" variant, where a container
//! that requests no CPU or memory counts as 100m / 200Mi, so that empty pods
//! still spread.
//!
//! Simplified on purpose: pod-level `spec.resources` and in-place resize
//! (requests taken from `status.containerStatuses[].allocatedResources`) are
//! not considered.

use std::collections::BTreeMap;

use std::sync::Arc;

use crate::inter_pod_affinity::PlacedPod;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// CPU a container without a CPU request is assumed to use when scoring.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory a container without a memory request is assumed to use when scoring (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of every resource the scheduler accounts for. Extended
/// resources (`example.com/dongle`) and hugepages are "scalar" resources,
/// kept in a short sorted list because almost no pod has any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    /// Reads a `ResourceList` (`requests`, `allocatable`, `overhead`).
    /// Unparseable quantities count as zero: the API server has validated them.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            let Ok(q) = minik_api::quantity::parse(&q.0) else {
                continue;
            };
            match name.as_str() {
                "cpu" => r.milli_cpu = q.millis(),
                "memory" => r.memory = q.value(),
                "ephemeral-storage" => r.ephemeral_storage = q.value(),
                other if is_scalar_resource(other) => r.set_scalar(other, q.value()),
                _ => {}
            }
        }
        r
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map_or(0, |i| self.scalar[i].1)
    }

    fn set_scalar(&mut self, name: &str, value: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = value,
            Err(i) => self.scalar.insert(i, (name.to_string(), value)),
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.combine(other, |a, b| a + b);
    }

    pub fn sub(&mut self, other: &Resources) {
        self.combine(other, |a, b| a - b);
    }

    /// Raises every resource to at least `other`'s amount.
    pub fn max_with(&mut self, other: &Resources) {
        self.combine(other, i64::max);
    }

    fn combine(&mut self, other: &Resources, f: impl Fn(i64, i64) -> i64) {
        self.milli_cpu = f(self.milli_cpu, other.milli_cpu);
        self.memory = f(self.memory, other.memory);
        self.ephemeral_storage = f(self.ephemeral_storage, other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let mine = self.scalar(name);
            self.set_scalar(name, f(mine, *v));
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

/// Extended resources (a domain-prefixed name outside `kubernetes.io/`),
/// hugepages and attachable volumes, as `schedutil.IsScalarResourceName`.
fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("requests."))
}

/// One `hostPort` a pod's container binds on its node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// `hostIP`, `0.0.0.0` when unset (every address).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP` (TCP when unset).
    pub protocol: String,
    pub port: i32,
}

/// Address meaning "every address of the node" (kube's `DefaultBindAllHostIP`).
pub const BIND_ALL: &str = "0.0.0.0";

/// Everything the scheduler cache adds to a node when a pod lands on it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodUsage {
    /// Effective requests (what NodeResourcesFit checks).
    pub requests: Resources,
    /// Requests with 100m / 200Mi for containers that ask for nothing (scoring).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    /// UID of the controller ownerReference (e.g. the ReplicaSet), for spreading.
    pub owner: Option<String>,
    /// A pod being deleted still uses its node but no longer counts for spreading.
    pub terminating: bool,
    /// Its namespace, labels and required anti-affinity, for other pods'
    /// inter-pod (anti-)affinity.
    pub placed: Arc<PlacedPod>,
}

impl PodUsage {
    pub fn of(pod: &Pod) -> PodUsage {
        let spec = pod.spec.as_ref();
        let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
        let init = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default();
        let overhead = Resources::from_list(spec.and_then(|s| s.overhead.as_ref()));

        let mut requests = pod_requests(containers, init, false);
        requests.add(&overhead);
        let mut non_zero = pod_requests(containers, init, true);
        non_zero.add(&overhead);

        let host_ports = containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|hp| *hp > 0)?;
                Some(HostPort {
                    ip: p
                        .host_ip
                        .clone()
                        .filter(|ip| !ip.is_empty())
                        .unwrap_or_else(|| BIND_ALL.to_string()),
                    protocol: p
                        .protocol
                        .clone()
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| "TCP".to_string()),
                    port,
                })
            })
            .collect();

        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
            .map(|r| r.uid.clone());

        PodUsage {
            requests,
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            host_ports,
            owner,
            terminating: pod.metadata.deletion_timestamp.is_some(),
            placed: Arc::new(PlacedPod::of(pod)),
        }
    }
}

/// `resourcehelper.PodRequests` without overhead: containers summed, then
/// raised to the largest init container; sidecars count in both.
fn pod_requests(containers: &[Container], init: &[Container], non_zero: bool) -> Resources {
    let mut total = Resources::default();
    for c in containers {
        total.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in init {
        let mut r = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            total.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init_max.max_with(&r);
    }
    total.max_with(&init_max);
    total
}

fn container_requests(c: &Container, non_zero: bool) -> Resources {
    let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let mut r = Resources::from_list(list);
    if non_zero {
        let has = |name: &str| list.is_some_and(|l| l.contains_key(name));
        if !has("cpu") {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has("memory") {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn containers_sum_and_init_containers_take_the_max() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "200m"}}}
            ],
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "500m", "memory": "10Mi"}}},
                {"name": "i2", "resources": {"requests": {"memory": "1Gi"}}}
            ]
        }));
        let u = PodUsage::of(&p);
        assert_eq!(u.requests.milli_cpu, 500);
        assert_eq!(u.requests.memory, 1024 * 1024 * 1024);
        // Non-zero: b has no memory request, so it counts 200Mi.
        assert_eq!(u.non_zero_milli_cpu, 500);
        assert_eq!(u.non_zero_memory, 1024 * 1024 * 1024);
    }

    #[test]
    fn sidecars_add_to_the_pod_and_to_later_init_containers() {
        let p = pod(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "400m"}}}
            ],
            "overhead": {"cpu": "10m"}
        }));
        let u = PodUsage::of(&p);
        // max(100 + 50, 400 + 50) + 10
        assert_eq!(u.requests.milli_cpu, 460);
    }

    #[test]
    fn empty_pods_count_defaults_only_when_scoring() {
        let p = pod(json!({"containers": [{"name": "a"}]}));
        let u = PodUsage::of(&p);
        assert!(u.requests.is_zero());
        assert_eq!(u.non_zero_milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(u.non_zero_memory, DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn host_ports_default_ip_and_protocol_and_scalars_are_kept() {
        let p = pod(json!({"containers": [{"name": "a",
            "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}],
            "resources": {"requests": {"example.com/dongle": "2"}}}]}));
        let u = PodUsage::of(&p);
        assert_eq!(
            u.host_ports,
            vec![HostPort {
                ip: BIND_ALL.into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        assert_eq!(u.requests.scalar("example.com/dongle"), 2);
    }
}
