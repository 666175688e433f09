//! The Rust `kube` client against minik-apiserver: typed CRUD, the four
//! patch types, and `kube::runtime::watcher` through restarts and expiry.

use crate::support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;
use support::TestCluster;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "minik/web:v1", "ports": [{"containerPort": 80}]}]}
    }))
    .unwrap()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}
            }
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn typed_pod_crud_with_all_patch_types() {
    let c = TestCluster::start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");

    let created = pods
        .create(&PostParams::default(), &pod("web-1"))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    let spec = created.spec.as_ref().unwrap();
    // Defaults kube-apiserver applies.
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    assert_eq!(
        spec.containers[0].ports.as_ref().unwrap()[0]
            .protocol
            .as_deref(),
        Some("TCP")
    );
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

    let got = pods.get("web-1").await.unwrap();
    assert_eq!(got.metadata.resource_version, meta.resource_version);
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.metadata.resource_version.is_some());
    assert!(pods
        .list(&ListParams::default().labels("app!=web"))
        .await
        .unwrap()
        .items
        .is_empty());

    // Replace: a labels change is allowed; the image too.
    let mut replaced = got.clone();
    replaced
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("tier".into(), "front".into());
    let replaced = pods
        .replace("web-1", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.labels.unwrap()["tier"], "front");

    // Strategic merge: change one container's image by name, keep its ports.
    let p = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"containers": [{"name": "web", "image": "minik/web:v2"}]}}),
            ),
        )
        .await
        .unwrap();
    let c0 = &p.spec.as_ref().unwrap().containers[0];
    assert_eq!(c0.image.as_deref(), Some("minik/web:v2"));
    assert_eq!(c0.ports.as_ref().unwrap()[0].container_port, 80);

    // Merge patch.
    let p = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"a": "1"}}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.annotations.unwrap()["a"], "1");

    // JSON patch.
    let jp: json_patch_doc::Patch = serde_json::from_value(json!([
        {"op": "add", "path": "/metadata/labels/added", "value": "yes"}
    ]))
    .unwrap();
    let p = pods
        .patch("web-1", &PatchParams::default(), &Patch::Json::<()>(jp))
        .await
        .unwrap();
    assert_eq!(p.metadata.labels.unwrap()["added"], "yes");

    // Server-side apply of an existing object keeps fields it does not mention.
    let p = pods
        .patch(
            "web-1",
            &PatchParams::apply("test-manager"),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "labels": {"applied": "true"}}
            })),
        )
        .await
        .unwrap();
    let labels = p.metadata.labels.unwrap();
    assert_eq!(labels["applied"], "true");
    assert_eq!(labels["app"], "web");
    assert!(p
        .metadata
        .managed_fields
        .unwrap()
        .iter()
        .any(|m| m.manager.as_deref() == Some("test-manager")));

    // An unbound pod is deleted at once.
    pods.delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    let err = pods.get("web-1").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
}

// The same json-patch crate (and version) kube's `Patch::Json` takes.
mod json_patch_doc {
    pub use json_patch::Patch;
}

#[tokio::test]
async fn server_side_apply_creates_absent_objects() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let cm = cms
        .patch(
            "settings",
            &PatchParams::apply("test"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"k": "v"}})),
        )
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["k"], "v");
}

#[tokio::test]
async fn typed_deployment_crud_generation_and_status() {
    let c = TestCluster::start().await;
    let deploys: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let d = deploys
        .create(&PostParams::default(), &deployment("web", 3))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let strategy = spec.strategy.as_ref().unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));

    // A metadata-only change keeps the generation; a spec change bumps it.
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));

    // The status subresource writes only status; the main resource keeps it.
    let mut with_status = d.clone();
    with_status.status =
        Some(serde_json::from_value(json!({"replicas": 5, "readyReplicas": 2})).unwrap());
    with_status.spec.as_mut().unwrap().replicas = Some(9);
    let s = deploys
        .replace_status("web", &PostParams::default(), &with_status)
        .await
        .unwrap();
    assert_eq!(s.status.as_ref().unwrap().ready_replicas, Some(2));
    assert_eq!(
        s.spec.as_ref().unwrap().replicas,
        Some(5),
        "status writes must not change spec"
    );
    let mut main = s.clone();
    main.status = None;
    let m = deploys
        .replace("web", &PostParams::default(), &main)
        .await
        .unwrap();
    assert_eq!(
        m.status.unwrap().ready_replicas,
        Some(2),
        "main-resource writes keep status"
    );

    // Scale subresource.
    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(5));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
    deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(
        deploys.get("web").await.unwrap().spec.unwrap().replicas,
        Some(7)
    );

    deploys
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    assert!(deploys.get_opt("web").await.unwrap().is_none());
}

