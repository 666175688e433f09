//! The endpoints controller against an in-process API server: ready and
//! not-ready addresses, named target ports resolved per pod, pods left out
//! (no IP, terminating, not selected), reaction time to a pod becoming
//! ready, no write when nothing changed, Services without a selector left
//! to their user, and the Endpoints removed with its Service.

use crate::support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::lifecycle::{
    self, confirm_deletion, create_pod, pod, set_pod_status, wait_for, Which,
};
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(10);

fn addresses(ep: &Endpoints, ready: bool) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for s in ep.subsets.iter().flatten() {
        let list = if ready {
            &s.addresses
        } else {
            &s.not_ready_addresses
        };
        for a in list.iter().flatten() {
            for p in s.ports.iter().flatten() {
                out.push((a.ip.clone(), p.port));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn endpoints_follow_pods_ready_state_and_named_ports() {
    let cluster = TestCluster::start().await;
    let _controller = lifecycle::start(&cluster.client, Default::default(), &[Which::Endpoints]);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");

    let web = json!({"app": "web"});
    // Two pods serving the named port "http" on different container ports.
    create_pod(
        &pods,
        &pod(
            "web-a",
            web.clone(),
            Some("node-1"),
            &[("http", 8080)],
            json!({}),
        ),
    )
    .await;
    create_pod(
        &pods,
        &pod(
            "web-b",
            web.clone(),
            Some("node-2"),
            &[("http", 9090)],
            json!({}),
        ),
    )
    .await;
    // Selected but without an IP yet, and not selected at all.
    create_pod(
        &pods,
        &pod(
            "web-pending",
            web.clone(),
            None,
            &[("http", 8080)],
            json!({}),
        ),
    )
    .await;
    create_pod(
        &pods,
        &pod(
            "other",
            json!({"app": "other"}),
            Some("node-1"),
            &[("http", 8080)],
            json!({}),
        ),
    )
    .await;
    let a = set_pod_status(&pods, "web-a", Some("10.244.1.10"), true).await;
    set_pod_status(&pods, "web-b", Some("10.244.2.10"), false).await;
    set_pod_status(&pods, "other", Some("10.244.1.99"), true).await;

    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "labels": {"tier": "frontend"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();

    let ep = wait_for("the Endpoints of web", WAIT, || async {
        let ep = endpoints.get_opt("web").await.unwrap()?;
        (addresses(&ep, true).len() + addresses(&ep, false).len() == 2).then_some(ep)
    })
    .await;
    assert_eq!(
        addresses(&ep, true),
        vec![("10.244.1.10".to_string(), 8080)]
    );
    assert_eq!(
        addresses(&ep, false),
        vec![("10.244.2.10".to_string(), 9090)]
    );
    // Different resolved ports: two subsets.
    assert_eq!(ep.subsets.as_ref().unwrap().len(), 2, "{ep:#?}");
    let ready = &ep
        .subsets
        .as_ref()
        .unwrap()
        .iter()
        .find(|s| s.addresses.is_some())
        .unwrap();
    let addr = &ready.addresses.as_ref().unwrap()[0];
    assert_eq!(addr.node_name.as_deref(), Some("node-1"));
    let target = addr.target_ref.as_ref().unwrap();
    assert_eq!(target.kind.as_deref(), Some("Pod"));
    assert_eq!(target.name.as_deref(), Some("web-a"));
    assert_eq!(target.namespace.as_deref(), Some("default"));
    assert_eq!(target.uid, a.metadata.uid);
    let port = &ready.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.protocol.as_deref()),
        (Some("http"), Some("TCP"))
    );
    let labels = ep.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("tier").map(String::as_str), Some("frontend"));
    assert_eq!(
        labels
            .get("endpoints.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpoint-controller")
    );
    assert!(ep
        .metadata
        .annotations
        .unwrap_or_default()
        .contains_key("endpoints.kubernetes.io/last-change-trigger-time"));

    // A pod becoming ready moves to `addresses` within a second.
    let before = Instant::now();
    set_pod_status(&pods, "web-b", Some("10.244.2.10"), true).await;
    let ep = wait_for(
        "web-b ready in the Endpoints",
        Duration::from_secs(1),
        || async {
            let ep = endpoints.get("web").await.unwrap();
            (addresses(&ep, true).len() == 2).then_some(ep)
        },
    )
    .await;
    let reaction = before.elapsed();
    assert!(reaction < Duration::from_secs(1), "took {reaction:?}");
    assert!(addresses(&ep, false).is_empty());

    // A change the Endpoints cannot show (an annotation) writes nothing.
    let rv = ep.metadata.resource_version.clone();
    pods.patch(
        "web-a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"note": "unrelated"}}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        endpoints
            .get("web")
            .await
            .unwrap()
            .metadata
            .resource_version,
        rv
    );

    // A terminating pod leaves (web-a is bound: it stays, Terminating, until its kubelet confirms).
    pods.delete("web-a", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("terminating web-a out of the Endpoints", WAIT, || async {
        let ep = endpoints.get("web").await.unwrap();
        (addresses(&ep, true) == vec![("10.244.2.10".to_string(), 9090)]).then_some(())
    })
    .await;
    assert!(pods
        .get("web-a")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());
    confirm_deletion(&pods, "web-a").await;

    // A pod whose labels stop matching leaves too (the old labels decide which Service to update).
    pods.patch(
        "web-b",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "retired"}}})),
    )
    .await
    .unwrap();
    wait_for("relabelled web-b out of the Endpoints", WAIT, || async {
        let ep = endpoints.get("web").await.unwrap();
        ep.subsets.as_ref().is_none_or(Vec::is_empty).then_some(())
    })
    .await;

    // The Service goes, and its Endpoints with it.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the Endpoints of web deleted", WAIT, || async {
        endpoints
            .get_opt("web")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn endpoints_of_services_without_selector_are_left_to_the_user() {
    let cluster = TestCluster::start().await;
    let _controller = lifecycle::start(&cluster.client, Default::default(), &[Which::Endpoints]);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");

    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "external-db"},
        "spec": {"ports": [{"port": 5432}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let manual: Endpoints = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "external-db"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}],
    }))
    .unwrap();
    let created = endpoints
        .create(&PostParams::default(), &manual)
        .await
        .unwrap();
    // Something that would wake the controller for this namespace: a pod and a Service change.
    create_pod(
        &pods,
        &pod(
            "db",
            json!({"app": "db"}),
            Some("node-1"),
            &[("pg", 5432)],
            json!({}),
        ),
    )
    .await;
    set_pod_status(&pods, "db", Some("10.244.1.20"), true).await;
    services
        .patch(
            "external-db",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();

    // A selector Service in the same namespace proves the controller is running meanwhile.
    let probe: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432, "targetPort": "pg"}]},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &probe)
        .await
        .unwrap();
    wait_for("the Endpoints of db", WAIT, || async {
        let ep = endpoints.get_opt("db").await.unwrap()?;
        (addresses(&ep, true) == vec![("10.244.1.20".to_string(), 5432)]).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let now = endpoints.get("external-db").await.unwrap();
    assert_eq!(
        now.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(
        addresses(&now, true),
        vec![("192.0.2.10".to_string(), 5432)]
    );
    assert!(!now
        .metadata
        .labels
        .unwrap_or_default()
        .contains_key("endpoints.kubernetes.io/managed-by"));

    // A hand edit of a managed Endpoints is put back.
    endpoints
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"subsets": [{"addresses": [{"ip": "203.0.113.1"}], "ports": [{"port": 1}]}]})),
        )
        .await
        .unwrap();
    wait_for("the Endpoints of db restored", WAIT, || async {
        let ep = endpoints.get("db").await.unwrap();
        (addresses(&ep, true) == vec![("10.244.1.20".to_string(), 5432)]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_restarted_controller_rewrites_nothing() {
    let cluster = TestCluster::start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    // Enough pods that listing them takes longer than listing Services.
    for i in 0..300 {
        let name = format!("web-{i}");
        let ip = format!("10.244.{}.{}", i / 200, i % 200 + 2);
        let p = pod(
            &name,
            json!({"app": "web"}),
            Some("node-1"),
            &[("http", 80)],
            json!({}),
        );
        create_pod(&pods, &p).await;
        set_pod_status(&pods, &name, Some(&ip), true).await;
    }
    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();

    let first = lifecycle::start(&cluster.client, Default::default(), &[Which::Endpoints]);
    let ep = wait_for("the Endpoints of web", WAIT, || async {
        let ep = endpoints.get_opt("web").await.unwrap()?;
        (addresses(&ep, true).len() == 300).then_some(ep)
    })
    .await;
    drop(first);

    // A new controller starts from empty caches: it must not write a
    // half-known (say, empty) Endpoints before its caches are filled.
    let _second = lifecycle::start(&cluster.client, Default::default(), &[Which::Endpoints]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let again = endpoints.get("web").await.unwrap();
    assert_eq!(
        again.metadata.resource_version,
        ep.metadata.resource_version
    );
}

/// The EndpointSlice controller alone (no Endpoints are written here, so
/// what kubectl shows comes from the slices): `kubectl get endpointslices`
/// and `kubectl describe service` list the pods, a not-ready pod is in the
/// slice but not among the described endpoints until it is ready, the
/// node's zone is copied, and the slices go with their Service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_slices_follow_pods_and_kubectl_describes_them() {
    let cluster = TestCluster::start().await;
    let _controllers = lifecycle::start(
        &cluster.client,
        Default::default(),
        &[Which::EndpointSlice, Which::GarbageCollector],
    );
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    cluster.kubectl_ok(&[
        "apply",
        "-f",
        &cluster.file(
            "web.yaml",
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n  labels:\n    topology.kubernetes.io/zone: zone-a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n",
        ),
    ]);
    for name in ["web-a", "web-b"] {
        create_pod(
            &pods,
            &pod(
                name,
                json!({"app": "web"}),
                Some("node-1"),
                &[("http", 8080)],
                json!({}),
            ),
        )
        .await;
    }
    set_pod_status(&pods, "web-a", Some("10.1.0.1"), true).await;
    set_pod_status(&pods, "web-b", Some("10.1.0.2"), false).await;
    let listed = |slices: Vec<EndpointSlice>| -> Vec<(String, bool, Option<String>)> {
        let mut out: Vec<_> = slices
            .iter()
            .flat_map(|s| &s.endpoints)
            .map(|e| {
                let ready = e.conditions.as_ref().and_then(|c| c.ready) == Some(true);
                (e.addresses[0].clone(), ready, e.zone.clone())
            })
            .collect();
        out.sort();
        out
    };
    let by_service = kube::api::ListParams::default().labels("kubernetes.io/service-name=web");
    let zone = Some("zone-a".to_string());
    wait_for("a slice with both pods", WAIT, || async {
        let found = listed(slices.list(&by_service).await.ok()?.items);
        (found
            == vec![
                ("10.1.0.1".to_string(), true, zone.clone()),
                ("10.1.0.2".to_string(), false, zone.clone()),
            ])
        .then_some(())
    })
    .await;
    let table = cluster.kubectl_ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
    ]);
    let row = table.lines().nth(1).unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(
        cells.len() == 5
            && cells[0].starts_with("web-")
            && cells[1..4] == ["IPv4", "8080", "10.1.0.1,10.1.0.2"],
        "{table}"
    );
    let endpoints_line = |described: &str| {
        described
            .lines()
            .find(|l| l.starts_with("Endpoints:"))
            .map(|l| l.trim_start_matches("Endpoints:").trim().to_string())
            .unwrap_or_default()
    };
    let described = cluster.kubectl_ok(&["describe", "service", "web"]);
    assert_eq!(endpoints_line(&described), "10.1.0.1:8080", "{described}");
    // The API server publishes its own address for `kubernetes`.
    let described = cluster.kubectl_ok(&["describe", "service", "kubernetes"]);
    assert!(
        endpoints_line(&described).starts_with("127.0.0.1:"),
        "{described}"
    );
    set_pod_status(&pods, "web-b", Some("10.1.0.2"), true).await;
    wait_for("web-b ready in the description", WAIT, || async {
        let described = cluster.kubectl_ok(&["describe", "service", "web"]);
        (endpoints_line(&described) == "10.1.0.1:8080,10.1.0.2:8080").then_some(())
    })
    .await;
    // The slices belong to the Service: deleting it removes them.
    cluster.kubectl_ok(&["delete", "service", "web"]);
    wait_for("the slices garbage-collected", WAIT, || async {
        slices
            .list(&by_service)
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_written_endpoints_are_mirrored_into_slices() {
    let cluster = TestCluster::start().await;
    let _controller = lifecycle::start(
        &cluster.client,
        Default::default(),
        &[Which::EndpointSliceMirroring],
    );
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    let mirrored = || async {
        let lp = ListParams::default().labels(
            "kubernetes.io/service-name=external-db,endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io",
        );
        slices.list(&lp).await.unwrap().items
    };
    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "external-db"},
        "spec": {"ports": [{"name": "pg", "port": 5432}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let manual: Endpoints = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "external-db", "labels": {"team": "data"}},
        "subsets": [{
            "addresses": [{"ip": "192.0.2.10", "hostname": "primary"}],
            "notReadyAddresses": [{"ip": "192.0.2.11"}],
            "ports": [{"name": "pg", "port": 5432}],
        }],
    }))
    .unwrap();
    let created = endpoints
        .create(&PostParams::default(), &manual)
        .await
        .unwrap();

    let ready_of = |s: &EndpointSlice| -> Vec<(String, Option<bool>)> {
        s.endpoints
            .iter()
            .map(|e| {
                (
                    e.addresses[0].clone(),
                    e.conditions.as_ref().and_then(|c| c.ready),
                )
            })
            .collect()
    };
    let slice = wait_for("the mirrored slice", WAIT, || async {
        mirrored().await.into_iter().next()
    })
    .await;
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(
        ready_of(&slice),
        [
            ("192.0.2.10".to_string(), Some(true)),
            ("192.0.2.11".to_string(), Some(false))
        ]
    );
    assert_eq!(slice.endpoints[0].hostname.as_deref(), Some("primary"));
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("pg"), Some(5432), Some("TCP"))
    );
    assert_eq!(slice.labels()["team"], "data");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Endpoints", created.uid().unwrap().as_str())
    );

    // The Endpoints change: so does the slice.
    endpoints
        .patch(
            "external-db",
            &PatchParams::default(),
            &Patch::Merge(json!({"subsets": [{"addresses": [{"ip": "192.0.2.12"}], "ports": [{"name": "pg", "port": 5432}]}]})),
        )
        .await
        .unwrap();
    wait_for("the slice to follow", WAIT, || async {
        let s = mirrored().await;
        (s.len() == 1 && ready_of(&s[0]) == [("192.0.2.12".to_string(), Some(true))]).then_some(())
    })
    .await;

    // A Service with a selector has its slices from pods, not from Endpoints.
    services
        .patch(
            "external-db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"selector": {"app": "db"}}})),
        )
        .await
        .unwrap();
    wait_for("the mirrored slice to go", WAIT, || async {
        mirrored().await.is_empty().then_some(())
    })
    .await;
}
