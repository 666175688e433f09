//! The RBAC roles and bindings every cluster starts with (kube-apiserver's
//! `bootstrappolicy`), created at start-up when missing and left alone
//! once they exist (Kubernetes also re-adds missing rules to objects
//! annotated `rbac.authorization.kubernetes.io/autoupdate`):
//! - `cluster-admin`, bound to the group `system:masters`;
//! - `admin`, `edit` and `view`, aggregated from the
//!   `system:aggregate-to-*` roles through their labels, as in Kubernetes,
//!   so a CRD's roles can join them;
//! - `system:discovery` and `system:basic-user` (discovery, and asking what
//!   one may do) for every authenticated user; `system:public-info-viewer`
//!   (health and version) for everyone, signed in or not.
//!
//! Where minik simplifies: its components are bound to `cluster-admin`
//! (`minik:components`) instead of Kubernetes' least-privilege
//! `system:kube-scheduler`, `system:node`, … roles — minik's
//! controller-manager runs every controller under one identity, where
//! Kubernetes gives each controller a ServiceAccount of its own.

use minik_api::catalogue;
use serde_json::{json, Value};

use crate::commit::{Outcome, Writer};
use crate::error::ApiError;
use crate::registry;
use crate::request::Target;

const GROUP: &str = "rbac.authorization.k8s.io";
const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 5] = ["create", "delete", "deletecollection", "patch", "update"];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn url_rule(urls: &[&str]) -> Value {
    json!({"nonResourceURLs": urls, "verbs": ["get"]})
}

fn metadata(name: &str, labels: Value) -> Value {
    let mut labels = labels;
    labels["kubernetes.io/bootstrapping"] = json!("rbac-defaults");
    json!({
        "name": name,
        "labels": labels,
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

fn cluster_role(name: &str, labels: Value, rules: Vec<Value>) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": metadata(name, labels), "rules": rules})
}

fn aggregated(name: &str, labels: Value, selector: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": metadata(name, labels),
           "aggregationRule": {"clusterRoleSelectors": [
               {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{selector}"): "true"}}
           ]},
           "rules": []})
}

fn binding(name: &str, role: &str, subjects: Vec<Value>) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": metadata(name, json!({})),
           "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
           "subjects": subjects})
}

fn group(name: &str) -> Value {
    json!({"apiGroup": GROUP, "kind": "Group", "name": name})
}

fn user(name: &str) -> Value {
    json!({"apiGroup": GROUP, "kind": "User", "name": name})
}

fn aggregate_to(role: &str) -> Value {
    json!({format!("rbac.authorization.k8s.io/aggregate-to-{role}"): "true"})
}

/// The ClusterRoles, then the ClusterRoleBindings.
pub fn objects() -> (Vec<Value>, Vec<Value>) {
    let view = vec![
        rule(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
                "namespaces",
            ],
            &READ,
        ),
        rule(&["discovery.k8s.io"], &["endpointslices"], &READ),
        rule(
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            &READ,
        ),
        rule(
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
            &READ,
        ),
        rule(
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
            &READ,
        ),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
            &READ,
        ),
        rule(
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
            &READ,
        ),
        rule(&["metrics.k8s.io"], &["pods", "nodes"], &READ),
    ];
    let edit = vec![
        rule(
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
            &READ,
        ),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
        rule(
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
            &WRITE,
        ),
        rule(
            &[""],
            &["pods/eviction", "serviceaccounts/token"],
            &["create"],
        ),
        rule(
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            &WRITE,
        ),
        rule(
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            &WRITE,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers"], &WRITE),
        rule(&["batch"], &["cronjobs", "jobs"], &WRITE),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
            &WRITE,
        ),
        rule(&["policy"], &["poddisruptionbudgets"], &WRITE),
    ];
    let admin = vec![
        rule(
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
            &["create"],
        ),
        rule(
            &[GROUP],
            &["rolebindings", "roles"],
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        ),
    ];
    let public = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
    let discovery = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ];
    let roles = vec![
        cluster_role(
            "cluster-admin",
            json!({}),
            vec![
                rule(&["*"], &["*"], &["*"]),
                json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
            ],
        ),
        aggregated("admin", json!({}), "admin"),
        aggregated("edit", aggregate_to("admin"), "edit"),
        aggregated("view", aggregate_to("edit"), "view"),
        cluster_role("system:aggregate-to-admin", aggregate_to("admin"), admin),
        cluster_role("system:aggregate-to-edit", aggregate_to("edit"), edit),
        cluster_role("system:aggregate-to-view", aggregate_to("view"), view),
        cluster_role("system:discovery", json!({}), vec![url_rule(&discovery)]),
        cluster_role(
            "system:public-info-viewer",
            json!({}),
            vec![url_rule(&public)],
        ),
        cluster_role(
            "system:basic-user",
            json!({}),
            vec![
                rule(
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    &["create"],
                ),
                rule(
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                    &["create"],
                ),
            ],
        ),
    ];
    let bindings = vec![
        binding(
            "cluster-admin",
            "cluster-admin",
            vec![group("system:masters")],
        ),
        binding(
            "system:discovery",
            "system:discovery",
            vec![group("system:authenticated")],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            vec![group("system:authenticated")],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            vec![
                group("system:authenticated"),
                group("system:unauthenticated"),
            ],
        ),
        binding(
            "minik:components",
            "cluster-admin",
            vec![
                user("system:kube-controller-manager"),
                user("system:kube-scheduler"),
                user("system:kube-proxy"),
                group("system:nodes"),
                json!({"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}),
            ],
        ),
    ];
    (roles, bindings)
}

/// Creates each bootstrap role and binding that does not exist yet.
pub async fn ensure(writer: &Writer) -> Result<(), ApiError> {
    let (roles, bindings) = objects();
    for (plural, objects) in [("clusterroles", roles), ("clusterrolebindings", bindings)] {
        let info = catalogue::lookup(GROUP, "v1", plural).expect("RBAC is served");
        for mut obj in objects {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let target = Target::new(info, None, Some(name));
            registry::prepare_create(&target, &mut obj)?;
            writer
                .mutate(
                    target.key(),
                    Box::new(move |current| {
                        Ok(match current {
                            Some(existing) => Outcome::Unchanged(existing),
                            None => Outcome::Put(obj),
                        })
                    }),
                )
                .await?;
        }
    }
    Ok(())
}
