//! The CronJob controller end to end, with the Job controller, the garbage
//! collector, the scheduler and simulated kubelets, driven by the real
//! `kubectl`. Schedules have a one-minute grain, so this test waits for one
//! real minute boundary (at most ~60 s): each CronJob's `lastScheduleTime`
//! is first set two minutes back, which makes the current minute a missed
//! start time the controller acts on at once, and the next boundary brings
//! the second round (Forbid skips it, Replace swaps the Job, Allow runs it).
//! The scheduling arithmetic itself (next times, missed times, deadlines,
//! time zones) is unit-tested with a fixed clock in `controller/src/cron_job.rs`.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use support::batch::*;
use support::lifecycle::{events_about, wait_for};

/// Longer than one minute boundary away.
const MINUTE: Duration = Duration::from_secs(75);

const CRONJOBS: &str = r#"
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "* * * * *"
  timeZone: Etc/UTC
  successfulJobsHistoryLimit: 1
  jobTemplate:
    metadata:
      labels: {app: tick}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: busybox:1.36, command: [sh, -c, "date; exit 0"]}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: forbid
spec:
  schedule: "*/1 * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - {name: main, image: busybox:1.36, command: [sleep, "3600"]}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: replace
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Replace
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - {name: main, image: busybox:1.36, command: [sleep, "3600"]}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: paused
spec:
  schedule: "* * * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: busybox:1.36, command: [sh, -c, "exit 0"]}
"#;

/// The Jobs a CronJob controls, by name.
async fn jobs_of(jobs: &Api<Job>, cron_job: &str) -> Vec<Job> {
    let mut owned: Vec<Job> = jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|o| o.kind == "CronJob" && o.name == cron_job && o.controller == Some(true))
        })
        .collect();
    owned.sort_by_key(|j| j.name_any());
    owned
}

