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
//! - each component's own role, bound to its identity, holding what it
//!   uses and no more: `system:kube-scheduler` and
//!   `system:volume-scheduler` (the scheduler), `system:node-proxier` and
//!   `system:minik:proxy` (minik-proxy: kube-proxy's rights, plus its
//!   Ingress controller, ServiceLB and NetworkPolicy watches),
//!   `system:coredns` (minik-dns, as kubeadm binds CoreDNS), `system:node`
//!   (kubelets) and `system:minik:controller-manager`.
//!
//! Where minik simplifies: its controller-manager runs every controller
//! under one identity, where Kubernetes gives each controller a
//! ServiceAccount of its own (`--use-service-account-credentials`), so its
//! role is their union: the garbage collector and the namespace controller
//! read, update and delete objects of every kind, custom ones included; it
//! creates only the kinds controllers make, and cannot impersonate,
//! approve, bind or create Secrets. Kubelets are bound to `system:node`
//! (Kubernetes binds nobody to it and grants nodes its rules through the
//! Node authorizer); either way the Node authorizer (`node_authorizer.rs`)
//! judges first what a node may read. The process running many simulated
//! nodes has an identity that is no one node and may read what its pods use.
//! Start-up removes the `minik:components` binding of earlier versions
//! (every component bound to `cluster-admin`) from a resumed cluster.

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

