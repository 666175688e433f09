//! ControllerRevisions: the numbered snapshots of a pod template that
//! DaemonSets and StatefulSets keep, and that `kubectl rollout
//! history|undo` read and restore. Kubernetes' `pkg/controller/history`
//! plus the `getPatch` both controllers share.
//!
//! A revision is named `<owner>-<hash>`, labelled with the template's
//! labels and `controller-revision-hash: <hash>`, carries the owner's
//! annotations and a controller reference to it, and stores as `data` the
//! strategic merge patch `{"spec":{"template":{…,"$patch":"replace"}}}`
//! that puts its template back. Returning to an older template renumbers
//! that template's revision instead of making a new one.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use minik_client::errors;
use serde_json::{json, Value};

use crate::ownership::{controller_of, controller_ref};
use crate::Error;

/// The label naming the revision a pod (or a revision) was made from.
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// The revisions in `namespace` controlled by the owner with `uid`, oldest
/// first (`SortControllerRevisions`: by revision, then creation, then name).
pub fn owned_revisions(
    revisions: &Store<ControllerRevision>,
    namespace: &str,
    uid: &str,
) -> Vec<Arc<ControllerRevision>> {
    let mut owned: Vec<Arc<ControllerRevision>> = revisions
        .state()
        .into_iter()
        .filter(|r| r.namespace().as_deref() == Some(namespace))
        .filter(|r| controller_of(&r.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    owned.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let created = |r: &ControllerRevision| r.metadata.creation_timestamp.clone();
                created(a).map(|t| t.0).cmp(&created(b).map(|t| t.0))
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    owned
}

/// One more than the highest revision (`nextRevision`).
pub fn next_revision(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// What a revision stores, the patch `kubectl rollout undo` applies:
/// `{"spec":{"template":{…, "$patch":"replace"}}}` (`getPatch`).
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(t) = template.as_object_mut() {
        t.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The template a revision's patch restores (`ApplyRevision`: the patch
/// replaces the whole template, so applying it is taking it).
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// The revision's own `controller-revision-hash` label.
pub fn hash_of(revision: &ControllerRevision) -> &str {
    revision
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_HASH_LABEL))
        .map(String::as_str)
        .unwrap_or("")
}

/// Whether the revision stores exactly `patch` (`EqualRevision`).
pub fn stores(revision: &ControllerRevision, patch: &Value) -> bool {
    revision.data.as_ref().map(|d| &d.0) == Some(patch)
}

/// A new, unsaved revision `<owner>-<hash>` of `template`
/// (`NewControllerRevision`).
pub fn new_revision<O: Resource<DynamicType = ()>>(
    owner: &O,
    template: &PodTemplateSpec,
    data: Value,
    revision: i64,
    hash: &str,
) -> ControllerRevision {
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_HASH_LABEL.into(), hash.to_string());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(
                owner.meta().name.as_deref().unwrap_or(""),
                hash,
            )),
            namespace: owner.meta().namespace.clone(),
            labels: Some(labels),
            annotations: owner.meta().annotations.clone(),
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// `<owner>-<hash>`, the owner's name cut to 223 characters so the whole
/// stays a valid name (`ControllerRevisionName`).
fn revision_name(owner: &str, hash: &str) -> String {
    let prefix: String = owner.chars().take(223).collect();
    format!("{prefix}-{hash}")
}

/// Creates `revision`. An existing revision of that name with the same data
/// is returned as if created; one with other data is a hash collision,
/// answered with `Ok(None)` so the caller bumps its `collisionCount`.
pub async fn create(
    api: &Api<ControllerRevision>,
    revision: &ControllerRevision,
) -> Result<Option<ControllerRevision>, Error> {
    match api.create(&PostParams::default(), revision).await {
        Ok(created) => Ok(Some(created)),
        Err(e) if errors::is_already_exists(&e) => {
            let existing = api.get(&revision.name_any()).await?;
            let patch = revision.data.as_ref().map(|d| &d.0);
            let same_owner =
                controller_of(&existing.metadata).map(|o| &o.uid) == revision_owner(revision);
            Ok((same_owner && existing.data.as_ref().map(|d| &d.0) == patch).then_some(existing))
        }
        Err(e) => Err(e.into()),
    }
}

fn revision_owner(revision: &ControllerRevision) -> Option<&String> {
    controller_of(&revision.metadata).map(|o| &o.uid)
}

/// Gives an existing revision a new number (`UpdateControllerRevision`):
/// how a rollback makes an old template the newest again.
pub async fn renumber(
    api: &Api<ControllerRevision>,
    revision: &ControllerRevision,
    number: i64,
) -> Result<ControllerRevision, Error> {
    if revision.revision == number {
        return Ok(revision.clone());
    }
    let mut r = revision.clone();
    r.revision = number;
    Ok(api
        .replace(&r.name_any(), &PostParams::default(), &r)
        .await?)
}

/// Deletes up to `count` of `candidates` (oldest first), skipping those
/// `live` says are still in use. What both controllers' history clean-up
/// (`cleanupHistory`, `truncateHistory`) come down to.
pub async fn delete_oldest(
    api: &Api<ControllerRevision>,
    candidates: &[Arc<ControllerRevision>],
    mut count: usize,
    live: impl Fn(&ControllerRevision) -> bool,
) -> Result<(), Error> {
    for r in candidates {
        if count == 0 {
            break;
        }
        if live(r) {
            continue;
        }
        match api.delete(&r.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if errors::is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        count -= 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_restores_the_template() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }))
        .unwrap();
        let patch = template_patch(&template);
        assert_eq!(patch["spec"]["template"]["$patch"], "replace");
        let rev = ControllerRevision {
            data: Some(RawExtension(patch.clone())),
            ..Default::default()
        };
        assert_eq!(template_of(&rev), Some(template));
        assert!(stores(&rev, &patch));
        assert_eq!(revision_name(&"x".repeat(300), "abc").len(), 227);
    }
}
