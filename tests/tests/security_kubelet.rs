//! The kubelet's port on a default `miniktl cluster up`: HTTPS that only
//! the API server (and `system:masters`) may use. Plain HTTP gets no
//! answer, a client without a certificate fails the handshake, another
//! node's certificate gets the kubelet's 403; logs, exec and metrics still
//! work through the API server, which dials the kubelet with its own
//! certificate. Sim runtime: the port is what is tested, not containers.

use crate::support;

use std::path::Path;
use std::time::Duration;

use support::cli::{down, ok};

async fn get(client: &kube::Client, path: &str) -> Result<(u16, String), kube::Error> {
    use http_body_util::BodyExt;
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await?;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Ok((code, String::from_utf8_lossy(&bytes).to_string()))
}

/// A client for the kubelet at `port` with `kubeconfig`'s CA and
/// credentials (none when `identity` is false).
async fn kubelet_client(kubeconfig: &Path, port: u16, identity: bool) -> kube::Client {
    let mut config = support::config_from(kubeconfig).await;
    config.cluster_url = format!("https://127.0.0.1:{port}").parse().unwrap();
    if !identity {
        config.auth_info = Default::default();
    }
    kube::Client::try_from(config).unwrap()
}

/// Two connections to the kubelet at `port` with the client certificate
/// of `kubeconfig`, one client configuration (so one session cache): each
/// one's handshake kind and the answer (status line and body) to a
/// `GET /healthz` over it.
async fn resumed_twice(kubeconfig: &Path, port: u16) -> Vec<(rustls::HandshakeKind, String)> {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let yaml = std::fs::read_to_string(kubeconfig).unwrap();
    let field = |name: &str| {
        let data = yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{name} in {}", kubeconfig.display()));
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .unwrap();
        String::from_utf8(pem).unwrap()
    };
    let files = minik_client::tls::TlsFiles {
        cert_pem: field("client-certificate-data"),
        key_pem: field("client-key-data"),
        ca_pem: field("certificate-authority-data"),
    };
    let config = minik_client::tls::client_config(&files).unwrap();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let mut out = Vec::new();
    for _ in 0..2 {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut tls = connector
            .connect(minik_client::tls::loopback(), tcp)
            .await
            .unwrap();
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer))
            .await
            .expect("the kubelet answers")
            .ok();
        let kind = tls.get_ref().1.handshake_kind().unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let status = answer.split(' ').nth(1).unwrap_or_default();
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        out.push((kind, format!("{status} {body}")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_api_server_reaches_the_kubelet() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let _down = down(home_path.clone());
    let name = format!("mkk-{}", support::run_id());
    ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "1",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    let admin = home_path.join("kubeconfig");
    let kubectl = |args: &[&str]| {
        tokio::task::block_in_place(|| {
            support::kubectl_with(&admin, &dir.path().join("cache"), args, None)
        })
    };
    let out = kubectl(&[
        "get",
        "node",
        "node-1",
        "-o",
        "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}",
    ]);
    let port: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();

    // Plain HTTP: the TLS listener answers nothing a plain client can read.
    let plain = minik_tests::try_request(
        ([127, 0, 0, 1], port).into(),
        "GET",
        "/healthz",
        None,
        Duration::from_secs(3),
    )
    .await;
    assert!(
        plain
            .as_deref()
            .is_none_or(|a| !a.starts_with("HTTP/1.1 200")),
        "{plain:?}"
    );
    // No client certificate: the handshake fails (not an HTTP answer).
    let anonymous = kubelet_client(&admin, port, false).await;
    let refused = get(&anonymous, "/healthz").await;
    assert!(
        matches!(&refused, Err(e) if !matches!(e, kube::Error::Api(_))),
        "{refused:?}"
    );
    // Another node's certificate: the kubelet's 403.
    let node = home_path.join("data/kubeconfigs/kubelet-node-1.kubeconfig");
    let (code, body) = get(
        &kubelet_client(&node, port, true).await,
        "/exec/default/x/y",
    )
    .await
    .unwrap();
    assert_eq!(code, 403);
    assert_eq!(
        body,
        "Forbidden (user=system:node:node-1, verb=get, resource=nodes, subresource=proxy)"
    );
    // The cluster admin (system:masters) may.
    let (code, body) = get(&kubelet_client(&admin, port, true).await, "/healthz")
        .await
        .unwrap();
    assert_eq!((code, body.as_str()), (200, "ok"));

    // A client that comes back resumes its TLS session (the API server's
    // metrics scrape dials each node anew every 15 s), and a resumed
    // session keeps the identity of the certificate it was made with.
    let as_node =
        "403 Forbidden (user=system:node:node-1, verb=get, resource=nodes, subresource=proxy)";
    for (who, answer) in [(&admin, "200 ok"), (&node, as_node)] {
        let handshakes = resumed_twice(who, port).await;
        assert_eq!(
            handshakes,
            [
                (rustls::HandshakeKind::Full, answer.to_string()),
                (rustls::HandshakeKind::Resumed, answer.to_string())
            ],
            "{}",
            who.display()
        );
    }

    // Through the API server everything still works: logs, and the metrics
    // scrape (every 15 s) over the API server's own kubelet connection.
    let out = kubectl(&["run", "web", "--image=minik/web:v1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = minik_tests::wait_for("the pod's logs", Duration::from_secs(30), || async {
        let out = kubectl(&["logs", "web"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    })
    .await;
    assert!(logs.contains("simulated"), "{logs}");
    let top = minik_tests::wait_for("node metrics", Duration::from_secs(60), || async {
        let out = kubectl(&["top", "nodes"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (out.status.success() && text.contains("node-1")).then_some(text)
    })
    .await;
    assert!(top.starts_with("NAME"), "{top}");
}
