//! Filter plugins: may this pod run on this node? One function per
//! kube-scheduler plugin, run in the default profile's order; the first
//! plugin that refuses a node decides that node's reasons.
//!
//! | function | kube plugin | refuses with |
//! |---|---|---|
//! | [`node_unschedulable`] | NodeUnschedulable | node(s) were unschedulable |
//! | [`taint_toleration`] | TaintToleration | node(s) had untolerated taint {key: value} |
//! | [`node_affinity`] | NodeAffinity | node(s) didn't match Pod's node affinity/selector |
//! | [`node_ports`] | NodePorts | node(s) didn't have free ports for the requested pod ports |
//! | [`node_resources_fit`] | NodeResourcesFit | Too many pods / Insufficient cpu / Insufficient memory / … |
//! | [`crate::volume_binding::filter`] | VolumeBinding | node(s) had volume node affinity conflict / node(s) didn't find available persistent volumes to bind |
//! | [`pod_topology_spread`] | PodTopologySpread | node(s) didn't match pod topology spread constraints |
//! | [`inter_pod_affinity`] | InterPodAffinity | node(s) didn't match pod (anti-)affinity rules / … |
//!
//! Each refusal says whether removing other pods could ever help
//! (`resolvable`, kube's `Unschedulable` vs `UnschedulableAndUnresolvable`):
//! that decides the preemption part of the FailedScheduling message.
//!
//! Left out: the volume plugins other than VolumeBinding (VolumeRestrictions,
//! NodeVolumeLimits, VolumeZone).

use crate::inter_pod_affinity::{self, AffinityState};
use crate::matching::{any_term_matches, tolerated};
use crate::node_info::{NodeInfo, NodeView, TAINT_UNSCHEDULABLE};
use crate::pod_info::PodInfo;
use crate::pod_info::PreFilter;
use crate::topology_spread::{self, SpreadState};

pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const ERR_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
pub const ERR_TOO_MANY_PODS: &str = "Too many pods";

/// Why a node was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reasons: Vec<String>,
    /// Could evicting lower-priority pods from the node make room?
    pub resolvable: bool,
}

impl Rejection {
    fn unresolvable(reason: impl Into<String>) -> Rejection {
        Rejection {
            reasons: vec![reason.into()],
            resolvable: false,
        }
    }
}

pub type FilterResult = Result<(), Rejection>;

/// A node's refusal and the filter plugin that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// kube-scheduler's plugin name (`NodeResourcesFit`, `TaintToleration`, …).
    pub plugin: &'static str,
    pub rejection: Rejection,
}

/// The filter plugins, in the order [`run_all`] runs them.
pub const PLUGINS: [&str; 8] = [
    "NodeUnschedulable",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeBinding",
    "PodTopologySpread",
    "InterPodAffinity",
];

/// Runs every filter in the default profile's order on one node; the
/// first refusal ends the run, as kube-scheduler's does.
pub fn run_all(
    pod: &PodInfo,
    info: &NodeInfo,
    node: &NodeView,
    pre: &PreFilter,
) -> Result<(), Refusal> {
    let by = |plugin: &'static str| move |rejection| Refusal { plugin, rejection };
    node_unschedulable(pod, node).map_err(by(PLUGINS[0]))?;
    taint_toleration(pod, node).map_err(by(PLUGINS[1]))?;
    node_affinity(pod, &info.name, node).map_err(by(PLUGINS[2]))?;
    node_ports(pod, info).map_err(by(PLUGINS[3]))?;
    node_resources_fit(pod, info, node).map_err(by(PLUGINS[4]))?;
    if let Ok(Some(volumes)) = &pod.volumes {
        crate::volume_binding::filter(volumes, &info.name, &node.labels).map_err(by(PLUGINS[5]))?;
    }
    pod_topology_spread(pod, node, &pre.spread).map_err(by(PLUGINS[6]))?;
    inter_pod_affinity(pod, node, &pre.affinity).map_err(by(PLUGINS[7]))
}

