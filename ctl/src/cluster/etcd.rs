//! The etcd of an HA cluster (`cluster up --ha`): Debian's `etcd` binary
//! (package etcd-server), one member on loopback ports, its data in
//! `<home>/data/etcd`; and the wait until it reports healthy.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use crate::cluster::home::Home;
use crate::cluster::process::{self, Spec};
use crate::error::{Error, Result};

/// The etcd component, on `client` (its API) and `peer` loopback ports.
pub fn spec(home: &Home, client: u16, peer: u16) -> Result<Spec> {
    let binary = process::find_binary("etcd").ok_or_else(|| {
        Error::Cluster(
            "--ha keeps the cluster in etcd, which is not installed (Debian: apt-get install etcd-server)"
                .into(),
        )
    })?;
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let args: Vec<OsString> = vec![
        "--name".into(),
        "minik".into(),
        "--data-dir".into(),
        home.data().join("etcd").into_os_string(),
        "--listen-client-urls".into(),
        client_url.clone().into(),
        "--advertise-client-urls".into(),
        client_url.into(),
        "--listen-peer-urls".into(),
        peer_url.clone().into(),
        "--initial-advertise-peer-urls".into(),
        peer_url.clone().into(),
        "--initial-cluster".into(),
        format!("minik={peer_url}").into(),
    ];
    Ok(Spec {
        id: "etcd".into(),
        binary,
        arg0: None,
        args,
    })
}

/// `127.0.0.1:PORT` of a recorded etcd spec's client URL.
pub fn client_address(args: &[String]) -> Option<String> {
    let at = args.iter().position(|a| a == "--listen-client-urls")?;
    Some(args.get(at + 1)?.trim_start_matches("http://").to_string())
}

/// Waits (bounded) until etcd at `addr` answers `/health` healthy, failing
/// early if its process exits.
pub async fn wait_healthy(home: &Home, pid: u32, addr: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if !process::alive(pid, "etcd") {
            return Err(Error::Cluster(format!(
                "etcd exited during startup; last log lines:\n{}",
                process::log_tail(home, "etcd", 10)
            )));
        }
        if healthy(addr).await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout(format!(
                "etcd at {addr} did not become healthy in time (see {})",
                home.log("etcd").display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn healthy(addr: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out.contains("\"health\":\"true\""))
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
