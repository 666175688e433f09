//! bench-dns: queries/s for service names against minik-dns on loopback.
//!
//! An in-process API server with 200 Services (ClusterIP) and 20 headless
//! ones with 3 endpoints each, and minik-dns on 127.0.0.1. The load tool is
//! `dnsperf` from Debian (`apt-get install dnsperf`), sending A queries for
//! the service names in a loop for a bounded time; without dnsperf a small
//! built-in generator (UDP, 64 queries in flight) is used instead. No query
//! leaves loopback: the configured upstream is a loopback port that is
//! never asked (all names are in cluster.local).
//!
//! Usage: `cargo run --release -p minik-tests --bin bench-dns [-- SECONDS]`

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, PostParams};
use serde_json::json;

const SERVICES: usize = 200;
const HEADLESS: usize = 20;

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
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let mut names = Vec::new();
    for i in 0..SERVICES {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": format!("svc-{i}")},
            "spec": {"ports": [{"name": "http", "port": 80}]}
        }))?;
        services.create(&PostParams::default(), &svc).await?;
        names.push(format!("svc-{i}.default.svc.cluster.local"));
    }
    for i in 0..HEADLESS {
        let name = format!("headless-{i}");
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}
        }))?;
        services.create(&PostParams::default(), &svc).await?;
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": name},
            "subsets": [{"addresses": [
                {"ip": format!("10.244.{i}.1")}, {"ip": format!("10.244.{i}.2")}, {"ip": format!("10.244.{i}.3")}],
                "ports": [{"name": "http", "port": 80}]}]
        }))?;
        endpoints.create(&PostParams::default(), &ep).await?;
        names.push(format!("{name}.default.svc.cluster.local"));
    }

    // An upstream that is never asked: a bound, silent loopback socket.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let mut config = minik_dns::Config::new(client);
    config.listen = vec!["127.0.0.1:0".parse()?];
    config.upstreams = vec![silent.local_addr()?];
    let dns = minik_dns::start(config).await?;
    let addr = dns.addrs[0];
    wait_synced(addr, names.last().expect("names")).await?;

    let file = dir.path().join("queries.txt");
    let lines: Vec<String> = names.iter().map(|n| format!("{n} A")).collect();
    std::fs::write(&file, lines.join("\n") + "\n")?;
    let have_dnsperf = Command::new("dnsperf").arg("-h").output().is_ok();
    println!(
        "bench-dns: {} names ({SERVICES} ClusterIP, {HEADLESS} headless), {seconds} s, {}",
        names.len(),
        if have_dnsperf {
            "dnsperf"
        } else {
            "built-in generator (install dnsperf for the reference tool)"
        }
    );
    if have_dnsperf {
        let out = tokio::task::block_in_place(|| {
            Command::new("dnsperf")
                .args(["-s", &addr.ip().to_string(), "-p", &addr.port().to_string()])
                .args(["-d", &file.to_string_lossy(), "-l", &seconds.to_string()])
                .args(["-c", "4", "-q", "200", "-T", "1"])
                .output()
        })?;
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines().filter(|l| {
            [
                "Queries sent",
                "Queries completed",
                "Queries lost",
                "Response codes",
                "Queries per second",
                "Average Latency",
            ]
            .iter()
            .any(|k| l.trim_start().starts_with(k))
        }) {
            println!("  {}", line.trim());
        }
        if !out.status.success() {
            bail!(
                "dnsperf failed:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        let (sent, answered) = builtin(addr, &names, Duration::from_secs(seconds)).await?;
        println!("  Queries sent: {sent}, answered: {answered}");
        println!(
            "  Queries per second: {:.0}",
            answered as f64 / seconds as f64
        );
    }
    dns.shutdown().await;
    server.stop().await?;
    Ok(())
}

/// Waits until the last service name resolves (the zone has synced).
async fn wait_synced(addr: SocketAddr, name: &str) -> anyhow::Result<()> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let query = encode_query(1, name);
    let start = Instant::now();
    let mut buf = [0u8; 1500];
    while start.elapsed() < Duration::from_secs(10) {
        socket.send_to(&query, addr).await?;
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await
        {
            // NOERROR with at least one answer.
            if n > 12 && buf[3] & 0x0f == 0 && u16::from_be_bytes([buf[6], buf[7]]) > 0 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("minik-dns never answered for {name}")
}

/// A DNS query for `name` A (RFC 1035 wire format).
fn encode_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Fallback generator: 4 sockets, 16 queries in flight each, for `limit`.
async fn builtin(
    addr: SocketAddr,
    names: &[String],
    limit: Duration,
) -> anyhow::Result<(u64, u64)> {
    let mut tasks = Vec::new();
    for worker in 0..4u16 {
        let names = names.to_vec();
        tasks.push(tokio::spawn(async move {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
            socket.connect(addr).await?;
            let (mut sent, mut answered) = (0u64, 0u64);
            let start = Instant::now();
            let mut buf = [0u8; 1500];
            let mut i = 0usize;
            for _ in 0..16 {
                socket
                    .send(&encode_query(worker, &names[i % names.len()]))
                    .await?;
                sent += 1;
                i += 1;
            }
            while start.elapsed() < limit {
                // A lost query is simply replaced by the next one.
                let reply =
                    tokio::time::timeout(Duration::from_millis(100), socket.recv(&mut buf)).await;
                if let Ok(Ok(_)) = reply {
                    answered += 1;
                }
                socket
                    .send(&encode_query(worker, &names[i % names.len()]))
                    .await?;
                sent += 1;
                i += 1;
            }
            anyhow::Ok((sent, answered))
        }));
    }
    let (mut sent, mut answered) = (0, 0);
    for t in tasks {
        let (s, a) = t.await.context("generator task")??;
        sent += s;
        answered += a;
    }
    Ok((sent, answered))
}