/// `topologySpreadConstraints`: see [`crate::topology_spread`]. A node
/// without the topology key can never qualify; a skewed domain might once
/// pods go.
pub fn pod_topology_spread(pod: &PodInfo, node: &NodeView, state: &SpreadState) -> FilterResult {
    match topology_spread::filter(pod.pod, state, node) {
        Ok(()) => Ok(()),
        Err(reason) if reason == topology_spread::ERR_MISSING_LABEL => {
            Err(Rejection::unresolvable(reason))
        }
        Err(reason) => Err(Rejection {
            reasons: vec![reason.to_string()],
            resolvable: true,
        }),
    }
}

/// Where other pods are: see [`crate::inter_pod_affinity`]. A missing
/// affinity partner cannot be made by evicting pods; a pod in the way can.
pub fn inter_pod_affinity(pod: &PodInfo, node: &NodeView, state: &AffinityState) -> FilterResult {
    match inter_pod_affinity::filter(&pod.pod_terms, state, node) {
        Ok(()) => Ok(()),
        Err(reason) if reason == inter_pod_affinity::ERR_AFFINITY => {
            Err(Rejection::unresolvable(reason))
        }
        Err(reason) => Err(Rejection {
            reasons: vec![reason.to_string()],
            resolvable: true,
        }),
    }
}

/// A cordoned node (`spec.unschedulable`) takes only pods tolerating the
/// `node.kubernetes.io/unschedulable:NoSchedule` taint.
pub fn node_unschedulable(pod: &PodInfo, node: &NodeView) -> FilterResult {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = k8s_openapi::api::core::v1::Taint {
        key: TAINT_UNSCHEDULABLE.to_string(),
        effect: "NoSchedule".to_string(),
        ..Default::default()
    };
    if tolerated(pod.tolerations, &taint) {
        Ok(())
    } else {
        Err(Rejection::unresolvable(ERR_UNSCHEDULABLE))
    }
}

/// The first `NoSchedule` or `NoExecute` taint the pod does not tolerate
/// refuses the node (`PreferNoSchedule` only lowers the score).
pub fn taint_toleration(pod: &PodInfo, node: &NodeView) -> FilterResult {
    let untolerated = node.taints.iter().find(|t| {
        (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(pod.tolerations, t)
    });
    match untolerated {
        None => Ok(()),
        Some(t) => Err(Rejection::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key,
            t.value.as_deref().unwrap_or("")
        ))),
    }
}

/// `spec.nodeSelector` (every label equal) and required node affinity
/// (any term matches).
pub fn node_affinity(pod: &PodInfo, node_name: &str, node: &NodeView) -> FilterResult {
    let selector_ok = pod
        .node_selector
        .is_none_or(|sel| sel.iter().all(|(k, v)| node.labels.get(k) == Some(v)));
    let affinity_ok = pod
        .required_terms
        .is_none_or(|terms| any_term_matches(terms, node_name, &node.labels));
    if selector_ok && affinity_ok {
        Ok(())
    } else {
        Err(Rejection::unresolvable(ERR_NODE_AFFINITY))
    }
}

/// Every `hostPort` the pod wants must be free on the node.
pub fn node_ports(pod: &PodInfo, info: &NodeInfo) -> FilterResult {
    let clash = pod
        .usage
        .host_ports
        .iter()
        .any(|hp| info.port_conflicts(&hp.ip, &hp.protocol, hp.port));
    if clash {
        Err(Rejection {
            reasons: vec![ERR_PORTS.to_string()],
            resolvable: true,
        })
    } else {
        Ok(())
    }
}

