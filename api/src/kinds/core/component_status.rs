//! ComponentStatus (v1, deprecated since 1.19 but served by Kubernetes
//! 1.33 and used by `kubectl get cs` in tutorials): the health of the
//! control plane — the scheduler, the controller-manager and the store.
//!
//! kube-apiserver probes the scheduler's and controller-manager's health
//! ports; minik's API server knows instead whether each holds its watches
//! open (a component that runs watches what it works on), and checks its
//! own store. The store is listed as `store-0`, not `etcd-0`: minik keeps
//! its objects in sled. Read-only, built on each read ([`Backing::ServerState`]).

use crate::kinds::{prelude::*, Backing, ServerView};

/// The ComponentStatus strategy.
pub struct ComponentStatus;

/// `componentstatuses` in core/v1 (cluster-scoped).
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "ComponentStatus",
    "componentstatuses",
    "componentstatus",
    &ComponentStatus,
)
.cluster_scoped()
.short_names(&["cs"]);

const COLUMNS: &[Column] = &[
    NAME,
    string("Status", "Status of the component conditions"),
    string("Message", "Message of the component conditions"),
    string("Error", "Error of the component conditions"),
];

impl Strategy for ComponentStatus {
    fn backing(&self) -> Backing {
        Backing::ServerState
    }
    fn verbs(&self) -> &'static [&'static str] {
        &["get", "list"]
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn deprecation(&self) -> Option<&'static str> {
        Some("v1 ComponentStatus is deprecated in v1.19+")
    }
    fn server_state(&self, view: &dyn ServerView) -> Vec<Value> {
        view.components()
            .into_iter()
            .map(|c| {
                let mut condition = json!({
                    "type": "Healthy",
                    "status": if c.healthy { "True" } else { "False" },
                    "message": c.message,
                });
                if !c.error.is_empty() {
                    condition["error"] = json!(c.error);
                }
                json!({
                    "kind": "ComponentStatus",
                    "apiVersion": "v1",
                    "metadata": {"name": c.name},
                    "conditions": [condition],
                })
            })
            .collect()
    }
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }
    fn cells(&self, obj: &Value, _: Timestamp) -> Vec<Value> {
        let c = &obj["conditions"][0];
        let status = if c["status"] == json!("True") {
            "Healthy"
        } else {
            "Unhealthy"
        };
        vec![
            name_cell(obj),
            status.into(),
            c["message"].as_str().unwrap_or("").into(),
            c["error"].as_str().unwrap_or("").into(),
        ]
    }
}
