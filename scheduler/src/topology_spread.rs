//! PodTopologySpread: `topologySpreadConstraints` keep a group of pods even
//! across domains (nodes, zones): no domain may hold more than `maxSkew`
//! pods more than the emptiest one.
//!
//! As in kube-scheduler, PreFilter ([`SpreadState::compute`]) counts, per
//! constraint, the matching pods in every domain of the *eligible* nodes —
//! nodes that carry every constraint's topology key and pass the pod's
//! nodeSelector / required node affinity (`nodeAffinityPolicy: Honor`, the
//! default; taints are ignored, `nodeTaintsPolicy: Ignore`). Then:
//! - Filter, for `whenUnsatisfiable: DoNotSchedule`: a node without the key
//!   is refused ("node(s) didn't match pod topology spread constraints
//!   (missing required label)"); a node whose domain would exceed the skew
//!   is refused ("node(s) didn't match pod topology spread constraints").
//!   With `minDomains` and fewer domains than that, the minimum is 0.
//! - Score, for `whenUnsatisfiable: ScheduleAnyway`: fewer matching pods in
//!   the node's domains is better (scaled 0–100).
//!
//! Simplified on purpose: `matchLabelKeys`, `nodeTaintsPolicy: Honor` and
//! kube's per-topology score weights (log of the domain count) are left
//! out; the score is the plain count, reversed and scaled.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};

use crate::cache::Cache;
use crate::filters;
use crate::inter_pod_affinity::{selector_matches, PlacedPod};
use crate::node_info::{NodeInfo, NodeView};
use crate::pod_info::PodInfo;
use crate::scores::MAX_NODE_SCORE;

pub const ERR_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// The pod's constraints, hard and soft.
pub fn constraints(pod: &Pod) -> &[TopologySpreadConstraint] {
    pod.spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or_default()
}

/// Matching pods per domain value, for one constraint.
#[derive(Debug, Default)]
struct Counts {
    by_domain: HashMap<String, u32>,
    /// The fewest matching pods in any eligible domain (0 with too few domains).
    min: u32,
    /// Whether the incoming pod itself matches the selector (it adds one).
    self_match: u32,
}

/// What one cycle's PreFilter found.
#[derive(Debug, Default)]
pub struct SpreadState {
    counts: Vec<Counts>,
}

impl SpreadState {
    pub fn compute(pod: &PodInfo, cache: &Cache) -> SpreadState {
        let all = constraints(pod.pod);
        if all.is_empty() {
            return SpreadState::default();
        }
        let me = &pod.usage.placed;
        let eligible: Vec<(&NodeInfo, &NodeView)> = cache
            .nodes()
            .iter()
            .filter_map(|info| Some((info, info.node.as_ref()?)))
            .filter(|(info, node)| {
                all.iter()
                    .all(|c| node.labels.contains_key(&c.topology_key))
                    && filters::node_affinity(pod, &info.name, node).is_ok()
            })
            .collect();
        let counts = all
            .iter()
            .map(|c| {
                let mut by_domain: HashMap<String, u32> = HashMap::new();
                let mut domains = HashSet::new();
                for (info, node) in &eligible {
                    let domain = node.labels[&c.topology_key].clone();
                    let n = info.placed_pods().filter(|p| counts_for(c, me, p)).count() as u32;
                    *by_domain.entry(domain.clone()).or_default() += n;
                    domains.insert(domain);
                }
                let enough = domains.len() as i32 >= c.min_domains.unwrap_or(1);
                let min = if enough {
                    by_domain.values().copied().min().unwrap_or(0)
                } else {
                    0
                };
                let self_match = c
                    .label_selector
                    .as_ref()
                    .is_some_and(|s| selector_matches(s, &me.labels));
                Counts {
                    by_domain,
                    min,
                    self_match: u32::from(self_match),
                }
            })
            .collect();
        SpreadState { counts }
    }
}

/// A placed pod counts for a constraint when it is in the incoming pod's
/// namespace, matches the selector and is not being deleted.
fn counts_for(c: &TopologySpreadConstraint, me: &PlacedPod, placed: &PlacedPod) -> bool {
    placed.namespace == me.namespace
        && !placed.terminating
        && c.label_selector
            .as_ref()
            .is_some_and(|s| selector_matches(s, &placed.labels))
}