/// Pod count against `allocatable.pods`, then each requested resource
/// against allocatable minus what the node's pods already request. Every
/// shortfall is a reason of its own.
pub fn node_resources_fit(pod: &PodInfo, info: &NodeInfo, node: &NodeView) -> FilterResult {
    let mut reasons = Vec::new();
    if info.pod_count + 1 > node.allowed_pods {
        reasons.push(ERR_TOO_MANY_PODS.to_string());
    }
    let want = &pod.usage.requests;
    if !want.is_zero() {
        let alloc = &node.allocatable;
        let used = &info.requested;
        if want.milli_cpu > 0 && want.milli_cpu > alloc.milli_cpu - used.milli_cpu {
            reasons.push("Insufficient cpu".to_string());
        }
        if want.memory > 0 && want.memory > alloc.memory - used.memory {
            reasons.push("Insufficient memory".to_string());
        }
        if want.ephemeral_storage > 0
            && want.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
        {
            reasons.push("Insufficient ephemeral-storage".to_string());
        }
        for (name, amount) in &want.scalar {
            if *amount > 0 && *amount > alloc.scalar(name) - used.scalar(name) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            reasons,
            resolvable: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::PodUsage;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    fn pod(mut spec: serde_json::Value) -> Pod {
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "c"}]);
        }
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "p"}, "spec": spec}))
            .unwrap()
    }

    fn node(v: serde_json::Value) -> (NodeInfo, NodeView) {
        let mut n = json!({"metadata": {"name": "n1", "labels": {"disk": "ssd"}},
            "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "2"},
                       "conditions": [{"type": "Ready", "status": "True"}]}});
        merge(&mut n, v);
        let node: Node = serde_json::from_value(n).unwrap();
        let view = NodeView::from_node(&node);
        let mut info = NodeInfo::new("n1");
        info.node = Some(view.clone());
        (info, view)
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn check(p: &Pod, n: &(NodeInfo, NodeView)) -> FilterResult {
        run_all(&PodInfo::new(p), &n.0, &n.1, &PreFilter::default()).map_err(|r| r.rejection)
    }

    fn reasons(r: FilterResult) -> Vec<String> {
        r.unwrap_err().reasons
    }

    #[test]
    fn cordoned_nodes_refuse_unless_tolerated() {
        let n = node(json!({"spec": {"unschedulable": true}}));
        assert_eq!(reasons(check(&pod(json!({})), &n)), [ERR_UNSCHEDULABLE]);
        let tolerant =
            pod(json!({"tolerations": [{"key": TAINT_UNSCHEDULABLE, "operator": "Exists"}]}));
        assert!(check(&tolerant, &n).is_ok());
    }

    #[test]
    fn taints_report_key_and_value_and_ignore_prefer_no_schedule() {
        let n = node(json!({"spec": {"taints": [
            {"key": "soft", "effect": "PreferNoSchedule"},
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}));
        assert_eq!(
            reasons(check(&pod(json!({})), &n)),
            ["node(s) had untolerated taint {dedicated: gpu}"]
        );
        let tolerant = pod(
            json!({"tolerations": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
        );
        assert!(check(&tolerant, &n).is_ok());
        let not_ready =
            node(json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}));
        assert_eq!(
            reasons(check(&pod(json!({})), &not_ready)),
            ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]
        );
    }

    #[test]
    fn node_selector_and_required_affinity_both_apply() {
        let n = node(json!({}));
        assert!(check(&pod(json!({"nodeSelector": {"disk": "ssd"}})), &n).is_ok());
        assert_eq!(
            reasons(check(&pod(json!({"nodeSelector": {"disk": "hdd"}})), &n)),
            [ERR_NODE_AFFINITY]
        );
        let affinity = |op: &str| {
            pod(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": op, "values": ["ssd"]}]}
                ]}}}}),
            )
        };
        assert!(check(&affinity("In"), &n).is_ok());
        assert!(check(&affinity("NotIn"), &n).is_err());
    }

    #[test]
    fn resources_report_every_shortfall() {
        let mut n = node(json!({}));
        let hog = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "800m", "memory": "900Mi"}}}]}),
        );
        n.0.add_pod(&PodUsage::of(&hog));
        assert_eq!(
            reasons(check(&hog, &n)),
            ["Insufficient cpu", "Insufficient memory"]
        );
        n.0.add_pod(&PodUsage::of(&pod(json!({}))));
        let r = check(&pod(json!({})), &n).unwrap_err();
        assert_eq!(r.reasons, [ERR_TOO_MANY_PODS]);
        assert!(r.resolvable);
    }

    #[test]
    fn host_ports_clash() {
        let mut n = node(json!({}));
        let web = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
        );
        n.0.add_pod(&PodUsage::of(&web));
        assert_eq!(reasons(check(&web, &n)), [ERR_PORTS]);
        let udp = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]}),
        );
        assert!(check(&udp, &n).is_ok());
    }
}
