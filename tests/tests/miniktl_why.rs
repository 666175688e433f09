//! `miniktl why` on simulated nodes: a pod after a rolling update (its
//! owner chain down from the Deployment, with the Events each controller
//! recorded, the scheduling decision and its filter table, its Service), a
//! pod recreated after its predecessor was deleted (and the deleted one,
//! from the Events that outlive it), an unschedulable pod
//! (which filter refused which node), a pod evicted from a lost node, a
//! Deployment's rollout as a timeline, a Service's pods; the same as JSON,
//! and as a kubectl plugin (`kubectl why`). The pod traces are compared
//! whole with golden files (`tests/golden/why/`); the restart by a failed
//! liveness probe is golden-tested with real containers in
//! `kubelet_docker.rs`.

use crate::support;
use crate::support::miniktl as mk;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use support::golden;
use support::scheduler::start_scheduler;
use support::workloads::{wait_for, Tasks};
use support::{workspace_bin, TestCluster};

const T: Duration = Duration::from_secs(30);

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: minik/web:v1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
"#;

async fn ready_pods(pods: &Api<Pod>, image: &str) -> Option<Vec<String>> {
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .ok()?;
    let ready: Vec<String> = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some(image))
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    (ready.len() == 2 && list.items.len() == 2).then_some(ready)
}

fn has_line(text: &str, parts: &[&str]) -> bool {
    text.lines().any(|l| parts.iter().all(|p| l.contains(p)))
}

/// Generated names as placeholders: each ReplicaSet's template hash by
/// revision (`hashes[0]` → `HASH1`), then the pods' random suffixes; and
/// the counts in a SuccessfulCreate note's cause ("wants 2 replicas, has
/// 1"), which depend on which of the ReplicaSet's pods the story follows.
fn normalize(text: &str, hashes: &[&str]) -> String {
    let mut text = golden::normalize_common(text);
    for (i, h) in hashes.iter().enumerate() {
        text = text.replace(h, &format!("HASH{}", i + 1));
    }
    let text = golden::replace(&text, r"\b(web-HASH\d)-[a-z0-9]{5}\b", "$1-xxxxx");
    golden::replace(
        &text,
        r"wants \d+ replicas?, has \d+\)",
        "wants N replicas, has M)",
    )
}

