//! PodDisruptionBudget (policy/v1): how many of a set of pods must stay
//! available while they are evicted (`kubectl drain`, the `pods/eviction`
//! subresource). The disruption controller keeps its status; the eviction
//! handler reads and decrements it.
//!
//! Its strategy: served resource, typed form, validation and table columns
//! (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

/// The PodDisruptionBudget strategy.
pub struct PodDisruptionBudget;

/// `poddisruptionbudgets` in policy/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "policy",
    "v1",
    "PodDisruptionBudget",
    "poddisruptionbudgets",
    "poddisruptionbudget",
    &PodDisruptionBudget,
)
.short_names(&["pdb"])
.subresources(&["status"]);

impl Strategy for PodDisruptionBudget {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_pdb(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        PDB_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pdb_cells(obj, now)
    }
}

/// `ValidatePodDisruptionBudgetSpec` (policy/v1: an empty selector is
/// allowed and selects nothing).
fn validate_pdb(obj: &Value, errs: &mut Errs) {
    let Some(pdb) = typed::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(obj, errs) else {
        return;
    };
    let spec = pdb.spec.unwrap_or_default();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errs.push(FieldError::invalid(
            "spec",
            json_of(&spec),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    validate_int_or_percent(spec.min_available.as_ref(), "spec.minAvailable", true, errs);
    validate_int_or_percent(
        spec.max_unavailable.as_ref(),
        "spec.maxUnavailable",
        true,
        errs,
    );
    if let Some(selector) = &spec.selector {
        errs.extend(selectors::validate_label_selector(
            &json_of(selector),
            "spec.selector",
        ));
    }
    if let Some(policy) = &spec.unhealthy_pod_eviction_policy {
        if !matches!(policy.as_str(), "IfHealthyBudget" | "AlwaysAllow") {
            errs.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                Value::from(policy.as_str()),
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
}

const PDB_COLUMNS: &[Column] = &[
    NAME,
    string(
        "Min Available",
        "The minimum number of pods that must be available.",
    ),
    string(
        "Max Unavailable",
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

fn pdb_cells(pdb: &Value, now: Timestamp) -> Vec<Value> {
    let shown = |field: &str| match pdb["spec"].get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "N/A".into(),
    };
    vec![
        name_cell(pdb),
        shown("minAvailable").into(),
        shown("maxUnavailable").into(),
        json!(int(pdb, "/status/disruptionsAllowed")),
        age_cell(pdb, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: Value) -> Vec<String> {
        let mut errs = Errs::new();
        validate_pdb(&json!({"metadata": {"name": "p"}, "spec": spec}), &mut errs);
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn one_of_min_and_max() {
        assert!(
            errors(json!({"minAvailable": 2, "selector": {"matchLabels": {"a": "b"}}})).is_empty()
        );
        assert!(errors(json!({"maxUnavailable": "50%"})).is_empty());
        let both = errors(json!({"minAvailable": 1, "maxUnavailable": 1}));
        assert_eq!(both.len(), 1);
        assert!(
            both[0].ends_with("minAvailable and maxUnavailable cannot be both set"),
            "{both:?}"
        );
        assert_eq!(
            errors(json!({"maxUnavailable": "150%"})),
            ["spec.maxUnavailable: Invalid value: 150%: must not be greater than 100%"]
        );
        assert_eq!(
            errors(json!({"minAvailable": -1})),
            ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            errors(json!({"unhealthyPodEvictionPolicy": "Sometimes"})).len(),
            1
        );
    }
}
