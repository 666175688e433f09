//! `pods/portforward` end to end with real Docker pods: the real kubectl
//! (its default SPDY-over-WebSocket form and, with
//! `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`, plain SPDY/3.1), `svc/<name>`,
//! 10 MB each way with checksums, 20 parallel connections, cleanup in the
//! pod when kubectl is killed, and the kube crate's `Api::portforward`
//! (WebSocket `v4.channel.k8s.io`).
//!
//! Docker is required: these tests fail under CI=true without an engine.

use crate::kubelet_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use kubelet_support::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIG: usize = 10 * 1024 * 1024;

/// A pod serving a 10 MB random file over HTTP on 80 and echoing on 7000.
async fn start_server_pod(c: &KubeletCluster) {
    c.create_pod(json!({
        "metadata": {"name": "pf", "labels": {"app": "pf"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "srv", "image": "busybox:1.35",
            "ports": [{"containerPort": 80}, {"containerPort": 7000}],
            "command": ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && head -c 10485760 /dev/urandom > /www/big && httpd -p 80 -h /www && exec nc -ll -p 7000 -e cat"]
        }]}
    }))
    .await;
    c.wait_pod("pf", Duration::from_secs(60), running_and_ready)
        .await;
    // The file is written before httpd starts; wait for the listener.
    let pod = c.pod("pf").await.unwrap();
    let id = docker_id(&pod, "srv");
    let start = Instant::now();
    while sockets_on_80(&id, "0A") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "httpd never listened"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `kubectl port-forward` in the background; returns it and the local port
/// it reports ("Forwarding from 127.0.0.1:N -> 80").
fn port_forward(c: &KubeletCluster, args: &[&str], websockets: bool) -> (Child, u16) {
    let cache = c.cluster.dir.path().join("kubectl-cache");
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", &c.cluster.kubeconfig)
        .env(
            "KUBECTL_PORT_FORWARD_WEBSOCKETS",
            if websockets { "true" } else { "false" },
        )
        .arg("--cache-dir")
        .arg(&cache)
        // Level 4 logs which dialer negotiated (checked below).
        .arg("-v=4")
        .arg("port-forward")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl is installed");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "kubectl port-forward {args:?} printed nothing: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let port = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected kubectl output: {line}"));
    // Keep draining "Handling connection" lines.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    (child, port)
}

/// One HTTP/1.0 GET through the forward; the body.
async fn get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: pf\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut all))
        .await
        .expect("response within a minute")
        .unwrap();
    let at = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(&all)));
    let status = String::from_utf8_lossy(&all[..at]).into_owned();
    assert!(status.starts_with("HTTP/1.1 200 OK"), "{status}");
    all.split_off(at + 4)
}

fn sha256(data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("data");
    std::fs::write(&f, data).unwrap();
    let out = Command::new("sha256sum").arg(&f).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Random bytes from the kernel, without a crate.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut f = std::fs::File::open("/dev/urandom").unwrap();
    let mut v = vec![0u8; n];
    std::io::Read::read_exact(&mut f, &mut v).unwrap();
    v
}

/// Sends `data` to the pod's echo port through the forward and reads it back.
async fn echo(port: u16, data: Vec<u8>) -> Vec<u8> {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let n = data.len();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.unwrap();
        w
    });
    let mut back = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(60), r.read_exact(&mut back))
        .await
        .expect("echo within a minute")
        .unwrap();
    drop(writer.await.unwrap());
    back
}

/// The pod's TCP sockets on local port 80 in `state` (01 established,
/// 0A listening), IPv4 and IPv6, read inside the pod.
fn sockets_on_80(id: &str, state: &str) -> usize {
    let script = "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; true";
    docker_exec(id, &["sh", "-c", script])
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(":0050") && f[3] == state
        })
        .count()
}

fn established_to_80(id: &str) -> usize {
    sockets_on_80(id, "01")
}

