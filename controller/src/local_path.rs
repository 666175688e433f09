//! The local-path provisioner (`minik.io/local-path`), like k3s'
//! local-path-provisioner: a claim of a class with this provisioner gets a
//! hostPath volume, a directory of its own under `--local-path-dir`, on one
//! node, with required node affinity for that node; with reclaim policy
//! `Delete` the directory and the volume go once the claim is deleted.
//!
//! The node is the one the scheduler chose (`volume.kubernetes.io/selected-node`,
//! `WaitForFirstConsumer`) or, for an `Immediate` class, the first Ready
//! node by name. The PersistentVolume controller
//! ([`crate::persistent_volume`]) hands a claim over by annotating it with
//! the provisioner's name, and binds it to the new volume, which names the
//! claim in its `claimRef`; the volume is called `pvc-<claim uid>`, as
//! Kubernetes' provisioners call theirs.
//!
//! Where minik simplifies: k3s runs a helper pod on the chosen node to make
//! and remove the directory. minik's provisioner runs in the controller
//! process, on the machine of the local kubelets (`miniktl cluster up`
//! runs them all on one host), so it makes (mode 0777, as k3s does) and
//! removes the directory itself; the volume's `hostPath` type is
//! `DirectoryOrCreate`, so a kubelet makes it too if it is missing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_api::kinds::core::persistent_volume::claim_class;
use minik_client::errors;
use serde_json::json;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::key_of;
use crate::persistent_volume::{PROVISIONED_BY, SELECTED_NODE, STORAGE_PROVISIONER};
use crate::step_gate::gated;
use crate::{Context, Error};

/// The provisioner name classes use to ask for local-path volumes.
pub const PROVISIONER: &str = "minik.io/local-path";

struct State {
    ctx: Arc<Context>,
    base: PathBuf,
    classes: Store<StorageClass>,
    nodes: Store<Node>,
    volumes: Store<PersistentVolume>,
    events: EventRecorder,
    retries: RetryBackoff,
}

/// Builds the provisioning and deleting loops over the shared informers;
/// without `--local-path-dir` the provisioner is off and claims of its
/// classes wait (the PV controller's `ExternalProvisioning` Event says so).
pub fn build(ctx: &Arc<Context>) -> Built {
    let Some(base) = ctx.settings.local_path_dir.clone() else {
        tracing::info!("no --local-path-dir: the local-path provisioner is off");
        return futures::future::ready(Ok(())).boxed();
    };
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    let volumes = ctx.informers.get::<PersistentVolume>();
    let classes = ctx.informers.get::<StorageClass>();
    let nodes = ctx.informers.get::<Node>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        base,
        classes: classes.store(),
        nodes: nodes.store(),
        volumes: volumes.store(),
        events: EventRecorder::new(ctx.client.clone(), PROVISIONER, None),
        retries: RetryBackoff::default(),
    });
    let provision = drive(
        "local-path provisioner",
        Controller::for_shared_stream(claims.applied(), claims.store()).run(
            gated(ctx, "local-path provisioner", claims.store(), provision),
            claim_error,
            state.clone(),
        ),
    );
    let delete = drive(
        "local-path provisioner",
        Controller::for_shared_stream(volumes.applied(), volumes.store()).run(
            gated(ctx, "local-path provisioner", volumes.store(), delete),
            volume_error,
            state,
        ),
    );
    async move {
        futures::join!(provision, delete);
        Ok(())
    }
    .boxed()
}

fn claim_error(pvc: Arc<PersistentVolumeClaim>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*pvc, error)
}

fn volume_error(pv: Arc<PersistentVolume>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*pv, error)
}

/// The directory of a claim's volume: `<base>/pvc-<uid>_<namespace>_<name>` (k3s' layout).
pub fn volume_dir(base: &Path, claim: &PersistentVolumeClaim) -> PathBuf {
    base.join(format!(
        "pvc-{}_{}_{}",
        claim.metadata.uid.as_deref().unwrap_or_default(),
        claim.namespace().unwrap_or_default(),
        claim.name_any()
    ))
}

