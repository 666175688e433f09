//! bench-proxy: requests/s and added latency through minik-proxy, against
//! a direct connection to the same backend, in one run.
//!
//! An in-process API server with a service CIDR of the run's own
//! (`10.124.<x>.0/24`), the real `minik-proxy` binary in its own process
//! in its default iptables mode (it adds the CIDR's local route and DNAT
//! chains named `mkbench<pid>-…`, and removes both when the bench stops
//! it), one Service of type NodePort per backend, and two backends
//! ("pods"): a `minik/web:v1` container (busybox httpd, one connection
//! per request) on a network the bench creates and removes — the figure
//! the target is about — and an in-process keep-alive responder on
//! loopback, the cheapest possible backend, which only the userspace
//! listener can serve and which shows its own cost at its most visible.
//!
//! Paths to the container: direct; the ClusterIP and the NodePort on the
//! node IP (the network's gateway), both carried by the DNAT rules; and
//! the NodePort on 127.0.0.1, carried by the userspace listener.
//!
//! The load generator is `wrk` from Debian (`apt-get install wrk`): per
//! path a throughput pass (32 connections) then a latency pass (1
//! connection, so p50 is the per-request round trip, not queueing). Paths
//! are measured in several rounds, in a rotating order, and the median is
//! reported. Before each pass against the container the bench waits until
//! the TIME_WAIT sockets of earlier passes have expired (Linux keeps them
//! 60 s): one pass makes ~20,000 connections from the host, and a pass
//! starting among the previous pass's leftovers would pay for them in
//! slower `connect()`s. Traffic goes only to loopback, to the service
//! addresses the proxy made local and to that container; every pass is
//! bounded in time.
//!
//! Usage: `cargo build --release --workspace --bins && target/release/bench-proxy [--seconds S] [--rounds R]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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
    requests: f64,
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
    // "Socket errors: connect 0, read 3, write 0, timeout 0": a refused
    // connection means the path is broken, not slow.
    let connect_errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors: connect "))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.trim().parse::<u64>().unwrap_or(u64::MAX));
    if !out.status.success() || connect_errors > 0 {
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
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("no request count in wrk output")?;
    let pct = |p: &str| -> anyhow::Result<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(p))
            .with_context(|| format!("no {p} latency in wrk output"))?;
        parse_duration_us(line.split_whitespace().nth(1).unwrap_or(""))
    };
    Ok(Run {
        rps,
        requests,
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

/// TIME_WAIT sockets on the host toward `addr` (from /proc/net/tcp, where
/// an IPv4 address is the hex of its in-memory u32 and the port big-endian hex).
fn time_wait_toward(addr: SocketAddr) -> usize {
    let IpAddr::V4(ip) = addr.ip() else { return 0 };
    let remote = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(ip.octets()),
        addr.port()
    );
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let mut fields = l.split_whitespace().skip(2);
            fields.next() == Some(remote.as_str()) && fields.next() == Some("06")
        })
        .count()
}

