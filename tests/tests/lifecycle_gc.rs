//! The garbage collector against an in-process API server, in the three
//! propagation modes. The owner is a ReplicaSet created by hand (no
//! ReplicaSet controller runs), its dependents pods with ownerReferences
//! written by the test; unbound pods are removed by a DELETE at once, a
//! bound one waits for its (simulated) kubelet as in a real cluster.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::ResourceExt;
use serde_json::json;
use support::lifecycle::{self, confirm_deletion, create_pod, pod, wait_for, Which};
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(10);

async fn owner(rss: &Api<ReplicaSet>, name: &str) -> ReplicaSet {
    let rs: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "busybox:latest"}]},
            },
        },
    }))
    .unwrap();
    rss.create(&PostParams::default(), &rs).await.unwrap()
}

fn owner_ref(
    kind: &str,
    api_version: &str,
    name: &str,
    uid: &str,
    block: bool,
) -> serde_json::Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
           "controller": kind == "ReplicaSet", "blockOwnerDeletion": block})
}

/// A pod owned by `refs`, bound to `node` if given.
async fn dependent(
    pods: &Api<Pod>,
    name: &str,
    node: Option<&str>,
    refs: Vec<serde_json::Value>,
) -> Pod {
    let mut p = pod(name, json!({"app": "web"}), node, &[], json!({}));
    p.metadata.owner_references = Some(serde_json::from_value(json!(refs)).unwrap());
    create_pod(pods, &p).await
}

async fn gone(pods: &Api<Pod>, name: &str) -> bool {
    pods.get_opt(name).await.unwrap().is_none()
}

#[tokio::test]
async fn background_deletion_collects_dependents_whose_owners_are_all_gone() {
    let cluster = TestCluster::start().await;
    let _gc = lifecycle::start(
        &cluster.client,
        Default::default(),
        &[Which::GarbageCollector],
    );
    let rss: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");

    let rs = owner(&rss, "web").await;
    let rs_uid = rs.uid().unwrap();
    let keeper: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "keeper"}})).unwrap();
    let keeper = cms.create(&PostParams::default(), &keeper).await.unwrap();
    let keeper_uid = keeper.uid().unwrap();
    let rs_ref = owner_ref("ReplicaSet", "apps/v1", "web", &rs_uid, true);
    dependent(&pods, "web-1", None, vec![rs_ref.clone()]).await;
    dependent(&pods, "web-2", None, vec![rs_ref.clone()]).await;
    // Two owners: losing one is not enough.
    dependent(
        &pods,
        "shared",
        None,
        vec![
            rs_ref.clone(),
            owner_ref("ConfigMap", "v1", "keeper", &keeper_uid, false),
        ],
    )
    .await;
    // An owner that never existed (a uid nobody has): collected as well.
    let mut orphan_cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "stray"}})).unwrap();
    orphan_cm.metadata.owner_references = Some(
        serde_json::from_value(json!([owner_ref(
            "ReplicaSet",
            "apps/v1",
            "web",
            "no-such-uid",
            false
        )]))
        .unwrap(),
    );
    cms.create(&PostParams::default(), &orphan_cm)
        .await
        .unwrap();

    // While the owner lives, its dependents stay.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!gone(&pods, "web-1").await && !gone(&pods, "shared").await);

    rss.delete("web", &DeleteParams::background())
        .await
        .unwrap();
    // Background: the owner goes at once, the dependents after it.
    assert!(rss.get_opt("web").await.unwrap().is_none());
    wait_for("web-1 and web-2 collected", WAIT, || async {
        (gone(&pods, "web-1").await && gone(&pods, "web-2").await).then_some(())
    })
    .await;
    let shared = wait_for("shared to lose its reference to web", WAIT, || async {
        let p = pods.get("shared").await.unwrap();
        (p.owner_references().len() == 1).then_some(p)
    })
    .await;
    assert_eq!(shared.owner_references()[0].uid, keeper_uid);
    assert!(shared.metadata.deletion_timestamp.is_none());
    wait_for(
        "the ConfigMap with a never-existing owner collected",
        WAIT,
        || async { cms.get_opt("stray").await.unwrap().is_none().then_some(()) },
    )
    .await;
    assert!(cms.get_opt("keeper").await.unwrap().is_some());
}

#[tokio::test]
async fn foreground_deletion_keeps_the_owner_until_blocking_dependents_are_gone() {
    let cluster = TestCluster::start().await;
    let _gc = lifecycle::start(
        &cluster.client,
        Default::default(),
        &[Which::GarbageCollector],
    );
    let rss: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");

    let rs = owner(&rss, "web").await;
    let rs_ref = owner_ref("ReplicaSet", "apps/v1", "web", &rs.uid().unwrap(), true);
    dependent(&pods, "quick", None, vec![rs_ref.clone()]).await;
    // Bound to a node: its deletion waits for the kubelet.
    dependent(&pods, "slow", Some("node-1"), vec![rs_ref.clone()]).await;

    rss.delete("web", &DeleteParams::foreground())
        .await
        .unwrap();
    let marked = rss.get("web").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(marked
        .finalizers()
        .iter()
        .any(|f| f == "foregroundDeletion"));

    wait_for("quick deleted and slow terminating", WAIT, || async {
        let slow = pods.get("slow").await.unwrap();
        (gone(&pods, "quick").await && slow.metadata.deletion_timestamp.is_some()).then_some(())
    })
    .await;
    // The owner waits for its blocking dependent.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let waiting = rss.get_opt("web").await.unwrap();
    assert!(waiting.is_some(), "the owner went before its dependent");

    // The kubelet finishes the pod; then, and only then, the owner goes.
    confirm_deletion(&pods, "slow").await;
    wait_for("the owner removed after its dependents", WAIT, || async {
        rss.get_opt("web").await.unwrap().is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_removes_the_owner_and_keeps_dependents() {
    let cluster = TestCluster::start().await;
    let _gc = lifecycle::start(
        &cluster.client,
        Default::default(),
        &[Which::GarbageCollector],
    );
    let rss: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");

    let rs = owner(&rss, "web").await;
    let rs_ref = owner_ref("ReplicaSet", "apps/v1", "web", &rs.uid().unwrap(), true);
    dependent(&pods, "web-1", None, vec![rs_ref.clone()]).await;
    dependent(&pods, "web-2", None, vec![rs_ref.clone()]).await;

    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    rss.delete("web", &orphan).await.unwrap();
    wait_for("the owner removed", WAIT, || async {
        rss.get_opt("web").await.unwrap().is_none().then_some(())
    })
    .await;
    // Dependents were released before the owner's finalizer went, and stay.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for name in ["web-1", "web-2"] {
        let p = pods.get(name).await.unwrap();
        assert!(p.owner_references().is_empty(), "{name} still owned");
        assert!(p.metadata.deletion_timestamp.is_none(), "{name} deleted");
    }
}
