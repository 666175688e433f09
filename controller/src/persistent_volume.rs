//! The PersistentVolume controller: binds claims to volumes and looks
//! after volumes whose claim went. Kubernetes' `pkg/controller/volume/persistentvolume`
//! (`syncClaim` / `syncVolume`), for volumes and claims only: provisioning
//! itself is a provisioner's (minik's is [`crate::local_path`]), as it is
//! for Kubernetes' external provisioners.
//!
//! Claims (`sync_claim`):
//! - unbound: bound to the best matching volume (a volume reserved for it
//!   through `claimRef` first, else the smallest that fits: capacity,
//!   access modes, class, volume mode, selector — shared with the
//!   scheduler in `minik_api::kinds::core::persistent_volume`). A class
//!   with `WaitForFirstConsumer` binds only what the scheduler reserved,
//!   and waits for a pod (`WaitForFirstConsumer` Event) until the scheduler
//!   names a node (`volume.kubernetes.io/selected-node`). Without a match a
//!   claim with a class is handed to the class's provisioner
//!   (`volume.kubernetes.io/storage-provisioner`, `ExternalProvisioning`);
//!   one without a class waits for an administrator (`FailedBinding`).
//! - bound (`spec.volumeName`): the binding is completed on both sides, or
//!   the claim is `Lost` when its volume is gone.
//!
//! Volumes (`sync_volume`): `Available` without a claim, `Bound` with one,
//! `Released` once their claim is deleted; then the reclaim policy:
//! `Retain` keeps the volume, `Delete` is the provisioner's for volumes it
//! made and `Failed` for others (no in-tree deleter), `Recycle` is `Failed`.
//!
//! Level-triggered and idempotent: each pass reads the caches and writes
//! only what differs. Binding writes the volume first, then the claim, as
//! Kubernetes does, so an interrupted bind is finished by the next pass.

use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_api::kinds::core::persistent_volume::{
    best_match, claim_class, is_prebound_to, satisfies,
};
use serde_json::json;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::key_of;
use crate::step_gate::gated;
use crate::{Context, Error};

/// Set on a claim once its binding is complete.
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on a claim or volume the controller bound (not a user's pre-binding).
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The provisioner asked to make a volume for a claim.
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The same, under the beta name external provisioners still read.
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// The node the scheduler chose for a `WaitForFirstConsumer` claim.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Which provisioner made a volume.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

struct State {
    ctx: Arc<Context>,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    events: EventRecorder,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the two loops (claims, volumes) over the shared informers (the
/// caller starts them). A volume change wakes its claim and the other way round.
pub fn build(ctx: &Arc<Context>) -> Built {
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    let volumes = ctx.informers.get::<PersistentVolume>();
    let classes = ctx.informers.get::<StorageClass>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        claims: claims.store(),
        volumes: volumes.store(),
        classes: classes.store(),
        events: EventRecorder::new(ctx.client.clone(), "persistentvolume-controller", None),
        retries: RetryBackoff::default(),
    });
    let (claim_store, class_claims) = (claims.store(), claims.store());
    let claim_loop = drive(
        "persistent volume controller",
        Controller::for_shared_stream(claims.applied(), claims.store())
            .watches_shared_stream(volumes.touched(), move |pv| {
                // A volume reserved for a claim wakes that claim; a free one
                // every unbound claim (kube's periodic claim resync, without the wait).
                match claim_of(&pv) {
                    Some(claim) => vec![claim],
                    None => unbound_claims(&claim_store, |_| true),
                }
            })
            .watches_shared_stream(classes.touched(), move |class| {
                let name = class.name_any();
                unbound_claims(&class_claims, |c| claim_class(c) == name)
            })
            .run(
                gated(
                    ctx,
                    "persistent volume controller",
                    claims.store(),
                    sync_claim,
                ),
                claim_error,
                state.clone(),
            ),
    );
    let volume_store = volumes.store();
    let volume_loop = drive(
        "persistent volume controller",
        Controller::for_shared_stream(volumes.applied(), volumes.store())
            .watches_shared_stream(claims.touched(), move |pvc| volumes_of(&pvc, &volume_store))
            .run(
                gated(
                    ctx,
                    "persistent volume controller",
                    volumes.store(),
                    sync_volume,
                ),
                volume_error,
                state,
            ),
    );
    async move {
        futures::join!(claim_loop, volume_loop);
        Ok(())
    }
    .boxed()
}

/// The claim a volume names in its `claimRef`.
fn claim_of(pv: &PersistentVolume) -> Option<ObjectRef<PersistentVolumeClaim>> {
    let r = pv.spec.as_ref()?.claim_ref.as_ref()?;
    Some(ObjectRef::new(r.name.as_deref()?).within(r.namespace.as_deref()?))
}

/// The unbound claims that `pick` accepts.
fn unbound_claims(
    claims: &Store<PersistentVolumeClaim>,
    pick: impl Fn(&PersistentVolumeClaim) -> bool,
) -> Vec<ObjectRef<PersistentVolumeClaim>> {
    claims
        .state()
        .iter()
        .filter(|c| {
            c.spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .unwrap_or("")
                .is_empty()
                && pick(c)
        })
        .map(|c| ObjectRef::from_obj(&**c))
        .collect()
}

/// The volumes a claim names or that name it.
fn volumes_of(
    pvc: &PersistentVolumeClaim,
    volumes: &Store<PersistentVolume>,
) -> Vec<ObjectRef<PersistentVolume>> {
    let mut out: Vec<ObjectRef<PersistentVolume>> = volumes
        .state()
        .iter()
        .filter(|pv| {
            claim_of(pv).is_some_and(|r| r.name == pvc.name_any() && r.namespace == pvc.namespace())
        })
        .map(|pv| ObjectRef::new(&pv.name_any()))
        .collect();
    if let Some(name) = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .filter(|n| !n.is_empty())
    {
        out.push(ObjectRef::new(name));
    }
    out
}

fn claim_error(pvc: Arc<PersistentVolumeClaim>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*pvc, error)
}

