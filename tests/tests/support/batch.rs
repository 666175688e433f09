//! Helpers for the Job and CronJob tests: a whole small cluster in-process —
//! API server, the Job, CronJob, TTL-after-finished and garbage-collector
//! controllers (with a short pod-failure backoff), the scheduler, and two
//! simulated kubelets whose containers run commands such as `exit 3`
//! (`kubelet/src/runtime/sim.rs`) — plus builders and waits for Jobs.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::ResourceExt;
use serde_json::{json, Value};

use super::lifecycle::{wait_for, Running};
use super::TestCluster;

/// How long any single wait in the batch tests may take.
pub const WAIT: Duration = Duration::from_secs(30);
/// The pod-failure backoff the test controllers start from. Counted, as in
/// Kubernetes, from the failed container's `finishedAt`, which has second
/// precision: a replacement may come up to 1 s early, so this is well
/// above 1 s for the doubling to show.
pub const BACKOFF: Duration = Duration::from_millis(1500);
/// How much earlier than the backoff a replacement may come (see [`BACKOFF`]).
pub const FINISHED_AT_PRECISION: Duration = Duration::from_secs(1);

/// An API server with the batch controllers, a scheduler and sim kubelets.
pub struct BatchCluster {
    pub cluster: TestCluster,
    pub client: kube::Client,
    _controllers: Running,
    _scheduler: super::scheduler::RunningScheduler,
    _kubelet: minik_kubelet::Running,
}

impl BatchCluster {
    pub async fn start() -> Self {
        let cluster = TestCluster::start().await;
        let client = cluster.client.clone();
        let settings = minik_controller::Settings {
            job_pod_failure_backoff: BACKOFF,
            ..Default::default()
        };
        let ctx = Arc::new(minik_controller::Context::new(client.clone(), settings));
        let builds = [
            minik_controller::job::build,
            minik_controller::cron_job::build,
            minik_controller::ttl_after_finished::build,
            minik_controller::garbage_collector::build,
        ];
        let controllers = Running::spawn(async move {
            minik_controller::run_only(ctx, &builds)
                .await
                .expect("controllers run");
        });
        let scheduler = super::scheduler::start_scheduler(&client);
        let mut config = minik_kubelet::Config::new("sim");
        config.runtime = minik_kubelet::RuntimeKind::Sim;
        config.nodes = 2;
        config.root_dir = cluster.dir.path().join("kubelet");
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.sim_delay = Duration::from_millis(100);
        config.lease_renew_interval = Duration::from_secs(1);
        config.backoff_base = Duration::from_millis(200);
        config.backoff_max = Duration::from_secs(1);
        config.resync_period = Duration::from_millis(500);
        let kubelet = minik_kubelet::start(config, client.clone())
            .await
            .expect("sim kubelets start");
        Self {
            cluster,
            client,
            _controllers: controllers,
            _scheduler: scheduler,
            _kubelet: kubelet,
        }
    }

    pub fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a Job: `spec` is merged over a one-container busybox Job
    /// whose container runs `command` with restartPolicy Never.
    pub async fn create_job(&self, name: &str, command: &str, spec: Value) -> Job {
        let job = job_manifest(name, command, spec);
        self.jobs()
            .create(&PostParams::default(), &job)
            .await
            .expect("job created")
    }

    /// The Job's pods (by its `batch.kubernetes.io/job-name` label).
    pub async fn job_pods(&self, name: &str) -> Vec<Pod> {
        self.pods()
            .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
            .await
            .unwrap()
            .items
    }

    /// Waits until the Job has condition `type_` True; returns the Job.
    pub async fn wait_condition(&self, name: &str, type_: &str) -> Job {
        let jobs = self.jobs();
        wait_for(&format!("job {name} condition {type_}"), WAIT, || async {
            let job = jobs.get(name).await.ok()?;
            condition(&job, type_).filter(|c| c.1 == "True")?;
            Some(job)
        })
        .await
    }
}

/// A Job manifest (see [`BatchCluster::create_job`]).
pub fn job_manifest(name: &str, command: &str, spec: Value) -> Job {
    let mut base = json!({
        "template": {"spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox:1.36",
                            "command": ["sh", "-c", command]}],
        }},
    });
    merge(&mut base, spec);
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": base,
    }))
    .unwrap()
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// (type, status, reason, message) of the Job's condition `type_`.
pub fn condition(job: &Job, type_: &str) -> Option<(String, String, String, String)> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// The types of the Job's True conditions, in order.
pub fn true_conditions(job: &Job) -> Vec<String> {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.status == "True")
        .map(|c| c.type_.clone())
        .collect()
}

pub fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.finalizers()
        .iter()
        .any(|f| f == "batch.kubernetes.io/job-tracking")
}

pub fn phase(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

/// Waits until an Event with `reason` about `name` has been recorded
/// (controllers record it just after the status write the test saw);
/// returns all Events about `name` as (reason, note).
pub async fn wait_event(client: &kube::Client, name: &str, reason: &str) -> Vec<(String, String)> {
    wait_for(&format!("a {reason} event about {name}"), WAIT, || async {
        let events = super::lifecycle::events_about(client, "default", name).await;
        events.iter().any(|e| e.0 == reason).then_some(events)
    })
    .await
}
