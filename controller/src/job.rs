//! The Job controller: runs pods to completion. Mirrors kube-controller-manager's
//! `pkg/controller/job` (Kubernetes 1.33): `syncJob` → count what finished
//! (through the pod finalizer and `uncountedTerminatedPods`) → decide whether
//! the Job succeeded or failed → `manageJob` (create or delete pods) → status.
//!
//! What it shares with Kubernetes, in detail:
//! - Pods are created from `spec.template` with `generateName: <job>-`
//!   (`<job>-<index>-` when Indexed), a controller ownerReference, the
//!   labels the API server put on the template (`batch.kubernetes.io/
//!   controller-uid`, `batch.kubernetes.io/job-name` and the legacy
//!   `controller-uid`, `job-name`) and the finalizer
//!   `batch.kubernetes.io/job-tracking`.
//! - Counting without losing or double counting a pod: a finished pod that
//!   still holds the finalizer is first written into
//!   `status.uncountedTerminatedPods` (one status write), then its finalizer
//!   is removed, then its uid moves from there into `succeeded`/`failed`
//!   (`completedIndexes`) in a second write. A crash between any two steps
//!   leaves enough behind for the next sync to finish the job; a pod whose
//!   finalizer removal is not yet visible in the cache is not looked at
//!   again (finalizer expectations), and stale Job objects are refused by
//!   the API server (`resourceVersion`).
//! - `parallelism` bounds the active pods, `completions` the successes;
//!   `completionMode: Indexed` gives each pod an index (annotation and label
//!   `batch.kubernetes.io/job-completion-index`, env `JOB_COMPLETION_INDEX`,
//!   hostname `<job>-<index>`), success is every index in
//!   `status.completedIndexes` ("0-2,4").
//! - Failures: `backoffLimit` (failed pods, or container restarts of active
//!   pods with `restartPolicy: OnFailure`), `backoffLimitPerIndex` and
//!   `maxFailedIndexes` (`status.failedIndexes`), `podFailurePolicy` rules
//!   (FailJob, FailIndex, Ignore, Count on exit codes and pod conditions such
//!   as `DisruptionTarget`), `activeDeadlineSeconds`. A failed pod is replaced
//!   after an exponential backoff: `Settings::job_pod_failure_backoff` (10 s)
//!   doubling per consecutive failure, capped at 10 minutes (Kubernetes'
//!   `DefaultJobPodFailureBackOff`/`MaxJobPodFailureBackOff`).
//! - Ending, as 1.33 does it: first `FailureTarget` (reason
//!   `BackoffLimitExceeded`, `DeadlineExceeded`, `PodFailurePolicy`, …) or
//!   `SuccessCriteriaMet` (`CompletionsReached`), then active pods are
//!   deleted, and once none is left terminating the terminal `Failed` or
//!   `Complete` condition (same reason and message) with `completionTime`.
//! - `suspend: true` deletes the active pods (their termination is not
//!   counted as a failure) and sets `Suspended` (`JobSuspended`); resuming
//!   sets it False (`JobResumed`) and restarts the clock (`startTime`).
//! - Events (reporter "job-controller"): `SuccessfulCreate` "Created pod: …",
//!   `SuccessfulDelete` "Deleted pod: …", `Completed` "Job completed",
//!   Warnings named after the failure reason, `Suspended`/`Resumed`.
//!
//! Shape: as the ReplicaSet controller, a kube-rs `Controller` over Jobs whose
//! second input is the shared pod watch (which also lowers the creation and
//! deletion [`Expectations`] and the finalizer expectations before it wakes
//! the Job). Level-triggered and idempotent: every sync recomputes what to do
//! from the Job and its pods, whatever woke it.
//!
//! A Job whose `spec.managedBy` names another controller is left to it,
//! as Kubernetes' Job controller does.
//!
//! Simplified on purpose: no adoption of orphan pods that match a Job's
//! selector (Jobs choose their own generated selectors, so only a
//! `manualSelector` Job could have any); a Job's pods are those it
//! controls. `successPolicy` is not implemented: such a Job gets a Warning
//! Event (`SuccessPolicyNotSupported`) and completes by its completions.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicyRule, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_client::informer::Synced;
use minik_client::{errors, Change};
use serde_json::json;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::{controller_of, controller_ref, key_of};
use crate::pod_cache::CachedPod;
use crate::pod_control::{delete_pod, Expectations};
use crate::pods::is_pod_ready;
use crate::status::{omit_zero, second_precision};
use crate::step_gate::gated;
use crate::{Context, Error};

/// The finalizer that keeps a Job's pod until the Job has counted it.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// An Indexed Job pod's index (annotation and label).
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// How many earlier pods of the same index failed (backoffLimitPerIndex).
pub(crate) const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// The env var an Indexed Job's containers read their index from.
const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// Most pods created or deleted for one Job in one sync (`MaxPodCreateDeletePerSync`).
const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// The longest pod-recreation backoff (`MaxJobPodFailureBackOff`).
const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10 * 60);
/// `spec.managedBy` of the Jobs this controller syncs (or none).
const MANAGED_BY_JOB_CONTROLLER: &str = "kubernetes.io/job-controller";

const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";
const MSG_COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";
const REASON_BACKOFF_LIMIT: &str = "BackoffLimitExceeded";
const MSG_BACKOFF_LIMIT: &str = "Job has reached the specified backoff limit";
const REASON_DEADLINE: &str = "DeadlineExceeded";
const MSG_DEADLINE: &str = "Job was active longer than specified deadline";
const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
const REASON_MAX_FAILED_INDEXES: &str = "MaxFailedIndexesExceeded";
const MSG_MAX_FAILED_INDEXES: &str =
    "Job has exceeded the specified maximal number of failed indexes";
const REASON_FAILED_INDEXES: &str = "FailedIndexes";
const MSG_FAILED_INDEXES: &str = "Job has failed indexes";

