//! Store damage is noticed: the real `minik-apiserver` binary is started
//! on a data dir that was truncated (by 100 B, by 64 KiB, to zero) or had
//! bytes flipped, and must refuse with a message that names the data dir
//! and the way out; `--recover` must then start, say what was lost, and
//! move the revision past everything clients saw (their watches get 410).
//! Last, `miniktl cluster backup` → damage → `miniktl cluster restore`
//! brings every object back. Each scenario prints one summary line.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

/// Objects written before the damage: enough for a store of a few hundred KiB.
const OBJECTS: usize = 300;

/// A cluster home as `miniktl cluster` lays it out: `data/apiserver` and `kubeconfig`.
struct Home(PathBuf);

impl Home {
    fn data(&self) -> PathBuf {
        self.0.join("data").join("apiserver")
    }
    fn kubeconfig(&self) -> PathBuf {
        self.0.join("kubeconfig")
    }
    fn log(&self) -> PathBuf {
        self.0.join("apiserver.log")
    }
}

struct Serving {
    child: Child,
    url: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

enum Outcome {
    Serving(Serving),
    /// The process exited; what it printed on stderr.
    Refused(String),
}

/// Runs `minik-apiserver` on `home`'s data dir until it serves or exits.
fn start(home: &Home, extra: &[&str]) -> Outcome {
    std::fs::create_dir_all(&home.0).unwrap();
    let _ = std::fs::remove_file(home.kubeconfig());
    let log = std::fs::File::create(home.log()).unwrap();
    let child = Command::new(support::workspace_bin("minik-apiserver"))
        .arg("--data-dir")
        .arg(home.data())
        // Plain HTTP: this suite is about the store, not the transport.
        .args([
            "--insecure-plain-http",
            "--listen",
            "127.0.0.1:0",
            "--write-kubeconfig",
        ])
        .arg(home.kubeconfig())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start minik-apiserver");
    let mut serving = Serving {
        child,
        url: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if serving.child.try_wait().unwrap().is_some() {
            return Outcome::Refused(std::fs::read_to_string(home.log()).unwrap());
        }
        if let Ok(text) = std::fs::read_to_string(home.kubeconfig()) {
            if let Some(url) = text.lines().find_map(|l| l.trim().strip_prefix("server:")) {
                serving.url = url.trim().to_string();
                return Outcome::Serving(serving);
            }
        }
        assert!(
            Instant::now() < deadline,
            "minik-apiserver neither served nor exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn serving(home: &Home, extra: &[&str]) -> Serving {
    match start(home, extra) {
        Outcome::Serving(s) => s,
        Outcome::Refused(log) => panic!("minik-apiserver refused to start:\n{log}"),
    }
}

fn refused(home: &Home) -> String {
    match start(home, &[]) {
        Outcome::Refused(log) => log,
        Outcome::Serving(_) => panic!("minik-apiserver started on a damaged store"),
    }
}

/// The marker is written beside the commit path and may trail the last
/// acknowledged batch for a moment (see `apiserver/src/commit.rs`);
/// wait until it has caught up, so every damage below is measured against it.
fn wait_for_marker(home: &Home, revision: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let needle = format!("revision={revision} ");
    while !std::fs::read_to_string(home.data().join("revision"))
        .unwrap_or_default()
        .contains(&needle)
    {
        assert!(
            Instant::now() < deadline,
            "the marker never reached {revision}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn configmaps(s: &Serving) -> Api<ConfigMap> {
    Api::namespaced(support::client_for(&s.url), "default")
}

/// Creates `n` ConfigMaps (16 at a time); returns the highest resourceVersion acknowledged.
async fn seed(s: &Serving, n: usize) -> u64 {
    let cms = configmaps(s);
    let mut max = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|i| {
                let cms = cms.clone();
                let cm: ConfigMap = serde_json::from_value(json!({
                    "metadata": {"name": format!("cm-{i}")},
                    "data": {"payload": "x".repeat(512)},
                }))
                .unwrap();
                tokio::spawn(async move { cms.create(&PostParams::default(), &cm).await })
            })
            .collect();
        for t in tasks {
            let cm = t.await.unwrap().expect("create");
            max = max.max(rv(&cm));
        }
    }
    max
}

fn rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_ref()
        .unwrap()
        .parse()
        .unwrap()
}

async fn count(s: &Serving) -> usize {
    let list = configmaps(s).list(&ListParams::default()).await.unwrap();
    list.items
        .iter()
        .filter(|c| c.metadata.name.as_deref().unwrap_or("").starts_with("cm-"))
        .count()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// sled's data file.
fn db(home: &Home) -> PathBuf {
    home.data().join("db")
}

fn truncate_by(home: &Home, bytes: u64) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(db(home))
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(bytes)).unwrap();
}

fn flip_bytes(home: &Home) {
    let path = db(home);
    let mut bytes = std::fs::read(&path).unwrap();
    // Every 4 KiB, so whichever pages sled reads first are hit.
    for i in (100..bytes.len()).step_by(4096) {
        bytes[i] ^= 0xff;
    }
    std::fs::write(&path, bytes).unwrap();
}

fn assert_clear_refusal(log: &str, home: &Home) {
    let dir = home.data().display().to_string();
    for needle in [
        "refusing to start",
        "is damaged",
        dir.as_str(),
        "--recover",
        "miniktl cluster restore",
    ] {
        assert!(log.contains(needle), "refusal lacks {needle:?}:\n{log}");
    }
}

/// The one line of the refusal that says what was found.
fn finding(log: &str) -> String {
    log.lines()
        .find(|l| l.contains("is damaged"))
        .map(|l| l.split(" is damaged: ").nth(1).unwrap_or(l).to_string())
        .unwrap_or_default()
}

/// A watch from `from` must end with 410 Gone (never a silent gap).
async fn assert_watch_gone(s: &Serving, from: u64) {
    let mut stream = configmaps(s)
        .watch(&WatchParams::default().timeout(5), &from.to_string())
        .await
        .map(|s| s.boxed());
    let first = match &mut stream {
        Ok(stream) => stream.next().await,
        Err(e) => panic!("watch from {from} failed: {e}"),
    };
    match first {
        Some(Ok(WatchEvent::Error(e))) => assert_eq!(e.code, 410, "{e:?}"),
        Some(Err(kube::Error::Api(e))) => assert_eq!(e.code, 410, "{e:?}"),
        other => panic!("a watch from {from} did not get 410 Gone: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_stores_are_refused_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = Home(dir.path().join("pristine"));
    let max_rv = {
        let s = serving(&pristine, &[]);
        let max_rv = seed(&s, OBJECTS).await;
        wait_for_marker(&pristine, max_rv);
        max_rv
        // Dropped: SIGKILL, as a crash would.
    };
    let size = std::fs::metadata(db(&pristine)).unwrap().len();
    println!("store: {OBJECTS} ConfigMaps, last acknowledged revision {max_rv}, sled data file {size} bytes");

    type Damage = (&'static str, Box<dyn Fn(&Home)>);
    let damages: Vec<Damage> = vec![
        ("truncated by 100 B", Box::new(|h| truncate_by(h, 100))),
        (
            "truncated by 64 KiB",
            Box::new(|h| truncate_by(h, 64 * 1024)),
        ),
        ("truncated to zero", Box::new(|h| truncate_by(h, u64::MAX))),
        ("bytes flipped every 4 KiB", Box::new(flip_bytes)),
    ];
    for (i, (what, damage)) in damages.iter().enumerate() {
        let home = Home(dir.path().join(format!("case-{i}")));
        copy_dir(&pristine.0, &home.0);
        damage(&home);

        let log = refused(&home);
        assert_clear_refusal(&log, &home);
        println!("{what}: refused to start — {}", finding(&log));

        let s = serving(&home, &["--recover"]);
        let log = std::fs::read_to_string(home.log()).unwrap();
        let report = log
            .lines()
            .find(|l| l.contains("recovered:"))
            .unwrap_or_else(|| panic!("--recover did not say what it did:\n{log}"))
            .to_string();
        let kept = count(&s).await;
        assert_watch_gone(&s, max_rv).await;
        let after: ConfigMap = configmaps(&s)
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "after"}})).unwrap(),
            )
            .await
            .unwrap();
        assert!(
            rv(&after) > max_rv,
            "revision went backwards after --recover: {} <= {max_rv}",
            rv(&after)
        );
        drop(s);
        // Recovered means healthy again: a plain start now succeeds.
        drop(serving(&home, &[]));
        println!(
            "{what}: --recover kept {kept}/{OBJECTS} objects ({} lost); next write at revision {} > {max_rv}; a watch from {max_rv} got 410 — {} 410 Gone",
            OBJECTS - kept,
            rv(&after),
            report
                .split("recovered: ")
                .nth(1)
                .and_then(|r| r.split(" 410 Gone").next())
                .unwrap_or(&report)
        );
    }
}

