//! The Deployment controller: rolls a Deployment's pod template out through
//! ReplicaSets. Mirrors kube-controller-manager's `pkg/controller/deployment`
//! (`syncDeployment` and the files it calls: sync.go, rolling.go,
//! recreate.go, progress.go, util/deployment_util.go), decision for decision:
//!
//! - **One ReplicaSet per template.** The ReplicaSet whose template equals the
//!   Deployment's (ignoring the `pod-template-hash` label) is the *new* one;
//!   all others are *old*. A new one is named `<deployment>-<hash>` and carries
//!   `pod-template-hash: <hash>` in its labels, selector and template, so the
//!   ReplicaSets of one Deployment never fight over pods.
//! - **Revisions.** `deployment.kubernetes.io/revision` on each ReplicaSet
//!   (max of the old ones + 1 for the new one) and copied to the Deployment;
//!   a ReplicaSet that becomes new again (a rollback: `kubectl rollout undo`
//!   patches the old template back into the Deployment) gets the next
//!   revision and keeps its previous ones in `deployment.kubernetes.io/revision-history`.
//!   Deployment annotations (e.g. `kubernetes.io/change-cause`) are copied to
//!   the new ReplicaSet, which is what `kubectl rollout history` shows.
//! - **RollingUpdate**: scale the new ReplicaSet up while the total stays ≤
//!   `replicas + maxSurge`, scale old ones down while available pods stay ≥
//!   `replicas − maxUnavailable` (percentages: surge rounds up, unavailable
//!   rounds down; both 0 → unavailable 1), unhealthy old pods first.
//!   **Recreate**: scale every old ReplicaSet to 0, wait until none of their
//!   pods is left, then create/scale the new one.
//! - **Scaling mid-rollout** (`deployment.kubernetes.io/desired-replicas`
//!   differs from `spec.replicas`) or while paused spreads the change over the
//!   active ReplicaSets in proportion to their size (`GetProportion`).
//! - **Paused**: only scaling and history cleanup happen; the Progressing
//!   condition says `DeploymentPaused` / `DeploymentResumed`.
//! - **Status** exactly as `kubectl rollout status` reads it: `observedGeneration`,
//!   `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas`,
//!   `unavailableReplicas`, conditions `Available` (MinimumReplicasAvailable /
//!   MinimumReplicasUnavailable) and `Progressing` (NewReplicaSetCreated,
//!   FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
//!   ProgressDeadlineExceeded, ReplicaSetCreateError), `ReplicaFailure` copied
//!   from the ReplicaSets, `collisionCount`.
//! - **History**: old ReplicaSets scaled to 0 beyond `revisionHistoryLimit`
//!   are deleted, lowest revision first.
//! - Events (reporter "deployment-controller"): `ScalingReplicaSet` "Scaled up
//!   replica set web-5d8f7c9b4 from 0 to 3" / "Scaled down replica set … from
//!   3 to 2", Warning `ReplicaSetCreateError`, Warning `SelectingAll`.
//!   minik adds the pass's cause after Kubernetes' words: "(rolling update to
//!   revision 2: maxSurge 1, maxUnavailable 0)", "(recreate to revision 2)",
//!   "(Deployment scaled to 5)", "(revision 1: Deployment wants 3)".
//! - Step mode's plan (`plan`): which ReplicaSet a sync would create or
//!   scale now, and to what.
//!
//! Where minik differs on purpose:
//! - The pod-template hash is minik's own FNV-32a over the template's JSON
//!   (`template_hash`): names look like Kubernetes' (`web-7c5ddbdf54`) but
//!   differ from what a real cluster would pick for the same template.
//!   Nothing depends on the value: ReplicaSets are matched by template,
//!   never by hash.
//! - The deprecated `extensions/v1beta1` rollback subresource
//!   (`spec.rollbackTo`) is not served, so there is no server-side rollback
//!   path; `kubectl rollout undo` works as it does against apps/v1.
//!
//! Shape: a kube-rs `Controller` over Deployments with two more watches,
//! each both a cache and a trigger: ReplicaSets (routed to their controlling
//! Deployment, or for an orphan to every Deployment whose selector matches)
//! and pod deletions (routed to a Recreate Deployment waiting for its old
//! pods to go). The reconcile is level-triggered and idempotent: every pass
//! recomputes what to do from the Deployment and the ReplicaSets alone.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::future;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_client::errors;
use minik_client::informer::{wait_for_cache_sync, Synced};

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::{
    adopt, controller_of, controller_ref, key_of, labels_of, release, selector,
};
use crate::pod_cache::CachedPod;
use crate::status::{omit_zero, second_precision};
use crate::step_gate::{gated_with_plan, Plan};
use crate::template_hash::compute_hash;
use crate::{Context, Error};

/// The label that keeps the ReplicaSets of one Deployment apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Annotations never copied from a Deployment to its ReplicaSets.
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
/// Longest `revision-history` annotation kept.
const MAX_REV_HISTORY_CHARS: usize = 2000;

// Condition reasons, as in `deploymentutil`.
const NEW_RS_REASON: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
const RS_UPDATED_REASON: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";
const PAUSED_REASON: &str = "DeploymentPaused";
const RESUMED_REASON: &str = "DeploymentResumed";
const MIN_AVAILABLE_REASON: &str = "MinimumReplicasAvailable";
const MIN_UNAVAILABLE_REASON: &str = "MinimumReplicasUnavailable";

