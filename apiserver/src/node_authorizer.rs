//! The Node authorizer (kube-apiserver's `--authorization-mode=Node,RBAC`)
//! and the checks of the NodeRestriction admission plugin: a kubelet
//! (`system:node:<name>` in `system:nodes`) may read only the Secrets,
//! ConfigMaps, PersistentVolumeClaims and PersistentVolumes of the pods
//! bound to its node, ask tokens only for their ServiceAccounts, and
//! change only its own Node, Lease and pods. Everything else it may do is
//! RBAC's `system:node` role.
//!
//! The relationships come from a graph, as in Kubernetes: an index of
//! which node's pods refer to which object, built from the store at start
//! and kept current by following the hub's changes (a background task).
//! A kubelet sees a new pod through its watch perhaps before the graph has
//! followed the same change, so a refusal first waits (briefly) for the
//! graph to reach the newest revision and asks again.
//!
//! Where minik simplifies: the graph is pods → objects; a PersistentVolume
//! is related through its bound claim read at request time; ephemeral
//! volumes' claims, CSI secrets and ResourceClaims are not followed; a
//! node may list and watch every pod (Kubernetes lets it, too, unless
//! `AuthorizeNodeWithSelectors` asks for a `spec.nodeName` selector).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use minik_api::catalogue;
use serde_json::Value;
use tokio::sync::watch;

use crate::authentication::User;
use crate::authorization::Attributes;
use crate::hub::{EventType, Hub};
use crate::store::Store;

/// The group every kubelet's identity is in.
pub const NODES_GROUP: &str = "system:nodes";
/// How a kubelet's user name starts.
const NODE_USER_PREFIX: &str = "system:node:";
/// How long a refusal waits for the graph to catch up with the store.
const CATCH_UP: Duration = Duration::from_secs(2);
/// Changes read from the hub per step.
const BATCH: usize = 1000;

/// The node a user speaks for, if it is a kubelet's identity.
pub fn node_of(user: &User) -> Option<&str> {
    user.name
        .strip_prefix(NODE_USER_PREFIX)
        .filter(|n| !n.is_empty() && user.in_group(NODES_GROUP))
}

/// What the Node authorizer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a node, or not a request it judges: RBAC decides.
    NoOpinion,
    Allow,
    /// Refused, and why (appended to the 403's message).
    Deny(String),
    /// Refused as the NodeRestriction admission plugin refuses: the
    /// 403's message is `<resource> "<name>" is forbidden: <why>`.
    Restricted(String),
}

/// An object a pod refers to: (resource, namespace, name).
type Ref = (&'static str, String, String);

#[derive(Default)]
struct Index {
    /// Pod storage key → (its node, what it refers to).
    pods: HashMap<String, (String, Vec<Ref>)>,
    /// Object → how many pods of each node refer to it.
    refs: HashMap<Ref, HashMap<String, usize>>,
}

impl Index {
    fn remove(&mut self, key: &str) {
        let Some((node, refs)) = self.pods.remove(key) else {
            return;
        };
        for r in refs {
            if let Some(nodes) = self.refs.get_mut(&r) {
                if let Some(n) = nodes.get_mut(&node) {
                    *n -= 1;
                    if *n == 0 {
                        nodes.remove(&node);
                    }
                }
                if nodes.is_empty() {
                    self.refs.remove(&r);
                }
            }
        }
    }

    fn put(&mut self, key: &str, pod: &Value) {
        self.remove(key);
        let Some(node) = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            return;
        };
        let refs = references(pod);
        for r in &refs {
            *self
                .refs
                .entry(r.clone())
                .or_default()
                .entry(node.to_string())
                .or_default() += 1;
        }
        self.pods.insert(key.to_string(), (node.to_string(), refs));
    }
}

