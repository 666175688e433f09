//! The CronJob controller: creates a Job at each scheduled time. Mirrors
//! kube-controller-manager's `pkg/controller/cronjob` (`ControllerV2`,
//! Kubernetes 1.33): `syncCronJob` → tidy `status.active` → decide the most
//! recent unmet schedule time → concurrency policy → create the Job →
//! prune the history → come back at the next schedule time.
//!
//! What it shares with Kubernetes, in detail:
//! - Schedules are standard five-field cron with the `@yearly`, `@monthly`,
//!   `@weekly`, `@daily`/`@midnight`, `@hourly` macros and `@every <d>`,
//!   evaluated in `spec.timeZone` (an IANA name) or the controller's local
//!   zone. Parsing and next-time arithmetic come from the `croner` crate;
//!   day-of-month and day-of-week combine as in Vixie cron (either matches
//!   when both are restricted), as robfig/cron does for Kubernetes.
//! - The controller only ever starts the *most recent* missed time since
//!   `lastScheduleTime` (or creation), not every one it missed; with
//!   `startingDeadlineSeconds`, a time older than that is skipped
//!   (`MissSchedule`); more than 100 missed times gives the
//!   `TooManyMissedTimes` warning, as Kubernetes does.
//! - Job names are `<cronjob>-<scheduled time in minutes since the epoch>`,
//!   so each scheduled time is created at most once; the Job carries the
//!   template's labels and annotations, `batch.kubernetes.io/cronjob-scheduled-timestamp`
//!   (RFC 3339 in the schedule's zone) and a controller ownerReference.
//! - `concurrencyPolicy`: Allow, Forbid (skip while one runs:
//!   `JobAlreadyActive`), Replace (delete the running ones first).
//! - `suspend` stops new Jobs; `successfulJobsHistoryLimit` (3) and
//!   `failedJobsHistoryLimit` (1) keep that many finished Jobs, oldest
//!   deleted first (Background propagation, so their pods go too).
//! - Status: `active` (references to running Jobs), `lastScheduleTime`,
//!   `lastSuccessfulTime`. Events: `SuccessfulCreate` "Created job …",
//!   `SuccessfulDelete` "Deleted job …", `SawCompletedJob`, `MissingJob`,
//!   `JobAlreadyActive`, `MissSchedule`, `TooManyMissedTimes`,
//!   `UnparseableSchedule`, `UnknownTimeZone`.
//!
//! No polling: each sync returns a requeue at the next schedule time (plus
//! 100 ms, as Kubernetes), and Job changes wake the owning CronJob.
//! The scheduling decision ([`plan`]) is a pure function of the CronJob and
//! "now", so unit tests drive it with any clock.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp, Zoned};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use minik_client::errors;
use minik_client::informer::Synced;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::{controller_of, controller_ref, key_of};
use crate::status::second_precision;
use crate::step_gate::gated;
use crate::{Context, Error};

/// The annotation with the time a Job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed start times than this draws a warning.
const TOO_MANY_MISSED: i64 = 100;
/// Kubernetes wakes a little after the scheduled time, never before it.
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

struct State {
    ctx: Arc<Context>,
    jobs: Store<Job>,
    jobs_synced: Synced,
    events: EventRecorder,
    retries: RetryBackoff,
}

// ---------------------------------------------------------------------------
// construct and run
// ---------------------------------------------------------------------------

/// Builds the controller over the shared CronJob and Job informers (the
/// caller starts them). Job changes wake the CronJob that controls them.
pub fn build(ctx: &Arc<Context>) -> Built {
    let cron_jobs = ctx.informers.get::<CronJob>();
    let jobs = ctx.informers.get::<Job>();
    let state = Arc::new(State {
        events: EventRecorder::new(ctx.client.clone(), "cronjob-controller", None),
        ctx: ctx.clone(),
        jobs: jobs.store(),
        jobs_synced: jobs.synced(),
        retries: RetryBackoff::default(),
    });
    let controller = drive(
        "cronjob controller",
        Controller::for_shared_stream(cron_jobs.applied(), cron_jobs.store())
            .with_config(
                controller::Config::default().concurrency(ctx.settings.concurrent_cron_job_syncs),
            )
            .watches_shared_stream(jobs.touched(), |job| cron_job_of(&job))
            .run(
                gated(ctx, "cronjob controller", cron_jobs.store(), reconcile),
                error_policy,
                state,
            ),
    );
    controller.map(Ok).boxed()
}