/// Everything the Deployment reconcile reads besides the Deployment.
struct State {
    ctx: Arc<Context>,
    replica_sets: Store<ReplicaSet>,
    pods: Store<CachedPod>,
    /// The ReplicaSet and Pod informers' first lists are in.
    caches_synced: [Synced; 2],
    events: EventRecorder,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared Deployment, ReplicaSet and Pod
/// informers (the caller starts them). Kubernetes' `NewDeploymentController`:
/// ReplicaSet changes wake their Deployment; of pod changes only deletions
/// matter (`deletePod`: a Recreate rollout waits for its old pods to go).
pub fn build(ctx: &Arc<Context>) -> Built {
    let deployments = ctx.informers.get::<Deployment>();
    let replica_sets = ctx.informers.get::<ReplicaSet>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let state = Arc::new(State {
        events: EventRecorder::new(ctx.client.clone(), "deployment-controller", None),
        ctx: ctx.clone(),
        replica_sets: replica_sets.store(),
        pods: pods.store(),
        caches_synced: [replica_sets.synced(), pods.synced()],
        retries: RetryBackoff::default(),
    });
    let pod_deletions = pods
        .subscribe()
        .filter_map(|change| future::ready(change.deleted()));
    let (for_rs, for_pod) = (deployments.store(), deployments.store());
    let rs_store = replica_sets.store();
    let controller = drive(
        "deployment controller",
        Controller::for_shared_stream(deployments.applied(), deployments.store())
            .with_config(
                controller::Config::default().concurrency(ctx.settings.concurrent_deployment_syncs),
            )
            .watches_shared_stream(replica_sets.touched(), move |rs| {
                deployments_for_replica_set(&rs, &for_rs)
            })
            .watches_shared_stream(pod_deletions, move |pod| {
                recreate_deployment_for_pod(&pod, &rs_store, &for_pod)
            })
            .run(
                gated_with_plan(
                    ctx,
                    "deployment controller",
                    deployments.store(),
                    plan,
                    reconcile,
                ),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

/// The controlling Deployment of a ReplicaSet, or for an orphan every
/// Deployment in its namespace whose selector matches its labels.
fn deployments_for_replica_set(
    rs: &ReplicaSet,
    deployments: &Store<Deployment>,
) -> Vec<ObjectRef<Deployment>> {
    let ns = rs.namespace().unwrap_or_default();
    match controller_of(&rs.metadata) {
        Some(owner) if owner.kind == "Deployment" => vec![ObjectRef::new(&owner.name).within(&ns)],
        Some(_) => Vec::new(),
        None => deployments
            .state()
            .iter()
            .filter(|d| d.namespace().as_deref() == Some(ns.as_str()))
            .filter(|d| {
                d.spec.as_ref().is_some_and(|s| {
                    selector(&s.selector)
                        .is_ok_and(|sel| !sel.is_empty() && sel.matches(&labels_of(&rs.metadata)))
                })
            })
            .map(|d| ObjectRef::from_obj(d.as_ref()))
            .collect(),
    }
}

/// A deleted pod matters to a Recreate Deployment waiting for its old pods.
fn recreate_deployment_for_pod(
    pod: &CachedPod,
    replica_sets: &Store<ReplicaSet>,
    deployments: &Store<Deployment>,
) -> Option<ObjectRef<Deployment>> {
    let ns = pod.namespace().unwrap_or_default();
    let owner = controller_of(&pod.metadata).filter(|o| o.kind == "ReplicaSet")?;
    let rs = replica_sets.get(&ObjectRef::new(&owner.name).within(&ns))?;
    if rs.metadata.uid.as_deref() != Some(owner.uid.as_str()) {
        return None;
    }
    let d_owner = controller_of(&rs.metadata).filter(|o| o.kind == "Deployment")?;
    let d_ref = ObjectRef::new(&d_owner.name).within(&ns);
    let d = deployments.get(&d_ref)?;
    (strategy_type(&d) == "Recreate").then_some(d_ref)
}

/// Failed syncs are retried with client-go's per-object exponential backoff.
fn error_policy(d: Arc<Deployment>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*d, error)
}

/// Level-triggered and idempotent: one `syncDeployment` pass.
async fn reconcile(d: Arc<Deployment>, state: Arc<State>) -> Result<Action, Error> {
    // Kubernetes starts its workers only after the informer caches synced.
    wait_for_cache_sync(&state.caches_synced).await;
    let key = key_of(&d.metadata);
    let mut sync = Sync {
        state: &state,
        d: (*d).clone(),
        rs_list: Vec::new(),
        requeue: None,
        cause: None,
    };
    sync.sync_deployment().await?;
    state.retries.forget(&key);
    Ok(match sync.requeue {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

/// What a sync would do now (step mode's plan), from the same caches:
/// which ReplicaSet it would create or scale, and to what. Covers the
/// rollouts; a scale in the middle of one (proportional scaling) is named,
/// not worked out.
fn plan(d: &Deployment, state: &State) -> Plan {
    let key = key_of(&d.metadata);
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let rss: Vec<ReplicaSet> = state
        .replica_sets
        .state()
        .iter()
        .filter(|rs| {
            controller_of(&rs.metadata).is_some_and(|o| d.metadata.uid.as_ref() == Some(&o.uid))
        })
        .map(|rs| (**rs).clone())
        .collect();
    let (old_active, old_all) = find_old_replica_sets(d, &rss);
    let has: i32 = rss.iter().map(actual_of).sum();
    let replicas = if want == 1 { "replica" } else { "replicas" };
    let head = format!("Deployment {key} wants {want} {replicas}, has {has}");
    let names = |rss: &[ReplicaSet]| {
        rss.iter()
            .map(|rs| format!("{} ({})", rs.name_any(), rs_replicas(rs)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let new_rs = find_new_replica_set(d, &rss).cloned();
    let scaling = active(&with_new(&old_all, &new_rs))
        .iter()
        .filter_map(|rs| annotation_i32(rs, DESIRED_REPLICAS))
        .any(|desired| desired != want);
    let does = if d.metadata.deletion_timestamp.is_some() {
        "being deleted: will only update its status".to_string()
    } else if d.spec.as_ref().and_then(|s| s.paused) == Some(true) {
        "paused: will only scale its ReplicaSets to the new size, no rollout".to_string()
    } else if scaling {
        match find_active_or_latest(new_rs.as_ref(), &old_all) {
            Some(rs) => format!(
                "will scale ReplicaSet {} from {} to {want}",
                rs.name_any(),
                rs_replicas(&rs)
            ),
            None => format!(
                "will spread the new size over its active ReplicaSets: {}",
                names(&active(&with_new(&old_all, &new_rs)))
            ),
        }
    } else {
        match &new_rs {
            None if strategy_type(d) == "Recreate" && !old_active.is_empty() => format!(
                "will scale the old ReplicaSets down to 0 first (Recreate): {}",
                names(&old_active)
            ),
            None => {
                let template = &d.spec.as_ref().expect("a spec").template;
                let collisions = d.status.as_ref().and_then(|s| s.collision_count);
                let name = replica_set_name(&d.name_any(), &compute_hash(template, collisions));
                let candidate = ReplicaSet {
                    spec: Some(ReplicaSetSpec {
                        replicas: Some(0),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let mut all = old_all.clone();
                all.push(candidate.clone());
                let size = new_rs_new_replicas(d, &all, &candidate).unwrap_or(0);
                format!(
                    "will create ReplicaSet {name} (revision {}) with {size} of {want} {replicas}",
                    max_revision(&old_all) + 1
                )
            }
            Some(rs) => {
                let current = rs_replicas(rs);
                let all = with_new(&old_all, &new_rs);
                let next = new_rs_new_replicas(d, &all, rs).unwrap_or(current);
                let name = rs.name_any();
                if current > want {
                    format!("will scale ReplicaSet {name} down from {current} to {want}")
                } else if next > current {
                    format!("will scale ReplicaSet {name} up from {current} to {next}")
                } else if !old_active.is_empty() {
                    format!(
                        "will scale old ReplicaSets down as far as maxUnavailable allows: {}",
                        names(&old_active)
                    )
                } else {
                    format!(
                        "ReplicaSet {name} has its size ({current}; {} ready, {} available): will update the Deployment's status",
                        rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                        available_of(rs)
                    )
                }
            }
        }
    };
    let observed = d.status.as_ref().and_then(|s| s.observed_generation);
    let why = match (d.metadata.generation, observed) {
        (Some(g), Some(o)) if g > o => Some(format!(
            "spec changed (generation {g}, status has seen {o})"
        )),
        (Some(g), None) => Some(format!("new Deployment (generation {g})")),
        _ => None,
    };
    Plan {
        why,
        does: format!("{head}: {does}"),
    }
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// One pass over one Deployment: `d` is the working copy whose status (and
/// revision annotation) is written back, `rs_list` the ReplicaSets it controls.
struct Sync<'a> {
    state: &'a State,
    d: Deployment,
    rs_list: Vec<ReplicaSet>,
    /// When to look again although nothing changes: a rollout that may run
    /// into its progress deadline (`requeueStuckDeployment`).
    requeue: Option<Duration>,
    /// Why this pass scales, added to its `ScalingReplicaSet` notes
    /// ("rolling update to revision 2: maxSurge 1, maxUnavailable 0").
    cause: Option<String>,
}

impl Sync<'_> {
    fn rs_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(
            self.state.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        )
    }

    fn spec(&self) -> &k8s_openapi::api::apps::v1::DeploymentSpec {
        self.d.spec.as_ref().expect("checked in sync_deployment")
    }

    fn replicas(&self) -> i32 {
        self.spec().replicas.unwrap_or(1)
    }

    /// Kubernetes' `syncDeployment`.
    async fn sync_deployment(&mut self) -> Result<(), Error> {
        let Some(spec) = self.d.spec.as_ref() else {
            return Err(Error::Malformed(format!(
                "Deployment {} has no spec",
                key_of(&self.d.metadata)
            )));
        };
        let sel = selector(&spec.selector)?;
        if sel.is_empty() {
            self.event(
                EventType::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            )
            .await;
            if self.observed_generation() < self.d.metadata.generation.unwrap_or(0) {
                let status = self.d.status.get_or_insert_with(Default::default);
                status.observed_generation = self.d.metadata.generation;
                self.update_status().await?;
            }
            return Ok(());
        }
        self.rs_list = self.claim_replica_sets(&sel).await?;

        if self.d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only().await;
        }
        self.check_paused_conditions().await?;
        if self.spec().paused == Some(true) {
            return self.sync().await;
        }
        if self.is_scaling_event().await? {
            return self.sync().await;
        }
        match strategy_type(&self.d).as_str() {
            "Recreate" => self.rollout_recreate().await,
            "RollingUpdate" => self.rollout_rolling().await,
            other => Err(Error::Malformed(format!(
                "unexpected deployment strategy type: {other}"
            ))),
        }
    }

    /// The ReplicaSets this Deployment controls, adopting matching orphans
    /// and releasing ones that stopped matching (`ClaimReplicaSets`).
    async fn claim_replica_sets(
        &self,
        sel: &minik_api::selectors::LabelSelector,
    ) -> Result<Vec<ReplicaSet>, Error> {
        let ns = self.d.namespace().unwrap_or_default();
        let uid = self.d.metadata.uid.clone().unwrap_or_default();
        let deleting = self.d.metadata.deletion_timestamp.is_some();
        let api = self.rs_api();
        let mut claimed = Vec::new();
        let mut can_adopt = None;
        let candidates: Vec<Arc<ReplicaSet>> = self
            .state
            .replica_sets
            .state()
            .into_iter()
            .filter(|rs| rs.namespace().as_deref() == Some(ns.as_str()))
            .collect();
        for rs in candidates {
            let matches = sel.matches(&labels_of(&rs.metadata));
            let result = match controller_of(&rs.metadata) {
                Some(owner) if owner.uid != uid => continue,
                Some(_) if matches => Ok(Some((*rs).clone())),
                Some(_) if deleting => continue,
                Some(_) => release(&api, rs.as_ref(), &uid).await.map(|_| None),
                None if deleting || !matches || rs.metadata.deletion_timestamp.is_some() => {
                    continue
                }
                None => {
                    if can_adopt.is_none() {
                        let fresh =
                            Api::<Deployment>::namespaced(self.state.ctx.client.clone(), &ns)
                                .get(&self.d.name_any())
                                .await?;
                        can_adopt = Some(
                            fresh.metadata.uid == self.d.metadata.uid
                                && fresh.metadata.deletion_timestamp.is_none(),
                        );
                    }
                    if can_adopt == Some(false) {
                        continue;
                    }
                    adopt(&api, rs.as_ref(), &self.d).await.map(Some)
                }
            };
            match result {
                Ok(Some(rs)) => claimed.push(rs),
                Ok(None) => {}
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(claimed)
    }

    /// Pods of this Deployment's ReplicaSets, by ReplicaSet uid (`getPodMapForDeployment`).
    fn pod_map(&self) -> HashMap<String, Vec<Arc<CachedPod>>> {
        let mut map: HashMap<String, Vec<Arc<CachedPod>>> = self
            .rs_list
            .iter()
            .map(|rs| (rs.metadata.uid.clone().unwrap_or_default(), Vec::new()))
            .collect();
        let ns = self.d.namespace().unwrap_or_default();
        for pod in self.state.pods.state() {
            if pod.namespace().as_deref() != Some(ns.as_str()) {
                continue;
            }
            if let Some(owner) = controller_of(&pod.metadata) {
                if let Some(list) = map.get_mut(&owner.uid) {
                    list.push(pod.clone());
                }
            }
        }
        map
    }

    /// Only status; used while the Deployment is being deleted.
    async fn sync_status_only(&mut self) -> Result<(), Error> {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false).await?;
        let all = with_new(&old, &new_rs);
        self.sync_deployment_status(&all, new_rs.as_ref()).await
    }

    /// Scaling (and history cleanup) without rollout progress: a scaling
    /// event, or a paused Deployment.
    async fn sync(&mut self) -> Result<(), Error> {
        let want = self.replicas();
        self.cause = Some(if self.spec().paused == Some(true) {
            format!("paused; Deployment wants {want}")
        } else {
            format!("Deployment scaled to {want}")
        });
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false).await?;
        self.scale(new_rs.as_ref(), &old).await?;
        if self.spec().paused == Some(true) {
            self.cleanup_deployment(&old).await?;
        }
        let all = with_new(&old, &new_rs);
        self.sync_deployment_status(&all, new_rs.as_ref()).await
    }

    /// Pausing or resuming is recorded in the Progressing condition so the
    /// time spent paused never counts against the progress deadline.
    async fn check_paused_conditions(&mut self) -> Result<(), Error> {
        if !has_progress_deadline(&self.d) {
            return Ok(());
        }
        let cond = progressing(&self.d);
        if cond.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT_REASON)) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason.as_deref() == Some(PAUSED_REASON));
        let paused = self.spec().paused == Some(true);
        let condition = if paused && !paused_cond {
            new_condition(
                "Progressing",
                "Unknown",
                PAUSED_REASON,
                "Deployment is paused".into(),
            )
        } else if !paused && paused_cond {
            new_condition(
                "Progressing",
                "Unknown",
                RESUMED_REASON,
                "Deployment is resumed".into(),
            )
        } else {
            return Ok(());
        };
        set_condition(
            self.d.status.get_or_insert_with(Default::default),
            condition,
        );
        self.update_status().await
    }

    /// Is this a change of `spec.replicas` only? The active ReplicaSets'
    /// desired-replicas annotation tells.
    async fn is_scaling_event(&mut self) -> Result<bool, Error> {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false).await?;
        let want = self.replicas();
        Ok(active(&with_new(&old, &new_rs))
            .iter()
            .filter_map(|rs| annotation_i32(rs, DESIRED_REPLICAS))
            .any(|desired| desired != want))
    }

    /// The new ReplicaSet (created if asked and missing) and all old ones,
    /// with the new one's revision and annotations brought up to date and
    /// copied to the Deployment. Kubernetes' `getAllReplicaSetsAndSyncRevision`.
    async fn get_all_replica_sets_and_sync_revision(
        &mut self,
        create_if_missing: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let (_, old) = find_old_replica_sets(&self.d, &self.rs_list);
        let new_rs = self.get_new_replica_set(&old, create_if_missing).await?;
        Ok((new_rs, old))
    }

    /// Kubernetes' `getNewReplicaSet`.
    async fn get_new_replica_set(
        &mut self,
        old: &[ReplicaSet],
        create: bool,
    ) -> Result<Option<ReplicaSet>, Error> {
        let new_revision = (max_revision(old) + 1).to_string();
        if let Some(existing) = find_new_replica_set(&self.d, &self.rs_list) {
            let mut rs = existing.clone();
            let annotations_updated =
                set_new_replica_set_annotations(&self.d, &mut rs, &new_revision, true);
            let min_ready = self.spec().min_ready_seconds;
            let rs_spec = rs.spec.get_or_insert_with(Default::default);
            if annotations_updated || rs_spec.min_ready_seconds != min_ready {
                rs_spec.min_ready_seconds = min_ready;
                let updated = self
                    .rs_api()
                    .replace(&rs.name_any(), &PostParams::default(), &rs)
                    .await?;
                self.remember(&updated);
                return Ok(Some(updated));
            }
            let revision = annotation(&rs, REVISION).unwrap_or_default().to_string();
            let mut needs_update = set_deployment_revision(&mut self.d, &revision);
            if has_progress_deadline(&self.d) && progressing(&self.d).is_none() {
                let msg = format!("Found new replica set {:?}", rs.name_any());
                let c = new_condition("Progressing", "True", FOUND_NEW_RS_REASON, msg);
                set_condition(self.d.status.get_or_insert_with(Default::default), c);
                needs_update = true;
            }
            if needs_update {
                self.update_status().await?;
            }
            return Ok(Some(rs));
        }
        if !create {
            return Ok(None);
        }

        // A new ReplicaSet: the template plus the hash label, at the size
        // the strategy allows right now.
        let spec = self.spec().clone();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let tmeta = template.metadata.get_or_insert_with(Default::default);
        tmeta
            .labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut rs_selector = spec.selector.clone();
        rs_selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(replica_set_name(&self.d.name_any(), &hash)),
                namespace: self.d.namespace(),
                owner_references: Some(vec![controller_ref(&self.d)]),
                labels: tmeta.labels.clone(),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector: rs_selector,
                template: Some(template),
            }),
            status: None,
        };
        let mut all = old.to_vec();
        all.push(new_rs.clone());
        let new_replicas = new_rs_new_replicas(&self.d, &all, &new_rs)?;
        new_rs.spec.as_mut().unwrap().replicas = Some(new_replicas);
        set_new_replica_set_annotations(&self.d, &mut new_rs, &new_revision, false);

        let name = new_rs.name_any();
        let mut already_exists = false;
        let created = match self.rs_api().create(&PostParams::default(), &new_rs).await {
            Ok(rs) => rs,
            Err(e) if errors::is_already_exists(&e) => {
                // Our own earlier creation (the cache is behind), or a
                // hash collision with someone else's ReplicaSet.
                already_exists = true;
                let existing = self.rs_api().get(&name).await?;
                let ours = controller_of(&existing.metadata)
                    .is_some_and(|o| Some(&o.uid) == self.d.metadata.uid.as_ref());
                let same = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| equal_ignore_hash(t, &self.spec().template));
                if !(ours && same) {
                    let status = self.d.status.get_or_insert_with(Default::default);
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.update_status().await?;
                    return Err(e.into());
                }
                existing
            }
            Err(e) if errors::has_cause(&e, "NamespaceTerminating") => return Err(e.into()),
            Err(e) => {
                let msg = format!(
                    "Failed to create new replica set {name:?}: {}",
                    errors::message(&e)
                );
                if has_progress_deadline(&self.d) {
                    let c =
                        new_condition("Progressing", "False", FAILED_RS_CREATE_REASON, msg.clone());
                    set_condition(self.d.status.get_or_insert_with(Default::default), c);
                    // The creation error is the one worth reporting.
                    let _ = self.update_status().await;
                }
                self.event(EventType::Warning, FAILED_RS_CREATE_REASON, msg)
                    .await;
                return Err(e.into());
            }
        };
        self.remember(&created);
        if !already_exists && new_replicas > 0 {
            let msg = format!("Scaled up replica set {name} from 0 to {new_replicas}");
            self.scaling_event(&created, msg).await;
        }
        let mut needs_update = set_deployment_revision(&mut self.d, &new_revision);
        if !already_exists && has_progress_deadline(&self.d) {
            let msg = format!("Created new replica set {name:?}");
            let c = new_condition("Progressing", "True", NEW_RS_REASON, msg);
            set_condition(self.d.status.get_or_insert_with(Default::default), c);
            needs_update = true;
        }
        if needs_update {
            self.update_status().await?;
        }
        Ok(Some(created))
    }

    /// Spreads a change of `spec.replicas` over the ReplicaSets. Kubernetes' `scale`.
    async fn scale(
        &mut self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Result<(), Error> {
        let want = self.replicas();
        // One active ReplicaSet (or none: the newest) simply gets the full count.
        if let Some(rs) = find_active_or_latest(new_rs, old) {
            if rs_replicas(&rs) == want {
                return Ok(());
            }
            self.scale_replica_set_and_record_event(&rs, want).await?;
            return Ok(());
        }
        // A saturated new ReplicaSet: the old ones go to zero.
        if is_saturated(&self.d, new_rs) {
            for rs in active(old) {
                self.scale_replica_set_and_record_event(&rs, 0).await?;
            }
            return Ok(());
        }
        if !is_rolling_update(&self.d) {
            return Ok(());
        }
        // Proportional scaling across the active ReplicaSets.
        let mut all = active(&with_new(old, &new_rs.cloned()));
        let all_replicas: i32 = all.iter().map(rs_replicas).sum();
        let allowed = if want > 0 {
            want + max_surge(&self.d)?
        } else {
            0
        };
        let to_add = allowed - all_replicas;
        if to_add > 0 {
            all.sort_by(by_size_newer);
        } else if to_add < 0 {
            all.sort_by(by_size_older);
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = proportion(rs, &self.d, to_add, added)?;
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        if to_add != 0 {
            if let Some(first) = sizes.first_mut() {
                // Leftovers go to (or come from) the largest ReplicaSet.
                *first = (*first + to_add - added).max(0);
            }
        }
        for (rs, size) in all.iter().zip(sizes) {
            self.scale_replica_set(rs, size).await?;
        }
        Ok(())
    }

    async fn scale_replica_set_and_record_event(
        &mut self,
        rs: &ReplicaSet,
        new_scale: i32,
    ) -> Result<(bool, ReplicaSet), Error> {
        if rs_replicas(rs) == new_scale {
            return Ok((false, rs.clone()));
        }
        self.scale_replica_set(rs, new_scale).await
    }

    /// Sets a ReplicaSet's size and its desired/max-replicas annotations,
    /// with a `ScalingReplicaSet` event when the size changed.
    async fn scale_replica_set(
        &mut self,
        rs: &ReplicaSet,
        new_scale: i32,
    ) -> Result<(bool, ReplicaSet), Error> {
        let old_scale = rs_replicas(rs);
        let want = self.replicas();
        let max = want + max_surge(&self.d)?;
        let mut copy = rs.clone();
        let annotations_changed = set_replicas_annotations(&mut copy, want, max);
        if old_scale == new_scale && !annotations_changed {
            return Ok((false, rs.clone()));
        }
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        let updated = self
            .rs_api()
            .replace(&rs.name_any(), &PostParams::default(), &copy)
            .await?;
        self.remember(&updated);
        if old_scale == new_scale {
            return Ok((false, updated));
        }
        let direction = if old_scale < new_scale { "up" } else { "down" };
        let msg = format!(
            "Scaled {direction} replica set {} from {old_scale} to {new_scale}",
            rs.name_any()
        );
        self.scaling_event(&updated, msg).await;
        Ok((true, updated))
    }

    /// Deletes the oldest revisions beyond `revisionHistoryLimit` that have
    /// no pods left. Kubernetes' `cleanupDeployment`.
    async fn cleanup_deployment(&self, old: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = self.spec().revision_history_limit else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| by_revision(a, b));
        for rs in cleanable.into_iter().take(diff as usize) {
            let status = rs.status.clone().unwrap_or_default();
            if status.replicas != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation > status.observed_generation
                || rs.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            match self
                .rs_api()
                .delete(&rs.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    // -- RollingUpdate (rolling.go) ------------------------------------------

    async fn rollout_rolling(&mut self) -> Result<(), Error> {
        let (old_active, old_all) = find_old_replica_sets(&self.d, &self.rs_list);
        let revision = self.target_revision(&old_all);
        self.cause = Some(if old_active.is_empty() {
            format!("revision {revision}: Deployment wants {}", self.replicas())
        } else {
            format!(
                "rolling update to revision {revision}: maxSurge {}, maxUnavailable {}",
                max_surge(&self.d)?,
                max_unavailable(&self.d)?
            )
        });
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(true).await?;
        let Some(new_rs) = new_rs else {
            return Ok(());
        };
        let mut all = old.clone();
        all.push(new_rs.clone());
        if self.reconcile_new_replica_set(&all, &new_rs).await? {
            return self.sync_rollout_status(&all, Some(&new_rs)).await;
        }
        if self
            .reconcile_old_replica_sets(&all, active(&old), &new_rs)
            .await?
        {
            return self.sync_rollout_status(&all, Some(&new_rs)).await;
        }
        if deployment_complete(
            &self.d,
            self.d.status.as_ref().unwrap_or(&Default::default()),
        ) {
            self.cleanup_deployment(&old).await?;
        }
        self.sync_rollout_status(&all, Some(&new_rs)).await
    }

    /// Scales the new ReplicaSet up as far as maxSurge allows.
    async fn reconcile_new_replica_set(
        &mut self,
        all: &[ReplicaSet],
        new_rs: &ReplicaSet,
    ) -> Result<bool, Error> {
        let want = self.replicas();
        let current = rs_replicas(new_rs);
        if current == want {
            return Ok(false);
        }
        if current > want {
            return Ok(self
                .scale_replica_set_and_record_event(new_rs, want)
                .await?
                .0);
        }
        let count = new_rs_new_replicas(&self.d, all, new_rs)?;
        Ok(self
            .scale_replica_set_and_record_event(new_rs, count)
            .await?
            .0)
    }

    /// Scales old ReplicaSets down as far as maxUnavailable allows,
    /// unhealthy pods first.
    async fn reconcile_old_replica_sets(
        &mut self,
        all: &[ReplicaSet],
        old: Vec<ReplicaSet>,
        new_rs: &ReplicaSet,
    ) -> Result<bool, Error> {
        let old_pods: i32 = old.iter().map(rs_replicas).sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods: i32 = all.iter().map(rs_replicas).sum();
        let min_available = self.replicas() - max_unavailable(&self.d)?;
        let new_unavailable = rs_replicas(new_rs) - available_of(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // As in Kubernetes, failures here only end this pass early.
        let Ok((old, cleaned)) = self.cleanup_unhealthy_replicas(old, max_scaled_down).await else {
            return Ok(false);
        };
        let mut all = old.clone();
        all.push(new_rs.clone());
        let Ok(scaled) = self
            .scale_down_old_replica_sets_for_rolling_update(&all, old)
            .await
        else {
            return Ok(false);
        };
        Ok(cleaned + scaled > 0)
    }

    /// Removes old ReplicaSets' pods that are not available anyway: that
    /// costs no availability and unblocks a rollout stuck behind them.
    async fn cleanup_unhealthy_replicas(
        &mut self,
        mut old: Vec<ReplicaSet>,
        max_cleanup: i32,
    ) -> Result<(Vec<ReplicaSet>, i32), Error> {
        old.sort_by(by_creation);
        let mut total = 0;
        for slot in old.iter_mut() {
            if total >= max_cleanup {
                break;
            }
            let rs = slot.clone();
            let replicas = rs_replicas(&rs);
            let available = available_of(&rs);
            if replicas == 0 || replicas == available {
                continue;
            }
            let scaled_down = (max_cleanup - total).min(replicas - available);
            let (_, updated) = self
                .scale_replica_set_and_record_event(&rs, replicas - scaled_down)
                .await?;
            total += scaled_down;
            *slot = updated;
        }
        Ok((old, total))
    }

    /// Scales old ReplicaSets down, oldest first, while availability stays
    /// at or above `replicas − maxUnavailable`.
    async fn scale_down_old_replica_sets_for_rolling_update(
        &mut self,
        all: &[ReplicaSet],
        mut old: Vec<ReplicaSet>,
    ) -> Result<i32, Error> {
        let min_available = self.replicas() - max_unavailable(&self.d)?;
        let available: i32 = all.iter().map(available_of).sum();
        if available <= min_available {
            return Ok(0);
        }
        old.sort_by(by_creation);
        let total_to_scale = available - min_available;
        let mut total = 0;
        for rs in &old {
            if total >= total_to_scale {
                break;
            }
            let replicas = rs_replicas(rs);
            if replicas == 0 {
                continue;
            }
            let n = replicas.min(total_to_scale - total);
            self.scale_replica_set_and_record_event(rs, replicas - n)
                .await?;
            total += n;
        }
        Ok(total)
    }

    // -- Recreate (recreate.go) -----------------------------------------------

    async fn rollout_recreate(&mut self) -> Result<(), Error> {
        let (_, old_all) = find_old_replica_sets(&self.d, &self.rs_list);
        self.cause = Some(format!(
            "recreate to revision {}",
            self.target_revision(&old_all)
        ));
        // No new ReplicaSet yet: never scale up before the old pods are gone.
        let (mut new_rs, mut old) = self.get_all_replica_sets_and_sync_revision(false).await?;
        let mut all = with_new(&old, &new_rs);
        let mut scaled_down = false;
        for rs in active(&old) {
            if self.scale_replica_set_and_record_event(&rs, 0).await?.0 {
                scaled_down = true;
            }
        }
        if scaled_down {
            return self.sync_rollout_status(&all, new_rs.as_ref()).await;
        }
        if old_pods_running(new_rs.as_ref(), &old, &self.pod_map()) {
            return self.sync_rollout_status(&all, new_rs.as_ref()).await;
        }
        if new_rs.is_none() {
            (new_rs, old) = self.get_all_replica_sets_and_sync_revision(true).await?;
            all = with_new(&old, &new_rs);
        }
        if let Some(rs) = &new_rs {
            let want = self.replicas();
            self.scale_replica_set_and_record_event(rs, want).await?;
        }
        if deployment_complete(
            &self.d,
            self.d.status.as_ref().unwrap_or(&Default::default()),
        ) {
            self.cleanup_deployment(&old).await?;
        }
        self.sync_rollout_status(&all, new_rs.as_ref()).await
    }

    // -- status (sync.go, progress.go) ------------------------------------------

    /// Status without progress estimation (scaling, paused, deleting).
    async fn sync_deployment_status(
        &mut self,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<(), Error> {
        let status = self.calculate_status(all, new_rs)?;
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.d.status = Some(status);
        self.update_status().await
    }

    /// Status with the Progressing condition brought up to date, and a
    /// requeue for when the progress deadline would pass. Kubernetes' `syncRolloutStatus`.
    async fn sync_rollout_status(
        &mut self,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<(), Error> {
        let mut status = self.calculate_status(all, new_rs)?;
        let deadline = has_progress_deadline(&self.d);
        if !deadline {
            remove_condition(&mut status, "Progressing");
        }
        let current = progressing(&self.d).cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE_REASON));
        let subject = match new_rs {
            Some(rs) => format!("ReplicaSet {:?}", rs.name_any()),
            None => format!("Deployment {:?}", self.d.name_any()),
        };
        if deadline && !complete_before {
            if deployment_complete(&self.d, &status) {
                let msg = format!("{subject} has successfully progressed.");
                set_condition(
                    &mut status,
                    new_condition("Progressing", "True", NEW_RS_AVAILABLE_REASON, msg),
                );
            } else if deployment_progressing(&self.d, &status) {
                let msg = format!("{subject} is progressing.");
                let mut c = new_condition("Progressing", "True", RS_UPDATED_REASON, msg);
                // Progress refreshes lastUpdateTime even with the same reason.
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut status, "Progressing");
                }
                set_condition(&mut status, c);
            } else if deployment_timed_out(&self.d, &status, Timestamp::now()) {
                let msg = format!("{subject} has timed out progressing.");
                set_condition(
                    &mut status,
                    new_condition("Progressing", "False", TIMED_OUT_REASON, msg),
                );
            }
        }
        match replica_failures(all, new_rs).into_iter().next() {
            Some(c) => set_condition(&mut status, c),
            None => remove_condition(&mut status, "ReplicaFailure"),
        }
        if self.d.status.as_ref() == Some(&status) {
            self.requeue = self.requeue_stuck_deployment(&status);
            return Ok(());
        }
        self.d.status = Some(status);
        self.update_status().await
    }

    /// When to check again for a rollout that is neither complete nor timed
    /// out: just after `lastUpdateTime + progressDeadlineSeconds`.
    fn requeue_stuck_deployment(&self, status: &DeploymentStatus) -> Option<Duration> {
        let current = progressing(&self.d)?;
        if !has_progress_deadline(&self.d)
            || deployment_complete(&self.d, status)
            || current.reason.as_deref() == Some(TIMED_OUT_REASON)
        {
            return None;
        }
        let last = current.last_update_time.as_ref()?.0;
        let deadline =
            last + SignedDuration::from_secs(self.spec().progress_deadline_seconds?.into());
        let after = deadline.duration_since(Timestamp::now());
        if after < SignedDuration::from_secs(1) {
            // Kubernetes requeues rate-limited (5 ms and up) here.
            return Some(Duration::from_millis(50));
        }
        Some(after.unsigned_abs() + Duration::from_secs(1))
    }

    /// Kubernetes' `calculateStatus`.
    fn calculate_status(
        &self,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<DeploymentStatus, Error> {
        let available: i32 = all.iter().map(available_of).sum();
        let total: i32 = all.iter().map(rs_replicas).sum();
        let current = self.d.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: omit_zero(all.iter().map(actual_of).sum()),
            updated_replicas: omit_zero(new_rs.map(actual_of).unwrap_or(0)),
            ready_replicas: omit_zero(
                all.iter()
                    .map(|rs| {
                        rs.status
                            .as_ref()
                            .and_then(|s| s.ready_replicas)
                            .unwrap_or(0)
                    })
                    .sum(),
            ),
            available_replicas: omit_zero(available),
            unavailable_replicas: omit_zero((total - available).max(0)),
            collision_count: current.collision_count,
            conditions: current.conditions.clone(),
            terminating_replicas: current.terminating_replicas,
        };
        let condition = if available >= self.replicas() - max_unavailable(&self.d)? {
            new_condition(
                "Available",
                "True",
                MIN_AVAILABLE_REASON,
                "Deployment has minimum availability.".into(),
            )
        } else {
            new_condition(
                "Available",
                "False",
                MIN_UNAVAILABLE_REASON,
                "Deployment does not have minimum availability.".into(),
            )
        };
        set_condition(&mut status, condition);
        Ok(status)
    }

    fn observed_generation(&self) -> i64 {
        self.d
            .status
            .as_ref()
            .and_then(|s| s.observed_generation)
            .unwrap_or(0)
    }

    /// `UpdateStatus`: writes status and the revision annotation (Kubernetes'
    /// status strategy for Deployments keeps annotation changes), guarded by
    /// resourceVersion. The working copy takes the new resourceVersion so
    /// the next write of this pass does not conflict with this one.
    async fn update_status(&mut self) -> Result<(), Error> {
        let api: Api<Deployment> = Api::namespaced(
            self.state.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        );
        let updated = api
            .replace_status(&self.d.name_any(), &PostParams::default(), &self.d)
            .await?;
        self.d.metadata.resource_version = updated.metadata.resource_version;
        Ok(())
    }

    /// Keeps the pass's ReplicaSet list current after a write.
    fn remember(&mut self, rs: &ReplicaSet) {
        match self
            .rs_list
            .iter_mut()
            .find(|r| r.metadata.uid == rs.metadata.uid)
        {
            Some(slot) => *slot = rs.clone(),
            None => self.rs_list.push(rs.clone()),
        }
    }

    /// The revision this pass rolls out: the new ReplicaSet's, or the next
    /// one (a new ReplicaSet, or an old one rolled back to).
    fn target_revision(&self, old: &[ReplicaSet]) -> i64 {
        let next = max_revision(old) + 1;
        find_new_replica_set(&self.d, &self.rs_list)
            .and_then(revision)
            .filter(|r| *r >= next)
            .unwrap_or(next)
    }

    /// `ScalingReplicaSet` about the Deployment, naming the ReplicaSet it
    /// scaled: Kubernetes' note ("Scaled up replica set web-7c9f from 0 to
    /// 3"), then this pass's cause in brackets.
    async fn scaling_event(&self, rs: &ReplicaSet, note: String) {
        let note = match &self.cause {
            Some(cause) => format!("{note} ({cause})"),
            None => note,
        };
        let reference = self.d.object_ref(&());
        self.state
            .events
            .publish_related(
                &reference,
                Some(&rs.object_ref(&())),
                EventType::Normal,
                "ScalingReplicaSet",
                "ScalingReplicaSet",
                note,
            )
            .await;
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        let reference = self.d.object_ref(&());
        self.state
            .events
            .publish(&reference, type_, reason, note)
            .await;
    }
}

// ---------------------------------------------------------------------------
// deploymentutil: pure functions over Deployments and ReplicaSets
// ---------------------------------------------------------------------------

fn strategy_type(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into())
}

fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn actual_of(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}

fn available_of(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(rs, key)?.parse().ok()
}

/// `deployment.kubernetes.io/revision` (0 when absent, `None` when malformed).
fn revision(rs: &ReplicaSet) -> Option<i64> {
    match annotation(rs, REVISION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

fn max_revision(rss: &[ReplicaSet]) -> i64 {
    rss.iter().filter_map(revision).max().unwrap_or(0)
}

/// ReplicaSets with `spec.replicas > 0`.
fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter()
        .filter(|rs| rs_replicas(rs) > 0)
        .cloned()
        .collect()
}

fn with_new(old: &[ReplicaSet], new_rs: &Option<ReplicaSet>) -> Vec<ReplicaSet> {
    let mut all = old.to_vec();
    all.extend(new_rs.iter().cloned());
    all
}

/// Oldest first; the name breaks ties (`ReplicaSetsByCreationTimestamp`).
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Lowest revision first, then oldest (`ReplicaSetsByRevision`).
fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let (ra, rb) = (revision(a).unwrap_or(0), revision(b).unwrap_or(0));
    ra.cmp(&rb).then_with(|| by_creation(a, b))
}

/// Largest first; among equals the newest first (`ReplicaSetsBySizeNewer`).
fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// Largest first; among equals the oldest first (`ReplicaSetsBySizeOlder`).
fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// Templates equal once the `pod-template-hash` label is ignored.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        let meta = t.metadata.get_or_insert_with(Default::default);
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(POD_TEMPLATE_HASH);
            if labels.is_empty() {
                meta.labels = None;
            }
        }
        t
    };
    strip(a) == strip(b)
}

