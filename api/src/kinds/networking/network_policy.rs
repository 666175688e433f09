//! NetworkPolicy (networking.k8s.io/v1): which pods may talk to which.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::networking::v1 as networking;

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
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::networking::v1::NetworkPolicy>(g))
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

fn validate_network_policy(obj: &Value, errs: &mut Errs) {
    let Some(np) = typed::<networking::NetworkPolicy>(obj, errs) else {
        return;
    };
    let spec = np.spec.unwrap_or_default();
    errs.extend(selectors::validate_label_selector(
        &json_of(&spec.pod_selector),
        "spec.podSelector",
    ));
    for (i, t) in list(&spec.policy_types).iter().enumerate() {
        if !matches!(t.as_str(), "Ingress" | "Egress") {
            errs.push(FieldError::not_supported(
                format!("spec.policyTypes[{i}]"),
                Value::from(t.as_str()),
                &["Ingress", "Egress"],
            ));
        }
    }
    let ingress = list(&spec.ingress).iter().map(|r| list(&r.ports));
    let egress = list(&spec.egress).iter().map(|r| list(&r.ports));
    for (dir, rules) in [
        ("ingress", ingress.collect::<Vec<_>>()),
        ("egress", egress.collect()),
    ] {
        for (i, ports) in rules.into_iter().enumerate() {
            for (j, port) in ports.iter().enumerate() {
                let p = format!("spec.{dir}[{i}].ports[{j}]");
                if let Some(proto) = port.protocol.as_deref() {
                    if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                        errs.push(FieldError::not_supported(
                            format!("{p}.protocol"),
                            Value::from(proto),
                            &["SCTP", "TCP", "UDP"],
                        ));
                    }
                }
                if let Some(port_value) = &port.port {
                    validate_port_num_or_name(port_value, &format!("{p}.port"), errs);
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
