//! The ReplicaSet controller against an in-process API server: what it
//! creates and deletes (and in which order), adoption and release, status,
//! failures and the Events it records. A test helper plays scheduler and
//! kubelet by binding pods and marking them Running/Ready.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use support::workloads::*;
use support::TestCluster;

const NS: &str = "default";
const WAIT: Duration = Duration::from_secs(15);

fn replica_set(name: &str, app: &str, replicas: i32, image: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": image}]
                }
            }
        }
    }))
    .unwrap()
}

async fn status_of(api: &Api<ReplicaSet>, name: &str) -> (i32, i32, i32, i32, i64) {
    let rs = api.get(name).await.unwrap();
    let s = rs.status.unwrap_or_default();
    (
        s.replicas,
        s.fully_labeled_replicas.unwrap_or(0),
        s.ready_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
        s.observed_generation.unwrap_or(0),
    )
}

async fn bind(client: &kube::Client, pod: &str, node: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": pod},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}
    });
    let _: serde_json::Value = api
        .create_subresource("binding", pod, &PostParams::default(), &binding)
        .await
        .unwrap();
}

/// Scale up creates pods named `<rs>-<5 chars>` with a controller reference;
/// scale down removes, step by step, the unscheduled pod, then the one not
/// ready, then the one ready most recently, keeping the longest-ready pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_up_and_down_deleting_in_kubernetes_order() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);

    let rs = rs_api
        .create(
            &PostParams::default(),
            &replica_set("web", "web", 4, "busybox"),
        )
        .await
        .unwrap();
    let names = wait_for("4 pods", WAIT, || async {
        let n = pod_names(&client, NS, "app=web").await;
        (n.len() == 4).then_some(n)
    })
    .await;
    for name in &names {
        assert!(
            name.starts_with("web-") && name.len() == "web-".len() + 5,
            "{name}"
        );
        let pod = pods.get(name).await.unwrap();
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                owner.api_version.as_str(),
                owner.kind.as_str(),
                owner.name.as_str()
            ),
            ("apps/v1", "ReplicaSet", "web")
        );
        assert_eq!(owner.uid, rs.uid().unwrap());
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
    }
    // Exactly four creations, each recorded as Kubernetes words it.
    let events = wait_for("4 SuccessfulCreate events", WAIT, || async {
        let e = events_about(&client, NS, "web").await;
        (e.iter().filter(|(r, _)| r == "SuccessfulCreate").count() == 4).then_some(e)
    })
    .await;
    // Kubernetes' words first, then the cause (each note counts the pods
    // there were before it, in whatever order the four creations finished).
    for name in &names {
        let note = format!("Created pod: {name} (ReplicaSet web wants 4 replicas, has ");
        assert!(
            events
                .iter()
                .any(|(r, n)| r == "SuccessfulCreate" && n.starts_with(&note)),
            "{events:?}"
        );
    }
    for has in 0..4 {
        let cause = format!(" (ReplicaSet web wants 4 replicas, has {has})");
        assert!(
            events.iter().any(|(_, n)| n.ends_with(&cause)),
            "{events:?}"
        );
    }

    // Four pods in four different states: ready for two hours, ready for a
    // few seconds, running but not ready, and not even scheduled.
    let (long_ready, recently_ready, not_ready, unscheduled) =
        (&names[0], &names[1], &names[2], &names[3]);
    for p in [long_ready, recently_ready, not_ready] {
        bind(&client, p, "node-a").await;
    }
    let two_hours_ago = (k8s_openapi::jiff::Timestamp::now()
        - k8s_openapi::jiff::SignedDuration::from_hours(2))
    .to_string();
    make_ready(&pods, long_ready, Some(&two_hours_ago))
        .await
        .unwrap();
    make_ready(&pods, recently_ready, None).await.unwrap();
    set_pod_state(&pods, not_ready, false, None).await.unwrap();
    wait_for("status 4/4 with 2 ready", WAIT, || async {
        let s = status_of(&rs_api, "web").await;
        (s == (4, 4, 2, 2, 1)).then_some(())
    })
    .await;

    for (replicas, victim) in [(3, unscheduled), (2, not_ready), (1, recently_ready)] {
        rs_api
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .unwrap();
        let left = wait_for(&format!("{replicas} pods"), WAIT, || async {
            let n = pod_names(&client, NS, "app=web").await;
            (n.len() == replicas).then_some(n)
        })
        .await;
        assert!(
            !left.contains(victim),
            "scaling to {replicas} should delete {victim}, left {left:?}"
        );
        // The Event is written just after the deletion it reports.
        let noun = if replicas == 1 { "replica" } else { "replicas" };
        let deleted = (
            "SuccessfulDelete".to_string(),
            format!(
                "Deleted pod: {victim} (ReplicaSet web wants {replicas} {noun}, has {})",
                replicas + 1
            ),
        );
        wait_for(&format!("{deleted:?}"), WAIT, || async {
            events_about(&client, NS, "web")
                .await
                .contains(&deleted)
                .then_some(())
        })
        .await;
    }
    assert_eq!(
        pod_names(&client, NS, "app=web").await,
        vec![long_ready.clone()]
    );
    wait_for("status 1/1 observed generation 4", WAIT, || async {
        (status_of(&rs_api, "web").await == (1, 1, 1, 1, 4)).then_some(())
    })
    .await;
    // Nothing was created after the first four.
    let creates = events_about(&client, NS, "web")
        .await
        .into_iter()
        .filter(|(r, _)| r == "SuccessfulCreate")
        .count();
    assert_eq!(creates, 4);
}

