//! bench-proxy: requests/s and added latency through minik-proxy, against
//! a direct connection to the same backend, in one run.
//!
//! An in-process API server and proxy (ClusterIPs served on loopback, see
//! `ClusterIpBind::Loopback`), one Service of type NodePort, and one
//! keep-alive HTTP backend ("pod") on 127.77.1.1. The load generator is
//! `wrk` from Debian (`apt-get install wrk`): for each of direct /
//! ClusterIP / NodePort it runs a throughput pass (32 connections) and a
//! latency pass (1 connection, so p50 is the per-request round trip, not
//! queueing). A second scenario, when Docker and the offline images are
//! there, puts a real "pod" behind the Service: a `minik/web:v1` container
//! (busybox httpd) on a network the bench creates and removes. Traffic goes
//! only to loopback and to that container; every pass is bounded in time
//! (about a minute in all).
//!
//! Usage: `cargo run --release -p minik-tests --bin bench-proxy [-- SECONDS]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BASE: u8 = 77;

/// A minimal keep-alive HTTP/1.1 responder: the cheapest possible "pod",
/// so that the proxy's own cost is what the comparison shows.
async fn backend(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut pending = Vec::new();
                const REPLY: &[u8] =
                    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nhello, minik\n";
                loop {
                    let n = match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&buf[..n]);
                    let mut replies = 0;
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        replies += 1;
                    }
                    for _ in 0..replies {
                        if conn.write_all(REPLY).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(())
}

/// One wrk run's figures.
struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

fn wrk(url: &str, connections: u32, seconds: u64) -> anyhow::Result<Run> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            url,
        ])
        .output()
        .context("wrk is not installed: apt-get install wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Socket errors") && text.contains("connect ") {
        bail!(
            "wrk failed on {url}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no Requests/sec in wrk output")?;
    let pct = |p: &str| -> anyhow::Result<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(p))
            .with_context(|| format!("no {p} latency in wrk output"))?;
        parse_duration_us(line.split_whitespace().nth(1).unwrap_or(""))
    };
    Ok(Run {
        rps,
        p50_us: pct("50%")?,
        p99_us: pct("99%")?,
    })
}

/// wrk's `123.45us` / `1.23ms` / `1.00s` → microseconds.
fn parse_duration_us(s: &str) -> anyhow::Result<f64> {
    let (num, scale) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else {
        bail!("unexpected duration {s:?}")
    };
    Ok(num.parse::<f64>()? * scale)
}

/// One Service (`10.96.0.<ip>`, NodePort `node_port`) in front of `pod`,
/// measured direct, through the ClusterIP and through the NodePort.
async fn scenario(
    client: &kube::Client,
    label: &str,
    name: &str,
    ip: u8,
    node_port: i32,
    pod: SocketAddr,
    seconds: u64,
) -> anyhow::Result<()> {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "clusterIP": format!("10.96.0.{ip}"),
            "ports": [{"port": 80, "targetPort": pod.port(), "nodePort": node_port}]}
    }))?;
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await?;
    let ep: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": pod.ip().to_string()}], "ports": [{"port": pod.port()}]}]
    }))?;
    Api::<Endpoints>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &ep)
        .await?;
    let cluster_ip = SocketAddr::from(([127, BASE, 0, ip], 80));
    let node = SocketAddr::from(([127, 0, 0, 1], node_port as u16));
    let start = Instant::now();
    for addr in [cluster_ip, node] {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the proxy never listened on {addr}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut results = Vec::new();
    for (path, addr) in [
        ("direct", pod),
        ("ClusterIP", cluster_ip),
        ("NodePort", node),
    ] {
        let url = format!("http://{addr}/");
        let load = tokio::task::block_in_place(|| wrk(&url, 32, seconds))?;
        let single = tokio::task::block_in_place(|| wrk(&url, 1, seconds.min(3)))?;
        results.push((path, load, single));
    }
    let direct_rps = results[0].1.rps;
    let direct_p50 = results[0].2.p50_us;
    println!("\n{label}:");
    println!(
        "{:<10} {:>12} {:>9} {:>12} {:>12} {:>10}",
        "path", "requests/s", "vs direct", "p50 (1 conn)", "p99 (1 conn)", "added p50"
    );
    for (path, load, single) in &results {
        println!(
            "{:<10} {:>12.0} {:>8.0}% {:>10.0}us {:>10.0}us {:>8.0}us",
            path,
            load.rps,
            100.0 * load.rps / direct_rps,
            single.p50_us,
            single.p99_us,
            single.p50_us - direct_p50
        );
    }
    Ok(())
}

/// A `minik/web:v1` container on its own network, removed on drop.
struct DockerPod {
    name: String,
    ip: IpAddr,
}

impl DockerPod {
    fn start() -> Option<Self> {
        let docker = |args: &[&str]| {
            Command::new("docker")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        docker(&["image", "inspect", "minik/web:v1"])?;
        let name = format!("minik-bench-proxy-{}", std::process::id());
        docker(&["network", "create", &name])?;
        let mut pod = Self {
            name: name.clone(),
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &name,
            "minik/web:v1",
        ])?;
        pod.ip = docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &name,
        ])?
        .parse()
        .ok()?;
        let start = Instant::now();
        while std::net::TcpStream::connect((pod.ip, 80)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(pod)
    }
}

impl Drop for DockerPod {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.name])
            .output();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5)
        .clamp(1, 30);
    let dir = tempfile::tempdir()?;
    let server = minik_apiserver::start(minik_apiserver::Config::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse()?,
    ))
    .await?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;

    let pod = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, BASE, 1, 1)), 8080);
    backend(pod).await?;
    let mut config = minik_proxy::Config::new(client.clone());
    config.service_cidr = None;
    config.cluster_ips = minik_proxy::plan::ClusterIpBind::Loopback(Ipv4Addr::new(127, BASE, 0, 0));
    config.ingress_listen = None;
    let _proxy = minik_proxy::start(config).await?;

    let base_port = 30000 + (std::process::id() % 2600) as i32;
    println!(
        "bench-proxy: wrk, {seconds} s per throughput pass (32 connections), latency at 1 connection"
    );
    scenario(
        &client,
        "in-process keep-alive backend",
        "bench",
        50,
        base_port,
        pod,
        seconds,
    )
    .await?;
    match DockerPod::start() {
        Some(container) => {
            let pod = SocketAddr::new(container.ip, 80);
            let label = "minik/web:v1 container (busybox httpd)";
            scenario(&client, label, "bench-pod", 51, base_port + 1, pod, seconds).await?;
        }
        None => println!("(no Docker or no minik/web:v1 image: container scenario skipped)"),
    }
    server.stop().await?;
    Ok(())
}
