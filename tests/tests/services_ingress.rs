//! minik-proxy's Ingress controller in-process, without Docker: the seed
//! tutorial's Ingress (applied with the real kubectl) plus a second host,
//! routed to test-owned "pods" on loopback.
//!
//! Covers: two hosts and several paths, `rewrite-target: /`, 404 when
//! nothing matches and the defaultBackend once one exists, 503 for a
//! backend without endpoints, X-Forwarded-* headers, WebSocket upgrade
//! pass-through, status.loadBalancer, IngressClass selection, and Warning
//! events for annotations minik ignores.

use crate::services_support;
use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::Api;
use serde_json::json;
use services_support::*;
use support::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The seed tutorial's "Basic Ingress", verbatim.
const SEED_INGRESS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: api-ingress
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /
spec:
  rules:
  - host: api.mycompany.com
    http:
      paths:
      - path: /users
        pathType: Prefix
        backend:
          service:
            name: user-service
            port:
              number: 5000
      - path: /products
        pathType: Prefix
        backend:
          service:
            name: product-service
            port:
              number: 5001
      - path: /orders
        pathType: Prefix
        backend:
          service:
            name: order-service
            port:
              number: 5002
"#;

/// A second host with an exact path, a prefix, a backend without
/// endpoints, and annotations minik does not implement.
const ADMIN_INGRESS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: admin
  annotations:
    nginx.ingress.kubernetes.io/ssl-redirect: "true"
spec:
  rules:
  - host: admin.mycompany.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: admin-service
            port:
              name: http
      - path: /status
        pathType: Exact
        backend:
          service:
            name: user-service
            port:
              number: 5000
      - path: /orders
        pathType: Prefix
        backend:
          service:
            name: order-service
            port:
              number: 5002
"#;

