//! Benchmark of minik-scheduler against an in-process minik-apiserver with
//! 1,000 nodes. Prints its figures; see BENCHMARKS.md.
//!
//! 1. **backlog** — 10,000 pods are created first (the API server's create
//!    rate is printed too), then the scheduler starts: pods bound per
//!    second from its start to the last binding (a kube scheduler_perf-like
//!    throughput figure).
//! 2. **stream** — with the scheduler running, 10,000 more pods are created
//!    as fast as the API server takes them: creation → binding latency
//!    (create acknowledged → binding seen on a watch) p50/p99, and pods
//!    bound per second over the phase.
//! 3. **deployment** — a 100-replica Deployment created with the ReplicaSet
//!    and Deployment controllers running: create → all 100 pods bound.
//!
//! Pods request 100m CPU and 64Mi; nodes have 4 CPUs, 16Gi, 110 pods. Pods
//! belong to 100 owners (controller ownerReferences), so spreading works
//! as it would for 100 ReplicaSets. Also printed: how many `Scheduled`
//! Events were written (the scheduler's event queue drops when full).
//!
//! Run: `cargo run --release -p minik-tests --bin bench-scheduler`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::Notify;

const NODES: usize = 1_000;
const PODS: usize = 10_000;
const OWNERS: usize = 100;
const CREATORS: usize = 32;
const REPLICAS: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn client_for(url: &str) -> anyhow::Result<kube::Client> {
    Ok(kube::Client::try_from(kube::Config::new(url.parse()?))?)
}

fn pod(ns: &str, i: usize) -> Pod {
    let owner = i % OWNERS;
    serde_json::from_value(json!({
        "metadata": {"name": format!("p-{i}"), "namespace": ns, "labels": {"app": format!("app-{owner}")},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("rs-{owner}"),
                "uid": format!("{ns}-owner-{owner}"), "controller": true}]},
        "spec": {"containers": [{"name": "main", "image": "minik/web:v1",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }))
    .unwrap()
}

/// When each pod of a namespace was first seen, and first seen bound.
#[derive(Default)]
struct Seen {
    created: HashMap<String, Instant>,
    bound: HashMap<String, Instant>,
}

/// Watches a namespace's pods into a [`Seen`]; returns once the watch has listed.
async fn bind_watch(client: kube::Client, ns: &str) -> Arc<Mutex<Seen>> {
    let seen: Arc<Mutex<Seen>> = Default::default();
    let listed = Arc::new(Notify::new());
    let api: Api<Pod> = Api::namespaced(client, ns);
    let (seen2, listed2) = (seen.clone(), listed.clone());
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(Ok(event)) = stream.next().await {
            let now = Instant::now();
            match event {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                    let name = p.metadata.name.clone().unwrap();
                    let mut seen = seen2.lock().unwrap();
                    seen.created.entry(name.clone()).or_insert(now);
                    if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                        seen.bound.entry(name).or_insert(now);
                    }
                }
                watcher::Event::InitDone => listed2.notify_one(),
                _ => {}
            }
        }
    });
    listed.notified().await;
    seen
}

async fn wait_count(seen: &Mutex<Seen>, n: usize, limit: Duration) -> bool {
    let start = Instant::now();
    while seen.lock().unwrap().bound.len() < n {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// Creates pods `from..to` in `ns` with CREATORS concurrent requests;
/// returns when each creation was acknowledged (from then on the pod exists).
async fn create_pods(
    client: &kube::Client,
    ns: &str,
    from: usize,
    to: usize,
) -> HashMap<String, Instant> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(from..to)
        .map(|i| {
            let api = api.clone();
            let p = pod(ns, i);
            async move {
                api.create(&PostParams::default(), &p)
                    .await
                    .expect("pod created");
                (p.metadata.name.unwrap(), Instant::now())
            }
        })
        .buffer_unordered(CREATORS)
        .collect()
        .await
}

async fn create_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}}))?,
        )
        .await?;
    Ok(())
}

