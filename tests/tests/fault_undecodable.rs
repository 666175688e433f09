//! One object that does not decode stops nothing: the controller-manager's
//! informer skips it with a Warning `FailedDecode` Event and every other
//! Deployment is still reconciled.
//!
//! The API server now type-checks every write, so such an object cannot be
//! created through it (an old store or a newer version of a kind could still
//! hold one). The test makes one anyway on the controller's side of the wire:
//! a layer on the controller's client rewrites one Deployment's
//! `"minReadySeconds":42` into `"minReadySeconds":"three"` in every
//! response it receives, lists and watch events alike.

use crate::support;

use std::time::Duration;

use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::lifecycle::{events_about, wait_for};
use support::TestCluster;

const MARKER: &[u8] = b"\"minReadySeconds\":42";
const CORRUPTED: &[u8] = b"\"minReadySeconds\":\"three\"";

fn deployment(name: &str, replicas: i32, min_ready: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }))
    .unwrap()
}

/// `data` with every occurrence of [`MARKER`] replaced by [`CORRUPTED`].
fn corrupt(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(MARKER) {
            out.extend_from_slice(CORRUPTED);
            i += MARKER.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Whether `name` has been synced at its current generation with `replicas`
/// pods asked of its ReplicaSet.
async fn synced(client: &kube::Client, name: &str, replicas: i32) -> bool {
    let d: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let d = d.get(name).await.unwrap();
    let observed = d.status.as_ref().and_then(|s| s.observed_generation);
    let sets = rs
        .list(&ListParams::default().labels(&format!("app={name}")))
        .await
        .unwrap();
    observed == d.metadata.generation
        && sets
            .items
            .iter()
            .any(|r| r.spec.as_ref().and_then(|s| s.replicas) == Some(replicas))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_deployment_is_skipped_with_an_event() {
    let cluster = TestCluster::start().await;
    let deploys: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    deploys
        .create(&PostParams::default(), &deployment("broken", 1, 42))
        .await
        .unwrap();
    for i in 0..3 {
        deploys
            .create(
                &PostParams::default(),
                &deployment(&format!("web-{i}"), 2, 0),
            )
            .await
            .unwrap();
    }

    let corrupting =
        tower::util::MapResponseLayer::new(|resp: http::Response<Box<kube::client::DynBody>>| {
            resp.map(|body| {
                body.map_frame(|frame| frame.map_data(|data| bytes::Bytes::from(corrupt(&data))))
            })
        });
    let config = cluster.client_config().await;
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&corrupting)
        .build();
    let controllers = tokio::spawn(minik_controller::run(client, Default::default()));

    for i in 0..3 {
        let name = format!("web-{i}");
        wait_for(
            &format!("{name} synced"),
            Duration::from_secs(15),
            || async { synced(&cluster.client, &name, 2).await.then_some(()) },
        )
        .await;
    }
    // The informer keeps watching past the bad object.
    deploys
        .patch(
            "web-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    wait_for("web-0 scaled", Duration::from_secs(15), || async {
        synced(&cluster.client, "web-0", 3).await.then_some(())
    })
    .await;
    let events = wait_for("a FailedDecode event", Duration::from_secs(15), || async {
        let events = events_about(&cluster.client, "default", "broken").await;
        events
            .iter()
            .any(|(reason, _)| reason == "FailedDecode")
            .then_some(events)
    })
    .await;
    assert!(
        events.iter().any(|(_, note)| note.contains("three")),
        "{events:?}"
    );
    // Never synced: the controller never saw it.
    let broken = deploys.get("broken").await.unwrap();
    assert_eq!(broken.status.and_then(|s| s.observed_generation), None);
    controllers.abort();
}
