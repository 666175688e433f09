//! APIService (apiregistration.k8s.io/v1): one per served group-version,
//! as kube-apiserver's aggregation layer lists them. Every group-version
//! minik serves — built-in, metrics.k8s.io and those CRDs add — is served
//! by the API server itself, so each APIService is `Local` and Available.
//!
//! Read-only and never stored: the API server builds the list from what it
//! serves on each read ([`Backing::ServerState`]). minik has no aggregation
//! layer, so APIServices cannot be created (405): an extension API server
//! cannot be registered.

use crate::kinds::{prelude::*, Backing, ServerView};

/// The APIService strategy.
pub struct ApiService;

/// `apiservices` in apiregistration.k8s.io/v1 (cluster-scoped).
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apiregistration.k8s.io",
    "v1",
    "APIService",
    "apiservices",
    "apiservice",
    &ApiService,
)
.cluster_scoped()
.categories(&["api-extensions"]);

const COLUMNS: &[Column] = &[
    NAME,
    string(
        "Service",
        "The service that serves the group-version (Local: the API server itself)",
    ),
    string("Available", "Whether the group-version is available"),
    col("Age", "date", CREATED_DESC),
];

impl Strategy for ApiService {
    fn backing(&self) -> Backing {
        Backing::ServerState
    }
    fn verbs(&self) -> &'static [&'static str] {
        &["get", "list"]
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn server_state(&self, view: &dyn ServerView) -> Vec<Value> {
        let created = meta::format_timestamp(view.started());
        view.group_versions()
            .into_iter()
            .map(|(group, version)| {
                json!({
                    "kind": "APIService",
                    "apiVersion": "apiregistration.k8s.io/v1",
                    "metadata": {
                        "name": format!("{version}.{group}"),
                        "creationTimestamp": created,
                        "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"},
                    },
                    "spec": {"group": group, "version": version, "groupPriorityMinimum": 1000, "versionPriority": 15},
                    "status": {"conditions": [{
                        "type": "Available", "status": "True", "lastTransitionTime": created,
                        "reason": "Local", "message": "Local APIServices are always available",
                    }]},
                })
            })
            .collect()
    }
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let available = obj
            .pointer("/status/conditions/0/status")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        vec![
            name_cell(obj),
            "Local".into(),
            available.into(),
            age_cell(obj, now),
        ]
    }
}
