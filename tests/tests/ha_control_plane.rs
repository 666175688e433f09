//! An HA control plane on etcd, as real processes (`support::ha`): Debian's
//! etcd, two `minik-apiserver --store etcd://…` on it, and two copies each
//! of the controller-manager and the scheduler with `--leader-elect`.
//! - Both API servers serve one cluster: what one acknowledges the other
//!   lists and streams to its watches; `kill -9` of one loses no
//!   acknowledged write; restarted, it resumes a watch from before its
//!   crash (history from etcd, no 410); a stale write is a 409 whichever
//!   server took the first.
//! - Leader election: of two controller-managers (and two schedulers) only
//!   the Lease holder acts — a ReplicaSet of 3 gets exactly 3 pods — and
//!   when the leader is killed the other takes the Lease within the lease
//!   duration and carries on.

use crate::support::ha::HaCluster;
use crate::support::workspace_bin;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

/// The collection's resourceVersion now, and a task handing every event of
/// a watch from there (at most `seconds` long) to `each`.
async fn watch_from_now<K>(
    api: &Api<K>,
    seconds: u32,
    mut each: impl FnMut(WatchEvent<K>) + Send + 'static,
) -> (String, tokio::task::JoinHandle<()>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(seconds), &rv)
        .await
        .unwrap()
        .boxed();
    let task = tokio::spawn(async move {
        while let Some(Ok(ev)) = stream.next().await {
            each(ev);
        }
    });
    (rv, task)
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"n": name}})).unwrap()
}

