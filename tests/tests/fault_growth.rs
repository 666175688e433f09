//! Bounded resources under growth ("nothing lost, nothing stuck"): Events
//! expire after `--event-ttl`; watch history is bounded by bytes when one
//! large object is updated many times; a watch whose client never reads is
//! closed and its buffer released while other watches keep receiving; a
//! watch from a resourceVersion the server has not reached gets kube's
//! "Too large resource version" 504. Each scenario prints one summary line.

use crate::support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

const MIB: f64 = 1024.0 * 1024.0;

fn server(c: &support::TestCluster) -> &minik_apiserver::Server {
    c.server.as_ref().expect("running")
}

/// A ConfigMap holding 32 KiB of data.
async fn big_config_map(cms: &Api<ConfigMap>) -> ConfigMap {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "data": {"blob": "x".repeat(32 * 1024), "n": "0"},
    }))
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap()
}

async fn update_n_times(cms: &Api<ConfigMap>, mut cm: ConfigMap, n: u32) -> ConfigMap {
    for i in 1..=n {
        cm.data.as_mut().unwrap().insert("n".into(), i.to_string());
        cm = cms
            .replace("big", &PostParams::default(), &cm)
            .await
            .unwrap();
    }
    cm
}

/// A watch that counts MODIFIED events until its stream ends.
async fn counting_watch(cms: &Api<ConfigMap>, rv: &str) -> tokio::task::JoinHandle<u32> {
    let mut stream = cms
        .watch(&WatchParams::default().timeout(290), rv)
        .await
        .unwrap()
        .boxed();
    tokio::spawn(async move {
        let mut seen = 0u32;
        while let Some(Ok(ev)) = stream.next().await {
            if let WatchEvent::Modified(_) = ev {
                seen += 1;
            }
        }
        seen
    })
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn events_expire_after_their_ttl() {
    let ttl = Duration::from_secs(2);
    let c = support::TestCluster::start_with(|cfg| cfg.event_ttl = ttl).await;
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let event = |name: &str| -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Test", "message": "m", "type": "Normal",
        }))
        .unwrap()
    };
    let pp = PostParams::default();
    let old = events.create(&pp, &event("old")).await.unwrap();
    let mut renewed = events.create(&pp, &event("renewed")).await.unwrap();
    let rv = old.metadata.resource_version.clone().unwrap();
    let mut stream = events
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .unwrap()
        .boxed();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    events.create(&pp, &event("fresh")).await.unwrap();
    renewed.message = Some("again".into());
    events.replace("renewed", &pp, &renewed).await.unwrap();

    // The watcher sees "old" DELETED once its TTL has run out.
    let deleted = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(ev)) = stream.next().await {
            if let WatchEvent::Deleted(e) = ev {
                return e.metadata.name.unwrap_or_default();
            }
        }
        String::new()
    })
    .await
    .expect("a DELETED event within 10 s");
    let after = start.elapsed();
    assert_eq!(deleted, "old");
    assert!(events.get_opt("old").await.unwrap().is_none());
    assert!(after >= ttl - Duration::from_millis(100), "{after:?}");
    // Written 1.2 s later: still there.
    assert!(events.get_opt("fresh").await.unwrap().is_some());
    assert!(events.get_opt("renewed").await.unwrap().is_some());
    // And they go too, one TTL after their own last write.
    let mut gone = false;
    for _ in 0..100 {
        if events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "every Event expires");
    println!(
        "event-ttl: 3 Events, TTL {ttl:?}, one rewritten at 1.2 s: \"old\" DELETED (seen by a watcher) after {:.1} s, the others kept until {:.1} s",
        after.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
}

/// Set in the process [`in_a_process_of_its_own`] starts.
const ALONE: &str = "MINIK_GROWTH_ALONE";

/// Runs [`one_large_object_updated_many_times`] in a process of its own:
/// its RSS is the scenario's alone, where in this process the suite's
/// other tests (four at a time) grow the same figure — once by 170 MiB
/// against the scenario's own ~30 MiB.
#[tokio::test]
async fn large_object_updated_many_times_stays_bounded() {
    in_a_process_of_its_own().await;
}

