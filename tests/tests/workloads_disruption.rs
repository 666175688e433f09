//! PodDisruptionBudgets and the eviction API: `pods/eviction` answers as
//! kube-apiserver does (429 with the budget's cause, 500 for two budgets,
//! terminal pods deleted at once, dry runs change nothing), the disruption
//! controller keeps the budget's status, and the real `kubectl drain`
//! empties a node without ever taking the Deployment below its budget.

use crate::support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use minik_controller::pod_cache::CachedPod;
use serde_json::{json, Value};
use support::TestCluster;

fn pdb(name: &str, spec: Value) -> PodDisruptionBudget {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// What the disruption controller would write.
async fn set_budget(
    api: &Api<PodDisruptionBudget>,
    name: &str,
    allowed: i32,
    healthy: i32,
    desired: i32,
) {
    let current = api.get(name).await.unwrap();
    let body = json!({"status": {
        "observedGeneration": current.metadata.generation,
        "disruptionsAllowed": allowed, "currentHealthy": healthy,
        "desiredHealthy": desired, "expectedPods": healthy,
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
}

async fn running_pod(pods: &Api<Pod>, name: &str, labels: Value, ready: bool) {
    let pod = support::lifecycle::pod(name, labels, Some("node-a"), &[], json!({}));
    support::lifecycle::create_pod(pods, &pod).await;
    support::lifecycle::set_pod_status(pods, name, Some("10.0.0.9"), ready).await;
}

/// POSTs an Eviction for `pod` and returns the status code and body.
async fn evict(c: &TestCluster, pod: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": "default"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    // Over a bare connection: kube's client retries a 429 by itself.
    let addr = c.server.as_ref().expect("running").addr;
    let path = format!("/api/v1/namespaces/default/pods/{pod}/eviction");
    let answer = minik_tests::try_request(
        addr,
        "POST",
        &path,
        Some(&body.to_string()),
        Duration::from_secs(10),
    )
    .await
    .expect("an answer within 10 s");
    let body = answer.split_once("\r\n\r\n").map_or("", |x| x.1);
    (
        minik_tests::status_code(&answer),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_answers_like_kube_apiserver() {
    let c = TestCluster::start_with(|cfg| cfg.tls = None).await; // evict() speaks raw HTTP
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(c.client.clone(), "default");
    budgets
        .create(
            &PostParams::default(),
            &pdb(
                "web",
                json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
            ),
        )
        .await
        .unwrap();
    running_pod(&pods, "web-1", json!({"app": "web"}), true).await;
    running_pod(&pods, "web-2", json!({"app": "web"}), true).await;

    // The controller has not looked at the budget yet.
    let (code, body) = evict(&c, "web-1", json!({})).await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "The disruption budget web is still being processed by the server."
    );

    // No disruption allowed: 429 with the budget's numbers.
    set_budget(&budgets, "web", 0, 2, 2).await;
    let (code, body) = evict(&c, "web-1", json!({})).await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(
        body["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(body["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    );
    assert!(pods
        .get("web-1")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());

    // One allowed: a dry run spends nothing.
    set_budget(&budgets, "web", 1, 3, 2).await;
    let (code, body) = evict(&c, "web-1", json!({"deleteOptions": {"dryRun": ["All"]}})).await;
    assert_eq!(code, 201, "{body}");
    assert!(pods
        .get("web-1")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());
    assert_eq!(
        budgets
            .get("web")
            .await
            .unwrap()
            .status
            .unwrap()
            .disruptions_allowed,
        1
    );

    // The real one: budget spent, pod recorded, marked and deleted gracefully.
    let (code, body) = evict(&c, "web-1", json!({})).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"], "Success");
    let status = budgets.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.disruptions_allowed, 0);
    assert!(status.disrupted_pods.unwrap().contains_key("web-1"));
    let cond = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .unwrap();
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "InsufficientPods")
    );
    let evicted = pods.get("web-1").await.unwrap();
    assert!(evicted.metadata.deletion_timestamp.is_some());
    let target = evicted
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget condition");
    assert_eq!(target.reason.as_deref(), Some("EvictionByEvictionAPI"));

    // The budget is spent now: the second pod stays.
    let (code, _) = evict(&c, "web-2", json!({})).await;
    assert_eq!(code, 429);

    // An unready pod spends nothing while the budget is met without it.
    running_pod(&pods, "web-3", json!({"app": "web"}), false).await;
    set_budget(&budgets, "web", 0, 2, 2).await;
    let (code, body) = evict(&c, "web-3", json!({})).await;
    assert_eq!(code, 201, "{body}");

    // A pod that is not running disrupts nothing; no budget is consulted.
    let pending = support::lifecycle::pod("web-4", json!({"app": "web"}), None, &[], json!({}));
    support::lifecycle::create_pod(&pods, &pending).await;
    let (code, _) = evict(&c, "web-4", json!({})).await;
    assert_eq!(code, 201);

    // Two budgets for one pod: 500 in kube's words.
    budgets
        .create(
            &PostParams::default(),
            &pdb(
                "web-too",
                json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
            ),
        )
        .await
        .unwrap();
    let (code, body) = evict(&c, "web-2", json!({})).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );

    // A pod no budget selects just goes; a name mismatch is a 400.
    running_pod(&pods, "other", json!({"app": "other"}), true).await;
    let (code, body) = evict(&c, "other", json!({"metadata": {"name": "else"}})).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "name in URL does not match name in Eviction object"
    );
    let (code, _) = evict(&c, "other", json!({})).await;
    assert_eq!(code, 201);
    let (code, _) = evict(&c, "missing", json!({})).await;
    assert_eq!(code, 404);

    // Validation and printing, through the real kubectl.
    let out = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: both}\nspec: {minAvailable: 1, maxUnavailable: 1, selector: {matchLabels: {app: x}}}\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("minAvailable and maxUnavailable cannot be both set"),
        "{err}"
    );
    let table = c.kubectl_ok(&["get", "pdb", "web-too"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "MIN",
            "AVAILABLE",
            "MAX",
            "UNAVAILABLE",
            "ALLOWED",
            "DISRUPTIONS",
            "AGE"
        ]
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web-too", "N/A", "1", "0"]);
    println!("eviction: 429 (still processing, budget spent), 201 (allowed, dry run, unready, pending, unselected), 500 (two budgets), 400, 404 as kube-apiserver answers");
}

