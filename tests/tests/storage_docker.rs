//! Persistent storage with real Docker containers: an in-process API
//! server, every controller (with the local-path provisioner in a
//! per-test directory), the scheduler and one Docker kubelet. A
//! Deployment's pod writes to a claim of the default `WaitForFirstConsumer`
//! class (the seed tutorial's `postgres-pvc`, applied with the real
//! kubectl); the claim is provisioned on the pod's node, the data outlives
//! the pod and is seen by its replacement; `readOnly` and `subPath` mounts
//! of the same claim behave; the claim is protected while in use, and
//! reclaim `Delete` removes the data once it goes.
//!
//! Docker is required: this test fails under CI=true without an engine.

use crate::kubelet_support;
use crate::support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::Api;
use kubelet_support::*;
use support::lifecycle::wait_for;

const T: Duration = Duration::from_secs(60);

/// The seed tutorial's claim (`003`: "Why PVC? Ensures data persists even
/// if pods are rescheduled"), in the default namespace, and a Deployment
/// whose pod appends its name to a file on it.
const MANIFESTS: &str = r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: minik.io/local-path
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
---
# Why PVC? Ensures data persists even if pods are rescheduled
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: postgres-pvc
spec:
  accessModes:
    - ReadWriteOnce  # Why RWO? PostgreSQL doesn't support concurrent writes
  resources:
    requests:
      storage: 10Gi
  # storageClassName: fast-ssd  # Uncomment for specific storage class
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: writer
spec:
  replicas: 1
  selector: {matchLabels: {app: writer}}
  template:
    metadata: {labels: {app: writer}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox:1.35
        command: ["sh", "-c", "hostname >> /data/log; sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: postgres-pvc}
"#;

/// A second pod on the claim: read-only at /ro, read-write at /sub through `subPath`.
const READER: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.35
    command: ["sh", "-c", "cat /ro/log > /sub/copy; if touch /ro/x 2>/dev/null; then echo writable; else echo read-only; fi > /sub/ro-result; sleep 3600"]
    volumeMounts:
    - {name: data, mountPath: /ro, readOnly: true}
    - {name: data, mountPath: /sub, subPath: nested}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: postgres-pvc}
"#;

async fn writer_pods(c: &KubeletCluster) -> Vec<String> {
    let out = c.cluster.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "app=writer",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter(|l| l.ends_with(" Running"))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

fn read(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_follows_its_pod_keeps_data_and_goes_with_reclaim_delete() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    let client = c.cluster.client.clone();
    let base = c.cluster.dir.path().join("local-path");
    std::fs::create_dir_all(&base).unwrap();
    let _scheduler = support::scheduler::start_scheduler(&client);
    let settings = minik_controller::Settings {
        local_path_dir: Some(base.clone()),
        ..Default::default()
    };
    let controllers = tokio::spawn(minik_controller::run(client.clone(), settings));
    let _abort = support::lifecycle::Running::spawn(async move {
        let _ = controllers.await;
    });

    let started = std::time::Instant::now();
    c.cluster
        .kubectl_ok(&["apply", "-f", &c.cluster.file("app.yaml", MANIFESTS)]);
    let first = wait_for("a running writer pod", T, || async {
        writer_pods(&c).await.pop()
    })
    .await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claim = claims.get("postgres-pvc").await.unwrap();
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations["volume.kubernetes.io/selected-node"], "node-1");
    assert_eq!(
        claim.status.as_ref().unwrap().phase.as_deref(),
        Some("Bound")
    );
    let pv_name = claim.spec.as_ref().unwrap().volume_name.clone().unwrap();
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pv = volumes.get(&pv_name).await.unwrap();
    let dir = std::path::PathBuf::from(
        pv.spec
            .as_ref()
            .unwrap()
            .host_path
            .as_ref()
            .unwrap()
            .path
            .clone(),
    );
    assert_eq!(dir.parent(), Some(base.as_path()));
    let log = dir.join("log");
    wait_for("the first pod's line", T, || async {
        read(&log).filter(|l| l.lines().count() == 1)
    })
    .await;
    println!(
        "claim bound and first pod writing after {:?}",
        started.elapsed()
    );
    let out = c
        .cluster
        .kubectl_ok(&["get", "pvc", "postgres-pvc", "--no-headers"]);
    let cells: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        cells[..6],
        [
            "postgres-pvc",
            "Bound",
            pv_name.as_str(),
            "10Gi",
            "RWO",
            "standard"
        ],
        "{out}"
    );

    // The data outlives the pod: its replacement appends to the same file.
    c.cluster.kubectl_ok(&["delete", "pod", &first]);
    let second = wait_for("a replacement writer pod", T, || async {
        writer_pods(&c).await.into_iter().find(|p| *p != first)
    })
    .await;
    let lines = wait_for("the replacement's line", T, || async {
        read(&log).filter(|l| l.lines().count() == 2)
    })
    .await;
    assert_eq!(lines.lines().next(), Some(first.as_str()), "{lines}");
    assert_eq!(lines.lines().nth(1), Some(second.as_str()), "{lines}");

    // readOnly refuses writes; subPath is a directory of the same volume.
    c.cluster
        .kubectl_ok(&["apply", "-f", &c.cluster.file("reader.yaml", READER)]);
    // The file exists before the shell has written its verdict into it.
    let result = wait_for("the reader's verdict", T, || async {
        read(&dir.join("nested/ro-result")).filter(|r| !r.trim().is_empty())
    })
    .await;
    assert_eq!(result.trim(), "read-only");
    assert_eq!(read(&dir.join("nested/copy")).unwrap(), lines);

    // In use: the claim waits for its pods before it goes.
    c.cluster
        .kubectl_ok(&["delete", "pvc", "postgres-pvc", "--wait=false"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = claims.get("postgres-pvc").await.expect("the claim is held");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(dir.is_dir());
    c.cluster.kubectl_ok(&["delete", "deployment", "writer"]);
    c.cluster.kubectl_ok(&["delete", "pod", "reader"]);
    wait_for("the claim to go", T, || async {
        claims
            .get_opt("postgres-pvc")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    // Reclaim Delete: the volume and its directory go.
    wait_for("the volume to go", T, || async {
        volumes
            .get_opt(&pv_name)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(!dir.exists(), "{} removed", dir.display());
}

/// A pod whose claim is unbound starts only once it is bound, and says why
/// it waits in the kubelet's words meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_waits_for_its_claim_with_failed_mount() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    let client = c.cluster.client.clone();
    let settings = minik_controller::Settings::default();
    let controllers = tokio::spawn(minik_controller::run(client.clone(), settings));
    let _abort = support::lifecycle::Running::spawn(async move {
        let _ = controllers.await;
    });
    c.cluster.kubectl_ok(&[
        "apply",
        "-f",
        &c.cluster.file(
            "claim.yaml",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: later\nspec:\n  storageClassName: \"\"\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
        ),
    ]);
    // Bound to the node directly, as a user may: the kubelet must wait.
    c.create_pod(serde_json::json!({
        "metadata": {"name": "waiter"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "busybox:1.35", "command": ["sh", "-c", "cp /data/hello /data/seen; sleep 3600"],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "later"}}],
        },
    }))
    .await;
    support::scheduler::wait_event(&client, "default", "waiter", "FailedMount", |n| {
        n == "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[data]: error processing PVC default/later: PVC is not bound"
    })
    .await;
    let host = c.cluster.dir.path().join("static-pv");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("hello"), "from the host\n").unwrap();
    c.cluster.kubectl_ok(&[
        "apply",
        "-f",
        &c.cluster.file(
            "pv.yaml",
            &format!("apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: static\nspec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  hostPath: {{path: {}}}\n", host.display()),
        ),
    ]);
    c.wait_pod("waiter", T, running_and_ready).await;
    let seen = wait_for("the pod's copy", T, || async { read(&host.join("seen")) }).await;
    assert_eq!(seen, "from the host\n");
}