async fn pod_service(c: &TestCluster, r: u8, name: &str, ip_last: u8, port: i32, port_name: &str) {
    create_service(
        &c.client,
        json!({"metadata": {"name": name}, "spec": {"clusterIP": format!("10.96.1.{ip_last}"),
            "ports": [{"name": port_name, "port": port, "targetPort": 8080}]}}),
    )
    .await;
    set_endpoints(
        &c.client,
        name,
        json!([{"addresses": [{"ip": lo(r, 1, ip_last).to_string()}], "ports": [{"name": port_name, "port": 8080}]}]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_routes_hosts_and_paths_like_ingress_nginx() {
    const R: u8 = 211;
    let c = TestCluster::start().await;
    let _pods = [
        HttpBackend::start("users", SocketAddr::new(lo(R, 1, 1), 8080)).await,
        HttpBackend::start("products", SocketAddr::new(lo(R, 1, 2), 8080)).await,
        HttpBackend::start("admin", SocketAddr::new(lo(R, 1, 3), 8080)).await,
        HttpBackend::start("fallback", SocketAddr::new(lo(R, 1, 4), 8080)).await,
    ];
    let node_ip = lo(R, 255, 1);
    let proxy = start_proxy(&c.client, R, node_ip, vec![node_ip]).await;
    let ingress = proxy.ingress_addr.expect("ingress listener");
    pod_service(&c, R, "user-service", 1, 5000, "").await;
    pod_service(&c, R, "product-service", 2, 5001, "").await;
    pod_service(&c, R, "admin-service", 3, 80, "http").await;
    pod_service(&c, R, "fallback", 4, 80, "").await;
    // order-service exists but has no endpoints.
    create_service(
        &c.client,
        json!({"metadata": {"name": "order-service"}, "spec": {"clusterIP": "10.96.1.5",
            "ports": [{"port": 5002, "targetPort": 8080}]}}),
    )
    .await;
    c.kubectl_ok(&["apply", "-f", &c.file("seed.yaml", SEED_INGRESS)]);
    c.kubectl_ok(&["apply", "-f", &c.file("admin.yaml", ADMIN_INGRESS)]);

    let api = "api.mycompany.com";
    let admin = "admin.mycompany.com";
    let r = wait_for(
        "both ingresses to route",
        Duration::from_secs(5),
        || async {
            let admin_ready = http_get(ingress, admin, "/status").await.ok()?.status == 200;
            let r = http_get(ingress, api, "/users/123").await.ok()?;
            (admin_ready && r.status == 200).then_some(r)
        },
    )
    .await;
    // rewrite-target: / replaces the matched prefix.
    assert_eq!((r.backend(), r.path()), ("users", "/123"));
    let r = http_get(ingress, api, "/products?id=7").await.unwrap();
    assert_eq!((r.backend(), r.path()), ("products", "/?id=7"));
    // Proxy headers.
    assert_eq!(r.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(r.header("x-forwarded-host").as_deref(), Some(api));
    assert_eq!(r.header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(r.header("host").as_deref(), Some(api));
    // Path elements, not string prefixes.
    assert_eq!(http_get(ingress, api, "/usersx").await.unwrap().status, 404);

    // Second host: Exact beats Prefix, no rewrite here, host with a port.
    let r = http_get(ingress, &format!("{admin}:80"), "/status")
        .await
        .unwrap();
    assert_eq!((r.backend(), r.path()), ("users", "/status"));
    let r = http_get(ingress, admin, "/status/x").await.unwrap();
    assert_eq!((r.backend(), r.path()), ("admin", "/status/x"));
    // A backend without ready endpoints: 503.
    let r = http_get(ingress, admin, "/orders/1").await.unwrap();
    assert_eq!(r.status, 503);
    let r = http_get(ingress, api, "/orders").await.unwrap();
    assert_eq!(r.status, 503);
    // Nothing matches: 404 from the default backend.
    let r = http_get(ingress, "unknown.test", "/").await.unwrap();
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "default backend - 404\n")
    );

    // WebSocket upgrade passes through and then carries bytes both ways.
    let mut ws = tokio::net::TcpStream::connect(ingress).await.unwrap();
    ws.write_all(format!("GET /chat HTTP/1.1\r\nHost: {admin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(Duration::from_secs(3), ws.read_exact(&mut b))
            .await
            .expect("101 in time")
            .unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws.write_all(b"ping-frame").await.unwrap();
    let mut echo = [0u8; 10];
    tokio::time::timeout(Duration::from_secs(3), ws.read_exact(&mut echo))
        .await
        .expect("echo in time")
        .unwrap();
    assert_eq!(&echo, b"ping-frame");

    // An Ingress of another controller's class is not served (applied before
    // the catch-all below, so once that routes, this one has been seen).
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "other.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: other\nspec:\n  controller: example.com/other\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: foreign\nspec:\n  ingressClassName: other\n  rules:\n  - host: foreign.test\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: admin-service\n            port:\n              number: 80\n",
        ),
    ]);

    // A defaultBackend catches what nothing else matches.
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "default.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: catch-all\nspec:\n  defaultBackend:\n    service:\n      name: fallback\n      port:\n        number: 80\n",
        ),
    ]);
    wait_for("the default backend", Duration::from_secs(5), || async {
        let r = http_get(ingress, "unknown.test", "/x").await.ok()?;
        (r.backend() == "fallback").then_some(())
    })
    .await;

    // Status: our Ingresses get the node IP; the foreign one does not.
    let ingresses: Api<Ingress> = Api::namespaced(c.client.clone(), "default");
    let ip = wait_for("ingress status", Duration::from_secs(5), || async {
        let i = ingresses.get("api-ingress").await.ok()?;
        i.status?.load_balancer?.ingress?.first()?.ip.clone()
    })
    .await;
    assert_eq!(ip, node_ip.to_string());
    let table = c.kubectl_ok(&["get", "ingress", "api-ingress"]);
    assert!(table.contains(&node_ip.to_string()), "{table}");
    // ... and that address answers, on the listener's port (pods reach the
    // host at the node IP; the configured listener is loopback only).
    let at_node_ip = SocketAddr::new(node_ip, ingress.port());
    let r = http_get(at_node_ip, "unknown.test", "/x").await.unwrap();
    assert_eq!((r.status, r.backend()), (200, "fallback"));
    let tls = proxy.ingress_tls_addr.expect("ingress TLS listener");
    tokio::net::TcpStream::connect(SocketAddr::new(node_ip, tls.port()))
        .await
        .expect("the HTTPS listener is at the node IP too");
    let r = http_get(ingress, "foreign.test", "/").await.unwrap();
    assert_eq!(
        r.backend(),
        "fallback",
        "foreign-class ingress must not route"
    );
    let foreign = ingresses.get("foreign").await.unwrap();
    assert!(foreign
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress)
        .is_none_or(|i| i.is_empty()));

    // Unimplemented annotations: a Warning event, the Ingress still routes.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(c.client.clone(), "default");
    let note = wait_for("an Unsupported warning", Duration::from_secs(5), || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items.into_iter().find_map(|e| {
            (e.type_.as_deref() == Some("Warning")
                && e.regarding.as_ref()?.name.as_deref() == Some("admin"))
            .then(|| e.note.unwrap_or_default())
        })
    })
    .await;
    assert!(note.contains("ssl-redirect"), "{note}");
}

