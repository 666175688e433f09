//! Storage without a container runtime: an in-process API server, the
//! PersistentVolume, local-path and protection controllers and the
//! scheduler, with Node objects standing in for kubelets. What is checked
//! is Kubernetes' behaviour and wording: binding to the best static volume,
//! a bound volume's node affinity placing the pod, the protection
//! finalizers, Released volumes, DefaultStorageClass admission,
//! WaitForFirstConsumer provisioning on the scheduler's node, reclaim
//! Delete, the FailedScheduling messages of VolumeBinding, and the real
//! kubectl's tables and validation errors.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use serde_json::{json, Value};
use support::lifecycle::wait_for;
use support::scheduler::{node, pod, start_scheduler, wait_bound, wait_event, wait_pod_scheduled};
use support::TestCluster;

const T: Duration = Duration::from_secs(30);

/// The storage controllers, running until dropped.
struct Controllers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Controllers {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

fn start_controllers(client: &kube::Client, local_path: Option<&std::path::Path>) -> Controllers {
    let settings = minik_controller::Settings {
        local_path_dir: local_path.map(|p| p.to_path_buf()),
        ..Default::default()
    };
    let ctx = Arc::new(minik_controller::Context::new(client.clone(), settings));
    let futures = [
        minik_controller::persistent_volume::build(&ctx),
        minik_controller::local_path::build(&ctx),
        minik_controller::volume_protection::build(&ctx),
    ];
    ctx.informers.start();
    Controllers(
        futures
            .into_iter()
            .map(|f| tokio::spawn(async move { f.await.expect("controller runs") }))
            .collect(),
    )
}

async fn claim(client: &kube::Client, name: &str) -> Option<PersistentVolumeClaim> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    api.get_opt(name).await.unwrap()
}

async fn volume(client: &kube::Client, name: &str) -> Option<PersistentVolume> {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    api.get_opt(name).await.unwrap()
}

fn phase_of_claim(c: &PersistentVolumeClaim) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn phase_of_volume(v: &PersistentVolume) -> &str {
    v.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

async fn wait_claim_phase(client: &kube::Client, name: &str, phase: &str) -> PersistentVolumeClaim {
    wait_for(&format!("claim {name} {phase}"), T, || async {
        claim(client, name)
            .await
            .filter(|c| phase_of_claim(c) == phase)
    })
    .await
}

async fn wait_volume_phase(client: &kube::Client, name: &str, phase: &str) -> PersistentVolume {
    wait_for(&format!("volume {name} {phase}"), T, || async {
        volume(client, name)
            .await
            .filter(|v| phase_of_volume(v) == phase)
    })
    .await
}

/// The rows of a kubectl table, split into cells (multi-space separated).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<String>>()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

fn claim_pod(name: &str, claim: &str) -> Pod {
    pod(
        name,
        None,
        json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}),
    )
}

