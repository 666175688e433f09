//! The node lifecycle controller against an in-process API server, with
//! shortened timings (grace period 2 s, default toleration 2 s): a node
//! whose Lease stops being renewed becomes Ready=Unknown, is tainted
//! unreachable, its pods are marked not Ready and evicted according to
//! their tolerations; once its (simulated) kubelet renews the Lease and
//! reports Ready again, the taints go and the remaining pods stay.

use crate::support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::lifecycle::{
    self, create_pod, events_about, pod, set_pod_status, wait_for, Running, Which,
};
use support::workloads::ready_condition as pod_ready;
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(10);

fn settings() -> minik_controller::Settings {
    minik_controller::Settings {
        node_monitor_grace_period: Duration::from_secs(2),
        pod_eviction_timeout: Duration::from_secs(2),
        node_monitor_period: Duration::from_secs(1),
        ..Default::default()
    }
}

/// What a kubelet posts: Ready=True with a fresh heartbeat.
async fn report_ready(nodes: &Api<Node>, name: &str) {
    let now = Timestamp::now().to_string();
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady",
         "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now},
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "lastHeartbeatTime": now, "lastTransitionTime": now},
    ]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// What a kubelet does as it starts: the Node, Ready, and its Lease.
async fn register(nodes: &Api<Node>, leases: &Api<Lease>, name: &str) {
    let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    report_ready(nodes, name).await;
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 2, "renewTime": Timestamp::now().to_string()},
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
}

