//! The garbage collector: deletes objects whose owners are gone, and carries
//! out the two deletion modes that need help after the API server has
//! marked an owner — Foreground (`foregroundDeletion` finalizer: delete the
//! dependents first, then let the owner go) and Orphan (`orphan` finalizer:
//! cut the dependents loose, then let the owner go). Background deletion
//! needs nothing at deletion time: the owner disappears at once and its
//! dependents, now pointing at a missing owner, are collected here.
//!
//! Mirrors kube-controller-manager's `garbagecollector` (pkg/controller/garbagecollector):
//! - *monitors*: one metadata-only informer per served kind (Events excepted,
//!   as in Kubernetes' default ignored resources; a kind the process already
//!   watches in full is read from that shared informer) feed one ownership
//!   *graph* keyed by uid: each object's owners, and each owner's dependents
//!   — including owners never seen ("virtual" nodes in Kubernetes);
//! - a change in the graph wakes whoever it concerns: an owner's deletion
//!   wakes its dependents, an owner entering foreground deletion wakes its
//!   dependents, a dependent leaving wakes an owner waiting for it;
//! - one reconcile per object (Kubernetes' `attemptToDeleteItem` and
//!   `attemptToOrphan`), level-triggered and idempotent:
//!   - being deleted with `orphan`: remove this owner from its dependents'
//!     ownerReferences, then drop the finalizer;
//!   - being deleted with `foregroundDeletion`: once no dependent with
//!     `blockOwnerDeletion: true` is left, drop the finalizer;
//!   - in both cases the dependents are confirmed by listing them from the
//!     API server, not only from the graph: each kind has its own watch, so
//!     a pod created a moment before its owner's DELETE may not be in the
//!     graph yet, and letting the owner go then would orphan or delete it
//!     wrongly (Kubernetes trusts the graph here and has that race);
//!   - otherwise classify each owner as *solid* (exists), *dangling*
//!     (absent, or a different object of that name: uid mismatch) or
//!     *waiting* (being deleted in the foreground). With a solid owner left,
//!     dangling and waiting references are removed; with none, the object
//!     is deleted — in the foreground if its owners wait for it and it has
//!     dependents of its own, else by its own finalizers' policy
//!     (Background by default). Deletes carry uid and resourceVersion
//!     preconditions, so an object that gained an owner meanwhile survives.
//!
//! In step mode (`step_gate`) only the collector's writes wait for a step
//! (`held`): it is woken by every change of every object and nearly always
//! finds nothing to do.
//!
//! Simplified on purpose: an owner is looked up in the graph first and in
//! the API server only when the graph has never seen it (Kubernetes always
//! asks the API server — its own TODO suggests this); owners of kinds minik
//! does not serve count as solid (Kubernetes retries forever); no
//! `OwnerRefInvalidNamespace` event for a cluster-scoped dependent with a
//! namespaced owner (it is left alone, as in Kubernetes).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions,
};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::{Api, ResourceExt};
use minik_api::catalogue::ResourceInfo;
use minik_client::errors;
use serde_json::json;

use crate::context::{api_resource, drive, stored_kinds, Built, RetryBackoff};
use crate::step_gate::{object_key, Plan, Ticket};
use crate::{Context, Error};
use minik_client::informer::{Change, Meta};

/// Finalizer the API server adds on a DELETE with `propagationPolicy: Orphan`.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// Finalizer the API server adds on a DELETE with `propagationPolicy: Foreground`.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// One watched kind.
struct Kind {
    info: &'static ResourceInfo,
    resource: ApiResource,
    /// Wakes this kind's reconcile for one object.
    wake: mpsc::UnboundedSender<ObjectRef<Meta>>,
}

/// One object in the ownership graph.
struct Node {
    kind: usize,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    finalizers: Vec<String>,
    being_deleted: bool,
}

impl Node {
    /// Kubernetes' `isDeletingDependents`: being deleted in the foreground.
    fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER)
    }
}

/// uid → object, and owner uid → dependent uids (the owner may be unknown).
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