const STATIC: &str = r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: manual
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-small
spec:
  storageClassName: manual
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/minik-test-pv-small}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [node-2]}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-big
spec:
  storageClassName: manual
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce, ReadOnlyMany]
  hostPath: {path: /tmp/minik-test-pv-big}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: claim
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 500Mi}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_volumes_bind_place_the_pod_and_are_released() {
    let c = TestCluster::start().await;
    let client = c.client.clone();
    let _controllers = start_controllers(&client, None);
    let _scheduler = start_scheduler(&client);
    node("node-1", "4").create(&client).await;
    node("node-2", "4").create(&client).await;
    c.kubectl_ok(&["apply", "-f", &c.file("static.yaml", STATIC)]);

    // The smallest volume that fits wins; both sides are marked bound.
    let bound = wait_claim_phase(&client, "claim", "Bound").await;
    let spec = bound.spec.clone().unwrap();
    assert_eq!(spec.volume_name.as_deref(), Some("pv-small"));
    let annotations = bound.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations["pv.kubernetes.io/bind-completed"], "yes");
    assert_eq!(annotations["pv.kubernetes.io/bound-by-controller"], "yes");
    assert_eq!(
        bound.metadata.finalizers.as_deref(),
        Some(&["kubernetes.io/pvc-protection".to_string()][..])
    );
    let small = wait_volume_phase(&client, "pv-small", "Bound").await;
    let claim_ref = small.spec.unwrap().claim_ref.unwrap();
    assert_eq!(claim_ref.uid, bound.metadata.uid);
    wait_volume_phase(&client, "pv-big", "Available").await;

    // kubectl get pv,pvc: Kubernetes' columns, filled in.
    let table = c.kubectl_ok(&["get", "pv,pvc"]);
    let rows = rows(&table);
    assert_eq!(
        rows[0],
        [
            "NAME",
            "CAPACITY",
            "ACCESS MODES",
            "RECLAIM POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE"
        ],
        "{table}"
    );
    let small_row = rows
        .iter()
        .find(|r| r[0] == "persistentvolume/pv-small")
        .expect("pv-small row");
    assert_eq!(
        small_row[1..7],
        ["1Gi", "RWO", "Retain", "Bound", "default/claim", "manual"],
        "{table}"
    );
    let big_row = rows
        .iter()
        .find(|r| r[0] == "persistentvolume/pv-big")
        .expect("pv-big row");
    assert_eq!(
        big_row[1..5],
        ["5Gi", "RWO,ROX", "Retain", "Available"],
        "{table}"
    );
    let header = rows
        .iter()
        .position(|r| r[0] == "NAME" && r[1] == "STATUS")
        .expect("pvc header");
    assert_eq!(
        rows[header],
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE"
        ],
        "{table}"
    );
    assert_eq!(
        rows[header + 1][..6],
        [
            "persistentvolumeclaim/claim",
            "Bound",
            "pv-small",
            "1Gi",
            "RWO",
            "manual"
        ],
        "{table}"
    );

    // minik expands no volume: a bound claim cannot grow.
    let out = c.kubectl(&[
        "patch",
        "pvc",
        "claim",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.resources.requests.storage: Forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"),
        "{err}"
    );

    // The volume's node affinity decides where its pod goes.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &claim_pod("user", "claim"))
        .await
        .unwrap();
    assert_eq!(wait_bound(&pods, "user").await, "node-2");

    // In use: deleting the claim leaves it Terminating until its pod is gone.
    c.kubectl_ok(&["delete", "pvc", "claim", "--wait=false"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = claim(&client, "claim")
        .await
        .expect("claim held by its finalizer");
    assert!(held.metadata.deletion_timestamp.is_some());
    let out = c.kubectl_ok(&["get", "pvc", "claim", "--no-headers"]);
    assert!(out.contains("Terminating"), "{out}");
    c.kubectl_ok(&["delete", "pod", "user", "--grace-period=0", "--force"]);
    wait_for("the claim to go", T, || async {
        claim(&client, "claim").await.is_none().then_some(())
    })
    .await;

    // Retain: the volume is Released, and stays.
    wait_volume_phase(&client, "pv-small", "Released").await;
    let out = c.kubectl_ok(&["get", "pv", "pv-small", "--no-headers"]);
    assert!(out.contains("Released"), "{out}");

    // A volume not bound goes at once despite its protection finalizer.
    c.kubectl_ok(&["delete", "pv", "pv-big"]);
    assert!(volume(&client, "pv-big").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_immediate_and_missing_claims_keep_pods_pending() {
    let c = TestCluster::start().await;
    let client = c.client.clone();
    let _controllers = start_controllers(&client, None);
    let _scheduler = start_scheduler(&client);
    node("node-1", "4").create(&client).await;
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "orphan.yaml",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: orphan\nspec:\n  storageClassName: \"\"\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
        ),
    ]);
    wait_event(&client, "default", "orphan", "FailedBinding", |n| {
        n == "no persistent volumes available for this claim and no storage class is set"
    })
    .await;
    wait_claim_phase(&client, "orphan", "Pending").await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &claim_pod("waits", "orphan"))
        .await
        .unwrap();
    wait_pod_scheduled(
        &pods,
        "waits",
        "False",
        "Unschedulable",
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..",
    )
    .await;
    pods.create(&PostParams::default(), &claim_pod("lost", "nope"))
        .await
        .unwrap();
    wait_pod_scheduled(
        &pods,
        "lost",
        "False",
        "Unschedulable",
        "0/1 nodes are available: persistentvolumeclaim \"nope\" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..",
    )
    .await;

    // A volume that turns up binds the claim, and the pod is scheduled.
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "pv.yaml",
            "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: late\nspec:\n  capacity: {storage: 2Gi}\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Delete\n  hostPath: {path: /tmp/minik-test-late}\n",
        ),
    ]);
    wait_claim_phase(&client, "orphan", "Bound").await;
    assert_eq!(wait_bound(&pods, "waits").await, "node-1");

    // Delete without a deleter (not provisioned): the volume Fails, in Kubernetes' words.
    c.kubectl_ok(&["delete", "pod", "waits", "--grace-period=0", "--force"]);
    c.kubectl_ok(&["delete", "pvc", "orphan"]);
    let failed = wait_volume_phase(&client, "late", "Failed").await;
    assert_eq!(
        failed.status.unwrap().message.as_deref(),
        Some("error getting deleter volume plugin for volume \"late\": no deletable volume plugin matched")
    );
}

