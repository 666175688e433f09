//! A node is lost and its pods move: the whole control plane in one process
//! (API server, every controller, the scheduler) with two simulated
//! kubelets. When node-a's kubelet stops, its Lease goes stale, the node
//! lifecycle controller taints it and evicts its pods, the ReplicaSet
//! replaces them, and the scheduler puts the replacements on node-b.

use crate::support;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::TestCluster;

fn kubelet_config(cluster: &TestCluster, name: &str) -> minik_kubelet::Config {
    let mut config = minik_kubelet::Config::new(name);
    config.runtime = minik_kubelet::RuntimeKind::Sim;
    config.root_dir = cluster.dir.path().join(format!("kubelet-{name}"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sim_delay = Duration::from_millis(100);
    config.lease_renew_interval = Duration::from_millis(500);
    config.resync_period = Duration::from_millis(500);
    config
}

/// Running pods of the deployment per node, ignoring terminating ones.
async fn placement(pods: &Api<Pod>) -> Vec<(String, String)> {
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    let mut out: Vec<(String, String)> = list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .map(|p| {
            (
                p.metadata.name.unwrap(),
                p.spec.unwrap().node_name.unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_lost_node_come_back_on_another_node() {
    let c = TestCluster::start().await;
    let settings = minik_controller::Settings {
        node_monitor_grace_period: Duration::from_secs(2),
        pod_eviction_timeout: Duration::from_secs(1),
        node_monitor_period: Duration::from_millis(500),
        ..Default::default()
    };
    let controllers = tokio::spawn(minik_controller::run(c.client.clone(), settings));
    let scheduler = tokio::spawn(minik_scheduler::run(minik_scheduler::Config::new(
        c.client.clone(),
    )));
    let node_a = minik_kubelet::start(kubelet_config(&c, "node-a"), c.client.clone())
        .await
        .unwrap();
    let node_b = minik_kubelet::start(kubelet_config(&c, "node-b"), c.client.clone())
        .await
        .unwrap();

    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(c.client.clone(), "default")
        .create(&PostParams::default(), &deploy)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = loop {
        let p = placement(&pods).await;
        if p.len() == 4
            && p.iter().any(|(_, n)| n == "node-a")
            && p.iter().any(|(_, n)| n == "node-b")
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "4 running pods spread over both nodes; saw {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // node-a's kubelet dies: no more Lease renewals, no pod confirmations.
    drop(node_a);
    let nodes: Api<Node> = Api::all(c.client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = nodes.get("node-a").await.unwrap();
        let tainted = n
            .spec
            .and_then(|s| s.taints)
            .unwrap_or_default()
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute");
        if tainted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node-a never got the unreachable taint"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let p = placement(&pods).await;
        if p.len() == 4 && p.iter().all(|(_, n)| n == "node-b") {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "pods never all came back on node-b; saw {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The pods that were on node-a were replaced (new names), not moved.
    for (name, node) in &before {
        if node == "node-a" {
            assert!(
                !after.iter().any(|(n, _)| n == name),
                "{name} should have been replaced"
            );
        }
    }
    drop(node_b);
    controllers.abort();
    scheduler.abort();
}
