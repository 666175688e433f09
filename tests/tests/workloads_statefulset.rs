//! The StatefulSet controller with the whole control plane in one process
//! (API server, every controller, the scheduler) and simulated kubelets:
//! OrderedReady creates pods strictly in order and scales down in reverse;
//! Parallel creates them all at once, OrderedReady stops at an unhealthy
//! pod; a RollingUpdate with partition 2 updates only the highest ordinal,
//! then all in reverse order, and the real `kubectl rollout
//! status|history|undo` (and `miniktl rollout`) follow it; maxUnavailable 2
//! replaces two pods at once; OnDelete waits for deletions; claims
//! from volumeClaimTemplates come before their pods and follow the
//! retention policy (garbage collector included), a refused claim is
//! reported; the tutorial's PostgreSQL StatefulSet runs with bound volumes
//! (local-path provisioner); `kubectl get sts`,
//! `kubectl scale sts`, `kubectl delete sts` and the Events.

use crate::support;
use crate::support::miniktl as mk;

use std::sync::{Arc, Mutex};

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::{json, Value};
use support::workloads::{
    events_about, fake_kubelet, is_ready as ready, start_all_controllers, wait_for, PodLog,
    Readiness, SimCluster, Tasks,
};
use support::TestCluster;

const WAIT: Duration = Duration::from_secs(60);

/// A StatefulSet `web` of `replicas` busybox pods, with `extra` merged into its spec.
fn web(replicas: i32, extra: Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": replicas,
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "web", "image": "minik/busybox:v1",
                                "command": ["sh", "-c", "sleep 3600"]}],
            },
        },
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec})).unwrap()
}

async fn create(client: &kube::Client, set: StatefulSet) -> StatefulSet {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &set).await.unwrap()
}

fn image(p: &Pod) -> String {
    support::workloads::first_image(p)
}

/// Records `Kind/name` → the resourceVersion it was created at, from a watch
/// started before anything was created.
fn record_creations<K>(
    api: Api<K>,
    into: Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default()).boxed();
        while let Some(ev) = events.next().await {
            if let Ok(watcher::Event::Apply(o)) = ev {
                let rv: u64 = o
                    .resource_version()
                    .unwrap_or_default()
                    .parse()
                    .unwrap_or(0);
                let key = format!("{}/{}", K::kind(&()), o.name_any());
                into.lock().unwrap().entry(key).or_insert(rv);
            }
        }
    })
}

/// Running, Ready, not-terminating pods of the set: name → image.
async fn ready_pods(pods: &Api<Pod>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && ready(p))
        .map(|p| (p.name_any(), image(p)))
        .collect();
    out.sort();
    out
}

async fn wait_images(pods: &Api<Pod>, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, i)| (n.to_string(), i.to_string()))
        .collect();
    wait_for(&format!("ready pods {want:?}"), WAIT, || async {
        let all = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap();
        let settled = all.items.len() == want.len();
        (settled && ready_pods(pods).await == want).then_some(())
    })
    .await;
}

