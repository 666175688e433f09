//! The VolumeBinding plugin: a pod's PersistentVolumeClaims decide where it
//! may go, and for `WaitForFirstConsumer` claims the chosen node decides
//! their volume. Mirrors kube-scheduler's `volumebinding` plugin and its
//! volume binder:
//!
//! - **PreFilter** ([`pre_filter`]): a claim that is missing or being
//!   deleted, or an unbound claim whose class binds `Immediate`ly (or that
//!   has no class), makes the pod unschedulable everywhere
//!   (`pod has unbound immediate PersistentVolumeClaims`): the PV
//!   controller must bind it first.
//! - **Filter** ([`filter`]): a bound claim's volume must accept the node
//!   (its required node affinity); an unbound `WaitForFirstConsumer` claim
//!   needs a free matching volume on the node, or a class that provisions.
//! - **PreBind** ([`prebind`]): on the chosen node, a matching volume is
//!   reserved for the claim (`claimRef`, which the PV controller completes)
//!   or the claim is annotated `volume.kubernetes.io/selected-node` for its
//!   provisioner.
//!
//! Simplified: kube-scheduler's PreBind waits (up to 10 minutes) for the
//! claims to be bound before binding the pod; minik binds the pod at once
//! and its kubelet waits for the claim instead (FailedMount until bound).
//! Volumes reserved in one cycle are not "assumed" for the next, so two
//! pods scheduled in the same instant may reach for one volume; the PV
//! controller binds it to one claim and the other claim gets a new one.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use minik_api::kinds::core::persistent_volume::{best_match, claim_class, is_prebound_to};
use serde_json::json;

use crate::filters::{FilterResult, Rejection};
use crate::matching::any_term_matches;

pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const ERR_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const ERR_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const ERR_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/// The annotation the provisioner follows.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// The scheduler's caches of claims, volumes and classes.
#[derive(Clone)]
pub struct Stores {
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
}

/// What PreFilter found for one pod with claims.
#[derive(Debug, Default)]
pub struct VolumeState {
    /// The volumes of its bound claims (`None`: the volume does not exist).
    bound: Vec<Option<Arc<PersistentVolume>>>,
    /// Its unbound `WaitForFirstConsumer` claims, with their class's provisioner.
    delayed: Vec<(Arc<PersistentVolumeClaim>, String)>,
    /// Every volume, for the delayed claims to choose from.
    volumes: Vec<Arc<PersistentVolume>>,
}

/// PreFilter: `Ok(None)` for a pod without claims; `Err` with the message
/// for a pod that no node can take until its claims change.
pub fn pre_filter(pod: &Pod, stores: &Stores) -> Result<Option<VolumeState>, String> {
    let ns = pod.namespace().unwrap_or_default();
    let names: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.as_str())
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    let mut state = VolumeState::default();
    let mut immediate = false;
    for name in names {
        let Some(claim) = stores.claims.get(&ObjectRef::new(name).within(&ns)) else {
            return Err(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        let volume = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .unwrap_or("");
        if !volume.is_empty() {
            state
                .bound
                .push(stores.volumes.get(&ObjectRef::new(volume)));
            continue;
        }
        let class = stores.classes.get(&ObjectRef::new(claim_class(&claim)));
        match class {
            Some(c) if c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") => {
                state.delayed.push((claim.clone(), c.provisioner.clone()));
            }
            _ => immediate = true,
        }
    }
    if immediate {
        return Err(ERR_UNBOUND_IMMEDIATE.to_string());
    }
    if !state.delayed.is_empty() {
        state.volumes = stores.volumes.state();
    }
    Ok(Some(state))
}

/// Whether a volume's required node affinity admits the node.
fn admits(pv: &PersistentVolume, node: &str, labels: &BTreeMap<String, String>) -> bool {
    match pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    {
        None => true,
        Some(selector) => any_term_matches(&selector.node_selector_terms, node, labels),
    }
}

/// The free volume each delayed claim would get on `node` (`None`: to be provisioned),
/// or why the node cannot serve them.
fn choose(
    state: &VolumeState,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<Option<Arc<PersistentVolume>>>, &'static str> {
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (claim, provisioner) in &state.delayed {
        let pick = best_match(claim, &state.volumes, |pv| {
            admits(pv, node, labels)
                && !taken.contains(&pv.name_any())
                && (pv
                    .spec
                    .as_ref()
                    .and_then(|s| s.claim_ref.as_ref())
                    .is_none()
                    || is_prebound_to(pv, claim))
        });
        match pick {
            Some(pv) => {
                taken.push(pv.name_any());
                out.push(Some(pv.clone()));
            }
            None if provisioner.is_empty() || provisioner == NO_PROVISIONER => {
                return Err(ERR_BIND_CONFLICT)
            }
            None => out.push(None),
        }
    }
    Ok(out)
}

