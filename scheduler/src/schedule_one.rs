//! One scheduling cycle's decision: filter nodes, score the feasible ones,
//! pick the best. Pure computation over the cache, no I/O.
//!
//! Mirrors kube-scheduler's `schedulePod` / `findNodesThatFitPod` /
//! `prioritizeNodes` / `selectHost`:
//! - Filtering stops once enough feasible nodes are found
//!   (`percentageOfNodesToScore`; adaptive by default: 50% minus 1% per 125
//!   nodes, at least 5% and at least 100 nodes), and each cycle starts where
//!   the previous one stopped, so every node gets its turn.
//! - One feasible node is taken without scoring.
//! - Among the best-scored nodes one is picked uniformly at random
//!   (reservoir sampling), so equal nodes share the load.
//! - When no node fits, every node has been filtered and the reasons make
//!   up the [`Diagnosis`].

use rand::Rng;

use crate::cache::Cache;
use crate::decision_table::DecisionTable;
use crate::diagnosis::Diagnosis;
use crate::filters;
use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, PreFilter};
use crate::scores;

/// Below this many nodes every node is filtered (kube's `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Floor of the adaptive percentage (kube's `minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// Why no node was chosen.
#[derive(Debug)]
pub enum NoFit {
    /// The cluster has no nodes.
    NoNodes,
    /// Nodes exist but none fits: the FailedScheduling message's counts,
    /// and the table of which filter refused which node.
    Unschedulable(Box<Diagnosis>, Box<DecisionTable>),
}

/// The decision-making state that outlives one cycle.
/// Where a pod goes, and why (the filters' refusals and the winning
/// scores, bounded: the runner-up nodes are the best three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node: String,
    pub why: String,
    pub table: DecisionTable,
}

pub struct Algorithm {
    /// `percentageOfNodesToScore`; 0 means adaptive.
    percentage_of_nodes_to_score: u8,
    /// Where the next feasibility search starts (kube's `nextStartNodeIndex`).
    next_start: usize,
}

impl Algorithm {
    pub fn new(percentage_of_nodes_to_score: u8) -> Algorithm {
        Algorithm {
            percentage_of_nodes_to_score,
            next_start: 0,
        }
    }

    /// Picks a node for `pod`, or says why none fits.
    pub fn schedule(
        &mut self,
        cache: &Cache,
        pod: &PodInfo,
        rng: &mut impl Rng,
    ) -> Result<Placement, NoFit> {
        let num_nodes = cache.num_nodes();
        if num_nodes == 0 {
            return Err(NoFit::NoNodes);
        }
        if let Err(message) = &pod.volumes {
            let mut table = DecisionTable::new(num_nodes);
            table.pre_filter = Some(message.clone());
            return Err(NoFit::Unschedulable(
                Box::new(Diagnosis::pre_filter(num_nodes, message)),
                Box::new(table),
            ));
        }
        let pre = PreFilter::compute(pod, cache);
        let (feasible, diagnosis, mut table) = self.find_feasible(cache, pod, &pre)?;
        let filtered = table.filtered;
        let excluded = diagnosis.counts();
        let sampled = if filtered < num_nodes {
            format!(" (filtered {filtered} of {num_nodes} nodes)")
        } else {
            String::new()
        };
        let excluded = if excluded.is_empty() {
            String::new()
        } else {
            format!("; excluded: {excluded}")
        };
        if feasible.len() == 1 {
            let node = feasible[0].name.clone();
            let why = format!("{node}: the only node that passed the filters{sampled}{excluded}");
            table.chosen = Some(node.clone());
            return Ok(Placement { node, why, table });
        }
        let scored = scores::score_nodes(pod, &feasible, &pre);
        let totals = &scored.totals;
        let node = select_host(&feasible, totals, rng).name.clone();
        // The chosen node's score and the runners-up, best first.
        let mut ranked: Vec<(&str, i64)> = feasible
            .iter()
            .zip(totals)
            .map(|(n, t)| (n.name.as_str(), *t))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let score = ranked.iter().find(|(n, _)| *n == node).map_or(0, |r| r.1);
        let others: Vec<String> = ranked
            .iter()
            .filter(|(n, _)| *n != node)
            .take(3)
            .map(|(n, t)| format!("{n} {t}"))
            .collect();
        let why = format!(
            "{node} scored {score}, the highest of {} feasible nodes{sampled} (next: {}){excluded}",
            feasible.len(),
            others.join(", ")
        );
        let names: Vec<&str> = feasible.iter().map(|n| n.name.as_str()).collect();
        table.score(&names, &scored);
        table.chosen = Some(node.clone());
        Ok(Placement { node, why, table })
    }

    fn find_feasible<'c>(
        &mut self,
        cache: &'c Cache,
        pod: &PodInfo,
        pre: &PreFilter,
    ) -> Result<(Vec<&'c NodeInfo>, Diagnosis, DecisionTable), NoFit> {
        let all = cache.nodes();
        let wanted = self.num_feasible_nodes_to_find(cache.num_nodes());
        let mut feasible = Vec::with_capacity(wanted.min(all.len()));
        let mut diagnosis = Diagnosis::new(cache.num_nodes());
        let mut table = DecisionTable::new(cache.num_nodes());
        let start = self.next_start % all.len();
        let mut processed = 0;
        for i in 0..all.len() {
            if feasible.len() >= wanted {
                break;
            }
            processed += 1;
            let info = &all[(start + i) % all.len()];
            let Some(node) = &info.node else { continue };
            match filters::run_all(pod, info, node, pre) {
                Ok(()) => feasible.push(info),
                Err(refusal) => {
                    table.refuse(&info.name, &refusal);
                    diagnosis.add(refusal.rejection);
                }
            }
        }
        self.next_start = (start + processed) % all.len();
        table.filtered = processed;
        table.feasible = feasible.len();
        if feasible.is_empty() {
            Err(NoFit::Unschedulable(Box::new(diagnosis), Box::new(table)))
        } else {
            Ok((feasible, diagnosis, table))
        }
    }

    /// kube's `numFeasibleNodesToFind`.
    fn num_feasible_nodes_to_find(&self, num_all_nodes: usize) -> usize {
        if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
            return num_all_nodes;
        }
        let mut percentage = usize::from(self.percentage_of_nodes_to_score);
        if percentage == 0 {
            percentage = 50usize
                .saturating_sub(num_all_nodes / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
        }
        (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }
}