async fn scheduled_events(client: &kube::Client, ns: &str) -> anyhow::Result<usize> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Scheduled"))
        .count())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = minik_apiserver::start(minik_apiserver::Config::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse()?,
    ))
    .await?;
    let client = client_for(&server.url())?;
    println!(
        "minik-scheduler benchmark: {NODES} nodes, {PODS} pods per phase (store in {})",
        dir.path().display()
    );

    // Nodes, registered as kubelets do: the Node, then its status.
    let started = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    let resources = json!({"cpu": "4", "memory": "16Gi", "pods": "110"});
    let status = json!({"status": {"capacity": resources, "allocatable": resources,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    futures::stream::iter(0..NODES)
        .map(|i| {
            let (nodes, status) = (nodes.clone(), status.clone());
            async move {
                let name = format!("node-{i}");
                let node: Node = serde_json::from_value(json!({"metadata": {"name": name,
                    "labels": {"kubernetes.io/hostname": name}}}))?;
                nodes.create(&PostParams::default(), &node).await?;
                nodes
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CREATORS)
        .try_collect::<Vec<_>>()
        .await?;
    println!(
        "setup     {NODES} nodes registered in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 1. Backlog: everything pending before the scheduler starts.
    create_namespace(&client, "backlog").await?;
    let started = Instant::now();
    create_pods(&client, "backlog", 0, PODS).await;
    let took = started.elapsed();
    println!(
        "api       {PODS} pod creates ({CREATORS} concurrent clients) in {:.1} s = {:.0} creates/s",
        took.as_secs_f64(),
        PODS as f64 / took.as_secs_f64()
    );
    let backlog = bind_watch(client.clone(), "backlog").await;
    let scheduler_client = client_for(&server.url())?;
    let started = Instant::now();
    let scheduler = tokio::spawn(minik_scheduler::run(minik_scheduler::Config::new(
        scheduler_client,
    )));
    if !wait_count(&backlog, PODS, Duration::from_secs(300)).await {
        anyhow::bail!(
            "backlog: only {} of {PODS} pods bound after 300 s",
            backlog.lock().unwrap().bound.len()
        );
    }
    let last = backlog
        .lock()
        .unwrap()
        .bound
        .values()
        .max()
        .copied()
        .unwrap();
    let took = last.duration_since(started);
    let first = backlog
        .lock()
        .unwrap()
        .bound
        .values()
        .min()
        .copied()
        .unwrap();
    println!(
        "backlog   {PODS} pending pods bound in {:.2} s = {:.0} pods/s (first binding {} after start, incl. listing {NODES} nodes and {PODS} pods)",
        took.as_secs_f64(),
        PODS as f64 / took.as_secs_f64(),
        ms(first.duration_since(started)),
    );

    // 2. Stream: pods created while the scheduler runs.
    create_namespace(&client, "stream").await?;
    let stream = bind_watch(client.clone(), "stream").await;
    let started = Instant::now();
    let acked = create_pods(&client, "stream", 0, PODS).await;
    let created = started.elapsed();
    if !wait_count(&stream, PODS, Duration::from_secs(300)).await {
        anyhow::bail!(
            "stream: only {} of {PODS} pods bound after 300 s",
            stream.lock().unwrap().bound.len()
        );
    }
    let bound = std::mem::take(&mut stream.lock().unwrap().bound);
    let mut latencies: Vec<Duration> = bound
        .iter()
        .map(|(name, at)| at.saturating_duration_since(acked[name]))
        .collect();
    latencies.sort();
    let last = bound.values().max().copied().unwrap();
    println!(
        "stream    {PODS} pods created in {:.2} s ({:.0}/s) and bound by {:.2} s = {:.0} pods/s; creation -> binding p50 {} p99 {} max {}",
        created.as_secs_f64(),
        PODS as f64 / created.as_secs_f64(),
        last.duration_since(started).as_secs_f64(),
        PODS as f64 / last.duration_since(started).as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "events    Scheduled events written: backlog {} of {PODS}, stream {} of {PODS} (the rest dropped by a full event queue)",
        scheduled_events(&client, "backlog").await?,
        scheduled_events(&client, "stream").await?,
    );

    // 3. A 100-replica Deployment through the ReplicaSet and Deployment controllers.
    let ctx = Arc::new(minik_controller::Context::new(
        client_for(&server.url())?,
        minik_controller::Settings::default(),
    ));
    let controllers = [tokio::spawn(minik_controller::run_only(
        ctx,
        &[
            minik_controller::replicaset::build,
            minik_controller::deployment::build,
        ],
    ))];
    create_namespace(&client, "deploy").await?;
    let deployed = bind_watch(client.clone(), "deploy").await;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "minik/web:v1",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}},
    }))?;
    let started = Instant::now();
    Api::<Deployment>::namespaced(client.clone(), "deploy")
        .create(&PostParams::default(), &deployment)
        .await?;
    if !wait_count(&deployed, REPLICAS, Duration::from_secs(120)).await {
        anyhow::bail!(
            "deployment: only {} of {REPLICAS} pods bound after 120 s",
            deployed.lock().unwrap().bound.len()
        );
    }
    let (all_created, all_bound, worst) = {
        let seen = deployed.lock().unwrap();
        let worst = seen
            .bound
            .iter()
            .map(|(name, at)| at.duration_since(seen.created[name]))
            .max()
            .unwrap();
        (
            seen.created.values().max().copied().unwrap(),
            seen.bound.values().max().copied().unwrap(),
            worst,
        )
    };
    println!(
        "deploy    {REPLICAS}-replica Deployment: create -> all pods bound in {} (all pods created by {}; longest pod creation -> binding {})",
        ms(all_bound.duration_since(started)),
        ms(all_created.duration_since(started)),
        ms(worst),
    );

    scheduler.abort();
    for c in controllers {
        c.abort();
    }
    server.stop().await?;
    Ok(())
}
