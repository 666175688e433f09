//! Helpers for the workloads tests (ReplicaSet and Deployment controllers):
//! run the two controllers in-process, stand in for the scheduler and the
//! kubelet by marking pods Running and Ready, wait for conditions, and read
//! the Events the controllers recorded.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;

/// Background tasks aborted when dropped (also when a test fails).
pub struct Tasks(pub Vec<tokio::task::JoinHandle<()>>);

impl From<Vec<tokio::task::JoinHandle<()>>> for Tasks {
    fn from(tasks: Vec<tokio::task::JoinHandle<()>>) -> Self {
        Self(tasks)
    }
}

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
    let builds = [
        minik_controller::replicaset::build,
        minik_controller::deployment::build,
    ];
    Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &builds).await.unwrap();
    })])
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

#[allow(unused_imports)] // not every test binary waits
pub use minik_tests::wait_for;

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

/// Every controller of `minik-controller` (garbage collector included),
/// running against `client`.
pub fn start_all_controllers(client: &kube::Client) -> Tasks {
    start_all_controllers_with(client, Default::default())
}

/// [`start_all_controllers`] with these settings.
pub fn start_all_controllers_with(
    client: &kube::Client,
    settings: minik_controller::Settings,
) -> Tasks {
    let client = client.clone();
    Tasks(vec![tokio::spawn(async move {
        let _ = minik_controller::run(client, settings).await;
    })])
}

/// The whole control plane in this process (API server, every controller,
/// the scheduler) and one simulated kubelet serving `nodes` nodes whose
/// containers start after `sim_delay`.
pub struct SimCluster {
    pub c: super::TestCluster,
    _controllers: Tasks,
    _scheduler: super::scheduler::RunningScheduler,
    _kubelet: minik_kubelet::Running,
}

impl SimCluster {
    pub async fn start(nodes: usize, sim_delay: Duration) -> Self {
        Self::start_with(nodes, sim_delay, |_, _| {}).await
    }

    /// [`SimCluster::start`] with controller settings changed by `tweak`
    /// (given the cluster's temporary directory).
    pub async fn start_with(
        nodes: usize,
        sim_delay: Duration,
        tweak: impl FnOnce(&mut minik_controller::Settings, &std::path::Path),
    ) -> Self {
        let c = super::TestCluster::start().await;
        let mut settings = minik_controller::Settings::default();
        tweak(&mut settings, c.dir.path());
        let controllers = start_all_controllers_with(&c.client, settings);
        let scheduler = super::scheduler::start_scheduler(&c.client);
        let mut config = minik_kubelet::Config::new("node");
        config.runtime = minik_kubelet::RuntimeKind::Sim;
        config.nodes = nodes;
        config.root_dir = c.dir.path().join("kubelet");
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.sim_delay = sim_delay;
        config.lease_renew_interval = Duration::from_millis(500);
        config.resync_period = Duration::from_millis(500);
        let kubelet = minik_kubelet::start(config, c.client.clone())
            .await
            .expect("kubelet starts");
        Self {
            c,
            _controllers: controllers,
            _scheduler: scheduler,
            _kubelet: kubelet,
        }
    }
}

/// The pod's Ready condition is True.
pub fn is_ready(p: &Pod) -> bool {
    ready_condition(p).as_deref() == Some("True")
}

/// The status of the pod's Ready condition ("True", "False", "Unknown"),
/// or `None` if it has none yet.
pub fn ready_condition(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

/// What a watch of the set's pods saw, in order: `added web-0`,
/// `ready web-0`, `deleting web-2`, `deleted web-2`.
pub struct PodLog {
    log: Arc<Mutex<Vec<String>>>,
    _task: Tasks,
}

impl PodLog {
    pub fn start(client: &kube::Client, selector: &str) -> Self {
        let api: Api<Pod> = Api::namespaced(client.clone(), "default");
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let selector = selector.to_string();
        let task = tokio::spawn(async move {
            let mut state: std::collections::HashMap<String, (bool, bool)> = Default::default();
            let config = watcher::Config::default().labels(&selector);
            let mut events = watcher(api, config).boxed();
            while let Some(ev) = events.next().await {
                let mut log = seen.lock().unwrap();
                match ev {
                    Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => {
                        let name = p.name_any();
                        let entry = state.entry(name.clone()).or_insert_with(|| {
                            log.push(format!("added {name}"));
                            (false, false)
                        });
                        if is_ready(&p) && !entry.0 {
                            entry.0 = true;
                            log.push(format!("ready {name}"));
                        }
                        if p.metadata.deletion_timestamp.is_some() && !entry.1 {
                            entry.1 = true;
                            log.push(format!("deleting {name}"));
                        }
                    }
                    Ok(watcher::Event::Delete(p)) => {
                        let name = p.name_any();
                        if state.remove(&name).is_some_and(|(_, deleting)| !deleting) {
                            log.push(format!("deleting {name}"));
                        }
                        log.push(format!("deleted {name}"));
                    }
                    _ => {}
                }
            }
        });
        Self {
            log,
            _task: Tasks(vec![task]),
        }
    }

    pub fn entries(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn position(&self, entry: &str) -> usize {
        let log = self.entries();
        log.iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("no {entry:?} in {log:?}"))
    }
}