fn role_binding(name: &str, role: &str, subject: Value) -> Value {
    binding(name, role, vec![subject])
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
    let mut roles = vec![
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
    roles.extend(component_roles());
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
        role_binding(
            "system:kube-scheduler",
            "system:kube-scheduler",
            user("system:kube-scheduler"),
        ),
        role_binding(
            "system:volume-scheduler",
            "system:volume-scheduler",
            user("system:kube-scheduler"),
        ),
        role_binding(
            "system:node-proxier",
            "system:node-proxier",
            user("system:kube-proxy"),
        ),
        role_binding(
            "system:minik:proxy",
            "system:minik:proxy",
            user("system:kube-proxy"),
        ),
        role_binding(
            "system:coredns",
            "system:coredns",
            json!({"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}),
        ),
        role_binding("system:node", "system:node", group("system:nodes")),
        role_binding(
            "system:minik:simulated-nodes",
            "system:minik:simulated-nodes",
            user("system:minik:simulated-nodes"),
        ),
        role_binding(
            "system:minik:controller-manager",
            "system:minik:controller-manager",
            user("system:kube-controller-manager"),
        ),
    ];
    (roles, bindings)
}

/// Bootstrap objects of earlier minik versions, removed at start-up.
const RETIRED_BINDINGS: [&str; 1] = ["minik:components"];

/// Events, as every component writes them (core and events.k8s.io).
fn events_rules() -> [Value; 2] {
    let verbs = ["create", "patch", "update"];
    [
        rule(&[""], &["events"], &verbs),
        rule(&["events.k8s.io"], &["events"], &verbs),
    ]
}

/// The roles of minik's own components (Kubernetes' `bootstrappolicy`
/// rules, narrowed or widened to what minik's component does).
fn component_roles() -> Vec<Value> {
    let none = json!({});
    let mut scheduler = vec![
        rule(&[""], &["nodes", "namespaces"], &READ),
        rule(&[""], &["pods"], &["delete", "get", "list", "watch"]),
        rule(&[""], &["bindings", "pods/binding"], &["create"]),
        rule(&[""], &["pods/status"], &["patch", "update"]),
        rule(
            &[""],
            &[
                "replicationcontrollers",
                "services",
                "persistentvolumeclaims",
                "persistentvolumes",
            ],
            &READ,
        ),
        rule(&["apps"], &["replicasets", "statefulsets"], &READ),
        rule(&["policy"], &["poddisruptionbudgets"], &READ),
        rule(&["storage.k8s.io"], &["csinodes", "storageclasses"], &READ),
        rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["create", "get", "update"],
        ),
    ];
    scheduler.extend(events_rules());
    let volume_scheduler = vec![
        rule(
            &[""],
            &["persistentvolumes", "persistentvolumeclaims"],
            &["get", "list", "patch", "update", "watch"],
        ),
        rule(&["storage.k8s.io"], &["storageclasses"], &READ),
    ];
    let mut node_proxier = vec![
        rule(&[""], &["endpoints", "services"], &["list", "watch"]),
        rule(&[""], &["nodes"], &READ),
        rule(
            &["discovery.k8s.io"],
            &["endpointslices"],
            &["list", "watch"],
        ),
    ];
    node_proxier.extend(events_rules());
    let minik_proxy = vec![
        rule(&[""], &["services/status"], &["patch", "update"]),
        rule(&[""], &["pods", "namespaces"], &["list", "watch"]),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "ingressclasses", "networkpolicies"],
            &READ,
        ),
        rule(
            &["networking.k8s.io"],
            &["ingresses/status"],
            &["patch", "update"],
        ),
        // Ingress TLS certificates, as ingress-nginx reads them.
        rule(&[""], &["secrets"], &READ),
    ];
    let coredns = vec![
        rule(
            &[""],
            &["endpoints", "services", "pods", "namespaces"],
            &["list", "watch"],
        ),
        rule(
            &["discovery.k8s.io"],
            &["endpointslices"],
            &["list", "watch"],
        ),
    ];
    let mut node = vec![
        rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        rule(
            &["authorization.k8s.io"],
            &["subjectaccessreviews", "localsubjectaccessreviews"],
            &["create"],
        ),
        rule(&[""], &["services", "nodes"], &READ),
        rule(&[""], &["nodes"], &["create", "patch", "update"]),
        rule(&[""], &["nodes/status"], &["patch", "update"]),
        rule(
            &[""],
            &["pods"],
            &["create", "delete", "get", "list", "watch"],
        ),
        rule(&[""], &["pods/status"], &["patch", "update"]),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(&[""], &["configmaps", "secrets"], &READ),
        rule(
            &[""],
            &["persistentvolumeclaims", "persistentvolumes"],
            &READ,
        ),
        rule(
            &[""],
            &["persistentvolumeclaims/status"],
            &["patch", "update"],
        ),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(
            &["certificates.k8s.io"],
            &["certificatesigningrequests"],
            &["create", "get", "list", "watch"],
        ),
        rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["create", "delete", "get", "patch", "update"],
        ),
        rule(&["storage.k8s.io"], &["csidrivers", "csinodes"], &READ),
        rule(&["node.k8s.io"], &["runtimeclasses"], &READ),
    ];
    node.extend(events_rules());
    let simulated_nodes = vec![rule(
        &[""],
        &[
            "configmaps",
            "secrets",
            "persistentvolumeclaims",
            "persistentvolumes",
        ],
        &READ,
    )];
    let mut controller_manager = vec![
        // The garbage collector, the namespace controller and the status
        // writers reach every kind (custom resources too).
        rule(
            &["*"],
            &["*"],
            &[
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        ),
        // What controllers make.
        rule(
            &[""],
            &[
                "pods",
                "endpoints",
                "configmaps",
                "serviceaccounts",
                "persistentvolumeclaims",
                "persistentvolumes",
            ],
            &["create"],
        ),
        rule(
            &["apps"],
            &["replicasets", "controllerrevisions"],
            &["create"],
        ),
        rule(&["batch"], &["jobs"], &["create"]),
        rule(&["discovery.k8s.io"], &["endpointslices"], &["create"]),
        rule(&["coordination.k8s.io"], &["leases"], &["create"]),
        // The ClusterRole aggregation controller writes rules it need not hold.
        rule(&[GROUP], &["clusterroles"], &["escalate"]),
        // The CSR signer.
        rule(&["certificates.k8s.io"], &["signers"], &["sign"]),
    ];
    controller_manager.extend(events_rules());
    vec![
        cluster_role("system:kube-scheduler", none.clone(), scheduler),
        cluster_role("system:volume-scheduler", none.clone(), volume_scheduler),
        cluster_role("system:node-proxier", none.clone(), node_proxier),
        cluster_role("system:minik:proxy", none.clone(), minik_proxy),
        cluster_role("system:coredns", none.clone(), coredns),
        cluster_role("system:node", none.clone(), node),
        cluster_role(
            "system:minik:simulated-nodes",
            none.clone(),
            simulated_nodes,
        ),
        cluster_role("system:minik:controller-manager", none, controller_manager),
    ]
}