/// The highest total wins; ties are broken uniformly at random.
fn select_host<'c>(nodes: &[&'c NodeInfo], totals: &[i64], rng: &mut impl Rng) -> &'c NodeInfo {
    let mut best = 0;
    let mut ties = 0u32;
    for (i, &score) in totals.iter().enumerate() {
        if i == 0 || score > totals[best] {
            best = i;
            ties = 1;
        } else if score == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    fn cache_with(n: usize) -> Cache {
        let mut c = Cache::new();
        for i in 0..n {
            let node: Node = serde_json::from_value(json!({"metadata": {"name": format!("n{i}")},
                "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True"}]}}))
            .unwrap();
            c.upsert_node(&node);
        }
        c
    }

    fn pod(cpu: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "p"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}))
        .unwrap()
    }

    #[test]
    fn adaptive_percentage_of_nodes_to_score() {
        let a = Algorithm::new(0);
        assert_eq!(a.num_feasible_nodes_to_find(50), 50);
        assert_eq!(a.num_feasible_nodes_to_find(150), 100);
        assert_eq!(a.num_feasible_nodes_to_find(1000), 420);
        assert_eq!(a.num_feasible_nodes_to_find(5000), 500);
        assert_eq!(Algorithm::new(100).num_feasible_nodes_to_find(1000), 1000);
    }

    #[test]
    fn search_rotates_and_ties_spread() {
        let cache = cache_with(1000);
        let p = pod("100m");
        let info = PodInfo::new(&p);
        let mut a = Algorithm::new(0);
        let mut rng = rand::rng();
        a.schedule(&cache, &info, &mut rng).unwrap();
        assert_eq!(a.next_start, 420);
        let mut chosen = std::collections::HashSet::new();
        for _ in 0..20 {
            chosen.insert(a.schedule(&cache, &info, &mut rng).unwrap().node);
        }
        assert!(
            chosen.len() > 10,
            "equal nodes are picked at random: {chosen:?}"
        );
    }

    #[test]
    fn a_placement_says_why() {
        let cache = cache_with(3);
        let p = pod("100m");
        let placed = Algorithm::new(0)
            .schedule(&cache, &PodInfo::new(&p), &mut rand::rng())
            .unwrap();
        assert!(
            placed.why.starts_with(&format!("{} scored ", placed.node))
                && placed
                    .why
                    .contains("the highest of 3 feasible nodes (next: "),
            "{placed:?}"
        );
        let t = &placed.table;
        assert_eq!(t.scores.len(), 3);
        let chosen = t.scores.iter().find(|s| s.node == placed.node).unwrap();
        assert_eq!(
            chosen.total, t.scores[0].total,
            "the chosen node is among the best"
        );
        assert_eq!(
            t.scores[0].total,
            t.weights
                .iter()
                .map(|w| w.weight * t.scores[0].plugins[w.plugin])
                .sum::<i64>(),
            "the total is the weighted sum of the plugins' scores"
        );
        let big = pod("2");
        let mut cache = cache_with(3);
        let roomy: Node = serde_json::from_value(json!({"metadata": {"name": "roomy"},
            "status": {"allocatable": {"cpu": "4", "memory": "1Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap();
        cache.upsert_node(&roomy);
        let placed = Algorithm::new(0)
            .schedule(&cache, &PodInfo::new(&big), &mut rand::rng())
            .unwrap();
        assert_eq!(
            placed.why,
            "roomy: the only node that passed the filters; excluded: 3 Insufficient cpu"
        );
        // The same decision as a table: each refused node, by which filter.
        let t = &placed.table;
        assert_eq!((t.nodes, t.filtered, t.feasible), (4, 4, 1));
        assert_eq!(t.chosen.as_deref(), Some("roomy"));
        assert_eq!(t.refused_by["NodeResourcesFit"], 3);
        let json: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
        assert_eq!(json["refused"][0]["node"], "n0");
        assert_eq!(json["refused"][0]["filter"], "NodeResourcesFit");
        assert_eq!(json["refused"][0]["reasons"][0], "Insufficient cpu");
        assert!(t.scores.is_empty(), "one feasible node is not scored");
    }

    #[test]
    fn no_fit_explains_every_node() {
        let cache = cache_with(3);
        let p = pod("2");
        match Algorithm::new(0).schedule(&cache, &PodInfo::new(&p), &mut rand::rng()) {
            Err(NoFit::Unschedulable(d, _)) => assert!(d
                .message(false)
                .starts_with("0/3 nodes are available: 3 Insufficient cpu.")),
            other => panic!("{other:?}"),
        }
        let empty = Cache::new();
        assert!(matches!(
            Algorithm::new(0).schedule(&empty, &PodInfo::new(&p), &mut rand::rng()),
            Err(NoFit::NoNodes)
        ));
    }
}
