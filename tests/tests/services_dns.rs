//! minik-dns in-process against an in-process API server: every record
//! type through a hickory client over UDP and TCP on a loopback listener,
//! changes visible at once, and forwarding — to a stub upstream resolver
//! this test runs on loopback (no test ever queries the host's resolver).

use crate::services_support;
use crate::support;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::{DnsResponse, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use services_support::{create_service, set_endpoints, wait_for};
use support::TestCluster;
use tokio::net::UdpSocket;

/// Sends one query to `server` (UDP, or TCP when `tcp`).
async fn ask(server: SocketAddr, name: &str, rtype: RecordType, tcp: bool) -> DnsResponse {
    let name = Name::from_str(name).unwrap();
    let provider = TokioRuntimeProvider::new();
    let (mut client, bg) = if tcp {
        let (connect, sender) =
            TcpClientStream::new(server, None, Some(Duration::from_secs(3)), provider);
        let stream = connect.await.expect("tcp connect");
        let (client, bg) = Client::<TokioRuntimeProvider>::new(stream, sender);
        (client, tokio::spawn(bg))
    } else {
        let stream = UdpClientStream::builder(server, provider)
            .with_timeout(Some(Duration::from_secs(3)))
            .build();
        let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
        (client, tokio::spawn(bg))
    };
    let response = client
        .query(name, DNSClass::IN, rtype)
        .await
        .expect("an answer");
    bg.abort();
    response
}

fn data(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

/// A stub upstream resolver on loopback: `example.test.` A → 192.0.2.10,
/// `alias.test.` CNAME → `example.test.`, anything else NXDOMAIN. Counts queries.
async fn stub_upstream() -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::new(
                query.metadata.id,
                MessageType::Response,
                query.metadata.op_code,
            );
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            reply.queries = query.queries.clone();
            let q = &query.queries[0];
            let name = q.name().to_ascii().to_lowercase();
            if name == "example.test." && q.query_type() == RecordType::A {
                reply.answers.push(Record::from_rdata(
                    q.name().clone(),
                    60,
                    RData::A(A::new(192, 0, 2, 10)),
                ));
            } else if name != "example.test." {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), from).await;
        }
    });
    (addr, count, task)
}

