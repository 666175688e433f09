//! The shared Event recorder (`minik_client::events`) against the API
//! server: a repeat bumps one Event's count (seen by events.k8s.io and core
//! readers alike), and similar events are combined from the tenth message on.

use crate::support;

use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use minik_client::events::{EventRecorder, EventType, COMBINED_PREFIX};
use support::TestCluster;

#[tokio::test]
async fn repeats_are_counted_and_similar_events_combined() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("subject".into());
    let cm = cms.create(&PostParams::default(), &cm).await.unwrap();
    let regarding = cm.object_ref(&());
    let recorder = EventRecorder::new(client.clone(), "test-controller", None);

    for _ in 0..3 {
        recorder
            .publish(
                &regarding,
                EventType::Normal,
                "Synced",
                "same message".into(),
            )
            .await;
    }
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let synced: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Synced"))
        .collect();
    assert_eq!(synced.len(), 1, "{synced:#?}");
    assert_eq!(synced[0].series.as_ref().map(|s| s.count), Some(3));
    assert_eq!(
        synced[0].reporting_controller.as_deref(),
        Some("test-controller")
    );
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let name = synced[0].metadata.name.clone().unwrap();
    assert_eq!(core.get(&name).await.unwrap().count, Some(3));

    for i in 0..12 {
        recorder
            .publish(
                &regarding,
                EventType::Warning,
                "Failed",
                format!("attempt {i}"),
            )
            .await;
    }
    let failed: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Failed"))
        .collect();
    // Nine on their own, then one combined Event counting the other three.
    assert_eq!(failed.len(), 10, "{failed:#?}");
    let combined: Vec<&Event> = failed
        .iter()
        .filter(|e| {
            e.note
                .as_deref()
                .unwrap_or_default()
                .starts_with(COMBINED_PREFIX)
        })
        .collect();
    assert_eq!(combined.len(), 1);
    assert_eq!(combined[0].series.as_ref().map(|s| s.count), Some(3));
    assert_eq!(
        combined[0].note.as_deref(),
        Some(format!("{COMBINED_PREFIX}attempt 11").as_str())
    );
}

/// Each decision's Event names both objects it joins (events.k8s.io
/// `regarding` as Kubernetes records it, `related` the other party): the
/// Deployment's ScalingReplicaSet names its ReplicaSet, the ReplicaSet's
/// SuccessfulCreate the pod it made, the scheduler's Scheduled the Node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decisions_name_the_objects_they_join() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    let sim = support::workloads::SimCluster::start(2, std::time::Duration::from_millis(50)).await;
    let client = sim.c.client.clone();
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}}
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let found = minik_tests::wait_for(
        "the rollout's Events",
        std::time::Duration::from_secs(20),
        || {
            let (pods, events) = (pods.clone(), events.clone());
            async move {
                let pods = pods.list(&ListParams::default()).await.ok()?.items;
                let bound: Vec<(String, String)> = pods
                    .iter()
                    .filter_map(|p| Some((p.name_any(), p.spec.as_ref()?.node_name.clone()?)))
                    .collect();
                let events = events.list(&ListParams::default()).await.ok()?.items;
                let with = |reason: &str| -> Vec<&Event> {
                    events
                        .iter()
                        .filter(|e| e.reason.as_deref() == Some(reason))
                        .collect()
                };
                let (scaling, created, scheduled) = (
                    with("ScalingReplicaSet"),
                    with("SuccessfulCreate"),
                    with("Scheduled"),
                );
                (bound.len() == 2
                    && !scaling.is_empty()
                    && created.len() == 2
                    && scheduled.len() == 2)
                    .then(|| {
                        let own = |e: &&Event| (*e).clone();
                        (
                            bound,
                            scaling.iter().map(own).collect::<Vec<_>>(),
                            created.iter().map(own).collect::<Vec<_>>(),
                            scheduled.iter().map(own).collect::<Vec<_>>(),
                        )
                    })
            }
        },
    )
    .await;
    let (bound, scaling, created, scheduled) = found;
    let kind_name = |r: &Option<k8s_openapi::api::core::v1::ObjectReference>| {
        let r = r.as_ref().expect("related is set");
        (r.kind.clone().unwrap(), r.name.clone().unwrap())
    };
    let rs_names: Vec<String> = created
        .iter()
        .map(|e| e.regarding.as_ref().unwrap().name.clone().unwrap())
        .collect();
    for e in &scaling {
        assert_eq!(e.regarding.as_ref().unwrap().name.as_deref(), Some("web"));
        let (kind, name) = kind_name(&e.related);
        assert_eq!(kind, "ReplicaSet");
        assert!(rs_names.contains(&name), "{name} not among {rs_names:?}");
    }
    for e in &created {
        let (kind, name) = kind_name(&e.related);
        assert_eq!(kind, "Pod");
        // Kubernetes' words, then the cause.
        let note = e.note.as_deref().unwrap_or_default();
        assert!(
            note.starts_with(&format!("Created pod: {name} (ReplicaSet "))
                && note.contains(" replicas, has "),
            "{note}"
        );
        assert!(
            bound.iter().any(|(p, _)| *p == name),
            "{name} is not a pod of web"
        );
    }
    for e in &scheduled {
        let pod = e.regarding.as_ref().unwrap().name.clone().unwrap();
        let (kind, node) = kind_name(&e.related);
        assert_eq!(kind, "Node");
        assert!(
            bound.contains(&(pod.clone(), node.clone())),
            "{pod} on {node}? {bound:?}"
        );
    }
}
