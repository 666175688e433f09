//! The API-server side of Services: ClusterIP and NodePort allocation
//! (requested values honored, conflicts 422, released on delete, kept across
//! restarts) and the built-in `kubernetes` Service.

use crate::support;

use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use support::TestCluster;

fn svc(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn code(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn cluster_ips_and_node_ports_are_allocated_once() {
    let mut c = TestCluster::start().await;
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "default");

    let web = svcs
        .create(
            &PostParams::default(),
            &svc(
                "web",
                json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
            ),
        )
        .await
        .unwrap();
    let spec = web.spec.unwrap();
    let ip = spec.cluster_ip.unwrap();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(spec.cluster_ips.unwrap(), vec![ip.clone()]);
    assert_eq!(
        spec.ports.unwrap()[0].target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );

    // A requested IP is honored if free, else 422.
    let dns = svcs
        .create(
            &PostParams::default(),
            &svc(
                "dns",
                json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"}]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(dns.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.10"));
    let (status, msg) = code(
        svcs.create(
            &PostParams::default(),
            &svc(
                "dns2",
                json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(status, 422);
    assert!(
        msg.contains("spec.clusterIPs") && msg.contains("already allocated"),
        "{msg}"
    );

    // Headless.
    let headless = svcs
        .create(
            &PostParams::default(),
            &svc(
                "db",
                json!({"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(headless.spec.unwrap().cluster_ip.as_deref(), Some("None"));

    // NodePorts: requested honored, conflicts rejected, others allocated in range.
    let np = svcs
        .create(
            &PostParams::default(),
            &svc("np", json!({"type": "NodePort", "selector": {"app": "web"}, "ports": [{"name": "a", "port": 80, "nodePort": 30001}, {"name": "b", "port": 81}]})),
        )
        .await
        .unwrap();
    let ports = np.spec.unwrap().ports.unwrap();
    assert_eq!(ports[0].node_port, Some(30001));
    let other = ports[1].node_port.unwrap();
    assert!((30000..=32767).contains(&other));
    let (status, msg) = code(
        svcs.create(
            &PostParams::default(),
            &svc(
                "np2",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}]}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(status, 422);
    assert!(
        msg.contains("spec.ports[0].nodePort") && msg.contains("already allocated"),
        "{msg}"
    );

    // Allocations survive a restart...
    c.restart().await;
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "default");
    let (status, _) = code(
        svcs.create(
            &PostParams::default(),
            &svc(
                "dns3",
                json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(status, 422);
    // ...and are released on delete.
    svcs.delete("dns", &DeleteParams::default()).await.unwrap();
    svcs.delete("np", &DeleteParams::default()).await.unwrap();
    svcs.create(
        &PostParams::default(),
        &svc(
            "dns3",
            json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
        ),
    )
    .await
    .unwrap();
    svcs.create(
        &PostParams::default(),
        &svc(
            "np3",
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}]}),
        ),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_service_points_at_the_api_server() {
    let c = TestCluster::start().await;
    let svc = Api::<Service>::namespaced(c.client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let spec = svc.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
    assert_eq!(spec.ports.unwrap()[0].port, 443);
    let ep = Api::<Endpoints>::namespaced(c.client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let subset = &ep.subsets.unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "127.0.0.1");
    let port = c.server.as_ref().unwrap().addr.port() as i32;
    assert_eq!(subset.ports.as_ref().unwrap()[0].port, port);

    let out = c.kubectl_ok(&["get", "svc"]);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..5],
        ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"],
        "{out}"
    );
}
