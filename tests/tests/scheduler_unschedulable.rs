//! A pod no node can take, against an in-process API server: its
//! FailedScheduling Events and PodScheduled=False condition carry
//! kube-scheduler's exact wording, it is retried when the cluster changes
//! (a repeated message becomes an Event series, as client-go records it),
//! and it is bound — with a `Scheduled` Event — once a fitting node appears.
//! Pods for another scheduler are left alone.

use crate::support;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use support::scheduler::{
    create, node, node_of, pod, start_scheduler, wait_bound, wait_event, wait_pod_scheduled, WAIT,
};
use support::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_explains_itself_and_runs_once_a_node_fits() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Two CPUs, and not on the infra node.
    create(&pods, &pod("web-1", Some("2"), json!({"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["infra"]}]}]}}}})))
    .await;

    // 1. No nodes at all.
    let no_nodes = "no nodes available to schedule pods";
    wait_event(client, "default", "web-1", "FailedScheduling", |n| {
        n == no_nodes
    })
    .await;
    wait_pod_scheduled(&pods, "web-1", "False", "Unschedulable", no_nodes).await;

    // 2. Nodes join, none fits: each new node is a reason to try again.
    node("node-1", "1").create(client).await;
    node("node-2", "1").create(client).await;
    node("infra", "8").create(client).await;
    let expected = "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
        2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
        2 No preemption victims found for incoming pod..";
    let event = wait_event(client, "default", "web-1", "FailedScheduling", |n| {
        n == expected
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.action.as_deref(), Some("Scheduling"));
    assert_eq!(
        event.reporting_controller.as_deref(),
        Some("default-scheduler")
    );
    assert!(event
        .reporting_instance
        .as_deref()
        .is_some_and(|i| i.starts_with("default-scheduler-")));
    wait_pod_scheduled(&pods, "web-1", "False", "Unschedulable", expected).await;

    // 3. A node changes (a new label): another attempt, the same verdict,
    //    recorded as one more occurrence of the same Event.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let event_name = event.metadata.name.clone().unwrap();
    let count = |e: &Event| e.series.as_ref().map_or(1, |s| s.count);
    let seen = count(&events.get(&event_name).await.unwrap());
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            "node-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "web"}}})),
        )
        .await
        .unwrap();
    let repeated = move |e: Option<&Event>| e.is_some_and(|e| count(e) > seen);
    tokio::time::timeout(WAIT, await_condition(events.clone(), &event_name, repeated))
        .await
        .expect("the repeated failure is counted on the same Event")
        .unwrap();

    // 4. A node with room: bound there.
    node("node-3", "4").create(client).await;
    assert_eq!(wait_bound(&pods, "web-1").await, "node-3");
    wait_event(client, "default", "web-1", "Scheduled", |n| {
        n == "Successfully assigned default/web-1 to node-3"
    })
    .await;
    let described = cluster.kubectl_ok(&["describe", "pod", "web-1"]);
    assert!(described.contains("FailedScheduling"), "{described}");
    assert!(
        described.contains("Successfully assigned default/web-1 to node-3"),
        "{described}"
    );
}

#[tokio::test]
async fn pods_for_another_scheduler_are_left_alone() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    node("node-1", "2").create(client).await;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(
        &pods,
        &pod("theirs", None, json!({"schedulerName": "my-scheduler"})),
    )
    .await;
    create(&pods, &pod("ours", None, json!({}))).await;
    assert_eq!(wait_bound(&pods, "ours").await, "node-1");
    // The default scheduler has caught up past "theirs" and left it pending.
    let theirs = pods.get("theirs").await.unwrap();
    assert_eq!(node_of(&theirs), None);
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let about_theirs = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("theirs"))
        .count();
    assert_eq!(about_theirs, 0);
}

#[tokio::test]
async fn a_gated_pod_waits_until_its_scheduling_gates_are_removed() {
    let cluster = TestCluster::start().await;
    let client = &cluster.client;
    node("node-1", "2").create(client).await;
    let _scheduler = start_scheduler(client);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(
        &pods,
        &pod(
            "gated",
            None,
            json!({"schedulingGates": [{"name": "example.com/quota"}]}),
        ),
    )
    .await;
    create(&pods, &pod("free", None, json!({}))).await;
    wait_bound(&pods, "free").await;
    assert_eq!(node_of(&pods.get("gated").await.unwrap()), None);

    pods.patch(
        "gated",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"schedulingGates": null}})),
    )
    .await
    .unwrap();
    assert_eq!(wait_bound(&pods, "gated").await, "node-1");
}
