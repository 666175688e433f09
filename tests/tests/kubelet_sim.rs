//! The kubelet with the simulated runtime: the same pod state machine, node
//! registration and leases, with no containers — and many nodes in one
//! process. Fast; never a substitute for the Docker tests.

use crate::support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{json, Value};
use support::TestCluster;

fn sim_config(cluster: &TestCluster, name: &str, nodes: usize) -> minik_kubelet::Config {
    let mut config = minik_kubelet::Config::new(name);
    config.runtime = minik_kubelet::RuntimeKind::Sim;
    config.nodes = nodes;
    config.root_dir = cluster.dir.path().join("kubelet");
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sim_delay = Duration::from_millis(100);
    config.lease_renew_interval = Duration::from_secs(1);
    config.backoff_base = Duration::from_millis(300);
    config.backoff_max = Duration::from_secs(2);
    config.resync_period = Duration::from_millis(500);
    config
}

async fn create_pod(client: &kube::Client, name: &str, node: &str, spec: Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut spec = spec;
    spec["nodeName"] = node.into();
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
}

async fn wait_pods(
    client: &kube::Client,
    timeout: Duration,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    loop {
        let pods: Vec<Value> = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect();
        if check(&pods) {
            return pods;
        }
        assert!(
            start.elapsed() < timeout,
            "pods did not converge in {timeout:?}: {}",
            serde_json::to_string_pretty(
                &pods
                    .iter()
                    .map(|p| (&p["metadata"]["name"], &p["status"]))
                    .collect::<Vec<_>>()
            )
            .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the worker of the pod `uid` is parked.
async fn when_parked(k: &minik_kubelet::Kubelet, uid: &str) {
    let start = Instant::now();
    while !k
        .workers
        .lock()
        .unwrap()
        .get(uid)
        .is_some_and(|w| w.parked())
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{uid} did not park"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn find<'a>(pods: &'a [Value], name: &str) -> Option<&'a Value> {
    pods.iter().find(|p| p["metadata"]["name"] == name)
}

fn ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[tokio::test]
async fn simulated_nodes_register_and_run_pods_to_their_phases() {
    let cluster = TestCluster::start().await;
    let first = minik_kubelet::start(sim_config(&cluster, "sim", 3), cluster.client.clone())
        .await
        .expect("sim kubelets start");
    let client = &cluster.client;

    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let mut registered = Vec::new();
    for name in ["sim-1", "sim-2", "sim-3"] {
        let node = serde_json::to_value(nodes.get(name).await.unwrap()).unwrap();
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], name);
        assert_eq!(node["status"]["allocatable"]["pods"], "110");
        assert!(node["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("sim://"));
        let lease = leases.get(name).await.unwrap();
        assert_eq!(
            lease.spec.as_ref().unwrap().holder_identity.as_deref(),
            Some(name)
        );
        let uid = node["metadata"]["uid"].as_str().unwrap().to_string();
        let owners = lease.metadata.owner_references.unwrap_or_default();
        assert_eq!(
            owners
                .iter()
                .map(|o| (o.kind.as_str(), o.uid.as_str()))
                .collect::<Vec<_>>(),
            [("Node", uid.as_str())],
            "the Lease is owned by its Node"
        );
        registered.push(uid);
    }

    // A restarted kubelet adopts its Nodes and Leases (same objects,
    // renewed as it starts) instead of failing on what the first run
    // created.
    drop(first);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut stopped_at = Vec::new();
    for name in ["sim-1", "sim-2", "sim-3"] {
        let lease = leases.get(name).await.unwrap();
        stopped_at.push(lease.spec.unwrap().renew_time.unwrap().0);
    }
    let _kubelet = minik_kubelet::start(sim_config(&cluster, "sim", 3), cluster.client.clone())
        .await
        .expect("sim kubelets start again");
    let before = registered.iter().zip(&stopped_at);
    for (name, (uid, renewed)) in ["sim-1", "sim-2", "sim-3"].iter().zip(before) {
        let node = nodes.get(name).await.unwrap();
        assert_eq!(
            node.metadata.uid.as_ref(),
            Some(uid),
            "{name} adopted, not recreated"
        );
        let ready = node.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(ready
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"));
        let lease = leases.get(name).await.unwrap();
        assert!(
            lease.spec.unwrap().renew_time.unwrap().0 > *renewed,
            "{name}'s Lease renewed on start"
        );
        let owners = lease.metadata.owner_references.unwrap_or_default();
        assert_eq!(owners.len(), 1);
        assert_eq!(&owners[0].uid, uid);
    }

    let sleeper = json!({"containers": [{"name": "c", "image": "busybox:1.35", "command": ["sleep", "3600"]}]});
    create_pod(client, "a", "sim-1", sleeper.clone()).await;
    create_pod(client, "b", "sim-2", sleeper.clone()).await;
    create_pod(client, "done", "sim-3", json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.35", "command": ["sh", "-c", "exit 0"]}]})).await;
    create_pod(client, "fails", "sim-3", json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.35", "command": ["sh", "-c", "exit 2"]}]})).await;
    create_pod(
        client,
        "loops",
        "sim-1",
        json!({"containers": [{"name": "c", "image": "busybox:1.35", "command": ["false"]}]}),
    )
    .await;

    let pods = wait_pods(client, Duration::from_secs(20), |pods| {
        let phase = |n: &str| find(pods, n).map(|p| p["status"]["phase"].clone());
        find(pods, "a").is_some_and(ready)
            && find(pods, "b").is_some_and(ready)
            && phase("done") == Some(json!("Succeeded"))
            && phase("fails") == Some(json!("Failed"))
            && find(pods, "loops").is_some_and(|p| {
                p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2)
            })
    })
    .await;
    let a = find(&pods, "a").unwrap();
    assert!(a["status"]["podIP"].as_str().unwrap().starts_with("10."));
    assert!(a["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .unwrap()
        .starts_with("sim://"));
    let fails = find(&pods, "fails").unwrap();
    assert_eq!(
        fails["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        2
    );
    assert_eq!(
        fails["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Error"
    );

    // Level-triggered and idempotent: resyncs of a settled pod write nothing.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let before = api.get("b").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = api.get("b").await.unwrap().metadata.resource_version;
    assert_eq!(before, after, "a settled pod's status is not rewritten");

    // Deletion is confirmed by the kubelet.
    api.delete("a", &DeleteParams::default()).await.unwrap();
    wait_pods(client, Duration::from_secs(10), |pods| {
        find(pods, "a").is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_simulated_nodes_in_one_process() {
    let cluster = TestCluster::start().await;
    let kubelet = minik_kubelet::start(sim_config(&cluster, "scale", 20), cluster.client.clone())
        .await
        .expect("sim kubelets start");
    let client = &cluster.client;
    let nodes: Api<Node> = Api::all(client.clone());
    assert_eq!(
        nodes.list(&Default::default()).await.unwrap().items.len(),
        20
    );
    for i in 0..100 {
        create_pod(
            client,
            &format!("p{i}"),
            &format!("scale-{}", i % 20 + 1),
            json!({"containers": [{"name": "c", "image": "minik/web:v1"}]}),
        )
        .await;
    }
    let pods = wait_pods(client, Duration::from_secs(30), |pods| {
        pods.len() == 100 && pods.iter().all(ready)
    })
    .await;
    let ips: std::collections::HashSet<&str> = pods
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 100, "every pod has its own IP");

    // Settled pods' workers park (no task until their next event). Each
    // node's resync (every 500 ms here) starts its parked workers again,
    // which park again after their syncs: within 10 s there is a moment
    // when all 100 are parked.
    let parked = || -> (usize, usize) {
        let (mut parked, mut all) = (0, 0);
        for node in &kubelet.nodes {
            for w in node.kubelet.workers.lock().unwrap().values() {
                all += 1;
                parked += usize::from(w.parked());
            }
        }
        (parked, all)
    };
    let start = Instant::now();
    while parked() != (100, 100) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "settled pods' workers did not park: {:?} (parked, all)",
            parked()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // What reaches a parked pod still acts on it: a container that dies
    // is restarted (its container event, or here the resync, starts the
    // parked worker); a pod force-deleted (its worker told by the watch's
    // deletion, not an update, which no resync stands in for) loses its
    // containers and its worker.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let node_of = |i: usize| {
        let name = format!("scale-{}", i % 20 + 1);
        let node = kubelet.nodes.iter().find(|n| n.name == name).unwrap();
        node.kubelet.clone()
    };
    let uid_of = |pod: Pod| pod.metadata.uid.unwrap();
    let (k3, uid3) = (node_of(3), uid_of(api.get("p3").await.unwrap()));
    when_parked(&k3, &uid3).await;
    let app = k3.runtime.list_pod(&uid3).await.unwrap();
    let app = app.iter().find(|r| !r.sandbox && r.running()).unwrap();
    k3.runtime
        .stop_container(&app.id, Duration::ZERO)
        .await
        .unwrap();
    wait_pods(client, Duration::from_secs(10), |pods| {
        find(pods, "p3")
            .is_some_and(|p| ready(p) && p["status"]["containerStatuses"][0]["restartCount"] == 1)
    })
    .await;
    let (k9, uid9) = (node_of(9), uid_of(api.get("p9").await.unwrap()));
    when_parked(&k9, &uid9).await;
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    api.delete("p9", &now).await.unwrap();
    let start = Instant::now();
    while !k9.runtime.list_pod(&uid9).await.unwrap().is_empty()
        || k9.workers.lock().unwrap().contains_key(&uid9)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "p9's containers or worker outlived its force deletion"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Twenty nodes, one watch of pods and one of Nodes (not one per node).
    let metrics = client
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .unwrap();
    let watches = |resource: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("apiserver_longrunning_requests{")
                    && l.contains(&format!("resource=\"{resource}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!((watches("pods"), watches("nodes")), (1, 1), "{metrics}");

    // Each change still reaches its own node (a parked worker starts
    // again for it): a deleted pod's deletion is confirmed by its node, a
    // deleted Node registers again.
    api.delete("p7", &DeleteParams::default()).await.unwrap();
    wait_pods(client, Duration::from_secs(10), |pods| {
        pods.len() == 98 && find(pods, "p7").is_none()
    })
    .await;
    let old_uid = nodes.get("scale-8").await.unwrap().metadata.uid;
    nodes
        .delete("scale-8", &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        // Back as a new object: registered again by its own loop.
        if let Ok(node) = nodes.get("scale-8").await {
            if node.metadata.uid != old_uid {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "scale-8 did not register again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
