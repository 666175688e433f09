//! Benchmark of the dashboard (issue 19): how long an API write takes to
//! show in a browser's DOM, and the dashboard's memory. A simulated cluster
//! from `miniktl cluster up --runtime sim --nodes N --isolated` (which
//! starts minik-dashboard and prints its URL), a headless chromium on that
//! URL (`minik_tests::browser`), then P pods created through the API, at
//! most `--in-flight` at a time. The page records, per pod, when its box
//! (or, beyond what fits, its node's count) was first drawn
//! (`window.minikSeen`, epoch ms); the latency of a pod is that minus the
//! moment its create request was sent. Prints p50/p99/max, the same for a
//! watch the benchmark opens itself (the baseline: what any client sees),
//! the page's redraw times and minik-dashboard's memory (PSS and RSS).
//!
//! `cargo build --release --workspace --bins && target/release/bench-dashboard [--nodes 10] [--pods 100] [--in-flight 1] [--timeout 300]`

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use minik_tests::browser::Browser;
use minik_tests::{bench_arg, sibling_binary, ClusterDown, Memory};
use serde_json::json;

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// minik-dashboard's memory, from its pid file: proportional (PSS, its
/// share of the `minik` code it maps with the other components) and
/// resident (RSS, that code counted whole).
fn dashboard_memory(home: &Path) -> Memory {
    let pid = std::fs::read_to_string(home.join("pids/dashboard.pid")).unwrap_or_default();
    Memory::of(Path::new(&format!("/proc/{}", pid.trim())))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let nodes: usize = bench_arg("--nodes", "10").parse().unwrap();
    let pods: usize = bench_arg("--pods", "100").parse().unwrap();
    let in_flight: usize = bench_arg("--in-flight", "1").parse().unwrap();
    let timeout = Duration::from_secs(bench_arg("--timeout", "300").parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let miniktl = sibling_binary("miniktl");
    let up = Command::new(&miniktl)
        .args(["cluster", "up", "--home"])
        .arg(&home)
        .args([
            "--runtime",
            "sim",
            "--isolated",
            "--api-port",
            "0",
            "--nodes",
        ])
        .arg(nodes.to_string())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&up.stdout).to_string();
    let _down = ClusterDown::new(miniktl.clone(), home.clone());
    assert!(
        up.status.success(),
        "cluster up failed:\n{out}\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let url = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Dashboard:"))
        .map(|u| u.trim().to_string())
        .expect("cluster up prints the dashboard's URL");
    run(&home, &url, nodes, pods, in_flight, timeout).await;
}

async fn run(
    home: &Path,
    url: &str,
    nodes: usize,
    pods: usize,
    in_flight: usize,
    timeout: Duration,
) {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(home.join("kubeconfig")).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let idle = dashboard_memory(home);
    let browser = Browser::start(&format!("bench-dashboard-{}", std::process::id())).await;
    browser.client.goto(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser
        .eval("return document.getElementById('status').textContent")
        .await
        != "live"
    {
        assert!(Instant::now() < deadline, "the page never went live");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let api: Api<Pod> = Api::namespaced(client, "default");
    let sent: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    // The baseline: when the bench's own watch (kube's watcher, as any
    // client) first sees each pod. The dashboard cannot be faster.
    let watched: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    let watch = {
        let watched = watched.clone();
        let stream = watcher(api.clone(), watcher::Config::default()).applied_objects();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(Ok(p)) = stream.next().await {
                let id = format!("default/{}", p.metadata.name.unwrap_or_default());
                watched.lock().unwrap().entry(id).or_insert_with(epoch_ms);
            }
        })
    };
    let start = Instant::now();
    futures::stream::iter(0..pods)
        .for_each_concurrent(in_flight, |i| {
            let api = api.clone();
            let sent = sent.clone();
            async move {
                let name = format!("bench-{i}");
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "minik/web:v1"}]}
                }))
                .unwrap();
                sent.lock()
                    .unwrap()
                    .insert(format!("default/{name}"), epoch_ms());
                api.create(&PostParams::default(), &pod).await.unwrap();
                if in_flight == 1 {
                    // One change at a time: the latency of one change, not of a queue.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
        .await;
    let created = start.elapsed();
    let deadline = Instant::now() + timeout;
    let seen = loop {
        let seen = browser
            .eval("return Object.fromEntries(Object.entries(window.minikSeen).filter(([k]) => k.startsWith('default/bench-')))")
            .await;
        let n = seen.as_object().map_or(0, |m| m.len());
        if n >= pods {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} of {pods} pods shown after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sent = sent.lock().unwrap().clone();
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(id, t)| Some(seen.get(id)?.as_f64()? - t))
        .collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    watch.abort();
    let watched = watched.lock().unwrap().clone();
    let mut baseline: Vec<f64> = sent
        .iter()
        .filter_map(|(id, t)| Some(watched.get(id)? - t))
        .collect();
    baseline.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let frames = browser.eval("return window.minikFrames").await;
    let shot = browser
        .screenshot(&format!("{nodes}-nodes-{pods}-pods"))
        .await;
    let after = dashboard_memory(home);
    println!(
        "{pods} pods on {nodes} simulated nodes ({in_flight} create(s) in flight, all created in {:.1}s): \
         API write → browser DOM p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms \
         (API write → a watch of the bench's own: p50 {:.0} ms, p99 {:.0} ms); \
         redraws: {} frames, mean {:.1} ms, max {:.1} ms; \
         minik-dashboard PSS {:.0} MB (RSS {:.0} MB) before, {:.0} MB ({:.0} MB) after; screenshot {}",
        created.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        percentile(&baseline, 0.5),
        percentile(&baseline, 0.99),
        frames["count"],
        frames["total"].as_f64().unwrap_or(0.0) / frames["count"].as_f64().unwrap_or(1.0).max(1.0),
        frames["max"].as_f64().unwrap_or(0.0),
        idle.pss,
        idle.rss,
        after.pss,
        after.rss,
        shot.display()
    );
    browser.close().await;
}
