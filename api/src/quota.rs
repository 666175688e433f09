//! Resource quota accounting: what one object costs a namespace's
//! ResourceQuotas, which quotas it falls under, and the sums and messages
//! around them — `k8s.io/apiserver/pkg/quota/v1` and its `generic` package.
//!
//! The API server's ResourceQuota admission and the controller-manager's
//! quota controller both count with these functions, so the usage a create
//! is checked against and the `status.used` the controller reports are the
//! same numbers.
//!
//! What each kind costs is the kind's own answer (its evaluator in
//! Kubernetes' `pkg/quota/v1/evaluator/core`), asked through
//! [`Strategy::quota_usage`](crate::kinds::Strategy::quota_usage),
//! [`Strategy::quota_tracks`](crate::kinds::Strategy::quota_tracks),
//! [`Strategy::quota_scope_matches`](crate::kinds::Strategy::quota_scope_matches)
//! and [`Strategy::quota_constraints`](crate::kinds::Strategy::quota_constraints);
//! every kind also costs one `count/<resource>.<group>` (the generic object
//! count evaluator).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ResourceQuota, ScopedResourceSelectorRequirement};
use serde_json::{Map, Value};

use crate::catalogue::ResourceInfo;
use crate::quantity::Quantity;

/// Resource name → amount (`corev1.ResourceList`), sorted by name.
pub type ResourceList = BTreeMap<String, Quantity>;

/// `count/pods`, `count/deployments.apps`: the object-count resource of a kind.
pub fn object_count_name(info: &ResourceInfo) -> String {
    format!("count/{}", info.qualified_plural())
}

/// What one object of `info` costs (`Evaluator.Usage`): its kind's
/// resources plus one of its object count.
pub fn usage(info: &ResourceInfo, obj: &Value, now: Timestamp) -> ResourceList {
    let mut usage = info.strategy.quota_usage(obj, now);
    usage.insert(
        object_count_name(info),
        Quantity::from_value(1, Default::default()),
    );
    usage
}

/// The names among `hard` that objects of `info` consume
/// (`Evaluator.MatchingResources`).
pub fn matching_resources<'a>(
    info: &ResourceInfo,
    hard: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<String> {
    let count = object_count_name(info);
    hard.into_iter()
        .filter(|name| **name == count || info.strategy.quota_tracks(name))
        .cloned()
        .collect()
}

/// A quota's scopes as selector requirements: each of `spec.scopes` as
/// `Exists`, then `spec.scopeSelector.matchExpressions` (`getScopeSelectorsFromQuota`).
pub fn scope_selectors(quota: &ResourceQuota) -> Vec<ScopedResourceSelectorRequirement> {
    let spec = quota.spec.clone().unwrap_or_default();
    let mut selectors: Vec<_> = spec
        .scopes
        .unwrap_or_default()
        .into_iter()
        .map(|scope_name| ScopedResourceSelectorRequirement {
            scope_name,
            operator: "Exists".into(),
            values: None,
        })
        .collect();
    if let Some(s) = spec.scope_selector {
        selectors.extend(s.match_expressions.unwrap_or_default());
    }
    selectors
}

/// The quota's `spec.hard` (minik checks against the spec: there is no
/// window in which a new quota's status is unknown).
pub fn hard(quota: &ResourceQuota) -> ResourceList {
    quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.as_ref())
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(&v.0).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `obj` (of `info`) falls under `quota` (`generic.Matches`): the
/// quota limits something the kind consumes, and the object matches every
/// one of the quota's scopes. Kinds without scopes match no scoped quota.
pub fn matches(info: &ResourceInfo, quota: &ResourceQuota, obj: &Value) -> bool {
    let hard = hard(quota);
    !matching_resources(info, hard.keys()).is_empty()
        && scope_selectors(quota)
            .iter()
            .all(|s| info.strategy.quota_scope_matches(obj, s))
}

/// `quota.Add`: every name of either list, summed.
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut sum = a.clone();
    for (k, v) in b {
        let entry = sum.entry(k.clone()).or_default();
        *entry += *v;
    }
    sum
}

/// `quota.Mask`: only the names in `names`.
pub fn mask(list: &ResourceList, names: &BTreeSet<String>) -> ResourceList {
    list.iter()
        .filter(|(k, _)| names.contains(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// `quota.Max`: each resource at the larger of the two.
pub fn max(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, v) in b {
        let entry = out.entry(k.clone()).or_insert(*v);
        if *v > *entry {
            *entry = *v;
        }
    }
    out
}

/// `quota.SubtractWithNonNegativeResult`: what `a` adds over `b`, never below zero.
pub fn increase(a: &ResourceList, b: &ResourceList) -> ResourceList {
    a.iter()
        .map(|(k, v)| {
            let diff = *v - b.get(k).copied().unwrap_or_default();
            (k.clone(), diff.max(Quantity::default()))
        })
        .collect()
}

/// `quota.RemoveZeros`.
pub fn remove_zeros(list: ResourceList) -> ResourceList {
    list.into_iter().filter(|(_, v)| !v.is_zero()).collect()
}

/// `prettyPrint`: `pods=1,requests.cpu=500m`, sorted by name.
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A resource list as JSON (`{"pods": "2", "requests.cpu": "500m"}`).
pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect::<Map<String, Value>>(),
    )
}

/// The amounts named in a JSON resource list (`requests`, `limits`, `hard`);
/// entries that do not parse are left out (validation refused them already).
pub fn from_json(list: Option<&Value>) -> ResourceList {
    list.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), Quantity::from_json(v).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::lookup;
    use serde_json::json;

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    #[test]
    fn object_counts_are_named_by_resource_and_group() {
        assert_eq!(
            object_count_name(lookup("", "v1", "pods").unwrap()),
            "count/pods"
        );
        assert_eq!(
            object_count_name(lookup("apps", "v1", "deployments").unwrap()),
            "count/deployments.apps"
        );
    }

    #[test]
    fn sums_masks_and_prints_like_kubernetes() {
        let a = list(&[("pods", "1"), ("requests.cpu", "250m")]);
        let b = list(&[("requests.cpu", "250m"), ("requests.memory", "64Mi")]);
        let sum = add(&a, &b);
        assert_eq!(
            pretty_print(&sum),
            "pods=1,requests.cpu=500m,requests.memory=64Mi"
        );
        let names: BTreeSet<String> = ["pods".to_string()].into();
        assert_eq!(pretty_print(&mask(&sum, &names)), "pods=1");
        assert_eq!(
            pretty_print(&remove_zeros(increase(&a, &sum))),
            "",
            "nothing grows"
        );
        assert_eq!(to_json(&a), json!({"pods": "1", "requests.cpu": "250m"}));
    }

    #[test]
    fn a_quota_matches_only_kinds_it_limits_and_their_scopes() {
        let pods = lookup("", "v1", "pods").unwrap();
        let cms = lookup("", "v1", "configmaps").unwrap();
        let quota: ResourceQuota = serde_json::from_value(json!({
            "metadata": {"name": "q"},
            "spec": {"hard": {"pods": "2"}, "scopes": ["BestEffort"]}
        }))
        .unwrap();
        let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
        let burstable = json!({"spec": {"containers": [{"name": "a",
            "resources": {"requests": {"cpu": "100m"}}}]}});
        assert!(matches(pods, &quota, &best_effort));
        assert!(!matches(pods, &quota, &burstable));
        assert!(
            !matches(cms, &quota, &json!({})),
            "configmaps are not limited"
        );
    }
}
