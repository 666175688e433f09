//! Ownership between objects, shared by every controller that owns what it
//! creates (ReplicaSet → Pods, Deployment → ReplicaSets): the controller
//! reference it stamps on children, adoption of matching orphans and release
//! of children that stopped matching (client-go's `ControllerRefManager`),
//! and the selector/label/key helpers those decisions read.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use minik_client::errors;
use serde_json::json;

use crate::pod_cache::CachedPod;
use crate::Error;

/// Makes `owner` the controller of `obj` with a strategic merge patch that
/// also pins the object's uid (so a recreated namesake is never adopted).
pub async fn adopt<K, O>(api: &Api<K>, obj: &K, owner: &O) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    O: Resource<DynamicType = ()>,
{
    patch_owner_references(api, obj, json!([controller_ref(owner)])).await
}

/// Removes the ownerReference to `owner_uid` from `obj`.
pub async fn release<K>(api: &Api<K>, obj: &K, owner_uid: &str) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let delete = json!([{"$patch": "delete", "uid": owner_uid}]);
    patch_owner_references(api, obj, delete).await
}

/// A strategic merge patch of `obj`'s ownerReferences (merged by uid),
/// pinned to its uid.
async fn patch_owner_references<K>(
    api: &Api<K>,
    obj: &K,
    refs: serde_json::Value,
) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {"ownerReferences": refs, "uid": obj.meta().uid}});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Strategic(patch),
    )
    .await
}

/// The ownerReference a controller puts on what it controls
/// (`metav1.NewControllerRef`).
pub fn controller_ref<O: Resource<DynamicType = ()>>(owner: &O) -> OwnerReference {
    OwnerReference {
        api_version: O::api_version(&()).into_owned(),
        kind: O::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The ownerReference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// `namespace/name`, Kubernetes' cache key.
pub fn key_of(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// A metav1 LabelSelector as a matcher (`LabelSelectorAsSelector`).
pub fn selector(s: &LabelSelector) -> Result<minik_api::selectors::LabelSelector, Error> {
    let value = serde_json::to_value(s)?;
    minik_api::selectors::LabelSelector::from_json(&value)
        .map_err(|e| Error::Malformed(e.to_string()))
}

/// The object's labels as a JSON map, what selectors match against.
pub fn labels_of(meta: &ObjectMeta) -> serde_json::Map<String, serde_json::Value> {
    meta.labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect()
}

/// Adopts matching orphans and releases owned pods that no longer match;
/// returns the pods `rs` (a ReplicaSet, a DaemonSet) now controls. Kubernetes'
/// `PodControllerRefManager.ClaimPods`.
pub async fn claim_pods<O>(
    client: &kube::Client,
    rs: &O,
    sel: &minik_api::selectors::LabelSelector,
    pods: Vec<Arc<CachedPod>>,
) -> Result<Vec<Arc<CachedPod>>, Error>
where
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let rs_uid = rs.meta().uid.clone().unwrap_or_default();
    let rs_deleting = rs.meta().deletion_timestamp.is_some();
    let api: Api<CachedPod> = Api::namespaced(client.clone(), &rs.namespace().unwrap_or_default());
    let mut claimed = Vec::new();
    let mut first_error = None;
    // Adoption re-reads the owner from the API server once, so an
    // owner deleted (or replaced) since the cache saw it adopts nothing.
    let mut can_adopt: Option<bool> = None;
    for pod in pods {
        // Pods of other controllers are skipped before their labels are read.
        if controller_of(&pod.metadata).is_some_and(|owner| owner.uid != rs_uid) {
            continue;
        }
        let matches = sel.matches(&labels_of(&pod.metadata));
        let result = match controller_of(&pod.metadata) {
            Some(_) if matches => {
                claimed.push(pod);
                continue;
            }
            Some(_) if rs_deleting => continue,
            Some(_) => release(&api, &pod, &rs_uid).await.map(|_| false),
            None if rs_deleting || !matches || pod.metadata.deletion_timestamp.is_some() => {
                continue
            }
            None => {
                if can_adopt.is_none() {
                    can_adopt = Some(fresh_and_alive(client, rs).await?);
                }
                if can_adopt == Some(false) {
                    continue;
                }
                adopt(&api, &pod, rs).await.map(|_| true)
            }
        };
        match result {
            Ok(true) => claimed.push(pod),
            Ok(false) => {}
            Err(e) if errors::is_not_found(&e) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(Error::Api(e)),
        None => Ok(claimed),
    }
}

/// The owner as the API server has it now is the one in the cache and
/// is not being deleted (`RecheckDeletionTimestamp`).
async fn fresh_and_alive<O>(client: &kube::Client, rs: &O) -> Result<bool, Error>
where
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<O> = Api::namespaced(client.clone(), &rs.namespace().unwrap_or_default());
    let fresh = api.get(&rs.name_any()).await?;
    Ok(fresh.meta().uid == rs.meta().uid && fresh.meta().deletion_timestamp.is_none())
}

/// The objects of kind `K` a pod change should wake (client-go's
/// `getPodXs`): its controller if that is a `K`, else — an orphan — every
/// `K` of its namespace whose selector matches it, which may adopt it.
pub fn owners_for_pod<K>(
    pod: &CachedPod,
    owners: &kube::runtime::reflector::Store<K>,
    selector_of: impl Fn(&K) -> Option<LabelSelector>,
) -> Vec<kube::runtime::reflector::ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    use kube::runtime::reflector::ObjectRef;
    let ns = pod.namespace().unwrap_or_default();
    match controller_of(&pod.metadata) {
        Some(owner) if owner.kind == K::kind(&()) && owner.api_version == K::api_version(&()) => {
            vec![ObjectRef::new(&owner.name).within(&ns)]
        }
        Some(_) => Vec::new(),
        None => owners
            .state()
            .iter()
            .filter(|o| o.meta().namespace.as_deref() == Some(ns.as_str()))
            .filter(|o| {
                selector_of(o).is_some_and(|s| {
                    selector(&s).is_ok_and(|sel| sel.matches(&labels_of(&pod.metadata)))
                })
            })
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect(),
    }
}