/// Renews the Leases of the nodes in `alive` every 300 ms, as kubelets do.
fn heartbeats(leases: Api<Lease>, alive: Arc<Mutex<HashSet<String>>>) -> Running {
    Running::spawn(async move {
        loop {
            let names: Vec<String> = alive.lock().unwrap().iter().cloned().collect();
            for name in names {
                let renew = json!({"spec": {"renewTime": Timestamp::now().to_string()}});
                let _ = leases
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&renew))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

fn ready_condition(node: &Node) -> (String, Option<String>, Option<String>) {
    let c = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .cloned()
        .unwrap();
    (c.status, c.reason, c.message)
}

fn taint_keys(node: &Node) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_silent_node_is_tainted_its_pods_evicted_and_it_recovers() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    for name in ["node-a", "node-b"] {
        register(&nodes, &leases, name).await;
    }
    let alive = Arc::new(Mutex::new(HashSet::from(["node-b".to_string()])));
    let _kubelets = heartbeats(leases.clone(), alive.clone());

    // On node-a: default tolerations (the API server adds 300 s ones), tolerating
    // unreachable forever, and tolerating it for 0 s.
    let unreachable = |secs: Option<i64>| {
        let mut t = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"});
        if let Some(s) = secs {
            t["tolerationSeconds"] = json!(s);
        }
        json!({"tolerations": [t]})
    };
    create_pod(
        &pods,
        &pod("default-tol", json!({}), Some("node-a"), &[], json!({})),
    )
    .await;
    create_pod(
        &pods,
        &pod("forever", json!({}), Some("node-a"), &[], unreachable(None)),
    )
    .await;
    create_pod(
        &pods,
        &pod(
            "at-once",
            json!({}),
            Some("node-a"),
            &[],
            unreachable(Some(0)),
        ),
    )
    .await;
    create_pod(
        &pods,
        &pod("elsewhere", json!({}), Some("node-b"), &[], json!({})),
    )
    .await;
    for (name, ip) in [
        ("default-tol", "10.244.1.2"),
        ("forever", "10.244.1.3"),
        ("at-once", "10.244.1.4"),
        ("elsewhere", "10.244.2.2"),
    ] {
        set_pod_status(&pods, name, Some(ip), true).await;
    }

    let _controller = lifecycle::start(&client, settings(), &[Which::NodeLifecycle]);

    // node-a's Lease stops: Ready=Unknown and the unreachable taints.
    let node_a = wait_for("node-a tainted unreachable", WAIT, || async {
        let n = nodes.get("node-a").await.unwrap();
        taint_keys(&n)
            .contains(&("node.kubernetes.io/unreachable".into(), "NoExecute".into()))
            .then_some(n)
    })
    .await;
    assert_eq!(
        ready_condition(&node_a),
        (
            "Unknown".into(),
            Some("NodeStatusUnknown".into()),
            Some("Kubelet stopped posting node status.".into())
        )
    );
    assert_eq!(
        taint_keys(&node_a),
        vec![
            ("node.kubernetes.io/unreachable".into(), "NoExecute".into()),
            ("node.kubernetes.io/unreachable".into(), "NoSchedule".into()),
        ]
    );
    let tainted_at = node_a
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .and_then(|ts| ts.iter().find(|t| t.effect == "NoExecute"))
        .and_then(|t| t.time_added.clone())
        .expect("NoExecute taints carry timeAdded")
        .0;
    // node-b keeps reporting and is untouched.
    let node_b = nodes.get("node-b").await.unwrap();
    assert_eq!(ready_condition(&node_b).0, "True");
    assert!(taint_keys(&node_b).is_empty());

    // The pod tolerating 0 s goes at once; the others are marked not Ready first.
    wait_for("at-once evicted", WAIT, || async {
        let p = pods.get("at-once").await.unwrap();
        p.metadata.deletion_timestamp.is_some().then_some(())
    })
    .await;
    let default_tol = wait_for("default-tol marked not ready", WAIT, || async {
        let p = pods.get("default-tol").await.unwrap();
        (pod_ready(&p).as_deref() == Some("False")).then_some(p)
    })
    .await;
    assert!(
        default_tol.metadata.deletion_timestamp.is_none(),
        "evicted before its toleration ran out"
    );

    // The default toleration (shortened to 2 s) runs out: evicted, not before.
    let evicted = wait_for("default-tol evicted", WAIT, || async {
        let p = pods.get("default-tol").await.unwrap();
        p.metadata.deletion_timestamp.is_some().then_some(p)
    })
    .await;
    let grace =
        SignedDuration::from_secs(evicted.metadata.deletion_grace_period_seconds.unwrap_or(0));
    let deleted_at = evicted.metadata.deletion_timestamp.unwrap().0 - grace;
    // Timestamps are whole seconds: allow one second of rounding.
    assert!(
        deleted_at >= tainted_at + SignedDuration::from_secs(1),
        "evicted at {deleted_at}, tainted at {tainted_at}"
    );
    let conditions = evicted.status.unwrap().conditions.unwrap();
    let disruption = conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget");
    assert_eq!(disruption.reason.as_deref(), Some("DeletionByTaintManager"));
    let elsewhere = pods.get("elsewhere").await.unwrap();
    assert!(elsewhere.metadata.deletion_timestamp.is_none());
    assert_eq!(pod_ready(&elsewhere).as_deref(), Some("True"));

    // Events as `kubectl describe` shows them.
    let node_events = events_about(&client, "default", "node-a").await;
    assert!(
        node_events.contains(&(
            "NodeNotReady".into(),
            "Node node-a status is now: NodeNotReady".into()
        )),
        "{node_events:?}"
    );
    assert!(node_events.contains(&(
        "RegisteredNode".into(),
        "Node node-a event: Registered Node node-a in Controller".into()
    )));
    let pod_events = events_about(&client, "default", "default-tol").await;
    assert!(
        pod_events.contains(&(
            "TaintManagerEviction".into(),
            "Marking for deletion Pod default/default-tol".into()
        )),
        "{pod_events:?}"
    );
    assert!(pod_events.contains(&("NodeNotReady".into(), "Node is not ready".into())));

    // The kubelet comes back: Lease renewed, Ready posted. The taints go.
    alive.lock().unwrap().insert("node-a".into());
    report_ready(&nodes, "node-a").await;
    wait_for("node-a's taints removed", WAIT, || async {
        let n = nodes.get("node-a").await.unwrap();
        taint_keys(&n).is_empty().then_some(())
    })
    .await;
    // Stays healthy for longer than the grace period while the Lease is renewed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let n = nodes.get("node-a").await.unwrap();
    assert!(taint_keys(&n).is_empty());
    let forever = pods.get("forever").await.unwrap();
    assert!(forever.metadata.deletion_timestamp.is_none());
}

/// A deleted node is forgotten (Kubernetes' `RemovingNode`): the controller
/// keeps no heartbeat or state for it, and a node registered again under
/// the same name is a new node to it (`RegisteredNode` once more).
#[tokio::test]
async fn a_deleted_node_is_forgotten() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "node-x"}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    report_ready(&nodes, "node-x").await;
    let _controller = lifecycle::start(&client, settings(), &[Which::NodeLifecycle]);
    let count = |reason: &'static str| {
        let client = client.clone();
        async move {
            let events: Api<k8s_openapi::api::events::v1::Event> =
                Api::namespaced(client, "default");
            let list = events.list(&Default::default()).await.unwrap().items;
            list.iter()
                .filter(|e| e.reason.as_deref() == Some(reason))
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("node-x"))
                .map(|e| e.series.as_ref().map_or(1, |s| s.count))
                .sum::<i32>()
        }
    };
    wait_for("RegisteredNode", WAIT, || async {
        (count("RegisteredNode").await == 1).then_some(())
    })
    .await;

    nodes.delete("node-x", &Default::default()).await.unwrap();
    let notes = wait_for("RemovingNode", WAIT, || async {
        let events = events_about(&client, "default", "node-x").await;
        let removing: Vec<String> = events
            .into_iter()
            .filter(|(reason, _)| reason == "RemovingNode")
            .map(|(_, note)| note)
            .collect();
        (!removing.is_empty()).then_some(removing)
    })
    .await;
    assert_eq!(
        notes,
        ["Node node-x event: Removing Node node-x from Controller"]
    );

    nodes.create(&PostParams::default(), &node).await.unwrap();
    wait_for("RegisteredNode again", WAIT, || async {
        (count("RegisteredNode").await == 2).then_some(())
    })
    .await;
}

