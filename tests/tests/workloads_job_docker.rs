//! A Job end to end in real Docker containers: the example Indexed Job
//! (`examples/batch/indexed-job.yaml`, 5 completions, parallelism 3) runs
//! on a Docker kubelet, never more than 3 pods at once, each pod sees its
//! own index and hostname, `kubectl wait --for=condition=complete`
//! returns, and `kubectl logs` shows each shard's output.

use crate::kubelet_support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use kube::ResourceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_indexed_job_completes_in_docker() {
    let Some(c) = kubelet_support::KubeletCluster::start().await else {
        return;
    };
    let client = c.cluster.client.clone();
    let _controllers = tokio::spawn({
        let client = client.clone();
        async move {
            let _ = minik_controller::run(client, Default::default()).await;
        }
    });
    let _scheduler = tokio::spawn({
        let client = client.clone();
        async move {
            let _ = minik_scheduler::run(minik_scheduler::Config::new(client)).await;
        }
    });
    let manifest =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/batch/indexed-job.yaml");
    c.cluster
        .kubectl_ok(&["apply", "-f", manifest.to_str().unwrap()]);

    // Sample the running pods while `kubectl wait` blocks on the Job.
    let pods = c.pods();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn({
        let pods = pods.clone();
        async move {
            let mut most = 0;
            for _ in 0..1200 {
                let list = pods
                    .list(&ListParams::default().labels("job-name=shards"))
                    .await
                    .unwrap();
                let running = list
                    .items
                    .iter()
                    .filter(|p| {
                        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    })
                    .count();
                most = most.max(running);
                if stop_rx.try_recv().is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            most
        }
    });
    c.cluster.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/shards",
        "--timeout=120s",
    ]);
    let _ = stop_tx.send(());
    let most = sampler.await.unwrap();
    assert!(
        (1..=3).contains(&most),
        "parallelism 3: at most 3 pods ran at once, saw {most}"
    );

    let job = Api::<Job>::namespaced(client.clone(), "default")
        .get("shards")
        .await
        .unwrap();
    let status = job.status.unwrap();
    assert_eq!(status.succeeded, Some(5));
    assert_eq!(status.completed_indexes.as_deref(), Some("0-4"));
    // Every shard's own output, from its container's log.
    let mut lines = BTreeSet::new();
    for pod in pods
        .list(&ListParams::default().labels("job-name=shards"))
        .await
        .unwrap()
        .items
    {
        let log = c.cluster.kubectl_ok(&["logs", &pod.name_any()]);
        lines.insert(log.trim().to_string());
    }
    let words = ["alpha", "bravo", "charlie", "delta", "echo"];
    let expected: BTreeSet<String> = (0..5)
        .map(|i| format!("shards-{i} processes shard {i}: {}", words[i]))
        .collect();
    assert_eq!(lines, expected);
    // `kubectl logs job/x` picks one of the Job's pods.
    let job_log = c.cluster.kubectl_ok(&["logs", "job/shards"]);
    assert!(job_log.contains("processes shard"), "{job_log}");
    println!("docker job: Indexed Job 5 completions / parallelism 3 completed, at most {most} running at once, completedIndexes 0-4");
}
