//! The kubelet with the simulated runtime: the same pod state machine, node
//! registration and leases, with no containers — and many nodes in one
//! process. Fast; never a substitute for the Docker tests.

use crate::support;

use std::time::{Duration, Instant};

use crate::kubelet_support::condition_object;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{json, Value};
use support::TestCluster;

fn sim_config(cluster: &TestCluster, name: &str, nodes: usize) -> minik_kubelet::Config {
    let mut config = minik_kubelet::Config::new(name);
    config.runtime = minik_kubelet::RuntimeKind::Sim;
    config.nodes = nodes;
    config.root_dir = cluster.dir.path().join("kubelet");
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sim_delay = Duration::from_millis(100);
    config.lease_renew_interval = Duration::from_secs(1);
    config.backoff_base = Duration::from_millis(300);
    config.backoff_max = Duration::from_secs(2);
    config.resync_period = Duration::from_millis(500);
    config
}

async fn create_pod(client: &kube::Client, name: &str, node: &str, spec: Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut spec = spec;
    spec["nodeName"] = node.into();
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
}

async fn wait_pods(
    client: &kube::Client,
    timeout: Duration,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    loop {
        let pods: Vec<Value> = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect();
        if check(&pods) {
            return pods;
        }
        assert!(
            start.elapsed() < timeout,
            "pods did not converge in {timeout:?}: {}",
            serde_json::to_string_pretty(
                &pods
                    .iter()
                    .map(|p| (&p["metadata"]["name"], &p["status"]))
                    .collect::<Vec<_>>()
            )
            .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the worker of the pod `uid` is parked.
async fn when_parked(k: &minik_kubelet::Kubelet, uid: &str) {
    let start = Instant::now();
    while !k
        .workers
        .lock()
        .unwrap()
        .get(uid)
        .is_some_and(|w| w.parked())
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{uid} did not park"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Stops the running app container of pod `uid` behind the kubelet's back,
/// as a crash would.
async fn stop_app_container(k: &minik_kubelet::Kubelet, uid: &str) {
    let records = k.runtime.list_pod(uid).await.unwrap();
    let app = records.iter().find(|r| !r.sandbox && r.running()).unwrap();
    k.runtime
        .stop_container(&app.id, Duration::ZERO)
        .await
        .unwrap();
}

fn find<'a>(pods: &'a [Value], name: &str) -> Option<&'a Value> {
    pods.iter().find(|p| p["metadata"]["name"] == name)
}

fn ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_nodes_register_and_run_pods_to_their_phases() {
    let cluster = TestCluster::start().await;
    let first = minik_kubelet::start(sim_config(&cluster, "sim", 3), cluster.client.clone())
        .await
        .expect("sim kubelets start");
    let client = &cluster.client;

    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let mut registered = Vec::new();
    for name in ["sim-1", "sim-2", "sim-3"] {
        let node = serde_json::to_value(nodes.get(name).await.unwrap()).unwrap();
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], name);
        assert_eq!(node["status"]["allocatable"]["pods"], "110");
        assert!(node["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("sim://"));
        let lease = leases.get(name).await.unwrap();
        assert_eq!(
            lease.spec.as_ref().unwrap().holder_identity.as_deref(),
            Some(name)
        );
        let uid = node["metadata"]["uid"].as_str().unwrap().to_string();
        let owners = lease.metadata.owner_references.unwrap_or_default();
        assert_eq!(
            owners
                .iter()
                .map(|o| (o.kind.as_str(), o.uid.as_str()))
                .collect::<Vec<_>>(),
            [("Node", uid.as_str())],
            "the Lease is owned by its Node"
        );
        registered.push(uid);
    }

    // A restarted kubelet adopts its Nodes and Leases (same objects,
    // renewed as it starts) instead of failing on what the first run
    // created.
    drop(first);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut stopped_at = Vec::new();
    for name in ["sim-1", "sim-2", "sim-3"] {
        let lease = leases.get(name).await.unwrap();
        stopped_at.push(lease.spec.unwrap().renew_time.unwrap().0);
    }
    let _kubelet = minik_kubelet::start(sim_config(&cluster, "sim", 3), cluster.client.clone())
        .await
        .expect("sim kubelets start again");
    let before = registered.iter().zip(&stopped_at);
    for (name, (uid, renewed)) in ["sim-1", "sim-2", "sim-3"].iter().zip(before) {
        let node = nodes.get(name).await.unwrap();
        assert_eq!(
            node.metadata.uid.as_ref(),
            Some(uid),
            "{name} adopted, not recreated"
        );
        let ready = node.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(ready
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"));
        let lease = leases.get(name).await.unwrap();
        assert!(
            lease.spec.unwrap().renew_time.unwrap().0 > *renewed,
            "{name}'s Lease renewed on start"
        );
        let owners = lease.metadata.owner_references.unwrap_or_default();
        assert_eq!(owners.len(), 1);
        assert_eq!(&owners[0].uid, uid);
    }

    let sleeper = json!({"containers": [{"name": "c", "image": "busybox:1.35", "command": ["sleep", "3600"]}]});
    create_pod(client, "a", "sim-1", sleeper.clone()).await;
    create_pod(client, "b", "sim-2", sleeper.clone()).await;
    create_pod(client, "done", "sim-3", json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.35", "command": ["sh", "-c", "exit 0"]}]})).await;
    create_pod(client, "fails", "sim-3", json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.35", "command": ["sh", "-c", "exit 2"]}]})).await;
    create_pod(
        client,
        "loops",
        "sim-1",
        json!({"containers": [{"name": "c", "image": "busybox:1.35", "command": ["false"]}]}),
    )
    .await;

    let pods = wait_pods(client, Duration::from_secs(20), |pods| {
        let phase = |n: &str| find(pods, n).map(|p| p["status"]["phase"].clone());
        find(pods, "a").is_some_and(ready)
            && find(pods, "b").is_some_and(ready)
            && phase("done") == Some(json!("Succeeded"))
            && phase("fails") == Some(json!("Failed"))
            && find(pods, "loops").is_some_and(|p| {
                p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2)
            })
    })
    .await;
    let a = find(&pods, "a").unwrap();
    assert!(a["status"]["podIP"].as_str().unwrap().starts_with("10."));
    assert!(a["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .unwrap()
        .starts_with("sim://"));
    let fails = find(&pods, "fails").unwrap();
    assert_eq!(
        fails["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        2
    );
    assert_eq!(
        fails["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Error"
    );

    // Level-triggered and idempotent: resyncs of a settled pod write nothing.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let before = api.get("b").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = api.get("b").await.unwrap().metadata.resource_version;
    assert_eq!(before, after, "a settled pod's status is not rewritten");

    // What the kubelet accepts but does not do, it says (once).
    create_pod(
        client,
        "userns",
        "sim-2",
        json!({"hostUsers": false, "containers": [{"name": "c", "image": "busybox:1.35"}]}),
    )
    .await;
    let notes = minik_tests::wait_for(
        "a NotSupported warning",
        Duration::from_secs(10),
        || async {
            let events = support::lifecycle::events_about(client, "default", "userns").await;
            let notes: Vec<String> = events
                .into_iter()
                .filter(|(reason, _)| reason == "NotSupported")
                .map(|(_, note)| note)
                .collect();
            (!notes.is_empty()).then_some(notes)
        },
    )
    .await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0],
        "hostUsers: false is not supported by minik: the pod runs without a user namespace"
    );

    // The deprecated AppArmor annotation (the CKS tutorials' form) becomes
    // the container's field on create, with kube-apiserver's warning, so
    // the kubelet's note about the field covers it too.
    let annotated = r#"
apiVersion: v1
kind: Pod
metadata:
  name: armored
  annotations:
    container.apparmor.security.beta.kubernetes.io/c: localhost/k8s-apparmor-example-deny-write
spec:
  nodeName: sim-2
  containers:
  - name: c
    image: busybox:1.35
"#;
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], annotated);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "Warning: metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]: deprecated since v1.30; use the \"appArmorProfile\" field instead"
        ),
        "{stderr}"
    );
    let profile = cluster.kubectl_ok(&[
        "get",
        "pod",
        "armored",
        "-o",
        "jsonpath={.spec.containers[0].securityContext.appArmorProfile}",
    ]);
    assert_eq!(
        serde_json::from_str::<Value>(&profile).unwrap(),
        json!({"type": "Localhost", "localhostProfile": "k8s-apparmor-example-deny-write"})
    );
    minik_tests::wait_for("the AppArmor note", Duration::from_secs(10), || async {
        support::lifecycle::events_about(client, "default", "armored")
            .await
            .into_iter()
            .any(|(reason, note)| {
                reason == "NotSupported"
                    && note == "container c: appArmorProfile is not applied by minik (Docker's default profile applies)"
            })
            .then_some(())
    })
    .await;
    // A pod that is valid but probably not meant: kube-apiserver's
    // warnings, printed by the real kubectl.
    let out = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: warned
spec:
  nodeName: sim-2
  nodeSelector:
    beta.kubernetes.io/os: linux
  containers:
  - name: c
    image: busybox:1.35
    env:
    - {name: MODE, value: fast}
    - {name: MODE, value: safe}
"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for warning in [
        r#"Warning: spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "kubernetes.io/os" instead"#,
        r#"Warning: spec.containers[0].env[1]: hides previous definition of "MODE", which may be dropped when using apply"#,
    ] {
        assert!(stderr.contains(warning), "{warning}\n{stderr}");
    }
    // An update of the pod earns none (kube-apiserver's WarningsOnUpdate).
    let out = cluster.kubectl(&["label", "pod", "warned", "tier=demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("Warning:"),
        "{stderr}"
    );

    // A workload's template is warned about at its path when created.
    let out = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: old-selector
spec:
  replicas: 0
  selector: {matchLabels: {app: old}}
  template:
    metadata:
      labels: {app: old}
    spec:
      nodeSelector:
        beta.kubernetes.io/os: linux
      containers:
      - name: c
        image: busybox:1.35
"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(r#"Warning: spec.template.spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "kubernetes.io/os" instead"#),
        "{stderr}"
    );

    // A template whose annotation and field disagree is refused, in the
    // words kubernetes#128306 shows kube-apiserver using.
    let out = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: deployment-fails-validation
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata:
      labels: {app: x}
      annotations:
        container.apparmor.security.beta.kubernetes.io/c: unconfined
    spec:
      nodeSelector:
        beta.kubernetes.io/os: linux
      containers:
      - name: c
        image: busybox:1.35
        securityContext:
          appArmorProfile: {type: RuntimeDefault}
"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // A refused create earns no WarningsOnCreate, as in kube-apiserver.
    assert!(!stderr.contains("Warning:"), "{stderr}");
    assert!(
        stderr.contains(r#"The Deployment "deployment-fails-validation" is invalid: spec.template.spec.containers[0].securityContext.appArmorProfile.type: Forbidden: apparmor type in annotation and field must match"#),
        "{stderr}"
    );

    // An annotation for a container the pod does not have is refused.
    let out = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        &annotated
            .replace("name: armored", "name: misnamed")
            .replace("beta.kubernetes.io/c:", "beta.kubernetes.io/web:"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "metadata.annotations[container.apparmor.security.beta.kubernetes.io/web]: Invalid value: \"web\": container not found"
        ),
        "{stderr}"
    );

    // Deletion is confirmed by the kubelet.
    api.delete("a", &DeleteParams::default()).await.unwrap();
    wait_pods(client, Duration::from_secs(10), |pods| {
        find(pods, "a").is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_simulated_nodes_in_one_process() {
    let cluster = TestCluster::start().await;
    let kubelet = minik_kubelet::start(sim_config(&cluster, "scale", 20), cluster.client.clone())
        .await
        .expect("sim kubelets start");
    let client = &cluster.client;
    let nodes: Api<Node> = Api::all(client.clone());
    assert_eq!(
        nodes.list(&Default::default()).await.unwrap().items.len(),
        20
    );
    for i in 0..100 {
        create_pod(
            client,
            &format!("p{i}"),
            &format!("scale-{}", i % 20 + 1),
            json!({"containers": [{"name": "c", "image": "minik/web:v1"}]}),
        )
        .await;
    }
    let pods = wait_pods(client, Duration::from_secs(30), |pods| {
        pods.len() == 100 && pods.iter().all(ready)
    })
    .await;
    let ips: std::collections::HashSet<&str> = pods
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 100, "every pod has its own IP");

    // Settled pods' workers park (no task until their next event). Each
    // node's resync (every 500 ms here) starts its parked workers again,
    // which park again after their syncs: within 10 s there is a moment
    // when all 100 are parked.
    let parked = || -> (usize, usize) {
        let (mut parked, mut all) = (0, 0);
        for node in &kubelet.nodes {
            for w in node.kubelet.workers.lock().unwrap().values() {
                all += 1;
                parked += usize::from(w.parked());
            }
        }
        (parked, all)
    };
    let start = Instant::now();
    while parked() != (100, 100) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "settled pods' workers did not park: {:?} (parked, all)",
            parked()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // What reaches a parked pod still acts on it: a container that dies
    // is restarted (its container event, or here the resync, starts the
    // parked worker); a pod force-deleted (its worker told by the watch's
    // deletion, not an update, which no resync stands in for) loses its
    // containers and its worker.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let node_of = |i: usize| {
        let name = format!("scale-{}", i % 20 + 1);
        let node = kubelet.nodes.iter().find(|n| n.name == name).unwrap();
        node.kubelet.clone()
    };
    let uid_of = |pod: Pod| pod.metadata.uid.unwrap();
    let (k3, uid3) = (node_of(3), uid_of(api.get("p3").await.unwrap()));
    when_parked(&k3, &uid3).await;
    stop_app_container(&k3, &uid3).await;
    wait_pods(client, Duration::from_secs(10), |pods| {
        find(pods, "p3")
            .is_some_and(|p| ready(p) && p["status"]["containerStatuses"][0]["restartCount"] == 1)
    })
    .await;
    let (k9, uid9) = (node_of(9), uid_of(api.get("p9").await.unwrap()));
    when_parked(&k9, &uid9).await;
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    api.delete("p9", &now).await.unwrap();
    let start = Instant::now();
    while !k9.runtime.list_pod(&uid9).await.unwrap().is_empty()
        || k9.workers.lock().unwrap().contains_key(&uid9)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "p9's containers or worker outlived its force deletion"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Twenty nodes, one watch of pods and one of Nodes (not one per node).
    let metrics = client
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .unwrap();
    let watches = |resource: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("apiserver_longrunning_requests{")
                    && l.contains(&format!("resource=\"{resource}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!((watches("pods"), watches("nodes")), (1, 1), "{metrics}");

    // Each change still reaches its own node (a parked worker starts
    // again for it): a deleted pod's deletion is confirmed by its node, a
    // deleted Node registers again.
    api.delete("p7", &DeleteParams::default()).await.unwrap();
    wait_pods(client, Duration::from_secs(10), |pods| {
        pods.len() == 98 && find(pods, "p7").is_none()
    })
    .await;
    let old_uid = nodes.get("scale-8").await.unwrap().metadata.uid;
    nodes
        .delete("scale-8", &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        // Back as a new object: registered again by its own loop.
        if let Ok(node) = nodes.get("scale-8").await {
            if node.metadata.uid != old_uid {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "scale-8 did not register again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Like kubelet's status manager, a pod worker judges its next status
/// against the one it last wrote while its copy of the pod is still the one
/// that status was computed from: in a burst, a container's start event can
/// sync the pod again before the pod watch brings the write back. A newer
/// copy is judged as it is, so a status someone else changed is written
/// back. Syncs are driven by hand and the kubelet's writes counted by the
/// API server's `apiserver_request_total`.
#[tokio::test]
async fn a_stale_copy_of_a_pod_does_not_write_its_status_again() {
    use minik_kubelet::sync::{sync_pod, PodState};
    let cluster = TestCluster::start().await;
    let client = cluster.client_named("minik-kubelet-stale/0.1.0").await;
    let mut kubelet_config = sim_config(&cluster, "stale", 1);
    kubelet_config.sim_delay = Duration::ZERO;
    let kubelet_config = std::sync::Arc::new(kubelet_config);
    let informers = std::sync::Arc::new(minik_client::SharedInformerFactory::new(client.clone()));
    let k = minik_kubelet::Kubelet {
        config: kubelet_config.clone(),
        node_name: "stale".into(),
        client: client.clone(),
        runtime: std::sync::Arc::new(minik_kubelet::runtime::sim::SimRuntime::new(
            Duration::ZERO,
            "stale",
        )),
        objects: minik_kubelet::cache::ObjectCache::start(client.clone(), &informers)
            .await
            .unwrap(),
        node_ip: "10.0.0.1".into(),
        capacity: minik_kubelet::context::Capacity::of_host(&kubelet_config),
        workers: Default::default(),
        informers,
        recorder: minik_client::EventRecorder::new(client.clone(), "kubelet", Some("stale")),
        rates: Default::default(),
        stopped: tokio::sync::watch::Sender::new(false),
        syncs: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
    };
    create_pod(
        &cluster.client,
        "once",
        "stale",
        json!({"containers": [{"name": "app", "image": "minik/web:v1"}]}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let patches = || async {
        support::metric(
            &cluster.metrics().await,
            "apiserver_request_total{client=\"minik-kubelet-stale\",code=\"200\",group=\"\",resource=\"pods\",scope=\"resource\",subresource=\"status\",verb=\"PATCH\",version=\"v1\"}",
        )
    };

    let copy = pods.get("once").await.unwrap();
    let mut state = PodState::new(&k, &copy, std::sync::Arc::new(tokio::sync::Notify::new()));
    sync_pod(&k, &copy, &mut state).await.unwrap();
    let written = pods.get("once").await.unwrap();
    assert!(ready(&serde_json::to_value(&written).unwrap()));
    assert_eq!(patches().await, 1);
    // The same copy again, as a sync woken before the watch caught up sees it.
    sync_pod(&k, &copy, &mut state).await.unwrap();
    assert_eq!(patches().await, 1, "a stale copy wrote the status again");
    sync_pod(&k, &written, &mut state).await.unwrap();
    assert_eq!(patches().await, 1, "the status shown is the one computed");
    assert_eq!(
        pods.get("once").await.unwrap().metadata.resource_version,
        written.metadata.resource_version
    );

    // Someone else marks the pod not ready (the node lifecycle controller
    // does when a node is lost): a copy that shows it gets it written back.
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    pods.patch_status(
        "once",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&not_ready),
    )
    .await
    .unwrap();
    let changed = pods.get("once").await.unwrap();
    assert!(!ready(&serde_json::to_value(&changed).unwrap()));
    sync_pod(&k, &changed, &mut state).await.unwrap();
    assert_eq!(patches().await, 2);
    assert!(ready(
        &serde_json::to_value(pods.get("once").await.unwrap()).unwrap()
    ));

    // What the stale copy stands in for never hides a real change: the
    // container stops, and the sync from the same copy restarts it and
    // writes the restart.
    stop_app_container(&k, changed.metadata.uid.as_deref().unwrap()).await;
    sync_pod(&k, &changed, &mut state).await.unwrap();
    assert_eq!(patches().await, 3);
    let restarted = serde_json::to_value(pods.get("once").await.unwrap()).unwrap();
    assert_eq!(
        restarted["status"]["containerStatuses"][0]["restartCount"], 1,
        "{restarted}"
    );
    assert!(
        !state.settled(),
        "a write the copy does not show keeps the worker"
    );
    sync_pod(&k, &pods.get("once").await.unwrap(), &mut state)
        .await
        .unwrap();
    assert_eq!(patches().await, 3);
}

/// Sidecars (init containers with `restartPolicy: Always`, KEP-753) by
/// kubelet's rules: started in init order and holding the next init
/// container until they have started, then running beside the app
/// containers and counted for readiness; restarted whenever they exit,
/// whatever the pod's restartPolicy, without holding the pod back; and
/// stopped once the app containers are done, so a Job's pod completes with
/// its outcome theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_start_first_serve_beside_and_stop_after() {
    let cluster = TestCluster::start().await;
    let kubelet = minik_kubelet::start(sim_config(&cluster, "side", 1), cluster.client.clone())
        .await
        .expect("sim kubelet starts");
    let client = &cluster.client;
    let proxy = json!({"name": "proxy", "image": "busybox:1.35", "restartPolicy": "Always",
        "command": ["sleep", "3600"]});
    create_pod(
        client,
        "served",
        "side",
        json!({"restartPolicy": "Never",
            "initContainers": [proxy, {"name": "setup", "image": "busybox:1.35", "command": ["true"]}],
            "containers": [{"name": "app", "image": "busybox:1.35", "command": ["sleep", "3600"]}]}),
    )
    .await;
    create_pod(
        client,
        "job-ok",
        "side",
        json!({"restartPolicy": "Never", "initContainers": [proxy],
            "containers": [{"name": "work", "image": "busybox:1.35", "command": ["sh", "-c", "exit 0"]}]}),
    )
    .await;
    create_pod(
        client,
        "job-ok-on-failure",
        "side",
        json!({"restartPolicy": "OnFailure", "initContainers": [proxy],
            "containers": [{"name": "work", "image": "busybox:1.35", "command": ["true"]}]}),
    )
    .await;
    create_pod(
        client,
        "job-never",
        "side",
        json!({"restartPolicy": "Never", "initContainers": [proxy],
            "containers": [{"name": "work", "image": "busybox:1.35", "command": ["sh", "-c", "exit 3"]}]}),
    )
    .await;
    create_pod(
        client,
        "job-retries",
        "side",
        json!({"restartPolicy": "OnFailure", "initContainers": [proxy],
            "containers": [{"name": "work", "image": "busybox:1.35", "command": ["sh", "-c", "exit 1"]}]}),
    )
    .await;
    let phase = |p: &Value| p["status"]["phase"].as_str().unwrap_or("").to_string();
    let pods = wait_pods(client, Duration::from_secs(20), |pods| {
        find(pods, "served").is_some_and(ready)
            && find(pods, "job-ok").is_some_and(|p| phase(p) == "Succeeded")
            && find(pods, "job-ok-on-failure").is_some_and(|p| phase(p) == "Succeeded")
            && find(pods, "job-never").is_some_and(|p| phase(p) == "Failed")
            && find(pods, "job-retries").is_some_and(|p| {
                p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2)
            })
    })
    .await;

    // While its work container fails and is restarted (OnFailure), the
    // sidecar runs on, untouched, and the pod is Running.
    let retries = find(&pods, "job-retries").unwrap();
    assert_eq!(phase(retries), "Running");
    let sidecar = &retries["status"]["initContainerStatuses"][0];
    assert!(sidecar["state"]["running"].is_object(), "{sidecar}");
    assert_eq!(sidecar["restartCount"], 0, "{sidecar}");

    // Running: the sidecar started, ready, and before the init container
    // after it; the pod's readiness counts it.
    let served = find(&pods, "served").unwrap();
    let inits = served["status"]["initContainerStatuses"]
        .as_array()
        .unwrap();
    assert_eq!(inits[0]["name"], "proxy");
    assert_eq!(inits[0]["started"], true);
    assert_eq!(inits[0]["ready"], true);
    assert!(inits[0]["state"]["running"].is_object(), "{inits:?}");
    assert_eq!(inits[1]["state"]["terminated"]["reason"], "Completed");
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let uid = api.get("served").await.unwrap().metadata.uid.unwrap();
    let k = kubelet.nodes[0].kubelet.clone();
    let records = k.runtime.list_pod(&uid).await.unwrap();
    let started = |name: &str| {
        records
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.started_at)
            .unwrap()
    };
    assert!(started("setup") > started("proxy"));
    assert!(started("app") > started("setup"));
    let conditions = served["status"]["conditions"].as_array().unwrap();
    let condition = |t: &str| conditions.iter().find(|c| c["type"] == t).unwrap()["status"].clone();
    assert_eq!(condition("Initialized"), "True");
    assert_eq!(condition("ContainersReady"), "True");

    // The Jobs' pods end as their work container did; the sidecar was stopped.
    for name in ["job-ok", "job-ok-on-failure", "job-never"] {
        let p = find(&pods, name).unwrap();
        let sidecar = &p["status"]["initContainerStatuses"][0];
        assert!(
            sidecar["state"]["terminated"].is_object(),
            "{name}: {sidecar}"
        );
        assert_eq!(sidecar["ready"], false, "{name}: {sidecar}");
        let ready = condition_object(p, "Ready");
        assert_eq!(ready["status"], "False", "{name}");
        if name != "job-never" {
            let initialized = condition_object(p, "Initialized");
            assert_eq!(initialized["status"], "True", "{name}");
            assert_eq!(initialized["reason"], "PodCompleted", "{name}");
        }
    }
    let stopped = support::lifecycle::events_about(client, "default", "job-ok").await;
    assert!(
        stopped
            .iter()
            .any(|(reason, note)| reason == "Killing" && note == "Stopping container proxy"),
        "{stopped:?}"
    );

    // A sidecar that exits is started again under restartPolicy Never too,
    // while the app container runs on and the pod stays initialized.
    let sidecar = records
        .iter()
        .find(|r| r.name == "proxy" && r.running())
        .unwrap();
    k.runtime
        .stop_container(&sidecar.id, Duration::ZERO)
        .await
        .unwrap();
    let pods = wait_pods(client, Duration::from_secs(10), |pods| {
        find(pods, "served").is_some_and(|p| {
            ready(p) && p["status"]["initContainerStatuses"][0]["restartCount"] == 1
        })
    })
    .await;
    let served = find(&pods, "served").unwrap();
    assert_eq!(served["status"]["containerStatuses"][0]["restartCount"], 0);
    assert!(served["status"]["containerStatuses"][0]["state"]["running"].is_object());
}
