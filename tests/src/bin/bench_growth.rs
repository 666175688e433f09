//! Benchmark of the API server's memory under growth: one 32 KiB ConfigMap
//! updated 3,000 times with two watchers, and the same object updated 3,000
//! times while one watch client never reads. Prints resident memory (RSS)
//! before and after, and what the watch hub holds; see BENCHMARKS.md.
//!
//! Baseline measured in the same run: the same scenario with the bounds
//! lifted — watch history bounded by count only (`--watch-history-bytes`
//! unlimited, as minik was before) and watch buffers that never close a
//! stalled client. Each scenario runs in a fresh child process, so one
//! run's freed memory does not flatter the next one's RSS.
//!
//! Run: `cargo run --release -p minik-tests --bin bench-growth`

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const MIB: f64 = 1024.0 * 1024.0;
const LARGE_UPDATES: u32 = 3000;
const STALLED_UPDATES: u32 = 3000;

fn rss_mib() -> f64 {
    minik_tests::rss_bytes() as f64 / MIB
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, scenario, mode] = args.as_slice() {
        if flag == "--child" {
            let rt = tokio::runtime::Runtime::new()?;
            return rt.block_on(child(scenario, mode == "baseline"));
        }
    }
    let me = std::env::current_exe()?;
    for scenario in ["large-object", "stalled-watch"] {
        for mode in ["baseline", "bounded"] {
            let out = std::process::Command::new(&me)
                .args(["--child", scenario, mode])
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "{scenario} ({mode}) failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    Ok(())
}

async fn child(scenario: &str, baseline: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = minik_apiserver::Config::new(dir.path(), "127.0.0.1:0".parse()?);
    if baseline {
        config.watch_history_bytes = usize::MAX;
        config.watch_buffer_bytes = usize::MAX;
        config.watch_stall_timeout = Duration::from_secs(3600);
    }
    let server = minik_apiserver::start(config).await?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "data": {"blob": "x".repeat(32 * 1024), "n": "0"},
    }))?;
    cm = cms.create(&PostParams::default(), &cm).await?;
    let rv = cm.metadata.resource_version.clone().unwrap_or_default();
    let watchers = if scenario == "large-object" { 2 } else { 1 };
    let mut readers = Vec::new();
    for _ in 0..watchers {
        let mut stream = cms
            .watch(&WatchParams::default().timeout(290), &rv)
            .await?
            .boxed();
        readers.push(tokio::spawn(async move {
            let mut seen = 0u32;
            while let Some(Ok(ev)) = stream.next().await {
                if let WatchEvent::Modified(_) = ev {
                    seen += 1;
                }
            }
            seen
        }));
    }
    // The client that never reads: a small receive buffer, a watch request, silence.
    let _stalled = if scenario == "stalled-watch" {
        let path = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}");
        Some(minik_tests::send_get(server.addr, &path, Some(4096)).await?)
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_mib();
    let updates = if scenario == "large-object" {
        LARGE_UPDATES
    } else {
        STALLED_UPDATES
    };
    let start = Instant::now();
    let mut peak_buffered = 0usize;
    for i in 1..=updates {
        if let Some(data) = cm.data.as_mut() {
            data.insert("n".into(), i.to_string());
        }
        cm = cms.replace("big", &PostParams::default(), &cm).await?;
        peak_buffered = peak_buffered.max(server.hub_stats().buffered_bytes);
    }
    let took = start.elapsed();
    // Past the 5 s stall timeout, so a stalled watch has been closed.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = rss_mib();
    let stats = server.hub_stats();
    server.stop().await?;
    let mut seen = Vec::new();
    for r in readers {
        seen.push(tokio::time::timeout(Duration::from_secs(10), r).await??);
    }
    let mode = if baseline {
        "baseline (history bounded by count only, no slow-watch close)"
    } else {
        "bounded (64 MiB history, 1 MiB per watch, 5 s stall close)"
    };
    println!(
        "{scenario}: {mode}: 32 KiB ConfigMap x {updates} updates in {:.1} s; RSS {before:.1} -> {after:.1} MiB (+{:.1}); \
         history {} changes / {:.1} MiB; watch buffers peak {:.1} MiB, {:.1} MiB after; stalled watches closed: {}; readers saw {seen:?}",
        took.as_secs_f64(),
        after - before,
        stats.changes,
        stats.history_bytes as f64 / MIB,
        peak_buffered as f64 / MIB,
        stats.buffered_bytes as f64 / MIB,
        stats.slow_closed,
    );
    Ok(())
}