async fn start_dns(c: &TestCluster, upstream: SocketAddr, timeout: Duration) -> minik_dns::Dns {
    let mut config = minik_dns::Config::new(c.client.clone());
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.upstreams = vec![upstream];
    config.forward_timeout = timeout;
    minik_dns::start(config).await.expect("dns starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_records_of_every_type_and_forwarding() {
    let c = TestCluster::start().await;
    let (upstream, upstream_queries, _stub) = stub_upstream().await;
    let dns = start_dns(&c, upstream, Duration::from_secs(2)).await;
    let server = dns.addrs[0];

    create_service(
        &c.client,
        json!({"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.20",
            "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]}}),
    )
    .await;
    create_service(
        &c.client,
        json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None",
            "ports": [{"name": "pg", "port": 5432}]}}),
    )
    .await;
    set_endpoints(
        &c.client,
        "db",
        json!([{
            "addresses": [{"ip": "10.244.0.7", "hostname": "db-0"}, {"ip": "10.244.0.8", "hostname": "db-1"}],
            "notReadyAddresses": [{"ip": "10.244.0.9", "hostname": "db-2"}],
            "ports": [{"name": "pg", "port": 5432}]
        }]),
    )
    .await;
    create_service(
        &c.client,
        json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.test"}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "client"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    pods.patch_status(
        "client",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"podIP": "10.244.0.30", "podIPs": [{"ip": "10.244.0.30"}]}}),
        ),
    )
    .await
    .unwrap();

    // Each kind has its own watch: synced once every object is visible
    // (the ExternalName is checked by CNAME, which is not chased upstream).
    wait_for("the zone to sync", Duration::from_secs(5), || async {
        let checks = [
            ("10-244-0-30.default.pod.cluster.local.", RecordType::A),
            ("web.default.svc.cluster.local.", RecordType::A),
            ("db-1.db.default.svc.cluster.local.", RecordType::A),
            ("ext.default.svc.cluster.local.", RecordType::CNAME),
        ];
        for (name, rtype) in checks {
            if ask(server, name, rtype, false).await.answers.is_empty() {
                return None;
            }
        }
        Some(())
    })
    .await;

    for tcp in [false, true] {
        let r = ask(server, "web.default.svc.cluster.local.", RecordType::A, tcp).await;
        assert_eq!(data(&r.answers), ["10.96.0.20"], "tcp={tcp}");
        assert!(r.metadata.authoritative);
    }
    let r = ask(
        server,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
        false,
    )
    .await;
    assert_eq!(
        data(&r.answers),
        ["0 100 80 web.default.svc.cluster.local."]
    );
    let r = ask(server, "20.0.96.10.in-addr.arpa.", RecordType::PTR, false).await;
    assert_eq!(data(&r.answers), ["web.default.svc.cluster.local."]);

    // Headless: ready endpoints only, per-hostname names, SRV per endpoint, PTR.
    let r = ask(
        server,
        "db.default.svc.cluster.local.",
        RecordType::A,
        false,
    )
    .await;
    assert_eq!(data(&r.answers), ["10.244.0.7", "10.244.0.8"]);
    let r = ask(
        server,
        "db-1.db.default.svc.cluster.local.",
        RecordType::A,
        true,
    )
    .await;
    assert_eq!(data(&r.answers), ["10.244.0.8"]);
    let r = ask(
        server,
        "_pg._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
        false,
    )
    .await;
    assert_eq!(
        data(&r.answers),
        [
            "0 50 5432 db-0.db.default.svc.cluster.local.",
            "0 50 5432 db-1.db.default.svc.cluster.local."
        ]
    );
    assert_eq!(r.additionals.len(), 2, "glue for the SRV targets");
    let r = ask(server, "7.0.244.10.in-addr.arpa.", RecordType::PTR, false).await;
    assert_eq!(data(&r.answers), ["db-0.db.default.svc.cluster.local."]);

    // ExternalName: CNAME, chased through the upstream.
    let r = ask(
        server,
        "ext.default.svc.cluster.local.",
        RecordType::A,
        false,
    )
    .await;
    assert_eq!(data(&r.answers), ["192.0.2.10", "example.test."]);

    // Negative answers carry the SOA.
    let r = ask(
        server,
        "nope.default.svc.cluster.local.",
        RecordType::A,
        false,
    )
    .await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    let r = ask(
        server,
        "web.default.svc.cluster.local.",
        RecordType::AAAA,
        false,
    )
    .await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    let r = ask(server, "cluster.local.", RecordType::SOA, false).await;
    assert_eq!(r.answers[0].record_type(), RecordType::SOA);

    // Forwarding: other names go to the upstream; cluster names never do.
    let cluster_only = upstream_queries.load(Ordering::SeqCst);
    assert_eq!(
        cluster_only, 1,
        "only the chased CNAME target went upstream"
    );
    let r = ask(server, "example.test.", RecordType::A, false).await;
    assert_eq!(data(&r.answers), ["192.0.2.10"]);
    assert!(!r.metadata.authoritative);
    assert!(r.metadata.recursion_available);
    let r = ask(server, "missing.test.", RecordType::A, false).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(upstream_queries.load(Ordering::SeqCst), cluster_only + 2);

    // Changes show at once: a deleted service is NXDOMAIN, new endpoints answer.
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "default");
    let t = Instant::now();
    svcs.delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("web to vanish", Duration::from_secs(1), || async {
        let r = ask(
            server,
            "web.default.svc.cluster.local.",
            RecordType::A,
            false,
        )
        .await;
        (r.metadata.response_code == ResponseCode::NXDomain).then_some(())
    })
    .await;
    set_endpoints(
        &c.client,
        "db",
        json!([{"addresses": [{"ip": "10.244.0.9", "hostname": "db-2"}], "ports": [{"name": "pg", "port": 5432}]}]),
    )
    .await;
    wait_for(
        "db to follow its endpoints",
        Duration::from_secs(1),
        || async {
            let r = ask(
                server,
                "db.default.svc.cluster.local.",
                RecordType::A,
                false,
            )
            .await;
            (data(&r.answers) == ["10.244.0.9"]).then_some(())
        },
    )
    .await;
    assert!(t.elapsed() < Duration::from_secs(2));
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_fails_fast_when_the_upstream_is_silent() {
    let c = TestCluster::start().await;
    // An upstream that never answers (bound, silent): the deadline decides.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dns = start_dns(&c, silent.local_addr().unwrap(), Duration::from_millis(500)).await;
    let t = Instant::now();
    let r = ask(dns.addrs[0], "example.test.", RecordType::A, false).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        t.elapsed()
    );
    dns.shutdown().await;
}
