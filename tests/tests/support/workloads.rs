//! Helpers for the workloads tests (ReplicaSet and Deployment controllers):
//! run the two controllers in-process, stand in for the scheduler and the
//! kubelet by marking pods Running and Ready, wait for conditions, and read
//! the Events the controllers recorded.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;

/// Background tasks aborted when dropped (also when a test fails).
pub struct Tasks(pub Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The ReplicaSet and Deployment controllers, running against `client`.
pub fn start_controllers(client: &kube::Client) -> Tasks {
    let ctx = Arc::new(minik_controller::Context::new(
        client.clone(),
        minik_controller::Settings::default(),
    ));
    let rs = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            minik_controller::replicaset::run(ctx).await.unwrap();
        }
    });
    let deploy = tokio::spawn(async move {
        minik_controller::deployment::run(ctx).await.unwrap();
    });
    Tasks(vec![rs, deploy])
}

/// Which pods the fake kubelet makes Ready, and after how long.
#[derive(Clone)]
pub struct Readiness {
    pub delay: Duration,
    pub only_if: Arc<dyn Fn(&Pod) -> bool + Send + Sync>,
}

impl Readiness {
    pub fn all(delay: Duration) -> Self {
        Self {
            delay,
            only_if: Arc::new(|_| true),
        }
    }

    /// Only pods whose first container runs an image other than `image`.
    pub fn except_image(delay: Duration, image: &'static str) -> Self {
        Self {
            delay,
            only_if: Arc::new(move |p| first_image(p) != image),
        }
    }
}

pub fn first_image(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// Stands in for scheduler + kubelet: every new pod in `ns` that `readiness`
/// accepts becomes Running with Ready=True `readiness.delay` after it appears.
pub fn fake_kubelet(client: &kube::Client, ns: &str, readiness: Readiness) -> Tasks {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let task = tokio::spawn(async move {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        while let Some(ev) = events.next().await {
            let pod = match ev {
                Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some()
                || !(readiness.only_if)(&pod)
                || !seen.lock().unwrap().insert(uid)
            {
                continue;
            }
            let api = api.clone();
            let delay = readiness.delay;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = make_ready(&api, &pod.name_any(), None).await;
            });
        }
    });
    Tasks(vec![task])
}

/// Marks a pod Running and Ready=True since `ready_since` (default now).
pub async fn make_ready(
    api: &Api<Pod>,
    name: &str,
    ready_since: Option<&str>,
) -> kube::Result<Pod> {
    set_pod_state(api, name, true, ready_since).await
}

/// Marks a pod Running, Ready or not, the condition changed at `since`
/// (default now).
pub async fn set_pod_state(
    api: &Api<Pod>,
    name: &str,
    ready: bool,
    since: Option<&str>,
) -> kube::Result<Pod> {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let since = since.map(str::to_string).unwrap_or(now);
    let status = if ready { "True" } else { "False" };
    let patch = json!({"status": {
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": since},
            {"type": "Ready", "status": status, "lastTransitionTime": since},
            {"type": "ContainersReady", "status": status, "lastTransitionTime": since},
        ],
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// Polls `check` every 50 ms until it yields `Some`, failing the test with
/// `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (reason, note) of every Event about the object named `name`, oldest first.
pub async fn events_about(client: &kube::Client, ns: &str, name: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut events: Vec<Event> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect();
    events.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
    events
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

/// Names of the pods in `ns` with label `key=value`.
pub async fn pod_names(client: &kube::Client, ns: &str, selector: &str) -> Vec<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut names: Vec<String> = api
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.name_any())
        .collect();
    names.sort();
    names
}