fn miniktl(home: &Home, args: &[&str]) -> std::process::Output {
    Command::new(support::workspace_bin("miniktl"))
        .args(["cluster"])
        .args(args)
        .arg("--home")
        .arg(&home.0)
        .output()
        .expect("run miniktl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_damage_then_restore_brings_objects_back() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home(dir.path().join("home"));
    let snapshot = dir.path().join("backup.snap");
    let snapshot_arg = snapshot.to_str().unwrap();
    let s = serving(&home, &[]);
    let max_rv = seed(&s, 50).await;

    let out = miniktl(&home, &["backup", snapshot_arg]);
    assert!(out.status.success(), "backup: {out:?}");
    let saved = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(saved.contains("Saved a snapshot of"), "{saved}");

    // A running cluster's store is never overwritten.
    let out = miniktl(&home, &["restore", snapshot_arg]);
    assert!(
        !out.status.success(),
        "restore over a running store succeeded"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use") && err.contains("stop the cluster"),
        "{err}"
    );

    wait_for_marker(&home, max_rv);
    drop(s);
    truncate_by(&home, u64::MAX);
    assert_clear_refusal(&refused(&home), &home);

    let out = miniktl(&home, &["restore", snapshot_arg]);
    assert!(out.status.success(), "restore: {out:?}");
    let restored = String::from_utf8_lossy(&out.stdout);
    assert!(restored.contains("kept in"), "{restored}");

    let s = serving(&home, &[]);
    let back = count(&s).await;
    assert_eq!(back, 50, "objects missing after restore");
    assert_watch_gone(&s, max_rv).await;
    let after: ConfigMap = configmaps(&s)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "after"}})).unwrap(),
        )
        .await
        .unwrap();
    assert!(rv(&after) > max_rv, "revision reused after restore");
    println!(
        "backup → truncated to zero → restore: {back}/50 objects back, next write at revision {} > {max_rv}; {saved}; {}",
        rv(&after),
        restored.lines().next().unwrap_or("")
    );
}
