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

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use minik_api::catalogue;
use serde::Deserialize;
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

    fn put(&mut self, key: &str, pod: &PodRefs) {
        self.remove(key);
        let Some(node) = pod.spec.node_name.as_deref().filter(|n| !n.is_empty()) else {
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

    /// Indexes the pod whose JSON is `json` (a stored or published pod).
    fn put_json(&mut self, key: &str, json: &[u8]) {
        match serde_json::from_slice::<PodRefs>(json) {
            Ok(pod) => self.put(key, &pod),
            // Stored pods passed the Pod type's decoding, so this is damage.
            Err(error) => tracing::error!(key, %error, "node authorizer: unreadable pod"),
        }
    }
}

/// What the graph reads of a pod, and only that: every pod change passes
/// here, and decoding these few fields skips the rest of the JSON instead
/// of building it. Names borrow from the JSON where they can.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PodRefs<'a> {
    #[serde(borrow)]
    metadata: PodMeta<'a>,
    #[serde(borrow)]
    spec: PodSpecRefs<'a>,
}

type Name<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize, Default)]
#[serde(default)]
struct PodMeta<'a> {
    #[serde(borrow)]
    namespace: Name<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodSpecRefs<'a> {
    #[serde(borrow)]
    node_name: Name<'a>,
    #[serde(borrow)]
    service_account_name: Name<'a>,
    #[serde(borrow)]
    image_pull_secrets: Option<Vec<NameRef<'a>>>,
    #[serde(borrow)]
    containers: Option<Vec<ContainerRefs<'a>>>,
    #[serde(borrow)]
    init_containers: Option<Vec<ContainerRefs<'a>>>,
    #[serde(borrow)]
    ephemeral_containers: Option<Vec<ContainerRefs<'a>>>,
    #[serde(borrow)]
    volumes: Option<Vec<VolumeRefs<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameRef<'a> {
    #[serde(borrow)]
    name: Name<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ContainerRefs<'a> {
    #[serde(borrow)]
    env: Option<Vec<EnvRefs<'a>>>,
    #[serde(borrow)]
    env_from: Option<Vec<EnvFromRefs<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EnvRefs<'a> {
    #[serde(borrow)]
    value_from: Option<EnvSourceRefs<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EnvSourceRefs<'a> {
    #[serde(borrow)]
    secret_key_ref: Option<NameRef<'a>>,
    #[serde(borrow)]
    config_map_key_ref: Option<NameRef<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EnvFromRefs<'a> {
    #[serde(borrow)]
    secret_ref: Option<NameRef<'a>>,
    #[serde(borrow)]
    config_map_ref: Option<NameRef<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct VolumeRefs<'a> {
    #[serde(borrow)]
    secret: Option<SecretVolumeRef<'a>>,
    #[serde(borrow)]
    config_map: Option<NameRef<'a>>,
    #[serde(borrow)]
    persistent_volume_claim: Option<ClaimRef<'a>>,
    #[serde(borrow)]
    projected: Option<ProjectedRefs<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SecretVolumeRef<'a> {
    #[serde(borrow)]
    secret_name: Name<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ClaimRef<'a> {
    #[serde(borrow)]
    claim_name: Name<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProjectedRefs<'a> {
    #[serde(borrow)]
    sources: Option<Vec<ProjectionRefs<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ProjectionRefs<'a> {
    #[serde(borrow)]
    secret: Option<NameRef<'a>>,
    #[serde(borrow)]
    config_map: Option<NameRef<'a>>,
}

/// The name a reference gives, if it is there.
fn of<'r>(r: &'r Option<NameRef<'_>>) -> Option<&'r str> {
    r.as_ref()?.name.as_deref()
}

/// What a pod refers to, as the graph populator reads it.
fn references(pod: &PodRefs) -> Vec<Ref> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut out: Vec<Ref> = Vec::new();
    let mut add = |resource: &'static str, name: Option<&str>| {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            out.push((resource, ns.to_string(), name.to_string()));
        }
    };
    let spec = &pod.spec;
    add("serviceaccounts", spec.service_account_name.as_deref());
    for s in spec.image_pull_secrets.iter().flatten() {
        add("secrets", s.name.as_deref());
    }
    let lists = [
        &spec.containers,
        &spec.init_containers,
        &spec.ephemeral_containers,
    ];
    for c in lists.into_iter().flatten().flatten() {
        for e in c.env.iter().flatten() {
            if let Some(from) = &e.value_from {
                add("secrets", of(&from.secret_key_ref));
                add("configmaps", of(&from.config_map_key_ref));
            }
        }
        for e in c.env_from.iter().flatten() {
            add("secrets", of(&e.secret_ref));
            add("configmaps", of(&e.config_map_ref));
        }
    }
    for v in spec.volumes.iter().flatten() {
        add(
            "secrets",
            v.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
        );
        add("configmaps", of(&v.config_map));
        add(
            "persistentvolumeclaims",
            v.persistent_volume_claim
                .as_ref()
                .and_then(|c| c.claim_name.as_deref()),
        );
        let sources = v.projected.as_ref().and_then(|p| p.sources.as_ref());
        for s in sources.into_iter().flatten() {
            add("secrets", of(&s.secret));
            add("configmaps", of(&s.config_map));
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
                index.put_json(key, bytes);
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
                                _ => index.put_json(&c.key, &c.object_json()),
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

    fn parsed(pod: &Value) -> PodRefs<'_> {
        PodRefs::deserialize(pod).unwrap()
    }

    #[test]
    fn nulls_and_escaped_names_read_as_the_json_says() {
        let json = br#"{"metadata": {"namespace": "n\u0073", "labels": {"a": "b"}},
            "status": {"phase": "Running"},
            "spec": {"nodeName": "node-1", "volumes": null, "imagePullSecrets": [{"name": null}],
            "containers": [{"name": "c", "env": null, "envFrom": [{"secretRef": {"name": "a\"b"}}]}]}}"#;
        let mut index = Index::default();
        index.put_json("p", json);
        let (node, refs) = &index.pods["p"];
        assert_eq!(node, "node-1");
        assert_eq!(refs, &[("secrets", "ns".to_string(), "a\"b".to_string())]);
        // What is not a pod's JSON is reported and indexes nothing.
        index.put_json("q", b"{\"spec\": 7}");
        assert!(!index.pods.contains_key("q"));
    }

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
        let refs: Vec<String> = references(&parsed(&pod))
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
        index.put("a", &parsed(&pod("node-1", "s")));
        index.put("b", &parsed(&pod("node-1", "s")));
        index.put("c", &parsed(&pod("node-2", "s")));
        assert_eq!(index.refs[&s].len(), 2);
        index.remove("a");
        assert_eq!(index.refs[&s]["node-1"], 1);
        // Moving to another secret drops the old reference.
        index.put("b", &parsed(&pod("node-1", "t")));
        assert!(!index.refs[&s].contains_key("node-1"));
        index.remove("c");
        assert!(!index.refs.contains_key(&s));
        // An unscheduled pod relates to no node.
        index.put_json("d", br#"{"metadata": {"namespace": "ns"}, "spec": {}}"#);
        assert!(!index.pods.contains_key("d"));
    }
}