/// The CronJob controlling a Job, if any.
fn cron_job_of(job: &Job) -> Option<ObjectRef<CronJob>> {
    let owner = controller_of(&job.metadata)?;
    (owner.kind == "CronJob" && owner.api_version.starts_with("batch/"))
        .then(|| ObjectRef::new(&owner.name).within(&job.namespace().unwrap_or_default()))
}

fn error_policy(cj: Arc<CronJob>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*cj, error)
}

// ---------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------

/// One pass over a CronJob: tidy its status from its Jobs, start the Job
/// for the most recent unmet schedule time if it may, prune finished Jobs,
/// and come back at the next schedule time. Kubernetes' `syncCronJob`.
async fn reconcile(cj: Arc<CronJob>, state: Arc<State>) -> Result<Action, Error> {
    state.jobs_synced.wait().await;
    let key = key_of(&cj.metadata);
    if cj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(spec) = cj.spec.as_ref() else {
        return Err(Error::Malformed(format!("CronJob {key} has no spec")));
    };
    let ns = cj.namespace().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(state.ctx.client.clone(), &ns);
    let reference = cj.object_ref(&());
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let children: Vec<Arc<Job>> = state
        .jobs
        .state()
        .into_iter()
        .filter(|j| j.namespace().as_deref() == Some(ns.as_str()))
        .filter(|j| controller_of(&j.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    let old_status = cj.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    let mut active = status.active.take().unwrap_or_default();

    // 1. Finished Jobs leave `active`; vanished ones too.
    for job in &children {
        let in_active = active.iter().any(|r| r.uid == job.metadata.uid);
        if let Some(outcome) = finished(job) {
            if in_active {
                active.retain(|r| r.uid != job.metadata.uid);
                let note = format!(
                    "Saw completed job: {}, condition: {outcome}",
                    job.name_any()
                );
                state
                    .events
                    .publish(&reference, EventType::Normal, "SawCompletedJob", note)
                    .await;
            }
            if outcome == "Complete" {
                let done = job.status.as_ref().and_then(|s| s.completion_time.clone());
                if done.as_ref().map(|t| t.0) > status.last_successful_time.as_ref().map(|t| t.0) {
                    status.last_successful_time = done;
                }
            }
        }
    }
    let mut kept = Vec::new();
    for r in active {
        let cached = children.iter().any(|j| j.metadata.uid == r.uid);
        if cached {
            kept.push(r);
            continue;
        }
        // Not in the cache: maybe just created, maybe gone. Ask.
        let name = r.name.clone().unwrap_or_default();
        match jobs_api.get_opt(&name).await? {
            Some(j) if j.metadata.uid == r.uid && finished(&j).is_none() => kept.push(r),
            _ => {
                state
                    .events
                    .publish(
                        &reference,
                        EventType::Normal,
                        "MissingJob",
                        format!("Active job went missing: {name}"),
                    )
                    .await;
            }
        }
    }
    let mut active = kept;

    // 2. Pick the schedule time to act on, if any.
    let mut requeue = None;
    let suspended = spec.suspend == Some(true);
    if !suspended {
        let now = Timestamp::now();
        match plan(cj.as_ref(), now) {
            Err(PlanError::TimeZone(msg)) => {
                state
                    .events
                    .publish(&reference, EventType::Warning, "UnknownTimeZone", msg)
                    .await;
            }
            Err(PlanError::Schedule(msg)) => {
                state
                    .events
                    .publish(&reference, EventType::Warning, "UnparseableSchedule", msg)
                    .await;
            }
            Ok(plan) => {
                requeue = plan.next.map(|next| {
                    next.timestamp().duration_since(now).unsigned_abs() + NEXT_SCHEDULE_DELTA
                });
                if plan.too_many_missed {
                    state
                        .events
                        .publish(
                            &reference,
                            EventType::Warning,
                            "TooManyMissedTimes",
                            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
                        )
                        .await;
                }
                if let Some(scheduled) = plan.most_recent {
                    start_job(
                        &state,
                        &cj,
                        &jobs_api,
                        &scheduled,
                        now,
                        &mut active,
                        &mut status,
                    )
                    .await?;
                }
            }
        }
    }

    // 3. Status, then history limits.
    active.sort_by(|a, b| a.name.cmp(&b.name));
    status.active = (!active.is_empty()).then_some(active);
    if status != old_status {
        let api: Api<CronJob> = Api::namespaced(state.ctx.client.clone(), &ns);
        let mut target = (*cj).clone();
        target.status = Some(status);
        api.replace_status(&cj.name_any(), &PostParams::default(), &target)
            .await?;
    }
    prune_history(&state, &cj, &jobs_api, &children).await?;
    state.retries.forget(&key);
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Starts the Job for `scheduled` unless it is too late, already started,
/// or the concurrency policy says no.
async fn start_job(
    state: &State,
    cj: &CronJob,
    jobs_api: &Api<Job>,
    scheduled: &Zoned,
    now: Timestamp,
    active: &mut Vec<ObjectReference>,
    status: &mut CronJobStatus,
) -> Result<(), Error> {
    let spec = cj.spec.as_ref().expect("checked by the caller");
    let reference = cj.object_ref(&());
    if let Some(deadline) = spec.starting_deadline_seconds {
        if scheduled.timestamp() + SignedDuration::from_secs(deadline) < now {
            let note = format!(
                "Missed scheduled time to start a job: {}",
                scheduled.strftime("%Y-%m-%dT%H:%M:%S%:z")
            );
            state
                .events
                .publish(&reference, EventType::Warning, "MissSchedule", note)
                .await;
            return Ok(());
        }
    }
    let name = job_name(&cj.name_any(), scheduled.timestamp());
    if active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
    {
        return Ok(());
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            state
                .events
                .publish(
                    &reference,
                    EventType::Normal,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
                )
                .await;
            return Ok(());
        }
        Some("Replace") => {
            for r in std::mem::take(active) {
                let old = r.name.clone().unwrap_or_default();
                delete_job(state, cj, jobs_api, &old).await?;
            }
        }
        _ => {}
    }
    let job = job_from_template(cj, &name, scheduled);
    let created = match jobs_api.create(&PostParams::default(), &job).await {
        Ok(created) => {
            state
                .events
                .publish(
                    &reference,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created job {name}"),
                )
                .await;
            created
        }
        Err(e) if errors::is_already_exists(&e) => {
            // Created by an earlier sync whose status write was lost: ours
            // if we control it, else someone else's name clash.
            let existing = jobs_api.get(&name).await?;
            if controller_of(&existing.metadata).map(|o| &o.uid) != cj.metadata.uid.as_ref() {
                return Ok(());
            }
            existing
        }
        Err(e) => {
            state
                .events
                .publish(
                    &reference,
                    EventType::Warning,
                    "FailedCreate",
                    format!("Error creating job: {}", errors::message(&e)),
                )
                .await;
            return Err(e.into());
        }
    };
    if finished(&created).is_none() {
        active.push(ObjectReference {
            api_version: Some("batch/v1".into()),
            kind: Some("Job".into()),
            name: Some(name),
            namespace: created.namespace(),
            uid: created.metadata.uid.clone(),
            resource_version: created.metadata.resource_version.clone(),
            ..Default::default()
        });
    }
    status.last_schedule_time = Some(second_precision(scheduled.timestamp()));
    Ok(())
}

/// Keeps `successfulJobsHistoryLimit` Complete and `failedJobsHistoryLimit`
/// Failed Jobs, deleting the oldest (by start time) beyond.
async fn prune_history(
    state: &State,
    cj: &CronJob,
    jobs_api: &Api<Job>,
    children: &[Arc<Job>],
) -> Result<(), Error> {
    let spec = cj.spec.as_ref().expect("checked by the caller");
    for (outcome, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<&Arc<Job>> = children
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .filter(|j| finished(j) == Some(outcome))
            .collect();
        if done.len() <= limit.max(0) as usize {
            continue;
        }
        done.sort_by_key(|j| {
            (
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
                    .is_none(),
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0),
                j.name_any(),
            )
        });
        let excess = done.len() - limit.max(0) as usize;
        for job in &done[..excess] {
            delete_job(state, cj, jobs_api, &job.name_any()).await?;
        }
    }
    Ok(())
}

/// Deletes a Job and (Background propagation) its pods.
async fn delete_job(
    state: &State,
    cj: &CronJob,
    jobs_api: &Api<Job>,
    name: &str,
) -> Result<(), Error> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match jobs_api.delete(name, &params).await {
        Ok(_) => {
            state
                .events
                .publish(
                    &cj.object_ref(&()),
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted job {name}"),
                )
                .await;
            Ok(())
        }
        Err(e) if errors::is_not_found(&e) => Ok(()),
        Err(e) => {
            state
                .events
                .publish(
                    &cj.object_ref(&()),
                    EventType::Warning,
                    "FailedDelete",
                    format!("Deleted job: {}", errors::message(&e)),
                )
                .await;
            Err(e.into())
        }
    }
}