/// Starts an HA cluster, or fails loudly under CI when etcd is missing.
fn ha_cluster(apiservers: usize) -> Option<HaCluster> {
    let _ = workspace_bin("minik-apiserver");
    let cluster = HaCluster::start(apiservers);
    if cluster.is_none() {
        eprintln!("etcd is not installed (apt-get install etcd-server): skipped outside CI");
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_servers_serve_one_cluster_and_a_crash_loses_no_acknowledged_write() {
    let Some(mut ha) = ha_cluster(2) else { return };
    let a = ha.client(0).await;
    let b = ha.client(1).await;
    let on_a: Api<ConfigMap> = Api::namespaced(a.clone(), "default");
    let on_b: Api<ConfigMap> = Api::namespaced(b.clone(), "default");
    // B's watch, open while A takes the writes.
    let seen_on_b = Arc::new(Mutex::new(HashSet::new()));
    let (start_rv, watch) = {
        let seen = seen_on_b.clone();
        watch_from_now(&on_b, 60, move |ev| {
            if let WatchEvent::Added(cm) = ev {
                seen.lock().unwrap().insert(cm.metadata.name.unwrap());
            }
        })
        .await
    };

    // Writes through A, acknowledged ones remembered, until A is killed.
    let acked = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (acked, count, on_a) = (acked.clone(), count.clone(), on_a.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut failures = 0;
            for i in 0..5000 {
                if Instant::now() > deadline || failures >= 10 {
                    break;
                }
                let name = format!("cm-{i}");
                match on_a
                    .create(&PostParams::default(), &config_map(&name))
                    .await
                {
                    Ok(cm) => {
                        let rv = cm.metadata.resource_version.unwrap().parse().unwrap();
                        acked.lock().unwrap().push((name, rv));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
    };
    minik_tests::wait_for("200 writes through A", Duration::from_secs(30), || {
        let n = count.load(Ordering::SeqCst);
        async move { (n >= 200).then_some(()) }
    })
    .await;
    ha.kill9("apiserver-0");
    writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200, "{} writes acknowledged", acked.len());
    eprintln!(
        "{} writes acknowledged by A before its kill -9",
        acked.len()
    );

    // Every acknowledged write is served by B, at the revision A reported.
    let listed: BTreeMap<String, u64> = on_b
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|cm| {
            let rv = cm.metadata.resource_version.unwrap().parse().unwrap();
            (cm.metadata.name.unwrap(), rv)
        })
        .collect();
    let missing: Vec<_> = acked
        .iter()
        .filter(|(name, rv)| listed.get(name) != Some(rv))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged by A, not served by B: {missing:?}"
    );
    // ...and B's watch saw each of them arrive.
    minik_tests::wait_for(
        "B's watch sees every write A took",
        Duration::from_secs(10),
        || {
            let seen = seen_on_b.lock().unwrap().clone();
            let acked = acked.clone();
            async move { acked.iter().all(|(n, _)| seen.contains(n)).then_some(()) }
        },
    )
    .await;
    watch.abort();
    // Revisions are etcd's: one order for the whole cluster.
    let newest = acked.iter().map(|(_, rv)| *rv).max().unwrap();
    let after = on_b
        .create(&PostParams::default(), &config_map("after-the-crash"))
        .await
        .unwrap();
    let after_rv: u64 = after.metadata.resource_version.unwrap().parse().unwrap();
    assert!(after_rv > newest, "{after_rv} after {newest}");

    // A comes back and resumes a watch from before its crash: no 410.
    ha.start_apiserver(0);
    let on_a: Api<ConfigMap> = Api::namespaced(ha.client(0).await, "default");
    let mut resumed = on_a
        .watch(&WatchParams::default().timeout(10), &start_rv)
        .await
        .unwrap()
        .boxed();
    let mut replayed = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while replayed.len() < acked.len() + 1 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), resumed.next()).await {
            Ok(Some(Ok(WatchEvent::Added(cm)))) => {
                replayed.insert(cm.metadata.name.unwrap());
            }
            Ok(Some(Ok(WatchEvent::Error(e)))) => panic!("resumed watch failed: {e:?}"),
            Ok(Some(Ok(_))) => {}
            other => panic!("resumed watch ended early: {other:?}"),
        }
    }
    assert_eq!(
        replayed.len(),
        acked.len() + 1,
        "replayed after the restart"
    );

    // Each server's allocator learns what the other took: a ClusterIP and
    // NodePort A handed out are refused when asked of B.
    let services_a: Api<Service> = Api::namespaced(ha.client(0).await, "default");
    let services_b: Api<Service> = Api::namespaced(b.clone(), "default");
    let svc = |name: &str| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.77",
                     "ports": [{"port": 80, "nodePort": 30777}]}
        }))
        .unwrap()
    };
    let rv = services_b
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut seen = services_b
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    services_a
        .create(&PostParams::default(), &svc("on-a"))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), seen.next()).await {
            Ok(Some(Ok(WatchEvent::Added(_)))) => break,
            Ok(Some(Ok(_))) => {}
            other => panic!("B did not see the Service: {other:?}"),
        }
    }
    // The allocator follows B's hub just behind its watches.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match services_b
        .create(&PostParams::default(), &svc("on-b"))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(s.message.contains("already allocated"), "{}", s.message);
        }
        other => panic!("B handed out A's ClusterIP and NodePort again: {other:?}"),
    }

    // Optimistic concurrency holds across servers: a write through A with
    // the resourceVersion B's write replaced is a 409.
    let mut stale = on_a.get("cm-0").await.unwrap();
    on_b.patch(
        "cm-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"by": "b"}})),
    )
    .await
    .unwrap();
    stale.data.as_mut().unwrap().insert("by".into(), "a".into());
    let err = on_a
        .replace("cm-0", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 409, "{s:?}"),
        other => panic!("expected 409, got {other:?}"),
    }
}

/// Lease timings short enough for a test (Kubernetes': 15s / 10s / 2s).
const LEASE: &[&str] = &[
    "--leader-elect",
    "--leader-elect-lease-duration",
    "3s",
    "--leader-elect-renew-deadline",
    "2s",
    "--leader-elect-retry-period",
    "500ms",
];
const LEASE_DURATION: Duration = Duration::from_secs(3);

async fn holder(leases: &Api<Lease>, name: &str) -> Option<(String, i32)> {
    let spec = leases.get_opt(name).await.ok()??.spec?;
    Some((spec.holder_identity?, spec.lease_transitions.unwrap_or(0)))
}