/// The collector: its kinds, graph and bookkeeping.
struct Collector {
    ctx: Arc<Context>,
    /// Every watched kind; custom kinds are appended as CRDs appear (an
    /// index never changes meaning).
    kinds: std::sync::RwLock<Vec<Arc<Kind>>>,
    graph: Mutex<Graph>,
    /// Owner uids the API server confirmed absent (uids are never reused).
    absent: Mutex<HashSet<String>>,
    /// Kinds whose first list has arrived; work starts when all have.
    synced: Mutex<HashSet<usize>>,
    ready: tokio::sync::watch::Sender<bool>,
    backoff: RetryBackoff,
}

/// The reconcile context of one kind's controller.
struct KindCtx {
    gc: Arc<Collector>,
    kind: usize,
}

// ---------------------------------------------------------------------------
// Construct and run.
// ---------------------------------------------------------------------------

/// Builds one monitor + controller per kind over the shared metadata
/// informers (the caller starts them). A kind this process also watches in
/// full (pods, ReplicaSets, …) is served from that informer, not watched twice.
pub fn build(ctx: &Arc<Context>) -> Built {
    let (ready, _) = tokio::sync::watch::channel(false);
    let gc = Arc::new(Collector {
        ctx: ctx.clone(),
        kinds: Default::default(),
        graph: Mutex::default(),
        absent: Mutex::default(),
        synced: Mutex::default(),
        ready,
        backoff: RetryBackoff::default(),
    });
    // Events own nothing and are many: not watched.
    let controllers: Vec<_> = stored_kinds()
        .into_iter()
        .filter(|(info, _)| info.kind != "Event")
        .map(|(info, resource)| monitor(&gc, info, resource))
        .collect();
    // Custom kinds join as their CRDs are established.
    let crds = ctx.informers.get::<CustomResourceDefinition>();
    let joiner = gc.clone();
    let custom = crds.subscribe().for_each(move |change| {
        if matches!(
            change,
            Change::Added(_) | Change::Updated { .. } | Change::Synced
        ) {
            let watched: HashSet<String> = joiner
                .kinds
                .read()
                .unwrap()
                .iter()
                .map(|k| k.info.key_prefix())
                .collect();
            for (info, resource) in crate::context::custom_kinds(&joiner.ctx) {
                if !watched.contains(&info.key_prefix()) {
                    tracing::info!(
                        kind = info.kind,
                        group = info.group,
                        "garbage collector watches a custom kind"
                    );
                    tokio::spawn(monitor(&joiner, info, resource));
                }
            }
        }
        std::future::ready(())
    });
    async move {
        futures::future::join(futures::future::join_all(controllers), custom).await;
        Ok(())
    }
    .boxed()
}

/// Adds a kind to the graph: its metadata informer feeds the graph, and a
/// controller reconciles its objects when the graph wakes them.
fn monitor(
    gc: &Arc<Collector>,
    info: &'static ResourceInfo,
    resource: ApiResource,
) -> futures::future::BoxFuture<'static, ()> {
    let (wake, woken) = mpsc::unbounded();
    let i = {
        let mut kinds = gc.kinds.write().unwrap();
        kinds.push(Arc::new(Kind {
            info,
            resource: resource.clone(),
            wake,
        }));
        kinds.len() - 1
    };
    let informer = gc.ctx.informers.metadata(&resource);
    let monitor = gc.clone();
    let objects = informer.subscribe().filter_map(move |change| {
        monitor.observe(i, &change);
        std::future::ready(change.applied())
    });
    let kind_ctx = Arc::new(KindCtx {
        gc: gc.clone(),
        kind: i,
    });
    drive(
        "garbage collector",
        Controller::for_shared_stream_with(objects, informer.store(), resource)
            // Bounded, as kube-controller-manager's workers are: unbounded,
            // every object woken at once (a thousand Nodes at start-up, a
            // burst of pods) held a running reconcile each, and the map of
            // them kept its peak capacity afterwards.
            .with_config(
                kube::runtime::controller::Config::default()
                    .concurrency(gc.ctx.settings.concurrent_gc_syncs),
            )
            .reconcile_on(woken)
            .run(reconcile, error_policy, kind_ctx),
    )
    .boxed()
}

