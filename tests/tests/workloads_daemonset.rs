//! The DaemonSet controller with the whole control plane in one process
//! (API server, every controller, the scheduler) and simulated kubelets on
//! several nodes: one pod per node, placed by the scheduler through
//! `matchFields: metadata.name`; pods follow nodes that join, leave and
//! change labels or taints; deleted pods come back; RollingUpdate replaces
//! one node at a time while the real `kubectl rollout status|history|undo`
//! follow it; OnDelete waits; orphans are adopted and relabelled pods
//! released; status and `kubectl get ds` columns. One test
//! runs `examples/daemonset/` on real Docker: two nodes, then a third joins.

use crate::kubelet_support;
use crate::support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::{json, Value};
use support::workloads::{events_about, wait_for};
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(60);

/// The control plane plus one simulated kubelet per node name.
struct Cluster {
    c: TestCluster,
    kubelets: BTreeMap<String, minik_kubelet::Running>,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    async fn start(nodes: &[&str]) -> Self {
        let c = TestCluster::start().await;
        let controllers = tokio::spawn({
            let client = c.client.clone();
            async move {
                let _ = minik_controller::run(client, Default::default()).await;
            }
        });
        let scheduler = tokio::spawn({
            let client = c.client.clone();
            async move {
                let _ = minik_scheduler::run(minik_scheduler::Config::new(client)).await;
            }
        });
        let mut cluster = Self {
            c,
            kubelets: BTreeMap::new(),
            _tasks: vec![controllers, scheduler],
        };
        for node in nodes {
            cluster.add_node(node).await;
        }
        cluster
    }

    async fn add_node(&mut self, name: &str) {
        let mut config = minik_kubelet::Config::new(name);
        config.runtime = minik_kubelet::RuntimeKind::Sim;
        config.root_dir = self.c.dir.path().join(format!("kubelet-{name}"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.sim_delay = Duration::from_millis(100);
        config.lease_renew_interval = Duration::from_millis(500);
        config.resync_period = Duration::from_millis(500);
        let running = minik_kubelet::start(config, self.c.client.clone())
            .await
            .unwrap();
        self.kubelets.insert(name.to_string(), running);
    }

    fn ds_api(&self) -> Api<DaemonSet> {
        Api::namespaced(self.c.client.clone(), "default")
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.c.client.clone(), "default")
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.c.client.clone())
    }

    async fn create_ds(&self, spec_extra: Value, pod_extra: Value) -> DaemonSet {
        let mut pod_spec = json!({
            "containers": [{"name": "agent", "image": "minik/busybox:v1",
                            "command": ["sh", "-c", "sleep 3600"]}],
            "terminationGracePeriodSeconds": 1,
        });
        merge(&mut pod_spec, pod_extra);
        let mut spec = json!({
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": pod_spec},
        });
        merge(&mut spec, spec_extra);
        let ds: DaemonSet =
            serde_json::from_value(json!({"metadata": {"name": "agent"}, "spec": spec})).unwrap();
        self.ds_api()
            .create(&PostParams::default(), &ds)
            .await
            .unwrap()
    }

    /// Running, Ready, not-terminating daemon pods: node → (pod, image).
    async fn placement(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let list = self
            .pods()
            .list(&ListParams::default().labels("app=agent"))
            .await
            .unwrap();
        let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for p in list.items {
            if p.metadata.deletion_timestamp.is_some() || !ready(&p) {
                continue;
            }
            let spec = p.spec.clone().unwrap();
            out.entry(spec.node_name.clone().unwrap_or_default())
                .or_default()
                .push((p.name_any(), spec.containers[0].image.clone().unwrap()));
        }
        out
    }