/// Waits (at most 65 s) until earlier passes' TIME_WAIT sockets toward
/// `addrs` have expired (a socket names the address it connected to, so a
/// pass through a DNAT rule leaves them toward the service address).
fn drain_time_wait(addrs: &[SocketAddr]) {
    let start = Instant::now();
    let waiting = || addrs.iter().map(|a| time_wait_toward(*a)).sum::<usize>();
    while waiting() > 500 && start.elapsed() < Duration::from_secs(65) {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// CPU time (user + system) the process has used so far, in microseconds.
fn process_cpu_us(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" that ends the command name; utime and stime are
    // fields 14 and 15 of the whole line, in clock ticks (100 per second).
    let after = stat.rsplit(')').next().unwrap_or("");
    let ticks: f64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    ticks * 10_000.0
}

/// Busy CPU time of the whole machine so far (all but idle and iowait),
/// in microseconds, from /proc/stat.
fn host_cpu_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    (ticks.iter().take(8).sum::<f64>() - idle) * 10_000.0
}

/// One path measured once.
struct Pass {
    load: Run,
    single: Run,
    /// The proxy's CPU time per request of the throughput run.
    proxy_cpu_us: f64,
    /// The machine's busy CPU time per request of the throughput run.
    host_cpu_us: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// How one backend is measured.
struct Scenario<'a> {
    label: &'a str,
    name: &'a str,
    /// The Service's ClusterIP.
    cluster_ip: Ipv4Addr,
    node_port: u16,
    pod: SocketAddr,
    /// The paths measured, direct to the pod first.
    paths: Vec<(&'a str, SocketAddr)>,
    /// Wait for TIME_WAIT toward the pod to expire before each pass.
    drain: bool,
}

/// One Service in front of `pod`, measured along each path `rounds`
/// times in rotating order.
async fn scenario(
    client: &kube::Client,
    proxy_pid: u32,
    s: &Scenario<'_>,
    seconds: u64,
    rounds: usize,
) -> anyhow::Result<()> {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": s.name},
        "spec": {"type": "NodePort", "clusterIP": s.cluster_ip.to_string(),
            "ports": [{"port": 80, "targetPort": s.pod.port(), "nodePort": s.node_port}]}
    }))?;
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await?;
    let ep: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": s.name},
        "subsets": [{"addresses": [{"ip": s.pod.ip().to_string()}], "ports": [{"port": s.pod.port()}]}]
    }))?;
    Api::<Endpoints>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &ep)
        .await?;
    let start = Instant::now();
    for (_, addr) in &s.paths[1..] {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the proxy never served {addr}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!("\n{}:", s.label);
    for (name, addr) in &s.paths {
        println!("  {name:<31} http://{addr}/");
    }
    let n = s.paths.len();
    let mut passes: Vec<Vec<Pass>> = (0..n).map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for k in 0..n {
            let path = (round + k) % n;
            let url = format!("http://{}/", s.paths[path].1);
            let pass = tokio::task::block_in_place(|| {
                if s.drain {
                    let addrs: Vec<SocketAddr> = s.paths.iter().map(|p| p.1).collect();
                    drain_time_wait(&addrs);
                }
                let (proxy_before, host_before) = (process_cpu_us(proxy_pid), host_cpu_us());
                let load = wrk(&url, 32, seconds)?;
                let proxy_cpu_us = (process_cpu_us(proxy_pid) - proxy_before) / load.requests;
                let host_cpu_us = (host_cpu_us() - host_before) / load.requests;
                let single = wrk(&url, 1, seconds.min(3))?;
                anyhow::Ok(Pass {
                    load,
                    single,
                    proxy_cpu_us,
                    host_cpu_us,
                })
            })?;
            println!(
                "  round {} {:<31} {:>9.0} requests/s   p50 {:>6.0}us (1 conn)   machine CPU {:>5.0}us/request",
                round + 1,
                s.paths[path].0,
                pass.load.rps,
                pass.single.p50_us,
                pass.host_cpu_us,
            );
            passes[path].push(pass);
        }
    }
    // Per path, the median over rounds of one figure of its passes.
    let medians = |figure: fn(&Pass) -> f64| -> Vec<f64> {
        passes
            .iter()
            .map(|p| median(p.iter().map(figure).collect()))
            .collect()
    };
    let rps = medians(|p| p.load.rps);
    let p50 = medians(|p| p.single.p50_us);
    let p99 = medians(|p| p.single.p99_us);
    let proxy_cpu = medians(|p| p.proxy_cpu_us);
    let host_cpu = medians(|p| p.host_cpu_us);
    println!("  median of {rounds} rounds:");
    println!(
        "  {:<31} {:>11} {:>9} {:>12} {:>12} {:>9} {:>15} {:>13}",
        "path",
        "requests/s",
        "vs direct",
        "p50 (1 conn)",
        "p99 (1 conn)",
        "added p50",
        "machine CPU/req",
        "proxy CPU/req"
    );
    for (i, (path, _)) in s.paths.iter().enumerate() {
        println!(
            "  {:<31} {:>11.0} {:>8.0}% {:>10.0}us {:>10.0}us {:>7.0}us {:>13.0}us {:>11.0}us",
            path,
            rps[i],
            100.0 * rps[i] / rps[0],
            p50[i],
            p99[i],
            p50[i] - p50[0],
            host_cpu[i],
            proxy_cpu[i]
        );
    }
    Ok(())
}

/// The `minik-proxy` binary, in its own process; killed on drop.
struct ProxyProcess(Child);