/// The Job for one scheduled time (`getJobFromTemplate2`).
fn job_from_template(cj: &CronJob, name: &str, scheduled: &Zoned) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIMESTAMP.into(),
        scheduled
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
            .replace("+00:00", "Z"),
    );
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: cj.namespace(),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(cj)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// `<cronjob>-<minutes since the epoch>` (`getJobName`).
pub fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second().div_euclid(60))
}

/// "Complete" or "Failed" once the Job has that condition.
fn finished(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some("Complete"),
            "Failed" => Some("Failed"),
            _ => None,
        })
}

// ---------------------------------------------------------------------------
// schedules
// ---------------------------------------------------------------------------

/// A parsed `spec.schedule`.
pub enum Schedule {
    Cron(Box<croner::Cron>),
    /// `@every <duration>`: a fixed delay after the previous time.
    Every(Duration),
}

impl Schedule {
    /// Parses standard cron (five fields) or a descriptor, as
    /// robfig/cron's `ParseStandard`.
    pub fn parse(schedule: &str) -> Result<Self, String> {
        let s = schedule.trim();
        if let Some(d) = s.strip_prefix("@every ") {
            return minik_api::duration::parse_go_duration(d.trim())
                .ok()
                .filter(|d| !d.is_zero())
                .map(Schedule::Every)
                .ok_or_else(|| format!("failed to parse duration {s}"));
        }
        let s = if s.eq_ignore_ascii_case("@midnight") {
            "@daily"
        } else {
            s
        };
        if !s.starts_with('@') && s.split_whitespace().count() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {s}",
                s.split_whitespace().count()
            ));
        }
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(s)
            .map(|c| Schedule::Cron(Box::new(c)))
            .map_err(|e| e.to_string())
    }

    /// The first time strictly after `t`.
    pub fn next(&self, t: &Zoned) -> Option<Zoned> {
        match self {
            Schedule::Cron(c) => c.find_next_occurrence(t, false).ok(),
            Schedule::Every(d) => {
                // Whole seconds, as robfig's ConstantDelaySchedule.
                let start = Timestamp::from_second(t.timestamp().as_second()).ok()?;
                let next = start + SignedDuration::try_from(*d).ok()?;
                Some(next.to_zoned(t.time_zone().clone()))
            }
        }
    }
}

