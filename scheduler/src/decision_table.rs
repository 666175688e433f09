//! One scheduling attempt's reasoning as data: which filter refused which
//! node, and what each scoring plugin gave the best feasible nodes.
//!
//! kube-scheduler keeps this to itself (its per-node verdicts reach only
//! high-verbosity logs; the FailedScheduling message counts reasons). minik
//! writes it as JSON in an annotation of the pod's `Scheduled` or
//! `FailedScheduling` Event (`scheduler.minik.io/filter-table`), so
//! `miniktl why` and the dashboard can show it for any pod, and it expires
//! with the Event (the API server's event TTL). Bounded: at most
//! [`LISTED_REFUSALS`] refused nodes by name (all refusals are counted per
//! filter) and the [`LISTED_SCORES`] best-scored nodes — a few KB at most,
//! whatever the cluster's size.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::filters::Refusal;
use crate::scores::Scores;

/// The Event annotation that carries the table.
pub const ANNOTATION: &str = "scheduler.minik.io/filter-table";
/// Refused nodes named in the table (the first met; the rest are counted).
pub const LISTED_REFUSALS: usize = 10;
/// Feasible nodes whose scores the table lists, best first.
pub const LISTED_SCORES: usize = 5;

/// The table for one pod.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionTable {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Nodes the filters ran on (fewer than `nodes` when enough feasible
    /// ones were found first: `percentageOfNodesToScore`).
    pub filtered: usize,
    /// Nodes every filter passed.
    pub feasible: usize,
    /// The node picked, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    /// A refusal that held for every node before any filter ran
    /// (kube's PreFilter, e.g. an unbound immediate claim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_filter: Option<String>,
    /// Refused nodes per filter plugin.
    pub refused_by: BTreeMap<&'static str, usize>,
    /// The first refused nodes, sorted by name.
    pub refused: Vec<RefusedNode>,
    /// The scoring plugins and their weights, in the order they run.
    pub weights: Vec<PluginWeight>,
    /// The best-scored feasible nodes, best first (empty when one node
    /// was feasible: it is taken without scoring, as kube does).
    pub scores: Vec<NodeScores>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedNode {
    pub node: String,
    pub filter: &'static str,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginWeight {
    pub plugin: &'static str,
    pub weight: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeScores {
    pub node: String,
    /// The weighted sum the node was ranked by.
    pub total: i64,
    /// Each plugin's 0–100 score, before its weight.
    pub plugins: BTreeMap<&'static str, i64>,
}

impl DecisionTable {
    pub fn new(nodes: usize) -> DecisionTable {
        DecisionTable {
            nodes,
            ..Default::default()
        }
    }

    /// Records one refused node.
    pub fn refuse(&mut self, node: &str, refusal: &Refusal) {
        *self.refused_by.entry(refusal.plugin).or_default() += 1;
        if self.refused.len() < LISTED_REFUSALS {
            self.refused.push(RefusedNode {
                node: node.to_string(),
                filter: refusal.plugin,
                reasons: refusal.rejection.reasons.clone(),
            });
        }
    }

    /// Records the scores of the feasible `nodes` (in the order scored).
    pub fn score(&mut self, nodes: &[&str], scores: &Scores) {
        self.weights = scores
            .plugins
            .iter()
            .map(|(plugin, weight, _)| PluginWeight {
                plugin,
                weight: *weight,
            })
            .collect();
        let mut ranked: Vec<usize> = (0..nodes.len()).collect();
        ranked.sort_by(|&a, &b| {
            scores.totals[b]
                .cmp(&scores.totals[a])
                .then(nodes[a].cmp(nodes[b]))
        });
        self.scores = ranked
            .into_iter()
            .take(LISTED_SCORES)
            .map(|i| NodeScores {
                node: nodes[i].to_string(),
                total: scores.totals[i],
                plugins: scores
                    .plugins
                    .iter()
                    .map(|(plugin, _, s)| (*plugin, s[i]))
                    .collect(),
            })
            .collect();
    }

    /// The table as the annotation's value.
    pub fn to_json(&self) -> String {
        let mut table = self.clone();
        table.refused.sort_by(|a, b| a.node.cmp(&b.node));
        serde_json::to_string(&table).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::Rejection;

    #[test]
    fn bounded_whatever_the_cluster_size() {
        let mut t = DecisionTable::new(1000);
        for i in 0..1000 {
            t.refuse(
                &format!("n{i:04}"),
                &Refusal {
                    plugin: "NodeResourcesFit",
                    rejection: Rejection {
                        reasons: vec!["Insufficient cpu".into()],
                        resolvable: true,
                    },
                },
            );
        }
        let names: Vec<String> = (0..100).map(|i| format!("f{i:03}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let scores = Scores {
            plugins: vec![("NodeResourcesFit", 1, (0..100).collect())],
            totals: (0..100).collect(),
        };
        t.score(&names, &scores);
        assert_eq!(t.refused_by["NodeResourcesFit"], 1000);
        assert_eq!(t.refused.len(), LISTED_REFUSALS);
        assert_eq!(t.scores.len(), LISTED_SCORES);
        assert_eq!(t.scores[0].node, "f099", "best first");
        assert_eq!(t.scores[0].plugins["NodeResourcesFit"], 99);
        assert!(t.to_json().len() < 4096, "{}", t.to_json().len());
    }
}
