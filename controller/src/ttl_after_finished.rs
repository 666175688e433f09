//! The TTL-after-finished controller: deletes a finished Job
//! `spec.ttlSecondsAfterFinished` seconds after it finished, with Background
//! propagation so the garbage collector takes its pods too. Kubernetes'
//! `pkg/controller/ttlafterfinished`.
//!
//! A Job has finished when its `Complete` or `Failed` condition is True; it
//! finished at that condition's `lastTransitionTime`. The controller waits
//! for the expiry with a requeue (no polling), and before deleting reads the
//! Job again from the API server: a TTL changed meanwhile is honoured, and
//! the delete carries a uid precondition so a new Job of the same name is
//! never the one deleted.
//!
//! Level-triggered and idempotent: any change to a Job recomputes when it
//! expires. No Events (Kubernetes records none either).

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{self, Action, Controller};
use kube::ResourceExt;
use minik_client::errors;

use crate::context::{drive, Built, RetryBackoff};
use crate::ownership::key_of;
use crate::step_gate::gated;
use crate::{Context, Error};

struct State {
    ctx: Arc<Context>,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared Job informer (the caller starts it).
pub fn build(ctx: &Arc<Context>) -> Built {
    let jobs = ctx.informers.get::<Job>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        retries: RetryBackoff::default(),
    });
    let controller = drive(
        "ttl-after-finished controller",
        Controller::for_shared_stream(jobs.applied(), jobs.store())
            .with_config(
                controller::Config::default()
                    .concurrency(ctx.settings.concurrent_ttl_after_finished_syncs),
            )
            .run(
                gated(
                    ctx,
                    "ttl-after-finished controller",
                    jobs.store(),
                    reconcile,
                ),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

fn error_policy(job: Arc<Job>, error: &Error, state: Arc<State>) -> Action {
    let key = key_of(&job.metadata);
    tracing::info!(job = %key, %error, "ttl-after-finished sync failed, will retry");
    Action::requeue(state.retries.next_delay(&key))
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// Deletes the Job if its TTL has expired, else comes back when it will.
/// Kubernetes' `processJob`.
async fn reconcile(job: Arc<Job>, state: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&job.metadata);
    let now = Timestamp::now();
    let Some(wait) = time_left(&job, now) else {
        return Ok(Action::await_change());
    };
    if !wait.is_zero() {
        return Ok(Action::requeue(wait));
    }
    // The cache may be behind: ask the API server before deleting.
    let api: Api<Job> = Api::namespaced(
        state.ctx.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    let Some(fresh) = api.get_opt(&job.name_any()).await? else {
        return Ok(Action::await_change());
    };
    match time_left(&fresh, now) {
        Some(wait) if wait.is_zero() => {}
        Some(wait) => return Ok(Action::requeue(wait)),
        None => return Ok(Action::await_change()),
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&fresh.name_any(), &params).await {
        Ok(_) => tracing::info!(job = %key, "deleted a finished Job whose TTL expired"),
        Err(e) if errors::is_not_found(&e) || errors::is_conflict(&e) => {}
        Err(e) => return Err(e.into()),
    }
    state.retries.forget(&key);
    Ok(Action::await_change())
}

/// How long until a finished Job with a TTL expires (zero: expired);
/// `None` if it has no TTL, is unfinished or is already being deleted.
pub fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = finish_time(job)?;
    let expires = finished + SignedDuration::from_secs(ttl.into());
    Some(if expires <= now {
        Duration::ZERO
    } else {
        expires.duration_since(now).unsigned_abs()
    })
}

/// When the Job's `Complete` or `Failed` condition turned True.
fn finish_time(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|t| t.0)
                .unwrap_or_else(Timestamp::now)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn job(ttl: Option<i32>, finished_at: Option<i64>) -> Job {
        Job {
            spec: Some(JobSpec {
                ttl_seconds_after_finished: ttl,
                ..Default::default()
            }),
            status: Some(JobStatus {
                conditions: finished_at.map(|t| {
                    vec![JobCondition {
                        type_: "Complete".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(Timestamp::from_second(t).unwrap())),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn expiry_counts_from_the_finish_condition() {
        let now = Timestamp::from_second(1000).unwrap();
        assert_eq!(time_left(&job(None, Some(900)), now), None);
        assert_eq!(time_left(&job(Some(60), None), now), None);
        assert_eq!(
            time_left(&job(Some(60), Some(990)), now),
            Some(Duration::from_secs(50))
        );
        assert_eq!(
            time_left(&job(Some(60), Some(900)), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            time_left(&job(Some(0), Some(1000)), now),
            Some(Duration::ZERO)
        );
    }
}
