//! Ownership between objects, shared by every controller that owns what it
//! creates (ReplicaSet → Pods, Deployment → ReplicaSets): the controller
//! reference it stamps on children, adoption of matching orphans and release
//! of children that stopped matching (client-go's `ControllerRefManager`),
//! and the selector/label/key helpers those decisions read.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::Error;

/// Makes `owner` the controller of `obj` with a strategic merge patch that
/// also pins the object's uid (so a recreated namesake is never adopted).
pub async fn adopt<K, O>(api: &Api<K>, obj: &K, owner: &O) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    O: Resource<DynamicType = ()>,
{
    let patch = json!({"metadata": {
        "ownerReferences": [controller_ref(owner)],
        "uid": obj.meta().uid,
    }});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Strategic(patch),
    )
    .await
}

/// Removes the ownerReference to `owner_uid` from `obj`.
pub async fn release<K>(api: &Api<K>, obj: &K, owner_uid: &str) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
        "uid": obj.meta().uid,
    }});
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