    /// Waits until exactly `nodes` each run one Ready pod of `image`.
    async fn wait_placement(&self, nodes: &[&str], image: &str) -> BTreeMap<String, String> {
        let want: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        wait_for(
            &format!("one Ready {image} pod on each of {nodes:?}"),
            WAIT,
            || async {
                let p = self.placement().await;
                let ok = p.keys().cloned().collect::<Vec<_>>() == want
                    && p.values().all(|pods| pods.len() == 1 && pods[0].1 == image);
                ok.then(|| {
                    p.into_iter()
                        .map(|(n, pods)| (n, pods[0].0.clone()))
                        .collect()
                })
            },
        )
        .await
    }

    /// Waits for `kubectl get ds agent` to show these DESIRED, CURRENT,
    /// READY, UP-TO-DATE, AVAILABLE and NODE SELECTOR columns.
    async fn wait_columns(&self, want: &[&str]) {
        wait_for(
            &format!("kubectl get ds showing {want:?}"),
            WAIT,
            || async {
                let out = self.c.kubectl_ok(&["get", "ds", "agent", "--no-headers"]);
                let cols: Vec<&str> = out.split_whitespace().collect();
                (cols.len() >= 7 && cols[1..7] == *want).then_some(())
            },
        )
        .await
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_per_node_as_nodes_join_and_leave() {
    let mut cluster = Cluster::start(&["node-1", "node-2", "node-3"]).await;
    cluster.create_ds(json!({}), json!({})).await;
    let placed = cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v1")
        .await;

    // Created without nodeName, bound by the scheduler through matchFields,
    // with the daemon tolerations and the revision labels.
    let pod = cluster.pods().get(&placed["node-2"]).await.unwrap();
    let spec = serde_json::to_value(pod.spec.as_ref().unwrap()).unwrap();
    assert_eq!(
        spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!({"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]})
    );
    let tolerations: Vec<String> = spec["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap(),
                t["effect"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "node.kubernetes.io/not-ready:NoExecute",
        "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/disk-pressure:NoSchedule",
        "node.kubernetes.io/memory-pressure:NoSchedule",
        "node.kubernetes.io/pid-pressure:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
    ] {
        assert!(
            tolerations.contains(&want.to_string()),
            "{want} in {tolerations:?}"
        );
    }
    let labels = pod.labels();
    assert!(labels.contains_key("controller-revision-hash"));
    assert_eq!(labels["pod-template-generation"], "1");
    let events = events_about(&cluster.c.client, "default", "agent").await;
    assert!(
        events
            .iter()
            .any(|(r, n)| r == "SuccessfulCreate" && n.starts_with("Created pod: agent-")),
        "{events:?}"
    );

    // Status and the real kubectl's columns.
    cluster
        .wait_columns(&["3", "3", "3", "3", "3", "<none>"])
        .await;
    let ds = cluster.ds_api().get("agent").await.unwrap();
    let status = ds.status.unwrap();
    assert_eq!(status.desired_number_scheduled, 3);
    assert_eq!(status.current_number_scheduled, 3);
    assert_eq!(status.number_misscheduled, 0);
    assert_eq!(status.number_ready, 3);
    assert_eq!(status.number_available, Some(3));
    assert_eq!(status.number_unavailable, None);
    assert_eq!(status.updated_number_scheduled, Some(3));
    assert_eq!(status.observed_generation, Some(1));
    let described = cluster.c.kubectl_ok(&["describe", "ds", "agent"]);
    for want in [
        "Desired Number of Nodes Scheduled: 3",
        "Number of Nodes Scheduled with Up-to-date Pods: 3",
        "Number of Nodes Misscheduled: 0",
        "Pods Status:  3 Running / 0 Waiting / 0 Succeeded / 0 Failed",
        "SuccessfulCreate",
    ] {
        assert!(described.contains(want), "{want} in {described}");
    }

    // A node joins: it gets a pod.
    cluster.add_node("node-4").await;
    cluster
        .wait_placement(
            &["node-1", "node-2", "node-3", "node-4"],
            "minik/busybox:v1",
        )
        .await;
    cluster
        .wait_columns(&["4", "4", "4", "4", "4", "<none>"])
        .await;

    // A node leaves (kubelet gone, Node deleted): its pod goes with it.
    drop(cluster.kubelets.remove("node-4"));
    cluster
        .nodes()
        .delete("node-4", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("node-4's daemon pod to be gone", WAIT, || async {
        let pods = cluster
            .pods()
            .list(&ListParams::default().labels("app=agent"))
            .await
            .unwrap();
        let on_4 = pods
            .items
            .iter()
            .any(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("node-4"));
        (!on_4).then_some(())
    })
    .await;
    cluster
        .wait_columns(&["3", "3", "3", "3", "3", "<none>"])
        .await;

    // A deleted daemon pod is replaced on the same node.
    let old = placed["node-1"].clone();
    cluster
        .pods()
        .delete(&old, &DeleteParams::default())
        .await
        .unwrap();
    let again = wait_for("a new pod on node-1", WAIT, || async {
        let p = cluster.placement().await;
        p.get("node-1")
            .filter(|pods| pods.len() == 1 && pods[0].0 != old)
            .map(|pods| pods[0].0.clone())
    })
    .await;
    assert_ne!(again, old);

    // A failed daemon pod is deleted (Warning FailedDaemonPod) and replaced.
    let failed = again;
    let patch = json!({"status": {"phase": "Failed", "reason": "Evicted"}});
    cluster
        .pods()
        .patch_status(&failed, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_for("the failed pod replaced on node-1", WAIT, || async {
        let p = cluster.placement().await;
        p.get("node-1")
            .filter(|pods| pods.len() == 1 && pods[0].0 != failed)
            .map(|_| ())
    })
    .await;
    let events = events_about(&cluster.c.client, "default", "agent").await;
    let note =
        format!("Found failed daemon pod default/{failed} on node node-1, will try to kill it");
    assert!(
        events
            .iter()
            .any(|(r, n)| r == "FailedDaemonPod" && *n == note),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_selector_labels_and_taints_choose_nodes() {
    let cluster = Cluster::start(&["node-1", "node-2", "node-3"]).await;
    let nodes = cluster.nodes();
    let label = |name: &'static str, value: Value| {
        let nodes = nodes.clone();
        async move {
            let patch = json!({"metadata": {"labels": {"agent": value}}});
            nodes
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        }
    };
    label("node-1", json!("yes")).await;
    label("node-2", json!("yes")).await;
    cluster
        .create_ds(json!({}), json!({"nodeSelector": {"agent": "yes"}}))
        .await;
    cluster
        .wait_placement(&["node-1", "node-2"], "minik/busybox:v1")
        .await;
    cluster
        .wait_columns(&["2", "2", "2", "2", "2", "agent=yes"])
        .await;

    // Relabelling moves the pods: node-3 gains one, node-1 loses its own.
    label("node-3", json!("yes")).await;
    label("node-1", Value::Null).await;
    cluster
        .wait_placement(&["node-2", "node-3"], "minik/busybox:v1")
        .await;

    // A NoSchedule taint keeps a new pod away (the running one stays); a
    // NoExecute taint removes it; a toleration lets it back.
    let taint = |name: &'static str, taints: Value| {
        let nodes = nodes.clone();
        async move {
            let patch = json!({"spec": {"taints": taints}});
            nodes
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        }
    };
    taint(
        "node-1",
        json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
    )
    .await;
    label("node-1", json!("yes")).await;
    taint(
        "node-2",
        json!([{"key": "dedicated", "value": "db", "effect": "NoExecute"}]),
    )
    .await;
    cluster
        .wait_placement(&["node-3"], "minik/busybox:v1")
        .await;
    cluster
        .wait_columns(&["1", "1", "1", "1", "1", "agent=yes"])
        .await;
    let patch = json!({"spec": {"template": {"spec": {"tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "db"}]}}}});
    cluster
        .ds_api()
        .patch("agent", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v1")
        .await;
    cluster
        .wait_columns(&["3", "3", "3", "3", "3", "agent=yes"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_goes_one_node_at_a_time_and_kubectl_follows_it() {
    let cluster = Cluster::start(&["node-1", "node-2", "node-3"]).await;
    cluster.create_ds(json!({}), json!({})).await;
    let before = cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v1")
        .await;
    cluster
        .c
        .kubectl_ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);

    // Watch availability throughout the update: with maxUnavailable 1, at
    // least two nodes keep a Ready pod at every moment.
    let fewest = Arc::new(AtomicUsize::new(usize::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let (fewest, stop) = (fewest.clone(), stop.clone());
        let pods = cluster.pods();
        async move {
            while !stop.load(Ordering::SeqCst) {
                let list = pods
                    .list(&ListParams::default().labels("app=agent"))
                    .await
                    .unwrap();
                let mut nodes: Vec<String> = list
                    .items
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none() && ready(p))
                    .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                    .collect();
                nodes.sort();
                nodes.dedup();
                fewest.fetch_min(nodes.len(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    cluster
        .c
        .kubectl_ok(&["set", "image", "daemonset/agent", "agent=minik/busybox:v2"]);
    let out = cluster
        .c
        .kubectl_ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(
        out.contains("daemon set \"agent\" successfully rolled out"),
        "{out}"
    );
    let after = cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v2")
        .await;
    stop.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    assert!(
        fewest.load(Ordering::SeqCst) >= 2,
        "at most one node without a Ready pod during the update, saw {}",
        fewest.load(Ordering::SeqCst)
    );
    for (node, pod) in &before {
        assert_ne!(&after[node], pod, "{node}'s pod was replaced");
    }
    let ds = cluster.ds_api().get("agent").await.unwrap();
    let status = ds.status.unwrap();
    assert_eq!(status.observed_generation, ds.metadata.generation);
    assert_eq!(status.updated_number_scheduled, Some(3));
    let events = events_about(&cluster.c.client, "default", "agent").await;
    assert!(
        events
            .iter()
            .filter(|(r, _)| r == "SuccessfulDelete")
            .count()
            >= 3,
        "{events:?}"
    );

    // Two ControllerRevisions; the real kubectl reads them.
    let revisions: Api<ControllerRevision> = Api::namespaced(cluster.c.client.clone(), "default");
    let mut numbers: Vec<i64> = revisions
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.revision)
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2]);
    let table = cluster
        .c
        .kubectl_ok(&["get", "controllerrevisions", "--no-headers"]);
    assert!(
        table.lines().all(|l| l.contains(" daemonset.apps/agent ")),
        "{table}"
    );
    let history = cluster
        .c
        .kubectl_ok(&["rollout", "history", "daemonset/agent"]);
    assert!(history.contains("REVISION"), "{history}");
    let revision_2 =
        cluster
            .c
            .kubectl_ok(&["rollout", "history", "daemonset/agent", "--revision=2"]);
    assert!(revision_2.contains("minik/busybox:v2"), "{revision_2}");

    // Undo: back to v1, which becomes revision 3.
    cluster
        .c
        .kubectl_ok(&["rollout", "undo", "daemonset/agent"]);
    cluster
        .c
        .kubectl_ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v1")
        .await;
    let mut numbers: Vec<i64> = revisions
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.revision)
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_replaces_a_pod_only_when_it_is_deleted() {
    let cluster = Cluster::start(&["node-1", "node-2"]).await;
    cluster
        .create_ds(json!({"updateStrategy": {"type": "OnDelete"}}), json!({}))
        .await;
    let before = cluster
        .wait_placement(&["node-1", "node-2"], "minik/busybox:v1")
        .await;
    cluster
        .c
        .kubectl_ok(&["set", "image", "daemonset/agent", "agent=minik/busybox:v2"]);
    // The new template is observed, but no pod is touched.
    cluster
        .wait_columns(&["2", "2", "2", "0", "2", "<none>"])
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        cluster
            .wait_placement(&["node-1", "node-2"], "minik/busybox:v1")
            .await,
        before
    );
    // Deleting one pod brings a new-template pod on its node.
    cluster
        .pods()
        .delete(&before["node-1"], &DeleteParams::default())
        .await
        .unwrap();
    wait_for("a v2 pod on node-1, v1 left on node-2", WAIT, || async {
        let p = cluster.placement().await;
        let image = |n: &str| p.get(n).filter(|v| v.len() == 1).map(|v| v[0].1.clone());
        (image("node-1").as_deref() == Some("minik/busybox:v2")
            && image("node-2").as_deref() == Some("minik/busybox:v1"))
        .then_some(())
    })
    .await;
    cluster
        .wait_columns(&["2", "2", "2", "1", "2", "<none>"])
        .await;

    // Deleting the DaemonSet takes its pods and ControllerRevisions along.
    cluster.c.kubectl_ok(&["delete", "ds", "agent"]);
    let revisions: Api<ControllerRevision> = Api::namespaced(cluster.c.client.clone(), "default");
    wait_for("pods and revisions gone", WAIT, || async {
        let pods = cluster
            .pods()
            .list(&ListParams::default().labels("app=agent"))
            .await
            .unwrap();
        let revs = revisions.list(&ListParams::default()).await.unwrap();
        (pods.items.is_empty() && revs.items.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_node_agent_runs_in_docker_on_every_node() {
    let Some(mut c) = kubelet_support::KubeletCluster::start_with(|config| {
        config.node_name = "node".into();
        config.nodes = 2;
    })
    .await
    else {
        return;
    };
    let client = c.cluster.client.clone();
    let _controllers = tokio::spawn({
        let client = client.clone();
        async move {
            let _ = minik_controller::run(client, Default::default()).await;
        }
    });
    let _scheduler = tokio::spawn({
        let client = client.clone();
        async move {
            let _ = minik_scheduler::run(minik_scheduler::Config::new(client)).await;
        }
    });
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/daemonset/node-agent.yaml");
    c.cluster
        .kubectl_ok(&["apply", "-f", manifest.to_str().unwrap()]);
    let pods = c.pods();
    let running_on = |want: usize| {
        let pods = pods.clone();
        async move {
            wait_for(&format!("{want} Ready node-agent pods"), WAIT, || async {
                let list = pods
                    .list(&ListParams::default().labels("app=node-agent"))
                    .await
                    .unwrap();
                let mut nodes: Vec<(String, String)> = list
                    .items
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none() && ready(p))
                    .map(|p| {
                        (
                            p.spec.as_ref().unwrap().node_name.clone().unwrap(),
                            p.name_any(),
                        )
                    })
                    .collect();
                nodes.sort();
                (nodes.len() == want).then_some(nodes)
            })
            .await
        }
    };
    let placed = running_on(2).await;
    assert_eq!(
        placed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["node-1", "node-2"]
    );
    let logs = wait_for("the agent's first report", WAIT, || async {
        let out = c.cluster.kubectl(&["logs", &placed[1].1]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("node-agent on node-2: load").then_some(text)
    })
    .await;
    assert!(logs.contains("entries in /var/log"), "{logs}");

    // A third node (another kubelet on the same Docker network) joins.
    let mut config = c.config.clone();
    config.node_name = "node-3".into();
    config.nodes = 1;
    config.root_dir = c.cluster.dir.path().join("kubelet-3");
    let third = minik_kubelet::start(config, client.clone()).await.unwrap();
    let placed = running_on(3).await;
    assert_eq!(placed[2].0, "node-3");
    let out = c
        .cluster
        .kubectl_ok(&["get", "ds", "node-agent", "--no-headers"]);
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(cols[1..6], ["3", "3", "3", "3", "3"], "{out}");
    drop(third);
    c.kubelet.take();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_surge_starts_the_new_pod_before_the_old_one_goes() {
    let cluster = Cluster::start(&["node-1", "node-2", "node-3"]).await;
    cluster
        .create_ds(
            json!({"updateStrategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}}),
            json!({}),
        )
        .await;
    cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v1")
        .await;
    // Throughout the update every node keeps a Ready pod, and no node ever
    // runs more than two.
    let fewest = Arc::new(AtomicUsize::new(usize::MAX));
    let most_on_a_node = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let (fewest, most, stop) = (fewest.clone(), most_on_a_node.clone(), stop.clone());
        let pods = cluster.pods();
        async move {
            while !stop.load(Ordering::SeqCst) {
                let list = pods
                    .list(&ListParams::default().labels("app=agent"))
                    .await
                    .unwrap();
                let mut ready_nodes = BTreeMap::<String, usize>::new();
                let mut all_nodes = BTreeMap::<String, usize>::new();
                for p in &list.items {
                    let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                        continue;
                    };
                    if p.metadata.deletion_timestamp.is_none() {
                        *all_nodes.entry(node.clone()).or_default() += 1;
                        if ready(p) {
                            *ready_nodes.entry(node).or_default() += 1;
                        }
                    }
                }
                fewest.fetch_min(ready_nodes.len(), Ordering::SeqCst);
                most.fetch_max(
                    all_nodes.values().copied().max().unwrap_or(0),
                    Ordering::SeqCst,
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    cluster
        .c
        .kubectl_ok(&["set", "image", "daemonset/agent", "agent=minik/busybox:v2"]);
    cluster
        .c
        .kubectl_ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    cluster
        .wait_placement(&["node-1", "node-2", "node-3"], "minik/busybox:v2")
        .await;
    stop.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    assert_eq!(
        fewest.load(Ordering::SeqCst),
        3,
        "a node lost its Ready pod"
    );
    assert_eq!(
        most_on_a_node.load(Ordering::SeqCst),
        2,
        "a surge pod beside the old one, never more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_adopted_and_relabelled_pods_released() {
    let cluster = Cluster::start(&["node-1", "node-2"]).await;
    // A bare pod on node-1 that matches the selector, made before the DaemonSet.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray", "labels": {"app": "agent"}},
        "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "agent", "image": "minik/busybox:v1",
                                 "command": ["sh", "-c", "sleep 3600"]}]},
    }))
    .unwrap();
    cluster
        .pods()
        .create(&PostParams::default(), &orphan)
        .await
        .unwrap();
    // OnDelete: under RollingUpdate the adopted pod, which lacks the
    // controller-revision-hash label, would count as old and be replaced.
    cluster
        .create_ds(json!({"updateStrategy": {"type": "OnDelete"}}), json!({}))
        .await;
    let placed = cluster
        .wait_placement(&["node-1", "node-2"], "minik/busybox:v1")
        .await;
    assert_eq!(
        placed["node-1"], "stray",
        "the orphan is adopted, not duplicated"
    );
    let stray = cluster.pods().get("stray").await.unwrap();
    let owner = &stray.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("DaemonSet", "agent")
    );

    // Relabelled out of the selector: released, and node-1 gets a daemon pod.
    let patch = json!({"metadata": {"labels": {"app": "debug"}}});
    cluster
        .pods()
        .patch("stray", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_for("a new daemon pod on node-1", WAIT, || async {
        let p = cluster.placement().await;
        p.get("node-1")
            .filter(|pods| pods.len() == 1 && pods[0].0 != "stray")
            .map(|_| ())
    })
    .await;
    let stray = cluster.pods().get("stray").await.unwrap();
    assert!(stray
        .metadata
        .owner_references
        .unwrap_or_default()
        .is_empty());
}
