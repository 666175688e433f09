//! The controller-manager shares its informers: every controller reads pods
//! (and every other kind) from one watch per kind, as kube-controller-manager
//! does with its `SharedInformerFactory`. The test counts the watch requests
//! that reach the API server, per path, through a layer on the client.

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::lifecycle::wait_for;
use support::TestCluster;

#[tokio::test]
async fn the_controller_manager_watches_each_kind_once() {
    let cluster = TestCluster::start().await;
    let watches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counter = watches.clone();
    let count_watches =
        tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
            let query = req.uri().query().unwrap_or_default();
            if query
                .split('&')
                .any(|p| p == "watch=true" || p == "watch=1")
            {
                let path = req.uri().path().to_string();
                *counter.lock().unwrap().entry(path).or_default() += 1;
            }
            req
        });
    let config = cluster.client_config().await;
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&count_watches)
        .build();
    let controllers = tokio::spawn(minik_controller::run(client, Default::default()));

    // Every informer lists before it watches; give them all time to.
    for path in ["/api/v1/pods", "/api/v1/namespaces", "/api/v1/configmaps"] {
        wait_for(path, Duration::from_secs(10), || async {
            watches.lock().unwrap().contains_key(path).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = watches.lock().unwrap().clone();
    controllers.abort();
    assert_eq!(seen.get("/api/v1/pods"), Some(&1), "{seen:#?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:#?}");
}
