//! Kubernetes semantics of the API server beyond plain CRUD: watches with
//! selectors (leaving the selector is DELETED), streaming lists with the
//! initial-events-end bookmark, watch timeouts, pagination, field selectors,
//! graceful pod deletion, finalizers and propagation policy, deletecollection.

use crate::support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent,
    WatchParams,
};
use serde_json::json;
use support::TestCluster;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

async fn next_event<S>(stream: &mut S) -> WatchEvent<ConfigMap>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("valid event")
}

#[tokio::test]
async fn watch_with_selector_sees_objects_enter_and_leave() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut w = cms
        .watch(&WatchParams::default().labels("app=web"), &rv)
        .await
        .unwrap()
        .boxed();

    cms.create(&PostParams::default(), &cm("other", json!({"app": "db"})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("web", json!({"app": "web"})))
        .await
        .unwrap();
    match next_event(&mut w).await {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("web")),
        e => panic!("expected ADDED web, got {e:?}"),
    }
    // Moving "other" into the selector is an ADDED; moving "web" out is a DELETED.
    let relabel = |v: &str| Patch::Merge(json!({"metadata": {"labels": {"app": v}}}));
    cms.patch("other", &PatchParams::default(), &relabel("web"))
        .await
        .unwrap();
    match next_event(&mut w).await {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("other")),
        e => panic!("expected ADDED other, got {e:?}"),
    }
    cms.patch("web", &PatchParams::default(), &relabel("gone"))
        .await
        .unwrap();
    match next_event(&mut w).await {
        WatchEvent::Deleted(o) => assert_eq!(o.metadata.name.as_deref(), Some("web")),
        e => panic!("expected DELETED web, got {e:?}"),
    }
}

#[tokio::test]
async fn streaming_list_ends_with_the_initial_events_bookmark() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    for n in ["a", "b"] {
        cms.create(&PostParams::default(), &cm(n, json!({})))
            .await
            .unwrap();
    }
    let mut w = cms
        .watch(&WatchParams::streaming_lists(), "0")
        .await
        .unwrap()
        .boxed();
    let mut names = Vec::new();
    loop {
        match next_event(&mut w).await {
            WatchEvent::Added(o) => names.push(o.metadata.name.unwrap()),
            WatchEvent::Bookmark(b) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                break;
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    names.sort();
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test]
async fn watch_ends_after_timeout_seconds() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let w = cms
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(10), w.try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    assert!(events.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn pagination_and_field_selectors() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    for i in 0..7 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(3);
    let mut pages = 0;
    loop {
        let page = cms.list(&lp).await.unwrap();
        assert!(page.metadata.resource_version.is_some());
        pages += 1;
        names.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 7);
    let one = cms
        .list(&ListParams::default().fields("metadata.name=c3"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let rest = cms
        .list(&ListParams::default().fields("metadata.name!=c3"))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 6);

    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    for (name, node) in [("p1", Some("node-1")), ("p2", None)] {
        let mut p = json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        pods.create(&PostParams::default(), &serde_json::from_value(p).unwrap())
            .await
            .unwrap();
    }
    let unscheduled = pods
        .list(&ListParams::default().fields("spec.nodeName="))
        .await
        .unwrap();
    assert_eq!(
        unscheduled
            .items
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["p2"]
    );
    let on_node = pods
        .list(&ListParams::default().fields("spec.nodeName=node-1,status.phase=Pending"))
        .await
        .unwrap();
    assert_eq!(on_node.items.len(), 1);

    // deletecollection with a selector.
    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().fields("metadata.name!=c0"),
    )
    .await
    .unwrap();
    let left = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        left.items
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["c0"]
    );
}

#[tokio::test]
async fn graceful_pod_deletion_and_binding() {
    let c = TestCluster::start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // The scheduler's way of assigning a node.
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"}, "target": {"kind": "Node", "name": "node-1"}});
    pods.create_subresource::<serde_json::Value, serde_json::Value>(
        "binding",
        "web",
        &PostParams::default(),
        &binding,
    )
    .await
    .unwrap();
    let bound = pods.get("web").await.unwrap();
    assert_eq!(
        bound.spec.as_ref().unwrap().node_name.as_deref(),
        Some("node-1")
    );
    let conditions = bound.status.unwrap().conditions.unwrap();
    assert!(conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True"));
    // Binding twice is a conflict.
    let again = pods
        .create_subresource::<serde_json::Value, serde_json::Value>(
            "binding",
            "web",
            &PostParams::default(),
            &binding,
        )
        .await;
    assert!(
        matches!(again, Err(kube::Error::Api(ref s)) if s.code == 409),
        "{again:?}"
    );

    // A bound pod is only marked: the kubelet confirms with grace 0.
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    let marked = pods.get("web").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(30));
    pods.delete("web", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(pods.get_opt("web").await.unwrap().is_none());
}

#[tokio::test]
async fn finalizers_hold_objects_and_propagation_policy_is_recorded() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = cms.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        cms.get_opt("held").await.unwrap().is_none(),
        "removing the last finalizer deletes the object"
    );

    for (name, policy, finalizer) in [
        ("fg", PropagationPolicy::Foreground, "foregroundDeletion"),
        ("orph", PropagationPolicy::Orphan, "orphan"),
    ] {
        cms.create(&PostParams::default(), &cm(name, json!({})))
            .await
            .unwrap();
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            ..Default::default()
        };
        cms.delete(name, &dp).await.unwrap();
        let o = cms.get(name).await.unwrap();
        assert_eq!(o.metadata.finalizers.unwrap(), vec![finalizer.to_string()]);
    }
    cms.create(&PostParams::default(), &cm("bg", json!({})))
        .await
        .unwrap();
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    cms.delete("bg", &dp).await.unwrap();
    assert!(cms.get_opt("bg").await.unwrap().is_none());
}

#[tokio::test]
async fn namespace_deletion_marks_it_terminating() {
    let c = TestCluster::start().await;
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
    )
    .await
    .unwrap();
    ns.delete("team", &DeleteParams::default()).await.unwrap();
    let t = ns.get("team").await.unwrap();
    assert_eq!(t.status.unwrap().phase.as_deref(), Some("Terminating"));
    // Creating into a terminating namespace is forbidden.
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "team");
    let e = cms
        .create(&PostParams::default(), &cm("x", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(ref s) if s.code == 403 && s.message.contains("being terminated")),
        "{e:?}"
    );
}

#[tokio::test]
async fn pods_with_scheduling_gates_say_why_they_wait() {
    let c = TestCluster::start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "gated"},
        "spec": {"schedulingGates": [{"name": "example.com/wait"}], "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    let cond = &created.status.unwrap().conditions.unwrap()[0];
    assert_eq!(
        (cond.type_.as_str(), cond.status.as_str()),
        ("PodScheduled", "False")
    );
    assert_eq!(cond.reason.as_deref(), Some("SchedulingGated"));
}
