//! Where minik-scheduler puts pods, against an in-process API server with
//! nodes registered by the test: by resource requests (a burst fills one
//! node, the rest wait, a new node takes them), least-allocated scoring,
//! nodeSelector and every node affinity operator, taints and tolerations
//! (with cordoned and NotReady nodes), hostPort conflicts, spreading of
//! one owner's pods across nodes, inter-pod affinity and anti-affinity, and
//! topology spread constraints across zones.

use crate::support;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use serde_json::json;
use support::scheduler::{
    create, node, owned_by, pod, pod_scheduled, start_scheduler, wait_bound, wait_event,
    wait_pod_scheduled,
};
use support::TestCluster;

const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

#[tokio::test]
async fn a_burst_fills_a_node_by_requests_then_waits_for_the_next() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    let _scheduler = start_scheduler(client);
    node("node-1", "1").create(client).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Four 400m pods at once: the assumed-pod cache lets only two onto the
    // 1-CPU node even though their bindings are still in flight.
    for i in 1..=4 {
        create(&pods, &pod(&format!("web-{i}"), Some("400m"), json!({}))).await;
    }
    // Each pod either gets Scheduled or fails for lack of CPU (a failure
    // for another reason — the node's status not seen yet — is retried).
    let insufficient = format!(
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 {NO_VICTIMS}.."
    );
    let mut bound = Vec::new();
    let mut waiting = Vec::new();
    for i in 1..=4 {
        let name = format!("web-{i}");
        let failed = wait_event(client, "default", &name, "FailedScheduling", |n| {
            n == insufficient
        });
        let scheduled = wait_event(client, "default", &name, "Scheduled", |_| true);
        tokio::select! {
            _ = failed => waiting.push(name),
            e = scheduled => bound.push((name, e.note.unwrap())),
        }
    }
    assert_eq!(bound.len(), 2, "bound: {bound:?}, waiting: {waiting:?}");
    for (name, note) in &bound {
        assert_eq!(
            note,
            &format!("Successfully assigned default/{name} to node-1")
        );
    }
    for name in &waiting {
        wait_pod_scheduled(&pods, name, "False", "Unschedulable", &insufficient).await;
    }

    // A second node appears: the waiting pods are retried at once and fit there.
    node("node-2", "1").create(client).await;
    for name in &waiting {
        assert_eq!(wait_bound(&pods, name).await, "node-2");
        let pod = pods.get(name).await.unwrap();
        assert_eq!(pod_scheduled(&pod).unwrap().0, "True");
    }
}

#[tokio::test]
async fn least_allocated_prefers_the_node_with_room() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    node("small", "1").create(client).await;
    node("big", "8").create(client).await;
    // Started after the nodes are registered: its first list has them all.
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(&pods, &pod("p", Some("500m"), json!({}))).await;
    assert_eq!(wait_bound(&pods, "p").await, "big");
}

#[tokio::test]
async fn node_selector_and_node_affinity_operators() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    node("a", "2")
        .label("disk", "ssd")
        .label("cores", "8")
        .create(client)
        .await;
    node("b", "2")
        .label("disk", "hdd")
        .label("cores", "2")
        .create(client)
        .await;
    node("c", "2")
        .label("gpu", "true")
        .label("cores", "4")
        .create(client)
        .await;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let required = |terms: serde_json::Value| {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": terms}}}})
    };
    let expr = |key: &str, op: &str, values: &[&str]| {
        if values.is_empty() {
            json!({"key": key, "operator": op})
        } else {
            json!({"key": key, "operator": op, "values": values})
        }
    };
    let cases = [
        (
            "selector",
            json!({"nodeSelector": {"disk": "ssd"}}),
            vec!["a"],
        ),
        (
            "in",
            required(json!([{"matchExpressions": [expr("disk", "In", &["hdd"])]}])),
            vec!["b"],
        ),
        // NotIn also admits nodes without the label.
        (
            "notin",
            required(json!([{"matchExpressions": [expr("disk", "NotIn", &["ssd", "hdd"])]}])),
            vec!["c"],
        ),
        (
            "exists",
            required(json!([{"matchExpressions": [expr("gpu", "Exists", &[])]}])),
            vec!["c"],
        ),
        // Expressions of one term are ANDed.
        (
            "and",
            required(
                json!([{"matchExpressions": [expr("gpu", "DoesNotExist", &[]), expr("cores", "Gt", &["5"])]}]),
            ),
            vec!["a"],
        ),
        (
            "lt",
            required(json!([{"matchExpressions": [expr("cores", "Lt", &["3"])]}])),
            vec!["b"],
        ),
        // Terms are ORed.
        (
            "or",
            required(json!([
            {"matchExpressions": [expr("gpu", "Exists", &[])]},
            {"matchExpressions": [expr("disk", "In", &["hdd"])]}])),
            vec!["b", "c"],
        ),
        (
            "fields",
            required(json!([{"matchFields": [expr("metadata.name", "In", &["b"])]}])),
            vec!["b"],
        ),
    ];
    for (name, extra, _) in &cases {
        create(&pods, &pod(name, Some("100m"), extra.clone())).await;
    }
    for (name, _, allowed) in &cases {
        let node = wait_bound(&pods, name).await;
        assert!(
            allowed.contains(&node.as_str()),
            "{name} went to {node}, expected one of {allowed:?}"
        );
    }

    create(
        &pods,
        &pod("nowhere", None, json!({"nodeSelector": {"disk": "nvme"}})),
    )
    .await;
    let expected = format!(
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}.."
    );
    wait_event(client, "default", "nowhere", "FailedScheduling", |n| {
        n == expected
    })
    .await;
}