/// A deleted pod is replaced by exactly one new pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaces_a_deleted_pod() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::ZERO));
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    rs_api
        .create(
            &PostParams::default(),
            &replica_set("heal", "heal", 2, "busybox"),
        )
        .await
        .unwrap();
    wait_for("2 ready", WAIT, || async {
        (status_of(&rs_api, "heal").await == (2, 2, 2, 2, 1)).then_some(())
    })
    .await;
    let before = pod_names(&client, NS, "app=heal").await;
    pods.delete(&before[0], &DeleteParams::default())
        .await
        .unwrap();
    let after = wait_for("a replacement", WAIT, || async {
        let n = pod_names(&client, NS, "app=heal").await;
        (n.len() == 2 && !n.contains(&before[0])).then_some(n)
    })
    .await;
    assert!(after.contains(&before[1]));
    wait_for("2 ready again", WAIT, || async {
        (status_of(&rs_api, "heal").await == (2, 2, 2, 2, 1)).then_some(())
    })
    .await;
    // Give a duplicate creation the time to show up, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pod_names(&client, NS, "app=heal").await.len(), 2);
    let creates = events_about(&client, NS, "heal")
        .await
        .into_iter()
        .filter(|(r, _)| r == "SuccessfulCreate")
        .count();
    assert_eq!(creates, 3);
}

/// A matching orphan is adopted instead of creating a pod; a pod relabelled
/// out of the selector is released and replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopts_orphans_and_releases_pods_that_stop_matching() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    // Started after the orphan exists, so their first pod list has it (a
    // controller whose pod watch lags behind would first create 2 pods,
    // then adopt the orphan and delete one, as Kubernetes' would).
    let _controllers = start_controllers(&client);

    let rs = rs_api
        .create(
            &PostParams::default(),
            &replica_set("adopter", "adopt", 2, "busybox"),
        )
        .await
        .unwrap();
    let names = wait_for("2 pods", WAIT, || async {
        let n = pod_names(&client, NS, "app=adopt").await;
        (n.len() == 2).then_some(n)
    })
    .await;
    assert!(names.contains(&"orphan".to_string()));
    let adopted = pods.get("orphan").await.unwrap();
    let owner = &adopted.metadata.owner_references.as_ref().expect("adopted")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ReplicaSet", "adopter", Some(true))
    );
    assert_eq!(owner.uid, rs.uid().unwrap());
    let creates = || async {
        let e = events_about(&client, NS, "adopter").await;
        e.iter().filter(|(r, _)| r == "SuccessfulCreate").count()
    };
    wait_for("a SuccessfulCreate event", WAIT, || async {
        (creates().await > 0).then_some(())
    })
    .await;
    assert_eq!(creates().await, 1, "only one pod was missing");

    // Relabel the adopted pod: released, and replaced.
    pods.patch(
        "orphan",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "gone"}}})),
    )
    .await
    .unwrap();
    wait_for("release", WAIT, || async {
        let p = pods.get("orphan").await.unwrap();
        p.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
            .then_some(())
    })
    .await;
    let now = wait_for("a replacement", WAIT, || async {
        let n = pod_names(&client, NS, "app=adopt").await;
        (n.len() == 2).then_some(n)
    })
    .await;
    assert!(!now.contains(&"orphan".to_string()));
}

/// Pods count as available only `minReadySeconds` after they turned ready,
/// and status says so without any further pod change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn available_after_min_ready_seconds() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::ZERO));
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let mut rs = replica_set("slow", "slow", 2, "busybox");
    rs.spec.as_mut().unwrap().min_ready_seconds = Some(2);
    rs_api.create(&PostParams::default(), &rs).await.unwrap();
    wait_for("2 ready, 0 available", WAIT, || async {
        (status_of(&rs_api, "slow").await == (2, 2, 2, 0, 1)).then_some(())
    })
    .await;
    wait_for("2 available", WAIT, || async {
        (status_of(&rs_api, "slow").await == (2, 2, 2, 2, 1)).then_some(())
    })
    .await;
}

