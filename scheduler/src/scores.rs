//! Score plugins: which of the feasible nodes is best? One function per
//! kube-scheduler plugin, each giving every candidate node 0–100
//! (`MaxNodeScore`) after its NormalizeScore step; the node's total is the
//! weighted sum.
//!
//! | function | kube plugin | weight | prefers |
//! |---|---|---|---|
//! | [`least_allocated`] | NodeResourcesFit (LeastAllocated) | 1 | the emptiest node (CPU and memory) |
//! | [`taint_toleration`] | TaintToleration | 3 | fewer untolerated `PreferNoSchedule` taints |
//! | [`node_affinity`] | NodeAffinity | 2 | matching `preferredDuringScheduling…` terms |
//! | [`selector_spread`] | SelectorSpread | 2 | fewer pods of the same owner (node, then zone) |
//! | [`topology_spread::score`] | PodTopologySpread | 2 | `ScheduleAnyway` constraints: fewer matching pods in the node's domains |
//! | [`inter_pod_affinity::score`] | InterPodAffinity | 2 | domains with the pods its preferred terms want (and without those they avoid) |
//!
//! Spreading: kube-scheduler ≤ 1.25 had SelectorSpread (pods matching the
//! selectors of the Services/ReplicaSets that select this pod); since then
//! PodTopologySpread's system defaults do the same job with weight 2. minik
//! spreads by the pod's controller ownerReference (its ReplicaSet,
//! StatefulSet, …) with SelectorSpread's formula and PodTopologySpread's
//! weight. Left out: NodeResourcesBalancedAllocation, ImageLocality.

use crate::inter_pod_affinity;
use crate::matching::{term_matches, tolerates};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::pod_info::PreFilter;
use crate::topology_spread;

pub const MAX_NODE_SCORE: i64 = 100;

const WEIGHT_LEAST_ALLOCATED: i64 = 1;
const WEIGHT_TAINT_TOLERATION: i64 = 3;
const WEIGHT_NODE_AFFINITY: i64 = 2;
const WEIGHT_SELECTOR_SPREAD: i64 = 2;
const WEIGHT_INTER_POD_AFFINITY: i64 = 2;
const WEIGHT_TOPOLOGY_SPREAD: i64 = 2;
/// Share of the spreading score that comes from the zone (SelectorSpread's `zoneWeighting`).
const ZONE_WEIGHTING: f64 = 2.0 / 3.0;

/// Each scoring plugin's scores for the candidate nodes, and their
/// weighted totals, in the order the nodes were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scores {
    /// kube's plugin name, its weight, and its 0–100 score per node.
    pub plugins: Vec<(&'static str, i64, Vec<i64>)>,
    pub totals: Vec<i64>,
}

/// Scores every candidate node with every plugin.
pub fn score_nodes(pod: &PodInfo, nodes: &[&NodeInfo], pre: &PreFilter) -> Scores {
    let plugins = vec![
        (
            "NodeResourcesFit",
            WEIGHT_LEAST_ALLOCATED,
            least_allocated(pod, nodes),
        ),
        (
            "TaintToleration",
            WEIGHT_TAINT_TOLERATION,
            taint_toleration(pod, nodes),
        ),
        (
            "NodeAffinity",
            WEIGHT_NODE_AFFINITY,
            node_affinity(pod, nodes),
        ),
        (
            "SelectorSpread",
            WEIGHT_SELECTOR_SPREAD,
            selector_spread(pod, nodes),
        ),
        (
            "InterPodAffinity",
            WEIGHT_INTER_POD_AFFINITY,
            inter_pod_affinity::score(&pre.affinity, nodes),
        ),
        (
            "PodTopologySpread",
            WEIGHT_TOPOLOGY_SPREAD,
            topology_spread::score(pod.pod, &pre.spread, nodes),
        ),
    ];
    let mut totals = vec![0; nodes.len()];
    for (_, weight, scores) in &plugins {
        for (t, s) in totals.iter_mut().zip(scores) {
            *t += weight * s;
        }
    }
    Scores { plugins, totals }
}

/// `(allocatable − requested) × 100 / allocatable` for CPU and memory,
/// averaged; "requested" includes this pod and counts 100m / 200Mi for
/// containers that request nothing. Resources a node has none of are skipped.
pub fn least_allocated(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    nodes
        .iter()
        .map(|info| {
            let Some(node) = &info.node else { return 0 };
            let pairs = [
                (
                    info.non_zero_milli_cpu + pod.usage.non_zero_milli_cpu,
                    node.allocatable.milli_cpu,
                ),
                (
                    info.non_zero_memory + pod.usage.non_zero_memory,
                    node.allocatable.memory,
                ),
            ];
            let (mut sum, mut weights) = (0, 0);
            for (requested, allocatable) in pairs {
                if allocatable == 0 {
                    continue;
                }
                sum += least_requested_score(requested, allocatable);
                weights += 1;
            }
            if weights == 0 {
                0
            } else {
                sum / weights
            }
        })
        .collect()
}

fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// Counts `PreferNoSchedule` taints the pod does not tolerate (tolerations
/// with an empty or `PreferNoSchedule` effect count); fewer is better.
pub fn taint_toleration(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let relevant: Vec<_> = pod
        .tolerations
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect();
    let raw = nodes
        .iter()
        .map(|info| {
            info.node.as_ref().map_or(0, |n| {
                n.taints
                    .iter()
                    .filter(|t| t.effect == "PreferNoSchedule")
                    .filter(|t| !relevant.iter().any(|tol| tolerates(tol, t)))
                    .count() as i64
            })
        })
        .collect();
    default_normalize(raw, true)
}

