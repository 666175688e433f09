//! Benchmark of the StatefulSet controller on the simulated runtime: how
//! long a 3-replica OrderedReady StatefulSet takes from its creation to all
//! 3 pods Ready, against a Deployment of the same size (its pods all start
//! at once) in the same run, and a Parallel StatefulSet. Prints its
//! figures; see BENCHMARKS.md.
//!
//! Everything runs in this process: API server, every controller, the
//! scheduler and one simulated kubelet serving 3 nodes whose containers
//! start after the sim runtime's default 500 ms. Each workload is created,
//! timed to `readyReplicas == 3` on a watch, and deleted (pods gone) before
//! the next; `--rounds N` repeats (default 5) and the median is printed.
//!
//! Run: `cargo run --release -p minik-tests --bin bench-statefulset`

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::{json, Value};

fn spec(extra: Value) -> Value {
    let mut spec = json!({
        "replicas": 3,
        "selector": {"matchLabels": {"app": "bench"}},
        "template": {
            "metadata": {"labels": {"app": "bench"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "minik/busybox:1.35"}]},
        },
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

/// Creates the object, then waits on a watch until its readyReplicas is 3.
async fn time_to_ready<K>(api: &Api<K>, obj: K) -> anyhow::Result<Duration>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api.clone(), config).boxed();
    // The watch is open (its initial list is done) before the clock starts.
    while let Some(ev) = events.next().await {
        if matches!(ev?, watcher::Event::InitDone) {
            break;
        }
    }
    let start = Instant::now();
    api.create(&PostParams::default(), &obj).await?;
    let deadline = Duration::from_secs(120);
    while let Some(ev) = tokio::time::timeout(deadline, events.next()).await? {
        if let watcher::Event::Apply(o) = ev? {
            let v = serde_json::to_value(&o)?;
            if v.pointer("/status/readyReplicas").and_then(Value::as_i64) == Some(3) {
                return Ok(start.elapsed());
            }
        }
    }
    anyhow::bail!("the watch of {name} ended")
}

async fn delete_and_wait<K>(api: &Api<K>, pods: &Api<Pod>, name: &str) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    api.delete(name, &DeleteParams::foreground()).await?;
    let start = Instant::now();
    while api.get_opt(name).await?.is_some()
        || !pods
            .list(&ListParams::default().labels("app=bench"))
            .await?
            .items
            .is_empty()
    {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "pods of {name} linger"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let server = minik_apiserver::start(minik_apiserver::Config::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse()?,
    ))
    .await?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
    let controllers = tokio::spawn(minik_controller::run(client.clone(), Default::default()));
    let scheduler = tokio::spawn(minik_scheduler::run(minik_scheduler::Config::new(
        client.clone(),
    )));
    let mut config = minik_kubelet::Config::new("node");
    config.runtime = minik_kubelet::RuntimeKind::Sim;
    config.nodes = 3;
    config.root_dir = dir.path().join("kubelet");
    config.listen = "127.0.0.1:0".parse()?;
    let sim_delay = config.sim_delay;
    let kubelet = minik_kubelet::start(config, client.clone()).await?;

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (mut deploy, mut ordered, mut parallel) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let d: Deployment = serde_json::from_value(
            json!({"metadata": {"name": "bench"}, "spec": spec(json!({}))}),
        )?;
        deploy.push(time_to_ready(&deployments, d).await?);
        delete_and_wait(&deployments, &pods, "bench").await?;
        for (policy, into) in [("OrderedReady", &mut ordered), ("Parallel", &mut parallel)] {
            let s: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "bench"},
                "spec": spec(json!({"serviceName": "bench", "podManagementPolicy": policy}))}))?;
            into.push(time_to_ready(&sets, s).await?);
            delete_and_wait(&sets, &pods, "bench").await?;
        }
        println!(
            "round {}: Deployment {}, StatefulSet OrderedReady {}, Parallel {}",
            round + 1,
            ms(deploy[round]),
            ms(ordered[round]),
            ms(parallel[round])
        );
    }
    println!(
        "3 replicas, created → 3 Ready (sim runtime, container start {}), median of {rounds}: Deployment {} | StatefulSet OrderedReady {} | StatefulSet Parallel {}",
        ms(sim_delay),
        ms(median(deploy)),
        ms(median(ordered)),
        ms(median(parallel)),
    );
    drop(kubelet);
    controllers.abort();
    scheduler.abort();
    server.stop().await?;
    Ok(())
}
