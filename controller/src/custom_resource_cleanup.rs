//! The CRD finalizer (apiextensions-apiserver's `finalizer` controller): a
//! deleted CustomResourceDefinition first loses its objects, then its
//! `customresourcecleanup.apiextensions.k8s.io` finalizer, and only then
//! goes — so `kubectl delete crd` takes every custom object with it and a
//! CRD created again later starts empty.
//!
//! Level-triggered: the reconcile of a CRD being deleted marks it
//! `Terminating`, deletes each of its objects that is not already going
//! (their own finalizers still hold them, as they should), and requeues
//! until a list comes back empty; then it lifts the finalizer. Kubernetes
//! runs this inside kube-apiserver; minik runs it with the other controllers.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::ResourceExt;
use minik_api::kinds::apiextensions::custom_resource_definition::CLEANUP_FINALIZER;
use minik_client::errors;
use serde_json::{json, Value};

use crate::context::{drive, Built, RetryBackoff};
use crate::step_gate::gated;
use crate::{Context, Error};

/// How soon a CRD whose objects are still going is looked at again.
const RECHECK: Duration = Duration::from_secs(2);

struct State {
    ctx: Arc<Context>,
    retries: RetryBackoff,
}

/// Builds the controller over the shared CRD informer.
pub fn build(ctx: &Arc<Context>) -> Built {
    let crds = ctx.informers.get::<CustomResourceDefinition>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        retries: RetryBackoff::default(),
    });
    drive(
        "customresourcedefinition cleanup",
        Controller::for_shared_stream(crds.applied(), crds.store()).run(
            gated(
                ctx,
                "customresourcedefinition cleanup",
                crds.store(),
                reconcile,
            ),
            error_policy,
            state,
        ),
    )
    .map(Ok)
    .boxed()
}

fn error_policy(crd: Arc<CustomResourceDefinition>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*crd, error)
}

/// Where the CRD's objects are stored (its storage version, accepted plural).
fn storage_resource(crd: &Value) -> Option<ApiResource> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str()?;
    let version = spec["versions"]
        .as_array()?
        .iter()
        .find(|v| v["storage"] == json!(true))?["name"]
        .as_str()?;
    let names = crd
        .pointer("/status/acceptedNames")
        .filter(|n| n["plural"].as_str().is_some_and(|p| !p.is_empty()))
        .unwrap_or(&spec["names"]);
    Some(ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: names["kind"].as_str()?.into(),
        plural: names["plural"].as_str()?.into(),
    })
}

async fn reconcile(crd: Arc<CustomResourceDefinition>, state: Arc<State>) -> Result<Action, Error> {
    let held = crd.finalizers().iter().any(|f| f == CLEANUP_FINALIZER);
    if crd.metadata.deletion_timestamp.is_none() || !held {
        return Ok(Action::await_change());
    }
    let value = serde_json::to_value(&*crd)?;
    let crds: Api<CustomResourceDefinition> = Api::all(state.ctx.client.clone());
    mark_terminating(&crds, &crd, &value).await?;
    if let Some(resource) = storage_resource(&value) {
        let objects: Api<DynamicObject> = Api::all_with(state.ctx.client.clone(), &resource);
        let left = match objects.list(&ListParams::default()).await {
            Ok(list) => list.items,
            // Never served (its names were not accepted): nothing was stored.
            Err(e) if errors::is_not_found(&e) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for obj in &left {
            if obj.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let api: Api<DynamicObject> = match obj.namespace() {
                Some(ns) => Api::namespaced_with(state.ctx.client.clone(), &ns, &resource),
                None => Api::all_with(state.ctx.client.clone(), &resource),
            };
            match api.delete(&obj.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !left.is_empty() {
            tracing::info!(crd = %crd.name_any(), left = left.len(), "deleting the CRD's objects");
            return Ok(Action::requeue(RECHECK));
        }
    }
    let kept: Vec<&String> = crd
        .finalizers()
        .iter()
        .filter(|f| *f != CLEANUP_FINALIZER)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": kept, "resourceVersion": crd.resource_version()}});
    match crds
        .patch(
            &crd.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => {}
        Err(e) if errors::is_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    state.retries.forget(&crd.name_any());
    Ok(Action::await_change())
}

/// The `Terminating` condition a CRD being deleted shows.
async fn mark_terminating(
    crds: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
    value: &Value,
) -> Result<(), Error> {
    let mut conditions: Vec<Value> = value
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c["type"] == json!("Terminating") && c["status"] == json!("True"))
    {
        return Ok(());
    }
    conditions.retain(|c| c["type"] != json!("Terminating"));
    conditions.push(json!({
        "type": "Terminating",
        "status": "True",
        "lastTransitionTime": minik_api::meta::now_rfc3339(),
        "reason": "InstanceDeletionInProgress",
        "message": "CustomResource deletion is in progress",
    }));
    let patch = json!({"status": {"conditions": conditions}});
    crds.patch_status(
        &crd.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