fn kubelet_config(cluster: &TestCluster, name: &str) -> minik_kubelet::Config {
    let mut config = minik_kubelet::Config::new(name);
    config.runtime = minik_kubelet::RuntimeKind::Sim;
    config.root_dir = cluster.dir.path().join(format!("kubelet-{name}"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sim_delay = Duration::from_millis(300);
    config.lease_renew_interval = Duration::from_millis(500);
    config.resync_period = Duration::from_millis(500);
    config
}

/// (ready pods not being deleted, their nodes).
async fn ready_pods(pods: &Api<Pod>) -> Vec<String> {
    pods.list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| minik_controller::pods::is_pod_ready(&CachedPod::of(p)))
        .map(|p| p.spec.unwrap().node_name.unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drain_keeps_the_budget() {
    let c = TestCluster::start_with(|cfg| cfg.tls = None).await; // evict() speaks raw HTTP
    let controllers = tokio::spawn(minik_controller::run(
        c.client.clone(),
        minik_controller::Settings::default(),
    ));
    let scheduler = tokio::spawn(minik_scheduler::run(minik_scheduler::Config::new(
        c.client.clone(),
    )));
    let node_a = minik_kubelet::start(kubelet_config(&c, "node-a"), c.client.clone())
        .await
        .unwrap();
    let node_b = minik_kubelet::start(kubelet_config(&c, "node-b"), c.client.clone())
        .await
        .unwrap();
    // The example a student follows: the node agent on every node, web ×4
    // and a budget of minAvailable 3.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for file in ["daemonset/node-agent.yaml", "daemonset-drain/web.yaml"] {
        c.kubectl_ok(&["apply", "-f", examples.join(file).to_str().unwrap()]);
    }
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(c.client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = ready_pods(&pods).await;
        let status = budgets.get("web").await.unwrap().status.unwrap_or_default();
        if ready.len() == 4
            && ready.iter().any(|n| n == "node-a")
            && status.disruptions_allowed == 1
        {
            assert_eq!(
                (
                    status.expected_pods,
                    status.current_healthy,
                    status.desired_healthy
                ),
                (4, 4, 3)
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "4 ready pods on both nodes and 1 disruption allowed: {ready:?} {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let on_a = ready_pods(&pods)
        .await
        .iter()
        .filter(|n| *n == "node-a")
        .count();

    // Drain node-a with the real kubectl while watching the ready count.
    let watch_pods = pods.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let mut lowest = usize::MAX;
        for _ in 0..3000 {
            lowest = lowest.min(ready_pods(&watch_pods).await.len());
            if stop_rx.try_recv().is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lowest
    });
    let start = Instant::now();
    let out = c.kubectl(&[
        "drain",
        "node-a",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=90s",
    ]);
    let took = start.elapsed();
    let _ = stop_tx.send(());
    let lowest = watcher.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "drain failed: {stderr}\n{stdout}");
    assert!(stdout.contains("evicted"), "{stdout}");
    assert!(stdout.contains("node/node-a drained"), "{stdout}");
    // The node agent is left where it is (--ignore-daemonsets).
    assert!(
        stderr.contains("ignoring DaemonSet-managed Pods: default/node-agent-"),
        "{stderr}"
    );
    let agents = pods
        .list(&ListParams::default().labels("app=node-agent"))
        .await
        .unwrap()
        .items;
    assert!(
        agents.iter().any(
            |p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("node-a")
                && p.metadata.deletion_timestamp.is_none()
        ),
        "node-a keeps its agent"
    );
    assert!(
        lowest >= 3,
        "the budget was broken: {lowest} ready pods at the lowest"
    );
    // The second eviction had to wait for a replacement to be Ready.
    assert!(
        stderr.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "the budget never held an eviction back: {stderr}"
    );
    let nodes = Api::<Node>::all(c.client.clone());
    let node = nodes.get("node-a").await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = ready_pods(&pods).await;
        if ready.len() == 4 && ready.iter().all(|n| n == "node-b") {
            break;
        }
        assert!(Instant::now() < deadline, "pods all on node-b: {ready:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // With the budget met again, one disruption is allowed again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while budgets
        .get("web")
        .await
        .unwrap()
        .status
        .unwrap_or_default()
        .disruptions_allowed
        != 1
    {
        assert!(Instant::now() < deadline, "budget back to 1 allowed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.kubectl_ok(&["uncordon", "node-a"]);
    let node = nodes.get("node-a").await.unwrap();
    assert_ne!(node.spec.unwrap().unschedulable, Some(true));
    println!(
        "drain: {on_a} pods evicted from node-a in {:.1} s under minAvailable 3 of 4; ready pods never below {lowest}",
        took.as_secs_f64()
    );
    drop((node_a, node_b));
    controllers.abort();
    scheduler.abort();
}