/// Starts this test binary again for the scenario alone and checks it passed.
async fn in_a_process_of_its_own() {
    let name = "fault_growth::one_large_object_updated_many_times";
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env(ALONE, "1")
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), child)
        .await
        .expect("the scenario's process ends within 180 s")
        .expect("the test binary starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // (libtest prints the test's name on the line its output starts.)
    for line in stdout
        .lines()
        .filter_map(|l| l.find("growth: ").map(|i| &l[i..]))
    {
        println!("{line}");
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its own process:\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
#[ignore = "run in a process of its own by large_object_updated_many_times_stays_bounded"]
async fn one_large_object_updated_many_times() {
    if std::env::var_os(ALONE).is_none() {
        // Asked for among other tests (`--include-ignored`): measure alone.
        return in_a_process_of_its_own().await;
    }
    let c = support::TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let cm = big_config_map(&cms).await;
    let rv = cm.metadata.resource_version.clone().unwrap();
    let readers = [
        counting_watch(&cms, &rv).await,
        counting_watch(&cms, &rv).await,
    ];
    let before = minik_tests::rss_bytes();
    const UPDATES: u32 = 3000;
    update_n_times(&cms, cm, UPDATES).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = minik_tests::rss_bytes();
    let stats = server(&c).hub_stats();
    println!(
        "growth: 32 KiB ConfigMap updated {UPDATES} times, 2 watchers: RSS {:.1} MiB -> {:.1} MiB; \
         history {} changes, {:.1} MiB accounted (budget 64 MiB); {:.1} MiB buffered for watchers",
        before as f64 / MIB,
        after as f64 / MIB,
        stats.changes,
        stats.history_bytes as f64 / MIB,
        stats.buffered_bytes as f64 / MIB,
    );
    assert!(stats.history_bytes <= 64 << 20, "{stats:?}");
    assert!(stats.changes < UPDATES as usize, "{stats:?}");
    // Before the byte budget this scenario grew RSS by ~206 MiB (47.6 -> 254.2).
    assert!(
        after.saturating_sub(before) < 150 << 20,
        "RSS grew by {:.1} MiB",
        after.saturating_sub(before) as f64 / MIB
    );
    drop(c);
    for r in readers {
        r.abort();
    }
}

#[tokio::test]
async fn a_watch_that_never_reads_is_closed_and_released() {
    let c = support::TestCluster::start_with(|cfg| {
        cfg.tls = None; // a raw socket that never reads
        cfg.watch_buffer_bytes = 256 * 1024;
        cfg.watch_stall_timeout = Duration::from_secs(1);
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let cm = big_config_map(&cms).await;
    let rv = cm.metadata.resource_version.clone().unwrap();
    let reader = counting_watch(&cms, &rv).await;
    let mut stalled = minik_tests::send_get(
        server(&c).addr,
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"),
        Some(4096),
    )
    .await
    .unwrap();
    wait_for("two watches", Duration::from_secs(5), || {
        server(&c).hub_stats().watchers == 2
    })
    .await;
    const UPDATES: u32 = 400; // ~13 MiB: more than socket buffers hold
    let cm = update_n_times(&cms, cm, UPDATES).await;
    let mut peak = 0;
    wait_for(
        "the stalled watch to be closed",
        Duration::from_secs(20),
        || {
            let s = server(&c).hub_stats();
            peak = peak.max(s.buffered_bytes);
            s.slow_closed == 1 && s.watchers == 1
        },
    )
    .await;
    let stats = server(&c).hub_stats();
    assert!(stats.buffered_bytes < 256 * 1024, "{stats:?}");
    // The stalled client, reading at last, finds its stream ended early:
    // the server finished it, so it ends without the server stopping.
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stalled.read_to_end(&mut got))
        .await
        .expect("the stalled watch's connection ends")
        .unwrap();
    // The other watch kept receiving, and still does.
    update_n_times(&cms, cm, 1).await;
    // Its stream ends at the server's stop; count what it saw.
    let mut c = c;
    c.server.take().unwrap().stop().await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, UPDATES + 1);
    let lines = got.windows(2).filter(|w| w == b"}\n").count();
    assert!(lines < UPDATES as usize, "it was cut off ({lines} lines)");
    println!(
        "stalled watch: 32 KiB ConfigMap updated {UPDATES} times, one client never reads (4 KiB receive buffer, 256 KiB watch buffer, 1 s stall timeout): \
         closed after {lines} events, buffered bytes peak {:.2} MiB -> {:.2} MiB after; the other watch got all {seen}",
        peak as f64 / MIB,
        stats.buffered_bytes as f64 / MIB,
    );
}

#[tokio::test]
async fn a_watch_from_a_future_resource_version_is_refused() {
    let c = support::TestCluster::start_with(|cfg| cfg.tls = None).await; // raw sockets
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let list = cms.list(&Default::default()).await.unwrap();
    let current: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    let future = current + 1000;
    let start = Instant::now();
    let mut conn = minik_tests::send_get(
        server(&c).addr,
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={future}"),
        None,
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 504"), "{head}");
    let status: Value = serde_json::from_str(body).unwrap();
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(status["code"], 504);
    assert_eq!(
        status["message"],
        format!("Timeout: Too large resource version: {future}, current: {current}")
    );
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    // A watch from the current revision is still accepted.
    let ok = cms
        .watch(&WatchParams::default().timeout(1), &current.to_string())
        .await;
    assert!(ok.is_ok());
    println!(
        "future RV: watch from {future} (current {current}): 504 Timeout \"Too large resource version\" after {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn a_component_log_file_is_capped() {
    // The API server binary, its stderr a log file opened for append as
    // `miniktl cluster up` opens it, logging every request at trace level.
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("apiserver.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    let port = minik_tests::free_port();
    const CAP: u64 = 20_000;
    let mut child = std::process::Command::new(support::workspace_bin("minik-apiserver"))
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--insecure-plain-http")
        .env("RUST_LOG", "trace")
        .env("MINIK_LOG_MAX_BYTES", CAP.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut requests = 0;
    for _ in 0..1000 {
        match minik_tests::try_request(addr, "GET", "/healthz", None, Duration::from_secs(2)).await
        {
            Some(answer) if minik_tests::status_code(&answer) == 200 => requests += 1,
            // Not listening yet.
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let size = std::fs::metadata(&log_path).unwrap().len();
    let old = std::fs::metadata(dir.path().join("apiserver.log.1")).map_or(0, |m| m.len());
    let _ = child.kill();
    let _ = child.wait();
    assert!(requests > 0, "the API server answered");
    // Checked every CAP/8 bytes written: the file overshoots by at most that
    // plus one line (sled's trace lines dump whole pages: tens of KiB).
    let longest = [log_path.clone(), dir.path().join("apiserver.log.1")]
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .flat_map(|bytes| {
            bytes
                .split(|b| *b == b'\n')
                .map(<[u8]>::len)
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0) as u64;
    let bound = CAP + CAP / 8 + longest.max(4096);
    assert!(
        old > CAP && old <= bound,
        "rotated file {old} B ({requests} requests)"
    );
    assert!(size <= bound, "live file {size} B");
    println!(
        "log cap: API server at trace level, {requests} requests: log rotated at {CAP} B cap ({old} B moved to .1), live file {size} B"
    );
}
