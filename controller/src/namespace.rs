//! The namespace controller: empties a namespace being deleted, then lets
//! the API server remove it.
//!
//! A DELETE of a namespace only marks it: the API server sets its
//! deletionTimestamp and phase Terminating, and keeps it while
//! `spec.finalizers` holds `kubernetes`. This controller (Kubernetes'
//! `namespace-controller`, pkg/controller/namespace/deletion) then:
//! 1. deletes every namespaced kind in it with one DELETE collection
//!    (propagationPolicy Background) per kind, Events included;
//! 2. lists what is left: pods still terminating on their kubelets, or
//!    objects held by finalizers (a foreground deletion, say);
//! 3. reports progress in the namespace's status conditions
//!    (`NamespaceContentRemaining`, `NamespaceFinalizersRemaining`,
//!    `NamespaceDeletionContentFailure`, ... with Kubernetes' reasons and
//!    messages, as `kubectl describe namespace` shows them);
//! 4. when nothing is left, PUTs `namespaces/<name>/finalize` without the
//!    `kubernetes` finalizer, and the API server removes the namespace.
//!
//! Level-triggered and idempotent: every pass deletes whatever is there and
//! counts what remains. While content remains it checks again after half
//! the longest pod grace period (plus a second), or after 8 s when only
//! finalizers hold objects — Kubernetes' estimates — and also whenever a
//! pod in a terminating namespace changes, so the namespace goes as soon as
//! its last pod does.
//!
//! Simplified on purpose: the kinds come from minik's catalogue rather than
//! from discovery, so the discovery/group-version failure conditions are
//! always reported as fine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition, NamespaceStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::{Api, ResourceExt};
use minik_api::catalogue::ResourceInfo;
use minik_client::errors;

use crate::context::{drive, stored_kinds, Built, RetryBackoff};
use crate::step_gate::gated;
use crate::{Context, Error};

/// The finalizer in `spec.finalizers` that this controller owns.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// How long to wait for objects held by finalizers (Kubernetes' estimate).
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

