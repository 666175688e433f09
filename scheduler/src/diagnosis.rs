//! Why a pod fits nowhere, worded exactly as kube-scheduler words it.
//!
//! Mirrors `framework.FitError.Error()`: a histogram of the filter reasons
//! over all nodes, each entry `"<count> <reason>"`, sorted as strings, then
//! the PostFilter (preemption) verdict, each part closed by `"."`:
//!
//! ```text
//! 0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..
//! ```
//!
//! (The doubled final period is Kubernetes' too: the preemption verdict is
//! itself a FitError message, and gets the separator's period appended.)
//!
//! minik has no preemption. The verdict is what DefaultPreemption reports
//! when it finds no victims: nodes refused for reasons eviction cannot fix
//! count as "Preemption is not helpful for scheduling", the others as "No
//! preemption victims found for incoming pod" — which is exactly right when
//! no running pod has a lower priority than the pending one, the usual case.

use std::collections::HashMap;

use crate::filters::Rejection;

const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Message when the cluster has no nodes at all (kube's `ErrNoNodesAvailable`).
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// Filter results of one scheduling attempt that found no node.
#[derive(Debug, Default)]
pub struct Diagnosis {
    num_all_nodes: usize,
    reasons: HashMap<String, usize>,
    resolvable_nodes: usize,
    /// A PreFilter plugin's refusal, which holds for every node.
    pre_filter: Option<String>,
}

impl Diagnosis {
    pub fn new(num_all_nodes: usize) -> Diagnosis {
        Diagnosis {
            num_all_nodes,
            ..Default::default()
        }
    }

    /// Every node refused by a PreFilter plugin with `message` (kube's
    /// `Diagnosis.PreFilterMsg`; no node can be helped by preemption).
    pub fn pre_filter(num_all_nodes: usize, message: &str) -> Diagnosis {
        Diagnosis {
            num_all_nodes,
            pre_filter: Some(message.to_string()),
            ..Default::default()
        }
    }

    /// The refusals counted so far, most common first (`2 Insufficient
    /// cpu, 1 node(s) had untolerated taint {…}`); empty when none.
    pub fn counts(&self) -> String {
        let mut reasons: Vec<(&String, &usize)> = self.reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Records one refused node.
    pub fn add(&mut self, rejection: Rejection) {
        if rejection.resolvable {
            self.resolvable_nodes += 1;
        }
        for reason in rejection.reasons {
            *self.reasons.entry(reason).or_default() += 1;
        }
    }

    /// The FailedScheduling message (and PodScheduled condition message).
    pub fn message(&self, never_preempts: bool) -> String {
        let preemption = if never_preempts {
            "not eligible due to preemptionPolicy=Never.".to_string()
        } else {
            let mut verdicts = HashMap::new();
            let unhelpful = self.num_all_nodes - self.resolvable_nodes;
            for (reason, n) in [
                (NOT_HELPFUL, unhelpful),
                (NO_VICTIMS, self.resolvable_nodes),
            ] {
                if n > 0 {
                    verdicts.insert(reason.to_string(), n);
                }
            }
            fit_error(self.num_all_nodes, &verdicts, None)
        };
        let post = format!("preemption: {preemption}");
        match &self.pre_filter {
            Some(pre) => format!(
                "0/{} nodes are available: {pre}. {post}.",
                self.num_all_nodes
            ),
            None => fit_error(self.num_all_nodes, &self.reasons, Some(&post)),
        }
    }
}

/// `FitError.Error()`: the histogram sorted as strings, then the PostFilter message.
fn fit_error(
    num_all_nodes: usize,
    reasons: &HashMap<String, usize>,
    post_filter: Option<&str>,
) -> String {
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    let mut histogram: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    histogram.sort();
    if !histogram.is_empty() {
        msg.push_str(&format!(" {}.", histogram.join(", ")));
    }
    if let Some(post) = post_filter {
        msg.push_str(&format!(" {post}."));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::{ERR_NODE_AFFINITY, ERR_PORTS};

    fn rej(reasons: &[&str], resolvable: bool) -> Rejection {
        Rejection {
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            resolvable,
        }
    }

    #[test]
    fn pre_filter_refusal_holds_everywhere() {
        let d = Diagnosis::pre_filter(2, "pod has unbound immediate PersistentVolumeClaims");
        assert_eq!(
            d.message(false),
            "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
        );
    }

    #[test]
    fn kubernetes_wording_and_order() {
        let mut d = Diagnosis::new(3);
        d.add(rej(&["Insufficient cpu"], true));
        d.add(rej(&["Insufficient cpu"], true));
        d.add(rej(&[ERR_NODE_AFFINITY], false));
        assert_eq!(
            d.message(false),
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
             2 No preemption victims found for incoming pod.."
        );
    }

    #[test]
    fn unresolvable_everywhere_and_never_preempting() {
        let mut d = Diagnosis::new(2);
        d.add(rej(
            &["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"],
            false,
        ));
        d.add(rej(&[ERR_NODE_AFFINITY], false));
        assert_eq!(
            d.message(false),
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
        );
        let mut d = Diagnosis::new(1);
        d.add(rej(&[ERR_PORTS], true));
        assert_eq!(
            d.message(true),
            "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. \
             preemption: not eligible due to preemptionPolicy=Never.."
        );
    }
}
