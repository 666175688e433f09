//! InterPodAffinity: pods placed by where other pods are — "with the cache
//! pods" (affinity) or "never two replicas in one zone" (anti-affinity).
//!
//! Like kube-scheduler's plugin, the work is split in two:
//! - PreFilter ([`AffinityState::compute`]) walks the pods already placed
//!   once per cycle and counts, per topology domain (a `topologyKey` and
//!   its value, e.g. `kubernetes.io/hostname=node-2`), the pods that match
//!   each of the incoming pod's terms, and the placed pods whose required
//!   anti-affinity the incoming pod would break;
//! - Filter ([`filter`]) and Score ([`score`]) then look a node's domains
//!   up in those counts, so no node's pods are walked per node.
//!
//! Filter refuses a node when (in kube's words and order):
//! - a required affinity term has no matching pod in the node's domain:
//!   "node(s) didn't match pod affinity rules" (unless no pod anywhere
//!   matches and the pod matches its own term: the first of a group);
//! - a required anti-affinity term has a matching pod there:
//!   "node(s) didn't match pod anti-affinity rules";
//! - a pod there has required anti-affinity the incoming pod matches:
//!   "node(s) didn't satisfy existing pods anti-affinity rules".
//!
//! Score adds each preferred term's weight for every matching pod in the
//! node's domain (anti-affinity subtracts it), then scales to 0–100.
//!
//! Simplified on purpose: a `namespaceSelector` is evaluated against the
//! namespace's `kubernetes.io/metadata.name` label only (the scheduler
//! keeps no Namespace objects; that label always equals the name);
//! `matchLabelKeys`/`mismatchLabelKeys` and the symmetric scoring of placed
//! pods' *preferred* terms are left out.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::cache::Cache;
use crate::node_info::{NodeInfo, NodeView};
use crate::scores::MAX_NODE_SCORE;

pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// The label every Namespace carries, equal to its name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// What a placed pod means to other pods' affinity: who it is, and whom it
/// refuses to share a domain with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlacedPod {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// `requiredDuringSchedulingIgnoredDuringExecution` of its podAntiAffinity.
    pub required_anti_affinity: Vec<PodAffinityTerm>,
    /// Being deleted: still there for affinity, no longer counted for spreading.
    pub terminating: bool,
}

impl PlacedPod {
    pub fn of(pod: &Pod) -> PlacedPod {
        let anti = pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.pod_anti_affinity.as_ref());
        PlacedPod {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            required_anti_affinity: anti
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .clone()
                })
                .unwrap_or_default(),
            terminating: pod.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// The incoming pod's own terms.
#[derive(Debug, Default)]
pub struct PodTerms<'a> {
    pub required_affinity: &'a [PodAffinityTerm],
    pub required_anti_affinity: &'a [PodAffinityTerm],
    pub preferred_affinity: &'a [WeightedPodAffinityTerm],
    pub preferred_anti_affinity: &'a [WeightedPodAffinityTerm],
}

impl<'a> PodTerms<'a> {
    pub fn of(pod: &'a Pod) -> PodTerms<'a> {
        let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        PodTerms {
            required_affinity: pa
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_deref()
                })
                .unwrap_or_default(),
            required_anti_affinity: anti
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_deref()
                })
                .unwrap_or_default(),
            preferred_affinity: pa
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_deref()
                })
                .unwrap_or_default(),
            preferred_anti_affinity: anti
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_deref()
                })
                .unwrap_or_default(),
        }
    }

    fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }
}

/// A topology domain: a topology key and a node's value for it.
type Domain = (String, String);