/// Kubernetes' reconciliation of a bootstrap object that exists: unless it
/// says `rbac.authorization.kubernetes.io/autoupdate: "false"`, the rules
/// (or subjects) it lacks are added — what an upgrade brings in — and what
/// was added by hand stays.
fn reconcile(mut existing: Value, wanted: &Value) -> Outcome {
    let autoupdate = existing
        .pointer("/metadata/annotations/rbac.authorization.kubernetes.io~1autoupdate")
        .and_then(Value::as_str);
    if autoupdate == Some("false") {
        return Outcome::Unchanged(existing);
    }
    let mut changed = false;
    for field in ["rules", "subjects"] {
        let Some(want) = wanted.get(field).and_then(Value::as_array) else {
            continue;
        };
        let have = existing[field].as_array().cloned().unwrap_or_default();
        let missing: Vec<Value> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
        // An aggregated role's rules are the aggregation controller's.
        if missing.is_empty() || (field == "rules" && wanted.get("aggregationRule").is_some()) {
            continue;
        }
        existing[field] = Value::Array(have.into_iter().chain(missing).collect());
        changed = true;
    }
    if changed {
        Outcome::Put(existing)
    } else {
        Outcome::Unchanged(existing)
    }
}

/// Creates each bootstrap role and binding that does not exist yet, and
/// removes retired bootstrap bindings (only if still labelled as such).
pub async fn ensure(writer: &Writer) -> Result<(), ApiError> {
    let info = catalogue::lookup(GROUP, "v1", "clusterrolebindings").expect("RBAC is served");
    for name in RETIRED_BINDINGS {
        let target = Target::new(info, None, Some(name.to_string()));
        writer
            .mutate(
                target.key(),
                Box::new(|current| {
                    Ok(match current {
                        Some(old)
                            if old.pointer("/metadata/labels/kubernetes.io~1bootstrapping")
                                == Some(&json!("rbac-defaults")) =>
                        {
                            Outcome::Delete
                        }
                        Some(other) => Outcome::Unchanged(other),
                        None => Outcome::Unchanged(Value::Null),
                    })
                }),
            )
            .await?;
    }
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
                            Some(existing) => reconcile(existing, &obj),
                            None => Outcome::Put(obj),
                        })
                    }),
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(rules: Value, annotations: Value) -> Value {
        json!({"metadata": {"name": "r", "annotations": annotations}, "rules": rules})
    }

    #[test]
    fn reconciling_adds_what_is_missing_and_keeps_what_was_added() {
        let a = rule(&[""], &["pods"], &["get"]);
        let b = rule(&[""], &["secrets"], &["list"]);
        let mine = rule(&[""], &["configmaps"], &["get"]);
        let wanted = role(json!([a, b]), json!({}));
        let Outcome::Put(updated) = reconcile(role(json!([a, mine]), json!({})), &wanted) else {
            panic!("a missing rule is added");
        };
        assert_eq!(updated["rules"], json!([a, mine, b]));
        assert!(matches!(reconcile(updated, &wanted), Outcome::Unchanged(_)));
        let frozen = role(
            json!([a]),
            json!({"rbac.authorization.kubernetes.io/autoupdate": "false"}),
        );
        assert!(matches!(reconcile(frozen, &wanted), Outcome::Unchanged(_)));
    }
}