/// Which of `candidates` logged that it took the lease.
fn leader_among(ha: &HaCluster, candidates: &[&str]) -> Vec<String> {
    candidates
        .iter()
        .filter(|c| ha.log(c).contains("successfully acquired lease"))
        .map(|c| c.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_lease_holder_acts_and_a_standby_takes_over_within_the_lease() {
    let Some(mut ha) = ha_cluster(2) else { return };
    let client = ha.client(1).await;
    // A Ready node for the scheduler (no kubelet: nothing runs the pods).
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
        }
    }))
    .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let mut created = nodes.create(&PostParams::default(), &node).await.unwrap();
    created.status = node.status.clone();
    nodes
        .replace_status("node-1", &PostParams::default(), &created)
        .await
        .unwrap();

    // Each component twice, one copy on each API server.
    for i in 0..2 {
        let kubeconfig = ha.kubeconfig(i).display().to_string();
        let mut args = vec!["--kubeconfig".to_string(), kubeconfig];
        args.extend(LEASE.iter().map(|s| s.to_string()));
        ha.spawn(&format!("scheduler-{i}"), "minik-scheduler", &args);
        // The node has no kubelet renewing its Lease: keep it Ready for the test.
        args.extend(["--node-monitor-grace-period".into(), "10m".into()]);
        ha.spawn(&format!("controller-{i}"), "minik-controller", &args);
    }
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    for lease in ["kube-controller-manager", "kube-scheduler"] {
        minik_tests::wait_for(lease, Duration::from_secs(20), || {
            let leases = leases.clone();
            async move { holder(&leases, lease).await }
        })
        .await;
    }
    let controllers = ["controller-0", "controller-1"];
    let schedulers = ["scheduler-0", "scheduler-1"];
    let leading = minik_tests::wait_for("one leader of each", Duration::from_secs(10), || {
        let (c, s) = (
            leader_among(&ha, &controllers),
            leader_among(&ha, &schedulers),
        );
        async move { (c.len() == 1 && s.len() == 1).then(|| (c[0].clone(), s[0].clone())) }
    })
    .await;

    // Only the leader acts: exactly 3 pods are ever created for 3 replicas.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let added = Arc::new(AtomicUsize::new(0));
    let (_, counter) = {
        let added = added.clone();
        watch_from_now(&pods, 120, move |ev| {
            if matches!(ev, WatchEvent::Added(_)) {
                added.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await
    };
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}
            }
        }
    }))
    .unwrap();
    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    replicasets
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();
    let bound = |want: usize| {
        let pods = pods.clone();
        move || {
            let pods = pods.clone();
            async move {
                let list = pods.list(&ListParams::default()).await.ok()?;
                let n = list
                    .items
                    .iter()
                    .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
                    .count();
                (list.items.len() == want && n == want).then_some(())
            }
        }
    };
    minik_tests::wait_for("3 pods bound", Duration::from_secs(20), bound(3)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        added.load(Ordering::SeqCst),
        3,
        "pods created for 3 replicas"
    );
    let (_, transitions) = holder(&leases, "kube-controller-manager").await.unwrap();
    assert_eq!(
        transitions, 0,
        "the lease changed hands while its holder lived"
    );

    // Kill both leaders; the standbys take over within the lease duration.
    let (before_c, _) = holder(&leases, "kube-controller-manager").await.unwrap();
    let (before_s, _) = holder(&leases, "kube-scheduler").await.unwrap();
    ha.kill9(&leading.0);
    ha.kill9(&leading.1);
    let killed = Instant::now();
    let mut took = Vec::new();
    for (lease, before) in [
        ("kube-controller-manager", before_c),
        ("kube-scheduler", before_s),
    ] {
        let (after, transitions) = minik_tests::wait_for(
            &format!("{lease} taken over"),
            Duration::from_secs(15),
            || {
                let (leases, before) = (leases.clone(), before.clone());
                async move { holder(&leases, lease).await.filter(|(h, _)| *h != before) }
            },
        )
        .await;
        took.push(killed.elapsed());
        assert_eq!(transitions, 1, "{lease} now held by {after}");
    }
    let slowest = took.iter().max().unwrap();
    eprintln!("leases taken over {took:?} after the leaders were killed (lease duration {LEASE_DURATION:?})");
    assert!(
        *slowest <= LEASE_DURATION + Duration::from_secs(2),
        "took {slowest:?}\n{}",
        ha.logs_tail(20)
    );

    // The new leaders act: a scale-up gets its pods created and bound.
    replicasets
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    minik_tests::wait_for(
        "5 pods bound by the new leaders",
        Duration::from_secs(20),
        bound(5),
    )
    .await;
    counter.abort();
    assert_eq!(
        added.load(Ordering::SeqCst),
        5,
        "pods created for 5 replicas"
    );
}
