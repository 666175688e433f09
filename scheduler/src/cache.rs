//! The scheduler cache: every node, and every pod that uses a node — bound
//! pods from the informer and *assumed* pods the scheduler has chosen a node
//! for but whose binding the informer has not shown yet.
//!
//! Mirrors kube-scheduler's `backend/cache` (`AssumePod`, `FinishBinding`,
//! `ForgetPod`, `AddPod` confirming an assumed pod, `UpdatePod`,
//! `RemovePod`). Assuming is what lets the scheduler place a burst of pods
//! one after another without over-committing a node while bindings are
//! still in flight: the next pod already sees the previous one's requests.
//!
//! Nodes live in a `Vec` in arrival order (the order feasibility search
//! rotates through) with a name → position index. kube-scheduler expires an
//! assumed pod whose binding is never observed; minik keeps it until the
//! informer confirms it or the pod goes away, since a successful binding is
//! always followed by a watch event for it.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::node_info::{NodeInfo, NodeView};
use crate::resources::PodUsage;

/// What an informer update did to a node, for the queue's re-queue rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    /// Something filters or scores read changed (labels, taints, cordon,
    /// allocatable, readiness): unschedulable pods deserve another try.
    Changed,
    Unchanged,
}

#[derive(Debug)]
struct PodEntry {
    node: String,
    usage: PodUsage,
    assumed: bool,
}

#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Nodes with a Node object (placeholders excluded).
    known_nodes: usize,
    /// Pods accounted on some node, by UID.
    pods: HashMap<String, PodEntry>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// Every `NodeInfo`, placeholders included, in rotation order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Number of nodes a pod may be offered (kube's snapshot size).
    pub fn num_nodes(&self) -> usize {
        self.known_nodes
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.nodes.push(NodeInfo::new(name));
                self.index.insert(name.to_string(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[i]
    }

    /// Node added or updated by the informer.
    pub fn upsert_node(&mut self, node: &Node) -> NodeChange {
        let name = node.metadata.name.clone().unwrap_or_default();
        let view = NodeView::from_node(node);
        let info = self.node_mut(&name);
        let change = match &info.node {
            None => NodeChange::Added,
            Some(old) if *old != view => NodeChange::Changed,
            Some(_) => NodeChange::Unchanged,
        };
        info.node = Some(view);
        if change == NodeChange::Added {
            self.known_nodes += 1;
        }
        change
    }

    /// Node deleted: its pods stay accounted on a placeholder until they go.
    pub fn remove_node(&mut self, name: &str) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        if self.nodes[i].node.take().is_some() {
            self.known_nodes -= 1;
        }
        self.drop_if_unused(name);
    }

    fn drop_if_unused(&mut self, name: &str) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        if self.nodes[i].node.is_some() || !self.nodes[i].is_empty() {
            return;
        }
        self.index.remove(name);
        self.nodes.swap_remove(i);
        if let Some(moved) = self.nodes.get(i) {
            self.index.insert(moved.name.clone(), i);
        }
    }

    /// A bound pod from the informer (added or updated). Confirms the pod if
    /// it was assumed, and re-accounts it if anything it uses changed.
    pub fn upsert_pod(&mut self, pod: &Pod) {
        let (Some(uid), Some(node)) = (
            pod.metadata.uid.as_deref(),
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        ) else {
            return;
        };
        let usage = PodUsage::of(pod);
        if let Some(entry) = self.pods.get(uid) {
            if !entry.assumed && entry.node == node && entry.usage == usage {
                return;
            }
        }
        self.remove_pod(uid);
        self.add(uid, node, usage, false);
    }

    /// A pod left a node (deleted, or finished: the informer only lists
    /// pods that are not Succeeded or Failed).
    pub fn remove_pod(&mut self, uid: &str) {
        if let Some(entry) = self.pods.remove(uid) {
            self.node_mut(&entry.node).remove_pod(&entry.usage);
            self.drop_if_unused(&entry.node);
        }
    }

    /// Counts a pod on `node` before its binding is confirmed.
    pub fn assume(&mut self, uid: &str, node: &str, usage: PodUsage) {
        self.remove_pod(uid);
        self.add(uid, node, usage, true);
    }

    /// Undoes [`assume`](Self::assume) after a failed binding. A pod the
    /// informer has meanwhile confirmed is left alone.
    pub fn forget(&mut self, uid: &str) {
        if self.is_assumed(uid) {
            self.remove_pod(uid);
        }
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|e| e.assumed)
    }

    /// Whether the pod is accounted on a node at all (bound or assumed).
    pub fn has_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    fn add(&mut self, uid: &str, node: &str, usage: PodUsage, assumed: bool) {
        self.node_mut(node).add_pod(&usage);
        self.pods.insert(
            uid.to_string(),
            PodEntry {
                node: node.to_string(),
                usage,
                assumed,
            },
        );
    }
}

/// A Ready test node with hostname and zone labels (4 CPUs, 110 pods).
#[cfg(test)]
pub(crate) fn zoned_node(name: &str, zone: &str) -> Node {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
        "status": {"allocatable": {"cpu": "4", "pods": "110"}, "conditions": [{"type": "Ready", "status": "True"}]}
    }))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name},
            "status": {"allocatable": {"cpu": "1", "pods": "10"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap()
    }

    fn bound_pod(uid: &str, node: &str, cpu: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": uid, "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}))
        .unwrap()
    }

    #[test]
    fn assumed_pods_count_until_confirmed_or_forgotten() {
        let mut c = Cache::new();
        assert_eq!(c.upsert_node(&node("n1")), NodeChange::Added);
        assert_eq!(c.upsert_node(&node("n1")), NodeChange::Unchanged);
        let p = bound_pod("a", "n1", "300m");
        c.assume("a", "n1", PodUsage::of(&p));
        assert!(c.is_assumed("a"));
        assert_eq!(c.node("n1").unwrap().requested.milli_cpu, 300);
        // The informer shows the binding: confirmed, still counted once.
        c.upsert_pod(&p);
        assert!(!c.is_assumed("a"));
        assert_eq!(c.node("n1").unwrap().requested.milli_cpu, 300);
        c.forget("a");
        assert_eq!(c.node("n1").unwrap().pod_count, 1);
        // A second assumed pod whose binding fails is taken away again.
        c.assume("b", "n1", PodUsage::of(&bound_pod("b", "n1", "100m")));
        c.forget("b");
        assert_eq!(c.node("n1").unwrap().requested.milli_cpu, 300);
    }

    #[test]
    fn pods_of_unknown_nodes_wait_on_placeholders() {
        let mut c = Cache::new();
        c.upsert_pod(&bound_pod("a", "late", "100m"));
        assert_eq!(c.num_nodes(), 0);
        assert_eq!(c.upsert_node(&node("late")), NodeChange::Added);
        assert_eq!(c.num_nodes(), 1);
        assert_eq!(c.node("late").unwrap().requested.milli_cpu, 100);
        c.remove_node("late");
        assert_eq!(c.num_nodes(), 0);
        assert!(c.node("late").is_some(), "placeholder keeps the pod");
        c.remove_pod("a");
        assert!(c.node("late").is_none());
    }
}