/// The classroom's "lose a node" on a real (simulated-runtime) kubelet:
/// the dashboard's stop control silences it — no Lease renewals, no status,
/// no pod syncs — so the node lifecycle controller marks it unreachable and
/// taints it; the kubectl command the control names starts it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_kubelet_is_a_lost_node_until_started_again() {
    let c = TestCluster::start().await;
    let mut node = c.sim_node("node-s");
    node.lease_renew_interval = Duration::from_millis(500);
    node.node_status_update_frequency = Duration::from_millis(500);
    let _kubelet = minik_kubelet::start(node, c.client.clone()).await.unwrap();
    let _controllers = lifecycle::start(&c.client, settings(), &[Which::NodeLifecycle]);
    let token = minik_dashboard::auth::new_token();
    let dashboard = minik_dashboard::start(minik_dashboard::Config {
        client: c.client.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: token.clone(),
    })
    .await
    .unwrap();
    let nodes: Api<Node> = Api::all(c.client.clone());
    let ready = |want: &'static str| {
        let nodes = nodes.clone();
        move || {
            let nodes = nodes.clone();
            async move {
                let n = nodes.get("node-s").await.ok()?;
                let conditions = n.status?.conditions?;
                let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
                (ready.status == want).then_some(())
            }
        }
    };
    wait_for("node-s Ready", WAIT, ready("True")).await;

    // Stop: the Lease goes stale and the node is lost.
    let body = r#"{"action":"stopNode","node":"node-s"}"#;
    let answer = minik_tests::request(
        dashboard.addr,
        "POST",
        &format!("/api/action?token={token}"),
        Some(body),
    )
    .await;
    assert_eq!(minik_tests::status_code(&answer), 200, "{answer}");
    let kubectl = "kubectl annotate node node-s kubelet.minik.io/stopped=true";
    assert!(answer.contains(kubectl), "{answer}");
    wait_for("node-s Ready=Unknown", WAIT, ready("Unknown")).await;
    // (NoSchedule only: with its one node lost, the zone is fully
    // disrupted, and Kubernetes then evicts nothing.)
    wait_for("the unreachable taint", WAIT, || async {
        let n = nodes.get("node-s").await.ok()?;
        let taints = n.spec?.taints.unwrap_or_default();
        taints
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable")
            .then_some(())
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(c.client.clone(), "kube-node-lease");
    let renewed = leases.get("node-s").await.unwrap().spec.unwrap().renew_time;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        leases.get("node-s").await.unwrap().spec.unwrap().renew_time,
        renewed,
        "a stopped kubelet renews nothing"
    );

    // Start again, with the command-line twin of the dashboard's control.
    c.kubectl_ok(&["annotate", "node", "node-s", "kubelet.minik.io/stopped-"]);
    wait_for("node-s Ready again", WAIT, ready("True")).await;
    wait_for("the unreachable taint lifted", WAIT, || async {
        let n = nodes.get("node-s").await.ok()?;
        let taints = n.spec?.taints.unwrap_or_default();
        (!taints
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable"))
        .then_some(())
    })
    .await;
    dashboard.task.abort();
}

/// `kubectl taint nodes n k=v:NoExecute` adds a taint without `timeAdded`:
/// a pod that does not tolerate it goes at once, one tolerating it for a
/// few seconds goes when they have run out, one tolerating it forever stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubectl_taint_evicts_each_pod_when_its_toleration_runs_out() {
    let c = TestCluster::start().await;
    let client = c.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    register(&nodes, &leases, "node-t").await;
    let _kubelet = heartbeats(
        leases.clone(),
        Arc::new(Mutex::new(HashSet::from(["node-t".to_string()]))),
    );
    let tolerating = |secs: Option<i64>| {
        let mut t = json!({"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"});
        if let Some(s) = secs {
            t["tolerationSeconds"] = json!(s);
        }
        json!({"tolerations": [t]})
    };
    for (name, extra) in [
        ("intolerant", json!({})),
        ("for-3s", tolerating(Some(3))),
        ("forever", tolerating(None)),
    ] {
        create_pod(&pods, &pod(name, json!({}), Some("node-t"), &[], extra)).await;
    }
    let _controller = lifecycle::start(&client, settings(), &[Which::NodeLifecycle]);
    // Settled on a healthy node first: nothing is evicted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deleting = |name: &'static str| {
        let pods = pods.clone();
        async move {
            pods.get_opt(name)
                .await
                .unwrap()
                .is_none_or(|p| p.metadata.deletion_timestamp.is_some())
        }
    };
    assert!(!deleting("intolerant").await);

    c.kubectl_ok(&["taint", "nodes", "node-t", "k=v:NoExecute"]);
    let tainted = std::time::Instant::now();
    wait_for("the intolerant pod evicted", WAIT, || async {
        deleting("intolerant").await.then_some(())
    })
    .await;
    wait_for("the 3 s pod evicted", WAIT, || async {
        deleting("for-3s").await.then_some(())
    })
    .await;
    let after = tainted.elapsed();
    assert!(
        after >= Duration::from_millis(2500),
        "evicted {after:?} after the taint, before its 3 s toleration ran out"
    );
    assert!(!deleting("forever").await);
}