/// Makes a volume for a claim handed to this provisioner, once it has a node.
async fn provision(claim: Arc<PersistentVolumeClaim>, state: Arc<State>) -> Result<Action, Error> {
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    let unbound = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
        .is_empty();
    if !unbound
        || claim.metadata.deletion_timestamp.is_some()
        || annotations.get(STORAGE_PROVISIONER).map(String::as_str) != Some(PROVISIONER)
    {
        return Ok(Action::await_change());
    }
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let pv_name = format!("pvc-{uid}");
    if state.volumes.get(&ObjectRef::new(&pv_name)).is_some() {
        return Ok(Action::await_change());
    }
    let Some(class) = state.classes.get(&ObjectRef::new(claim_class(&claim))) else {
        return Ok(Action::await_change());
    };
    if class.provisioner != PROVISIONER {
        return Ok(Action::await_change());
    }
    let reference = claim.object_ref(&());
    let node = match annotations.get(SELECTED_NODE) {
        Some(node) => node.clone(),
        None => match first_ready_node(&state.nodes) {
            Some(node) => node,
            None => {
                let note = "failed to provision volume: no Ready node to place it on".to_string();
                state
                    .events
                    .publish(&reference, EventType::Warning, "ProvisioningFailed", note)
                    .await;
                return Ok(Action::requeue(std::time::Duration::from_secs(10)));
            }
        },
    };
    let key = key_of(&claim.metadata);
    let note = format!("External provisioner is provisioning volume for claim \"{key}\"");
    state
        .events
        .publish(&reference, EventType::Normal, "Provisioning", note)
        .await;
    let dir = volume_dir(&state.base, &claim);
    if let Err(e) = make_dir(&dir) {
        let note = format!(
            "failed to provision volume with StorageClass \"{}\": creating {}: {e}",
            class.name_any(),
            dir.display()
        );
        state
            .events
            .publish(&reference, EventType::Warning, "ProvisioningFailed", note)
            .await;
        return Ok(Action::requeue(std::time::Duration::from_secs(30)));
    }
    let spec = claim.spec.clone().unwrap_or_default();
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned());
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": pv_name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.access_modes,
            "volumeMode": spec.volume_mode,
            "storageClassName": class.name_any(),
            "persistentVolumeReclaimPolicy": class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
            "mountOptions": class.mount_options,
            "hostPath": {"path": dir.to_string_lossy(), "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]},
            ]}]}},
            "claimRef": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "namespace": claim.namespace(), "name": claim.name_any(), "uid": uid,
                "resourceVersion": claim.metadata.resource_version,
            },
        },
    }))?;
    let api: Api<PersistentVolume> = Api::all(state.ctx.client.clone());
    match api.create(&PostParams::default(), &pv).await {
        Ok(_) => {}
        Err(e) if errors::is_already_exists(&e) => return Ok(Action::await_change()),
        Err(e) => return Err(e.into()),
    }
    let note = format!("Successfully provisioned volume {pv_name}");
    state
        .events
        .publish(&reference, EventType::Normal, "ProvisioningSucceeded", note)
        .await;
    state.retries.forget(&key);
    Ok(Action::await_change())
}

fn first_ready_node(nodes: &Store<Node>) -> Option<String> {
    let mut ready: Vec<String> = nodes
        .state()
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .map(|n| n.name_any())
        .collect();
    ready.sort();
    ready.into_iter().next()
}

fn make_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
}

/// Removes a released volume of this provisioner with reclaim policy
/// `Delete`: its directory, then the PersistentVolume.
async fn delete(pv: Arc<PersistentVolume>, state: Arc<State>) -> Result<Action, Error> {
    let spec = pv.spec.clone().unwrap_or_default();
    let ours = pv
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROVISIONED_BY))
        .is_some_and(|p| p == PROVISIONER);
    let released = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
    if !ours
        || !released
        || spec.persistent_volume_reclaim_policy.as_deref() != Some("Delete")
        || pv.metadata.deletion_timestamp.is_some()
    {
        return Ok(Action::await_change());
    }
    let path = PathBuf::from(spec.host_path.map(|h| h.path).unwrap_or_default());
    let reference = pv.object_ref(&());
    // Only ever remove what this provisioner made.
    if path.parent() != Some(state.base.as_path()) {
        let note = format!(
            "failed to delete volume {}: path {} is not in the provisioner's directory {}",
            pv.name_any(),
            path.display(),
            state.base.display()
        );
        state
            .events
            .publish(&reference, EventType::Warning, "VolumeFailedDelete", note)
            .await;
        return Ok(Action::await_change());
    }
    if let Err(e) = std::fs::remove_dir_all(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            let note = format!(
                "failed to delete volume {}: removing {}: {e}",
                pv.name_any(),
                path.display()
            );
            state
                .events
                .publish(&reference, EventType::Warning, "VolumeFailedDelete", note)
                .await;
            return Ok(Action::requeue(std::time::Duration::from_secs(30)));
        }
    }
    let api: Api<PersistentVolume> = Api::all(state.ctx.client.clone());
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pv.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pv.name_any(), &params).await {
        Ok(_) => {
            tracing::info!(volume = %pv.name_any(), path = %path.display(), "deleted a released local-path volume")
        }
        Err(e) if errors::is_not_found(&e) || errors::is_conflict(&e) => {}
        Err(e) => return Err(e.into()),
    }
    state.retries.forget(&key_of(&pv.metadata));
    Ok(Action::await_change())
}