/// The oldest ReplicaSet whose template is the Deployment's.
fn find_new_replica_set<'a>(d: &Deployment, rss: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let template = &d.spec.as_ref()?.template;
    let mut sorted: Vec<&ReplicaSet> = rss.iter().collect();
    sorted.sort_by(|a, b| by_creation(a, b));
    sorted.into_iter().find(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, template))
    })
}

/// (old ReplicaSets with pods, all old ReplicaSets).
fn find_old_replica_sets(d: &Deployment, rss: &[ReplicaSet]) -> (Vec<ReplicaSet>, Vec<ReplicaSet>) {
    let new_uid = find_new_replica_set(d, rss).and_then(|rs| rs.metadata.uid.clone());
    let all: Vec<ReplicaSet> = rss
        .iter()
        .filter(|rs| new_uid.is_none() || rs.metadata.uid != new_uid)
        .cloned()
        .collect();
    (active(&all), all)
}

/// The only active ReplicaSet; if none is active, the newest one.
fn find_active_or_latest(new_rs: Option<&ReplicaSet>, old: &[ReplicaSet]) -> Option<ReplicaSet> {
    if new_rs.is_none() && old.is_empty() {
        return None;
    }
    let mut old = old.to_vec();
    old.sort_by(|a, b| by_creation(b, a));
    let mut all = old.clone();
    all.extend(new_rs.cloned());
    let mut actives = active(&all);
    match actives.len() {
        0 => new_rs.cloned().or_else(|| old.first().cloned()),
        1 => actives.pop(),
        _ => None,
    }
}

