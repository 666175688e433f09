//! One node as the scheduler sees it: the parts of the Node object filters
//! and scores read ([`NodeView`]), plus running sums over the pods on it
//! ([`NodeInfo`]) so that no filter ever walks a node's pods.
//!
//! Mirrors kube-scheduler's `framework.NodeInfo` (`Requested`,
//! `NonZeroRequested`, `UsedPorts`, `Allocatable`). Like kube-scheduler's
//! cache, a `NodeInfo` can exist before its Node does (a pod bound to a
//! node the node informer has not delivered yet); such a placeholder is
//! accounted but never offered to pods.
//!
//! Ready condition: kube-scheduler has no "node ready" filter; the node
//! lifecycle controller taints a node whose Ready condition is not True
//! (`node.kubernetes.io/not-ready` for False, `node.kubernetes.io/unreachable`
//! for Unknown or missing) and the TaintToleration filter does the rest.
//! minik reads those taints off the condition itself ([`NodeView::from_node`]),
//! so a NotReady node is refused the moment its status says so, with the
//! same message and the same way out (a toleration), even before (or
//! without) the node lifecycle controller.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::inter_pod_affinity::PlacedPod;

use crate::resources::{PodUsage, Resources, BIND_ALL};

/// Taint the node lifecycle controller puts on a node whose Ready is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint the node lifecycle controller puts on a node whose Ready is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint `spec.unschedulable` stands for (tolerating it overrides cordoning).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
const REGION_LABELS: [&str; 2] = [
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/region",
];

/// The scheduling-relevant part of a Node object.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub labels: BTreeMap<String, String>,
    /// `spec.taints`, plus the condition taint implied by a Ready condition
    /// that is not True (see the module docs).
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    /// `status.allocatable.pods`: how many pods fit, whatever they request.
    pub allowed_pods: i64,
    /// Zone key (region + zone labels) for zone-aware spreading.
    pub zone: Option<String>,
}

impl NodeView {
    pub fn from_node(node: &Node) -> NodeView {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        let mut taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        let status = node.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.as_str());
        let implied = match ready {
            Some("True") => None,
            Some("False") => Some(TAINT_NOT_READY),
            _ => Some(TAINT_UNREACHABLE),
        };
        if let Some(key) = implied {
            if !taints
                .iter()
                .any(|t| t.key == key && t.effect == "NoSchedule")
            {
                taints.push(Taint {
                    key: key.to_string(),
                    effect: "NoSchedule".to_string(),
                    ..Default::default()
                });
            }
        }
        let allocatable_list = status.and_then(|s| s.allocatable.as_ref());
        let allowed_pods = allocatable_list
            .and_then(|l| l.get("pods"))
            .and_then(|q| minik_api::quantity::parse(&q.0).ok())
            .map_or(0, |q| q.value());
        let pick = |keys: [&str; 2]| keys.iter().find_map(|k| labels.get(*k).cloned());
        let zone = match (pick(REGION_LABELS), pick(ZONE_LABELS)) {
            (None, None) => None,
            (region, zone) => Some(format!(
                "{}:{}",
                region.unwrap_or_default(),
                zone.unwrap_or_default()
            )),
        };
        NodeView {
            taints,
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            allocatable: Resources::from_list(allocatable_list),
            allowed_pods,
            zone,
            labels,
        }
    }
}

/// A node plus running sums over the pods the cache has placed on it
/// (bound or assumed).
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    /// `None` for a placeholder holding pods of a node not (or no longer) known.
    pub node: Option<NodeView>,
    pub requested: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub pod_count: i64,
    /// (protocol, port) → host IP → number of pods using it.
    used_ports: HashMap<(String, i32), HashMap<String, u32>>,
    /// Controller owner UID → pods of that owner here (not being deleted).
    owners: HashMap<String, u32>,
    /// Every pod here, as inter-pod (anti-)affinity sees it.
    placed: Vec<Arc<PlacedPod>>,
    /// How many of them have required anti-affinity.
    anti_affinity_pods: usize,
}