// ---------------------------------------------------------------------------
// The graph: monitors' changes in, wake-ups out.
// ---------------------------------------------------------------------------

impl Collector {
    /// Folds one change of kind `kind` into the graph (Kubernetes'
    /// `processGraphChanges`) and wakes the objects it concerns.
    fn observe(&self, kind: usize, change: &Change<Meta>) {
        let mut wake = Vec::new();
        {
            let mut graph = self.graph.lock().unwrap();
            match change {
                Change::Added(obj) | Change::Updated { new: obj, .. } => {
                    graph.upsert(kind, obj, &mut wake)
                }
                Change::Deleted(obj) => graph.remove(&obj.uid().unwrap_or_default(), &mut wake),
                Change::Synced => {}
            }
            for uid in wake.drain(..).collect::<HashSet<_>>() {
                if let Some(node) = graph.nodes.get(&uid) {
                    self.wake(node);
                }
            }
        }
        if matches!(change, Change::Synced) {
            let mut synced = self.synced.lock().unwrap();
            synced.insert(kind);
            if synced.len() == self.kinds.read().unwrap().len() {
                self.ready.send_replace(true);
            }
        }
    }

    fn wake(&self, node: &Node) {
        self.wake_object(node.kind, node.namespace.as_deref(), &node.name);
    }

    fn wake_object(&self, kind: usize, namespace: Option<&str>, name: &str) {
        let kind = self.kind(kind);
        let mut r = ObjectRef::new_with(name, kind.resource.clone());
        if let Some(ns) = namespace {
            r = r.within(ns);
        }
        // The receiver lives as long as the controllers.
        let _ = kind.wake.unbounded_send(r);
    }

    fn kind(&self, i: usize) -> Arc<Kind> {
        self.kinds.read().unwrap()[i].clone()
    }

    /// Waits until every kind has been listed once: before that, a missing
    /// dependent may only be not yet seen.
    async fn wait_synced(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|r| *r).await;
    }
}

impl Graph {
    /// An object appeared or changed.
    fn upsert(&mut self, kind: usize, obj: &Meta, wake: &mut Vec<String>) {
        let Some(uid) = obj.uid() else { return };
        let node = Node {
            kind,
            namespace: obj.namespace(),
            name: obj.name_any(),
            owners: obj.owner_references().to_vec(),
            finalizers: obj.finalizers().to_vec(),
            being_deleted: obj.metadata.deletion_timestamp.is_some(),
        };
        let old = self.nodes.remove(&uid);
        let old_owners = old.as_ref().map(|o| o.owners.clone()).unwrap_or_default();
        if old_owners != node.owners {
            for o in &old_owners {
                if let Some(deps) = self.dependents.get_mut(&o.uid) {
                    deps.remove(&uid);
                    if deps.is_empty() {
                        self.dependents.remove(&o.uid);
                    }
                }
            }
            for o in &node.owners {
                self.dependents
                    .entry(o.uid.clone())
                    .or_default()
                    .insert(uid.clone());
            }
            // An owner in foreground deletion may have stopped waiting for this one.
            for o in old_owners.iter().chain(&node.owners) {
                if self
                    .nodes
                    .get(&o.uid)
                    .is_some_and(Node::deleting_dependents)
                {
                    wake.push(o.uid.clone());
                }
            }
        }
        if node.deleting_dependents() && !old.as_ref().is_some_and(Node::deleting_dependents) {
            // Foreground deletion began: the dependents must go first.
            wake.extend(self.dependents.get(&uid).into_iter().flatten().cloned());
        }
        self.nodes.insert(uid, node);
    }