/// The new ReplicaSet already runs the full, available count.
fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(desired) = annotation_i32(rs, DESIRED_REPLICAS) else {
        return false;
    };
    rs_replicas(rs) == want && desired == want && available_of(rs) == want
}

/// How big the new ReplicaSet may be now. Kubernetes' `NewRSNewReplicas`.
fn new_rs_new_replicas(
    d: &Deployment,
    all: &[ReplicaSet],
    new_rs: &ReplicaSet,
) -> Result<i32, Error> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    match strategy_type(d).as_str() {
        "RollingUpdate" => {
            let surge = max_surge_value(d)?;
            let current: i32 = all.iter().map(rs_replicas).sum();
            let max_total = want + surge;
            if current >= max_total {
                return Ok(rs_replicas(new_rs));
            }
            let up = (max_total - current).min(want - rs_replicas(new_rs));
            Ok(rs_replicas(new_rs) + up)
        }
        "Recreate" => Ok(want),
        other => Err(Error::Malformed(format!(
            "deployment type {other} isn't supported"
        ))),
    }
}

fn rolling_params(d: &Deployment) -> (Option<IntOrString>, Option<IntOrString>) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    (
        ru.and_then(|r| r.max_surge.clone()),
        ru.and_then(|r| r.max_unavailable.clone()),
    )
}