/// Everything the Job reconcile reads besides the Job itself.
struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    pods_synced: Synced,
    expectations: Arc<Expectations>,
    finalizers: Arc<FinalizerExpectations>,
    /// Consecutive failures per Job since its last success (`backoffRecordStore`).
    backoffs: Mutex<HashMap<String, BackoffRecord>>,
    events: EventRecorder,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared Job and Pod informers (the caller
/// starts them). Kubernetes' `NewController` in `pkg/controller/job`.
pub fn build(ctx: &Arc<Context>) -> Built {
    let jobs = ctx.informers.get::<Job>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let expectations = Arc::new(Expectations::for_kind("Job"));
    let finalizers = Arc::new(FinalizerExpectations::default());
    let state = Arc::new(State {
        events: EventRecorder::new(ctx.client.clone(), "job-controller", None),
        ctx: ctx.clone(),
        pods: pods.store(),
        pods_synced: pods.synced(),
        expectations: expectations.clone(),
        finalizers: finalizers.clone(),
        backoffs: Mutex::default(),
        retries: RetryBackoff::default(),
    });
    let orphans = release_orphans(
        ctx.client.clone(),
        jobs.subscribe(),
        jobs.store(),
        jobs.synced(),
        pods.subscribe(),
        pods.store(),
    );
    let pod_changes = pod_changes(pods.subscribe(), pods.store(), expectations, finalizers);
    let controller = drive(
        "job controller",
        Controller::for_shared_stream(jobs.applied(), jobs.store())
            .with_config(
                controller::Config::default().concurrency(ctx.settings.concurrent_job_syncs),
            )
            .watches_shared_stream(pod_changes, |pod| job_of_pod(&pod))
            .run(
                gated(ctx, "job controller", jobs.store(), reconcile),
                error_policy,
                state,
            ),
    );
    async move {
        futures::join!(controller, orphans);
        Ok(())
    }
    .boxed()
}

/// Pod changes lower the expectations they satisfy, then wake the pod's Job.
fn pod_changes(
    changes: impl Stream<Item = Change<CachedPod>> + Send + 'static,
    cache: Store<CachedPod>,
    expectations: Arc<Expectations>,
    finalizers: Arc<FinalizerExpectations>,
) -> impl Stream<Item = Arc<CachedPod>> + Send + 'static {
    changes.filter_map(move |change| {
        expectations.observe(&change, &cache);
        finalizers.observe(&change);
        future::ready(change.touched())
    })
}

/// The Job controlling a pod, if any.
fn job_of_pod(pod: &CachedPod) -> Option<ObjectRef<Job>> {
    let owner = controller_of(&pod.metadata)?;
    (owner.kind == "Job" && owner.api_version.starts_with("batch/"))
        .then(|| ObjectRef::new(&owner.name).within(&pod.namespace().unwrap_or_default()))
}

/// Removes the tracking finalizer from pods whose Job is gone (deleted while
/// they ran), which no sync of that Job will ever count. Kubernetes does
/// this in its pod event handlers and `cleanupOrphanPods`.
async fn release_orphans(
    client: kube::Client,
    job_changes: impl Stream<Item = Change<Job>> + Send + 'static,
    jobs: Store<Job>,
    jobs_synced: Synced,
    pod_changes: impl Stream<Item = Change<CachedPod>> + Send + 'static,
    pods: Store<CachedPod>,
) {
    enum Trigger {
        JobGone(Arc<Job>),
        Pod(Arc<CachedPod>),
    }
    let triggers = futures::stream::select(
        job_changes.filter_map(|c| future::ready(c.deleted().map(Trigger::JobGone))),
        pod_changes.filter_map(|c| future::ready(c.applied().map(Trigger::Pod))),
    );
    triggers
        .for_each(|trigger| {
            let (client, jobs, pods, jobs_synced) =
                (client.clone(), jobs.clone(), pods.clone(), jobs_synced.clone());
            async move {
                jobs_synced.wait().await;
                let orphans: Vec<Arc<CachedPod>> = match trigger {
                    Trigger::JobGone(job) => {
                        let uid = job.metadata.uid.clone();
                        pods.state()
                            .into_iter()
                            .filter(|p| {
                                controller_of(&p.metadata).is_some_and(|o| Some(&o.uid) == uid.as_ref())
                            })
                            .collect()
                    }
                    Trigger::Pod(pod) => {
                        let alive = job_of_pod(&pod).and_then(|r| jobs.get(&r)).is_some_and(|j| {
                            controller_of(&pod.metadata).map(|o| &o.uid) == j.metadata.uid.as_ref()
                        });
                        if job_of_pod(&pod).is_none() || alive {
                            Vec::new()
                        } else {
                            vec![pod]
                        }
                    }
                };
                for pod in orphans.iter().filter(|p| has_tracking_finalizer(p)) {
                    let api: Api<Pod> =
                        Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
                    if let Err(e) = remove_tracking_finalizer(&api, pod).await {
                        tracing::debug!(pod = %key_of(&pod.metadata), error = %e, "orphan finalizer");
                    }
                }
            }
        })
        .await
}