/// Sum of the weights of the pod's preferred node affinity terms the node
/// matches, scaled so the best node gets 100.
pub fn node_affinity(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    if pod.preferred_terms.is_empty() {
        return vec![0; nodes.len()];
    }
    let raw = nodes
        .iter()
        .map(|info| {
            info.node.as_ref().map_or(0, |n| {
                pod.preferred_terms
                    .iter()
                    .filter(|t| t.weight != 0 && term_matches(&t.preference, &info.name, &n.labels))
                    .map(|t| i64::from(t.weight))
                    .sum()
            })
        })
        .collect();
    default_normalize(raw, false)
}

/// Fewer pods of the pod's controller owner on a node (and in its zone,
/// weighted 2/3 when nodes have zones) is better. A pod without a
/// controller owner scores 100 everywhere.
pub fn selector_spread(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let Some(owner) = pod.usage.owner.as_deref() else {
        return vec![MAX_NODE_SCORE; nodes.len()];
    };
    let counts: Vec<i64> = nodes
        .iter()
        .map(|n| i64::from(n.owner_count(owner)))
        .collect();
    let max_node = counts.iter().copied().max().unwrap_or(0);
    let mut by_zone: std::collections::HashMap<&str, i64> = Default::default();
    for (info, count) in nodes.iter().zip(&counts) {
        if let Some(zone) = info.node.as_ref().and_then(|n| n.zone.as_deref()) {
            *by_zone.entry(zone).or_default() += count;
        }
    }
    let max_zone = by_zone.values().copied().max().unwrap_or(0);
    let max = MAX_NODE_SCORE as f64;
    nodes
        .iter()
        .zip(&counts)
        .map(|(info, &count)| {
            let mut score = if max_node > 0 {
                max * (max_node - count) as f64 / max_node as f64
            } else {
                max
            };
            if let Some(zone) = info.node.as_ref().and_then(|n| n.zone.as_deref()) {
                let zone_score = if max_zone > 0 {
                    max * (max_zone - by_zone[zone]) as f64 / max_zone as f64
                } else {
                    max
                };
                score = score * (1.0 - ZONE_WEIGHTING) + ZONE_WEIGHTING * zone_score;
            }
            score as i64
        })
        .collect()
}

/// kube's `helper.DefaultNormalizeScore`: scale so the largest raw score is
/// 100; `reverse` turns "more is worse" counts into scores.
fn default_normalize(mut scores: Vec<i64>, reverse: bool) -> Vec<i64> {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return scores;
    }
    for s in &mut scores {
        *s = MAX_NODE_SCORE * *s / max;
        if reverse {
            *s = MAX_NODE_SCORE - *s;
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_info::NodeView;
    use crate::resources::PodUsage;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    fn node(name: &str, cpu: &str, extra: serde_json::Value) -> NodeInfo {
        let mut v = json!({"metadata": {"name": name, "labels": {}},
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}});
        if let Some(labels) = extra.get("labels") {
            v["metadata"]["labels"] = labels.clone();
        }
        if let Some(taints) = extra.get("taints") {
            v["spec"] = json!({"taints": taints});
        }
        let n: Node = serde_json::from_value(v).unwrap();
        let mut info = NodeInfo::new(name);
        info.node = Some(NodeView::from_node(&n));
        info
    }

    fn pod(v: serde_json::Value) -> Pod {
        let mut p = json!({"metadata": {"name": "p", "uid": "p"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]}});
        for (k, val) in v.as_object().unwrap() {
            if k == "metadata" {
                for (mk, mv) in val.as_object().unwrap() {
                    p["metadata"][mk] = mv.clone();
                }
            } else {
                p["spec"][k] = val.clone();
            }
        }
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn least_allocated_prefers_room() {
        let big = node("big", "4", json!({}));
        let small = node("small", "1", json!({}));
        let p = pod(json!({}));
        let s = least_allocated(&PodInfo::new(&p), &[&big, &small]);
        // cpu (4000-500)*100/4000 = 87, memory (4096-512)*100/4096 = 87 → 87.
        assert_eq!(s, [87, 68]);
    }

    #[test]
    fn prefer_no_schedule_and_preferred_affinity() {
        let tainted = node(
            "t",
            "4",
            json!({"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}),
        );
        let ssd = node("s", "4", json!({"labels": {"disk": "ssd"}}));
        let p = pod(
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}}),
        );
        let info = PodInfo::new(&p);
        assert_eq!(taint_toleration(&info, &[&tainted, &ssd]), [0, 100]);
        assert_eq!(node_affinity(&info, &[&tainted, &ssd]), [0, 100]);
    }

    #[test]
    fn spreading_by_owner_and_zone() {
        let owned = json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true}]});
        let p = pod(json!({"metadata": owned}));
        let mut a = node(
            "a",
            "4",
            json!({"labels": {"topology.kubernetes.io/zone": "z1"}}),
        );
        let b = node(
            "b",
            "4",
            json!({"labels": {"topology.kubernetes.io/zone": "z1"}}),
        );
        let c = node(
            "c",
            "4",
            json!({"labels": {"topology.kubernetes.io/zone": "z2"}}),
        );
        a.add_pod(&PodUsage::of(&p));
        a.add_pod(&PodUsage::of(&p));
        let s = selector_spread(&PodInfo::new(&p), &[&a, &b, &c]);
        // a: node 0, zone 0 → 0; b: node 100, zone 0 → 33; c: node 100, zone 100 → 100.
        assert_eq!(s, [0, 33, 100]);
    }
}
