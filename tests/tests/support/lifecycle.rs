//! Helpers for the lifecycle tests (endpoints, garbage collector, namespace
//! and node lifecycle controllers): run one controller in-process, build
//! pods and nodes, stand in for the kubelet (pod status, confirming a
//! graceful deletion), wait for conditions and read recorded Events.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

/// Controllers running in the background, aborted when dropped (also when a test fails).
pub struct Running(Vec<tokio::task::JoinHandle<()>>);

impl Running {
    /// Runs `task` (a simulated kubelet, say) until the guard is dropped.
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Running(vec![tokio::spawn(task)])
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Which of the lifecycle controllers to run.
#[derive(Clone, Copy)]
pub enum Which {
    Endpoints,
    EndpointSlice,
    EndpointSliceMirroring,
    GarbageCollector,
    Namespace,
    NodeLifecycle,
}

/// Runs the given controllers against `client` with `settings`.
pub fn start(
    client: &kube::Client,
    settings: minik_controller::Settings,
    which: &[Which],
) -> Running {
    let ctx = Arc::new(minik_controller::Context::new(client.clone(), settings));
    let builds: Vec<fn(&Arc<minik_controller::Context>) -> minik_controller::Built> = which
        .iter()
        .map(|w| match w {
            Which::Endpoints => minik_controller::endpoints::build as fn(&_) -> _,
            Which::EndpointSlice => minik_controller::endpoint_slice::build,
            Which::EndpointSliceMirroring => minik_controller::endpoint_slice_mirroring::build,
            Which::GarbageCollector => minik_controller::garbage_collector::build,
            Which::Namespace => minik_controller::namespace::build,
            Which::NodeLifecycle => minik_controller::node_lifecycle::build,
        })
        .collect();
    Running(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &builds)
            .await
            .expect("controllers run");
    })])
}

#[allow(unused_imports)] // not every test binary waits
pub use minik_tests::wait_for;

/// A pod manifest: one busybox container with the given named ports,
/// optionally bound to `node`, with extra fields merged over `spec`.
pub fn pod(
    name: &str,
    labels: Value,
    node: Option<&str>,
    ports: &[(&str, i32)],
    spec_extra: Value,
) -> Pod {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(n, p)| json!({"name": n, "containerPort": p, "protocol": "TCP"}))
        .collect();
    let mut spec = json!({
        "containers": [{"name": "app", "image": "busybox:latest", "ports": ports}],
        "terminationGracePeriodSeconds": 30,
    });
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }))
    .unwrap()
}

pub async fn create_pod(api: &Api<Pod>, pod: &Pod) -> Pod {
    api.create(&PostParams::default(), pod)
        .await
        .expect("pod created")
}

/// What the kubelet would report: Running, with `ip` and Ready=`ready`.
pub async fn set_pod_status(api: &Api<Pod>, name: &str, ip: Option<&str>, ready: bool) -> Pod {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = if ready { "True" } else { "False" };
    let mut body = json!({"status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": status, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": status, "lastTransitionTime": now},
        ],
    }});
    if let Some(ip) = ip {
        body["status"]["podIP"] = json!(ip);
        body["status"]["podIPs"] = json!([{"ip": ip}]);
    }
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .expect("pod status patched")
}

/// What the kubelet does once a pod's containers are stopped: the final
/// DELETE with grace period 0, which removes the pod.
pub async fn confirm_deletion(api: &Api<Pod>, name: &str) {
    match api
        .delete(name, &DeleteParams::default().grace_period(0))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => panic!("confirming the deletion of {name}: {e}"),
    }
}

/// The (reason, note) of every events.k8s.io Event in `ns` about the object named `name`.
pub async fn events_about(client: &kube::Client, ns: &str, name: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .expect("events listed")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}