/// Failed syncs are retried with client-go's per-object exponential backoff.
fn error_policy(job: Arc<Job>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*job, error)
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// One pass over a Job and its pods: what changed is counted, the outcome
/// decided, pods created or deleted, status written. Level-triggered and
/// idempotent. Kubernetes' `syncJob`.
async fn reconcile(job: Arc<Job>, state: Arc<State>) -> Result<Action, Error> {
    state.pods_synced.wait().await;
    let key = key_of(&job.metadata);
    let Some(spec) = job.spec.as_ref() else {
        return Err(Error::Malformed(format!("Job {key} has no spec")));
    };
    if spec
        .managed_by
        .as_deref()
        .is_some_and(|m| m != MANAGED_BY_JOB_CONTROLLER)
    {
        return Ok(Action::await_change());
    }
    if spec.success_policy.is_some() {
        let note = "minik does not implement spec.successPolicy; the Job completes when its completions succeed".to_string();
        state
            .events
            .publish(
                &job.object_ref(&()),
                EventType::Warning,
                "SuccessPolicyNotSupported",
                note,
            )
            .await;
    }
    let ns = job.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(state.ctx.client.clone(), &ns);
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let pods: Vec<Arc<CachedPod>> = state
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| controller_of(&p.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    let now = Timestamp::now();
    let old_status = job.status.clone().unwrap_or_default();

    if is_finished(&old_status) || job.metadata.deletion_timestamp.is_some() {
        // Anything still holding the finalizer (a pod that ended after the
        // Job did, or whose Job is being deleted, e.g. in the foreground)
        // no longer counts, and must not hold its deletion up.
        let stragglers: Vec<Arc<CachedPod>> = pods
            .iter()
            .filter(|p| has_tracking_finalizer(p))
            .cloned()
            .collect();
        remove_finalizers(&state, &key, &api, &stragglers).await?;
        state.backoffs.lock().unwrap().remove(&key);
        return Ok(Action::await_change());
    }
    let mut status = old_status.clone();
    let suspended = spec.suspend == Some(true);
    let indexed = is_indexed(spec);
    let completions = spec.completions;

    // 1. What finished since the last sync.
    let mut uncounted = Uncounted::of(&status);
    let mut completed = parse_indexes(status.completed_indexes.as_deref().unwrap_or(""));
    let mut failed_indexes = parse_indexes(status.failed_indexes.as_deref().unwrap_or(""));
    let finishing = condition_true(&status, "FailureTarget").is_some()
        || condition_true(&status, "SuccessCriteriaMet").is_some();
    let mut new_succeeded: Vec<Arc<CachedPod>> = Vec::new();
    let mut new_failed: Vec<Arc<CachedPod>> = Vec::new();
    let mut ignored: Vec<Arc<CachedPod>> = Vec::new();
    let mut fail_job: Option<String> = None;
    let awaiting = state.finalizers.pending(&key);
    for pod in &pods {
        let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
        if !has_tracking_finalizer(pod)
            || awaiting.contains(&pod_uid)
            || uncounted.contains(&pod_uid)
        {
            continue;
        }
        let phase = phase_of(pod);
        let index = completion_index(pod);
        if phase == "Succeeded" {
            let valid = !indexed
                || index
                    .is_some_and(|ix| ix < completions.unwrap_or(0) && !completed.contains(&ix));
            if valid {
                if let Some(ix) = index.filter(|_| indexed) {
                    completed.insert(ix);
                }
                new_succeeded.push(pod.clone());
            } else {
                ignored.push(pod.clone());
            }
            continue;
        }
        // A pod being deleted counts as failed (`isPodFailed`). With a
        // podFailurePolicy Kubernetes waits for the terminal phase the
        // kubelet writes before removing it; minik has no PodGC to mark the
        // pods of lost nodes Failed, so such a pod is judged as it stands
        // (its conditions, e.g. DisruptionTarget, are already there).
        let deleting = pod.metadata.deletion_timestamp.is_some();
        if phase != "Failed" && !deleting {
            continue;
        }
        if suspended && deleting && (phase != "Failed" || finishing_by_us(pod)) {
            // Deleted because the Job was suspended: not a failure.
            ignored.push(pod.clone());
            continue;
        }
        if indexed && index.is_none_or(|ix| ix >= completions.unwrap_or(0)) {
            ignored.push(pod.clone());
            continue;
        }
        let action = match &spec.pod_failure_policy {
            Some(policy) if !finishing => match_pod_failure_policy(&policy.rules, pod),
            _ => None,
        };
        match action {
            Some(PolicyMatch::Ignore) => ignored.push(pod.clone()),
            Some(PolicyMatch::FailJob(message)) => {
                fail_job.get_or_insert(message);
                new_failed.push(pod.clone());
            }
            Some(PolicyMatch::FailIndex) => {
                if let Some(ix) = index {
                    failed_indexes.insert(ix);
                }
                new_failed.push(pod.clone());
            }
            Some(PolicyMatch::Count) | None => {
                if let (Some(limit), Some(ix)) = (spec.backoff_limit_per_index, index) {
                    if index_failure_count(pod) + 1 > limit {
                        failed_indexes.insert(ix);
                    }
                }
                new_failed.push(pod.clone());
            }
        }
    }

    // 2. Write the new finished pods into uncountedTerminatedPods before
    //    touching their finalizers.
    for pod in &new_succeeded {
        uncounted.succeeded.push(uid_of(pod));
    }
    for pod in &new_failed {
        uncounted.failed.push(uid_of(pod));
    }
    let active: Vec<Arc<CachedPod>> = pods.iter().filter(|p| is_active(p)).cloned().collect();
    let terminating = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some() && !is_terminal(p))
        .count();
    let succeeded = status.succeeded.unwrap_or(0) + uncounted.succeeded.len() as i32;
    let failed = status.failed.unwrap_or(0) + uncounted.failed.len() as i32;

    // 3. Has the Job reached an end? (`FailureTarget` / `SuccessCriteriaMet`)
    if !finishing {
        let end = if let Some(message) = fail_job {
            Some(("FailureTarget", REASON_POD_FAILURE_POLICY, message))
        } else if spec.backoff_limit_per_index.is_some()
            && spec
                .max_failed_indexes
                .is_some_and(|max| failed_indexes.len() as i32 > max)
        {
            Some((
                "FailureTarget",
                REASON_MAX_FAILED_INDEXES,
                MSG_MAX_FAILED_INDEXES.to_string(),
            ))
        } else if spec.backoff_limit_per_index.is_none()
            && (failed > spec.backoff_limit.unwrap_or(6)
                || past_backoff_limit_on_failure(spec, &active))
        {
            Some((
                "FailureTarget",
                REASON_BACKOFF_LIMIT,
                MSG_BACKOFF_LIMIT.to_string(),
            ))
        } else if past_active_deadline(spec, &status, now) && !suspended {
            Some(("FailureTarget", REASON_DEADLINE, MSG_DEADLINE.to_string()))
        } else if indexed
            && !failed_indexes.is_empty()
            && (completed.len() + failed_indexes.len()) as i32 >= completions.unwrap_or(0)
        {
            Some((
                "FailureTarget",
                REASON_FAILED_INDEXES,
                MSG_FAILED_INDEXES.to_string(),
            ))
        } else if succeeded_enough(spec, indexed, &completed, succeeded, active.len()) {
            Some((
                "SuccessCriteriaMet",
                REASON_COMPLETIONS_REACHED,
                MSG_COMPLETIONS_REACHED.to_string(),
            ))
        } else {
            None
        };
        if let Some((type_, reason, message)) = end {
            set_condition(&mut status, type_, "True", reason, &message, now);
        }
    }
    let finishing = condition_true(&status, "FailureTarget").is_some()
        || condition_true(&status, "SuccessCriteriaMet").is_some();

    status.completed_indexes = indexed.then(|| format_indexes(&completed));
    if spec.backoff_limit_per_index.is_some() {
        status.failed_indexes = Some(format_indexes(&failed_indexes));
    }
    status.uncounted_terminated_pods = Some(uncounted.to_status());
    let flushed = if !new_succeeded.is_empty() || !new_failed.is_empty() || status != old_status {
        write_status(&state, &job, &status).await?
    } else {
        (*job).clone()
    };
    record_backoff(&state, &key, &new_succeeded, &new_failed, now);

    // 4. Now the finalizers may go: every counted (uncounted) pod and every
    //    pod we decided not to count.
    let release: Vec<Arc<CachedPod>> = pods
        .iter()
        .filter(|p| has_tracking_finalizer(p))
        .filter(|p| {
            uncounted.contains(&uid_of(p))
                || ignored.iter().any(|i| i.metadata.uid == p.metadata.uid)
        })
        .cloned()
        .collect();
    let released = remove_finalizers(&state, &key, &api, &release).await;
    let released_uids: HashSet<String> = match &released {
        Ok(uids) => uids.clone(),
        Err(_) => HashSet::new(),
    };

    // 5. Pods whose finalizer is gone are counted for good.
    let present: HashMap<String, &Arc<CachedPod>> = pods.iter().map(|p| (uid_of(p), p)).collect();
    let counted = |u: &String| {
        released_uids.contains(u) || present.get(u).is_none_or(|p| !has_tracking_finalizer(p))
    };
    let (done_s, keep_s): (Vec<String>, Vec<String>) =
        uncounted.succeeded.drain(..).partition(|u| counted(u));
    let (done_f, keep_f): (Vec<String>, Vec<String>) =
        uncounted.failed.drain(..).partition(|u| counted(u));
    uncounted.succeeded = keep_s;
    uncounted.failed = keep_f;
    status.succeeded = omit_zero(status.succeeded.unwrap_or(0) + done_s.len() as i32);
    status.failed = omit_zero(status.failed.unwrap_or(0) + done_f.len() as i32);
    status.uncounted_terminated_pods = Some(uncounted.to_status());

    // 6. Act: finish, suspend, or keep `parallelism` pods running.
    let mut requeue: Option<Duration> = None;
    let mut manage_result: Result<(), kube::Error> = Ok(());
    let mut events: Vec<(EventType, String, String)> = Vec::new();
    let active_now: Vec<Arc<CachedPod>> = active.clone();
    if finishing {
        if !active_now.is_empty() {
            manage_result = delete_pods(&state, &job, &api, &active_now).await;
        }
        let nothing_left = active_now.is_empty() && terminating == 0 && uncounted.is_empty();
        if nothing_left {
            if let Some(target) = condition_true(&status, "FailureTarget").cloned() {
                let (reason, message) = (
                    target.reason.unwrap_or_default(),
                    target.message.unwrap_or_default(),
                );
                set_condition(&mut status, "Failed", "True", &reason, &message, now);
                events.push((EventType::Warning, reason, message));
            } else {
                set_condition(
                    &mut status,
                    "Complete",
                    "True",
                    REASON_COMPLETIONS_REACHED,
                    MSG_COMPLETIONS_REACHED,
                    now,
                );
                status.completion_time = Some(second_precision(now));
                events.push((
                    EventType::Normal,
                    "Completed".into(),
                    "Job completed".into(),
                ));
            }
        }
    } else if suspended {
        if !active_now.is_empty() {
            manage_result = delete_pods(&state, &job, &api, &active_now).await;
        }
        if condition_true(&status, "Suspended").is_none() {
            set_condition(
                &mut status,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
                now,
            );
            events.push((
                EventType::Normal,
                "Suspended".into(),
                "Job suspended".into(),
            ));
        }
        // The deadline clock stops; it starts again from the resume.
        status.start_time = None;
    } else {
        if status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Suspended" && c.status == "True")
        {
            set_condition(
                &mut status,
                "Suspended",
                "False",
                "JobResumed",
                "Job resumed",
                now,
            );
            events.push((EventType::Normal, "Resumed".into(), "Job resumed".into()));
            status.start_time = Some(second_precision(now));
        }
        if status.start_time.is_none() {
            status.start_time = Some(second_precision(now));
        }
        if state.expectations.satisfied(&key) {
            let backoff = if spec.backoff_limit_per_index.is_some() {
                Duration::ZERO
            } else {
                remaining_backoff(&state, &key, now)
            };
            match manage_job(
                &state,
                &job,
                spec,
                &api,
                &active_now,
                &pods,
                &completed,
                &failed_indexes,
                succeeded,
                terminating,
                backoff,
            )
            .await
            {
                Ok(wait) => requeue = wait,
                Err(e) => manage_result = Err(e),
            }
        } else if let Some(expiry) = state.expectations.expires_in(&key) {
            requeue = Some(expiry);
        }
        if let Some(deadline) = deadline_in(spec, &status, now) {
            requeue = Some(requeue.map_or(deadline, |r| r.min(deadline)));
        }
    }

    // 7. Status.
    let ready = active_now.iter().filter(|p| is_pod_ready(p)).count() as i32;
    let deleted_now = if finishing || suspended {
        active_now.len()
    } else {
        0
    };
    status.active = omit_zero((active_now.len() - deleted_now.min(active_now.len())) as i32);
    status.ready = Some(if deleted_now > 0 { 0 } else { ready });
    status.terminating = Some(terminating as i32 + deleted_now as i32);
    if condition_true(&status, "Complete").is_some() || condition_true(&status, "Failed").is_some()
    {
        status.active = None;
        status.ready = Some(0);
        status.terminating = Some(0);
    }
    let current = flushed.status.clone().unwrap_or_default();
    if status != current {
        let mut latest = flushed.clone();
        latest.status = Some(current);
        write_status(&state, &latest, &status).await?;
    }
    for (type_, reason, note) in events {
        state
            .events
            .publish(&job.object_ref(&()), type_, &reason, note)
            .await;
    }
    released?;
    manage_result?;
    state.retries.forget(&key);
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Creates pods up to `parallelism` (and what is left to complete), or
/// deletes the excess; returns when to look again if the pod-failure
/// backoff holds creations back. Kubernetes' `manageJob`.
#[allow(clippy::too_many_arguments)]
async fn manage_job(
    state: &State,
    job: &Job,
    spec: &JobSpec,
    api: &Api<Pod>,
    active: &[Arc<CachedPod>],
    pods: &[Arc<CachedPod>],
    completed: &BTreeSet<i32>,
    failed_indexes: &BTreeSet<i32>,
    succeeded: i32,
    terminating: usize,
    backoff: Duration,
) -> Result<Option<Duration>, kube::Error> {
    let key = key_of(&job.metadata);
    let parallelism = spec.parallelism.unwrap_or(1).max(0) as usize;
    // With podReplacementPolicy Failed a terminating pod still holds its slot.
    let held = if spec.pod_replacement_policy.as_deref() == Some("Failed") {
        terminating
    } else {
        0
    };
    let indexed = is_indexed(spec);

    // Too many active: delete the excess (duplicates of an index first).
    let mut excess: Vec<Arc<CachedPod>> = Vec::new();
    if indexed {
        let mut seen = HashSet::new();
        for pod in active {
            let keep = completion_index(pod).is_some_and(|ix| {
                ix < spec.completions.unwrap_or(0)
                    && !completed.contains(&ix)
                    && !failed_indexes.contains(&ix)
                    && seen.insert(ix)
            });
            if !keep {
                excess.push(pod.clone());
            }
        }
    }
    let remaining_active: Vec<&Arc<CachedPod>> = active
        .iter()
        .filter(|p| !excess.iter().any(|e| e.metadata.uid == p.metadata.uid))
        .collect();
    let wanted = wanted_active(spec, succeeded, completed.len()).min(parallelism);
    if remaining_active.len() > wanted {
        // Not-yet-running pods go first.
        let mut extra: Vec<&Arc<CachedPod>> = remaining_active.clone();
        extra.sort_by_key(|p| (is_scheduled(p), phase_of(p) == "Running", is_pod_ready(p)));
        excess.extend(
            extra
                .into_iter()
                .take(remaining_active.len() - wanted)
                .cloned(),
        );
    }
    if !excess.is_empty() {
        excess.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        delete_pods(state, job, api, &excess).await?;
        return Ok(None);
    }

    let occupied = remaining_active.len() + held;
    if occupied >= wanted {
        return Ok(None);
    }
    if !backoff.is_zero() {
        return Ok(Some(backoff));
    }
    let mut diff = (wanted - occupied).min(MAX_POD_CREATE_DELETE_PER_SYNC);
    let mut wait: Option<Duration> = None;
    let indexes: Vec<Option<i32>> = if indexed {
        let busy: BTreeSet<i32> = remaining_active
            .iter()
            .filter_map(|p| completion_index(p))
            .collect();
        let now = Timestamp::now();
        let list: Vec<Option<i32>> = (0..spec.completions.unwrap_or(0))
            .filter(|ix| {
                !completed.contains(ix) && !failed_indexes.contains(ix) && !busy.contains(ix)
            })
            // With backoffLimitPerIndex each index backs off on its own.
            .filter(|ix| {
                let left = index_backoff(state, spec, pods, *ix, now);
                if !left.is_zero() {
                    wait = Some(wait.map_or(left, |w| w.min(left)));
                }
                left.is_zero()
            })
            .take(diff)
            .map(Some)
            .collect();
        diff = list.len();
        list
    } else {
        vec![None; diff]
    };
    if diff == 0 {
        return Ok(wait);
    }
    state.expectations.expect_creations(&key, diff);
    let reference = job.object_ref(&());
    let mut created = 0;
    let mut first_error = None;
    // Slow start: batches of 1, 2, 4, … so a template that cannot be created
    // fails once, not `parallelism` times.
    let mut batch = 1usize;
    let mut queue = indexes.into_iter();
    'batches: loop {
        let chunk: Vec<Option<i32>> = queue.by_ref().take(batch).collect();
        if chunk.is_empty() {
            break;
        }
        let results = future::join_all(chunk.iter().map(|ix| {
            let pod = pod_from_template(job, spec, *ix, index_failures(pods, *ix));
            async move { api.create(&PostParams::default(), &pod).await }
        }))
        .await;
        for result in results {
            match result {
                Ok(pod) => {
                    created += 1;
                    state
                        .events
                        .publish(
                            &reference,
                            EventType::Normal,
                            "SuccessfulCreate",
                            format!("Created pod: {}", pod.name_any()),
                        )
                        .await;
                }
                Err(e) => {
                    if !errors::has_cause(&e, "NamespaceTerminating") {
                        state
                            .events
                            .publish(
                                &reference,
                                EventType::Warning,
                                "FailedCreate",
                                format!("Error creating: {}", errors::message(&e)),
                            )
                            .await;
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_some() {
            break 'batches;
        }
        batch *= 2;
    }
    for _ in created..diff {
        state.expectations.creation_observed(&key);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(wait),
    }
}

/// What is left of index `ix`'s own backoff (Jobs with
/// `backoffLimitPerIndex`): the base doubling per failure of that index,
/// from its last failed pod's finish.
fn index_backoff(
    state: &State,
    spec: &JobSpec,
    pods: &[Arc<CachedPod>],
    ix: i32,
    now: Timestamp,
) -> Duration {
    if spec.backoff_limit_per_index.is_none() {
        return Duration::ZERO;
    }
    let last = pods
        .iter()
        .filter(|p| completion_index(p) == Some(ix) && phase_of(p) == "Failed")
        .map(|p| finish_time(p, now))
        .max();
    let Some(last) = last else {
        return Duration::ZERO;
    };
    let backoff = pod_failure_backoff(
        state.ctx.settings.job_pod_failure_backoff,
        index_failures(pods, Some(ix)) as u32,
    );
    backoff.saturating_sub(now.duration_since(last).unsigned_abs())
}

/// How many pods should be active: `parallelism` bounded by what is left to
/// complete (or, without `completions`, none once one pod succeeded).
fn wanted_active(spec: &JobSpec, succeeded: i32, completed_indexes: usize) -> usize {
    let parallelism = spec.parallelism.unwrap_or(1).max(0) as usize;
    match spec.completions {
        Some(c) if is_indexed(spec) => (c as usize).saturating_sub(completed_indexes),
        Some(c) => (c - succeeded).max(0) as usize,
        None if succeeded > 0 => 0,
        None => parallelism,
    }
}

/// Whether enough pods succeeded: `completions` of them (every index for an
/// Indexed Job); without `completions`, one success and no active pods.
fn succeeded_enough(
    spec: &JobSpec,
    indexed: bool,
    completed: &BTreeSet<i32>,
    succeeded: i32,
    active: usize,
) -> bool {
    match spec.completions {
        Some(c) if indexed => completed.len() as i32 >= c,
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active == 0,
    }
}

/// Deletes pods (gracefully), recording expectations and Events.
async fn delete_pods(
    state: &State,
    job: &Job,
    api: &Api<Pod>,
    pods: &[Arc<CachedPod>],
) -> Result<(), kube::Error> {
    let key = key_of(&job.metadata);
    let reference = job.object_ref(&());
    state
        .expectations
        .expect_deletions(&key, pods.iter().map(|p| key_of(&p.metadata)).collect());
    let results = future::join_all(pods.iter().map(|pod| {
        delete_pod(
            api,
            pod,
            DeleteParams::default(),
            (&reference, &key),
            &state.expectations,
            &state.events,
            None,
        )
    }))
    .await;
    results.into_iter().collect()
}

/// Writes `status` over what `job` holds, failing on a stale `resourceVersion`
/// (so two syncs never count the same pod). Returns the Job as written.
async fn write_status(state: &State, job: &Job, status: &JobStatus) -> Result<Job, Error> {
    let api: Api<Job> = Api::namespaced(
        state.ctx.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    let mut target = job.clone();
    target.status = Some(status.clone());
    Ok(api
        .replace_status(&job.name_any(), &PostParams::default(), &target)
        .await?)
}

/// Removes the tracking finalizer from `pods`; returns the uids whose
/// finalizer is gone (or whose pod is).
async fn remove_finalizers(
    state: &State,
    key: &str,
    api: &Api<Pod>,
    pods: &[Arc<CachedPod>],
) -> Result<HashSet<String>, Error> {
    let results = future::join_all(pods.iter().map(|pod| async move {
        state.finalizers.expect(key, &uid_of(pod));
        let result = remove_tracking_finalizer(api, pod).await;
        if result.is_err() {
            state.finalizers.forget(key, &uid_of(pod));
        }
        (uid_of(pod), result)
    }))
    .await;
    let mut done = HashSet::new();
    let mut first_error = None;
    for (uid, result) in results {
        match result {
            Ok(()) => {
                done.insert(uid);
            }
            Err(e) if errors::is_not_found(&e) => {
                done.insert(uid);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(done),
    }
}

/// A JSON patch that removes the tracking finalizer, guarded by a test of
/// the finalizer list so a concurrent change makes it fail, not misfire.
async fn remove_tracking_finalizer(api: &Api<Pod>, pod: &CachedPod) -> Result<(), kube::Error> {
    let finalizers = pod.metadata.finalizers.clone().unwrap_or_default();
    let Some(at) = finalizers.iter().position(|f| f == JOB_TRACKING_FINALIZER) else {
        return Ok(());
    };
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/uid", "value": pod.metadata.uid},
        {"op": "test", "path": format!("/metadata/finalizers/{at}"), "value": JOB_TRACKING_FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{at}")},
    ]))
    .expect("a well-formed JSON patch");
    api.patch(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------------------
// pods
// ---------------------------------------------------------------------------

/// A new pod for `job` (index `ix` when Indexed): the template, labels,
/// annotations, the tracking finalizer, `generateName`, the controller
/// reference. Kubernetes' `GetPodFromTemplate` plus the Job's additions.
fn pod_from_template(job: &Job, spec: &JobSpec, ix: Option<i32>, failures: i32) -> Pod {
    let template = spec.template.clone();
    let tmeta = template.metadata.unwrap_or_default();
    let mut pod_spec = template.spec.unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    let mut finalizers = tmeta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        finalizers.push(JOB_TRACKING_FINALIZER.to_string());
    }
    let name = job.name_any();
    let generate_name = match ix {
        Some(ix) => {
            labels.insert(COMPLETION_INDEX.into(), ix.to_string());
            annotations.insert(COMPLETION_INDEX.into(), ix.to_string());
            if spec.backoff_limit_per_index.is_some() {
                annotations.insert(INDEX_FAILURE_COUNT.into(), failures.to_string());
            }
            if pod_spec.hostname.is_none() {
                pod_spec.hostname = Some(format!("{name}-{ix}"));
            }
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            for c in pod_spec
                .containers
                .iter_mut()
                .chain(pod_spec.init_containers.iter_mut().flatten())
            {
                let vars = c.env.get_or_insert_with(Vec::new);
                if !vars.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
                    vars.push(env.clone());
                }
            }
            format!("{name}-{ix}-")
        }
        None => format!("{name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(job)]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// Failures so far of index `ix`: the highest failure count of its pods,
/// one more for each that failed. Kubernetes' `getNewIndexFailureCounts`.
fn index_failures(pods: &[Arc<CachedPod>], ix: Option<i32>) -> i32 {
    let Some(ix) = ix else { return 0 };
    pods.iter()
        .filter(|p| completion_index(p) == Some(ix))
        .map(|p| index_failure_count(p) + i32::from(phase_of(p) == "Failed"))
        .max()
        .unwrap_or(0)
}

fn index_failure_count(pod: &CachedPod) -> i32 {
    pod.annotations()
        .get(INDEX_FAILURE_COUNT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The pod's completion index, if it has a valid one.
fn completion_index(pod: &CachedPod) -> Option<i32> {
    pod.annotations()
        .get(COMPLETION_INDEX)
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|ix| *ix >= 0)
}

fn has_tracking_finalizer(pod: &CachedPod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == JOB_TRACKING_FINALIZER)
}

fn phase_of(pod: &CachedPod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn is_terminal(pod: &CachedPod) -> bool {
    matches!(phase_of(pod), "Succeeded" | "Failed")
}

fn is_active(pod: &CachedPod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

fn is_scheduled(pod: &CachedPod) -> bool {
    pod.spec.as_ref().is_some_and(|s| s.node_name.is_some())
}

/// A pod being deleted that had not failed by itself (its containers ended
/// by our SIGTERM, exit code 143): a suspended Job does not count those.
fn finishing_by_us(pod: &CachedPod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .all(|t| t.exit_code == 143 || t.exit_code == 137)
}

fn uid_of(pod: &CachedPod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// When the pod finished: the latest container `finishedAt`
/// (`getFinishedTime`), or now. `finishedAt` has second precision, so a
/// failure seen within that second is dated when it was seen: otherwise
/// the backoff could be up to a second short.
fn finish_time(pod: &CachedPod, now: Timestamp) -> Timestamp {
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    match finished {
        Some(t) if now >= t && now < t + SignedDuration::from_secs(1) => now,
        Some(t) => t,
        None => now,
    }
}

/// With `restartPolicy: OnFailure` failures are container restarts: the
/// Job fails once its active pods restarted `backoffLimit` times.
/// Kubernetes' `pastBackoffLimitOnFailure`.
fn past_backoff_limit_on_failure(spec: &JobSpec, active: &[Arc<CachedPod>]) -> bool {
    let restart_policy = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = active
        .iter()
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    let limit = spec.backoff_limit.unwrap_or(6);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

// ---------------------------------------------------------------------------
// pod failure policy
// ---------------------------------------------------------------------------

/// What the first matching `podFailurePolicy` rule says about a failed pod.
#[derive(Debug, PartialEq)]
enum PolicyMatch {
    FailJob(String),
    FailIndex,
    Ignore,
    Count,
}

/// Kubernetes' `matchPodFailurePolicy`: rules in order; exit-code rules look
/// at containers that terminated with a non-zero code (optionally one
/// container by name), condition rules at the pod's conditions.
fn match_pod_failure_policy(
    rules: &[PodFailurePolicyRule],
    pod: &CachedPod,
) -> Option<PolicyMatch> {
    let status = pod.status.as_ref()?;
    let key = key_of(&pod.metadata);
    for (i, rule) in rules.iter().enumerate() {
        let mut matched: Option<String> = None;
        if let Some(req) = &rule.on_exit_codes {
            let terminated = status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten())
                .filter(|c| req.container_name.as_ref().is_none_or(|n| *n == c.name))
                .filter_map(|c| Some((c, c.state.as_ref()?.terminated.as_ref()?)))
                .filter(|(_, t)| t.exit_code != 0);
            for (c, t) in terminated {
                let listed = req.values.contains(&t.exit_code);
                if (req.operator == "In") == listed {
                    matched = Some(format!(
                        "Container {} for pod {key} failed with exit code {} matching {} rule at index {i}",
                        c.name, t.exit_code, rule.action
                    ));
                    break;
                }
            }
        }
        for pattern in rule.on_pod_conditions.iter().flatten() {
            let hit = status
                .conditions
                .iter()
                .flatten()
                // An empty status is the API default, "True".
                .any(|c| {
                    let want = match pattern.status.as_str() {
                        "" => "True",
                        s => s,
                    };
                    c.type_ == pattern.type_ && c.status == want
                });
            if hit {
                matched = Some(format!(
                    "Pod {key} has condition {} matching {} rule at index {i}",
                    pattern.type_, rule.action
                ));
                break;
            }
        }
        if let Some(message) = matched {
            return Some(match rule.action.as_str() {
                "FailJob" => PolicyMatch::FailJob(message),
                "FailIndex" => PolicyMatch::FailIndex,
                "Ignore" => PolicyMatch::Ignore,
                _ => PolicyMatch::Count,
            });
        }
    }
    None
}

// ---------------------------------------------------------------------------
// status helpers
// ---------------------------------------------------------------------------

/// `status.uncountedTerminatedPods` as two lists of uids.
#[derive(Default)]
struct Uncounted {
    succeeded: Vec<String>,
    failed: Vec<String>,
}

impl Uncounted {
    fn of(status: &JobStatus) -> Self {
        let u = status.uncounted_terminated_pods.clone().unwrap_or_default();
        Self {
            succeeded: u.succeeded.unwrap_or_default(),
            failed: u.failed.unwrap_or_default(),
        }
    }

    fn contains(&self, uid: &str) -> bool {
        self.succeeded.iter().chain(&self.failed).any(|u| u == uid)
    }

    fn is_empty(&self) -> bool {
        self.succeeded.is_empty() && self.failed.is_empty()
    }

    fn to_status(&self) -> UncountedTerminatedPods {
        UncountedTerminatedPods {
            succeeded: (!self.succeeded.is_empty()).then(|| self.succeeded.clone()),
            failed: (!self.failed.is_empty()).then(|| self.failed.clone()),
        }
    }
}

fn is_indexed(spec: &JobSpec) -> bool {
    spec.completion_mode.as_deref() == Some("Indexed")
}

/// The Job has its terminal condition (`Complete` or `Failed`).
fn is_finished(status: &JobStatus) -> bool {
    condition_true(status, "Complete").is_some() || condition_true(status, "Failed").is_some()
}

fn condition_true<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// Sets a condition the way the Job controller does: a change of status
/// moves `lastTransitionTime`; the probe time is always now.
fn set_condition(
    status: &mut JobStatus,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let now = second_precision(now);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != value {
                c.last_transition_time = Some(now.clone());
            }
            c.status = value.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = Some(now);
        }
        None => conditions.push(JobCondition {
            type_: type_.into(),
            status: value.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_probe_time: Some(now.clone()),
            last_transition_time: Some(now),
        }),
    }
}

/// `startTime + activeDeadlineSeconds` has passed.
fn past_active_deadline(spec: &JobSpec, status: &JobStatus, now: Timestamp) -> bool {
    deadline_in(spec, status, now).is_some_and(|d| d.is_zero())
}

/// How long until the active deadline (zero once past; `None` without one).
fn deadline_in(spec: &JobSpec, status: &JobStatus, now: Timestamp) -> Option<Duration> {
    let seconds = spec.active_deadline_seconds?;
    let start = status.start_time.as_ref()?.0;
    let deadline = start + SignedDuration::from_secs(seconds);
    Some(if deadline <= now {
        Duration::ZERO
    } else {
        deadline.duration_since(now).unsigned_abs()
    })
}

// ---------------------------------------------------------------------------
// completed and failed indexes
// ---------------------------------------------------------------------------

/// Parses `status.completedIndexes`-style text ("0-2,4,6-7").
pub fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(a) = part.parse() {
                    out.insert(a);
                }
            }
        }
    }
    out
}

/// Formats indexes as Kubernetes does: consecutive runs as "first-last",
/// others alone, comma separated ("0-2,4").
pub fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut runs: Vec<(i32, i32)> = Vec::new();
    for &ix in indexes {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == ix => *last = ix,
            _ => runs.push((ix, ix)),
        }
    }
    runs.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------
// pod-failure backoff
// ---------------------------------------------------------------------------

/// Failures since the last success, and when the last one happened
/// (Kubernetes' `backoffRecord`).
#[derive(Debug, Clone, Default, PartialEq)]
struct BackoffRecord {
    failures_after_last_success: u32,
    last_failure: Option<Timestamp>,
}

/// Updates the record with the pods this sync found finished
/// (`newBackoffRecord`).
fn record_backoff(
    state: &State,
    key: &str,
    succeeded: &[Arc<CachedPod>],
    failed: &[Arc<CachedPod>],
    now: Timestamp,
) {
    if succeeded.is_empty() && failed.is_empty() {
        return;
    }
    let mut all = state.backoffs.lock().unwrap();
    let record = all.entry(key.to_string()).or_default();
    *record = next_backoff_record(
        record,
        &succeeded
            .iter()
            .map(|p| finish_time(p, now))
            .collect::<Vec<_>>(),
        &failed
            .iter()
            .map(|p| finish_time(p, now))
            .collect::<Vec<_>>(),
    );
}

fn next_backoff_record(
    old: &BackoffRecord,
    succeeded: &[Timestamp],
    failed: &[Timestamp],
) -> BackoffRecord {
    match succeeded.iter().max() {
        None => BackoffRecord {
            failures_after_last_success: old.failures_after_last_success + failed.len() as u32,
            last_failure: old
                .last_failure
                .into_iter()
                .chain(failed.iter().copied())
                .max(),
        },
        Some(last_success) => {
            let after: Vec<Timestamp> = failed
                .iter()
                .copied()
                .filter(|t| t > last_success)
                .collect();
            BackoffRecord {
                failures_after_last_success: after.len() as u32,
                last_failure: after.into_iter().max(),
            }
        }
    }
}

/// How long before a failed pod may be replaced: `base` doubling per
/// consecutive failure, capped (`getRemainingTime`'s backoff).
pub fn pod_failure_backoff(base: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    base.saturating_mul(1u32 << (failures - 1).min(20))
        .min(MAX_POD_FAILURE_BACKOFF)
}

/// What is left of the current backoff for `key` at `now`.
fn remaining_backoff(state: &State, key: &str, now: Timestamp) -> Duration {
    let record = state
        .backoffs
        .lock()
        .unwrap()
        .get(key)
        .cloned()
        .unwrap_or_default();
    let Some(last) = record.last_failure else {
        return Duration::ZERO;
    };
    let backoff = pod_failure_backoff(
        state.ctx.settings.job_pod_failure_backoff,
        record.failures_after_last_success,
    );
    let elapsed = now.duration_since(last).unsigned_abs();
    backoff.saturating_sub(elapsed)
}

// ---------------------------------------------------------------------------
// finalizer expectations
// ---------------------------------------------------------------------------

/// Pods (uids) per Job whose finalizer removal was sent but is not yet in
/// the pod cache: a sync must not count them again meanwhile. Kubernetes'
/// `uidTrackingExpectations` for finalizers.
#[derive(Default)]
struct FinalizerExpectations {
    by_job: Mutex<HashMap<String, HashSet<String>>>,
}

impl FinalizerExpectations {
    fn expect(&self, job: &str, uid: &str) {
        self.by_job
            .lock()
            .unwrap()
            .entry(job.to_string())
            .or_default()
            .insert(uid.to_string());
    }

    fn forget(&self, job: &str, uid: &str) {
        if let Some(set) = self.by_job.lock().unwrap().get_mut(job) {
            set.remove(uid);
        }
    }

    fn pending(&self, job: &str) -> HashSet<String> {
        self.by_job
            .lock()
            .unwrap()
            .get(job)
            .cloned()
            .unwrap_or_default()
    }

    /// A pod seen without the finalizer (or deleted) is no longer awaited.
    fn observe(&self, change: &Change<CachedPod>) {
        let (pod, gone) = match change {
            Change::Added(p) | Change::Updated { new: p, .. } => (p, false),
            Change::Deleted(p) => (p, true),
            Change::Synced => return,
        };
        if !gone && has_tracking_finalizer(pod) {
            return;
        }
        let Some(job) = job_of_pod(pod) else { return };
        let key = format!("{}/{}", job.namespace.unwrap_or_default(), job.name);
        let mut all = self.by_job.lock().unwrap();
        if let Some(set) = all.get_mut(&key) {
            set.remove(&uid_of(pod));
            if set.is_empty() {
                all.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    };
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodStatus,
    };

    #[test]
    fn indexes_format_as_kubernetes_ranges() {
        let set: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(format_indexes(&set), "0-2,4,6-7");
        assert_eq!(format_indexes(&[0, 1, 2].into()), "0-2");
        assert_eq!(format_indexes(&[3].into()), "3");
        assert_eq!(format_indexes(&BTreeSet::new()), "");
        assert_eq!(parse_indexes("0-2,4,6-7"), set);
        assert_eq!(parse_indexes(""), BTreeSet::new());
    }

    #[test]
    fn pod_failure_backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(10);
        assert_eq!(pod_failure_backoff(base, 0), Duration::ZERO);
        assert_eq!(pod_failure_backoff(base, 1), Duration::from_secs(10));
        assert_eq!(pod_failure_backoff(base, 2), Duration::from_secs(20));
        assert_eq!(pod_failure_backoff(base, 4), Duration::from_secs(80));
        assert_eq!(pod_failure_backoff(base, 7), Duration::from_secs(600));
        assert_eq!(pod_failure_backoff(base, 60), Duration::from_secs(600));
    }

    #[test]
    fn backoff_record_counts_failures_after_the_last_success() {
        let t = |s| Timestamp::from_second(s).unwrap();
        let r = next_backoff_record(&BackoffRecord::default(), &[], &[t(10), t(20)]);
        assert_eq!(r.failures_after_last_success, 2);
        assert_eq!(r.last_failure, Some(t(20)));
        let r = next_backoff_record(&r, &[t(25)], &[t(22), t(30)]);
        assert_eq!(r.failures_after_last_success, 1);
        assert_eq!(r.last_failure, Some(t(30)));
        let r = next_backoff_record(&r, &[t(40)], &[]);
        assert_eq!(r, BackoffRecord::default());
    }

    fn failed_pod(exit_code: i32, conditions: &[&str]) -> CachedPod {
        CachedPod::of(&Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Failed".into()),
                conditions: Some(
                    conditions
                        .iter()
                        .map(|c| PodCondition {
                            type_: c.to_string(),
                            status: "True".into(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                container_statuses: Some(vec![ContainerStatus {
                    name: "main".into(),
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn pod_failure_policy_rules_match_in_order() {
        let rules = vec![
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: None,
                    operator: "In".into(),
                    values: vec![42],
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: None,
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                }]),
            },
            PodFailurePolicyRule {
                action: "Count".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: Some("main".into()),
                    operator: "NotIn".into(),
                    values: vec![1],
                }),
                on_pod_conditions: None,
            },
        ];
        assert_eq!(
            match_pod_failure_policy(&rules, &failed_pod(42, &[])),
            Some(PolicyMatch::FailJob(
                "Container main for pod default/p failed with exit code 42 matching FailJob rule at index 0".into()
            ))
        );
        assert_eq!(
            match_pod_failure_policy(&rules, &failed_pod(143, &["DisruptionTarget"])),
            Some(PolicyMatch::Ignore)
        );
        assert_eq!(
            match_pod_failure_policy(&rules, &failed_pod(3, &[])),
            Some(PolicyMatch::Count)
        );
        assert_eq!(match_pod_failure_policy(&rules, &failed_pod(1, &[])), None);
    }

    #[test]
    fn wanted_active_pods_follow_completions_and_parallelism() {
        let spec = |completions: Option<i32>, parallelism: i32| JobSpec {
            completions,
            parallelism: Some(parallelism),
            ..Default::default()
        };
        assert_eq!(wanted_active(&spec(Some(5), 2), 0, 0).min(2), 2);
        assert_eq!(wanted_active(&spec(Some(5), 2), 4, 0).min(2), 1);
        assert_eq!(wanted_active(&spec(Some(5), 2), 5, 0), 0);
        assert_eq!(wanted_active(&spec(None, 3), 0, 0), 3);
        assert_eq!(wanted_active(&spec(None, 3), 1, 0), 0);
    }
}
