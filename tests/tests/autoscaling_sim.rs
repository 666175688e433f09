//! metrics.k8s.io and the HorizontalPodAutoscaler on simulated nodes: the
//! kubelets' synthetic usage (driven by the `sim.minik.io/cpu` annotation)
//! scraped by the API server, read by the real `kubectl top` and by
//! `miniktl top`, and an HPA scaling a Deployment up and back down.
//! Fast; the Docker test (`autoscaling_docker.rs`) is the real one.

use crate::support;
use crate::support::miniktl as mk;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;
use serde_json::json;
use support::autoscaling::*;
use support::workloads::{events_about, wait_for};
use support::TestCluster;

const T: Duration = Duration::from_secs(30);

fn sim_node(cluster: &TestCluster, name: &str) -> minik_kubelet::Config {
    let mut config = cluster.sim_node(name);
    config.sim_delay = Duration::from_millis(100);
    config.cpu_capacity = Some("4".into());
    config.memory_capacity = Some("8Gi".into());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_api_top_and_autoscaling_on_simulated_nodes() {
    let tc = TestCluster::start_with(|c| c.metrics_resolution = Duration::from_millis(500)).await;
    let node_a = minik_kubelet::start(sim_node(&tc, "node-a"), tc.client.clone())
        .await
        .unwrap();
    let node_b = minik_kubelet::start(sim_node(&tc, "node-b"), tc.client.clone())
        .await
        .unwrap();
    let _controllers = start_autoscaling_controllers(&tc.client, Duration::from_secs(1));

    // Discovery lists the group, classic and aggregated, as kubectl needs.
    let groups = tc
        .raw("GET", "/apis", "application/json", vec![])
        .await
        .body;
    assert!(groups.to_string().contains("\"metrics.k8s.io\""));
    let (_, aggregated) = tc
        .raw_with_accept(
            "/apis",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )
        .await;
    let metrics_group = aggregated["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "metrics.k8s.io")
        .expect("aggregated discovery lists metrics.k8s.io");
    let verbs = &metrics_group["versions"][0]["resources"][0]["verbs"];
    assert_eq!(verbs, &json!(["get", "list"]));

    tc.apply(
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
            .to_string(),
    );
    tc.apply(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "batch", "namespace": "other", "labels": {"app": "batch"},
                     "annotations": {"sim.minik.io/memory": "128Mi"}},
        "spec": {"nodeName": "node-b", "containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", "while :; do :; done"], "resources": {"limits": {"cpu": "300m"}}}]}
    }).to_string());
    tc.apply(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"},
                             "annotations": {"sim.minik.io/cpu": "150m", "sim.minik.io/memory": "64Mi"}},
                "spec": {"nodeName": "node-a", "containers": [
                    {"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                     "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}},
                    {"name": "sidecar", "image": "busybox", "command": ["sleep", "3600"],
                     "resources": {"requests": {"cpu": "100m"}}}
                ]}
            }
        }
    }).to_string());

    // PodMetrics appear once each pod is scraped twice.
    let pods = wait_for("PodMetrics of web and batch", T, || async {
        let list = tc
            .raw("GET", "/apis/metrics.k8s.io/v1beta1/pods", "", vec![])
            .await
            .body;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 2).then_some(list)
    })
    .await;
    assert_eq!(pods["kind"], "PodMetricsList");
    let web = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["metadata"]["namespace"] == "default")
        .unwrap();
    assert_eq!(web["metadata"]["labels"]["app"], "web");
    assert_eq!(web["containers"][0]["usage"]["memory"], "64Mi");
    assert!(web["window"].as_str().unwrap().ends_with('s'));

    // Writes and watches are refused as kube-apiserver refuses them for metrics.
    let post = tc
        .raw(
            "POST",
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(post.code, 405, "{}", post.body);
    assert_eq!(post.body["reason"], "MethodNotAllowed");
    let watch = tc
        .raw(
            "GET",
            "/apis/metrics.k8s.io/v1beta1/pods?watch=true",
            "",
            vec![],
        )
        .await;
    assert_eq!(watch.code, 405);
    let missing = tc
        .raw(
            "GET",
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope",
            "",
            vec![],
        )
        .await;
    assert_eq!(missing.code, 404);
    assert_eq!(
        missing.body["message"],
        "pods.metrics.k8s.io \"nope\" not found"
    );

    // The real kubectl and miniktl print the same tables.
    let web_pod = web["metadata"]["name"].as_str().unwrap().to_string();
    for args in [
        vec!["top", "pods"],
        vec!["top", "pods", "--containers"],
        vec!["top", "pods", "-A"],
        vec!["top", "pods", "-l", "app=batch", "-n", "other"],
        vec!["top", "pods", web_pod.as_str()],
        vec!["top", "nodes"],
    ] {
        let theirs = tc.kubectl_ok(&args);
        let ours = mk::miniktl(&tc.kubeconfig, &args).await;
        assert_eq!(ours.code, 0, "miniktl {args:?}: {}", ours.err);
        assert!(
            agree(&theirs, &ours.out, 3),
            "kubectl {args:?}:\n{theirs}\nminiktl:\n{}",
            ours.out
        );
    }
    // The annotation sets each container's usage.
    let containers = table(&tc.kubectl_ok(&["top", "pods", "--containers"]));
    let sidecar = containers
        .iter()
        .find(|r| r[1] == "sidecar")
        .expect("sidecar row");
    assert!(
        (148..=153).contains(&number(&sidecar[2]).unwrap()),
        "{sidecar:?}"
    );
    let all = tc.kubectl_ok(&["top", "pods", "-A"]);
    assert!(all.starts_with("NAMESPACE"), "{all}");
    let batch_cpu = table(&all)
        .iter()
        .find(|r| r[1] == "batch")
        .map(|r| number(&r[2]).unwrap())
        .unwrap();
    assert!(
        (297..=303).contains(&batch_cpu),
        "a busy loop burns its 300m limit: {all}"
    );

    // An HPA at 50 % of the requests: web uses 300m of 200m requested (150 %).
    tc.apply(&json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}
        }
    }).to_string());
    let deployments: Api<Deployment> = Api::namespaced(tc.client.clone(), "default");
    wait_for("web scaled to the HPA's maximum", T, || async {
        let d = deployments.get("web").await.ok()?;
        (d.spec?.replicas == Some(3)).then_some(())
    })
    .await;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(tc.client.clone(), "default");
    // At the maximum, the next sync still wants more (ceil(3 × 150 / 50) = 9).
    let hpa = wait_for("HPA status limited at maxReplicas", T, || async {
        let h = hpas.get("web").await.ok()?;
        let s = h.status.clone()?;
        let limited =
            s.conditions.iter().flatten().any(|c| {
                c.type_ == "ScalingLimited" && c.reason.as_deref() == Some("TooManyReplicas")
            });
        (s.current_replicas == Some(3) && s.last_scale_time.is_some() && limited).then_some(h)
    })
    .await;
    let status = serde_json::to_value(hpa.status.unwrap()).unwrap();
    let condition = |t: &str| {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(condition("ScalingActive")["reason"], "ValidMetricFound");
    assert_eq!(condition("ScalingLimited")["status"], "True", "{status}");
    assert_eq!(condition("ScalingLimited")["reason"], "TooManyReplicas");
    wait_for("the scale-up Event", T, || async {
        let events = events_about(&tc.client, "default", "web").await;
        events
            .iter()
            .any(|(reason, note)| reason == "SuccessfulRescale"
                && note == "New size: 3; reason: cpu resource utilization (percentage of request) above target")
            .then_some(())
    })
    .await;
    let get = tc.kubectl_ok(&["get", "hpa", "web"]);
    assert!(get.contains("cpu: ") && get.contains("%/50%"), "{get}");
    let describe = tc.kubectl_ok(&["describe", "hpa", "web"]);
    assert!(
        describe.contains("ScalingActive") && describe.contains("SuccessfulRescale"),
        "{describe}"
    );

    // The load stops: every pod idles, and the HPA scales back to one.
    tc.kubectl_ok(&[
        "annotate",
        "pods",
        "-l",
        "app=web",
        "sim.minik.io/cpu=1m",
        "--overwrite",
    ]);
    tc.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sim.minik.io/cpu":"1m"}}}}}"#,
    ]);
    wait_for("web scaled back down", T, || async {
        let d = deployments.get("web").await.ok()?;
        (d.spec?.replicas == Some(1)).then_some(())
    })
    .await;
    // The HPA scales, then records the Event.
    wait_for("the scale-down Event", T, || async {
        let events = events_about(&tc.client, "default", "web").await;
        events
            .iter()
            .any(|(r, n)| {
                r == "SuccessfulRescale" && n == "New size: 1; reason: All metrics below target"
            })
            .then_some(())
    })
    .await;

    // A node that stops answering: the other is still reported.
    drop(node_b);
    wait_for("node-b's metrics gone", T, || async {
        let r = tc
            .raw(
                "GET",
                "/apis/metrics.k8s.io/v1beta1/nodes/node-b",
                "",
                vec![],
            )
            .await;
        (r.code == 404).then_some(())
    })
    .await;
    let top = mk::miniktl(&tc.kubeconfig, &["top", "nodes"]).await;
    assert_eq!(top.code, 0, "{}", top.err);
    let rows = table(&top.out);
    assert!(
        rows.iter().any(|r| r[0] == "node-a" && r[1].ends_with('m')),
        "{}",
        top.out
    );
    assert!(
        rows.iter().any(|r| r[0] == "node-b" && r[1] == "<unknown>"),
        "{}",
        top.out
    );
    drop(node_a);
}