/// What a sync should do about the schedule at `now`.
#[derive(Debug)]
pub struct Plan {
    /// The most recent schedule time not yet acted on, if one has passed.
    pub most_recent: Option<Zoned>,
    /// More than 100 times were missed (`TooManyMissedTimes`).
    pub too_many_missed: bool,
    /// The next schedule time after now: when to come back.
    pub next: Option<Zoned>,
}

#[derive(Debug)]
pub enum PlanError {
    TimeZone(String),
    Schedule(String),
}

/// The scheduling decision at `now`: since `lastScheduleTime` (or the
/// CronJob's creation, or `now - startingDeadlineSeconds` if later), which
/// schedule time is the latest that has passed, and how many were missed.
/// Kubernetes' `mostRecentScheduleTime` and `nextScheduleTime`.
pub fn plan(cj: &CronJob, now: Timestamp) -> Result<Plan, PlanError> {
    let spec = cj.spec.as_ref();
    let tz = match spec.and_then(|s| s.time_zone.as_deref()) {
        Some(name) => TimeZone::get(name)
            .map_err(|e| PlanError::TimeZone(format!("invalid timeZone: {name:?}: {e}")))?,
        None => TimeZone::system(),
    };
    let schedule_text = spec.map(|s| s.schedule.as_str()).unwrap_or_default();
    let schedule = Schedule::parse(schedule_text).map_err(|e| {
        PlanError::Schedule(format!("unparseable schedule: {schedule_text:?} : {e}"))
    })?;
    let created = cj
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(now);
    let mut earliest = cj
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .map(|t| t.0)
        .unwrap_or(created);
    if let Some(deadline) = spec.and_then(|s| s.starting_deadline_seconds) {
        let floor = now - SignedDuration::from_secs(deadline);
        if floor > earliest {
            earliest = floor;
        }
    }
    let now_z = now.to_zoned(tz.clone());
    let (most_recent, missed) = most_recent_time(&schedule, &earliest.to_zoned(tz), &now_z);
    let after = most_recent
        .clone()
        .unwrap_or(now_z.clone())
        .max(now_z.clone());
    let next = schedule.next(&after);
    Ok(Plan {
        most_recent,
        too_many_missed: missed > TOO_MANY_MISSED,
        next,
    })
}