const DEFAULT_CLASS: &str = r#"
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
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_first_consumer_provisions_on_the_pods_node_and_deletes_with_the_claim() {
    let c = TestCluster::start().await;
    let client = c.client.clone();
    let base = c.dir.path().join("local-path");
    std::fs::create_dir_all(&base).unwrap();
    let _controllers = start_controllers(&client, Some(&base));
    let _scheduler = start_scheduler(&client);
    node("node-1", "4").create(&client).await;
    node("node-2", "4").create(&client).await;
    c.kubectl_ok(&["apply", "-f", &c.file("default.yaml", DEFAULT_CLASS)]);

    // DefaultStorageClass admission named the class; nothing binds before a pod.
    let created = claim(&client, "data").await.unwrap();
    assert_eq!(
        created.spec.unwrap().storage_class_name.as_deref(),
        Some("standard")
    );
    wait_event(&client, "default", "data", "WaitForFirstConsumer", |n| {
        n == "waiting for first consumer to be created before binding"
    })
    .await;
    let table = c.kubectl_ok(&["get", "sc"]);
    let rows = rows(&table);
    assert_eq!(
        rows[0],
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ],
        "{table}"
    );
    assert_eq!(
        rows[1][..5],
        [
            "standard (default)",
            "minik.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ],
        "{table}"
    );

    // The pod's node is the volume's node.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut p = claim_pod("app", "data");
    p.spec.as_mut().unwrap().node_selector =
        Some([("kubernetes.io/hostname".to_string(), "node-2".to_string())].into());
    pods.create(&PostParams::default(), &p).await.unwrap();
    assert_eq!(wait_bound(&pods, "app").await, "node-2");
    let bound = wait_claim_phase(&client, "data", "Bound").await;
    let annotations = bound.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations["volume.kubernetes.io/selected-node"], "node-2");
    assert_eq!(
        annotations["volume.kubernetes.io/storage-provisioner"],
        "minik.io/local-path"
    );
    let uid = bound.metadata.uid.clone().unwrap();
    let pv_name = format!("pvc-{uid}");
    assert_eq!(
        bound.spec.unwrap().volume_name.as_deref(),
        Some(pv_name.as_str())
    );
    wait_event(&client, "default", "data", "ProvisioningSucceeded", |n| {
        n == format!("Successfully provisioned volume {pv_name}")
    })
    .await;
    let pv = serde_json::to_value(volume(&client, &pv_name).await.unwrap()).unwrap();
    let dir = base.join(format!("pvc-{uid}_default_data"));
    assert_eq!(pv["spec"]["hostPath"]["path"], json!(dir.to_string_lossy()));
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(pv["spec"]["capacity"]["storage"], "64Mi");
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0],
        json!({"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]})
    );
    assert_eq!(
        pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
        "minik.io/local-path"
    );
    assert!(dir.is_dir(), "the provisioner made {}", dir.display());

    // Reclaim Delete: once pod and claim go, the data and the volume go too.
    c.kubectl_ok(&["delete", "pod", "app", "--grace-period=0", "--force"]);
    c.kubectl_ok(&["delete", "pvc", "data"]);
    wait_for("the provisioned volume to go", T, || async {
        volume(&client, &pv_name).await.is_none().then_some(())
    })
    .await;
    assert!(!dir.exists(), "{} removed", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_kube_apiservers_validation_errors() {
    let c = TestCluster::start().await;
    let apply = |name: &str, yaml: &str| {
        let out = c.kubectl(&["apply", "-f", &c.file(name, yaml)]);
        assert!(!out.status.success(), "{name} was accepted");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = apply(
        "bad-sc.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: bad\nprovisioner: minik.io/local-path\nreclaimPolicy: Recycle\nvolumeBindingMode: Later\n",
    );
    assert!(
        err.contains("The StorageClass \"bad\" is invalid: \n* reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"\n* volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\""),
        "{err}"
    );
    let err = apply(
        "no-source.yaml",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: nosrc\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n",
    );
    assert!(
        err.contains("The PersistentVolume \"nosrc\" is invalid: spec: Required value: must specify a volume type"),
        "{err}"
    );
    let err = apply(
        "local.yaml",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: loc\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  local: {path: /mnt/disk}\n",
    );
    assert!(
        err.contains("spec.nodeAffinity: Required value: Local volume requires node affinity"),
        "{err}"
    );

    // What a class promises its volumes is fixed.
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file("sc.yaml", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: minik.io/local-path\n"),
    ]);
    let defaulted: Value =
        serde_json::from_str(&c.kubectl_ok(&["get", "sc", "fast", "-o", "json"])).unwrap();
    assert_eq!(defaulted["reclaimPolicy"], "Delete");
    assert_eq!(defaulted["volumeBindingMode"], "Immediate");
    let err = apply(
        "sc2.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: example.com/other\n",
    );
    assert!(
        err.contains("provisioner: Forbidden: updates to provisioner are forbidden."),
        "{err}"
    );
}

/// The simulated runtime mounts claims too (so scale demos can use them):
/// three pods on three sim nodes, each with a claim of the default class,
/// each claim provisioned on its pod's node, every pod Running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubelets_run_pods_with_provisioned_claims() {
    let c = TestCluster::start().await;
    let client = c.client.clone();
    let base = c.dir.path().join("local-path");
    std::fs::create_dir_all(&base).unwrap();
    let _controllers = start_controllers(&client, Some(&base));
    let _scheduler = start_scheduler(&client);
    let mut config = minik_kubelet::Config::new("sim");
    config.runtime = minik_kubelet::RuntimeKind::Sim;
    config.nodes = 3;
    config.root_dir = c.dir.path().join("kubelet");
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sim_delay = Duration::from_millis(100);
    config.resync_period = Duration::from_millis(500);
    let _kubelet = minik_kubelet::start(config, client.clone())
        .await
        .expect("kubelet starts");
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "default.yaml",
            &DEFAULT_CLASS.replace("  name: data\n", "  name: data-0\n"),
        ),
    ]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        if i > 0 {
            c.kubectl_ok(&["apply", "-f", &c.file("claim.yaml", &format!(
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data-{i}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {{requests: {{storage: 64Mi}}}}\n"
            ))]);
        }
        let mut p = claim_pod(&format!("app-{i}"), &format!("data-{i}"));
        // One pod per node.
        p.metadata.labels = Some([("app".to_string(), "spread".to_string())].into());
        p.spec.as_mut().unwrap().affinity = Some(serde_json::from_value(json!({"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "spread"}},
                                                                 "topologyKey": "kubernetes.io/hostname"}]}})).unwrap());
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    for i in 0..3 {
        let name = format!("app-{i}");
        let running = wait_for(&format!("{name} Running"), T, || async {
            pods.get_opt(&name)
                .await
                .unwrap()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        })
        .await;
        let node = running.spec.unwrap().node_name.unwrap();
        let bound = wait_claim_phase(&client, &format!("data-{i}"), "Bound").await;
        let annotations = bound.metadata.annotations.unwrap_or_default();
        assert_eq!(annotations["volume.kubernetes.io/selected-node"], node);
    }
}
