//! The namespace controller against an in-process API server: deleting a
//! namespace empties it — every namespaced kind — while it shows phase
//! Terminating and its conditions, waits for a pod still terminating on its
//! (simulated) kubelet, then finalizes it so the API server removes it.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use support::lifecycle::{self, confirm_deletion, create_pod, pod, wait_for, Which};
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn deleting_a_namespace_empties_it_then_removes_it() {
    let cluster = TestCluster::start().await;
    let _controller = lifecycle::start(&cluster.client, Default::default(), &[Which::Namespace]);
    let client = cluster.client.clone();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "shop");
    let services: Api<Service> = Api::namespaced(client.clone(), "shop");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pp = PostParams::default();
    cms.create(
        &pp,
        &serde_json::from_value(json!({"metadata": {"name": "config"}})).unwrap(),
    )
    .await
    .unwrap();
    secrets
        .create(
            &pp,
            &serde_json::from_value(
                json!({"metadata": {"name": "token"}, "stringData": {"k": "v"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    services
        .create(
            &pp,
            &serde_json::from_value(
                json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    deployments
        .create(
            &pp,
            &serde_json::from_value(json!({
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "app", "image": "busybox:latest"}]}},
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    create_pod(&pods, &pod("pending", json!({}), None, &[], json!({}))).await;
    // Bound to a node: it terminates only when its kubelet says so.
    create_pod(
        &pods,
        &pod("running", json!({}), Some("node-1"), &[], json!({})),
    )
    .await;

    namespaces
        .delete("shop", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = namespaces.get("shop").await.unwrap();
    assert_eq!(
        terminating.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Terminating")
    );

    // Everything that can go at once goes; the bound pod lingers, terminating.
    wait_for("the namespace's content deleted", WAIT, || async {
        let empty = cms.get_opt("config").await.unwrap().is_none()
            && secrets.get_opt("token").await.unwrap().is_none()
            && services.get_opt("web").await.unwrap().is_none()
            && deployments.get_opt("web").await.unwrap().is_none()
            && pods.get_opt("pending").await.unwrap().is_none();
        let running = pods.get("running").await.unwrap();
        (empty && running.metadata.deletion_timestamp.is_some()).then_some(())
    })
    .await;
    let ns = wait_for("the NamespaceContentRemaining condition", WAIT, || async {
        let ns = namespaces.get("shop").await.unwrap();
        let remaining = ns
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining" && c.status == "True")?
            .clone();
        Some((ns, remaining))
    })
    .await;
    assert_eq!(ns.1.reason.as_deref(), Some("SomeResourcesRemain"));
    assert_eq!(
        ns.1.message.as_deref(),
        Some("Some resources are remaining: pods. has 1 resource instances")
    );
    assert!(ns.0.metadata.deletion_timestamp.is_some());

    // The kubelet finishes the pod: the namespace goes right after.
    confirm_deletion(&pods, "running").await;
    wait_for("the namespace removed", Duration::from_secs(5), || async {
        namespaces
            .get_opt("shop")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // Other namespaces are untouched.
    assert!(namespaces.get_opt("default").await.unwrap().is_some());
}
