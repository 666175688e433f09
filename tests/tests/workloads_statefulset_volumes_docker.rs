//! A StatefulSet's volumes on real Docker, with `examples/stateful/`: each
//! pod's claim from `volumeClaimTemplates` waits for its pod
//! (`WaitForFirstConsumer`), is provisioned by the local-path provisioner on
//! the node the scheduler chose and Bound to a volume pinned there, the
//! kubelet mounts it, and what postgres-1 wrote survives `kubectl delete
//! pod postgres-1`: the new postgres-1 mounts the same claim and finds its
//! data directory.

use crate::kubelet_support;
use crate::support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::Api;
use kube::ResourceExt;
use kubelet_support::{docker_exec, docker_id, KubeletCluster};
use support::workloads::{is_ready, start_all_controllers_with, wait_for};

const WAIT: Duration = Duration::from_secs(90);

/// The default StorageClass `miniktl cluster up` creates.
const STORAGE_CLASS: &str = r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: minik.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_bind_on_the_pods_node_and_data_outlives_the_pod() {
    let Some(mut c) = KubeletCluster::start().await else {
        return;
    };
    let client = c.cluster.client.clone();
    let _scheduler = support::scheduler::start_scheduler(&client);
    // The local-path provisioner keeps its volumes under the test's directory.
    let settings = minik_controller::Settings {
        local_path_dir: Some(c.cluster.dir.path().join("local-path")),
        ..Default::default()
    };
    let _controllers = start_all_controllers_with(&client, settings);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/stateful");
    let example = example.to_str().unwrap();
    let storage_class = c.cluster.file("standard.yaml", STORAGE_CLASS);
    c.cluster.kubectl_ok(&["apply", "-f", &storage_class]);
    c.cluster.kubectl_ok(&["apply", "-f", example]);
    c.cluster
        .kubectl_ok(&["rollout", "status", "sts/postgres", "--timeout=90s"]);

    // Every claim is Bound to a volume pinned to the node its pod runs on.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for n in 0..3 {
        let claim = claims.get(&format!("data-postgres-{n}")).await.unwrap();
        let status = claim.status.unwrap_or_default();
        assert_eq!(status.phase.as_deref(), Some("Bound"), "data-postgres-{n}");
        let volume = volumes
            .get(&claim.spec.unwrap().volume_name.unwrap())
            .await
            .unwrap();
        let affinity = serde_json::to_string(&volume.spec.unwrap().node_affinity).unwrap();
        let pod = pods.get(&format!("postgres-{n}")).await.unwrap();
        let node = pod.spec.unwrap().node_name.unwrap();
        assert!(affinity.contains(&format!("\"{node}\"")), "{affinity}");
    }

    // What postgres-1 wrote is still there for the postgres-1 that replaces it.
    let old = pods.get("postgres-1").await.unwrap();
    let logs = c.cluster.kubectl_ok(&["logs", "postgres-1"]);
    assert!(
        logs.contains("postgres-1: initialised a new data directory"),
        "{logs}"
    );
    let id = docker_id(&serde_json::to_value(&old).unwrap(), "postgres");
    docker_exec(
        &id,
        &["sh", "-c", "echo kept > /var/lib/postgresql/data/proof"],
    );
    c.cluster.kubectl_ok(&["delete", "pod", "postgres-1"]);
    let new = wait_for("a new Ready postgres-1", WAIT, || async {
        pods.get_opt("postgres-1")
            .await
            .unwrap()
            .filter(|p| p.uid() != old.uid() && is_ready(p))
    })
    .await;
    let id = docker_id(&serde_json::to_value(&new).unwrap(), "postgres");
    let proof = docker_exec(&id, &["cat", "/var/lib/postgresql/data/proof"]);
    assert_eq!(proof.trim(), "kept");
    let logs = c.cluster.kubectl_ok(&["logs", "postgres-1"]);
    assert!(
        logs.contains("postgres-1: data directory exists, starting"),
        "{logs}"
    );

    c.cluster
        .kubectl_ok(&["delete", "-f", example, "--wait=true"]);
    c.kubelet.take();
}