impl NodeInfo {
    pub fn new(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            node: None,
            requested: Resources::default(),
            non_zero_milli_cpu: 0,
            non_zero_memory: 0,
            pod_count: 0,
            used_ports: HashMap::new(),
            owners: HashMap::new(),
            placed: Vec::new(),
            anti_affinity_pods: 0,
        }
    }

    /// Adds a pod's usage to the sums (kube's `NodeInfo.AddPod`).
    pub fn add_pod(&mut self, usage: &PodUsage) {
        self.apply(usage, 1);
    }

    /// Takes a pod's usage away again (kube's `NodeInfo.RemovePod`).
    pub fn remove_pod(&mut self, usage: &PodUsage) {
        self.apply(usage, -1);
    }

    fn apply(&mut self, usage: &PodUsage, sign: i64) {
        if sign > 0 {
            self.requested.add(&usage.requests);
        } else {
            self.requested.sub(&usage.requests);
        }
        self.non_zero_milli_cpu += sign * usage.non_zero_milli_cpu;
        self.non_zero_memory += sign * usage.non_zero_memory;
        self.pod_count += sign;
        for hp in &usage.host_ports {
            let by_ip = self
                .used_ports
                .entry((hp.protocol.clone(), hp.port))
                .or_default();
            adjust(by_ip, &hp.ip, sign);
            if by_ip.is_empty() {
                self.used_ports.remove(&(hp.protocol.clone(), hp.port));
            }
        }
        if let (Some(owner), false) = (&usage.owner, usage.terminating) {
            adjust(&mut self.owners, owner, sign);
        }
        let guards = !usage.placed.required_anti_affinity.is_empty();
        if sign > 0 {
            self.placed.push(usage.placed.clone());
            self.anti_affinity_pods += usize::from(guards);
        } else if let Some(i) = self.placed.iter().position(|p| p == &usage.placed) {
            self.placed.swap_remove(i);
            self.anti_affinity_pods -= usize::from(guards);
        }
    }

    /// The pods here, as inter-pod (anti-)affinity sees them.
    pub fn placed_pods(&self) -> impl Iterator<Item = &PlacedPod> {
        self.placed.iter().map(|p| &**p)
    }

    /// Whether any pod here has required anti-affinity (PreFilter's shortcut).
    pub fn has_anti_affinity_pods(&self) -> bool {
        self.anti_affinity_pods > 0
    }

    /// Whether a pod wanting `ip:port/protocol` would clash with a pod here
    /// (kube's `HostPortInfo.CheckConflict`): `0.0.0.0` clashes with any
    /// address, a specific address with itself and with `0.0.0.0`.
    pub fn port_conflicts(&self, ip: &str, protocol: &str, port: i32) -> bool {
        let Some(by_ip) = self.used_ports.get(&(protocol.to_string(), port)) else {
            return false;
        };
        ip == BIND_ALL || by_ip.contains_key(BIND_ALL) || by_ip.contains_key(ip)
    }

    /// How many pods of this controller owner run here (not being deleted).
    pub fn owner_count(&self, owner: &str) -> u32 {
        self.owners.get(owner).copied().unwrap_or(0)
    }

    /// True when no pod is accounted here any more.
    pub fn is_empty(&self) -> bool {
        self.pod_count == 0
    }
}

fn adjust(map: &mut HashMap<String, u32>, key: &str, sign: i64) {
    if sign > 0 {
        *map.entry(key.to_string()).or_default() += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    fn node(status: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n"}, "status": status})).unwrap()
    }

    #[test]
    fn not_ready_and_unknown_nodes_carry_the_condition_taints() {
        let ready = node(json!({"conditions": [{"type": "Ready", "status": "True"}]}));
        assert!(NodeView::from_node(&ready).taints.is_empty());
        let not_ready = node(json!({"conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(
            NodeView::from_node(&not_ready).taints[0].key,
            TAINT_NOT_READY
        );
        let unknown = node(json!({}));
        assert_eq!(
            NodeView::from_node(&unknown).taints[0].key,
            TAINT_UNREACHABLE
        );
    }

    #[test]
    fn sums_follow_pods_in_and_out() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}]},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}],
                "resources": {"requests": {"cpu": "250m"}}}]}
        }))
        .unwrap();
        let usage = PodUsage::of(&pod);
        let mut info = NodeInfo::new("n");
        info.add_pod(&usage);
        assert_eq!(info.requested.milli_cpu, 250);
        assert_eq!(info.owner_count("u1"), 1);
        assert!(info.port_conflicts("10.0.0.1", "TCP", 80));
        assert!(info.port_conflicts(BIND_ALL, "TCP", 80));
        assert!(!info.port_conflicts("10.0.0.2", "TCP", 80));
        assert!(!info.port_conflicts("10.0.0.1", "UDP", 80));
        info.remove_pod(&usage);
        assert!(info.is_empty());
        assert_eq!(info.requested.milli_cpu, 0);
        assert_eq!(info.owner_count("u1"), 0);
        assert!(!info.port_conflicts(BIND_ALL, "TCP", 80));
    }
}