fn volume_error(pv: Arc<PersistentVolume>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*pv, error)
}

// ---------------------------------------------------------------------------
// claims
// ---------------------------------------------------------------------------

/// One pass over a claim: bind it, hand it to a provisioner, or say why it waits.
async fn sync_claim(claim: Arc<PersistentVolumeClaim>, state: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&claim.metadata);
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    if volume_name.is_empty() {
        sync_unbound_claim(&claim, &state).await?;
    } else {
        sync_bound_claim(&claim, &volume_name, &state).await?;
    }
    state.retries.forget(&key);
    Ok(Action::await_change())
}

/// kube's `syncUnboundClaim`.
async fn sync_unbound_claim(claim: &PersistentVolumeClaim, state: &State) -> Result<(), Error> {
    if claim.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let class_name = claim_class(claim).to_string();
    let class = state.classes.get(&ObjectRef::new(&class_name));
    let delayed = class
        .as_ref()
        .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
    let volumes = state.volumes.state();
    // With delayed binding the scheduler picks the volume (it reserves it
    // through claimRef); the controller only completes that.
    if let Some(pv) = best_match(claim, &volumes, |pv| !delayed || is_prebound_to(pv, claim)) {
        return bind(state, pv, claim).await;
    }
    set_claim_phase(state, claim, "Pending").await?;
    let reference = claim.object_ref(&());
    if class_name.is_empty() {
        let note = "no persistent volumes available for this claim and no storage class is set";
        state
            .events
            .publish(&reference, EventType::Normal, "FailedBinding", note.into())
            .await;
        return Ok(());
    }
    let Some(class) = class else {
        let note = format!("storageclass.storage.k8s.io \"{class_name}\" not found");
        state
            .events
            .publish(&reference, EventType::Warning, "ProvisioningFailed", note)
            .await;
        return Ok(());
    };
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    if delayed && !annotations.contains_key(SELECTED_NODE) {
        let note = "waiting for first consumer to be created before binding";
        state
            .events
            .publish(
                &reference,
                EventType::Normal,
                "WaitForFirstConsumer",
                note.into(),
            )
            .await;
        return Ok(());
    }
    // Hand the claim to its provisioner (kube's provisionClaimOperationExternal).
    let provisioner = class.provisioner.clone();
    if annotations.get(STORAGE_PROVISIONER) != Some(&provisioner) {
        let api = claims_api(state, claim);
        let patch = json!({"metadata": {"annotations": {
            STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner,
        }}});
        api.patch(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    let note = format!(
        "Waiting for a volume to be created either by the external provisioner '{provisioner}' \
         or manually by the system administrator. If volume creation is delayed, please verify \
         that the provisioner is running and correctly registered."
    );
    state
        .events
        .publish(&reference, EventType::Normal, "ExternalProvisioning", note)
        .await;
    Ok(())
}

/// kube's `syncBoundClaim`: the claim names a volume.
async fn sync_bound_claim(
    claim: &PersistentVolumeClaim,
    volume_name: &str,
    state: &State,
) -> Result<(), Error> {
    let reference = claim.object_ref(&());
    let phase = claim_phase(claim);
    let Some(pv) = state.volumes.get(&ObjectRef::new(volume_name)) else {
        if phase == "Bound" {
            set_claim_phase(state, claim, "Lost").await?;
            let note = "Bound claim has lost its PersistentVolume. Data on the volume is lost!";
            state
                .events
                .publish(&reference, EventType::Warning, "ClaimLost", note.into())
                .await;
        } else {
            set_claim_phase(state, claim, "Pending").await?;
        }
        return Ok(());
    };
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    match claim_ref {
        Some(_) if is_prebound_to(&pv, claim) => bind(state, &pv, claim).await,
        None if satisfies(&pv, claim) => bind(state, &pv, claim).await,
        None => {
            set_claim_phase(state, claim, "Pending").await?;
            let note = format!(
                "Cannot bind to requested volume \"{volume_name}\": {}",
                mismatch(&pv, claim)
            );
            state
                .events
                .publish(&reference, EventType::Warning, "FailedBinding", note)
                .await;
            Ok(())
        }
        Some(_) if phase == "Bound" => {
            set_claim_phase(state, claim, "Lost").await?;
            let note = "Two claims are bound to the same volume, this one is bound incorrectly";
            state
                .events
                .publish(&reference, EventType::Warning, "ClaimMisbound", note.into())
                .await;
            Ok(())
        }
        Some(_) => {
            set_claim_phase(state, claim, "Pending").await?;
            let note = format!("volume \"{volume_name}\" already bound to a different claim.");
            state
                .events
                .publish(&reference, EventType::Warning, "FailedBinding", note)
                .await;
            Ok(())
        }
    }
}

/// Why a pre-bound claim's volume does not fit it (kube's `checkVolumeSatisfyClaim` wording).
fn mismatch(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> &'static str {
    use minik_api::kinds::core::persistent_volume::volume_class;
    if volume_class(pv) != claim_class(claim) {
        "storageClassName does not match"
    } else if pv.metadata.deletion_timestamp.is_some() {
        "volume is being deleted"
    } else {
        let mut only_size = claim.clone();
        if let Some(r) = only_size.spec.as_mut().and_then(|s| s.resources.as_mut()) {
            r.requests = None;
        }
        if satisfies(pv, &only_size) {
            "requested PV is too small"
        } else {
            "incompatible accessMode or volumeMode"
        }
    }
}

/// Binds `pv` and `claim` to each other: the volume's `claimRef` and phase
/// first, then the claim's `volumeName`, annotations and status (kube's `bind`).
async fn bind(
    state: &State,
    pv: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> Result<(), Error> {
    let pv_name = pv.name_any();
    let volumes: Api<PersistentVolume> = Api::all(state.ctx.client.clone());
    let reserved = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| r.uid == claim.metadata.uid);
    let by_controller = !is_prebound_to(pv, claim);
    if !reserved {
        let r = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            namespace: claim.namespace(),
            name: claim.metadata.name.clone(),
            uid: claim.metadata.uid.clone(),
            resource_version: claim.metadata.resource_version.clone(),
            field_path: None,
        };
        let mut patch = json!({"spec": {"claimRef": r}});
        if by_controller {
            patch["metadata"] = json!({"annotations": {BOUND_BY_CONTROLLER: "yes"}});
        }
        volumes
            .patch(&pv_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    if pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
        set_volume_phase(state, pv, "Bound", None).await?;
    }
    let api = claims_api(state, claim);
    let spec = claim.spec.clone().unwrap_or_default();
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    if spec.volume_name.as_deref() != Some(pv_name.as_str())
        || annotations.get(BIND_COMPLETED).map(String::as_str) != Some("yes")
    {
        let mut marks = json!({BIND_COMPLETED: "yes"});
        if spec.volume_name.as_deref().unwrap_or("").is_empty() {
            marks[BOUND_BY_CONTROLLER] = json!("yes");
        }
        let patch = json!({"metadata": {"annotations": marks}, "spec": {"volumeName": pv_name}});
        api.patch(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    let pv_spec = pv.spec.clone().unwrap_or_default();
    let status = claim.status.clone().unwrap_or_default();
    if status.phase.as_deref() != Some("Bound")
        || status.capacity != pv_spec.capacity
        || status.access_modes != pv_spec.access_modes
    {
        let patch = json!({"status": {
            "phase": "Bound",
            "accessModes": pv_spec.access_modes,
            "capacity": pv_spec.capacity,
        }});
        api.patch_status(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    Ok(())
}

fn claims_api(state: &State, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
    Api::namespaced(
        state.ctx.client.clone(),
        &claim.namespace().unwrap_or_default(),
    )
}

fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

async fn set_claim_phase(
    state: &State,
    claim: &PersistentVolumeClaim,
    phase: &str,
) -> Result<(), Error> {
    if claim_phase(claim) == phase {
        return Ok(());
    }
    let patch = json!({"status": {"phase": phase}});
    claims_api(state, claim)
        .patch_status(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// volumes
// ---------------------------------------------------------------------------

/// One pass over a volume: its phase from its claim, and the reclaim policy
/// once the claim is gone. kube's `syncVolume`.
async fn sync_volume(pv: Arc<PersistentVolume>, state: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&pv.metadata);
    let phase = pv
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    let Some(claim_ref) = pv.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
        if phase != "Available" && phase != "Failed" {
            set_volume_phase(&state, &pv, "Available", None).await?;
        }
        state.retries.forget(&key);
        return Ok(Action::await_change());
    };
    if claim_ref.uid.as_deref().unwrap_or("").is_empty() {
        // Reserved for a claim that has not been bound yet.
        if phase != "Available" {
            set_volume_phase(&state, &pv, "Available", None).await?;
        }
        return Ok(Action::await_change());
    }
    let ns = claim_ref.namespace.clone().unwrap_or_default();
    let name = claim_ref.name.clone().unwrap_or_default();
    let mut claim = state.claims.get(&ObjectRef::new(&name).within(&ns));
    if claim
        .as_ref()
        .is_none_or(|c| c.metadata.uid != claim_ref.uid)
    {
        // The cache may be behind a new claim: ask before releasing.
        let api: Api<PersistentVolumeClaim> = Api::namespaced(state.ctx.client.clone(), &ns);
        claim = api.get_opt(&name).await?.map(Arc::new);
    }
    match claim {
        Some(c) if c.metadata.uid == claim_ref.uid => {
            let bound_to = c
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.clone())
                .unwrap_or_default();
            if bound_to == pv.name_any() {
                if phase != "Bound" {
                    set_volume_phase(&state, &pv, "Bound", None).await?;
                }
            } else if !bound_to.is_empty()
                && annotation(&pv.metadata.annotations, BOUND_BY_CONTROLLER)
            {
                // The claim went to another volume: undo our half of the binding.
                unbind(&state, &pv).await?;
            }
            // An unbound claim: its own sync finishes the binding.
        }
        _ => reclaim(&state, &pv, &phase).await?,
    }
    state.retries.forget(&key);
    Ok(Action::await_change())
}

/// The claim is gone: `Released`, then what the reclaim policy says.
async fn reclaim(state: &State, pv: &PersistentVolume, phase: &str) -> Result<(), Error> {
    if phase == "Failed" {
        return Ok(());
    }
    if phase != "Released" {
        set_volume_phase(state, pv, "Released", None).await?;
    }
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.clone())
        .unwrap_or_else(|| "Retain".into());
    let reference = pv.object_ref(&());
    match policy.as_str() {
        "Delete" if annotation(&pv.metadata.annotations, PROVISIONED_BY) => {
            // Its provisioner deletes it (and its data).
        }
        "Delete" => {
            let note = format!("error getting deleter volume plugin for volume \"{}\": no deletable volume plugin matched", pv.name_any());
            set_volume_phase(state, pv, "Failed", Some(&note)).await?;
            state
                .events
                .publish(&reference, EventType::Warning, "VolumeFailedDelete", note)
                .await;
        }
        "Recycle" => {
            let note = "No recycler plugin found for the volume!".to_string();
            set_volume_phase(state, pv, "Failed", Some(&note)).await?;
            state
                .events
                .publish(&reference, EventType::Warning, "VolumeFailedRecycle", note)
                .await;
        }
        _ => {}
    }
    Ok(())
}

async fn unbind(state: &State, pv: &PersistentVolume) -> Result<(), Error> {
    let api: Api<PersistentVolume> = Api::all(state.ctx.client.clone());
    let patch = json!({"metadata": {"annotations": {BOUND_BY_CONTROLLER: null}}, "spec": {"claimRef": null}});
    api.patch(
        &pv.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    set_volume_phase(state, pv, "Available", None).await
}

/// Writes the volume's phase (and message), with `lastPhaseTransitionTime`.
async fn set_volume_phase(
    state: &State,
    pv: &PersistentVolume,
    phase: &str,
    message: Option<&str>,
) -> Result<(), Error> {
    let api: Api<PersistentVolume> = Api::all(state.ctx.client.clone());
    let now = crate::status::second_precision(k8s_openapi::jiff::Timestamp::now());
    let patch =
        json!({"status": {"phase": phase, "message": message, "lastPhaseTransitionTime": now}});
    api.patch_status(
        &pv.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

fn annotation(annotations: &Option<std::collections::BTreeMap<String, String>>, key: &str) -> bool {
    annotations.as_ref().is_some_and(|a| a.contains_key(key))
}
