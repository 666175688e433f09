//! Helpers for the services tests (proxy, DNS, Ingress) without Docker:
//! test-owned backends on loopback addresses, raw HTTP/TCP/UDP clients with
//! timeouts, object helpers, and a bounded wait.
//!
//! Every address used is in 127.0.0.0/8: each test picks its own second
//! octet `R`, serves ClusterIP `10.96.c.d` at `127.R.c.d` (the proxy's
//! `ClusterIpBind::Loopback`) and runs its "pods" at `127.R.1.x`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// `127.r.c.d`.
pub fn lo(r: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, r, c, d))
}

/// Starts minik-proxy in-process for test `r`: ClusterIPs at 127.r.c.d,
/// NodePorts/LoadBalancers on `node_addresses`, Ingress on 127.0.0.1:0
/// (HTTP and HTTPS).
pub async fn start_proxy(
    client: &kube::Client,
    r: u8,
    node_ip: IpAddr,
    node_addresses: Vec<IpAddr>,
) -> minik_proxy::Proxy {
    // Logs with RUST_LOG=minik_proxy=debug (shown for failing tests).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = minik_proxy::Config::new(client.clone());
    config.service_cidr = None;
    config.mode = minik_proxy::ProxyMode::Userspace;
    config.cluster_ips = minik_proxy::plan::ClusterIpBind::Loopback(Ipv4Addr::new(127, r, 0, 0));
    config.node_ip = Some(node_ip);
    config.node_addresses = node_addresses;
    config.ingress_listen = Some("127.0.0.1:0".parse().unwrap());
    config.ingress_tls_listen = Some("127.0.0.1:0".parse().unwrap());
    minik_proxy::start(config).await.expect("proxy starts")
}

/// A test "pod": an HTTP server answering `<name> <method> <path>` and then
/// the request headers, one per line; `Upgrade` requests get a 101 and an
/// echo of whatever follows. Counts requests.
pub struct HttpBackend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<u32>>,
    task: JoinHandle<()>,
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpBackend {
    pub async fn start(name: &str, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("backend binds");
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(0));
        let (n, h) = (name.to_string(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve_http(conn, n.clone(), h.clone()));
            }
        });
        Self {
            name: name.to_string(),
            addr,
            hits,
            task,
        }
    }

    pub fn hits(&self) -> u32 {
        *self.hits.lock().unwrap()
    }
}

async fn serve_http(mut conn: TcpStream, name: String, hits: Arc<Mutex<u32>>) {
    loop {
        let Some(head) = read_head(&mut conn).await else {
            return;
        };
        *hits.lock().unwrap() += 1;
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default().to_string();
        let mut parts = request_line.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let headers: Vec<String> = lines
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let upgrade = headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("upgrade:"));
        if upgrade {
            let _ = conn
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                .await;
            let mut buf = [0u8; 1024];
            while let Ok(n) = conn.read(&mut buf).await {
                if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            return;
        }
        let body = format!("{name} {method} {path}\n{}\n", headers.join("\n"));
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let close = headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("connection: close"));
        if conn.write_all(response.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// Reads an HTTP head (up to the blank line); `None` at EOF.
async fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A UDP test "pod" replying `<name>:<payload>`.
pub struct UdpBackend {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for UdpBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UdpBackend {
    pub async fn start(name: &str, addr: SocketAddr) -> Self {
        let socket = UdpSocket::bind(addr).await.expect("udp backend binds");
        let addr = socket.local_addr().unwrap();
        let name = name.to_string();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let reply = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
                let _ = socket.send_to(reply.as_bytes(), from).await;
            }
        });
        Self { addr, task }
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

impl HttpResponse {
    /// The first word of the body: which backend answered.
    pub fn backend(&self) -> &str {
        self.body.split_whitespace().next().unwrap_or("")
    }

    /// The request line's path as the backend saw it.
    pub fn path(&self) -> &str {
        self.body
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(2))
            .unwrap_or("")
    }

    /// A request header as the backend saw it (lower-case name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.body.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One `GET` with `Connection: close`, 3 s deadline.
pub async fn http_get(addr: SocketAddr, host: &str, path: &str) -> std::io::Result<HttpResponse> {
    let fut = async {
        let mut conn = TcpStream::connect(addr).await?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        conn.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).await?;
        parse_response(&raw)
    };
    tokio::time::timeout(Duration::from_secs(3), fut)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "http_get timed out"))?
}

pub fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no HTTP response: {text:?}"),
        )
    })?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    Ok(HttpResponse {
        status,
        body: body.to_string(),
    })
}

/// Sends `payload` from a fresh socket (a new "client") and waits 2 s for a reply.
pub async fn udp_ask(addr: SocketAddr, payload: &str) -> std::io::Result<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.send_to(payload.as_bytes(), addr).await?;
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no udp reply"))??;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Creates a Service in `default`.
pub async fn create_service(client: &kube::Client, spec: serde_json::Value) -> Service {
    let svc: Service = serde_json::from_value(spec).expect("valid service");
    Api::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .expect("service created")
}

/// Creates or replaces the Endpoints `name` in `default` (server-side
/// apply), and the EndpointSlice the mirroring controller would make of it
/// (minik-proxy and minik-dns read slices; these tests run no controllers).
pub async fn set_endpoints(client: &kube::Client, name: &str, subsets: serde_json::Value) {
    let ep = serde_json::json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name, "namespace": "default"},
        "subsets": subsets
    });
    let api: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    api.patch(
        name,
        &PatchParams::apply("services-test").force(),
        &Patch::Apply(&ep),
    )
    .await
    .expect("endpoints applied");
    let mut endpoints = Vec::new();
    let mut ports = serde_json::json!([]);
    for subset in subsets.as_array().into_iter().flatten() {
        ports = subset["ports"].clone();
        for (list, ready) in [("addresses", true), ("notReadyAddresses", false)] {
            for a in subset[list].as_array().into_iter().flatten() {
                let mut e =
                    serde_json::json!({"addresses": [a["ip"]], "conditions": {"ready": ready}});
                for field in ["hostname", "targetRef", "nodeName"] {
                    if let Some(v) = a.get(field) {
                        e[field] = v.clone();
                    }
                }
                endpoints.push(e);
            }
        }
    }
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-test"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    });
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    slices
        .patch(
            &format!("{name}-test"),
            &PatchParams::apply("services-test").force(),
            &Patch::Apply(&slice),
        )
        .await
        .expect("endpoint slice applied");
}

#[allow(unused_imports)] // not every test binary waits
pub use minik_tests::wait_for;

/// Counts which backend answered `n` requests.
pub async fn spread(addr: SocketAddr, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let r = http_get(addr, "svc", "/").await.expect("request succeeds");
        *counts.entry(r.backend().to_string()).or_insert(0) += 1;
    }
    counts
}

/// The lines of `iptables-save -t nat` that name chains of `prefix`.
pub fn nat_rules(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("iptables-save")
        .args(["-t", "nat"])
        .output()
        .expect("iptables-save");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("{prefix}-")))
        .map(str::to_string)
        .collect()
}