/// What a pod refers to, as the graph populator reads it.
fn references(pod: &Value) -> Vec<Ref> {
    let ns = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out: Vec<Ref> = Vec::new();
    let mut add = |resource: &'static str, name: Option<&Value>| {
        if let Some(name) = name.and_then(Value::as_str).filter(|n| !n.is_empty()) {
            out.push((resource, ns.to_string(), name.to_string()));
        }
    };
    let spec = &pod["spec"];
    add(
        "serviceaccounts",
        Some(spec.get("serviceAccountName").unwrap_or(&Value::Null)),
    );
    for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        add("secrets", s.get("name"));
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            for e in c["env"].as_array().into_iter().flatten() {
                add("secrets", e.pointer("/valueFrom/secretKeyRef/name"));
                add("configmaps", e.pointer("/valueFrom/configMapKeyRef/name"));
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                add("secrets", e.pointer("/secretRef/name"));
                add("configmaps", e.pointer("/configMapRef/name"));
            }
        }
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        add("secrets", v.pointer("/secret/secretName"));
        add("configmaps", v.pointer("/configMap/name"));
        add(
            "persistentvolumeclaims",
            v.pointer("/persistentVolumeClaim/claimName"),
        );
        for s in v
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add("secrets", s.pointer("/secret/name"));
            add("configmaps", s.pointer("/configMap/name"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The pods → objects graph, followed from the hub.
pub struct NodeGraph {
    store: Arc<dyn Store>,
    index: RwLock<Index>,
    /// The newest revision the index reflects.
    followed: watch::Sender<u64>,
    hub_revision: watch::Receiver<u64>,
}

impl NodeGraph {
    /// Builds the index from the store and follows the hub from there
    /// (a task on the current runtime, ending when the hub closes).
    pub fn start(store: Arc<dyn Store>, hub: &Arc<Hub>) -> Arc<Self> {
        let hub_revision = hub.published();
        let revision = *hub_revision.borrow();
        let graph = Arc::new(Self {
            store,
            index: RwLock::default(),
            followed: watch::Sender::new(0),
            hub_revision,
        });
        graph.rebuild(revision);
        let (g, h) = (graph.clone(), hub.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = g.follow(&h, revision) => {}
                _ = h.closed() => {}
            }
        });
        graph
    }

    fn pods_prefix() -> String {
        catalogue::lookup("", "v1", "pods")
            .expect("pods are served")
            .key_prefix()
    }

    /// Reads every pod from the store (at start, or when the hub's history
    /// no longer reaches back to what was followed).
    fn rebuild(&self, revision: u64) {
        let mut index = Index::default();
        let scanned = self
            .store
            .scan(&Self::pods_prefix(), None, &mut |key, bytes| {
                if let Ok(pod) = serde_json::from_slice::<Value>(bytes) {
                    index.put(key, &pod);
                }
                true
            });
        if let Err(error) = scanned {
            tracing::error!(%error, "node authorizer: reading pods");
        }
        *self.index.write().unwrap() = index;
        self.followed.send_replace(revision);
    }

    async fn follow(&self, hub: &Hub, mut revision: u64) {
        let prefix = Self::pods_prefix();
        let mut published = hub.published();
        loop {
            match hub.changes_after(revision, BATCH) {
                Ok(changes) => {
                    let full = changes.len() == BATCH;
                    if let Some(last) = changes.last() {
                        let mut index = self.index.write().unwrap();
                        for c in changes.iter().filter(|c| c.key.starts_with(&prefix)) {
                            match c.event_type {
                                EventType::Deleted => index.remove(&c.key),
                                _ => index.put(&c.key, &c.decode_object()),
                            }
                        }
                        revision = last.revision;
                    }
                    self.followed.send_replace(revision);
                    if full {
                        continue;
                    }
                }
                Err(_) => {
                    let now = *published.borrow();
                    self.rebuild(now);
                    revision = now;
                }
            }
            if published.wait_for(|r| *r > revision).await.is_err() {
                return;
            }
        }
    }

    /// Whether a pod on `node` refers to the object.
    fn related(&self, node: &str, resource: &str, namespace: &str, name: &str) -> bool {
        let index = self.index.read().unwrap();
        let key: Ref = match resource {
            "secrets" => ("secrets", namespace.into(), name.into()),
            "configmaps" => ("configmaps", namespace.into(), name.into()),
            "persistentvolumeclaims" => ("persistentvolumeclaims", namespace.into(), name.into()),
            "serviceaccounts" => ("serviceaccounts", namespace.into(), name.into()),
            "persistentvolumes" => {
                // Through a claim of the node's pods that is bound to it.
                let claims: Vec<Ref> = index
                    .refs
                    .iter()
                    .filter(|(r, nodes)| {
                        r.0 == "persistentvolumeclaims" && nodes.contains_key(node)
                    })
                    .map(|(r, _)| r.clone())
                    .collect();
                drop(index);
                return claims
                    .iter()
                    .any(|(_, ns, claim)| self.claim_volume(ns, claim).as_deref() == Some(name));
            }
            _ => return false,
        };
        index
            .refs
            .get(&key)
            .is_some_and(|nodes| nodes.contains_key(node))
    }

    /// The volume a claim is bound to, read from the store.
    fn claim_volume(&self, namespace: &str, claim: &str) -> Option<String> {
        let info = catalogue::lookup("", "v1", "persistentvolumeclaims")?;
        let key = format!("{}{namespace}/{claim}", info.key_prefix());
        let bytes = self.store.get(&key).ok()??;
        let pvc: Value = serde_json::from_slice(&bytes).ok()?;
        pvc.pointer("/spec/volumeName")?.as_str().map(String::from)
    }

    /// The node a pod is bound to, read from the store.
    fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
        let key = format!("{}{namespace}/{name}", Self::pods_prefix());
        let bytes = self.store.get(&key).ok()??;
        let pod: Value = serde_json::from_slice(&bytes).ok()?;
        pod.pointer("/spec/nodeName")?.as_str().map(String::from)
    }

    /// Waits (at most [`CATCH_UP`]) until the graph reflects every change
    /// published so far.
    pub async fn catch_up(&self) {
        let wanted = *self.hub_revision.borrow();
        let mut followed = self.followed.subscribe();
        let _ = tokio::time::timeout(CATCH_UP, followed.wait_for(|r| *r >= wanted)).await;
    }

    /// The Node authorizer's decision, then NodeRestriction's.
    pub fn decide(&self, user: &User, attrs: &Attributes) -> Decision {
        let Some(node) = node_of(user) else {
            return Decision::NoOpinion;
        };
        if !attrs.resource_request
            || !attrs.api_group.is_empty() && attrs.api_group != "coordination.k8s.io"
        {
            return Decision::NoOpinion;
        }
        let resource = attrs.resource.as_str();
        let sub = attrs.subresource.as_str();
        let verb = attrs.verb.as_str();
        match (attrs.api_group.as_str(), resource, sub) {
            ("", "secrets" | "configmaps" | "persistentvolumeclaims" | "persistentvolumes", "") => {
                if !matches!(verb, "get" | "list" | "watch") || attrs.name.is_empty() {
                    return Decision::Deny(
                        "can only read individual resources of this type".into(),
                    );
                }
                self.relationship(node, resource, &attrs.namespace, &attrs.name)
            }
            ("", "serviceaccounts", "token") if verb == "create" => {
                self.relationship(node, resource, &attrs.namespace, &attrs.name)
            }
            ("", "nodes", "" | "status") if changes(verb, &attrs.name) && attrs.name != node => {
                Decision::Restricted(format!(
                    "node {node:?} is not allowed to modify node {:?}",
                    attrs.name
                ))
            }
            ("", "pods", "" | "status") if changes(verb, &attrs.name) => {
                match self.pod_node(&attrs.namespace, &attrs.name) {
                    Some(bound) if bound != node => Decision::Restricted(format!(
                        "node {node:?} can only modify pods with spec.nodeName set to itself"
                    )),
                    _ => Decision::NoOpinion,
                }
            }
            ("coordination.k8s.io", "leases", "")
                if changes(verb, &attrs.name)
                    && attrs.namespace == "kube-node-lease"
                    && attrs.name != node =>
            {
                Decision::Restricted(
                    "can only access node lease with the same name as the requesting node".into(),
                )
            }
            _ => Decision::NoOpinion,
        }
    }

    fn relationship(&self, node: &str, resource: &str, namespace: &str, name: &str) -> Decision {
        if self.related(node, resource, namespace, name) {
            Decision::Allow
        } else {
            Decision::Deny(format!(
                "no relationship found between node '{node}' and this object"
            ))
        }
    }
}