/// maxSurge resolved against `replicas` (used by NewRSNewReplicas whatever
/// the fenceposts say).
fn max_surge_value(d: &Deployment) -> Result<i32, Error> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let (surge, _) = rolling_params(d);
    scaled_value(surge.as_ref().unwrap_or(&IntOrString::Int(0)), want, true)
}

/// `MaxSurge`: 0 unless RollingUpdate.
fn max_surge(d: &Deployment) -> Result<i32, Error> {
    if !is_rolling_update(d) {
        return Ok(0);
    }
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let (surge, unavailable) = rolling_params(d);
    Ok(resolve_fenceposts(surge.as_ref(), unavailable.as_ref(), want)?.0)
}

/// `MaxUnavailable`: 0 unless RollingUpdate with replicas; never more than replicas.
fn max_unavailable(d: &Deployment) -> Result<i32, Error> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if !is_rolling_update(d) || want == 0 {
        return Ok(0);
    }
    let (surge, unavailable) = rolling_params(d);
    Ok(
        resolve_fenceposts(surge.as_ref(), unavailable.as_ref(), want)?
            .1
            .min(want),
    )
}

/// maxSurge rounds up, maxUnavailable rounds down; if both come out 0,
/// maxUnavailable is 1 (surging might be impossible, e.g. under quota).
pub fn resolve_fenceposts(
    surge: Option<&IntOrString>,
    unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), Error> {
    let zero = IntOrString::Int(0);
    let s = scaled_value(surge.unwrap_or(&zero), desired, true)?;
    let u = scaled_value(unavailable.unwrap_or(&zero), desired, false)?;
    Ok(if s == 0 && u == 0 { (0, 1) } else { (s, u) })
}