    /// An object is gone: its dependents lost an owner, and an owner in
    /// foreground deletion may have lost its last blocking dependent.
    fn remove(&mut self, uid: &str, wake: &mut Vec<String>) {
        let Some(node) = self.nodes.remove(uid) else {
            return;
        };
        for o in &node.owners {
            if let Some(deps) = self.dependents.get_mut(&o.uid) {
                deps.remove(uid);
                if deps.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
            if self.nodes.get(&o.uid).is_some_and(|n| n.being_deleted) {
                wake.push(o.uid.clone());
            }
        }
        wake.extend(self.dependents.get(uid).into_iter().flatten().cloned());
    }

    /// The dependents of `uid` whose reference to it has `blockOwnerDeletion: true`.
    fn blocking_dependents(&self, uid: &str) -> Vec<String> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter(|d| {
                self.nodes.get(*d).is_some_and(|n| {
                    n.owners
                        .iter()
                        .any(|o| o.uid == uid && o.block_owner_deletion == Some(true))
                })
            })
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Reconcile one object.
// ---------------------------------------------------------------------------

/// What an owner reference points at.
#[derive(Debug, PartialEq)]
enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is absent, or a different object now has its name.
    Dangling,
    /// The owner is being deleted in the foreground.
    Waiting,
}

/// Brings one object in line with its owners and its own deletion mode.
/// Level-triggered and idempotent: every step re-reads the graph and the
/// object, and every write carries preconditions.
async fn reconcile(obj: Arc<Meta>, kc: Arc<KindCtx>) -> Result<Action, Error> {
    let gc = &kc.gc;
    gc.wait_synced().await;
    let uid = obj.uid().unwrap_or_default();
    let result = attempt(gc, kc.kind, &obj, &uid).await;
    if result.is_ok() {
        gc.backoff.forget(&uid);
    }
    result
}

async fn attempt(gc: &Collector, kind: usize, obj: &Meta, uid: &str) -> Result<Action, Error> {
    if obj.metadata.deletion_timestamp.is_some() {
        if has_finalizer(obj, ORPHAN_FINALIZER) {
            let does = "orphan its dependents, then remove the orphan finalizer";
            held(gc, kind, obj, does, async {
                orphan_dependents(gc, obj).await?;
                remove_finalizer(gc, kind, obj, ORPHAN_FINALIZER).await
            })
            .await?;
        } else if has_finalizer(obj, FOREGROUND_FINALIZER) {
            let blocking = gc.graph.lock().unwrap().blocking_dependents(uid);
            if blocking.is_empty() {
                // The graph may not have seen a dependent created a moment
                // ago (each kind has its own watch): before the owner goes,
                // ask the API server.
                let live: Vec<(usize, Meta)> = live_dependents(gc, obj)
                    .await?
                    .into_iter()
                    .filter(|(_, d)| {
                        d.owner_references()
                            .iter()
                            .any(|o| o.uid == uid && o.block_owner_deletion == Some(true))
                    })
                    .collect();
                if live.is_empty() {
                    let does =
                        "no blocking dependents left: remove the foregroundDeletion finalizer";
                    held(
                        gc,
                        kind,
                        obj,
                        does,
                        remove_finalizer(gc, kind, obj, FOREGROUND_FINALIZER),
                    )
                    .await?;
                } else {
                    for (k, d) in &live {
                        gc.wake_object(*k, d.namespace().as_deref(), &d.name_any());
                    }
                }
            } else {
                tracing::debug!(owner = %obj.name_any(), blocking = blocking.len(), "waiting for dependents");
                let graph = gc.graph.lock().unwrap();
                for dep in blocking.iter().filter_map(|d| graph.nodes.get(d)) {
                    if !dep.being_deleted {
                        gc.wake(dep);
                    }
                }
            }
        }
        // Any other object being deleted is on its way out already.
        return Ok(Action::await_change());
    }
    let owners = obj.owner_references();
    if owners.is_empty() {
        return Ok(Action::await_change());
    }
    let mut solid = 0;
    let mut remove = Vec::new();
    let mut waiting = Vec::new();
    for owner in owners {
        match owner_state(gc, obj, owner).await? {
            Some(OwnerState::Solid) | None => solid += 1,
            Some(OwnerState::Dangling) => remove.push(owner.uid.clone()),
            Some(OwnerState::Waiting) => waiting.push(owner.uid.clone()),
        }
    }
    if solid > 0 {
        if remove.is_empty() && waiting.is_empty() {
            return Ok(Action::await_change());
        }
        // Keep the object for its live owners; forget the others.
        remove.extend(waiting);
        let kept: Vec<&OwnerReference> =
            owners.iter().filter(|o| !remove.contains(&o.uid)).collect();
        let does = "remove the ownerReferences of owners that are gone or being deleted";
        held(
            gc,
            kind,
            obj,
            does,
            patch_owner_references(gc, kind, obj, json!(kept)),
        )
        .await?;
        return Ok(Action::await_change());
    }
    let has_dependents = gc.graph.lock().unwrap().dependents.contains_key(uid);
    let policy = if !waiting.is_empty() && has_dependents {
        // Owners wait for this object, and it has dependents of its own: delete
        // it in the foreground too. If one of those dependents is itself
        // waiting on its dependents, stop this object from blocking its owners,
        // so that a cycle of blocking references cannot deadlock.
        let cycle = {
            let graph = gc.graph.lock().unwrap();
            graph
                .dependents
                .get(uid)
                .into_iter()
                .flatten()
                .any(|d| graph.nodes.get(d).is_some_and(Node::deleting_dependents))
        };
        if cycle {
            let unblocked: Vec<OwnerReference> = owners
                .iter()
                .map(|o| {
                    let mut o = o.clone();
                    if waiting.contains(&o.uid) {
                        o.block_owner_deletion = Some(false);
                    }
                    o
                })
                .collect();
            patch_owner_references(gc, kind, obj, json!(unblocked)).await?;
        }
        "Foreground"
    } else if has_finalizer(obj, ORPHAN_FINALIZER) {
        "Orphan"
    } else if has_finalizer(obj, FOREGROUND_FINALIZER) {
        "Foreground"
    } else {
        "Background"
    };
    let does = format!("every owner is gone or being deleted: delete it ({policy})");
    held(gc, kind, obj, &does, delete_object(gc, kind, obj, policy)).await?;
    Ok(Action::await_change())
}

/// Step mode: the collector is woken by every change of every object and
/// nearly always finds nothing to do, so only its writes wait for a step
/// (one step, one write decision), with what it is about to do as the plan.
async fn held<T>(
    gc: &Collector,
    kind: usize,
    obj: &Meta,
    does: &str,
    write: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let step = gc
        .ctx
        .step
        .pass(|| {
            let does = does.to_string();
            Ticket {
                controller: "garbage collector",
                kind: gc.kind(kind).info.kind.to_string(),
                object: object_key(&obj.metadata),
                plan: Box::new(move || Plan {
                    why: Some("an owner is gone or being deleted".into()),
                    does: does.clone(),
                }),
            }
        })
        .await;
    let result = write.await;
    if let Some(step) = step {
        step.done(match &result {
            Ok(_) => "ok".into(),
            Err(e) => format!("error: {e}"),
        });
    }
    result
}

/// Failed attempts are retried with client-go's per-item exponential backoff.
fn error_policy(obj: Arc<Meta>, err: &Error, kc: Arc<KindCtx>) -> Action {
    tracing::warn!(
        kind = kc.gc.kind(kc.kind).info.kind,
        name = %obj.name_any(),
        error = %err,
        "garbage collection"
    );
    Action::requeue(kc.gc.backoff.next_delay(&obj.uid().unwrap_or_default()))
}

fn has_finalizer(obj: &Meta, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// Kubernetes' `isDangling` plus the waiting check. `None`: the reference
/// cannot be judged (a kind minik does not serve, or a cluster-scoped
/// object naming a namespaced owner) and is treated as solid.
async fn owner_state(
    gc: &Collector,
    dependent: &Meta,
    owner: &OwnerReference,
) -> Result<Option<OwnerState>, Error> {
    if let Some(node) = gc.graph.lock().unwrap().nodes.get(&owner.uid) {
        return Ok(Some(if node.deleting_dependents() {
            OwnerState::Waiting
        } else {
            OwnerState::Solid
        }));
    }
    if gc.absent.lock().unwrap().contains(&owner.uid) {
        return Ok(Some(OwnerState::Dangling));
    }
    let Some(info) = crate::context::resource_for(&gc.ctx, &owner.api_version, &owner.kind) else {
        tracing::warn!(
            dependent = %dependent.name_any(),
            owner = %format!("{}/{}", owner.api_version, owner.kind),
            "owner reference to a kind minik does not serve"
        );
        return Ok(None);
    };
    let api: Api<DynamicObject> = match (info.namespaced, dependent.namespace()) {
        (false, _) => Api::all_with(gc.ctx.client.clone(), &api_resource(info)),
        (true, Some(ns)) => Api::namespaced_with(gc.ctx.client.clone(), &ns, &api_resource(info)),
        (true, None) => {
            tracing::warn!(dependent = %dependent.name_any(), "cluster-scoped object refers to a namespaced owner");
            return Ok(None);
        }
    };
    // The graph has never seen this owner: ask the API server.
    match api.get_metadata_opt(&owner.name).await? {
        Some(live) if live.uid().as_deref() == Some(owner.uid.as_str()) => {
            let waiting = live.metadata.deletion_timestamp.is_some()
                && live.finalizers().iter().any(|f| f == FOREGROUND_FINALIZER);
            Ok(Some(if waiting {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            }))
        }
        _ => {
            let mut absent = gc.absent.lock().unwrap();
            if absent.len() > 10_000 {
                absent.clear();
            }
            absent.insert(owner.uid.clone());
            Ok(Some(OwnerState::Dangling))
        }
    }
}

// ---------------------------------------------------------------------------
// Writes.
// ---------------------------------------------------------------------------

fn api_for(gc: &Collector, kind: usize, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = &gc.kind(kind).resource;
    match namespace {
        Some(ns) => Api::namespaced_with(gc.ctx.client.clone(), ns, resource),
        None => Api::all_with(gc.ctx.client.clone(), resource),
    }
}

/// Whether a write failed only because the object changed or went away
/// meanwhile; the watch brings the new state and wakes the object again.
fn superseded(e: &kube::Error) -> bool {
    errors::is_superseded(e)
}

/// Replaces the object's ownerReferences (a JSON merge patch, guarded by uid
/// and resourceVersion).
async fn patch_owner_references(
    gc: &Collector,
    kind: usize,
    obj: &Meta,
    refs: serde_json::Value,
) -> Result<(), Error> {
    let refs = if refs.as_array().is_some_and(Vec::is_empty) {
        serde_json::Value::Null
    } else {
        refs
    };
    let metadata = json!({
        "ownerReferences": refs,
        "uid": obj.uid(),
        "resourceVersion": obj.resource_version(),
    });
    match merge_metadata(gc, kind, obj, metadata).await {
        Err(e) if superseded(&e) => Ok(()),
        r => r.map_err(Error::from),
    }
}

/// A JSON merge patch of `obj`'s metadata (its guards — uid,
/// resourceVersion — are part of `metadata`).
async fn merge_metadata(
    gc: &Collector,
    kind: usize,
    obj: &Meta,
    metadata: serde_json::Value,
) -> Result<(), kube::Error> {
    let api = api_for(gc, kind, obj.namespace().as_deref());
    let patch = json!({ "metadata": metadata });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}

/// Removes one finalizer, guarded by resourceVersion: the API server removes
/// the object once its last finalizer is gone.
async fn remove_finalizer(
    gc: &Collector,
    kind: usize,
    obj: &Meta,
    finalizer: &str,
) -> Result<(), Error> {
    let rest: Vec<&String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .collect();
    let metadata = json!({
        "finalizers": if rest.is_empty() { serde_json::Value::Null } else { json!(rest) },
        "resourceVersion": obj.resource_version(),
    });
    tracing::debug!(name = %obj.name_any(), finalizer, "removing finalizer");
    match merge_metadata(gc, kind, obj, metadata).await {
        Err(e) if superseded(&e) => Ok(()),
        r => r.map_err(Error::from),
    }
}

/// Every object that names `owner` among its owners, as the API server has
/// them now (metadata lists of every kind in the owner's namespace, or
/// everywhere for a cluster-scoped owner). Used where acting on a lagging
/// graph would be wrong: before an owner in foreground deletion goes, and
/// to orphan dependents.
async fn live_dependents(gc: &Collector, owner: &Meta) -> Result<Vec<(usize, Meta)>, Error> {
    let uid = owner.uid().unwrap_or_default();
    let owner_ns = owner.namespace();
    let mut found = Vec::new();
    let kinds = gc.kinds.read().unwrap().clone();
    for (i, kind) in kinds.iter().enumerate() {
        let api: Api<Meta> = match (&owner_ns, kind.info.namespaced) {
            (Some(ns), true) => Api::namespaced_with(gc.ctx.client.clone(), ns, &kind.resource),
            // A cluster-scoped object cannot depend on a namespaced owner.
            (Some(_), false) => continue,
            (None, _) => Api::all_with(gc.ctx.client.clone(), &kind.resource),
        };
        for item in api.list(&ListParams::default()).await?.items {
            if item.owner_references().iter().any(|o| o.uid == uid) {
                found.push((i, item));
            }
        }
    }
    Ok(found)
}

/// The Orphan mode: every dependent loses its references to `owner`. Each
/// patch is guarded by the dependent's uid and resourceVersion; a conflict
/// fails the attempt, which is then retried.
async fn orphan_dependents(gc: &Collector, owner: &Meta) -> Result<(), Error> {
    let owner_uid = owner.uid().unwrap_or_default();
    for (kind, dep) in live_dependents(gc, owner).await? {
        let kept: Vec<&OwnerReference> = dep
            .owner_references()
            .iter()
            .filter(|o| o.uid != owner_uid)
            .collect();
        let refs = if kept.is_empty() {
            serde_json::Value::Null
        } else {
            json!(kept)
        };
        let metadata = json!({
            "ownerReferences": refs,
            "uid": dep.uid(),
            "resourceVersion": dep.resource_version(),
        });
        match merge_metadata(gc, kind, &dep, metadata).await {
            Ok(()) => {}
            Err(e) if errors::is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Kubernetes' `deleteObject`: a DELETE with the chosen propagation policy
/// and uid + resourceVersion preconditions. On a conflict the object is
/// read again: if only its resourceVersion moved (its owners did not), the
/// delete is retried without that precondition.
async fn delete_object(gc: &Collector, kind: usize, obj: &Meta, policy: &str) -> Result<(), Error> {
    let api = api_for(gc, kind, obj.namespace().as_deref());
    let name = obj.name_any();
    tracing::info!(
        kind = gc.kind(kind).info.kind,
        namespace = ?obj.namespace(),
        name = %name,
        policy,
        "deleting object whose owners are gone"
    );
    let params = |resource_version: Option<String>| DeleteParams {
        propagation_policy: Some(match policy {
            "Foreground" => kube::api::PropagationPolicy::Foreground,
            "Orphan" => kube::api::PropagationPolicy::Orphan,
            _ => kube::api::PropagationPolicy::Background,
        }),
        preconditions: Some(Preconditions {
            uid: obj.uid(),
            resource_version,
        }),
        ..Default::default()
    };
    match api.delete(&name, &params(obj.resource_version())).await {
        Ok(_) => Ok(()),
        Err(e) if errors::is_not_found(&e) => Ok(()),
        Err(e) if errors::is_superseded(&e) => {
            let Some(live) = api.get_metadata_opt(&name).await? else {
                return Ok(());
            };
            if live.uid() != obj.uid() || live.owner_references() != obj.owner_references() {
                // Gone, replaced, or its owners changed: the watch wakes it again.
                return Ok(());
            }
            match api.delete(&name, &params(None)).await {
                Err(e) if superseded(&e) => Ok(()),
                r => r.map(|_| ()).map_err(Error::from),
            }
        }
        Err(e) => Err(e.into()),
    }
}