/// `miniktl why <what>` compared whole with golden file `name`. Events land
/// a moment after the state they describe, so the trace is read until it
/// matches (at most `T`); a mismatch then fails with the diff. When the
/// golden files are being rewritten, the trace is taken once `settled`
/// holds for it.
async fn assert_why_golden(
    c: &TestCluster,
    name: &str,
    what: &str,
    hashes: &[&str],
    settled: impl Fn(&str) -> bool,
) -> String {
    golden::assert_eventually(
        &format!("why/{name}"),
        T,
        || async { mk::miniktl(&c.kubeconfig, &["why", what]).await.ok() },
        |out| normalize(out, hashes),
        settled,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn why_explains_pods_deployments_and_services() {
    let c = TestCluster::start().await;
    let _node = minik_kubelet::start(c.sim_node("node-a"), c.client.clone())
        .await
        .unwrap();
    // node-b takes only pods that tolerate its taint; it is lost at the end.
    let node_b = minik_kubelet::start(c.sim_node("node-b"), c.client.clone())
        .await
        .unwrap();
    wait_for("node-b registered", T, || async {
        c.kubectl(&["get", "node", "node-b"])
            .status
            .success()
            .then_some(())
    })
    .await;
    c.kubectl_ok(&["taint", "nodes", "node-b", "dedicated=gpu:NoSchedule"]);
    let _scheduler = start_scheduler(&c.client);
    let settings = minik_controller::Settings {
        node_monitor_grace_period: Duration::from_secs(5),
        node_monitor_period: Duration::from_secs(1),
        ..Default::default()
    };
    let ctx = Arc::new(minik_controller::Context::new(c.client.clone(), settings));
    let _controllers = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(
            ctx,
            &[
                minik_controller::deployment::build,
                minik_controller::replicaset::build,
                minik_controller::endpoints::build,
                minik_controller::node_lifecycle::build,
            ],
        )
        .await
        .unwrap();
    })]);
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");

    // A rolling update from v1 to v2.
    c.apply(WEB);
    wait_for("two ready v1 pods", T, || ready_pods(&pods, "minik/web:v1")).await;
    c.kubectl_ok(&["set", "image", "deploy/web", "web=minik/web:v2"]);
    let v2 = wait_for("two ready v2 pods", T, || ready_pods(&pods, "minik/web:v2")).await;
    let pod = &v2[0];
    let rs = pod.rsplit_once('-').unwrap().0;
    let hash = rs.rsplit_once('-').unwrap().1;
    let v1_hash = c.kubectl_ok(&[
        "get",
        "rs",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[?(@.metadata.annotations.deployment\\.kubernetes\\.io/revision==\"1\")].metadata.labels.pod-template-hash}",
    ]);
    let hashes = [v1_hash.trim(), hash];
    let why = assert_why_golden(&c, "rolling-update", &format!("pod/{pod}"), &hashes, |t| {
        t.contains("ready endpoint") && t.contains("Started container")
    })
    .await;
    assert!(
        why.starts_with(&format!("Pod default/{pod}: Running, ready since "))
            && why.lines().next().unwrap().ends_with(", on node-a"),
        "{why}"
    );
    assert!(
        has_line(
            &why,
            &[&format!(
                "Pod {pod} ← ReplicaSet {rs} (revision 2, template hash {hash})"
            )]
        ),
        "{why}"
    );
    assert!(
        has_line(
            &why,
            &["replicaset-controller SuccessfulCreate: Created pod: ", pod]
        ),
        "{why}"
    );
    assert!(
        has_line(
            &why,
            &[&format!(
                "ReplicaSet {rs} (revision 2, template hash {hash}) ← Deployment web"
            )]
        ),
        "{why}"
    );
    assert!(
        has_line(
            &why,
            &[
                "deployment-controller ScalingReplicaSet: Scaled up replica set ",
                rs
            ]
        ),
        "{why}"
    );
    assert!(has_line(&why, &["Why it is on node-a:"]), "{why}");
    assert!(
        has_line(
            &why,
            &["the scheduler's choice: node-a: the only node that passed the filters"]
        ),
        "{why}"
    );
    assert!(
        has_line(
            &why,
            &["node-b: refused by TaintToleration: node(s) had untolerated taint {dedicated: gpu}"]
        ),
        "{why}"
    );
    assert!(
        has_line(
            &why,
            &[
                "Scheduled: Successfully assigned default/",
                pod,
                "to node-a"
            ]
        ),
        "{why}"
    );
    assert!(
        has_line(&why, &["web (minik/web:v2): running", "ready, 0 restarts"]),
        "{why}"
    );
    assert!(
        has_line(&why, &["web (10.96.", "): ready endpoint"]),
        "{why}"
    );

    // The Deployment's rollout, revision by revision.
    let deploy = mk::miniktl(&c.kubeconfig, &["why", "deployment/web"])
        .await
        .ok();
    assert!(
        has_line(&deploy, &["revision 1: web-", "(minik/web:v1) 0/0 ready"]),
        "{deploy}"
    );
    assert!(
        has_line(&deploy, &["revision 2: ", rs, "(minik/web:v2) 2/2 ready"]),
        "{deploy}"
    );
    assert!(
        has_line(
            &deploy,
            &["ScalingReplicaSet: Scaled down replica set web-"]
        ),
        "{deploy}"
    );

    // A deleted pod's replacement: created by the ReplicaSet, for that reason.
    pods.delete(pod, &DeleteParams::default()).await.unwrap();
    let replacement = wait_for("a replacement pod", T, || async {
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        list.items
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .find(|n| !v2.contains(n))
    })
    .await;
    let why = assert_why_golden(
        &c,
        "recreated",
        &format!("pod/{replacement}"),
        &hashes,
        |t| t.contains("ready endpoint") && t.contains("Started container"),
    )
    .await;
    assert!(
        has_line(&why, &["SuccessfulCreate: Created pod: ", &replacement]),
        "{why}"
    );
    assert!(
        has_line(&why, &[&format!("Pod {replacement} ← ReplicaSet {rs}")]),
        "{why}"
    );

    // The deleted pod itself: gone, but its Events still tell its story.
    let gone = assert_why_golden(&c, "gone", &format!("pod/{pod}"), &hashes, |t| {
        t.contains("Stopping container")
    })
    .await;
    assert!(
        gone.starts_with(&format!("Pod default/{pod}: gone (no such object now)\n")),
        "{gone}"
    );
    assert!(
        has_line(
            &gone,
            &[
                "SuccessfulCreate: Created pod: ",
                pod,
                &format!("[about ReplicaSet {rs}]")
            ]
        ),
        "{gone}"
    );

    // A Service's pods, and why each does or does not get traffic.
    let svc = mk::miniktl(&c.kubeconfig, &["why", "svc/web"]).await.ok();
    assert!(
        has_line(&svc, &[&v2[1], "ready: receives traffic"]),
        "{svc}"
    );

    // A pod no node can take: the scheduler's reasons.
    c.apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: picky\nspec:\n  nodeSelector: {disk: ssd}\n  containers:\n  - name: c\n    image: minik/web:v1\n");
    let why = assert_why_golden(&c, "unschedulable", "pod/picky", &[], |t| {
        t.contains("FailedScheduling")
    })
    .await;
    assert!(has_line(&why, &["Why it has no node yet:"]), "{why}");
    assert!(has_line(&why, &["FailedScheduling: 0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}"]), "{why}");
    assert!(
        has_line(&why, &["node-a: refused by NodeAffinity: node(s) didn't match Pod's node affinity/selector"]),
        "{why}"
    );
    assert!(
        has_line(&why, &["created directly: no controller owns it"]),
        "{why}"
    );

    // The same trace as data.
    let json = mk::miniktl(&c.kubeconfig, &["why", "pod/picky", "-o", "json"])
        .await
        .ok();
    let trace: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(trace["phase"], "Pending");
    assert_eq!(trace["scheduling"][0]["reason"], "FailedScheduling");
    assert_eq!(trace["filterTable"]["refusedBy"]["NodeAffinity"], 1);
    assert_eq!(trace["filterTable"]["refusedBy"]["TaintToleration"], 1);

    // kubectl's plugin mechanism: `kubectl why` runs miniktl linked as kubectl-why.
    let plugins = c.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(workspace_bin("miniktl"), plugins.join("kubectl-why")).unwrap();
    let path = format!(
        "{}:{}",
        plugins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("kubectl")
        .env("PATH", path)
        .env("KUBECONFIG", &c.kubeconfig)
        .args(["why", "pod/picky"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("Pod default/picky: Pending, not ready\n"),
        "{text}"
    );

    // A pod on a node that is lost: the node's state, the taint that
    // evicts it, and the eviction.
    c.apply(STRAY);
    wait_for("stray running on node-b", T, || async {
        let p = pods.get("stray").await.ok()?;
        (p.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    drop(node_b);
    let why = assert_why_golden(&c, "evicted", "pod/stray", &[], |t| {
        t.contains("TaintManagerEviction") && t.contains("not ready")
    })
    .await;
    assert!(
        has_line(
            &why,
            &["TaintManagerEviction: Marking for deletion Pod default/stray"]
        ),
        "{why}"
    );
}

const STRAY: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: stray
spec:
  nodeSelector: {kubernetes.io/hostname: node-b}
  tolerations:
  - {key: dedicated, operator: Exists}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
  containers:
  - name: c
    image: minik/web:v1
"#;
