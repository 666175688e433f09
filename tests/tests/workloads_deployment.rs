//! The Deployment controller (with the ReplicaSet controller under it)
//! against an in-process API server: rolling updates within maxSurge and
//! maxUnavailable, Recreate, proportional scaling, the progress deadline,
//! history cleanup and the Events recorded. A test helper plays scheduler
//! and kubelet by marking pods Running/Ready, selectively where a rollout
//! must get stuck.

use crate::support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use support::workloads::*;
use support::TestCluster;

const NS: &str = "default";
const WAIT: Duration = Duration::from_secs(20);

fn deployment(name: &str, replicas: i32, image: &str, strategy: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "web", "image": image}]
                }
            }
        }
    }))
    .unwrap()
}

fn rolling(surge: serde_json::Value, unavailable: serde_json::Value) -> serde_json::Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

async fn set_image(api: &Api<Deployment>, name: &str, image: &str) {
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}});
    api.patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
}

/// The Deployment's ReplicaSets: name → (image, spec.replicas, revision).
async fn replica_sets(client: &kube::Client, app: &str) -> BTreeMap<String, (String, i32, String)> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|rs| {
            let spec = rs.spec.clone().unwrap();
            let image = spec.template.unwrap().spec.unwrap().containers[0]
                .image
                .clone()
                .unwrap();
            let rev = rs
                .annotations()
                .get("deployment.kubernetes.io/revision")
                .cloned()
                .unwrap_or_default();
            (rs.name_any(), (image, spec.replicas.unwrap_or(1), rev))
        })
        .collect()
}

/// The rollout is done as `kubectl rollout status` judges it.
async fn rolled_out(api: &Api<Deployment>, name: &str) -> bool {
    let d = api.get(name).await.unwrap();
    let s = d.status.clone().unwrap_or_default();
    let want = d.spec.unwrap().replicas.unwrap_or(1);
    s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap()
        && s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
}