/// What one cycle's PreFilter found (kube's `preFilterState` and `preScoreState`).
#[derive(Debug, Default)]
pub struct AffinityState {
    /// Per required affinity term: matching placed pods per domain.
    affinity: Vec<HashMap<Domain, u32>>,
    /// Per required anti-affinity term: matching placed pods per domain.
    anti_affinity: Vec<HashMap<Domain, u32>>,
    /// Domains holding a placed pod whose required anti-affinity the
    /// incoming pod matches.
    existing_anti_affinity: HashMap<Domain, u32>,
    /// Preferred terms' weights summed per domain (anti-affinity negative).
    preferred: HashMap<Domain, i64>,
    /// Whether the pod matches each of its own required affinity terms.
    matches_own_affinity: Vec<bool>,
}

impl AffinityState {
    /// Walks every placed pod once. Cheap when neither the incoming pod nor
    /// any placed pod has affinity terms (the common case).
    pub fn compute(pod: &PlacedPod, terms: &PodTerms, cache: &Cache) -> AffinityState {
        let mut st = AffinityState {
            affinity: vec![HashMap::new(); terms.required_affinity.len()],
            anti_affinity: vec![HashMap::new(); terms.required_anti_affinity.len()],
            matches_own_affinity: terms
                .required_affinity
                .iter()
                .map(|t| term_matches(t, &pod.namespace, pod))
                .collect(),
            ..Default::default()
        };
        if terms.is_empty() && cache.nodes().iter().all(|n| !n.has_anti_affinity_pods()) {
            return st;
        }
        for info in cache.nodes() {
            let Some(node) = &info.node else { continue };
            for placed in info.placed_pods() {
                st.count(pod, terms, node, placed);
            }
        }
        st
    }

    fn count(&mut self, pod: &PlacedPod, terms: &PodTerms, node: &NodeView, placed: &PlacedPod) {
        let domain = |key: &str| Some((key.to_string(), node.labels.get(key)?.clone()));
        for (i, t) in terms.required_affinity.iter().enumerate() {
            if let (true, Some(d)) = (
                term_matches(t, &pod.namespace, placed),
                domain(&t.topology_key),
            ) {
                *self.affinity[i].entry(d).or_default() += 1;
            }
        }
        for (i, t) in terms.required_anti_affinity.iter().enumerate() {
            if let (true, Some(d)) = (
                term_matches(t, &pod.namespace, placed),
                domain(&t.topology_key),
            ) {
                *self.anti_affinity[i].entry(d).or_default() += 1;
            }
        }
        for t in &placed.required_anti_affinity {
            if let (true, Some(d)) = (
                term_matches(t, &placed.namespace, pod),
                domain(&t.topology_key),
            ) {
                *self.existing_anti_affinity.entry(d).or_default() += 1;
            }
        }
        let weighted = terms
            .preferred_affinity
            .iter()
            .map(|w| (w, 1))
            .chain(terms.preferred_anti_affinity.iter().map(|w| (w, -1)));
        for (w, sign) in weighted {
            let t = &w.pod_affinity_term;
            if let (true, Some(d)) = (
                term_matches(t, &pod.namespace, placed),
                domain(&t.topology_key),
            ) {
                *self.preferred.entry(d).or_default() += sign * i64::from(w.weight);
            }
        }
    }
}

/// Filter: the node's domains against the PreFilter counts, in kube's
/// order (affinity, the pod's anti-affinity, placed pods' anti-affinity).
pub fn filter(
    terms: &PodTerms,
    state: &AffinityState,
    node: &NodeView,
) -> Result<(), &'static str> {
    let value = |key: &str| node.labels.get(key).map(|v| (key.to_string(), v.clone()));
    let partners_here = terms.required_affinity.iter().enumerate().all(|(i, t)| {
        value(&t.topology_key).is_some_and(|d| state.affinity[i].get(&d).is_some_and(|n| *n > 0))
    });
    // The first pod of a group may go anywhere if it matches its own terms.
    let first_of_group = state.affinity.iter().all(HashMap::is_empty)
        && state.matches_own_affinity.iter().all(|m| *m);
    if !partners_here && !first_of_group {
        return Err(ERR_AFFINITY);
    }
    for (i, t) in terms.required_anti_affinity.iter().enumerate() {
        if let Some(d) = value(&t.topology_key) {
            if state.anti_affinity[i].get(&d).is_some_and(|n| *n > 0) {
                return Err(ERR_ANTI_AFFINITY);
            }
        }
    }
    for (domain, n) in &state.existing_anti_affinity {
        if *n > 0 && node.labels.get(&domain.0) == Some(&domain.1) {
            return Err(ERR_EXISTING_ANTI_AFFINITY);
        }
    }
    Ok(())
}