/// Filter: may the pod's volumes be used on this node?
pub fn filter(state: &VolumeState, node: &str, labels: &BTreeMap<String, String>) -> FilterResult {
    let unresolvable = |reason: &str| Rejection {
        reasons: vec![reason.to_string()],
        resolvable: false,
    };
    for pv in &state.bound {
        match pv {
            None => return Err(unresolvable(ERR_PV_NOT_EXIST)),
            Some(pv) if !admits(pv, node, labels) => return Err(unresolvable(ERR_NODE_CONFLICT)),
            Some(_) => {}
        }
    }
    choose(state, node, labels)
        .map(|_| ())
        .map_err(unresolvable)
}

/// PreBind on the chosen node: reserve the chosen volumes, mark the claims
/// to provision with the node.
pub async fn prebind(
    client: &kube::Client,
    state: &VolumeState,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), kube::Error> {
    let Ok(choices) = choose(state, node, labels) else {
        return Ok(());
    };
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    for ((claim, _), choice) in state.delayed.iter().zip(choices) {
        match choice {
            Some(pv)
                if is_prebound_to(&pv, claim)
                    && pv
                        .spec
                        .as_ref()
                        .and_then(|s| s.claim_ref.as_ref())
                        .and_then(|r| r.uid.as_ref())
                        .is_some() => {}
            Some(pv) => {
                let patch = json!({
                    "metadata": {"annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
                    "spec": {"claimRef": {
                        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "namespace": claim.namespace(), "name": claim.name_any(),
                        "uid": claim.metadata.uid, "resourceVersion": claim.metadata.resource_version,
                    }},
                });
                volumes
                    .patch(
                        &pv.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
            }
            None => {
                let claims: Api<PersistentVolumeClaim> =
                    Api::namespaced(client.clone(), &claim.namespace().unwrap_or_default());
                let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
                claims
                    .patch(
                        &claim.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(name: &str, node: Option<&str>) -> Arc<PersistentVolume> {
        let mut v = json!({
            "metadata": {"name": name},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "storageClassName": "local", "hostPath": {"path": "/x"}},
        });
        if let Some(n) = node {
            v["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [n]}]}]}});
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn claim() -> Arc<PersistentVolumeClaim> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "data", "namespace": "default", "uid": "u"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                         "resources": {"requests": {"storage": "1Gi"}}},
            }))
            .unwrap(),
        )
    }

    fn labels(node: &str) -> BTreeMap<String, String> {
        [("kubernetes.io/hostname".to_string(), node.to_string())].into()
    }

    #[test]
    fn bound_volume_affinity_restricts_nodes() {
        let state = VolumeState {
            bound: vec![Some(pv("a", Some("n1")))],
            ..Default::default()
        };
        assert!(filter(&state, "n1", &labels("n1")).is_ok());
        let refused = filter(&state, "n2", &labels("n2")).unwrap_err();
        assert_eq!(refused.reasons, vec![ERR_NODE_CONFLICT.to_string()]);
        assert!(!refused.resolvable);
    }

    #[test]
    fn delayed_claims_take_a_local_volume_or_need_a_provisioner() {
        let state = |provisioner: &str| VolumeState {
            delayed: vec![(claim(), provisioner.to_string())],
            volumes: vec![pv("local-n1", Some("n1"))],
            ..Default::default()
        };
        let no_provisioner = state(NO_PROVISIONER);
        assert!(filter(&no_provisioner, "n1", &labels("n1")).is_ok());
        let refused = filter(&no_provisioner, "n2", &labels("n2")).unwrap_err();
        assert_eq!(refused.reasons, vec![ERR_BIND_CONFLICT.to_string()]);
        let provisioned = state("minik.io/local-path");
        assert!(filter(&provisioned, "n2", &labels("n2")).is_ok());
        assert!(choose(&provisioned, "n2", &labels("n2")).unwrap()[0].is_none());
        assert!(choose(&provisioned, "n1", &labels("n1")).unwrap()[0].is_some());
    }
}
