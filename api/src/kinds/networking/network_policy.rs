//! NetworkPolicy (networking.k8s.io/v1): which pods may talk to which.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

/// The NetworkPolicy strategy.
pub struct NetworkPolicy;

/// `networkpolicies` in networking.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "networking.k8s.io",
    "v1",
    "NetworkPolicy",
    "networkpolicies",
    "networkpolicy",
    &NetworkPolicy,
)
.short_names(&["netpol"]);

impl Strategy for NetworkPolicy {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::networking::v1::NetworkPolicy>(obj))
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_network_policy(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_network_policy(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        NETWORKPOLICY_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        networkpolicy_cells(obj, now)
    }
}

fn validate_network_policy(np: &Value, errs: &mut Errs) {
    let spec = &np["spec"];
    errs.extend(selectors::validate_label_selector(
        &spec["podSelector"],
        "spec.podSelector",
    ));
    for (i, t) in items(spec, "policyTypes").iter().enumerate() {
        let t = t.as_str().unwrap_or("");
        if !matches!(t, "Ingress" | "Egress") {
            errs.push(FieldError::not_supported(
                format!("spec.policyTypes[{i}]"),
                Value::from(t),
                &["Ingress", "Egress"],
            ));
        }
    }
    for dir in ["ingress", "egress"] {
        for (i, rule) in items(spec, dir).iter().enumerate() {
            for (j, port) in items(rule, "ports").iter().enumerate() {
                let p = format!("spec.{dir}[{i}].ports[{j}]");
                if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
                    if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                        errs.push(FieldError::not_supported(
                            format!("{p}.protocol"),
                            Value::from(proto),
                            &["SCTP", "TCP", "UDP"],
                        ));
                    }
                }
                if let Some(port_value) = port.get("port").filter(|v| !v.is_null()) {
                    validate_port_value(Some(port_value), &format!("{p}.port"), errs);
                }
            }
        }
    }
}

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`.
fn default_network_policy(np: &mut Obj) {
    let Some(spec) = child(np, "spec") else {
        return;
    };
    for dir in ["ingress", "egress"] {
        for rule in each_item(spec, dir) {
            for p in each_item(rule, "ports") {
                default_value(p, "protocol", json!("TCP"));
            }
        }
    }
    if !non_empty(spec, "policyTypes") {
        let mut types = vec![json!("Ingress")];
        if non_empty(spec, "egress") {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

const NETWORKPOLICY_COLUMNS: &[Column] = &[
    NAME,
    string("Pod-Selector", "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace."),
    AGE,
];

fn networkpolicy_cells(np: &Value, now: Timestamp) -> Vec<Value> {
    // The pod selector is a value, not a pointer, in kube: absent means empty.
    let selector = np
        .pointer("/spec/podSelector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    vec![
        name_cell(np),
        format_label_selector(Some(&selector)).into(),
        age_cell(np, now),
    ]
}