/// Score: the preferred terms' weights in each node's domains, scaled so
/// the best node gets 100 and the worst 0 (kube's NormalizeScore for this
/// plugin); all nodes 0 when nothing is preferred.
pub fn score(state: &AffinityState, nodes: &[&NodeInfo]) -> Vec<i64> {
    let raw: Vec<i64> = nodes
        .iter()
        .map(|info| {
            let Some(node) = &info.node else { return 0 };
            state
                .preferred
                .iter()
                .filter(|(d, _)| node.labels.get(&d.0) == Some(&d.1))
                .map(|(_, w)| *w)
                .sum()
        })
        .collect();
    let (min, max) = (
        raw.iter().copied().min().unwrap_or(0),
        raw.iter().copied().max().unwrap_or(0),
    );
    if max == min {
        return vec![0; raw.len()];
    }
    raw.iter()
        .map(|s| MAX_NODE_SCORE * (s - min) / (max - min))
        .collect()
}

/// Whether `placed` is one of the pods `term` (of a pod in `own_namespace`) selects.
pub fn term_matches(term: &PodAffinityTerm, own_namespace: &str, placed: &PlacedPod) -> bool {
    let in_namespace = match (&term.namespaces, &term.namespace_selector) {
        (Some(list), _) if list.contains(&placed.namespace) => true,
        (_, Some(sel)) => {
            let labels =
                BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), placed.namespace.clone())]);
            selector_matches(sel, &labels)
        }
        (Some(list), None) if !list.is_empty() => false,
        _ => placed.namespace == own_namespace,
    };
    in_namespace
        && term
            .label_selector
            .as_ref()
            .is_some_and(|s| selector_matches(s, &placed.labels))
}

/// A metav1 LabelSelector: every `matchLabels` pair and every expression
/// must hold; the empty selector matches everything.
pub fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs_hold = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    pairs_hold
        && sel
            .match_expressions
            .iter()
            .flatten()
            .all(|r| requirement_holds(r, labels))
}