fn condition(d: &Deployment, type_: &str) -> Option<(String, String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A rolling update of 4 replicas (maxSurge 1, maxUnavailable 1): at every
/// state seen on a watch, Ready pods never drop below 3, and the
/// ReplicaSets the controller sizes never add up to more than 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_stays_within_surge_and_unavailability() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::from_millis(150)));
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    api.create(
        &PostParams::default(),
        &deployment("roll", 4, "minik/web:v1", rolling(json!(1), json!(1))),
    )
    .await
    .unwrap();
    wait_for("first rollout", WAIT, || async {
        rolled_out(&api, "roll").await.then_some(())
    })
    .await;
    let first = replica_sets(&client, "roll").await;
    assert_eq!(first.len(), 1);
    let (first_rs, (_, _, rev)) = first.iter().next().unwrap();
    assert_eq!(rev, "1");
    assert!(first_rs.starts_with("roll-"));

    // Watch pods and ReplicaSets while the rollout runs; record violations.
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let min_ready = Arc::new(Mutex::new(usize::MAX));
    let pods_watch = {
        let (violations, min_ready) = (violations.clone(), min_ready.clone());
        let api: Api<Pod> = Api::namespaced(client.clone(), NS);
        tokio::spawn(async move {
            let mut state: HashMap<String, Pod> = HashMap::new();
            let mut synced = false;
            let mut w = watcher(api, watcher::Config::default().labels("app=roll")).boxed();
            while let Some(Ok(ev)) = w.next().await {
                match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        state.insert(p.name_any(), p);
                    }
                    watcher::Event::Delete(p) => {
                        state.remove(&p.name_any());
                    }
                    watcher::Event::InitDone => synced = true,
                    watcher::Event::Init => {}
                }
                if !synced {
                    continue;
                }
                let ready = state
                    .values()
                    .filter(|p| p.metadata.deletion_timestamp.is_none() && is_ready(p))
                    .count();
                let mut m = min_ready.lock().unwrap();
                *m = (*m).min(ready);
                if ready < 3 {
                    violations
                        .lock()
                        .unwrap()
                        .push(format!("only {ready} ready pods"));
                }
            }
        })
    };
    let rs_watch = {
        let violations = violations.clone();
        let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
        tokio::spawn(async move {
            let mut sizes: HashMap<String, i32> = HashMap::new();
            let mut w = watcher(api, watcher::Config::default().labels("app=roll")).boxed();
            while let Some(Ok(ev)) = w.next().await {
                match ev {
                    watcher::Event::Apply(rs) | watcher::Event::InitApply(rs) => {
                        sizes.insert(rs.name_any(), rs.spec.unwrap().replicas.unwrap_or(1));
                    }
                    watcher::Event::Delete(rs) => {
                        sizes.remove(&rs.name_any());
                    }
                    _ => {}
                }
                let total: i32 = sizes.values().sum();
                if total > 5 {
                    violations
                        .lock()
                        .unwrap()
                        .push(format!("ReplicaSets sized {sizes:?}"));
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    set_image(&api, "roll", "minik/web:v2").await;
    wait_for("second rollout", WAIT, || async {
        let d = api.get("roll").await.unwrap();
        (d.metadata.generation == Some(2) && rolled_out(&api, "roll").await).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    pods_watch.abort();
    rs_watch.abort();
    assert_eq!(*violations.lock().unwrap(), Vec::<String>::new());
    assert_eq!(
        *min_ready.lock().unwrap(),
        3,
        "the rollout used its unavailability budget"
    );

    // Actions: one new ReplicaSet (revision 2) scaled to 4, the old one to 0.
    let after = replica_sets(&client, "roll").await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[first_rs],
        ("minik/web:v1".to_string(), 0, "1".to_string())
    );
    let (new_rs, new) = after.iter().find(|(n, _)| *n != first_rs).unwrap();
    assert_eq!(new, &("minik/web:v2".to_string(), 4, "2".to_string()));
    let d = api.get("roll").await.unwrap();
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "2");
    let rs: ReplicaSet = Api::namespaced(client.clone(), NS)
        .get(new_rs)
        .await
        .unwrap();
    let hash = &rs.labels()["pod-template-hash"];
    assert_eq!(new_rs, &format!("roll-{hash}"));
    assert_eq!(
        rs.spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .as_ref()
            .unwrap()["pod-template-hash"],
        *hash
    );
    assert_eq!(
        rs.annotations()["deployment.kubernetes.io/desired-replicas"],
        "4"
    );
    assert_eq!(
        rs.annotations()["deployment.kubernetes.io/max-replicas"],
        "5"
    );
    let owner = &rs.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Deployment", "roll", Some(true))
    );
    assert_eq!(
        condition(&d, "Progressing").unwrap(),
        (
            "True".into(),
            "NewReplicaSetAvailable".into(),
            format!("ReplicaSet \"{new_rs}\" has successfully progressed.")
        )
    );
    assert_eq!(
        condition(&d, "Available").unwrap(),
        (
            "True".into(),
            "MinimumReplicasAvailable".into(),
            "Deployment has minimum availability.".into()
        )
    );
    let s = d.status.unwrap();
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas,
            s.unavailable_replicas
        ),
        (Some(4), Some(4), Some(4), Some(4), None)
    );

    // The Events tell the same story, in Kubernetes' words. The steps in
    // between depend on how fast pods turn ready; how it starts and ends
    // does not. (Events are written just after the scaling they report.)
    let down = format!("Scaled down replica set {first_rs} from ");
    let up = format!("Scaled up replica set {new_rs} from ");
    let scaling = wait_for("the last scaling events", WAIT, || async {
        let scaling: Vec<String> = events_about(&client, NS, "roll")
            .await
            .into_iter()
            .filter(|(r, _)| r == "ScalingReplicaSet")
            .map(|(_, n)| n)
            .collect();
        // Kubernetes' note, then the cause in brackets.
        let ended = scaling
            .iter()
            .any(|n| n.starts_with(&down) && n.contains(" to 0 ("))
            && scaling
                .iter()
                .any(|n| n.starts_with(&up) && n.contains(" to 4 ("));
        ended.then_some(scaling)
    })
    .await;
    assert_eq!(
        scaling[0],
        format!("Scaled up replica set {first_rs} from 0 to 4 (revision 1: Deployment wants 4)")
    );
    let cause = "(rolling update to revision 2: maxSurge 1, maxUnavailable 1)";
    assert_eq!(
        scaling[1],
        format!("Scaled up replica set {new_rs} from 0 to 1 {cause}")
    );
    assert!(
        scaling[2..]
            .iter()
            .all(|n| (n.starts_with(&down) || n.starts_with(&up)) && n.ends_with(cause)),
        "{scaling:?}"
    );
}

/// Recreate: the old ReplicaSet goes to 0 and its pods are gone before the
/// new one gets any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_stops_old_pods_before_starting_new_ones() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::from_millis(50)));
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    api.create(
        &PostParams::default(),
        &deployment("re", 3, "minik/web:v1", json!({"type": "Recreate"})),
    )
    .await
    .unwrap();
    wait_for("first rollout", WAIT, || async {
        rolled_out(&api, "re").await.then_some(())
    })
    .await;

    let mixed = Arc::new(Mutex::new(false));
    let watch = {
        let mixed = mixed.clone();
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        tokio::spawn(async move {
            let mut images: HashMap<String, String> = HashMap::new();
            let mut w = watcher(pods, watcher::Config::default().labels("app=re")).boxed();
            while let Some(Ok(ev)) = w.next().await {
                match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        images.insert(p.name_any(), first_image(&p));
                    }
                    watcher::Event::Delete(p) => {
                        images.remove(&p.name_any());
                    }
                    _ => {}
                }
                let v1 = images.values().any(|i| i == "minik/web:v1");
                let v2 = images.values().any(|i| i == "minik/web:v2");
                if v1 && v2 {
                    *mixed.lock().unwrap() = true;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_image(&api, "re", "minik/web:v2").await;
    wait_for("second rollout", WAIT, || async {
        let d = api.get("re").await.unwrap();
        (d.metadata.generation == Some(2) && rolled_out(&api, "re").await).then_some(())
    })
    .await;
    watch.abort();
    assert!(
        !*mixed.lock().unwrap(),
        "old and new pods ran at the same time"
    );
    let rss = replica_sets(&client, "re").await;
    let old = rss.iter().find(|(_, v)| v.0 == "minik/web:v1").unwrap();
    let new = rss.iter().find(|(_, v)| v.0 == "minik/web:v2").unwrap();
    assert_eq!((old.1 .1, new.1 .1), (0, 3));
    let expected = vec![
        format!(
            "Scaled up replica set {} from 0 to 3 (recreate to revision 1)",
            old.0
        ),
        format!(
            "Scaled down replica set {} from 3 to 0 (recreate to revision 2)",
            old.0
        ),
        format!(
            "Scaled up replica set {} from 0 to 3 (recreate to revision 2)",
            new.0
        ),
    ];
    let scaling = wait_for("three scaling events", WAIT, || async {
        let scaling: Vec<String> = events_about(&client, NS, "re")
            .await
            .into_iter()
            .filter(|(r, _)| r == "ScalingReplicaSet")
            .map(|(_, n)| n)
            .collect();
        (scaling.len() >= 3).then_some(scaling)
    })
    .await;
    assert_eq!(scaling, expected);
}

/// Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable
/// 2, a rollout stuck at 8 old + 5 new; scaling to 15 adds 3 to the old and
/// 2 to the new ReplicaSet. The stuck rollout then reports
/// ProgressDeadlineExceeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_proportionally_mid_rollout_and_reports_the_deadline() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(
        &client,
        NS,
        Readiness::except_image(Duration::ZERO, "minik/web:broken"),
    );
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let mut d = deployment("prop", 10, "minik/web:v1", rolling(json!(3), json!(2)));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(3);
    api.create(&PostParams::default(), &d).await.unwrap();
    wait_for("first rollout", WAIT, || async {
        rolled_out(&api, "prop").await.then_some(())
    })
    .await;

    set_image(&api, "prop", "minik/web:broken").await;
    let stuck = |old: i32, new: i32| {
        let client = client.clone();
        move || {
            let client = client.clone();
            async move {
                let rss = replica_sets(&client, "prop").await;
                let sizes: Vec<(String, i32)> =
                    rss.values().map(|(i, n, _)| (i.clone(), *n)).collect();
                (sizes.contains(&("minik/web:v1".into(), old))
                    && sizes.contains(&("minik/web:broken".into(), new)))
                .then_some(())
            }
        }
    };
    wait_for("old 8, new 5", WAIT, stuck(8, 5)).await;
    // It stays there: new pods never become available.
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_for(
        "still old 8, new 5",
        Duration::from_millis(100),
        stuck(8, 5),
    )
    .await;

    api.patch(
        "prop",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 15}})),
    )
    .await
    .unwrap();
    wait_for("old 11, new 7", WAIT, stuck(11, 7)).await;
    let rss = replica_sets(&client, "prop").await;
    for (name, (_, _, _)) in &rss {
        let rs: ReplicaSet = Api::namespaced(client.clone(), NS).get(name).await.unwrap();
        assert_eq!(
            rs.annotations()["deployment.kubernetes.io/desired-replicas"],
            "15"
        );
        assert_eq!(
            rs.annotations()["deployment.kubernetes.io/max-replicas"],
            "18"
        );
    }

    let (status, _, message) = wait_for("ProgressDeadlineExceeded", WAIT, || async {
        let d = api.get("prop").await.unwrap();
        condition(&d, "Progressing").filter(|c| c.1 == "ProgressDeadlineExceeded")
    })
    .await;
    assert_eq!(status, "False");
    let new_rs = rss
        .iter()
        .find(|(_, v)| v.0 == "minik/web:broken")
        .unwrap()
        .0;
    assert_eq!(
        message,
        format!("ReplicaSet \"{new_rs}\" has timed out progressing.")
    );
    let d = api.get("prop").await.unwrap();
    // 11 old pods available of 15 wanted, maxUnavailable 2 (of 15: 2).
    assert_eq!(
        condition(&d, "Available").unwrap().1,
        "MinimumReplicasUnavailable"
    );
}