/// Collects watcher events until `pred` holds for the names seen, or times out.
async fn watch_until(
    stream: &mut (impl futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>>
              + Unpin),
    log: &mut Vec<String>,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(log) {
        let ev = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("watcher timed out; saw {log:?}"))
            .expect("stream continues");
        match ev {
            Ok(watcher::Event::Apply(o)) => log.push(format!("apply:{}", o.metadata.name.unwrap())),
            Ok(watcher::Event::Delete(o)) => {
                log.push(format!("delete:{}", o.metadata.name.unwrap()))
            }
            Ok(watcher::Event::InitApply(o)) => {
                log.push(format!("init:{}", o.metadata.name.unwrap()))
            }
            Ok(watcher::Event::Init) => log.push("relist".into()),
            Ok(watcher::Event::InitDone) => log.push("relisted".into()),
            // Errors (a restarting server) are retried by the watcher's backoff.
            Err(_) => {}
        }
    }
}

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": v}})).unwrap()
}

#[tokio::test]
async fn watcher_sees_changes_and_survives_restart() {
    let mut c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let mut stream = watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut log = Vec::new();
    watch_until(&mut stream, &mut log, |l| {
        l.contains(&"relisted".to_string())
    })
    .await;

    cms.create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap();
    watch_until(&mut stream, &mut log, |l| {
        l.contains(&"apply:a".to_string())
    })
    .await;
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .unwrap();
    watch_until(&mut stream, &mut log, |l| {
        l.iter().filter(|e| *e == "apply:a").count() == 2
    })
    .await;
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    watch_until(&mut stream, &mut log, |l| {
        l.contains(&"delete:a".to_string())
    })
    .await;

    // Restart the server under the watcher; it reconnects and keeps going.
    c.restart().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    cms.create(&PostParams::default(), &cm("after-restart", "1"))
        .await
        .unwrap();
    watch_until(&mut stream, &mut log, |l| {
        l.iter()
            .any(|e| e == "apply:after-restart" || e == "init:after-restart")
    })
    .await;
}

#[tokio::test]
async fn watcher_relists_after_expired_resource_version() {
    // A tiny history so that a few writes push a watcher's position out of it.
    let c = TestCluster::start_with(|cfg| cfg.watch_history = 5).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    Api::<k8s_openapi::api::core::v1::Namespace>::all(c.client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "other"}})).unwrap(),
        )
        .await
        .unwrap();
    let others: Api<ConfigMap> = Api::namespaced(c.client.clone(), "other");
    // Short watches: the watcher reconnects from its last resourceVersion every second.
    let cfg = watcher::Config::default().timeout(1);
    let mut stream = watcher(cms.clone(), cfg).default_backoff().boxed();
    let mut log = Vec::new();
    watch_until(&mut stream, &mut log, |l| {
        l.contains(&"relisted".to_string())
    })
    .await;
    // Changes it does not watch move history past its position.
    for i in 0..20 {
        others
            .create(&PostParams::default(), &cm(&format!("noise-{i}"), "x"))
            .await
            .unwrap();
    }
    cms.create(&PostParams::default(), &cm("wanted", "1"))
        .await
        .unwrap();
    // The next reconnect gets 410 Expired; the watcher relists and finds the object.
    watch_until(&mut stream, &mut log, |l| {
        l.contains(&"init:wanted".to_string())
    })
    .await;
    assert!(
        log.iter().filter(|e| *e == "relist").count() >= 2,
        "expected a relist: {log:?}"
    );
}

#[tokio::test]
async fn raw_watch_from_expired_version_gets_in_stream_410() {
    let c = TestCluster::start_with(|cfg| cfg.watch_history = 2).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    for i in 0..6 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), "x"))
            .await
            .unwrap();
    }
    let req = http::Request::get(format!(
        "{}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1",
        c.url()
    ))
    .body(Vec::new())
    .unwrap();
    let stream = c.client.request_events::<ConfigMap>(req).await.unwrap();
    let events: Vec<_> = stream.take(1).try_collect().await.unwrap();
    match &events[0] {
        kube::api::WatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected an ERROR event, got {other:?}"),
    }
}
