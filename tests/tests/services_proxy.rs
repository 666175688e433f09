//! minik-proxy in-process against an in-process API server, without
//! Docker: Services and Endpoints created by the test point at "pods" the
//! test runs on loopback addresses. ClusterIP 10.96.c.d is served at
//! 127.R.c.d (R = the test's own octet), so no route is needed.
//!
//! Covers: round-robin over ready endpoints only, endpoint changes within
//! a second with the listener kept, no endpoints → refused at once,
//! ClientIP affinity, UDP, NodePort on 127.0.0.1, LoadBalancer listener and
//! status (and kubectl's EXTERNAL-IP), and a resync after an API-server
//! restart that never uses stale endpoints.

use crate::services_support;
use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use serde_json::json;
use services_support::*;
use support::TestCluster;

fn sa(ip: std::net::IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ip_round_robin_readiness_changes_and_no_endpoints() {
    const R: u8 = 201;
    let c = TestCluster::start().await;
    let pods = [
        HttpBackend::start("pod-a", sa(lo(R, 1, 1), 8080)).await,
        HttpBackend::start("pod-b", sa(lo(R, 1, 2), 8080)).await,
        HttpBackend::start("pod-c", sa(lo(R, 1, 3), 8080)).await,
    ];
    let _proxy = start_proxy(&c.client, R, lo(R, 255, 1), vec![lo(R, 255, 1)]).await;
    create_service(
        &c.client,
        json!({"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.50",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
    )
    .await;
    set_endpoints(
        &c.client,
        "web",
        json!([{
            "addresses": [{"ip": lo(R, 1, 1).to_string()}, {"ip": lo(R, 1, 2).to_string()}],
            "notReadyAddresses": [{"ip": lo(R, 1, 3).to_string()}],
            "ports": [{"name": "http", "port": 8080}]
        }]),
    )
    .await;
    let vip = sa(lo(R, 0, 50), 80);
    wait_for(
        "the ClusterIP to answer",
        Duration::from_secs(5),
        || async { http_get(vip, "web", "/").await.ok() },
    )
    .await;

    // Round-robin over the two ready endpoints; the unready one gets nothing.
    let before_c = pods[2].hits();
    let counts = spread(vip, 20).await;
    assert_eq!(counts.get("pod-a"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("pod-b"), Some(&10), "{counts:?}");
    assert_eq!(pods[2].hits(), before_c, "unready endpoint got traffic");

    // pod-c becomes ready, pod-a goes away: visible within a second.
    let changed = Instant::now();
    set_endpoints(
        &c.client,
        "web",
        json!([{
            "addresses": [{"ip": lo(R, 1, 2).to_string()}, {"ip": lo(R, 1, 3).to_string()}],
            "ports": [{"name": "http", "port": 8080}]
        }]),
    )
    .await;
    wait_for("pod-c to get traffic", Duration::from_secs(1), || async {
        let r = http_get(vip, "web", "/").await.ok()?;
        (r.backend() == "pod-c").then_some(())
    })
    .await;
    assert!(changed.elapsed() < Duration::from_secs(1));
    let a_before = pods[0].hits();
    let counts = spread(vip, 10).await;
    assert_eq!(
        pods[0].hits(),
        a_before,
        "removed endpoint got traffic: {counts:?}"
    );
    assert_eq!(counts.len(), 2, "{counts:?}");

    // No ready endpoints: refused at once, not hanging.
    set_endpoints(&c.client, "web", json!([])).await;
    wait_for("the service to refuse", Duration::from_secs(1), || async {
        http_get(vip, "web", "/").await.is_err().then_some(())
    })
    .await;
    let t = Instant::now();
    let err = http_get(vip, "web", "/").await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "refusal took {:?} ({err})",
        t.elapsed()
    );
    assert_ne!(err.kind(), std::io::ErrorKind::TimedOut);

    // Endpoints come back: the same listener serves again.
    set_endpoints(
        &c.client,
        "web",
        json!([{"addresses": [{"ip": lo(R, 1, 1).to_string()}], "ports": [{"name": "http", "port": 8080}]}]),
    )
    .await;
    wait_for("pod-a to be back", Duration::from_secs(1), || async {
        let r = http_get(vip, "web", "/").await.ok()?;
        (r.backend() == "pod-a").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_affinity_udp_and_node_port() {
    const R: u8 = 202;
    let c = TestCluster::start().await;
    let _http = [
        HttpBackend::start("pod-a", sa(lo(R, 1, 1), 8080)).await,
        HttpBackend::start("pod-b", sa(lo(R, 1, 2), 8080)).await,
    ];
    let _udp = [
        UdpBackend::start("udp-a", sa(lo(R, 1, 1), 5353)).await,
        UdpBackend::start("udp-b", sa(lo(R, 1, 2), 5353)).await,
    ];
    let localhost: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let _proxy = start_proxy(&c.client, R, localhost, vec![localhost]).await;
    let both = json!([{
        "addresses": [{"ip": lo(R, 1, 1).to_string()}, {"ip": lo(R, 1, 2).to_string()}],
        "ports": [{"name": "http", "port": 8080}, {"name": "dns", "port": 5353, "protocol": "UDP"}]
    }]);
    create_service(
        &c.client,
        json!({"metadata": {"name": "sticky"}, "spec": {"clusterIP": "10.96.0.60",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
    )
    .await;
    set_endpoints(&c.client, "sticky", both.clone()).await;
    // A NodePort in the range, picked per run so parallel runs do not collide.
    let node_port = 30000 + (std::process::id() % 2700) as i32;
    create_service(
        &c.client,
        json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.61",
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "nodePort": node_port},
                {"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"}]}}),
    )
    .await;
    set_endpoints(&c.client, "np", both).await;

    let sticky = sa(lo(R, 0, 60), 80);
    wait_for("the sticky service", Duration::from_secs(5), || async {
        http_get(sticky, "s", "/").await.ok()
    })
    .await;
    let counts = spread(sticky, 10).await;
    assert_eq!(counts.len(), 1, "ClientIP affinity broke: {counts:?}");

    // NodePort on 127.0.0.1 reaches both endpoints.
    let np = sa(localhost, node_port as u16);
    wait_for("the NodePort", Duration::from_secs(5), || async {
        http_get(np, "np", "/").await.ok()
    })
    .await;
    let counts = spread(np, 4).await;
    assert_eq!(counts.len(), 2, "{counts:?}");

    // UDP through the ClusterIP: each new client session is balanced.
    let dns = sa(lo(R, 0, 61), 53);
    let mut seen = std::collections::HashSet::new();
    for i in 0..4 {
        let reply = udp_ask(dns, &format!("q{i}")).await.expect("udp reply");
        let (who, echo) = reply.split_once(':').unwrap();
        assert_eq!(echo, format!("q{i}"));
        seen.insert(who.to_string());
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_listens_on_the_host_and_reports_its_ip() {
    const R: u8 = 203;
    let c = TestCluster::start().await;
    let _pod = HttpBackend::start("pod-a", sa(lo(R, 1, 1), 8080)).await;
    let node_ip = lo(R, 255, 1);
    let _proxy = start_proxy(&c.client, R, node_ip, vec![node_ip]).await;
    create_service(
        &c.client,
        json!({"metadata": {"name": "shop"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.70",
            "ports": [{"port": 8081, "targetPort": 8080, "nodePort": 30000 + (std::process::id() % 2700) as i32 + 1}]}}),
    )
    .await;
    set_endpoints(
        &c.client,
        "shop",
        json!([{"addresses": [{"ip": lo(R, 1, 1).to_string()}], "ports": [{"port": 8080}]}]),
    )
    .await;
    let r = wait_for("the LoadBalancer port", Duration::from_secs(5), || async {
        http_get(sa(node_ip, 8081), "shop", "/").await.ok()
    })
    .await;
    assert_eq!(r.backend(), "pod-a");
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "default");
    let ip = wait_for("status.loadBalancer", Duration::from_secs(5), || async {
        let s = svcs.get("shop").await.ok()?;
        let ingress = s.status?.load_balancer?.ingress?;
        ingress.first()?.ip.clone()
    })
    .await;
    assert_eq!(ip, node_ip.to_string());
    let table = c.kubectl_ok(&["get", "svc", "shop"]);
    assert!(
        table.contains(&node_ip.to_string()),
        "EXTERNAL-IP missing:\n{table}"
    );
    assert!(!table.contains("<pending>"), "{table}");

    // A second LoadBalancer on the same port cannot have it: stays pending, with a Warning.
    create_service(
        &c.client,
        json!({"metadata": {"name": "clash"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.71",
            "ports": [{"port": 8081, "targetPort": 8080, "nodePort": 30000 + (std::process::id() % 2700) as i32 + 2}]}}),
    )
    .await;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(c.client.clone(), "default");
    let note = wait_for(
        "a SyncLoadBalancerFailed event",
        Duration::from_secs(5),
        || async {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.into_iter().find_map(|e| {
                (e.reason.as_deref() == Some("SyncLoadBalancerFailed")
                    && e.regarding.as_ref()?.name.as_deref() == Some("clash"))
                .then(|| e.note.unwrap_or_default())
            })
        },
    )
    .await;
    assert!(note.contains("default/shop"), "{note}");
    let clash = svcs.get("clash").await.unwrap();
    let lb = clash
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress);
    assert!(lb.as_ref().is_none_or(|i| i.is_empty()), "{lb:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_after_api_server_restart_drops_stale_endpoints() {
    const R: u8 = 204;
    let mut c = TestCluster::start().await;
    let _pods = [
        HttpBackend::start("pod-a", sa(lo(R, 1, 1), 8080)).await,
        HttpBackend::start("pod-b", sa(lo(R, 1, 2), 8080)).await,
    ];
    let _proxy = start_proxy(&c.client, R, lo(R, 255, 1), vec![lo(R, 255, 1)]).await;
    create_service(
        &c.client,
        json!({"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.80",
            "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
    set_endpoints(
        &c.client,
        "web",
        json!([{"addresses": [{"ip": lo(R, 1, 1).to_string()}, {"ip": lo(R, 1, 2).to_string()}],
            "ports": [{"port": 8080}]}]),
    )
    .await;
    let vip = sa(lo(R, 0, 80), 80);
    wait_for("the service", Duration::from_secs(5), || async {
        http_get(vip, "web", "/").await.ok()
    })
    .await;

    c.restart().await;
    // Traffic keeps flowing on the cached endpoints while watches reconnect,
    // and a change made right after the restart wins once they re-list.
    set_endpoints(
        &c.client,
        "web",
        json!([{"addresses": [{"ip": lo(R, 1, 2).to_string()}], "ports": [{"port": 8080}]}]),
    )
    .await;
    wait_for(
        "only pod-b after the resync",
        Duration::from_secs(10),
        || async {
            let counts = spread(vip, 4).await;
            (counts.len() == 1 && counts.contains_key("pod-b")).then_some(())
        },
    )
    .await;
    let counts = spread(vip, 10).await;
    assert_eq!(
        counts.get("pod-b"),
        Some(&10),
        "stale endpoint used: {counts:?}"
    );
}
