//! Helpers for the kubelet tests: an in-process API server (TestCluster)
//! with an in-process kubelet on a unique Docker network and cluster name,
//! a guard that removes every container and the network afterwards (even
//! when the test fails), and small wait/inspect helpers.
//!
//! Docker is required: without an engine these tests fail under CI=true
//! and are skipped (with a message) elsewhere.

#![allow(dead_code)]

pub mod docker_proxy;

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::Value;

use crate::support::TestCluster;

pub use crate::support::run_id;

/// Whether a Docker engine answers; panics under CI=true when it does not.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    crate::support::present_or_skip(ok, "a Docker engine")
}

/// Removes the cluster's containers and network when dropped.
pub struct DockerGuard {
    pub cluster: String,
    pub network: String,
}

impl DockerGuard {
    pub fn remove_all(&self) {
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=minik.cluster={}", self.cluster),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .output();
        }
    }
}

impl Drop for DockerGuard {
    fn drop(&mut self) {
        self.remove_all();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// An API server plus one Docker kubelet ("node-1") in this process.
pub struct KubeletCluster {
    pub kubelet: Option<minik_kubelet::Running>,
    pub config: minik_kubelet::Config,
    pub cluster: TestCluster,
    pub guard: DockerGuard,
}

impl KubeletCluster {
    /// The kubelet configuration tests use: short timings, unique names.
    pub fn config(cluster: &TestCluster, id: &str) -> minik_kubelet::Config {
        let mut config = minik_kubelet::Config::new("node-1");
        config.root_dir = cluster.dir.path().join("kubelet");
        config.network = format!("minik-t-{id}");
        config.network_subnet = None;
        config.cluster_name = format!("minik-t-{id}");
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.lease_renew_interval = Duration::from_secs(1);
        config.node_status_update_frequency = Duration::from_secs(1);
        config.backoff_base = Duration::from_secs(1);
        config.backoff_max = Duration::from_secs(8);
        config.resync_period = Duration::from_secs(5);
        config
    }

    /// Starts everything; `None` when Docker is missing outside CI.
    pub async fn start() -> Option<Self> {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut minik_kubelet::Config)) -> Option<Self> {
        Self::start_configured(|_| {}, tweak).await
    }

    /// Like [`Self::start_with`], also configuring the API server.
    pub async fn start_configured(
        server: impl FnOnce(&mut minik_apiserver::Config),
        tweak: impl FnOnce(&mut minik_kubelet::Config),
    ) -> Option<Self> {
        if !docker_available() {
            return None;
        }
        let id = run_id();
        let cluster = TestCluster::start_with(server).await;
        let mut config = Self::config(&cluster, &id);
        tweak(&mut config);
        let guard = DockerGuard {
            cluster: config.cluster_name.clone(),
            network: config.network.clone(),
        };
        let kubelet = minik_kubelet::start(config.clone(), cluster.client.clone())
            .await
            .expect("kubelet starts");
        Some(Self {
            kubelet: Some(kubelet),
            config,
            cluster,
            guard,
        })
    }

    /// `kubectl exec <pod> [-c <container>] -- sh -c <script>`: its output.
    pub fn sh(&self, pod: &str, container: Option<&str>, script: &str) -> String {
        let mut args = vec!["exec", pod];
        if let Some(c) = container {
            args.extend(["-c", c]);
        }
        args.extend(["--", "sh", "-c", script]);
        self.cluster.kubectl_ok(&args)
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.cluster.client.clone(), "default")
    }

    /// Creates a pod from JSON, bound to node-1 (no scheduler runs here).
    pub async fn create_pod(&self, mut pod: Value) -> Pod {
        pod["apiVersion"] = "v1".into();
        pod["kind"] = "Pod".into();
        pod["spec"]["nodeName"] = "node-1".into();
        let pod: Pod = serde_json::from_value(pod).expect("valid pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("pod created")
    }

    pub async fn pod(&self, name: &str) -> Option<Value> {
        self.pods()
            .get_opt(name)
            .await
            .expect("get pod")
            .map(|p| serde_json::to_value(p).unwrap())
    }

    /// Polls the pod until `check` holds (bounded in time); returns it.
    pub async fn wait_pod(
        &self,
        name: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < timeout {
            if let Some(p) = self.pod(name).await {
                if check(&p) {
                    return p;
                }
                last = Some(p);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "pod {name} did not reach the expected state in {timeout:?}; last seen status: {}",
            serde_json::to_string_pretty(&last.map(|p| p["status"].clone())).unwrap()
        );
    }

    pub async fn wait_gone(&self, name: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.pod(name).await.is_none() {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("pod {name} still exists after {timeout:?}");
    }
}

/// `status.phase == Running` and the Ready condition True.
pub fn running_and_ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running" && condition(p, "Ready") == "True"
}

/// The status of the object's condition `type_` ("" if it has none).
pub fn condition(p: &Value, type_: &str) -> String {
    condition_object(p, type_)["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The object's (a pod's, a node's) condition `type_`, whole: Null if it
/// has none.
pub fn condition_object(p: &Value, type_: &str) -> Value {
    p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The status of container `name` (app or init).
pub fn container_status(p: &Value, name: &str) -> Value {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|f| p["status"][f].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The Docker ID of container `name` (from `docker://<id>`).
pub fn docker_id(p: &Value, name: &str) -> String {
    container_status(p, name)["containerID"]
        .as_str()
        .and_then(|s| s.strip_prefix("docker://"))
        .expect("container has a docker:// ID")
        .to_string()
}

/// Runs the Docker CLI with `args`; panics (with its stderr) unless it
/// succeeds, and returns its stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command in a container through the Docker CLI.
pub fn docker_exec(id: &str, cmd: &[&str]) -> String {
    docker_ok(&[&["exec", id], cmd].concat())
}

pub fn docker_inspect(id: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "--format", format, id])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Events recorded about a pod, as (reason, note).
pub async fn pod_events(client: &kube::Client, pod: &str) -> Vec<(String, String)> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "default");
    api.list(&Default::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}
