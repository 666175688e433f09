//! Resource metrics and the HorizontalPodAutoscaler with real Docker
//! containers: a Deployment whose container burns CPU scales up under an
//! HPA within two sync periods, `kubectl top` shows the burner's usage,
//! and once the load stops it scales back down; then a seed tutorial's
//! autoscaling/v2 HPA (CPU, memory and a Pods metric minik cannot serve)
//! scales a real workload, reporting the unsupported metric.
//!
//! Docker is required: this test fails under CI=true without an engine.

use crate::kubelet_support;
use crate::support;
use crate::support::miniktl as mk;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;
use kubelet_support::*;
use serde_json::{json, Value};
use support::autoscaling::*;
use support::workloads::{events_about, wait_for};
use support::TestCluster;

/// The HPA loop period and the metrics resolution of this test.
const PERIOD: Duration = Duration::from_secs(3);
const RESOLUTION: Duration = Duration::from_secs(2);
const T: Duration = Duration::from_secs(90);

/// A Deployment of CPU burners on node-1 (no scheduler runs here) that
/// stop burning once `/tmp/stop` exists.
fn burner(name: &str, namespace: &str, replicas: i32, cpu_limit: &str) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeName": "node-1",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "burn", "image": "busybox:1.35",
                        "command": ["sh", "-c", "while [ ! -f /tmp/stop ]; do :; done; exec sleep 3600"],
                        "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": cpu_limit}}
                    }]
                }
            }
        }
    })
    .to_string()
}