/// An HTTPS GET through the Ingress TLS listener, with `ca_pem` trusted
/// and `sni` as the server name: the response, or why the handshake failed.
async fn https_get(
    addr: SocketAddr,
    ca_pem: &str,
    sni: &str,
    path: &str,
) -> Result<HttpResponse, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let fut = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
        tls.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        // The server may end TLS without close_notify once it has answered.
        let _ = tls.read_to_end(&mut raw).await;
        parse_response(&raw).map_err(|e| e.to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// Ingress TLS as ingress-nginx serves it: `kubectl create secret tls` and
/// an Ingress with `spec.tls`; the HTTPS listener presents the Secret's
/// certificate for its host (SNI), routes like the HTTP listener and says
/// `X-Forwarded-Proto: https`; another name gets the fake certificate
/// (which the client does not trust); a missing Secret is a Warning Event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_tls_serves_each_host_its_certificate() {
    const R: u8 = 212;
    let c = TestCluster::start().await;
    let _pod = HttpBackend::start("shop", SocketAddr::new(lo(R, 1, 1), 8080)).await;
    let node_ip = lo(R, 255, 1);
    let proxy = start_proxy(&c.client, R, node_ip, vec![node_ip]).await;
    let https = proxy.ingress_tls_addr.expect("ingress TLS listener");
    pod_service(&c, R, "shop", 1, 80, "").await;
    let ca = minik_client::pki::Ca::generate("shop-ca").unwrap();
    let issued = ca
        .issue_server("shop.example", &["shop.example".to_string()], &[])
        .unwrap();
    c.kubectl_ok(&[
        "create",
        "secret",
        "tls",
        "shop-tls",
        "--cert",
        &c.file("tls.crt", &issued.cert_pem),
        "--key",
        &c.file("tls.key", &issued.key_pem),
    ]);
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "tls.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\nspec:\n  tls:\n  - hosts: [shop.example]\n    secretName: shop-tls\n  - hosts: [lost.example]\n    secretName: lost-tls\n  rules:\n  - host: shop.example\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: shop\n            port:\n              number: 80\n",
        ),
    ]);
    let ca_pem = ca.pem().cert_pem.clone();
    let r = wait_for(
        "HTTPS with the shop certificate",
        Duration::from_secs(10),
        || async {
            https_get(https, &ca_pem, "shop.example", "/cart")
                .await
                .ok()
        },
    )
    .await;
    assert_eq!((r.status, r.backend(), r.path()), (200, "shop", "/cart"));
    assert_eq!(r.header("x-forwarded-proto").as_deref(), Some("https"));
    // Another name: the fake certificate, which this client does not trust.
    let err = https_get(https, &ca_pem, "other.example", "/")
        .await
        .unwrap_err();
    assert!(err.contains("invalid peer certificate"), "{err}");
    // Plain HTTP still routes the same host.
    let ingress = proxy.ingress_addr.unwrap();
    let r = http_get(ingress, "shop.example", "/").await.unwrap();
    assert_eq!((r.status, r.backend()), (200, "shop"));
    let events = c.kubectl_ok(&["get", "events", "--field-selector", "reason=TLSSecret"]);
    assert!(
        events.contains("Error getting SSL certificate: secret default/lost-tls was not found"),
        "{events}"
    );
}