/// The latest schedule time in (`earliest`, `now`] and roughly how many
/// there were. Like Kubernetes, the count is estimated from the gap between
/// the first two times, so a schedule decades behind costs no more than one
/// that is a minute behind.
pub fn most_recent_time(
    schedule: &Schedule,
    earliest: &Zoned,
    now: &Zoned,
) -> (Option<Zoned>, i64) {
    let Some(t1) = schedule.next(earliest) else {
        return (None, 0);
    };
    if t1 > *now {
        return (None, 0);
    }
    let Some(t2) = schedule.next(&t1) else {
        return (Some(t1), 1);
    };
    if t2 > *now {
        return (Some(t1), 1);
    }
    let gap = t2.timestamp().as_second() - t1.timestamp().as_second();
    if gap < 1 {
        return (None, 0);
    }
    let elapsed = now.timestamp().as_second() - t1.timestamp().as_second();
    let missed = elapsed / gap + 1;
    // Start one gap before the estimate and walk forward to the exact last
    // time (schedules such as `30 6-16/4 * * 1-5` are not evenly spaced).
    let back = (missed - 2).max(0) * gap;
    let start = t1.timestamp() + SignedDuration::from_secs(back);
    let mut t = start.to_zoned(t1.time_zone().clone());
    let mut latest = None;
    // Bounded: a walk longer than this means the estimate was far off, and
    // the previous-occurrence search below answers instead.
    for _ in 0..10_000 {
        match schedule.next(&t) {
            Some(n) if n <= *now => {
                latest = Some(n.clone());
                t = n;
            }
            _ => return (latest.or(Some(t1)), missed),
        }
    }
    let exact = match schedule {
        Schedule::Cron(c) => c.find_previous_occurrence(now, true).ok(),
        Schedule::Every(_) => latest,
    };
    (exact.or(Some(t1)), missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::CronJobSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cron_job(
        schedule: &str,
        created: &str,
        last: Option<&str>,
        deadline: Option<i64>,
    ) -> CronJob {
        CronJob {
            metadata: ObjectMeta {
                name: Some("tick".into()),
                creation_timestamp: Some(Time(at(created))),
                ..Default::default()
            },
            spec: Some(CronJobSpec {
                schedule: schedule.into(),
                time_zone: Some("UTC".into()),
                starting_deadline_seconds: deadline,
                ..Default::default()
            }),
            status: Some(CronJobStatus {
                last_schedule_time: last.map(|l| Time(at(l))),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn next_times_follow_standard_cron_and_macros() {
        let utc = |s: &str| at(s).to_zoned(TimeZone::UTC);
        let next = |sched: &str, from: &str| {
            Schedule::parse(sched)
                .unwrap()
                .next(&utc(from))
                .unwrap()
                .timestamp()
        };
        assert_eq!(
            next("* * * * *", "2026-01-01T10:00:30Z"),
            at("2026-01-01T10:01:00Z")
        );
        assert_eq!(
            next("*/15 * * * *", "2026-01-01T10:01:00Z"),
            at("2026-01-01T10:15:00Z")
        );
        assert_eq!(
            next("@hourly", "2026-01-01T10:01:00Z"),
            at("2026-01-01T11:00:00Z")
        );
        assert_eq!(
            next("@daily", "2026-01-01T10:01:00Z"),
            at("2026-01-02T00:00:00Z")
        );
        assert_eq!(
            next("@midnight", "2026-01-01T10:01:00Z"),
            at("2026-01-02T00:00:00Z")
        );
        assert_eq!(
            next("@weekly", "2026-01-01T10:01:00Z"),
            at("2026-01-04T00:00:00Z")
        );
        assert_eq!(
            next("@monthly", "2026-01-01T10:01:00Z"),
            at("2026-02-01T00:00:00Z")
        );
        assert_eq!(
            next("@yearly", "2026-01-01T10:01:00Z"),
            at("2027-01-01T00:00:00Z")
        );
        // 2026-01-05 is a Monday.
        assert_eq!(
            next("0 9 * * 1-5", "2026-01-03T10:00:00Z"),
            at("2026-01-05T09:00:00Z")
        );
        assert_eq!(
            next("0 9 * * MON", "2026-01-03T10:00:00Z"),
            at("2026-01-05T09:00:00Z")
        );
        assert_eq!(
            next("@every 90s", "2026-01-01T10:00:00Z"),
            at("2026-01-01T10:01:30Z")
        );
        assert!(Schedule::parse("* * * *").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("@fortnightly").is_err());
    }

    #[test]
    fn time_zones_shift_the_schedule() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let from = at("2026-01-01T12:00:00Z").to_zoned(zone);
        let next = Schedule::parse("0 9 * * *").unwrap().next(&from).unwrap();
        // 09:00 in New York in winter is 14:00 UTC.
        assert_eq!(next.timestamp(), at("2026-01-01T14:00:00Z"));
    }

    #[test]
    fn plan_starts_the_latest_missed_time_only() {
        let cj = cron_job("* * * * *", "2026-01-01T10:00:10Z", None, None);
        // Before the first minute: nothing, come back at 10:01.
        let p = plan(&cj, at("2026-01-01T10:00:50Z")).unwrap();
        assert!(p.most_recent.is_none());
        assert_eq!(p.next.unwrap().timestamp(), at("2026-01-01T10:01:00Z"));
        // Just after: 10:01 is due.
        let p = plan(&cj, at("2026-01-01T10:01:02Z")).unwrap();
        assert_eq!(
            p.most_recent.unwrap().timestamp(),
            at("2026-01-01T10:01:00Z")
        );
        assert_eq!(p.next.unwrap().timestamp(), at("2026-01-01T10:02:00Z"));
        // Five minutes late: only 10:05 runs, no warning.
        let p = plan(&cj, at("2026-01-01T10:05:30Z")).unwrap();
        assert_eq!(
            p.most_recent.unwrap().timestamp(),
            at("2026-01-01T10:05:00Z")
        );
        assert!(!p.too_many_missed);
        // Already scheduled 10:05: nothing more until 10:06.
        let cj = cron_job(
            "* * * * *",
            "2026-01-01T10:00:10Z",
            Some("2026-01-01T10:05:00Z"),
            None,
        );
        assert!(plan(&cj, at("2026-01-01T10:05:40Z"))
            .unwrap()
            .most_recent
            .is_none());
    }

    #[test]
    fn too_many_missed_start_times_and_the_starting_deadline() {
        let cj = cron_job("* * * * *", "2026-01-01T10:00:00Z", None, None);
        let p = plan(&cj, at("2026-01-01T12:00:30Z")).unwrap();
        assert!(p.too_many_missed, "120 missed minutes");
        assert_eq!(
            p.most_recent.unwrap().timestamp(),
            at("2026-01-01T12:00:00Z")
        );
        // A starting deadline bounds how far back the controller looks.
        let cj = cron_job("* * * * *", "2026-01-01T10:00:00Z", None, Some(200));
        let p = plan(&cj, at("2026-01-01T12:00:30Z")).unwrap();
        assert!(!p.too_many_missed);
        assert_eq!(
            p.most_recent.unwrap().timestamp(),
            at("2026-01-01T12:00:00Z")
        );
        // Uneven schedules still find the exact last time.
        let cj = cron_job("30 6-16/4 * * 1-5", "2026-01-05T00:00:00Z", None, None);
        let p = plan(&cj, at("2026-01-07T15:00:00Z")).unwrap();
        assert_eq!(
            p.most_recent.unwrap().timestamp(),
            at("2026-01-07T14:30:00Z")
        );
    }

    #[test]
    fn job_names_count_minutes_since_the_epoch() {
        assert_eq!(
            job_name("tick", at("2026-01-01T10:01:00Z")),
            "tick-29454361"
        );
    }
}