/// revisionHistoryLimit 1: after three templates only the current
/// ReplicaSet and the one before it remain; revision 1 was deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_revisions_beyond_the_history_limit_are_deleted() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::ZERO));
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let mut d = deployment(
        "hist",
        2,
        "minik/web:v1",
        rolling(json!("25%"), json!("25%")),
    );
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    api.create(&PostParams::default(), &d).await.unwrap();
    for (generation, image) in (1..).zip(["minik/web:v1", "minik/web:v2", "busybox:1.35"]) {
        if generation > 1 {
            set_image(&api, "hist", image).await;
        }
        wait_for(&format!("rollout of {image}"), WAIT, || async {
            let d = api.get("hist").await.unwrap();
            (d.metadata.generation == Some(generation) && rolled_out(&api, "hist").await)
                .then_some(())
        })
        .await;
    }
    let rss = wait_for("two ReplicaSets left", WAIT, || async {
        let rss = replica_sets(&client, "hist").await;
        (rss.len() == 2).then_some(rss)
    })
    .await;
    let mut kept: Vec<(String, i32, String)> = rss.into_values().collect();
    kept.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        kept,
        vec![
            ("minik/web:v2".to_string(), 0, "2".to_string()),
            ("busybox:1.35".to_string(), 2, "3".to_string()),
        ]
    );
}