/// A custom kind with a `scale` subresource whose selector sits in `status`.
const FLEET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: fleets.minik.example.com
spec:
  group: minik.example.com
  scope: Namespaced
  names: {plural: fleets, singular: fleet, kind: Fleet}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_scales_a_custom_resource_through_its_scale_subresource() {
    let tc = TestCluster::start_with(|c| c.metrics_resolution = Duration::from_millis(500)).await;
    let _node = minik_kubelet::start(sim_node(&tc, "node-a"), tc.client.clone())
        .await
        .unwrap();
    let _controllers = start_autoscaling_controllers(&tc.client, Duration::from_secs(1));
    tc.apply(FLEET_CRD);
    tc.apply(r#"{"apiVersion": "minik.example.com/v1", "kind": "Fleet", "metadata": {"name": "ships"}, "spec": {"replicas": 2}}"#);
    // What a fleet controller would report: its pods and their selector.
    tc.kubectl_ok(&[
        "patch",
        "fleet",
        "ships",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":2,"selector":"app=ships"}}"#,
    ]);
    for i in 0..2 {
        tc.apply(
            &json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("ship-{i}"), "labels": {"app": "ships"},
                             "annotations": {"sim.minik.io/cpu": "150m"}},
                "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "busybox",
                    "resources": {"requests": {"cpu": "100m"}}}]}
            })
            .to_string(),
        );
    }
    let scale = tc.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/minik.example.com/v1/namespaces/default/fleets/ships/scale",
    ]);
    let scale: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(scale["status"]["selector"], "app=ships");

    // 150% of the request against a 50% target: as many as maxReplicas allows.
    tc.kubectl_ok(&[
        "autoscale",
        "fleet",
        "ships",
        "--cpu-percent=50",
        "--min=1",
        "--max=4",
    ]);
    let fleets: Api<kube::api::DynamicObject> = Api::namespaced_with(
        tc.client.clone(),
        "default",
        &kube::api::ApiResource {
            group: "minik.example.com".into(),
            version: "v1".into(),
            api_version: "minik.example.com/v1".into(),
            kind: "Fleet".into(),
            plural: "fleets".into(),
        },
    );
    wait_for("the HPA to scale the Fleet to 4", T, || async {
        let fleet = fleets.get("ships").await.unwrap();
        (fleet.data["spec"]["replicas"] == 4).then_some(())
    })
    .await;
    // The HPA writes the scale, then its status and Event.
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(tc.client.clone(), "default");
    wait_for("the HPA's status to say 4", T, || async {
        let hpa = hpas.get("ships").await.unwrap();
        (hpa.status?.desired_replicas == 4).then_some(())
    })
    .await;
    let events = wait_for("the rescale Event", T, || async {
        let events = events_about(&tc.client, "default", "ships").await;
        events
            .iter()
            .any(|(reason, _)| reason == "SuccessfulRescale")
            .then_some(events)
    })
    .await;
    assert!(
        events
            .iter()
            .any(|(reason, note)| reason == "SuccessfulRescale" && note.contains("New size: 4")),
        "{events:?}"
    );
}