/// An int, or a percentage of `total` rounded up or down
/// (`intstr.GetScaledValueFromIntOrPercent`).
fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, Error> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::Malformed(format!("invalid value for IntOrString: invalid type: string is not a percentage: {s:?}")))?;
            let product = pct * i64::from(total);
            let value = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            Ok(value as i32)
        }
    }
}

/// This ReplicaSet's share of `to_add` more (or fewer) replicas, given
/// `added` already handed out. Kubernetes' `GetProportion`.
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> Result<i32, Error> {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return Ok(0);
    }
    let fraction = replica_set_fraction(rs, d)?;
    let allowed = to_add - added;
    Ok(if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    })
}

/// How much this ReplicaSet would grow (or shrink) if the Deployment's new
/// size were spread in proportion to the size it had when last annotated.
fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> Result<i32, Error> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if want == 0 {
        return Ok(-rs_replicas(rs));
    }
    let deployment_replicas = want + max_surge(d)?;
    let annotated = annotation_i32(rs, MAX_REPLICAS)
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated == 0 {
        return Ok(0);
    }
    let new_size = f64::from(rs_replicas(rs) * deployment_replicas) / f64::from(annotated);
    Ok(new_size.round() as i32 - rs_replicas(rs))
}

/// Sets desired/max-replicas; true if they changed.
fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(Default::default);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

