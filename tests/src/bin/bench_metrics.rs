//! Benchmark of the resource-metrics pipeline's cost: what scraping every
//! kubelet's `/metrics/resource` costs the API server and the kubelet, per
//! node and per pod, on 1,000 simulated nodes running 10,000 pods.
//!
//! Each run starts the real binaries as child processes (`minik-apiserver`
//! and one `minik-kubelet --runtime sim --nodes 1000`), creates 10,000 pods
//! bound round-robin to the nodes (no scheduler: the kubelets' work is what
//! is measured), waits until they all run, lets status writes settle, then
//! reads both processes' CPU time (`/proc/<pid>/stat`) over a window and
//! their resident memory at its end.
//!
//! Baseline measured in the same run: the same cluster with scraping off
//! (`--metrics-resolution` longer than the run). The scraped run uses
//! metrics-server's default resolution, 15 s; the difference divided by the
//! scrape rounds in the window, and by nodes and pods, is the cost.
//!
//! Run: `cargo build --release --workspace --bins && target/release/bench-metrics`
//! (`--nodes N --pods-per-node M --window SECONDS` to change the size).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const MIB: f64 = 1024.0 * 1024.0;
/// Pod creations in flight at once.
const CONCURRENT_CREATES: usize = 64;
/// metrics-server's default resolution.
const RESOLUTION: Duration = Duration::from_secs(15);

struct Size {
    nodes: usize,
    pods_per_node: usize,
    window: Duration,
}

/// A child process killed when dropped (the benchmark never leaves one).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run `cargo build --release --workspace --bins` first",
        path.display()
    );
    Ok(path)
}

/// What one run measured over its window.
struct Measured {
    apiserver_cpu: f64,
    kubelet_cpu: f64,
    apiserver_rss: u64,
    kubelet_rss: u64,
    /// Nodes and pods metrics.k8s.io served at the window's end.
    node_metrics: usize,
    pod_metrics: usize,
    /// How long one `GET …/pods` of every PodMetrics took.
    list_pod_metrics: Duration,
}

async fn run(size: &Size, resolution: Duration) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let port = minik_tests::free_port();
    let kubeconfig = dir.path().join("kubeconfig");
    let log = |name: &str| -> anyhow::Result<Stdio> {
        Ok(std::fs::File::create(dir.path().join(name))?.into())
    };
    let apiserver = Proc(
        Command::new(binary("minik-apiserver")?)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--write-kubeconfig")
            .arg(&kubeconfig)
            // Plain HTTP, to the kubelets too: the simulated kubelet here
            // has no serving certificate (`cluster up` gives each one).
            .arg("--insecure-plain-http")
            .args([
                "--metrics-resolution",
                &format!("{}s", resolution.as_secs()),
            ])
            // A simulated node holds two connections (its pod watch, and its
            // status and lease writes): 1,000 nodes pass the default 512.
            .args(["--max-connections", &(3 * size.nodes + 512).to_string()])
            .stdout(Stdio::null())
            .stderr(log("apiserver.log")?)
            .spawn()?,
    );
    let started = Instant::now();
    while !kubeconfig.exists() {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "no API server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kubelet = Proc(
        Command::new(binary("minik-kubelet")?)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--runtime", "sim", "--node-name", "sim"])
            .args(["--nodes", &size.nodes.to_string()])
            .arg("--root-dir")
            .arg(dir.path().join("kubelet"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(log("kubelet.log")?)
            .spawn()?,
    );
    let kubeconfig = loop {
        // The file is renamed into place whole once the server listens.
        if let Ok(kc) = kube::config::Kubeconfig::read_from(&kubeconfig) {
            break kc;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;

    let nodes: Api<Node> = Api::all(client.clone());
    wait_until(
        "every node registered",
        Duration::from_secs(120),
        || async {
            let list = nodes.list_metadata(&ListParams::default()).await.ok()?;
            (list.items.len() == size.nodes).then_some(())
        },
    )
    .await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let total = size.nodes * size.pods_per_node;
    let created = stream::iter(0..total)
        .map(|i| {
            let pods = pods.clone();
            let node = format!("sim-{}", i % size.nodes + 1);
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("p-{i}"), "labels": {"app": "bench"}},
                    "spec": {"nodeName": node, "containers": [{
                        "name": "c", "image": "minik/web:v1",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}
                    }]}
                }))
                .expect("a valid pod");
                pods.create(&PostParams::default(), &pod).await.is_ok()
            }
        })
        .buffer_unordered(CONCURRENT_CREATES)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    anyhow::ensure!(created == total, "created {created} of {total} pods");
    wait_until("every pod running", Duration::from_secs(600), || async {
        let running = pods
            .list_metadata(&ListParams::default().fields("status.phase=Running"))
            .await
            .ok()?
            .items
            .len();
        (running == total).then_some(())
    })
    .await?;
    // Status writes and watch fan-out of the start-up finish first.
    tokio::time::sleep(Duration::from_secs(20)).await;

    let (api0, kubelet0) = (cpu_seconds(apiserver.pid()), cpu_seconds(kubelet.pid()));
    tokio::time::sleep(size.window).await;
    let (api1, kubelet1) = (cpu_seconds(apiserver.pid()), cpu_seconds(kubelet.pid()));
    let (apiserver_rss, kubelet_rss) = (rss(apiserver.pid()), rss(kubelet.pid()));

    let get = |kind: &str| {
        let request = http::Request::get(format!("/apis/metrics.k8s.io/v1beta1/{kind}"))
            .body(Vec::new())
            .expect("a valid request");
        let client = client.clone();
        async move {
            let list: serde_json::Value = client.request(request).await?;
            anyhow::Ok(list["items"].as_array().map_or(0, Vec::len))
        }
    };
    let node_metrics = get("nodes").await?;
    let listed = Instant::now();
    let pod_metrics = get("pods").await?;
    let list_pod_metrics = listed.elapsed();
    Ok(Measured {
        apiserver_cpu: api1 - api0,
        kubelet_cpu: kubelet1 - kubelet0,
        apiserver_rss,
        kubelet_rss,
        node_metrics,
        pod_metrics,
        list_pod_metrics,
    })
}

