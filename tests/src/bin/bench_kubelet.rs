//! Benchmark of minik-kubelet with real Docker: pod startup latency, from
//! the pod's creation to its Ready condition, for 30 pods created at once
//! (image present), p50 and p99. Prints its figures; see BENCHMARKS.md.
//!
//! Baseline measured in the same run: raw Docker through bollard creating
//! and starting the same containers per pod — an infra container on the
//! same kind of bridge network, then the app container joined to its
//! network namespace — 30 pods at once, each timed from its first request
//! to its app container started. The target is kubelet p99 ≤ 1.5× raw p99
//! (Kubernetes' SLO: p99 ≤ 5 s).
//!
//! Run: `cargo run --release -p minik-tests --bin bench-kubelet`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

const PODS: usize = 30;
const APP_IMAGE: &str = "minik/web:v1";
const INFRA_IMAGE: &str = "minik/pause:3.10";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Removes every container carrying `label` (`key=value`).
async fn remove_labelled(docker: &Docker, label: &str) -> anyhow::Result<()> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    for c in docker.list_containers(Some(options)).await? {
        if let Some(id) = c.id {
            let rm = RemoveContainerOptionsBuilder::default().force(true).build();
            let _ = docker.remove_container(&id, Some(rm)).await;
        }
    }
    Ok(())
}

/// One pod the raw way: infra container, then the app in its namespaces.
async fn raw_pod(
    docker: &Docker,
    network: &str,
    label: &str,
    i: usize,
) -> anyhow::Result<Duration> {
    let labels = HashMap::from([(
        label.split('=').next().unwrap().to_string(),
        label.split('=').nth(1).unwrap().to_string(),
    )]);
    let start = Instant::now();
    let infra = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&format!("raw-pod-{}-{i}", label.replace('=', "-")))
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(INFRA_IMAGE.into()),
                hostname: Some(format!("raw-{i}")),
                labels: Some(labels.clone()),
                host_config: Some(HostConfig {
                    network_mode: Some(network.into()),
                    ipc_mode: Some("shareable".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await?
        .id;
    docker.start_container(&infra, None).await?;
    let joined = format!("container:{infra}");
    let app = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&format!("raw-app-{}-{i}", label.replace('=', "-")))
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(APP_IMAGE.into()),
                labels: Some(labels),
                host_config: Some(HostConfig {
                    network_mode: Some(joined.clone()),
                    ipc_mode: Some(joined),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await?
        .id;
    docker.start_container(&app, None).await?;
    Ok(start.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let id = format!("{:x}", std::process::id());
    let network = format!("minik-bench-{id}");
    let cluster_name = format!("minik-bench-{id}");
    let raw_label = format!("minik.bench={id}");
    let docker = Docker::connect_with_local_defaults()?
        .negotiate_version()
        .await?;
    for image in [APP_IMAGE, INFRA_IMAGE] {
        docker
            .inspect_image(image)
            .await
            .map_err(|e| anyhow::anyhow!("{image} missing (run images/build.sh): {e}"))?;
    }
    let result = run(&docker, &network, &cluster_name, &raw_label).await;
    remove_labelled(&docker, &raw_label).await?;
    remove_labelled(&docker, &format!("minik.cluster={cluster_name}")).await?;
    let _ = docker.remove_network(&network).await;
    result
}

async fn run(
    docker: &Docker,
    network: &str,
    cluster_name: &str,
    raw_label: &str,
) -> anyhow::Result<()> {
    println!("minik-kubelet benchmark: {PODS} pods created at once, image present");

    // Raw Docker first, on the same kind of network.
    docker
        .create_network(NetworkCreateRequest {
            name: network.to_string(),
            driver: Some("bridge".into()),
            ..Default::default()
        })
        .await?;
    let start = Instant::now();
    let raw =
        futures::future::join_all((0..PODS).map(|i| raw_pod(docker, network, raw_label, i))).await;
    let raw_wall = start.elapsed();
    let mut raw: Vec<Duration> = raw.into_iter().collect::<Result<_, _>>()?;
    raw.sort();
    remove_labelled(docker, raw_label).await?;

    // Then the same pods through the API server and the kubelet.
    let dir = tempfile::tempdir()?;
    let server = minik_apiserver::start(minik_apiserver::Config::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse()?,
    ))
    .await?;
    let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
    let mut config = minik_kubelet::Config::new("bench-node");
    config.root_dir = dir.path().join("kubelet");
    config.network = network.to_string();
    config.network_subnet = None;
    config.cluster_name = cluster_name.to_string();
    config.listen = "127.0.0.1:0".parse()?;
    let kubelet = minik_kubelet::start(config, client.clone()).await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch_api = pods.clone();
    let watch = tokio::spawn(async move {
        let stream = watcher::watcher(watch_api, watcher::Config::default());
        futures::pin_mut!(stream);
        while let Some(Ok(event)) = stream.next().await {
            if let Event::Apply(p) | Event::InitApply(p) = event {
                let ready = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready {
                    let _ = ready_tx.send((p.metadata.name.unwrap_or_default(), Instant::now()));
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let created = futures::future::join_all((0..PODS).map(|i| {
        let pods = pods.clone();
        async move {
            let name = format!("bench-{i}");
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"nodeName": "bench-node", "containers": [{"name": "web", "image": APP_IMAGE}]}
            }))
            .unwrap();
            let at = Instant::now();
            pods.create(&PostParams::default(), &pod).await.map(|_| (name, at))
        }
    }))
    .await;
    let created: HashMap<String, Instant> = created.into_iter().collect::<Result<_, _>>()?;
    let mut latencies: HashMap<String, Duration> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while latencies.len() < PODS && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), ready_rx.recv()).await {
            Ok(Some((name, at))) => {
                if let Some(c) = created.get(&name) {
                    latencies.entry(name).or_insert(at.duration_since(*c));
                }
            }
            Ok(None) => break,
            Err(_) => continue,
        }
    }
    watch.abort();
    anyhow::ensure!(
        latencies.len() == PODS,
        "only {} of {PODS} pods became Ready",
        latencies.len()
    );
    let mut kube: Vec<Duration> = latencies.into_values().collect();
    kube.sort();
    let kubelet_wall = kube.last().copied().unwrap_or_default();
    drop(kubelet);
    server.stop().await?;

    let (raw50, raw99) = (percentile(&raw, 0.5), percentile(&raw, 0.99));
    let (k50, k99) = (percentile(&kube, 0.5), percentile(&kube, 0.99));
    println!(
        "raw Docker (infra + app, bollard):  p50 {:>8}  p99 {:>8}  all {} in {}",
        ms(raw50),
        ms(raw99),
        PODS,
        ms(raw_wall)
    );
    println!(
        "minik (created -> Ready):          p50 {:>8}  p99 {:>8}  all {} in {}",
        ms(k50),
        ms(k99),
        PODS,
        ms(kubelet_wall)
    );
    println!(
        "ratio p99 minik / raw: {:.2} (target <= 1.5; Kubernetes SLO p99 <= 5 s)",
        k99.as_secs_f64() / raw99.as_secs_f64().max(1e-9)
    );
    Ok(())
}
