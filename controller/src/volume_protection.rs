//! Storage object in-use protection: the controllers that lift the
//! `kubernetes.io/pvc-protection` and `kubernetes.io/pv-protection`
//! finalizers (added on create by the API server, as Kubernetes'
//! StorageObjectInUseProtection admission plugin does). Kubernetes'
//! `pkg/controller/volume/pvcprotection` and `pvprotection`.
//!
//! - A deleted claim keeps its finalizer while a scheduled pod that has not
//!   terminated (phase neither Succeeded nor Failed) names it in a
//!   `persistentVolumeClaim` volume; pod changes wake the claims they use.
//!   Before lifting, the pods are listed live from the API server (the
//!   cache may not have seen a new pod yet), as Kubernetes does.
//! - A deleted volume keeps its finalizer while it is `Bound`.

use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use minik_api::kinds::core::persistent_volume::PV_PROTECTION;
use minik_api::kinds::core::persistent_volume_claim::PVC_PROTECTION;
use serde_json::json;

use crate::context::{drive, Built, RetryBackoff};
use crate::ownership::key_of;
use crate::pod_cache::CachedPod;
use crate::step_gate::gated;
use crate::{Context, Error};

struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    retries: RetryBackoff,
}

/// Builds the claim and volume protection loops over the shared informers.
pub fn build(ctx: &Arc<Context>) -> Built {
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    let volumes = ctx.informers.get::<PersistentVolume>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let state = Arc::new(State {
        ctx: ctx.clone(),
        pods: pods.store(),
        retries: RetryBackoff::default(),
    });
    let claim_loop = drive(
        "volume protection",
        Controller::for_shared_stream(claims.applied(), claims.store())
            .watches_shared_stream(pods.touched(), |pod| claims_of(&pod))
            .run(
                gated(ctx, "volume protection", claims.store(), sync_claim),
                claim_error,
                state.clone(),
            ),
    );
    let volume_loop = drive(
        "volume protection",
        Controller::for_shared_stream(volumes.applied(), volumes.store()).run(
            gated(ctx, "volume protection", volumes.store(), sync_volume),
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

/// The claims a pod's volumes name.
fn claims_of(pod: &CachedPod) -> Vec<ObjectRef<PersistentVolumeClaim>> {
    let ns = pod.namespace().unwrap_or_default();
    claim_names(pod)
        .map(|name| ObjectRef::new(name).within(&ns))
        .collect()
}

fn claim_names(pod: &CachedPod) -> impl Iterator<Item = &str> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.as_str())
}

/// Whether `pod` holds claim `name`: scheduled, not terminated, naming it.
/// (An unscheduled pod cannot be using it: the kubelet refuses to start a
/// pod whose claim is being deleted.)
fn uses(pod: &CachedPod, name: &str) -> bool {
    let scheduled = pod
        .spec
        .as_ref()
        .is_some_and(|s| s.node_name.as_deref().is_some_and(|n| !n.is_empty()));
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    scheduled && !matches!(phase, "Succeeded" | "Failed") && claim_names(pod).any(|c| c == name)
}

fn claim_error(pvc: Arc<PersistentVolumeClaim>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*pvc, error)
}

fn volume_error(pv: Arc<PersistentVolume>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*pv, error)
}

fn holds(meta: &kube::api::ObjectMeta, finalizer: &str) -> bool {
    meta.deletion_timestamp.is_some() && meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

/// A patch that leaves every finalizer but `finalizer`, guarded by the
/// resourceVersion it was computed from.
fn without(meta: &kube::api::ObjectMeta, finalizer: &str) -> serde_json::Value {
    let rest: Vec<&String> = meta
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != finalizer)
        .collect();
    json!({"metadata": {"finalizers": rest, "resourceVersion": meta.resource_version}})
}

/// Lifts a deleted claim's finalizer once no pod uses it.
async fn sync_claim(pvc: Arc<PersistentVolumeClaim>, state: Arc<State>) -> Result<Action, Error> {
    if !holds(&pvc.metadata, PVC_PROTECTION) {
        return Ok(Action::await_change());
    }
    let ns = pvc.namespace().unwrap_or_default();
    let name = pvc.name_any();
    let cached = state
        .pods
        .state()
        .iter()
        .any(|p| p.namespace().as_deref() == Some(ns.as_str()) && uses(p, &name));
    if cached {
        return Ok(Action::await_change());
    }
    let pods: Api<CachedPod> = Api::namespaced(state.ctx.client.clone(), &ns);
    if pods
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .any(|p| uses(p, &name))
    {
        return Ok(Action::await_change());
    }
    let api: Api<PersistentVolumeClaim> = Api::namespaced(state.ctx.client.clone(), &ns);
    let patch = without(&pvc.metadata, PVC_PROTECTION);
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(claim = %key_of(&pvc.metadata), "no pod uses the claim: removed its protection finalizer");
    state.retries.forget(&key_of(&pvc.metadata));
    Ok(Action::await_change())
}

/// Lifts a deleted volume's finalizer once it is not Bound.
async fn sync_volume(pv: Arc<PersistentVolume>, state: Arc<State>) -> Result<Action, Error> {
    if !holds(&pv.metadata, PV_PROTECTION) {
        return Ok(Action::await_change());
    }
    if pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound") {
        return Ok(Action::await_change());
    }
    let api: Api<PersistentVolume> = Api::all(state.ctx.client.clone());
    let patch = without(&pv.metadata, PV_PROTECTION);
    api.patch(
        &pv.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    state.retries.forget(&key_of(&pv.metadata));
    Ok(Action::await_change())
}