fn active_names(cj: &CronJob) -> Vec<String> {
    cj.status
        .as_ref()
        .and_then(|s| s.active.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_jobs_run_on_schedule_with_concurrency_policies_and_history_limits() {
    let c = BatchCluster::start().await;
    let cron_jobs: Api<CronJob> = Api::namespaced(c.client.clone(), "default");
    let jobs = c.jobs();
    c.cluster
        .kubectl_ok(&["apply", "-f", &c.cluster.file("cron.yaml", CRONJOBS)]);

    // Two minutes ago, as far as the controller knows: this minute is due.
    let past = (k8s_openapi::jiff::Timestamp::now()
        - k8s_openapi::jiff::SignedDuration::from_mins(2))
    .to_string();
    for name in ["tick", "forbid", "replace"] {
        cron_jobs
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"lastScheduleTime": past}})),
            )
            .await
            .unwrap();
    }
    let first: Vec<String> = {
        let mut names = Vec::new();
        for name in ["forbid", "replace"] {
            let cj = wait_for(
                &format!("{name}'s first Job"),
                Duration::from_secs(20),
                || async {
                    let cj = cron_jobs.get(name).await.ok()?;
                    (active_names(&cj).len() == 1).then_some(cj)
                },
            )
            .await;
            names.push(active_names(&cj)[0].clone());
        }
        names
    };
    // `<cronjob>-<minutes since the epoch>` of the scheduled time.
    let forbid_job = jobs.get(&first[0]).await.unwrap();
    let scheduled =
        forbid_job.annotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"].clone();
    let at: k8s_openapi::jiff::Timestamp = scheduled.parse().unwrap();
    assert_eq!(at.as_second() % 60, 0, "{scheduled}");
    assert_eq!(first[0], format!("forbid-{}", at.as_second() / 60));
    let cj = cron_jobs.get("forbid").await.unwrap();
    let last = cj
        .status
        .as_ref()
        .unwrap()
        .last_schedule_time
        .clone()
        .unwrap();
    assert_eq!(last.0, at);
    let owner = &forbid_job.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );

    // tick's Job of this minute completes; lastSuccessfulTime follows.
    wait_for(
        "tick's first Job completed",
        Duration::from_secs(20),
        || async {
            let cj = cron_jobs.get("tick").await.ok()?;
            cj.status.as_ref()?.last_successful_time.as_ref()?;
            Some(())
        },
    )
    .await;
    let tick_jobs = jobs_of(&jobs, "tick").await;
    assert_eq!(tick_jobs.len(), 1);
    assert_eq!(
        tick_jobs[0].labels()["app"],
        "tick",
        "the template's labels"
    );

    // kubectl's manual run of a CronJob: a Job it owns, run like any other.
    // (A second later than tick's Job, so the history limit, which keeps the
    // latest started and breaks second-precision ties by name, keeps it.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.cluster
        .kubectl_ok(&["create", "job", "manual", "--from=cronjob/tick"]);
    c.wait_condition("manual", "Complete").await;

    // A suspended CronJob starts nothing.
    assert!(jobs_of(&jobs, "paused").await.is_empty());

    // The table, as kubectl prints it.
    let table = c.cluster.kubectl_ok(&["get", "cronjobs"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"],
        "{table}"
    );
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("forbid")[1..5], ["*/1", "*", "*", "*"], "{table}");
    assert_eq!(row("forbid")[6..9], ["<none>", "False", "1"], "{table}");
    assert_eq!(
        row("paused")[6..10],
        ["<none>", "True", "0", "<none>"],
        "{table}"
    );
    assert_eq!(row("tick")[6], "Etc/UTC", "{table}");

    // The next minute: Replace swaps its Job, Forbid keeps its own, and
    // tick runs again and keeps one finished Job of history.
    let replaced = wait_for("replace's next Job", MINUTE, || async {
        let cj = cron_jobs.get("replace").await.ok()?;
        let active = active_names(&cj);
        (active.len() == 1 && active[0] != first[1]).then_some(active[0].clone())
    })
    .await;
    wait_for(
        "replace's first Job deleted",
        Duration::from_secs(20),
        || async {
            jobs.get_opt(&first[1])
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert!(jobs.get_opt(&replaced).await.unwrap().is_some());
    let events = wait_for(
        "Forbid skipping the next run",
        Duration::from_secs(20),
        || async {
            let events = events_about(&c.client, "default", "forbid").await;
            events
                .iter()
                .any(|e| e.0 == "JobAlreadyActive")
                .then_some(events)
        },
    )
    .await;
    assert!(events.iter().any(|e| e.0 == "JobAlreadyActive"
        && e.1 == "Not starting job because prior execution is running and concurrency policy is Forbid"));
    let forbid_jobs = jobs_of(&jobs, "forbid").await;
    assert_eq!(forbid_jobs.len(), 1, "Forbid started nothing new");
    assert_eq!(forbid_jobs[0].name_any(), first[0]);
    let events = wait_event(&c.client, "replace", "SuccessfulDelete").await;
    assert!(
        events
            .iter()
            .any(|e| e.0 == "SuccessfulDelete" && e.1 == format!("Deleted job {}", first[1])),
        "{events:?}"
    );

    // History: tick's two scheduled Jobs and the manual one finished; only
    // the newest is kept (successfulJobsHistoryLimit: 1).
    wait_for(
        "tick's history pruned to one Job",
        Duration::from_secs(20),
        || async {
            let cj = cron_jobs.get("tick").await.ok()?;
            let owned = jobs_of(&jobs, "tick").await;
            let live: Vec<&Job> = owned
                .iter()
                .filter(|j| j.metadata.deletion_timestamp.is_none())
                .collect();
            (cj.status.as_ref()?.last_schedule_time.as_ref()?.0 > at && live.len() == 1)
                .then_some(())
        },
    )
    .await;
    wait_event(&c.client, "tick", "SawCompletedJob").await;
    wait_for(
        "two history deletions recorded",
        Duration::from_secs(20),
        || async {
            let events = events_about(&c.client, "default", "tick").await;
            (events.iter().filter(|e| e.0 == "SuccessfulDelete").count() >= 2).then_some(())
        },
    )
    .await;
}