/// A ReplicaSet that is not the Deployment's already has the name the
/// template hash picks: the controller counts a collision in
/// `status.collisionCount` and uses the next hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_collision_moves_to_the_next_hash() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    // Created before the controllers run, to learn its defaulted template.
    let d = api
        .create(
            &PostParams::default(),
            &deployment("col", 1, "minik/web:v1", rolling(json!(1), json!(0))),
        )
        .await
        .unwrap();
    let template = d.spec.unwrap().template;
    let taken = format!(
        "col-{}",
        minik_controller::template_hash::compute_hash(&template, None)
    );
    let squatter: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": taken, "labels": {"app": "other"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "other"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .unwrap();
    rs_api
        .create(&PostParams::default(), &squatter)
        .await
        .unwrap();

    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::ZERO));
    wait_for("rollout", WAIT, || async {
        rolled_out(&api, "col").await.then_some(())
    })
    .await;
    let d = api.get("col").await.unwrap();
    assert_eq!(d.status.unwrap().collision_count, Some(1));
    let rss = replica_sets(&client, "col").await;
    let expected = format!(
        "col-{}",
        minik_controller::template_hash::compute_hash(&template, Some(1))
    );
    assert_eq!(rss.keys().collect::<Vec<_>>(), vec![&expected]);
    let squatter = rs_api.get(&taken).await.unwrap();
    assert!(squatter.owner_references().is_empty(), "left alone");
}