impl ProxyProcess {
    /// The default iptables mode with this run's service CIDR, node IP and
    /// chain prefix.
    fn start(
        kubeconfig: &std::path::Path,
        service_cidr: &str,
        node_ip: IpAddr,
        chain_prefix: &str,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let bin: PathBuf = exe.with_file_name("minik-proxy");
        if !bin.exists() {
            bail!(
                "{} is missing: build the workspace binaries first (cargo build --release --workspace --bins)",
                bin.display()
            );
        }
        let child = Command::new(bin)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args([
                "--service-cidr",
                service_cidr,
                "--node-ip",
                &node_ip.to_string(),
                "--iptables-chain-prefix",
                chain_prefix,
                "--ingress-listen",
                "none",
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .context("starting minik-proxy")?;
        Ok(Self(child))
    }
}

impl Drop for ProxyProcess {
    /// SIGTERM, so the proxy removes its rules and route; SIGKILL after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `minik/web:v1` container on its own network, removed on drop.
struct DockerPod {
    name: String,
    ip: IpAddr,
    /// The network's gateway: this host's address on it (the node IP).
    gateway: IpAddr,
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
            gateway: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
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
        pod.gateway = docker(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
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

fn arg(name: &str, default: u64) -> anyhow::Result<u64> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()?),
        None => Ok(default),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // One container pass makes ~3,500 connections a second toward one pod
    // address; Linux has ~28,000 ephemeral ports for it, held 60 s each.
    let seconds = arg("--seconds", 5)?.clamp(1, 5);
    let rounds = arg("--rounds", 3)?.clamp(1, 9) as usize;
    let Some(container) = DockerPod::start() else {
        bail!("bench-proxy needs Docker and the minik/web:v1 image (bash scripts/ci-setup.sh)");
    };
    // This run's service CIDR (made local by the proxy's route) and chains.
    let x = 1 + (std::process::id() % 250) as u8;
    let service_cidr = format!("10.124.{x}.0/24");
    let chain_prefix = format!("mkbench{}", std::process::id());
    let dir = tempfile::tempdir()?;
    let mut config = minik_apiserver::Config::new(dir.path().join("data"), "127.0.0.1:0".parse()?);
    config.service_cidr = service_cidr.parse().map_err(anyhow::Error::msg)?;
    let server = minik_apiserver::start(config).await?;
    let kubeconfig = dir.path().join("kubeconfig");
    minik_client::kubeconfig::write(&kubeconfig, &server.url())?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
    let proxy = ProxyProcess::start(&kubeconfig, &service_cidr, container.gateway, &chain_prefix)?;

    let base_port = 30000 + (std::process::id() % 2600) as u16;
    println!(
        "bench-proxy: wrk, {seconds} s per throughput pass (32 connections), latency at 1 connection, median of {rounds} rounds"
    );
    println!(
        "minik-proxy in its default iptables mode: ClusterIPs and NodePorts on the node IP go through DNAT rules, 127.0.0.1:<nodePort> through the userspace listener"
    );
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cluster_ip = Ipv4Addr::new(10, 124, x, 51);
    let node_port = base_port + 1;
    let pod = SocketAddr::new(container.ip, 80);
    let web = Scenario {
        label: "minik/web:v1 container (busybox httpd, a connection per request)",
        name: "bench-pod",
        cluster_ip,
        node_port,
        pod,
        paths: vec![
            ("direct", pod),
            ("ClusterIP (DNAT)", SocketAddr::from((cluster_ip, 80))),
            (
                "NodePort node IP (DNAT)",
                SocketAddr::new(container.gateway, node_port),
            ),
            (
                "NodePort 127.0.0.1 (userspace)",
                SocketAddr::new(loopback, node_port),
            ),
        ],
        drain: true,
    };
    scenario(&client, proxy.0.id(), &web, seconds, rounds).await?;

    // The cheapest possible backend, on loopback, so only the userspace
    // listener can serve it: the userspace proxy's own cost at its most visible.
    let responder = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 124, x, 1)), 8080);
    backend(responder).await?;
    let node_port = base_port;
    let in_process = Scenario {
        label: "in-process keep-alive responder on loopback (the userspace proxy's cost at its most visible)",
        name: "bench",
        cluster_ip: Ipv4Addr::new(10, 124, x, 50),
        node_port,
        pod: responder,
        paths: vec![
            ("direct", responder),
            ("NodePort 127.0.0.1 (userspace)", SocketAddr::new(loopback, node_port)),
        ],
        drain: false,
    };
    scenario(&client, proxy.0.id(), &in_process, seconds, rounds).await?;
    drop(proxy);
    drop(container);
    server.stop().await?;
    Ok(())
}
