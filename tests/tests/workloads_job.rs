//! The Job controller (with the TTL-after-finished controller and the
//! garbage collector) against an in-process API server, the scheduler and
//! simulated kubelets whose containers exit as their command says
//! (`exit 3`, `sleep 3600` runs until stopped). Each test runs a few Jobs
//! side by side and asserts on their status, pods, finalizers and Events —
//! and, in one, on what the real `kubectl` prints and waits for.

use crate::support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use support::batch::*;
use support::lifecycle::wait_for;

/// Pods that are neither finished nor being deleted.
fn active(pods: &[Pod]) -> usize {
    pods.iter()
        .filter(|p| !matches!(phase(p).as_str(), "Succeeded" | "Failed"))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_parallelism_indexed_and_kubectl() {
    let c = BatchCluster::start().await;
    c.create_job(
        "batch",
        "echo working; exit 0",
        json!({"completions": 5, "parallelism": 2}),
    )
    .await;
    c.create_job(
        "idx",
        "exit 0",
        json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
    )
    .await;
    // A sidecar that never exits by itself does not keep its Job running.
    c.create_job(
        "shipped",
        "exit 0",
        json!({"template": {"spec": {"initContainers": [{"name": "shipper", "image": "busybox:1.36",
            "restartPolicy": "Always", "command": ["sleep", "3600"]}]}}}),
    )
    .await;

    // Never more than `parallelism` pods at once.
    let mut most = 0;
    let start = Instant::now();
    loop {
        let pods = c.job_pods("batch").await;
        most = most.max(active(&pods));
        let job = c.jobs().get("batch").await.unwrap();
        if condition(&job, "Complete").is_some() {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "batch did not complete: {:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(most <= 2, "{most} pods were active at once");
    assert!(most >= 1);

    let job = c.wait_condition("batch", "Complete").await;
    let status = job.status.clone().unwrap();
    assert_eq!(status.succeeded, Some(5));
    assert_eq!(status.failed, None);
    assert_eq!(status.active, None);
    assert_eq!(status.ready, Some(0));
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    assert_eq!(true_conditions(&job), ["SuccessCriteriaMet", "Complete"]);
    let (_, _, reason, message) = condition(&job, "Complete").unwrap();
    assert_eq!(reason, "CompletionsReached");
    assert_eq!(message, "Reached expected number of succeeded pods");
    let pods = c.job_pods("batch").await;
    assert_eq!(pods.len(), 5);
    for p in &pods {
        assert_eq!(phase(p), "Succeeded");
        assert!(
            !has_tracking_finalizer(p),
            "{} kept its finalizer",
            p.name_any()
        );
        assert!(p.name_any().starts_with("batch-"));
        let owner = &p.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
        for label in [
            "batch.kubernetes.io/controller-uid",
            "batch.kubernetes.io/job-name",
            "controller-uid",
            "job-name",
        ] {
            assert!(
                p.labels().contains_key(label),
                "{label} on {}",
                p.name_any()
            );
        }
    }
    let events = wait_event(&c.client, "batch", "Completed").await;
    let created = events.iter().filter(|e| e.0 == "SuccessfulCreate").count();
    assert_eq!(created, 5, "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e.0 == "Completed" && e.1 == "Job completed"),
        "{events:?}"
    );

    // Indexed: each index once, with its env, annotation, label and hostname.
    let job = c.wait_condition("idx", "Complete").await;
    assert_eq!(
        job.status.as_ref().unwrap().completed_indexes.as_deref(),
        Some("0-2")
    );
    let mut pods = c.job_pods("idx").await;
    pods.sort_by_key(|p| p.annotations()["batch.kubernetes.io/job-completion-index"].clone());
    assert_eq!(pods.len(), 3);
    for (i, p) in pods.iter().enumerate() {
        let ix = i.to_string();
        assert_eq!(
            p.annotations()["batch.kubernetes.io/job-completion-index"],
            ix
        );
        assert_eq!(p.labels()["batch.kubernetes.io/job-completion-index"], ix);
        assert!(
            p.name_any().starts_with(&format!("idx-{i}-")),
            "{}",
            p.name_any()
        );
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{i}").as_str()));
        let env = spec.containers[0].env.clone().unwrap();
        let var = env
            .iter()
            .find(|e| e.name == "JOB_COMPLETION_INDEX")
            .unwrap();
        assert_eq!(
            var.value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        );
    }

    // The real kubectl: wait, and the table's columns.
    let out = c.cluster.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/batch",
        "--timeout=20s",
    ]);
    assert!(out.contains("job.batch/batch condition met"), "{out}");
    let table = c.cluster.kubectl_ok(&["get", "jobs"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("batch "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["batch", "Complete", "5/5"], "{table}");
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("idx "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["idx", "Complete", "3/3"], "{table}");

    let job = c.wait_condition("shipped", "Complete").await;
    assert_eq!(job.status.unwrap().succeeded, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_and_stop_at_the_backoff_limit() {
    let c = BatchCluster::start().await;
    c.create_job("fail", "exit 3", json!({"backoffLimit": 2}))
        .await;
    c.create_job(
        "onfailure",
        "exit 1",
        json!({"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure"}}}),
    )
    .await;
    c.create_job(
        "perindex",
        "exit 1",
        json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
               "backoffLimitPerIndex": 1}),
    )
    .await;

    // When each pod of `fail` first appears: replacements wait for the backoff.
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    loop {
        for p in c.job_pods("fail").await {
            seen.entry(p.name_any()).or_insert_with(Instant::now);
        }
        let job = c.jobs().get("fail").await.unwrap();
        if condition(&job, "Failed").is_some() {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "fail did not fail: {:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let job = c.wait_condition("fail", "Failed").await;
    let status = job.status.clone().unwrap();
    assert_eq!(
        status.failed,
        Some(3),
        "backoffLimit 2: the third failure ends it"
    );
    assert_eq!(true_conditions(&job), ["FailureTarget", "Failed"]);
    let (_, _, reason, message) = condition(&job, "Failed").unwrap();
    assert_eq!(reason, "BackoffLimitExceeded");
    assert_eq!(message, "Job has reached the specified backoff limit");
    assert_eq!(
        condition(&job, "FailureTarget").unwrap().2,
        "BackoffLimitExceeded"
    );
    let mut firsts: Vec<Instant> = seen.values().copied().collect();
    firsts.sort();
    assert_eq!(firsts.len(), 3, "{seen:?}");
    let (gap1, gap2) = (firsts[1] - firsts[0], firsts[2] - firsts[1]);
    // A pod runs ~200 ms (start + exit) in the sim; then one, then two
    // backoffs, counted from a second-precision finishedAt.
    assert!(
        gap1 >= BACKOFF - FINISHED_AT_PRECISION,
        "first replacement after {gap1:?}"
    );
    assert!(
        gap2 >= BACKOFF * 2 - FINISHED_AT_PRECISION,
        "second replacement after {gap2:?}"
    );
    assert!(gap2 > gap1, "the backoff doubles: {gap1:?} then {gap2:?}");
    let pods = c.job_pods("fail").await;
    assert!(pods
        .iter()
        .all(|p| phase(p) == "Failed" && !has_tracking_finalizer(p)));
    let events = wait_event(&c.client, "fail", "BackoffLimitExceeded").await;
    assert!(
        events.iter().any(|e| e.0 == "BackoffLimitExceeded"
            && e.1 == "Job has reached the specified backoff limit"),
        "{events:?}"
    );

    // OnFailure: one pod restarts in place until its restarts reach the limit.
    let job = c.wait_condition("onfailure", "Failed").await;
    assert_eq!(condition(&job, "Failed").unwrap().2, "BackoffLimitExceeded");
    let events = wait_event(&c.client, "onfailure", "BackoffLimitExceeded").await;
    let created = events.iter().filter(|e| e.0 == "SuccessfulCreate").count();
    assert_eq!(
        created, 1,
        "OnFailure restarts the container, not the pod: {events:?}"
    );
    wait_for("onfailure's pod finished and released", WAIT, || async {
        let pods = c.job_pods("onfailure").await;
        pods.iter()
            .all(|p| !has_tracking_finalizer(p))
            .then_some(())
    })
    .await;

    // backoffLimitPerIndex: every index fails twice, then the Job fails.
    let job = c.wait_condition("perindex", "Failed").await;
    let status = job.status.clone().unwrap();
    assert_eq!(status.failed_indexes.as_deref(), Some("0-2"));
    assert_eq!(status.failed, Some(6));
    assert_eq!(condition(&job, "Failed").unwrap().2, "FailedIndexes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_fails_on_an_exit_code_and_ignores_disruptions() {
    let c = BatchCluster::start().await;
    let policy = json!({"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]});
    c.create_job(
        "answer",
        "exit 42",
        json!({"backoffLimit": 6, "podFailurePolicy": policy}),
    )
    .await;
    c.create_job(
        "evicted",
        "sleep 3600",
        json!({"backoffLimit": 0, "podFailurePolicy": policy}),
    )
    .await;

    let job = c.wait_condition("answer", "Failed").await;
    let (_, _, reason, message) = condition(&job, "Failed").unwrap();
    assert_eq!(reason, "PodFailurePolicy");
    let pod = c.job_pods("answer").await.remove(0);
    assert_eq!(
        message,
        format!(
            "Container main for pod default/{} failed with exit code 42 matching FailJob rule at index 0",
            pod.name_any()
        )
    );
    assert_eq!(job.status.unwrap().failed, Some(1));
    assert_eq!(
        c.job_pods("answer").await.len(),
        1,
        "no retry after FailJob"
    );

    // Disrupt the running pod as an eviction does: the condition, then a
    // delete. (The kubelet writes its conditions with a merge patch, so the
    // condition is set once the pod's status has settled, and checked.)
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    };
    let first = wait_for("evicted's pod running and ready", WAIT, || async {
        c.job_pods("evicted")
            .await
            .into_iter()
            .find(|p| phase(p) == "Running" && ready(p))
    })
    .await;
    let pods = c.pods();
    let disrupted = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "DisruptionTarget")
    };
    wait_for("the DisruptionTarget condition set", WAIT, || async {
        let p = pods.get(&first.name_any()).await.unwrap();
        if disrupted(&p) {
            return Some(());
        }
        pods.patch_status(
            &first.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": {"conditions": [{
                "type": "DisruptionTarget", "status": "True",
                "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
                "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string(),
            }]}})),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        None
    })
    .await;
    pods.delete(&first.name_any(), &DeleteParams::default())
        .await
        .unwrap();
    // A replacement runs and the Job, with backoffLimit 0, has not failed.
    let replacement = wait_for("a replacement pod", WAIT, || async {
        c.job_pods("evicted")
            .await
            .into_iter()
            .find(|p| p.name_any() != first.name_any() && phase(p) == "Running")
    })
    .await;
    assert_ne!(replacement.name_any(), first.name_any());
    wait_for("the disrupted pod released", WAIT, || async {
        let gone_or_released = match pods.get_opt(&first.name_any()).await.unwrap() {
            None => true,
            Some(p) => !has_tracking_finalizer(&p),
        };
        gone_or_released.then_some(())
    })
    .await;
    let job = c.jobs().get("evicted").await.unwrap();
    assert_eq!(condition(&job, "Failed"), None, "{:?}", job.status);
    assert_eq!(
        job.status.unwrap().failed,
        None,
        "an ignored failure is not counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_and_suspend_resume() {
    let c = BatchCluster::start().await;
    c.create_job(
        "deadline",
        "sleep 3600",
        json!({"activeDeadlineSeconds": 2, "completions": 2, "parallelism": 2}),
    )
    .await;
    c.create_job(
        "pausable",
        "sleep 3600",
        json!({"suspend": true, "completions": 2, "parallelism": 2}),
    )
    .await;

    let job = c.wait_condition("deadline", "Failed").await;
    let (_, _, reason, message) = condition(&job, "Failed").unwrap();
    assert_eq!(reason, "DeadlineExceeded");
    assert_eq!(message, "Job was active longer than specified deadline");
    let status = job.status.unwrap();
    assert_eq!(status.active, None);
    assert_eq!(
        status.failed,
        Some(2),
        "the deleted active pods count as failed"
    );
    // Deleted, released, then removed by their kubelet.
    wait_for("deadline's pods stopped and released", WAIT, || async {
        let pods = c.job_pods("deadline").await;
        pods.iter()
            .all(|p| !has_tracking_finalizer(p) && active(std::slice::from_ref(p)) == 0)
            .then_some(())
    })
    .await;
    let events = wait_event(&c.client, "deadline", "DeadlineExceeded").await;
    assert!(
        events.iter().any(|e| e.0 == "DeadlineExceeded"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.0 == "SuccessfulDelete"),
        "{events:?}"
    );

    // Created suspended: no pods, no start time.
    let job = c.wait_condition("pausable", "Suspended").await;
    assert_eq!(condition(&job, "Suspended").unwrap().2, "JobSuspended");
    assert!(job.status.as_ref().unwrap().start_time.is_none());
    assert!(c.job_pods("pausable").await.is_empty());

    // Resumed: pods run, the clock starts.
    let jobs = c.jobs();
    let suspend = |on: bool| json!({"spec": {"suspend": on}});
    jobs.patch(
        "pausable",
        &PatchParams::default(),
        &Patch::Merge(suspend(false)),
    )
    .await
    .unwrap();
    let job = wait_for("pausable resumed and running", WAIT, || async {
        let job = jobs.get("pausable").await.ok()?;
        let running = c
            .job_pods("pausable")
            .await
            .iter()
            .filter(|p| phase(p) == "Running")
            .count();
        (condition(&job, "Suspended")?.1 == "False" && running == 2).then_some(job)
    })
    .await;
    assert_eq!(condition(&job, "Suspended").unwrap().2, "JobResumed");
    assert!(job.status.as_ref().unwrap().start_time.is_some());

    // Suspended again: the pods go, and that is not a failure.
    jobs.patch(
        "pausable",
        &PatchParams::default(),
        &Patch::Merge(suspend(true)),
    )
    .await
    .unwrap();
    wait_for("pausable suspended with its pods gone", WAIT, || async {
        let job = jobs.get("pausable").await.ok()?;
        let pods = c.job_pods("pausable").await;
        (condition(&job, "Suspended")?.1 == "True"
            && active(&pods) == 0
            && pods.iter().all(|p| !has_tracking_finalizer(p)))
        .then_some(())
    })
    .await;
    let job = jobs.get("pausable").await.unwrap();
    assert_eq!(
        job.status.as_ref().unwrap().failed,
        None,
        "{:?}",
        job.status
    );
    let events = wait_event(&c.client, "pausable", "Suspended").await;
    for reason in ["Suspended", "Resumed"] {
        assert!(events.iter().any(|e| e.0 == reason), "{reason}: {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_after_finished_deletes_the_job_and_its_pods() {
    let c = BatchCluster::start().await;
    // "short" is deleted a second after it completes, so polling for its
    // Complete condition can miss it under load; a watch that has listed
    // before its creation sees every state it passes through.
    let config = watcher::Config::default().fields("metadata.name=short");
    let mut events = Box::pin(watcher(c.jobs(), config));
    tokio::time::timeout(WAIT, async {
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::InitDone) = event {
                break;
            }
        }
    })
    .await
    .expect("the watch of short never listed");
    let short_completed = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) = event {
                if condition(&job, "Complete").is_some_and(|c| c.1 == "True") {
                    return;
                }
            }
        }
    });
    c.create_job(
        "short",
        "exit 0",
        json!({"ttlSecondsAfterFinished": 1, "completions": 2, "parallelism": 2}),
    )
    .await;
    c.create_job("kept", "exit 0", json!({})).await;
    tokio::time::timeout(WAIT, short_completed)
        .await
        .expect("job short never seen Complete")
        .unwrap();
    c.wait_condition("kept", "Complete").await;
    wait_for("short and its pods deleted", WAIT, || async {
        let job = c.jobs().get_opt("short").await.unwrap();
        let pods = c.job_pods("short").await;
        (job.is_none() && pods.is_empty()).then_some(())
    })
    .await;
    assert!(
        c.jobs().get_opt("kept").await.unwrap().is_some(),
        "no TTL, kept"
    );
    assert_eq!(c.job_pods("kept").await.len(), 1);

    // A Job deleted while it runs: its pods lose the tracking finalizer
    // (nothing will count them now) and the garbage collector removes them.
    c.create_job(
        "doomed",
        "sleep 3600",
        json!({"parallelism": 2, "completions": 2}),
    )
    .await;
    wait_for("doomed running", WAIT, || async {
        let pods = c.job_pods("doomed").await;
        (pods.iter().filter(|p| phase(p) == "Running").count() == 2).then_some(())
    })
    .await;
    // Foreground: the Job waits for its pods, which must not wait for it.
    c.cluster.kubectl_ok(&[
        "delete",
        "job",
        "doomed",
        "--cascade=foreground",
        "--timeout=20s",
    ]);
    wait_for("doomed and its pods gone", WAIT, || async {
        let job = c.jobs().get_opt("doomed").await.unwrap();
        (job.is_none() && c.job_pods("doomed").await.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_examples_are_valid() {
    let cluster = support::TestCluster::start().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/batch")
        .display()
        .to_string();
    let out = cluster.kubectl_ok(&["apply", "--dry-run=server", "-f", &dir]);
    for created in [
        "job.batch/pi",
        "job.batch/shards",
        "job.batch/flaky",
        "cronjob.batch/hello",
    ] {
        assert!(out.contains(created), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_minik_does_not_run_are_said_or_left_to_their_owner() {
    let c = BatchCluster::start().await;
    // managedBy another controller: the built-in one leaves the Job alone.
    c.create_job(
        "elsewhere",
        "exit 0",
        json!({"managedBy": "example.com/another-controller"}),
    )
    .await;
    // successPolicy is not implemented: a Warning Event says so, and the
    // Job still completes by its completions.
    c.create_job(
        "policy",
        "exit 0",
        json!({"completions": 2, "completionMode": "Indexed",
               "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
    )
    .await;
    let events = wait_event(&c.client, "policy", "SuccessPolicyNotSupported").await;
    assert!(
        events
            .iter()
            .any(|(_, note)| note.contains("spec.successPolicy")),
        "{events:?}"
    );
    c.wait_condition("policy", "Complete").await;
    assert!(
        c.job_pods("elsewhere").await.is_empty(),
        "a Job managed by another controller gets no pods from minik"
    );
    let status = c.jobs().get("elsewhere").await.unwrap().status;
    assert!(
        status.as_ref().is_none_or(|s| s.start_time.is_none()),
        "{status:?}"
    );
}