fn requirement_holds(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let value = labels.get(&r.key);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, labels: serde_json::Value, affinity: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i"}], "affinity": affinity}
        }))
        .unwrap()
    }

    fn anti(app: &str, key: &str) -> serde_json::Value {
        json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}})
    }

    fn node(name: &str, zone: &str) -> NodeView {
        let n: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
            "status": {"allocatable": {"cpu": "4", "pods": "110"}, "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        NodeView::from_node(&n)
    }

    fn state_for(incoming: &Pod, placed: &[(&str, Pod)]) -> AffinityState {
        let mut cache = Cache::new();
        for (name, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
            cache.upsert_node(&crate::cache::zoned_node(name, zone));
        }
        for (i, (node, p)) in placed.iter().enumerate() {
            let mut p = p.clone();
            p.metadata.uid = Some(format!("u{i}"));
            p.spec.as_mut().unwrap().node_name = Some(node.to_string());
            cache.upsert_pod(&p);
        }
        AffinityState::compute(&PlacedPod::of(incoming), &PodTerms::of(incoming), &cache)
    }

    #[test]
    fn required_anti_affinity_keeps_replicas_apart() {
        let web = pod(
            "default",
            json!({"app": "web"}),
            anti("web", "kubernetes.io/hostname"),
        );
        let st = state_for(&web, &[("a", web.clone())]);
        let terms = PodTerms::of(&web);
        // Refused where a replica runs (its own term is checked first).
        assert_eq!(
            filter(&terms, &st, &node("a", "z1")),
            Err(ERR_ANTI_AFFINITY)
        );
        assert_eq!(filter(&terms, &st, &node("b", "z1")), Ok(()));
        // By zone: both z1 nodes are out.
        let zonal = pod(
            "default",
            json!({"app": "web"}),
            anti("web", "topology.kubernetes.io/zone"),
        );
        let st = state_for(&zonal, &[("a", zonal.clone())]);
        let terms = PodTerms::of(&zonal);
        assert!(filter(&terms, &st, &node("b", "z1")).is_err());
        assert_eq!(filter(&terms, &st, &node("c", "z2")), Ok(()));
        // Other namespaces' pods don't count.
        let other = pod("other", json!({"app": "web"}), json!(null));
        let st = state_for(&web, &[("a", other)]);
        assert_eq!(filter(&PodTerms::of(&web), &st, &node("a", "z1")), Ok(()));
    }

    #[test]
    fn a_pod_without_terms_respects_placed_pods_anti_affinity() {
        let guarded = pod(
            "default",
            json!({"app": "db"}),
            anti("cache", "kubernetes.io/hostname"),
        );
        let cache_pod = pod("default", json!({"app": "cache"}), json!(null));
        let st = state_for(&cache_pod, &[("a", guarded)]);
        let terms = PodTerms::of(&cache_pod);
        assert_eq!(
            filter(&terms, &st, &node("a", "z1")),
            Err(ERR_EXISTING_ANTI_AFFINITY)
        );
        assert_eq!(filter(&terms, &st, &node("b", "z1")), Ok(()));
    }

    #[test]
    fn required_affinity_follows_the_group_and_lets_the_first_in() {
        let affinity = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "topology.kubernetes.io/zone"}]}});
        let web = pod("default", json!({"app": "web"}), affinity.clone());
        let cache_pod = pod("default", json!({"app": "cache"}), json!(null));
        let st = state_for(&web, &[("c", cache_pod)]);
        let terms = PodTerms::of(&web);
        assert_eq!(filter(&terms, &st, &node("a", "z1")), Err(ERR_AFFINITY));
        assert_eq!(filter(&terms, &st, &node("c", "z2")), Ok(()));
        // No cache pod anywhere: the web pod waits...
        let st = state_for(&web, &[]);
        assert_eq!(filter(&terms, &st, &node("a", "z1")), Err(ERR_AFFINITY));
        // ...unless it matches its own term (the first pod of a group).
        let first = pod("default", json!({"app": "cache"}), affinity);
        let st = state_for(&first, &[]);
        assert_eq!(filter(&PodTerms::of(&first), &st, &node("a", "z1")), Ok(()));
    }

    #[test]
    fn preferred_terms_score_domains() {
        let prefer = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}]}});
        let web = pod("default", json!({"app": "web"}), prefer);
        let st = state_for(
            &web,
            &[("a", web.clone()), ("a", web.clone()), ("b", web.clone())],
        );
        let mut cache = Cache::new();
        for name in ["a", "b", "c"] {
            let n: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}))
            .unwrap();
            cache.upsert_node(&n);
        }
        let nodes: Vec<&NodeInfo> = ["a", "b", "c"]
            .iter()
            .map(|n| cache.node(n).unwrap())
            .collect();
        assert_eq!(score(&st, &nodes), vec![0, 50, 100]);
    }

    #[test]
    fn selectors_follow_metav1_rules() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let sel = |v: serde_json::Value| -> LabelSelector { serde_json::from_value(v).unwrap() };
        assert!(selector_matches(&sel(json!({})), &labels));
        assert!(selector_matches(
            &sel(
                json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]})
            ),
            &labels
        ));
        assert!(!selector_matches(
            &sel(json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]})),
            &labels
        ));
        assert!(selector_matches(
            &sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]})
            ),
            &labels
        ));
    }
}
