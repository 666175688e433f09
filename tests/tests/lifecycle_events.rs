//! The shared Event recorder (`minik_client::events`) against the API
//! server: a repeat bumps one Event's count (seen by events.k8s.io and core
//! readers alike), and similar events are combined from the tenth message on.

use crate::support;

use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::Resource;
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
