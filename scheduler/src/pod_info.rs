//! A pending pod prepared for one scheduling cycle: the parts of its spec
//! every filter and score reads, pulled out once instead of once per node.
//!
//! Mirrors kube-scheduler's `framework.PodInfo` plus the PreFilter state
//! plugins compute per pod (NodeResourcesFit's request sum, NodeAffinity's
//! parsed required selector).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorTerm, Pod, PreferredSchedulingTerm, Toleration};

use crate::cache::Cache;
use crate::inter_pod_affinity::{AffinityState, PodTerms};
use crate::resources::PodUsage;
use crate::topology_spread::SpreadState;
use crate::volume_binding::VolumeState;

pub struct PodInfo<'a> {
    pub pod: &'a Pod,
    pub usage: PodUsage,
    pub priority: i32,
    /// `spec.preemptionPolicy: Never` pods may not preempt (changes the
    /// preemption part of the FailedScheduling message).
    pub never_preempts: bool,
    pub tolerations: &'a [Toleration],
    pub node_selector: Option<&'a BTreeMap<String, String>>,
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
    pub required_terms: Option<&'a [NodeSelectorTerm]>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_terms: &'a [PreferredSchedulingTerm],
    /// Its pod (anti-)affinity terms.
    pub pod_terms: PodTerms<'a>,
    /// VolumeBinding's PreFilter result: the state of its claims, or why no
    /// node can take it (set by the scheduler, which has the claim caches).
    pub volumes: Result<Option<VolumeState>, String>,
}

/// What the PreFilter steps compute once per cycle from the whole cache,
/// for the filters and scores that look beyond one node.
#[derive(Debug, Default)]
pub struct PreFilter {
    pub affinity: AffinityState,
    pub spread: SpreadState,
}

impl PreFilter {
    pub fn compute(pod: &PodInfo, cache: &Cache) -> PreFilter {
        PreFilter {
            affinity: AffinityState::compute(&pod.usage.placed, &pod.pod_terms, cache),
            spread: SpreadState::compute(pod, cache),
        }
    }
}

impl<'a> PodInfo<'a> {
    pub fn new(pod: &'a Pod) -> PodInfo<'a> {
        let spec = pod.spec.as_ref();
        let node_affinity = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref());
        PodInfo {
            pod,
            usage: PodUsage::of(pod),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            never_preempts: spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never"),
            tolerations: spec
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or_default(),
            node_selector: spec
                .and_then(|s| s.node_selector.as_ref())
                .filter(|m| !m.is_empty()),
            required_terms: node_affinity
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(|r| r.node_selector_terms.as_slice()),
            preferred_terms: node_affinity
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_deref()
                })
                .unwrap_or_default(),
            pod_terms: PodTerms::of(pod),
            volumes: Ok(None),
        }
    }
}