/// Filter: the `DoNotSchedule` constraints on one node.
pub fn filter(pod: &Pod, state: &SpreadState, node: &NodeView) -> Result<(), &'static str> {
    for (c, counts) in constraints(pod).iter().zip(&state.counts) {
        if c.when_unsatisfiable != "DoNotSchedule" {
            continue;
        }
        let Some(domain) = node.labels.get(&c.topology_key) else {
            return Err(ERR_MISSING_LABEL);
        };
        let here = counts.by_domain.get(domain).copied().unwrap_or(0);
        let skew = i64::from(here + counts.self_match) - i64::from(counts.min);
        if skew > i64::from(c.max_skew) {
            return Err(ERR_CONSTRAINTS);
        }
    }
    Ok(())
}

/// Score: the `ScheduleAnyway` constraints — fewer matching pods in the
/// node's domains scores higher; 0 everywhere when there are none.
pub fn score(pod: &Pod, state: &SpreadState, nodes: &[&NodeInfo]) -> Vec<i64> {
    let soft: Vec<(&TopologySpreadConstraint, &Counts)> = constraints(pod)
        .iter()
        .zip(&state.counts)
        .filter(|(c, _)| c.when_unsatisfiable == "ScheduleAnyway")
        .collect();
    if soft.is_empty() {
        return vec![0; nodes.len()];
    }
    let empty = BTreeMap::new();
    let raw: Vec<i64> = nodes
        .iter()
        .map(|info| {
            let labels = info.node.as_ref().map_or(&empty, |n| &n.labels);
            soft.iter()
                .map(|(c, counts)| {
                    labels
                        .get(&c.topology_key)
                        .and_then(|d| counts.by_domain.get(d))
                        .map_or(0, |n| i64::from(*n))
                })
                .sum()
        })
        .collect();
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|n| {
            if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max - n) / max
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache_with(placed: &[(&str, &str)]) -> Cache {
        let mut cache = Cache::new();
        for (name, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
            cache.upsert_node(&crate::cache::zoned_node(name, zone));
        }
        for (i, (node, app)) in placed.iter().enumerate() {
            let p: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("u{i}"), "labels": {"app": app}},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}
            }))
            .unwrap();
            cache.upsert_pod(&p);
        }
        cache
    }

    fn spread(key: &str, skew: i32, when: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "new", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "topologySpreadConstraints": [
                {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
                 "labelSelector": {"matchLabels": {"app": "web"}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn zones_stay_within_the_skew() {
        // Two web pods in z1, none in z2: with maxSkew 1, only z2 takes the next.
        let cache = cache_with(&[("a", "web"), ("b", "web"), ("c", "db")]);
        let pod = spread("topology.kubernetes.io/zone", 1, "DoNotSchedule");
        let info = PodInfo::new(&pod);
        let st = SpreadState::compute(&info, &cache);
        let view = |n: &str| cache.node(n).unwrap().node.clone().unwrap();
        assert_eq!(filter(&pod, &st, &view("a")), Err(ERR_CONSTRAINTS));
        assert_eq!(filter(&pod, &st, &view("c")), Ok(()));
        // maxSkew 2 lets z1 take one more.
        let pod = spread("topology.kubernetes.io/zone", 3, "DoNotSchedule");
        let st = SpreadState::compute(&PodInfo::new(&pod), &cache);
        assert_eq!(filter(&pod, &st, &view("a")), Ok(()));
    }

    #[test]
    fn missing_keys_refuse_and_soft_constraints_score() {
        let cache = cache_with(&[("a", "web"), ("a", "web"), ("b", "web")]);
        let pod = spread("rack", 1, "DoNotSchedule");
        let st = SpreadState::compute(&PodInfo::new(&pod), &cache);
        let view = cache.node("a").unwrap().node.clone().unwrap();
        assert_eq!(filter(&pod, &st, &view), Err(ERR_MISSING_LABEL));
        let pod = spread("kubernetes.io/hostname", 1, "ScheduleAnyway");
        let st = SpreadState::compute(&PodInfo::new(&pod), &cache);
        let nodes: Vec<&NodeInfo> = ["a", "b", "c"]
            .iter()
            .map(|n| cache.node(n).unwrap())
            .collect();
        assert_eq!(score(&pod, &st, &nodes), vec![0, 50, 100]);
        // Soft constraints never refuse.
        assert_eq!(filter(&pod, &st, &view), Ok(()));
    }
}