/// Polls `check` every second until it answers, for at most `timeout`.
async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            eprintln!("  {what} after {:.1} s", start.elapsed().as_secs_f64());
            return Ok(v);
        }
        anyhow::ensure!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size = Size {
        nodes: arg(&args, "--nodes", 1000) as usize,
        pods_per_node: arg(&args, "--pods-per-node", 10) as usize,
        window: Duration::from_secs(arg(&args, "--window", 120)),
    };
    let pods = size.nodes * size.pods_per_node;
    println!(
        "{} simulated nodes, {pods} pods, a {} s window",
        size.nodes,
        size.window.as_secs()
    );
    eprintln!("baseline: scraping off");
    let off = run(&size, Duration::from_secs(24 * 3600)).await?;
    eprintln!("scraping every {} s", RESOLUTION.as_secs());
    let on = run(&size, RESOLUTION).await?;
    anyhow::ensure!(
        on.node_metrics == size.nodes && on.pod_metrics == pods,
        "metrics.k8s.io served {} nodes and {} pods",
        on.node_metrics,
        on.pod_metrics
    );
    anyhow::ensure!(off.node_metrics == 0, "the baseline scraped");

    let rounds = size.window.as_secs_f64() / RESOLUTION.as_secs_f64();
    let window = size.window.as_secs_f64();
    println!("| | scraping off | every 15 s | cost per round | per node | per pod |");
    println!("|---|---|---|---|---|---|");
    for (name, off_cpu, on_cpu) in [
        ("API server CPU", off.apiserver_cpu, on.apiserver_cpu),
        ("kubelet CPU", off.kubelet_cpu, on.kubelet_cpu),
    ] {
        let round = (on_cpu - off_cpu) / rounds;
        println!(
            "| {name} | {:.1} % of a core | {:.1} % | {:.0} ms | {:.1} µs | {:.2} µs |",
            100.0 * off_cpu / window,
            100.0 * on_cpu / window,
            round * 1e3,
            round * 1e6 / size.nodes as f64,
            round * 1e6 / pods as f64,
        );
    }
    for (name, off_rss, on_rss) in [
        ("API server RSS", off.apiserver_rss, on.apiserver_rss),
        ("kubelet RSS", off.kubelet_rss, on.kubelet_rss),
    ] {
        let extra = on_rss as f64 - off_rss as f64;
        println!(
            "| {name} | {:.0} MiB | {:.0} MiB | {:+.1} MiB in all | {:+.1} KiB | {:+.2} KiB |",
            off_rss as f64 / MIB,
            on_rss as f64 / MIB,
            extra / MIB,
            extra / 1024.0 / size.nodes as f64,
            extra / 1024.0 / pods as f64,
        );
    }
    println!(
        "metrics.k8s.io: {} NodeMetrics, {} PodMetrics; listing every PodMetrics took {} ms",
        on.node_metrics,
        on.pod_metrics,
        on.list_pod_metrics.as_millis()
    );
    Ok(())
}