async fn status(client: &kube::Client) -> k8s_openapi::api::apps::v1::StatefulSetStatus {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    api.get("web").await.unwrap().status.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_ready_creates_in_order_and_scales_down_in_reverse() {
    let cluster = SimCluster::start(2, Duration::from_millis(200)).await;
    let c = &cluster.c;
    let log = PodLog::start(&c.client, "app=web");
    c.kubectl_ok(&[
        "apply",
        "-f",
        &c.file(
            "svc.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n  selector:\n    app: web\n  ports:\n  - port: 80\n",
        ),
    ]);
    create(&c.client, web(3, json!({"ordinals": {"start": 0}}))).await;
    let out = c.kubectl_ok(&["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated"),
        "{out}"
    );
    // Each pod was created only once the one before it was Ready.
    assert!(
        log.position("ready web-0") < log.position("added web-1"),
        "{:?}",
        log.entries()
    );
    assert!(
        log.position("ready web-1") < log.position("added web-2"),
        "{:?}",
        log.entries()
    );

    // Identity: labels, hostname and subdomain; no claims without templates.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let web1 = pods.get("web-1").await.unwrap();
    let labels = web1.labels();
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-1");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "1");
    let st = status(&c.client).await;
    assert_eq!(
        labels["controller-revision-hash"],
        st.update_revision.clone().unwrap()
    );
    let spec = web1.spec.unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("web-1"));
    assert_eq!(spec.subdomain.as_deref(), Some("web"));
    assert!(
        spec.volumes.iter().flatten().any(|v| v.projected.is_some()),
        "the pod has its token volume, which the controller's cache drops"
    );
    // A removed identity label is put back (UpdateStatefulPod): by a patch
    // of the labels, since the controller-manager's cached pod is trimmed
    // (no token volume) and would be refused if PUT back whole.
    c.kubectl_ok(&["label", "pod", "web-1", "apps.kubernetes.io/pod-index-"]);
    wait_for("web-1's pod-index label put back", WAIT, || async {
        let pod = pods.get("web-1").await.ok()?;
        (pod.labels()
            .get("apps.kubernetes.io/pod-index")
            .map(String::as_str)
            == Some("1"))
        .then_some(())
    })
    .await;
    assert_eq!(st.replicas, 3);
    assert_eq!(st.ready_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(3));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.updated_replicas, Some(3));
    assert_eq!(st.current_revision, st.update_revision);
    assert_eq!(st.collision_count, Some(0));
    assert_eq!(st.observed_generation, Some(1));

    // kubectl's columns (NAME READY AGE) and the Events in Kubernetes' words.
    let table = c.kubectl_ok(&["get", "sts"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "AGE"], "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["web", "3/3"], "{table}");
    let events = events_about(&c.client, "default", "web").await;
    for n in 0..3 {
        let note = format!("create Pod web-{n} in StatefulSet web successful");
        assert!(
            events.contains(&("SuccessfulCreate".into(), note.clone())),
            "{note} missing from {events:?}"
        );
    }

    // Scale to 1: web-2 goes first, web-1 only once web-2 is gone.
    c.kubectl_ok(&["scale", "sts", "web", "--replicas=1"]);
    wait_images(&pods, &[("web-0", "minik/busybox:v1")]).await;
    assert!(
        log.position("deleted web-2") < log.position("deleting web-1"),
        "{:?}",
        log.entries()
    );
    let events = events_about(&c.client, "default", "web").await;
    assert!(
        events.contains(&(
            "SuccessfulDelete".into(),
            "delete Pod web-2 in StatefulSet web successful".into()
        )),
        "{events:?}"
    );
    wait_for("status replicas 1", WAIT, || async {
        (status(&c.client).await.replicas == 1).then_some(())
    })
    .await;

    // A deleted pod comes back under the same name.
    let uid = pods.get("web-0").await.unwrap().uid();
    pods.delete("web-0", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("web-0 recreated", WAIT, || async {
        let p = pods.get_opt("web-0").await.unwrap()?;
        (p.uid() != uid && ready(&p)).then_some(())
    })
    .await;

    // Deleting the set takes its pods and revisions along.
    c.kubectl_ok(&["delete", "sts", "web"]);
    let revisions: Api<ControllerRevision> = Api::namespaced(c.client.clone(), "default");
    wait_for("pods and revisions gone", WAIT, || async {
        let pods = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap();
        let revs = revisions.list(&ListParams::default()).await.unwrap();
        (pods.items.is_empty() && revs.items.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_all_while_ordered_ready_stops_at_an_unready_pod() {
    // No kubelet: pods are created but never become Ready.
    let c = TestCluster::start().await;
    let _controllers = start_all_controllers(&c.client);
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let names = |selector: &'static str| {
        let pods = pods.clone();
        async move {
            let mut n: Vec<String> = pods
                .list(&ListParams::default().labels(selector))
                .await
                .unwrap()
                .items
                .iter()
                .map(|p| p.name_any())
                .collect();
            n.sort();
            n
        }
    };
    let mut ordered = web(3, json!({}));
    ordered.metadata.name = Some("ordered".into());
    create(&c.client, ordered).await;
    let mut parallel = web(
        3,
        json!({"podManagementPolicy": "Parallel", "ordinals": {"start": 3},
        "selector": {"matchLabels": {"app": "par"}}}),
    );
    parallel.metadata.name = Some("par".into());
    parallel
        .spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .labels = Some([("app".to_string(), "par".to_string())].into());
    create(&c.client, parallel).await;
    // Parallel, numbered from ordinals.start.
    wait_for("3 Parallel pods", WAIT, || async {
        (names("app=par").await == ["par-3", "par-4", "par-5"]).then_some(())
    })
    .await;
    // OrderedReady made web-0 and waits for it to be Ready.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(names("app=web").await, ["ordered-0"]);
    let api: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    let st = api.get("ordered").await.unwrap().status.unwrap();
    assert_eq!((st.replicas, st.ready_replicas), (1, None));

    // Once ordered-0 is Ready the next one comes.
    support::workloads::make_ready(&pods, "ordered-0", None)
        .await
        .unwrap();
    wait_for("ordered-1", WAIT, || async {
        (names("app=web").await == ["ordered-0", "ordered-1"]).then_some(())
    })
    .await;
    // A failed pod is deleted and made again, with a Warning.
    let patch = json!({"status": {"phase": "Failed"}});
    pods.patch_status("par-4", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_for("par-4 recreated", WAIT, || async {
        let p = pods.get_opt("par-4").await.unwrap()?;
        let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        (phase == "Pending").then_some(())
    })
    .await;
    let events = events_about(&c.client, "default", "par").await;
    assert!(
        events.contains(&(
            "RecreatingFailedPod".into(),
            "StatefulSet default/par is recreating failed Pod par-4".into()
        )),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_updates_only_the_highest_ordinal_then_kubectl_undoes() {
    let cluster = SimCluster::start(2, Duration::from_millis(100)).await;
    let c = &cluster.c;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    create(&c.client, web(3, json!({}))).await;
    c.kubectl_ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    let v1 = status(&c.client).await.update_revision.unwrap();

    // partition 2: only web-2 moves to v2.
    c.kubectl_ok(&[
        "patch",
        "sts",
        "web",
        "-p",
        r#"{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}"#,
    ]);
    c.kubectl_ok(&["set", "image", "sts/web", "web=minik/busybox:v2"]);
    wait_images(
        &pods,
        &[
            ("web-0", "minik/busybox:v1"),
            ("web-1", "minik/busybox:v1"),
            ("web-2", "minik/busybox:v2"),
        ],
    )
    .await;
    let out = c.kubectl_ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(
        out.contains("partitioned roll out complete: 1 new pods have been updated"),
        "{out}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let st = status(&c.client).await;
    let v2 = st.update_revision.clone().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(st.current_revision.as_deref(), Some(v1.as_str()));
    assert_eq!(
        (st.current_replicas, st.updated_replicas),
        (Some(2), Some(1))
    );
    assert_eq!(image(&pods.get("web-1").await.unwrap()), "minik/busybox:v1");

    // partition 0: the rest, highest ordinal first.
    let log = PodLog::start(&c.client, "app=web");
    c.kubectl_ok(&[
        "patch",
        "sts",
        "web",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
    ]);
    wait_images(
        &pods,
        &[
            ("web-0", "minik/busybox:v2"),
            ("web-1", "minik/busybox:v2"),
            ("web-2", "minik/busybox:v2"),
        ],
    )
    .await;
    assert!(
        log.position("deleting web-1") < log.position("deleting web-0"),
        "{:?}",
        log.entries()
    );
    wait_for("the update revision to become current", WAIT, || async {
        let st = status(&c.client).await;
        (st.current_revision.as_deref() == Some(v2.as_str()) && st.current_replicas == Some(3))
            .then_some(())
    })
    .await;

    // kubectl reads the history and undoes to v1, which becomes revision 3.
    let history = c.kubectl_ok(&["rollout", "history", "sts/web"]);
    assert!(
        history.contains("REVISION") && history.contains("\n2 "),
        "{history}"
    );
    let rev2 = c.kubectl_ok(&["rollout", "history", "sts/web", "--revision=2"]);
    assert!(rev2.contains("minik/busybox:v2"), "{rev2}");
    let out = c.kubectl_ok(&["rollout", "undo", "sts/web"]);
    assert!(out.contains("statefulset.apps/web rolled back"), "{out}");
    wait_images(
        &pods,
        &[
            ("web-0", "minik/busybox:v1"),
            ("web-1", "minik/busybox:v1"),
            ("web-2", "minik/busybox:v1"),
        ],
    )
    .await;
    c.kubectl_ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    let revisions: Api<ControllerRevision> = Api::namespaced(c.client.clone(), "default");
    let mut numbers: Vec<(i64, String)> = revisions
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| (r.revision, r.name_any()))
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![(2, v2.clone()), (3, v1.clone())]);
    let table = c.kubectl_ok(&["get", "controllerrevisions", "--no-headers"]);
    assert!(
        table.lines().all(|l| l.contains(" statefulset.apps/web ")),
        "{table}"
    );
    wait_for("status at v1 again", WAIT, || async {
        let st = status(&c.client).await;
        (st.update_revision.as_deref() == Some(v1.as_str())
            && st.current_revision.as_deref() == Some(v1.as_str()))
        .then_some(())
    })
    .await;

    // miniktl's rollout reads the same history and status as kubectl.
    let kubectl_history = c.kubectl_ok(&["rollout", "history", "sts/web"]);
    let miniktl_history = mk::miniktl(&c.kubeconfig, &["rollout", "history", "sts/web"])
        .await
        .ok();
    assert_eq!(miniktl_history, kubectl_history);
    let status_out = mk::miniktl(&c.kubeconfig, &["rollout", "status", "sts/web"])
        .await
        .ok();
    assert!(
        status_out.contains("partitioned roll out complete: 3 new pods have been updated..."),
        "{status_out}"
    );
    let out = mk::miniktl(
        &c.kubeconfig,
        &["rollout", "undo", "sts/web", "--to-revision=2"],
    )
    .await
    .ok();
    assert_eq!(out, "statefulset.apps/web rolled back\n");
    wait_images(
        &pods,
        &[
            ("web-0", "minik/busybox:v2"),
            ("web-1", "minik/busybox:v2"),
            ("web-2", "minik/busybox:v2"),
        ],
    )
    .await;
    wait_for("status to settle at 3 ready", WAIT, || async {
        let st = status(&c.client).await;
        (st.ready_replicas == Some(3) && st.updated_replicas == Some(3)).then_some(())
    })
    .await;
    // NAME READY AGE as kubectl prints them (AGE may tick in between).
    let cut = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .map(|l| {
                let cols: Vec<String> = l.split_whitespace().map(String::from).collect();
                cols[..cols.len() - 1].to_vec()
            })
            .collect()
    };
    let table = mk::miniktl(&c.kubeconfig, &["get", "sts"]).await.ok();
    let kubectl_table = c.kubectl_ok(&["get", "sts"]);
    assert_eq!(cut(&table), cut(&kubectl_table), "{table}");
    let header = |t: &str| t.lines().next().unwrap().to_string();
    assert_eq!(header(&table), header(&kubectl_table));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_replaces_a_pod_only_when_it_is_deleted() {
    let cluster = SimCluster::start(1, Duration::from_millis(100)).await;
    let c = &cluster.c;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    create(
        &c.client,
        web(2, json!({"updateStrategy": {"type": "OnDelete"}})),
    )
    .await;
    wait_images(
        &pods,
        &[("web-0", "minik/busybox:v1"), ("web-1", "minik/busybox:v1")],
    )
    .await;
    c.kubectl_ok(&["set", "image", "sts/web", "web=minik/busybox:v2"]);
    wait_for("the new revision observed", WAIT, || async {
        let st = status(&c.client).await;
        (st.observed_generation == Some(2) && st.update_revision != st.current_revision)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    wait_images(
        &pods,
        &[("web-0", "minik/busybox:v1"), ("web-1", "minik/busybox:v1")],
    )
    .await;
    pods.delete("web-0", &DeleteParams::default())
        .await
        .unwrap();
    wait_images(
        &pods,
        &[("web-0", "minik/busybox:v2"), ("web-1", "minik/busybox:v1")],
    )
    .await;
    let st = status(&c.client).await;
    assert_eq!(
        (st.current_replicas, st.updated_replicas),
        (Some(1), Some(1))
    );
    // kubectl says rollout status needs RollingUpdate, as it does on Kubernetes.
    let out = c.kubectl(&["rollout", "status", "sts/web"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("rollout status is only available for RollingUpdate strategy type"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_come_before_pods_and_follow_the_retention_policy() {
    // Pods are made Ready by a stand-in kubelet: this test is about the
    // claims the controller makes, not about mounting them.
    let c = TestCluster::start().await;
    let _controllers = start_all_controllers(&c.client);
    let _kubelet = fake_kubelet(
        &c.client,
        "default",
        Readiness::all(Duration::from_millis(50)),
    );
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "default");
    let templates = json!([{"metadata": {"name": "www", "labels": {"tier": "data"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]);
    let claim_names = || async {
        let mut n: Vec<String> = claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .map(|c| c.name_any())
            .collect();
        n.sort();
        n
    };
    let versions = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
    let _watches = Tasks::from(vec![
        record_creations(pods.clone(), versions.clone()),
        record_creations(claims.clone(), versions.clone()),
    ]);
    let set = create(
        &c.client,
        web(3, json!({"volumeClaimTemplates": templates.clone(),
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"}})),
    )
    .await;
    wait_for("3 Ready pods", WAIT, || async {
        (ready_pods(&pods).await.len() == 3).then_some(())
    })
    .await;
    assert_eq!(claim_names().await, ["www-web-0", "www-web-1", "www-web-2"]);
    let claim = claims.get("www-web-1").await.unwrap();
    let pod = pods.get("web-1").await.unwrap();
    // Each claim was written before its pod (resourceVersions only grow).
    let first = versions.lock().unwrap().clone();
    for n in 0..3 {
        let (claim, pod) = (
            format!("PersistentVolumeClaim/www-web-{n}"),
            format!("Pod/web-{n}"),
        );
        assert!(first[&claim] < first[&pod], "{first:?}");
    }
    let labels = claim.labels();
    assert_eq!(
        (labels["app"].as_str(), labels["tier"].as_str()),
        ("web", "data")
    );
    // whenDeleted: Delete → the set controls its claims.
    let owner = claim.owner_references()[0].clone();
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("StatefulSet", set.uid().unwrap().as_str())
    );
    let volume = &pod.spec.unwrap().volumes.unwrap()[0];
    assert_eq!(volume.name, "www");
    assert_eq!(
        volume.persistent_volume_claim.as_ref().unwrap().claim_name,
        "www-web-1"
    );
    let events = events_about(&c.client, "default", "web").await;
    assert!(
        events.contains(&(
            "SuccessfulCreate".into(),
            "create Claim www-web-0 Pod web-0 in StatefulSet web success".into()
        )),
        "{events:?}"
    );

    // A claim the API server refuses: the pod is not created, and both
    // failures are reported in Kubernetes' words.
    let mut bad = web(
        1,
        json!({"volumeClaimTemplates": [{"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"]}}]}),
    );
    bad.metadata.name = Some("bad".into());
    bad.spec.as_mut().unwrap().selector.match_labels =
        Some([("app".to_string(), "bad".to_string())].into());
    bad.spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .labels = Some([("app".to_string(), "bad".to_string())].into());
    create(&c.client, bad).await;
    let events = wait_for("the FailedCreate events", WAIT, || async {
        let events = events_about(&c.client, "default", "bad").await;
        (events.len() >= 2).then_some(events)
    })
    .await;
    let claim_failure = "create Claim data-bad-0 for Pod bad-0 in StatefulSet bad failed error: PersistentVolumeClaim \"data-bad-0\" is invalid: spec.resources[storage]: Required value";
    let pod_failure =
        "create Pod bad-0 in StatefulSet bad failed error: failed to create PVC data-bad-0: ";
    assert!(
        events
            .iter()
            .any(|(r, n)| r == "FailedCreate" && n.starts_with(claim_failure)),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(r, n)| r == "FailedCreate" && n.starts_with(pod_failure)),
        "{events:?}"
    );
    assert!(pods.get_opt("bad-0").await.unwrap().is_none());
    c.kubectl_ok(&["delete", "sts", "bad"]);

    // whenScaled: Delete → scaling to 1 takes web-2's and web-1's claims.
    c.kubectl_ok(&["scale", "sts", "web", "--replicas=1"]);
    wait_for("claims of web-1 and web-2 gone", WAIT, || async {
        (claim_names().await == ["www-web-0"]).then_some(())
    })
    .await;
    // Scaling up again makes fresh claims.
    c.kubectl_ok(&["scale", "sts", "web", "--replicas=2"]);
    wait_for("www-web-1 again", WAIT, || async {
        (claim_names().await == ["www-web-0", "www-web-1"] && ready_pods(&pods).await.len() == 2)
            .then_some(())
    })
    .await;
    // whenDeleted: Delete → deleting the set deletes the claims.
    c.kubectl_ok(&["delete", "sts", "web"]);
    wait_for("every claim gone", WAIT, || async {
        claim_names().await.is_empty().then_some(())
    })
    .await;

    // The default, Retain: claims outlive both scale-down and deletion.
    let set = create(
        &c.client,
        web(2, json!({"volumeClaimTemplates": templates})),
    )
    .await;
    let policy = set
        .spec
        .unwrap()
        .persistent_volume_claim_retention_policy
        .unwrap();
    assert_eq!(
        (
            policy.when_deleted.as_deref(),
            policy.when_scaled.as_deref()
        ),
        (Some("Retain"), Some("Retain"))
    );
    wait_for("2 Ready pods", WAIT, || async {
        (ready_pods(&pods).await.len() == 2).then_some(())
    })
    .await;
    c.kubectl_ok(&["scale", "sts", "web", "--replicas=1"]);
    wait_for("web-1 gone", WAIT, || async {
        (ready_pods(&pods).await.len() == 1 && pods.get_opt("web-1").await.unwrap().is_none())
            .then_some(())
    })
    .await;
    c.kubectl_ok(&["delete", "sts", "web"]);
    wait_for("pods gone", WAIT, || async {
        let all = pods.list(&ListParams::default()).await.unwrap();
        all.items.is_empty().then_some(())
    })
    .await;
    assert_eq!(claim_names().await, ["www-web-0", "www-web-1"]);
    assert!(claims
        .get("www-web-0")
        .await
        .unwrap()
        .owner_references()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_and_defaults_are_kube_apiservers() {
    let c = TestCluster::start().await;
    let created = create(&c.client, web(1, json!({}))).await;
    let spec = created.spec.unwrap();
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    assert_eq!(spec.revision_history_limit, Some(10));
    let strategy = spec.update_strategy.unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    assert_eq!(strategy.rolling_update.unwrap().partition, Some(0));

    // Only some of the spec may change.
    let out = c.kubectl(&[
        "patch",
        "sts",
        "web",
        "-p",
        r#"{"spec":{"serviceName":"other"}}"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"),
        "{err}"
    );
    let out = c.kubectl(&[
        "patch",
        "sts",
        "web",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"maxUnavailable":0}}}}"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: \"0\": cannot be 0"
        ) || err.contains(
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"
        ),
        "{err}"
    );
}

/// The tutorial's PostgreSQL StatefulSet (seed 000), as written.
const TUTORIAL_POSTGRES: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: postgres
spec:
  serviceName: postgres  # Stable network identity
  replicas: 3
  selector:
    matchLabels:
      app: postgres
  template:
    metadata:
      labels:
        app: postgres
    spec:
      containers:
      - name: postgres
        image: postgres:15
        ports:
        - containerPort: 5432
        volumeMounts:
        - name: postgres-storage
          mountPath: /var/lib/postgresql/data
  volumeClaimTemplates:  # Each Pod gets its own storage
  - metadata:
      name: postgres-storage
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 10Gi
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_postgres_runs_with_bound_volumes_on_the_sim_runtime() {
    let cluster = SimCluster::start_with(2, Duration::from_millis(100), |settings, dir| {
        settings.local_path_dir = Some(dir.join("local-path"));
    })
    .await;
    let c = &cluster.c;
    let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\nprovisioner: minik.io/local-path\nvolumeBindingMode: WaitForFirstConsumer\nreclaimPolicy: Delete\n";
    c.kubectl_ok(&["apply", "-f", &c.file("class.yaml", class)]);
    c.kubectl_ok(&["apply", "-f", &c.file("postgres.yaml", TUTORIAL_POSTGRES)]);
    let out = c.kubectl_ok(&["rollout", "status", "sts/postgres", "--timeout=60s"]);
    assert!(out.contains("3 new pods have been updated"), "{out}");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "default");
    for n in 0..3 {
        let claim = claims
            .get(&format!("postgres-storage-postgres-{n}"))
            .await
            .unwrap();
        let phase = claim.status.and_then(|s| s.phase);
        assert_eq!(
            phase.as_deref(),
            Some("Bound"),
            "postgres-storage-postgres-{n}"
        );
        assert_eq!(
            claim.spec.unwrap().storage_class_name.as_deref(),
            Some("standard")
        );
    }
    let table = c.kubectl_ok(&["get", "sts", "postgres", "--no-headers"]);
    assert_eq!(table.split_whitespace().nth(1), Some("3/3"), "{table}");
}

/// The tutorial's Redis StatefulSet, verbatim (a claim template naming a
/// `fast-ssd` class, a ConfigMap volume), once the class and the ConfigMap
/// it expects exist: three pods, each with its own Bound claim.
const TUTORIAL_REDIS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis-cluster
  namespace: microservices
spec:
  serviceName: redis-cluster
  replicas: 3
  selector:
    matchLabels:
      app: redis-cluster
  template:
    metadata:
      labels:
        app: redis-cluster
    spec:
      containers:
      - name: redis
        image: redis:6.2-alpine
        ports:
        - containerPort: 6379
        - containerPort: 16379
        command:
        - redis-server
        - /conf/redis.conf
        volumeMounts:
        - name: redis-data
          mountPath: /data
        - name: redis-config
          mountPath: /conf
        resources:
          requests:
            memory: "256Mi"
            cpu: "250m"
          limits:
            memory: "512Mi"
            cpu: "500m"
      volumes:
      - name: redis-config
        configMap:
          name: redis-config
  volumeClaimTemplates:
  - metadata:
      name: redis-data
    spec:
      accessModes: ["ReadWriteOnce"]
      storageClassName: fast-ssd
      resources:
        requests:
          storage: 10Gi
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_redis_runs_with_its_claims_on_the_sim_runtime() {
    let cluster = SimCluster::start_with(2, Duration::from_millis(100), |settings, dir| {
        settings.local_path_dir = Some(dir.join("local-path"));
    })
    .await;
    let c = &cluster.c;
    let prereqs = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: microservices\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast-ssd\nprovisioner: minik.io/local-path\nvolumeBindingMode: WaitForFirstConsumer\nreclaimPolicy: Delete\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: redis-config\n  namespace: microservices\ndata:\n  redis.conf: \"appendonly yes\\n\"\n";
    c.kubectl_ok(&["apply", "-f", &c.file("prereqs.yaml", prereqs)]);
    c.kubectl_ok(&["apply", "-f", &c.file("redis.yaml", TUTORIAL_REDIS)]);
    let out = c.kubectl_ok(&[
        "rollout",
        "status",
        "sts/redis-cluster",
        "-n",
        "microservices",
        "--timeout=60s",
    ]);
    assert!(out.contains("3 new pods have been updated"), "{out}");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "microservices");
    for n in 0..3 {
        let name = format!("redis-data-redis-cluster-{n}");
        let claim = claims.get(&name).await.unwrap();
        assert_eq!(
            claim.status.and_then(|s| s.phase).as_deref(),
            Some("Bound"),
            "{name}"
        );
        assert_eq!(
            claim.spec.unwrap().storage_class_name.as_deref(),
            Some("fast-ssd")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_unavailable_replaces_two_pods_at_once() {
    let cluster = SimCluster::start(2, Duration::from_millis(300)).await;
    let c = &cluster.c;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let strategy = json!({"type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 2}});
    create(&c.client, web(3, json!({"updateStrategy": strategy}))).await;
    c.kubectl_ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    let log = PodLog::start(&c.client, "app=web");
    wait_for("the log to see the pods", WAIT, || async {
        (log.entries().len() >= 6).then_some(())
    })
    .await;
    c.kubectl_ok(&["set", "image", "sts/web", "web=minik/busybox:v2"]);
    wait_images(
        &pods,
        &[
            ("web-0", "minik/busybox:v2"),
            ("web-1", "minik/busybox:v2"),
            ("web-2", "minik/busybox:v2"),
        ],
    )
    .await;
    // web-2 and web-1 went together, before the new web-2 was Ready.
    let entries = log.entries();
    let last_ready_2 = entries.iter().rposition(|e| e == "ready web-2").unwrap();
    assert!(log.position("deleting web-1") < last_ready_2, "{entries:?}");
    assert!(
        log.position("deleting web-0") > log.position("deleting web-1"),
        "{entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_ready_seconds_holds_the_next_pod_back() {
    let cluster = SimCluster::start(1, Duration::from_millis(100)).await;
    let c = &cluster.c;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    create(&c.client, web(2, json!({"minReadySeconds": 2}))).await;
    // Ready but not yet available: counted as ready, not available.
    let st = wait_for("web-0 Ready", WAIT, || async {
        let st = status(&c.client).await;
        (st.ready_replicas == Some(1)).then_some(st)
    })
    .await;
    assert_eq!(st.available_replicas, Some(0));
    c.kubectl_ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    wait_for("both available", WAIT, || async {
        (status(&c.client).await.available_replicas == Some(2)).then_some(())
    })
    .await;
    // web-1 was created only once web-0 had been Ready for 2 s.
    let web0 = pods.get("web-0").await.unwrap();
    let ready_since = web0
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .last_transition_time
        .unwrap()
        .0;
    let created = pods
        .get("web-1")
        .await
        .unwrap()
        .metadata
        .creation_timestamp
        .unwrap()
        .0;
    assert!(
        created.as_second() - ready_since.as_second() >= 2,
        "web-0 Ready at {ready_since}, web-1 created at {created}"
    );
}