/// Copies the Deployment's annotations (minus [`ANNOTATIONS_TO_SKIP`]),
/// raises the revision to `new_revision` if it is lower (recording the
/// previous one in revision-history: a rollback), and on creation sets
/// desired/max-replicas. True if anything changed. `SetNewReplicaSetAnnotations`.
fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: &str,
    exists: bool,
) -> bool {
    let mut changed = false;
    let annotations = rs.metadata.annotations.get_or_insert_with(Default::default);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if ANNOTATIONS_TO_SKIP.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    let old_revision = annotations.get(REVISION).cloned();
    let old = match old_revision.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    let Ok(new) = new_revision.parse::<i64>() else {
        return false;
    };
    if old < new {
        annotations.insert(REVISION.into(), new_revision.into());
        changed = true;
        if let Some(previous) = old_revision {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            let value = append_revision_history(&history, &previous);
            if let Some(v) = value {
                annotations.insert(REVISION_HISTORY.into(), v);
            }
        }
    }
    if !exists {
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let max = want + max_surge(d).unwrap_or(0);
        if set_replicas_annotations(rs, want, max) {
            changed = true;
        }
    }
    changed
}

/// `history` + `,previous`, dropping the oldest entries to stay within
/// [`MAX_REV_HISTORY_CHARS`]; `None` if even that does not fit.
fn append_revision_history(history: &str, previous: &str) -> Option<String> {
    if history.is_empty() {
        return Some(previous.to_string());
    }
    let entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + previous.len() + 1;
    let mut start = 0;
    while total > MAX_REV_HISTORY_CHARS && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total > MAX_REV_HISTORY_CHARS {
        return None;
    }
    let mut kept: Vec<&str> = entries[start..].to_vec();
    kept.push(previous);
    Some(kept.join(","))
}