struct State {
    ctx: Arc<Context>,
    /// Every namespaced kind, once per set of stored objects.
    kinds: Vec<(&'static ResourceInfo, ApiResource)>,
    backoff: RetryBackoff,
}

/// Builds the controller over the shared Namespace and Pod informers (the
/// caller starts them).
pub fn build(ctx: &Arc<Context>) -> Built {
    let kinds = stored_kinds()
        .into_iter()
        .filter(|(info, _)| info.namespaced)
        .collect();
    crate::context::watch_crds(ctx);
    let state = Arc::new(State {
        ctx: ctx.clone(),
        kinds,
        backoff: RetryBackoff::default(),
    });
    let namespaces = ctx.informers.get::<Namespace>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let store = namespaces.store();
    let controller = drive(
        "namespace controller",
        Controller::for_shared_stream(namespaces.applied(), namespaces.store())
            // A pod change in a terminating namespace may be the last pod leaving.
            .watches_shared_stream(pods.touched(), move |pod| {
                let ns = pod.namespace()?;
                let terminating = store
                    .get(&ObjectRef::new(&ns))
                    .is_some_and(|n| n.metadata.deletion_timestamp.is_some());
                terminating.then(|| ObjectRef::new(&ns))
            })
            .run(
                gated(ctx, "namespace controller", namespaces.store(), reconcile),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

/// Deletes the content of a terminating namespace and, once it is empty,
/// finalizes it. Namespaces not being deleted are left alone.
async fn reconcile(ns: Arc<Namespace>, st: Arc<State>) -> Result<Action, Error> {
    if ns.metadata.deletion_timestamp.is_none() || !has_kubernetes_finalizer(&ns) {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let outcome = delete_all_content(&st, &name).await;
    let ns = update_conditions(&st, &ns, &outcome).await?;
    if !outcome.failures.is_empty() {
        return Err(Error::Incomplete(format!(
            "deleting the content of namespace {name}: {}",
            outcome.failures.join("; ")
        )));
    }
    if outcome.remaining.is_empty() {
        finalize(&st, &ns).await?;
        st.backoff.forget(&name);
        return Ok(Action::await_change());
    }
    let wait = (outcome.estimate / 2 + 1) as u64;
    tracing::debug!(namespace = %name, wait, "content remaining in namespace");
    Ok(Action::requeue(Duration::from_secs(wait)))
}

fn error_policy(ns: Arc<Namespace>, err: &Error, st: Arc<State>) -> Action {
    tracing::warn!(namespace = %ns.name_any(), error = %err, "deleting namespace");
    Action::requeue(st.backoff.next_delay(&ns.name_any()))
}

fn has_kubernetes_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER_KUBERNETES))
}

/// What one deletion pass found.
#[derive(Default)]
struct Outcome {
    /// Objects left per resource (`pods.`, `replicasets.apps`), as Kubernetes names them.
    remaining: BTreeMap<String, usize>,
    /// Objects left per finalizer they carry.
    finalizers: BTreeMap<String, usize>,
    /// Kinds whose deletion failed.
    failures: Vec<String>,
    /// Seconds until the remaining content is expected to be gone.
    estimate: i64,
}

/// One pass of Kubernetes' `deleteAllContent`.
async fn delete_all_content(st: &State, ns: &str) -> Outcome {
    let mut out = Outcome::default();
    // Custom kinds as the CRDs are now (Kubernetes rediscovers each pass).
    let custom: Vec<_> = crate::context::custom_kinds(&st.ctx)
        .into_iter()
        .filter(|(info, _)| info.namespaced)
        .collect();
    for (info, resource) in st.kinds.iter().chain(&custom) {
        let plural = format!("{}.{}", info.plural, info.group);
        match delete_kind(st, ns, info, resource).await {
            Ok((estimate, left, finalizers)) => {
                if left > 0 {
                    out.remaining.insert(plural, left);
                    // Objects held only by finalizers get the finalizer estimate.
                    let estimate = if estimate == 0 && !finalizers.is_empty() {
                        FINALIZER_ESTIMATE_SECONDS
                    } else {
                        estimate
                    };
                    out.estimate = out.estimate.max(estimate);
                }
                for (f, n) in finalizers {
                    *out.finalizers.entry(f).or_default() += n;
                }
            }
            Err(e) => out.failures.push(format!("{plural}: {e}")),
        }
    }
    out
}

/// Deletes every object of one kind in `ns`; returns the grace-period
/// estimate, how many objects are left and the finalizers they hold.
async fn delete_kind(
    st: &State,
    ns: &str,
    info: &ResourceInfo,
    resource: &ApiResource,
) -> Result<(i64, usize, BTreeMap<String, usize>), kube::Error> {
    let client = st.ctx.client.clone();
    let estimate = if info.kind == "Pod" {
        estimate_pod_termination(&Api::<Pod>::namespaced(client.clone(), ns)).await?
    } else {
        0
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, resource);
    api.delete_collection(&DeleteParams::background(), &ListParams::default())
        .await?;
    let left: Api<PartialObjectMeta<DynamicObject>> = Api::namespaced_with(client, ns, resource);
    let items = left.list_metadata(&ListParams::default()).await?.items;
    let mut finalizers = BTreeMap::new();
    for item in &items {
        for f in item.finalizers() {
            *finalizers.entry(f.clone()).or_default() += 1;
        }
    }
    Ok((estimate, items.len(), finalizers))
}

/// Kubernetes' `estimateGracefulTerminationForPods`: the longest grace
/// period among pods that have not finished.
async fn estimate_pod_termination(pods: &Api<Pod>) -> Result<i64, kube::Error> {
    let list = pods.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .filter_map(|p| p.spec.as_ref()?.termination_grace_period_seconds)
        .max()
        .unwrap_or(0))
}

/// Writes the deletion conditions (only when they changed); returns the
/// namespace as the API server now has it.
async fn update_conditions(
    st: &State,
    ns: &Arc<Namespace>,
    out: &Outcome,
) -> Result<Arc<Namespace>, Error> {
    let join = |m: &BTreeMap<String, usize>, f: &dyn Fn(&String, &usize) -> String| {
        m.iter()
            .map(|(k, v)| f(k, v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let desired = [
        (
            "NamespaceDeletionDiscoveryFailure",
            false,
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        if out.failures.is_empty() {
            (
                "NamespaceDeletionContentFailure",
                false,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".to_string(),
            )
        } else {
            (
                "NamespaceDeletionContentFailure",
                true,
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    out.failures.len(),
                    out.failures.join(", ")
                ),
            )
        },
        if out.remaining.is_empty() {
            (
                "NamespaceContentRemaining",
                false,
                "ContentRemoved",
                "All content successfully removed".to_string(),
            )
        } else {
            (
                "NamespaceContentRemaining",
                true,
                "SomeResourcesRemain",
                format!(
                    "Some resources are remaining: {}",
                    join(&out.remaining, &|k, v| format!(
                        "{k} has {v} resource instances"
                    ))
                ),
            )
        },
        if out.finalizers.is_empty() {
            (
                "NamespaceFinalizersRemaining",
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".to_string(),
            )
        } else {
            (
                "NamespaceFinalizersRemaining",
                true,
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    join(&out.finalizers, &|k, v| format!(
                        "{k} in {v} resource instances"
                    ))
                ),
            )
        },
    ];
    let mut status = ns.status.clone().unwrap_or_default();
    let current = status.conditions.take().unwrap_or_default();
    let now = Time(Timestamp::now());
    let mut conditions = Vec::new();
    let mut changed = false;
    for (type_, on, reason, message) in desired {
        let status_str = if on { "True" } else { "False" };
        let old = current.iter().find(|c| c.type_ == type_);
        let same = old.is_some_and(|c| {
            c.status == status_str
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message.as_str())
        });
        changed |= !same;
        let transition = match old {
            Some(c) if c.status == status_str => c.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
        conditions.push(NamespaceCondition {
            type_: type_.to_string(),
            status: status_str.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_transition_time: transition,
        });
    }
    if !changed {
        return Ok(ns.clone());
    }
    let mut updated = (**ns).clone();
    updated.status = Some(NamespaceStatus {
        conditions: Some(conditions),
        ..status
    });
    let api: Api<Namespace> = Api::all(st.ctx.client.clone());
    match api
        .replace_status(&ns.name_any(), &PostParams::default(), &updated)
        .await
    {
        Ok(latest) => Ok(Arc::new(latest)),
        // A newer version is on its way; the next pass writes the conditions.
        Err(e) if errors::is_superseded(&e) => Ok(ns.clone()),
        Err(e) => Err(e.into()),
    }
}

/// PUT `namespaces/<name>/finalize` without the `kubernetes` finalizer.
async fn finalize(st: &State, ns: &Namespace) -> Result<(), Error> {
    let mut body = ns.clone();
    if let Some(spec) = body.spec.as_mut() {
        if let Some(f) = spec.finalizers.as_mut() {
            f.retain(|x| x != FINALIZER_KUBERNETES);
        }
    }
    let api: Api<Namespace> = Api::all(st.ctx.client.clone());
    tracing::info!(namespace = %ns.name_any(), "namespace is empty: finalizing");
    match api
        .replace_subresource("finalize", &ns.name_any(), &PostParams::default(), &body)
        .await
    {
        Err(e) if errors::is_superseded(&e) => Ok(()),
        r => r.map(|_| ()).map_err(Error::from),
    }
}