async fn forward_and_check(c: &KubeletCluster, websockets: bool) {
    let pod = c.pod("pf").await.unwrap();
    let id = docker_id(&pod, "srv");
    let (mut kubectl, port) = port_forward(c, &["pod/pf", ":80", ":7000"], websockets);
    let form = if websockets { "websocket" } else { "spdy" };

    // 10 MB from the pod, checksummed on both ends.
    let body = get(port, "/big").await;
    assert_eq!(body.len(), BIG, "{form}: whole file");
    let theirs = docker_exec(&id, &["sha256sum", "/www/big"]);
    assert_eq!(
        theirs.split_whitespace().next().unwrap(),
        sha256(&body),
        "{form}"
    );

    // 20 parallel connections.
    let answers = futures::future::join_all((0..20).map(|_| get(port, "/"))).await;
    for a in answers {
        assert_eq!(a, b"hello\n", "{form}");
    }
    kubectl.kill().unwrap();
    // The form asked for is the form used (no silent fallback).
    let out = kubectl.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        log.contains("negotiated protocol: portforward.k8s.io"),
        websockets,
        "{form}: the tunnelling dialer's log: {log}"
    );
    assert!(!log.contains("fallback"), "{form}: {log}");

    // 10 MB to the pod and back (the echo port), through a fresh forward.
    let (mut kubectl, port) = port_forward(c, &["pod/pf", ":7000"], websockets);
    let data = random_bytes(BIG);
    let back = echo(port, data.clone()).await;
    assert!(back == data, "{form}: the echo differs from what was sent");

    // kubectl killed mid-connection: the pod's side is closed too.
    let (mut kubectl2, port80) = port_forward(c, &["pod/pf", ":80"], websockets);
    let mut idle = TcpStream::connect(("127.0.0.1", port80)).await.unwrap();
    idle.write_all(b"GET / HTTP/1.0\r\n").await.unwrap();
    minik_tests::wait_for("the forwarded connection", Duration::from_secs(10), || {
        let n = established_to_80(&id);
        async move { (n > 0).then_some(()) }
    })
    .await;
    kubectl2.kill().unwrap();
    let _ = kubectl2.wait();
    minik_tests::wait_for(
        "the pod's connection closed after kubectl was killed",
        Duration::from_secs(10),
        || {
            let n = established_to_80(&id);
            async move { (n == 0).then_some(()) }
        },
    )
    .await;
    kubectl.kill().unwrap();
    let _ = kubectl.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_pods_and_services() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    start_server_pod(&c).await;

    forward_and_check(&c, true).await;
    forward_and_check(&c, false).await;

    // svc/<name>: kubectl maps the service port to the pod's target port.
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "pf"},
        "spec": {"selector": {"app": "pf"}, "ports": [{"port": 8080, "targetPort": 80}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(c.cluster.client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    let (mut kubectl, port) = port_forward(&c, &["svc/pf", ":8080"], true);
    assert_eq!(get(port, "/").await, b"hello\n");
    kubectl.kill().unwrap();
    let _ = kubectl.wait();

    // A port nothing listens on: kubectl reports the kubelet's error.
    let (mut kubectl, port) = port_forward(&c, &["pod/pf", ":81"], true);
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    assert!(buf.is_empty());
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while kubectl.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let _ = kubectl.kill();
    let out = kubectl.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error forwarding port 81") && stderr.contains("connection refused"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_crate_port_forward() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    start_server_pod(&c).await;
    let mut pf = c.pods().portforward("pf", &[80, 7000]).await.unwrap();
    let mut http = pf.take_stream(80).unwrap();
    let echo = pf.take_stream(7000).unwrap();
    http.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    // The channel form has no per-port close (v4): read until the body is in.
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        while !response.ends_with(b"hello\n") {
            let n = http.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended early");
            response.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the response");
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.ends_with("hello\n"),
        "{text}"
    );
    let data = random_bytes(1024 * 1024);
    let (mut r, mut w) = tokio::io::split(echo);
    let sent = data.clone();
    let writer = tokio::spawn(async move { w.write_all(&sent).await.unwrap() });
    let mut back = vec![0u8; data.len()];
    tokio::time::timeout(Duration::from_secs(30), r.read_exact(&mut back))
        .await
        .expect("the echo")
        .unwrap();
    writer.await.unwrap();
    assert!(back == data, "the echo differs");
    drop((r, http));
    pf.abort();
}
