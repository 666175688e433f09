//! A StatefulSet's volumes on real Docker: each pod's claim from
//! `volumeClaimTemplates` is provisioned and Bound on the pod's node (the
//! default StorageClass, WaitForFirstConsumer), and a file written in
//! web-1 survives `kubectl delete pod web-1`: the new web-1 mounts the same
//! claim.
//!
//! Needs the storage work of issue 13 (PV controller, local-path
//! provisioner, the kubelet's persistentVolumeClaim mounts); until that is
//! merged the test is ignored with that reason.

mod kubelet_support;
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::Api;
use kube::ResourceExt;
use kubelet_support::{docker_exec, docker_id, KubeletCluster};
use support::workloads::{is_ready, start_all_controllers, wait_for};

const WAIT: Duration = Duration::from_secs(90);

const MANIFESTS: &str = r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: minik.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox:1.35
        command: ["sh", "-c", "sleep 3600"]
        volumeMounts:
        - name: www
          mountPath: /data
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 64Mi
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "awaits the storage branch (issue 13): PV provisioning and the kubelet's persistentVolumeClaim mounts"]
async fn claims_bind_on_the_pods_node_and_data_outlives_the_pod() {
    let Some(mut c) = KubeletCluster::start().await else {
        return;
    };
    let client = c.cluster.client.clone();
    let _scheduler = support::scheduler::start_scheduler(&client);
    let _controllers = start_all_controllers(&client);
    c.cluster
        .kubectl_ok(&["apply", "-f", &c.cluster.file("web.yaml", MANIFESTS)]);
    c.cluster
        .kubectl_ok(&["rollout", "status", "sts/web", "--timeout=90s"]);

    // Every claim is Bound to a volume pinned to the node its pod runs on.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for n in 0..3 {
        let claim = claims.get(&format!("www-web-{n}")).await.unwrap();
        let status = claim.status.unwrap_or_default();
        assert_eq!(status.phase.as_deref(), Some("Bound"), "www-web-{n}");
        let volume = volumes
            .get(&claim.spec.unwrap().volume_name.unwrap())
            .await
            .unwrap();
        let affinity = serde_json::to_string(&volume.spec.unwrap().node_affinity).unwrap();
        let node = pods
            .get(&format!("web-{n}"))
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .unwrap();
        assert!(affinity.contains(&format!("\"{node}\"")), "{affinity}");
    }

    // Written in web-1, still there in the web-1 that replaces it.
    let web1 = pods.get("web-1").await.unwrap();
    let id = docker_id(&serde_json::to_value(&web1).unwrap(), "web");
    docker_exec(&id, &["sh", "-c", "echo kept > /data/proof"]);
    c.cluster.kubectl_ok(&["delete", "pod", "web-1"]);
    let new = wait_for("a new Ready web-1", WAIT, || async {
        pods.get_opt("web-1")
            .await
            .unwrap()
            .filter(|p| p.uid() != web1.uid() && is_ready(p))
    })
    .await;
    let id = docker_id(&serde_json::to_value(&new).unwrap(), "web");
    assert_eq!(docker_exec(&id, &["cat", "/data/proof"]).trim(), "kept");

    c.cluster
        .kubectl_ok(&["delete", "sts", "web", "--wait=true"]);
    c.kubelet.take();
}