async fn replicas(tc: &TestCluster, ns: &str, name: &str) -> i32 {
    let api: Api<Deployment> = Api::namespaced(tc.client.clone(), ns);
    api.get(name)
        .await
        .ok()
        .and_then(|d| d.spec?.replicas)
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_burner_scales_up_and_back_down_with_real_containers() {
    let Some(c) =
        KubeletCluster::start_configured(|s| s.metrics_resolution = RESOLUTION, |_| {}).await
    else {
        return;
    };
    let tc = &c.cluster;
    let _controllers = start_autoscaling_controllers(&tc.client, PERIOD);

    tc.apply(&burner("burner", "default", 1, "150m"));
    // kubectl top sees the burner above 90m once it has been scraped twice.
    let top = wait_for("the burner in kubectl top", T, || async {
        let out = tc.kubectl(&["top", "pods", "-l", "app=burner"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let row = table(&text)
            .into_iter()
            .find(|r| r[0].starts_with("burner-"))?;
        (number(&row[1])? > 90).then_some(text)
    })
    .await;
    let ours = mk::miniktl(&tc.kubeconfig, &["top", "pods", "-l", "app=burner"]).await;
    assert!(
        agree(&top, &ours.out, 40),
        "kubectl:\n{top}\nminiktl:\n{}",
        ours.out
    );
    let nodes = tc.kubectl_ok(&["top", "nodes"]);
    let node = table(&nodes)
        .into_iter()
        .find(|r| r[0] == "node-1")
        .expect("node-1 row");
    assert!(number(&node[1]).unwrap() > 90, "{nodes}");
    let ours = mk::miniktl(&tc.kubeconfig, &["top", "nodes"]).await;
    assert!(
        agree(&nodes, &ours.out, 60),
        "kubectl:\n{nodes}\nminiktl:\n{}",
        ours.out
    );

    // The HPA: 50 % of the 100m request; the burner uses ~150 %.
    let created = Instant::now();
    tc.apply(
        r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: burner
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burner}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
"#,
    );
    wait_for(
        "a scale up",
        2 * PERIOD + Duration::from_secs(1),
        || async { (replicas(tc, "default", "burner").await > 1).then_some(()) },
    )
    .await;
    let up = created.elapsed();
    // The Event is written just after the scale; the size depends on the
    // CPU the burner got (3 when it has its whole 150m limit).
    wait_for("the SuccessfulRescale event", T, || async {
        let events = events_about(&tc.client, "default", "burner").await;
        events
            .iter()
            .any(|(r, n)| {
                r == "SuccessfulRescale"
                    && n.starts_with("New size: ")
                    && n.ends_with(
                        "; reason: cpu resource utilization (percentage of request) above target",
                    )
            })
            .then_some(())
    })
    .await;
    let get = tc.kubectl_ok(&["get", "hpa", "burner"]);
    let targets = table(&get)[1][2].clone();
    assert!(
        targets.starts_with("cpu:") || get.contains("cpu: "),
        "{get}"
    );
    assert!(get.contains("%/50%"), "{get}");
    let describe = tc.kubectl_ok(&["describe", "hpa", "burner"]);
    for text in [
        "AbleToScale",
        "ScalingActive",
        "ValidMetricFound",
        "SuccessfulRescale",
    ] {
        assert!(describe.contains(text), "{text} in:\n{describe}");
    }

    // The load stops in every pod; the HPA brings it back to one.
    wait_for("every burner running", T, || async {
        let wanted = replicas(tc, "default", "burner").await;
        let pods = c
            .pods()
            .list(&kube::api::ListParams::default().labels("app=burner"))
            .await
            .ok()?;
        let running: Vec<String> = pods
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        (wanted > 1 && running.len() == wanted as usize).then_some(running)
    })
    .await
    .iter()
    .for_each(|pod| {
        tc.kubectl_ok(&["exec", pod, "--", "touch", "/tmp/stop"]);
    });
    let stopped = Instant::now();
    wait_for("the scale down", T, || async {
        (replicas(tc, "default", "burner").await == 1).then_some(())
    })
    .await;
    let down = stopped.elapsed();
    wait_for("the scale-down event", T, || async {
        let events = events_about(&tc.client, "default", "burner").await;
        events
            .iter()
            .any(|(r, n)| {
                r == "SuccessfulRescale" && n == "New size: 1; reason: All metrics below target"
            })
            .then_some(())
    })
    .await;
    eprintln!("scaled up {up:?} after the HPA was created; down {down:?} after the load stopped");
    tc.kubectl_ok(&["delete", "hpa", "burner"]);
    tc.kubectl_ok(&["delete", "deployment", "burner"]);

    // A seed tutorial's HPA: CPU and memory utilization, a Pods metric
    // (http_requests_per_second) and behavior, applied with the real kubectl.
    tc.kubectl_ok(&["create", "namespace", "microservices"]);
    tc.apply(&burner("user-service", "microservices", 2, "100m"));
    // Both pods scraped before the HPA exists: every loop that finds no
    // metrics records four Events, and after about six such loops (at this
    // test's 3 s period, under the whole suite's load) client-go's spam
    // filter — 25 Events per source and object — would drop the rescale's.
    wait_for("the user-service pods in kubectl top", T, || async {
        let out = tc.kubectl(&[
            "top",
            "pods",
            "-n",
            "microservices",
            "-l",
            "app=user-service",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let rows = table(&text)
            .into_iter()
            .filter(|r| r[0].starts_with("user-service-"))
            .count();
        (rows == 2).then_some(())
    })
    .await;
    tc.apply(SEED_HPA);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(tc.client.clone(), "microservices");
    wait_for("the seed's HPA scales the workload up", T, || async {
        (replicas(tc, "microservices", "user-service").await > 2).then_some(())
    })
    .await;
    // A loop whose scrape missed (the kubelet's stats are slow under load)
    // reports empty metrics, as Kubernetes' does; wait for one that read them.
    let status = wait_for("the seed's HPA reads cpu and memory", T, || async {
        let status = serde_json::to_value(hpas.get("user-service-hpa").await.ok()?.status?).ok()?;
        (status["currentMetrics"][0]["resource"]["name"] == "cpu").then_some(status)
    })
    .await;
    let metrics: Vec<&Value> = status["currentMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(metrics[0]["resource"]["name"], "cpu", "{status}");
    assert_eq!(metrics[1]["resource"]["name"], "memory", "{status}");
    assert!(
        metrics[1]["resource"]["current"]["averageUtilization"].is_number(),
        "{status}"
    );
    // Events are written in the background after the change they report
    // (the recorder's queue); under load the rescale's can trail the scale.
    let reported = |events: &[(String, String)]| {
        let pods_metric = events.iter().any(|(r, n)| {
            r == "FailedGetPodsMetric" && n.contains("Pods metrics are not supported")
        });
        let rescale = events.iter().any(|(r, n)| {
            r == "SuccessfulRescale"
                && n.contains("cpu resource utilization (percentage of request) above target")
        });
        pods_metric && rescale
    };
    let deadline = Instant::now() + T;
    let events = loop {
        let events = events_about(&tc.client, "microservices", "user-service-hpa").await;
        if reported(&events) || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(reported(&events), "{events:?}");
    tc.kubectl_ok(&["delete", "namespace", "microservices", "--wait=false"]);
    tc.kubectl_ok(&[
        "delete",
        "deployment",
        "user-service",
        "-n",
        "microservices",
        "--wait=false",
    ]);
}

/// From the seeds (a microservices tutorial), as written there.
const SEED_HPA: &str = r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: user-service-hpa
  namespace: microservices
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: user-service
  minReplicas: 2
  maxReplicas: 20
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 70
  - type: Resource
    resource:
      name: memory
      target:
        type: Utilization
        averageUtilization: 80
  - type: Pods
    pods:
      metric:
        name: http_requests_per_second
      target:
        type: AverageValue
        averageValue: "100"
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      policies:
      - type: Percent
        value: 10
        periodSeconds: 60
    scaleUp:
      stabilizationWindowSeconds: 0
      policies:
      - type: Percent
        value: 100
        periodSeconds: 15
      - type: Pods
        value: 4
        periodSeconds: 15
      selectPolicy: Max
"#;