#[tokio::test]
async fn taints_tolerations_cordoned_and_not_ready_nodes() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    node("gpu", "2")
        .taint("dedicated", "gpu", "NoSchedule")
        .create(client)
        .await;
    node("drain", "2")
        .taint("maintenance", "", "NoExecute")
        .create(client)
        .await;
    node("soft", "2")
        .taint("spot", "", "PreferNoSchedule")
        .create(client)
        .await;
    node("cordoned", "2").cordoned().create(client).await;
    node("sick", "2").ready("False").create(client).await;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // PreferNoSchedule does not filter: the only node a plain pod may use.
    create(&pods, &pod("plain", Some("100m"), json!({}))).await;
    // Tolerating a hard taint opens that node, and it then scores higher
    // than the node with an untolerated PreferNoSchedule taint.
    create(
        &pods,
        &pod(
            "gpu-job",
            Some("100m"),
            json!({"tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        ),
    )
    .await;
    create(
        &pods,
        &pod(
            "drainer",
            Some("100m"),
            json!({"tolerations": [
        {"key": "maintenance", "operator": "Exists", "effect": "NoExecute"}]}),
        ),
    )
    .await;
    // Tolerating node.kubernetes.io/unschedulable overrides a cordon.
    create(
        &pods,
        &pod(
            "rescuer",
            Some("100m"),
            json!({
        "nodeSelector": {"kubernetes.io/hostname": "cordoned"},
        "tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]}),
        ),
    )
    .await;
    assert_eq!(wait_bound(&pods, "plain").await, "soft");
    assert_eq!(wait_bound(&pods, "gpu-job").await, "gpu");
    assert_eq!(wait_bound(&pods, "drainer").await, "drain");
    assert_eq!(wait_bound(&pods, "rescuer").await, "cordoned");

    // A pod pinned to the gpu node without the toleration: every node
    // refuses, each for the first filter that fails there.
    create(
        &pods,
        &pod(
            "pinned",
            Some("100m"),
            json!({"nodeSelector": {"kubernetes.io/hostname": "gpu"}}),
        ),
    )
    .await;
    let expected = format!(
        "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint {{dedicated: gpu}}, \
             1 node(s) had untolerated taint {{maintenance: }}, \
             1 node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}, \
             1 node(s) were unschedulable. preemption: 0/5 nodes are available: 5 {NOT_HELPFUL}.."
    );
    wait_event(client, "default", "pinned", "FailedScheduling", |n| {
        n == expected
    })
    .await;
}

#[tokio::test]
async fn host_ports_conflict_until_the_holder_goes() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    node("n1", "2").create(client).await;
    node("n2", "2").create(client).await;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let port = |protocol: &str| {
        json!({"containers": [{"name": "main", "image": "busybox:1.35",
            "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": protocol}]}]})
    };

    create(&pods, &pod("first", None, port("TCP"))).await;
    let first = wait_bound(&pods, "first").await;
    create(&pods, &pod("second", None, port("TCP"))).await;
    let second = wait_bound(&pods, "second").await;
    assert_ne!(first, second, "one pod per node can hold TCP 8080");
    // Another protocol on the same port is a different port.
    create(&pods, &pod("udp", None, port("UDP"))).await;
    wait_bound(&pods, "udp").await;

    create(&pods, &pod("third", None, port("TCP"))).await;
    let expected = format!(
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. \
         preemption: 0/2 nodes are available: 2 {NO_VICTIMS}.."
    );
    wait_event(client, "default", "third", "FailedScheduling", |n| {
        n == expected
    })
    .await;
    wait_pod_scheduled(&pods, "third", "False", "Unschedulable", &expected).await;

    // Deleting an assigned pod frees its port and wakes the waiting pod.
    pods.delete("first", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(wait_bound(&pods, "third").await, first);
}

#[tokio::test]
async fn one_owners_pods_spread_across_nodes() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    // Unequal nodes: least-allocated alone would favour "big".
    node("big", "16").create(client).await;
    node("small-1", "2").create(client).await;
    node("small-2", "2").create(client).await;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let mut per_node: HashMap<String, usize> = HashMap::new();
    for i in 0..6 {
        let name = format!("web-{i}");
        create(
            &pods,
            &pod(&name, Some("100m"), json!({"metadata": owned_by("rs-web")})),
        )
        .await;
        *per_node.entry(wait_bound(&pods, &name).await).or_default() += 1;
    }
    let expected: HashMap<String, usize> = [("big", 2), ("small-1", 2), ("small-2", 2)]
        .map(|(n, c)| (n.to_string(), c))
        .into();
    assert_eq!(per_node, expected);

    // Pods without an owner are not spread: they go where there is most room.
    for i in 0..3 {
        let name = format!("loner-{i}");
        create(&pods, &pod(&name, Some("100m"), json!({}))).await;
        assert_eq!(wait_bound(&pods, &name).await, "big");
    }
}

#[tokio::test]
async fn inter_pod_affinity_and_anti_affinity() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    const ZONE: &str = "topology.kubernetes.io/zone";
    for (name, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
        node(name, "4").label(ZONE, zone).create(client).await;
    }
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let term = |app: &str, key: &str| json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key});
    let labels = |app: &str| json!({"labels": {"app": app}});

    // Three replicas that refuse to share a node: one per node, like a
    // highly available Deployment (the tutorials' spreading lesson).
    let web = |i: usize| {
        pod(
            &format!("web-{i}"),
            Some("100m"),
            json!({"metadata": labels("web"), "affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [term("web", "kubernetes.io/hostname")]}}}),
        )
    };
    let mut nodes = Vec::new();
    for i in 0..3 {
        create(&pods, &web(i)).await;
        nodes.push(wait_bound(&pods, &format!("web-{i}")).await);
    }
    nodes.sort();
    assert_eq!(nodes, ["a", "b", "c"]);
    // A fourth has nowhere to go, and says why in kube-scheduler's words.
    create(&pods, &web(3)).await;
    let expected = format!(
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/3 nodes are available: 3 {NO_VICTIMS}.."
    );
    wait_event(client, "default", "web-3", "FailedScheduling", |n| {
        n == expected
    })
    .await;

    // Affinity: a pod that must share a zone with the cache goes to z2.
    assert_eq!(
        nodes_of(&pods, "web").await.len(),
        4,
        "the fourth waits unbound"
    );
    create(
        &pods,
        &pod(
            "cache",
            Some("100m"),
            json!({"metadata": labels("cache"), "nodeSelector": {"kubernetes.io/hostname": "c"}}),
        ),
    )
    .await;
    assert_eq!(wait_bound(&pods, "cache").await, "c");
    create(
        &pods,
        &pod(
            "near-cache",
            Some("100m"),
            json!({"affinity": {"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term("cache", ZONE)]}}}),
        ),
    )
    .await;
    assert_eq!(wait_bound(&pods, "near-cache").await, "c");

    // A placed pod's anti-affinity keeps others away from it (symmetry):
    // a "guard" on b refuses batch pods in its zone, so a batch pod avoids z1.
    create(
        &pods,
        &pod("guard", Some("100m"), json!({"nodeSelector": {"kubernetes.io/hostname": "b"},
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("batch", ZONE)]}}})),
    )
    .await;
    assert_eq!(wait_bound(&pods, "guard").await, "b");
    create(
        &pods,
        &pod("batch", Some("100m"), json!({"metadata": labels("batch")})),
    )
    .await;
    assert_eq!(wait_bound(&pods, "batch").await, "c");
}

/// The nodes the pods labelled `app` run on.
async fn nodes_of(pods: &Api<Pod>, app: &str) -> Vec<String> {
    let lp = kube::api::ListParams::default().labels(&format!("app={app}"));
    pods.list(&lp)
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| support::scheduler::node_of(p).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn topology_spread_constraints_even_out_zones() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    const ZONE: &str = "topology.kubernetes.io/zone";
    for (name, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
        node(name, "4").label(ZONE, zone).create(client).await;
    }
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let spread = |name: &str, key: &str| {
        pod(
            name,
            Some("100m"),
            json!({"metadata": {"labels": {"app": "web"}}, "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
                 "labelSelector": {"matchLabels": {"app": "web"}}}]}),
        )
    };
    // Two zones of unequal size still get two pods each: z2's one node
    // takes as many as z1's two.
    let mut by_zone: HashMap<&str, u32> = HashMap::new();
    for i in 0..4 {
        let name = format!("web-{i}");
        create(&pods, &spread(&name, ZONE)).await;
        let node = wait_bound(&pods, &name).await;
        *by_zone
            .entry(if node == "c" { "z2" } else { "z1" })
            .or_default() += 1;
    }
    assert_eq!(by_zone, HashMap::from([("z1", 2), ("z2", 2)]));
    // A constraint on a key no node has leaves the pod Pending, saying so.
    create(&pods, &spread("racked", "rack")).await;
    let expected = format!(
        "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints (missing required label). \
         preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}.."
    );
    wait_event(client, "default", "racked", "FailedScheduling", |n| {
        n == expected
    })
    .await;
}
