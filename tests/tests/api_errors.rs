//! Bad input gets a clear error and loses nothing: conflicts (409),
//! invalid and immutable fields (422), unknown kinds (404 naming what is
//! served), malformed and oversized bodies (400/413) — and the server stays up.

use crate::support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::TestCluster;

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Sends a raw request and returns (status code, body).
async fn raw(
    c: &TestCluster,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let r = c.raw(method, path, content_type, body).await;
    (r.code, r.body)
}

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}}}
    }))
    .unwrap()
}

#[tokio::test]
async fn stale_resource_version_is_a_conflict() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let v1 = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"k": "1"}}))
                .unwrap(),
        )
        .await
        .unwrap();
    let mut a = v1.clone();
    a.data.as_mut().unwrap().insert("k".into(), "2".into());
    cms.replace("c", &PostParams::default(), &a).await.unwrap();
    // A second writer still holding v1's resourceVersion loses.
    let mut b = v1.clone();
    b.data.as_mut().unwrap().insert("k".into(), "3".into());
    let e = api_error(
        cms.replace("c", &PostParams::default(), &b)
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "Conflict");
    assert!(
        e.message.contains(
            "the object has been modified; please apply your changes to the latest version"
        ),
        "{}",
        e.message
    );
    assert_eq!(
        cms.get("c").await.unwrap().data.unwrap()["k"],
        "2",
        "the losing write changed nothing"
    );

    let e = api_error(cms.create(&PostParams::default(), &v1).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
}

#[tokio::test]
async fn immutable_and_invalid_fields_are_422() {
    let c = TestCluster::start().await;
    let deploys: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    deploys
        .create(&PostParams::default(), &deployment())
        .await
        .unwrap();
    let e = api_error(
        deploys
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"selector": {"matchLabels": {"app": "other"}}, "template": {"metadata": {"labels": {"app": "other"}}}}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message.contains("spec.selector") && e.message.contains("field is immutable"),
        "{}",
        e.message
    );

    let mut bad = deployment();
    bad.metadata.name = Some("bad".into());
    bad.spec.as_mut().unwrap().replicas = Some(-1);
    let e = api_error(
        deploys
            .create(&PostParams::default(), &bad)
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("Deployment.apps \"bad\" is invalid: spec.replicas: Invalid value: -1"),
        "{}",
        e.message
    );

    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let e = api_error(
        pods.patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"restartPolicy": "Never"}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("pod updates may not change fields other than"),
        "{}",
        e.message
    );

    let nameless: Pod = serde_json::from_value(
        json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c"}]}}),
    )
    .unwrap();
    let e = api_error(
        pods.create(&PostParams::default(), &nameless)
            .await
            .unwrap_err(),
    );
    assert!(
        e.message
            .contains("spec.containers[0].image: Required value"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn unknown_kinds_name_what_is_served() {
    let c = TestCluster::start().await;
    let (code, body) = raw(
        &c,
        "GET",
        "/apis/example.com/v1/frobs",
        "application/json",
        vec![],
    )
    .await;
    assert_eq!(code, 404);
    assert!(
        body["message"].as_str().unwrap().contains("apps/v1"),
        "{body}"
    );
    let (code, body) = raw(
        &c,
        "GET",
        "/api/v1/namespaces/default/frobs",
        "application/json",
        vec![],
    )
    .await;
    assert_eq!(code, 404);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("\"frobs\"") && msg.contains("pods"), "{msg}");
}

#[tokio::test]
async fn malformed_and_oversized_bodies_leave_the_server_up() {
    let c = TestCluster::start().await;
    let (code, body) = raw(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("error decoding JSON body"),
        "{body}"
    );

    let (code, body) = raw(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/yaml",
        b"metadata: [unclosed".to_vec(),
    )
    .await;
    assert_eq!(code, 400);
    assert!(body["message"].as_str().unwrap().contains("YAML"), "{body}");

    let big = json!({"metadata": {"name": "big"}, "data": {"k": "x".repeat(4 * 1024 * 1024)}});
    let (code, body) = raw(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        big.to_string().into_bytes(),
    )
    .await;
    assert_eq!(code, 413, "{body}");

    let (code, _) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/none",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(code, 415);

    // Still serving, store intact.
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "fine"}})).unwrap(),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("big").await.unwrap().is_none());
    assert_eq!(cms.list(&Default::default()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn system_namespaces_exist_and_missing_namespace_is_404() {
    let c = TestCluster::start().await;
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let n = ns.get(name).await.unwrap();
        assert_eq!(n.status.unwrap().phase.as_deref(), Some("Active"));
    }
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "missing");
    let e = api_error(
        cms.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.code, 404);
    assert_eq!(e.message, "namespaces \"missing\" not found");
}

#[tokio::test]
async fn events_k8s_io_and_core_events_are_one_set() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let c = TestCluster::start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .unwrap();
    let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    // kube's Recorder writes events.k8s.io/v1 Events...
    let recorder = Recorder::new(
        c.client.clone(),
        Reporter {
            controller: "test-controller".into(),
            instance: None,
        },
    );
    let reference = kube::Resource::object_ref(&pod, &());
    recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Tested".into(),
                note: Some("recorded through events.k8s.io".into()),
                action: "Test".into(),
                secondary: None,
            },
            &reference,
        )
        .await
        .unwrap();
    // ...which core/v1 readers (kubectl get events, describe) see.
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(c.client.clone(), "default");
    let list = core
        .list(&kube::api::ListParams::default().fields("involvedObject.name=p"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let e = &list.items[0];
    assert_eq!(e.reason.as_deref(), Some("Tested"));
    assert_eq!(e.message.as_deref(), Some("recorded through events.k8s.io"));
    assert_eq!(e.reporting_component.as_deref(), Some("test-controller"));
}
