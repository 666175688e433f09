//! Node (core/v1): a machine the kubelet registers and reports on.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The Node strategy.
pub struct Node;

/// `nodes` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new("", "v1", "Node", "nodes", "node", &Node)
    .cluster_scoped()
    .short_names(&["no"])
    .subresources(&["status", "proxy"]);

impl Strategy for Node {
    fn field_labels(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::Node>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::Node>(g))
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_node(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_node(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        NODE_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        node_cells(obj, now)
    }
}

/// `ValidateNode`: taints and resource quantities.
fn validate_node(obj: &Value, errs: &mut Errs) {
    let Some(node) = typed::<core::Node>(obj, errs) else {
        return;
    };
    let mut seen = HashSet::new();
    let taints = node.spec.and_then(|s| s.taints).unwrap_or_default();
    for (i, taint) in taints.iter().enumerate() {
        let p = format!("metadata.taints[{i}]");
        let key = taint.key.as_str();
        for msg in names::is_qualified_name(key) {
            errs.push(FieldError::invalid(
                format!("{p}.key"),
                Value::from(key),
                msg,
            ));
        }
        let value = opt_str(&taint.value);
        let msgs = names::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("{p}.value"),
                Value::from(value),
                msgs.join(";"),
            ));
        }
        let effect = taint.effect.as_str();
        match effect {
            "" => errs.push(FieldError::required(format!("{p}.effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errs.push(FieldError::not_supported(
                format!("{p}.effect"),
                Value::from(other),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((key, effect)) {
            errs.push(FieldError {
                kind: ErrorType::Duplicate,
                field: p,
                value: Some(json_of(taint)),
                detail: "taints must be unique by key and effect pair".into(),
            });
        }
    }
    let status = node.status.unwrap_or_default();
    validate_resource_list(&json_of(&status.capacity), "status.capacity", errs);
    validate_resource_list(&json_of(&status.allocatable), "status.allocatable", errs);
}

/// `SetDefaults_NodeStatus`: allocatable defaults to capacity.
fn default_node(node: &mut Obj) {
    let Some(status) = existing(node, "status") else {
        return;
    };
    for key in ["capacity", "allocatable"] {
        if let Some(list) = existing(status, key) {
            canonicalize_quantities(list);
        }
    }
    if non_empty(status, "capacity") && !non_empty(status, "allocatable") {
        if let Some(cap) = status.get("capacity").cloned() {
            status.insert("allocatable".into(), cap);
        }
    }
}

const NODE_COLUMNS: &[Column] = &[
    NAME,
    string("Status", "The status of the node"),
    string("Roles", "The roles of the node"),
    AGE,
    string("Version", "Kubelet Version reported by the node."),
    wide("Internal-IP", NODE_ADDRESSES_DESC),
    wide("External-IP", NODE_ADDRESSES_DESC),
    wide("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    wide("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    wide("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
];

const NODE_ADDRESSES_DESC: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let roles = node_roles(node);
    let info =
        |field: &str| or_unknown(text(node, &format!("/status/nodeInfo/{field}"))).to_string();
    vec![
        name_cell(node),
        node_status(node).into(),
        if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }
        .into(),
        age_cell(node, now),
        text(node, "/status/nodeInfo/kubeletVersion").into(),
        node_address(node, "InternalIP").into(),
        node_address(node, "ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// `Ready`, `NotReady` or `Unknown`, plus `,SchedulingDisabled` when cordoned.
fn node_status(node: &Value) -> String {
    let ready = items_at(node, "/status/conditions")
        .iter()
        .rev() // the last Ready condition wins, as with kube's map of conditions
        .find(|c| text(c, "/type") == "Ready");
    let mut status = match ready {
        Some(c) if text(c, "/status") == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if flag(node, "/spec/unschedulable") {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Roles from `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role=<role>`, sorted.
fn node_roles(node: &Value) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for (key, value) in meta::labels(node) {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == "kubernetes.io/role" {
            if let Some(role) = value.as_str().filter(|r| !r.is_empty()) {
                roles.insert(role.to_string());
            }
        }
    }
    roles.into_iter().collect()
}

fn node_address(node: &Value, address_type: &str) -> String {
    items_at(node, "/status/addresses")
        .iter()
        .find(|a| text(a, "/type") == address_type)
        .map(|a| text(a, "/address").to_string())
        .unwrap_or_else(|| "<none>".into())
}