/// Whether the request changes one named object. (A create names its
/// object in the body, which NodeRestriction reads and minik does not.)
fn changes(verb: &str, name: &str) -> bool {
    !name.is_empty() && matches!(verb, "update" | "patch" | "delete")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pods_references_are_what_the_kubelet_reads() {
        let pod = json!({
            "metadata": {"namespace": "shop", "name": "web"},
            "spec": {
                "nodeName": "node-1",
                "serviceAccountName": "web",
                "imagePullSecrets": [{"name": "registry"}],
                "containers": [{"name": "c", "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}},
                ], "envFrom": [{"configMapRef": {"name": "env"}}]}],
                "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init"}}]}],
                "volumes": [
                    {"name": "a", "secret": {"secretName": "tls"}},
                    {"name": "b", "configMap": {"name": "files"}},
                    {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "d", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt"}},
                        {"secret": {"name": "extra"}},
                    ]}},
                ],
            },
        });
        let refs: Vec<String> = references(&pod)
            .into_iter()
            .map(|(r, ns, n)| format!("{r} {ns}/{n}"))
            .collect();
        assert_eq!(
            refs,
            [
                "configmaps shop/env",
                "configmaps shop/files",
                "configmaps shop/kube-root-ca.crt",
                "configmaps shop/settings",
                "persistentvolumeclaims shop/data",
                "secrets shop/db",
                "secrets shop/extra",
                "secrets shop/init",
                "secrets shop/registry",
                "secrets shop/tls",
                "serviceaccounts shop/web",
            ]
        );
    }

    #[test]
    fn the_index_counts_pods_per_node_and_forgets_them() {
        let pod = |node: &str, secret: &str| {
            json!({"metadata": {"namespace": "ns"}, "spec": {"nodeName": node,
                "volumes": [{"name": "s", "secret": {"secretName": secret}}]}})
        };
        let mut index = Index::default();
        let s = ("secrets", "ns".to_string(), "s".to_string());
        index.put("a", &pod("node-1", "s"));
        index.put("b", &pod("node-1", "s"));
        index.put("c", &pod("node-2", "s"));
        assert_eq!(index.refs[&s].len(), 2);
        index.remove("a");
        assert_eq!(index.refs[&s]["node-1"], 1);
        // Moving to another secret drops the old reference.
        index.put("b", &pod("node-1", "t"));
        assert!(!index.refs[&s].contains_key("node-1"));
        index.remove("c");
        assert!(!index.refs.contains_key(&s));
        // An unscheduled pod relates to no node.
        index.put("d", &json!({"metadata": {"namespace": "ns"}, "spec": {}}));
        assert!(!index.pods.contains_key("d"));
    }
}