/// A template the API server refuses as a pod: FailedCreate events, a
/// ReplicaFailure condition, one attempt per sync (slow start); fixed
/// template → pods, condition gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_creations_are_reported() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    // Leading whitespace in an image is allowed in a template, not in a pod.
    rs_api
        .create(
            &PostParams::default(),
            &replica_set("bad", "bad", 3, " busybox"),
        )
        .await
        .unwrap();
    let condition = wait_for("ReplicaFailure", WAIT, || async {
        let rs = rs_api.get("bad").await.unwrap();
        rs.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "ReplicaFailure")
    })
    .await;
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("True", Some("FailedCreate"))
    );
    assert!(condition
        .message
        .unwrap()
        .contains("must not have leading or trailing whitespace"));
    let events = events_about(&client, NS, "bad").await;
    let failed: Vec<_> = events.iter().filter(|(r, _)| r == "FailedCreate").collect();
    assert!(!failed.is_empty());
    assert!(failed[0].1.starts_with("Error creating: "), "{failed:?}");
    assert!(pod_names(&client, NS, "app=bad").await.is_empty());

    rs_api
        .patch(
            "bad",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})),
        )
        .await
        .unwrap();
    wait_for("3 pods, no failure", Duration::from_secs(30), || async {
        let rs = rs_api.get("bad").await.unwrap();
        let s = rs.status.unwrap_or_default();
        (s.replicas == 3 && s.conditions.unwrap_or_default().is_empty()).then_some(())
    })
    .await;
}

/// The guestbook's ReplicationController (kubernetes/examples'
/// `guestbook-go`, trimmed): the RC keeps its pods (it owns them, its
/// selector defaulted from the template), reports ready replicas, scales
/// with `kubectl scale rc`, and `kubectl apply --prune -l` with kubectl's
/// default allowlist (which names ReplicationController) prunes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_controllers_keep_pods_and_apply_prune_works() {
    let c = TestCluster::start().await;
    let _controllers = {
        let ctx = std::sync::Arc::new(minik_controller::Context::new(
            c.client.clone(),
            minik_controller::Settings::default(),
        ));
        Tasks(vec![tokio::spawn(async move {
            minik_controller::run_only(
                ctx,
                &[
                    minik_controller::replication_controller::build,
                    minik_controller::garbage_collector::build,
                ],
            )
            .await
            .unwrap();
        })])
    };
    let _kubelet = fake_kubelet(
        &c.client,
        "default",
        Readiness::all(Duration::from_millis(50)),
    );
    let dir = c.dir.path().join("guestbook");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("redis-master-controller.yaml"),
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: redis-master\n  labels:\n    app: guestbook\nspec:\n  replicas: 1\n  template:\n    metadata:\n      labels:\n        app: redis\n        role: master\n    spec:\n      containers:\n      - name: redis-master\n        image: redis:7\n        ports:\n        - name: redis-server\n          containerPort: 6379\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("guestbook-controller.yaml"),
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: guestbook\n  labels:\n    app: guestbook\nspec:\n  replicas: 3\n  template:\n    metadata:\n      labels:\n        app: guestbook\n    spec:\n      containers:\n      - name: guestbook\n        image: minik/web:v1\n",
    )
    .unwrap();
    let dir = dir.to_string_lossy().to_string();
    c.kubectl_ok(&["apply", "-f", &dir]);
    let wait_pods = |selector: &'static str, n: usize| {
        let client = c.client.clone();
        async move {
            wait_for(
                &format!("{n} pods {selector}"),
                Duration::from_secs(15),
                || async {
                    (pod_names(&client, "default", selector).await.len() == n).then_some(())
                },
            )
            .await
        }
    };
    wait_pods("app=guestbook", 3).await;
    wait_pods("app=redis,role=master", 1).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let name = pod_names(&c.client, "default", "app=guestbook")
        .await
        .remove(0);
    let owner = pods
        .get(&name)
        .await
        .unwrap()
        .metadata
        .owner_references
        .unwrap();
    assert_eq!(
        (
            owner[0].kind.as_str(),
            owner[0].api_version.as_str(),
            owner[0].name.as_str()
        ),
        ("ReplicationController", "v1", "guestbook")
    );
    // Defaulted from the template, as Kubernetes does.
    let selector = c.kubectl_ok(&["get", "rc", "guestbook", "-o", "jsonpath={.spec.selector}"]);
    assert_eq!(selector, r#"{"app":"guestbook"}"#);
    wait_for("3 ready", Duration::from_secs(15), || async {
        let ready = c.kubectl_ok(&[
            "get",
            "rc",
            "guestbook",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]);
        (ready == "3").then_some(())
    })
    .await;
    let table = c.kubectl_ok(&["get", "rc", "guestbook"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["guestbook", "3", "3", "3"], "{table}");
    c.kubectl_ok(&["scale", "rc", "guestbook", "--replicas=1"]);
    wait_pods("app=guestbook", 1).await;
    // Prune: the RC left out of the directory goes, with its pods.
    std::fs::remove_file(format!("{dir}/redis-master-controller.yaml")).unwrap();
    let out = c.kubectl_ok(&["apply", "--prune", "-l", "app=guestbook", "-f", &dir]);
    assert!(
        out.contains("replicationcontroller/redis-master pruned"),
        "{out}"
    );
    wait_pods("app=redis,role=master", 0).await;
}
