//! The two small matching languages scheduling decisions are written in:
//! tolerations against taints, and node selector terms against a node.
//!
//! Mirrors `v1helper.TolerationsTolerateTaint` / `Toleration.ToleratesTaint`
//! and `component-helpers/scheduling/corev1/nodeaffinity` (`NodeSelector`,
//! `nodeSelectorRequirementsAsSelector`, `PreferredSchedulingTerms`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};

/// `Toleration.ToleratesTaint`: an empty effect matches every effect, an
/// empty key (only valid with `Exists`) every key; `Equal` (the default
/// operator) compares values, `Exists` ignores them.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty()) {
        if key != taint.key {
            return false;
        }
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// One node selector term: all its expressions and fields must hold. A term
/// with neither matches nothing, as in Kubernetes; so does a term with a
/// malformed requirement (e.g. `Gt` with a non-integer).
pub fn term_matches(
    term: &NodeSelectorTerm,
    node_name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|r| label_requirement_matches(r, labels))
        && fields
            .iter()
            .all(|r| field_requirement_matches(r, node_name))
}

/// Terms are ORed: any matching term admits the node.
pub fn any_term_matches(
    terms: &[NodeSelectorTerm],
    node_name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    terms.iter().any(|t| term_matches(t, node_name, labels))
}

fn label_requirement_matches(
    req: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let value = labels.get(&req.key);
    match req.operator.as_str() {
        "In" => !values.is_empty() && value.is_some_and(|v| values.contains(v)),
        "NotIn" => !values.is_empty() && value.is_none_or(|v| !values.contains(v)),
        "Exists" => values.is_empty() && value.is_some(),
        "DoesNotExist" => values.is_empty() && value.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), [bound]) = (value, values) else {
                return false;
            };
            let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                return false;
            };
            if op == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// `matchFields` supports only `metadata.name` with `In` / `NotIn`.
fn field_requirement_matches(req: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    if req.key != "metadata.name" || values.len() != 1 {
        return false;
    }
    match req.operator.as_str() {
        "In" => values[0] == node_name,
        "NotIn" => values[0] != node_name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn term(v: serde_json::Value) -> NodeSelectorTerm {
        serde_json::from_value(v).unwrap()
    }

    fn tol(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).unwrap()
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()).filter(|v: &String| !v.is_empty()),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn operators() {
        let l = labels(&[("disk", "ssd"), ("cores", "8")]);
        let m =
            |e: serde_json::Value| term_matches(&term(json!({"matchExpressions": [e]})), "n1", &l);
        assert!(m(
            json!({"key": "disk", "operator": "In", "values": ["ssd", "nvme"]})
        ));
        assert!(!m(
            json!({"key": "disk", "operator": "In", "values": ["hdd"]})
        ));
        assert!(m(
            json!({"key": "disk", "operator": "NotIn", "values": ["hdd"]})
        ));
        assert!(m(
            json!({"key": "zone", "operator": "NotIn", "values": ["a"]})
        ));
        assert!(m(json!({"key": "disk", "operator": "Exists"})));
        assert!(m(json!({"key": "gpu", "operator": "DoesNotExist"})));
        assert!(m(
            json!({"key": "cores", "operator": "Gt", "values": ["4"]})
        ));
        assert!(!m(
            json!({"key": "cores", "operator": "Lt", "values": ["4"]})
        ));
        assert!(
            !m(json!({"key": "disk", "operator": "Gt", "values": ["4"]})),
            "not an integer"
        );
        assert!(
            !term_matches(&term(json!({})), "n1", &l),
            "empty term matches nothing"
        );
        let by_name = |op: &str| {
            term(
                json!({"matchFields": [{"key": "metadata.name", "operator": op, "values": ["n1"]}]}),
            )
        };
        assert!(term_matches(&by_name("In"), "n1", &l));
        assert!(!term_matches(&by_name("NotIn"), "n1", &l));
    }

    #[test]
    fn toleration_rules() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(
            &tol(json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})),
            &t
        ));
        assert!(tolerates(
            &tol(json!({"key": "dedicated", "operator": "Exists"})),
            &t
        ));
        assert!(tolerates(&tol(json!({"operator": "Exists"})), &t));
        assert!(!tolerates(
            &tol(json!({"key": "dedicated", "value": "cpu"})),
            &t
        ));
        assert!(!tolerates(
            &tol(json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})),
            &t
        ));
        let no_value = taint("node.kubernetes.io/unreachable", "", "NoSchedule");
        assert!(tolerates(
            &tol(json!({"key": "node.kubernetes.io/unreachable", "operator": "Equal"})),
            &no_value
        ));
    }
}