/// Sets the Deployment's revision annotation; true if it changed.
fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if annotations.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION.into(), revision.into());
    true
}

/// `<deployment>-<hash>`, the Deployment name cut so the whole fits 253 characters.
fn replica_set_name(deployment: &str, hash: &str) -> String {
    let max = 253 - 1 - hash.len();
    let mut end = deployment.len().min(max);
    while !deployment.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &deployment[..end])
}

/// Any pod of an old ReplicaSet not yet gone (terminating ones included).
fn old_pods_running(
    new_rs: Option<&ReplicaSet>,
    old: &[ReplicaSet],
    pods: &HashMap<String, Vec<Arc<CachedPod>>>,
) -> bool {
    if old.iter().map(actual_of).sum::<i32>() > 0 {
        return true;
    }
    let new_uid = new_rs
        .and_then(|rs| rs.metadata.uid.clone())
        .unwrap_or_default();
    pods.iter()
        .filter(|(uid, _)| **uid != new_uid)
        .any(|(_, list)| {
            list.iter().any(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            })
        })
}

fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|p| p != i32::MAX)
}

fn progressing(d: &Deployment) -> Option<&DeploymentCondition> {
    condition(d.status.as_ref()?, "Progressing")
}

fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn new_condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = second_precision(Timestamp::now());
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// Same status and reason: nothing changes. Same status: the transition
/// time is kept. `SetDeploymentCondition`.
fn set_condition(status: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(current) = condition(status, &c.type_) {
        if current.status == c.status && current.reason == c.reason {
            return;
        }
        if current.status == c.status {
            c.last_transition_time = current.last_transition_time.clone();
        }
    }
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|x| x.type_ != c.type_);
    conditions.push(c);
}

fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
    }
}

/// The new ReplicaSet's `ReplicaFailure` conditions, else the old ones'.
fn replica_failures(all: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Vec<DeploymentCondition> {
    let of = |rs: &ReplicaSet| -> Vec<DeploymentCondition> {
        rs.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.type_ == "ReplicaFailure")
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
            .collect()
    };
    let from_new = new_rs.map(of).unwrap_or_default();
    if !from_new.is_empty() {
        return from_new;
    }
    all.iter().flat_map(of).collect()
}

/// Every replica updated and available, and the latest spec observed.
fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// More updated, ready or available pods, or fewer old ones, than the
/// last recorded status.
fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0);
    let new_old = new.replicas.unwrap_or(0) - new.updated_replicas.unwrap_or(0);
    new.updated_replicas.unwrap_or(0) > old.updated_replicas.unwrap_or(0)
        || new_old < old_old
        || new.ready_replicas.unwrap_or(0) > old.ready_replicas.unwrap_or(0)
        || new.available_replicas.unwrap_or(0) > old.available_replicas.unwrap_or(0)
}

/// No progress recorded for longer than `progressDeadlineSeconds`.
fn deployment_timed_out(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = condition(status, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE_REASON) => return false,
        Some(TIMED_OUT_REASON) => return true,
        _ => {}
    }
    let Some(from) = c.last_update_time.as_ref() else {
        return false;
    };
    let secs = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(0);
    from.0 + SignedDuration::from_secs(secs.into()) < now
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn rs(name: &str, replicas: i32, max_replicas: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: Some([(MAX_REPLICAS.to_string(), max_replicas.to_string())].into()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    #[test]
    fn fenceposts_round_like_kubernetes() {
        // 25% of 10: surge 2.5 → 3, unavailable 2.5 → 2.
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 10).unwrap(),
            (3, 2)
        );
        // 25% of 1: surge rounds up to 1, unavailable down to 0.
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 1).unwrap(),
            (1, 0)
        );
        // Both zero → unavailable 1.
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(0)), Some(&pct("10%")), 3).unwrap(),
            (0, 1)
        );
        assert!(resolve_fenceposts(Some(&pct("abc")), None, 3).is_err());
        let d = deployment(3, IntOrString::Int(0), IntOrString::Int(5));
        assert_eq!(max_unavailable(&d).unwrap(), 3, "never more than replicas");
    }

    #[test]
    fn proportional_scaling_follows_get_proportion() {
        // A rollout of 10 (surge 3) is at old=8, new=5; scaled to 20 the
        // allowed size is 20 + 5 = 25, 12 more to hand out.
        let d = deployment(20, pct("25%"), pct("25%"));
        let old = rs("old", 8, 13);
        let new = rs("new", 5, 13);
        let to_add = 25 - 13;
        let p_old = proportion(&old, &d, to_add, 0).unwrap();
        let p_new = proportion(&new, &d, to_add, p_old).unwrap();
        // 8 * 25 / 13 = 15.38 → 15 (+7); 5 * 25 / 13 = 9.6 → 10 (+5).
        assert_eq!((p_old, p_new), (7, 5));
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let a = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: None,
        };
        let mut b = a.clone();
        fn labels(t: &mut PodTemplateSpec) -> Option<&mut BTreeMap<String, String>> {
            t.metadata.as_mut()?.labels.as_mut()
        }
        labels(&mut b)
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), "x".into());
        assert!(equal_ignore_hash(&a, &b));
        labels(&mut b).unwrap().insert("tier".into(), "db".into());
        assert!(!equal_ignore_hash(&a, &b));
    }

    #[test]
    fn rollback_keeps_revision_history() {
        let d = deployment(1, pct("25%"), pct("25%"));
        let mut r = rs("web-1", 0, 1);
        r.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(REVISION.into(), "1".into());
        assert!(set_new_replica_set_annotations(&d, &mut r, "3", true));
        let a = r.metadata.annotations.as_ref().unwrap();
        assert_eq!(a[REVISION], "3");
        assert_eq!(a[REVISION_HISTORY], "1");
        assert!(set_new_replica_set_annotations(&d, &mut r, "5", true));
        assert_eq!(
            r.metadata.annotations.as_ref().unwrap()[REVISION_HISTORY],
            "1,3"
        );
        // Never lowered.
        assert!(!set_new_replica_set_annotations(&d, &mut r, "2", true));
    }

    #[test]
    fn new_replica_set_grows_within_max_surge() {
        let d = deployment(4, IntOrString::Int(1), IntOrString::Int(0));
        let old = rs("old", 4, 5);
        let new = rs("new", 0, 5);
        assert_eq!(
            new_rs_new_replicas(&d, &[old.clone(), new.clone()], &new).unwrap(),
            1
        );
        let new = rs("new", 1, 5);
        assert_eq!(
            new_rs_new_replicas(&d, &[old, new.clone()], &new).unwrap(),
            1
        );
    }
}
