//! Step mode on simulated nodes: with the controllers paused, a new
//! Deployment waits; each granted step runs exactly one reconcile (`taken`
//! grows by one, and only that reconcile's effects appear: the Deployment
//! controller's step makes the ReplicaSet and no pods, the ReplicaSet
//! controller's step makes the pods); the waiting list names the next
//! reconcile with its plan; resuming brings the Deployment to 3 ready
//! replicas at normal speed. Then the same through `miniktl controllers
//! pause|resume` and `miniktl step`, the cause in the Event notes, the
//! dashboard's step-mode bar in a real browser, and `miniktl cluster up
//! --step` with the real binaries.

use crate::support;
use crate::support::miniktl as mk;

use std::sync::Arc;
use std::time::Duration;

use fantoccini::Locator;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use minik_client::step_mode::{self, StepState};
use minik_tests::browser::{self, Browser};
use support::scheduler::start_scheduler;
use support::workloads::{wait_for, Tasks};
use support::TestCluster;

const T: Duration = Duration::from_secs(30);

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: minik/web:v1
"#;

async fn state(client: &kube::Client) -> StepState {
    step_mode::read(client)
        .await
        .unwrap()
        .expect("the step-mode ConfigMap")
        .0
}

async fn count<K>(api: &Api<K>) -> usize
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default()).await.unwrap().items.len()
}

/// The notes of the namespace's Events with `reason`.
async fn notes(client: &kube::Client, reason: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.note)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_step_runs_one_reconcile() {
    let c = TestCluster::start().await;
    let client = c.client.clone();
    // Paused before the controllers start: nothing they do passes unstepped.
    step_mode::set_mode(&client, true).await.unwrap();
    let _node = minik_kubelet::start(c.sim_node("node-a"), client.clone())
        .await
        .unwrap();
    let _scheduler = start_scheduler(&client);
    let ctx = Arc::new(minik_controller::Context::new(
        client.clone(),
        minik_controller::Settings::default(),
    ));
    let _controllers = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(
            ctx,
            &[
                minik_controller::deployment::build,
                minik_controller::replicaset::build,
            ],
        )
        .await
        .unwrap();
    })]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");

    c.apply(WEB);
    let first = wait_for("the Deployment's reconcile to wait", T, || async {
        let s = state(&client).await;
        s.waiting
            .iter()
            .find(|w| w.object == "default/web" && w.kind == "Deployment")
            .cloned()
    })
    .await;
    assert_eq!(first.controller, "deployment controller");
    assert!(
        first.plan.starts_with(
            "Deployment default/web wants 3 replicas, has 0: will create ReplicaSet web-"
        ) && first.plan.ends_with("(revision 1) with 3 of 3 replicas"),
        "{first:?}"
    );
    assert_eq!(first.why.as_deref(), Some("new Deployment (generation 1)"));
    // Nothing happens until a step: the Deployment waits, no ReplicaSet appears.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&replica_sets).await, 0);
    let before = state(&client).await;
    assert_eq!((before.granted, before.taken), (0, 0));

    // Step until the ReplicaSet controller has made the pods; each step is
    // exactly one reconcile, the oldest waiting, with only its own effects.
    let mut saw_rs_plan = false;
    let mut pods_made_at = None;
    for _ in 0..10 {
        let s = wait_for("a reconcile to wait", T, || async {
            let s = state(&client).await;
            (!s.waiting.is_empty() && s.pending() == 0).then_some(s)
        })
        .await;
        let next = s.waiting[0].clone();
        let (rs_before, pods_before) = (count(&replica_sets).await, count(&pods).await);
        let target = step_mode::grant(&client, 1).await.unwrap().unwrap();
        assert_eq!(target, s.taken + 1);
        let after = step_mode::wait_taken(&client, target, T)
            .await
            .unwrap()
            .expect("the step to be taken");
        assert_eq!(after.taken, s.taken + 1, "one step, one reconcile");
        let last = after.last.expect("the last step");
        assert_eq!(last.step, target);
        assert_eq!(
            (&last.controller, &last.object),
            (&next.controller, &next.object),
            "the oldest waiting reconcile ran"
        );
        assert!(last.outcome.starts_with("ok"), "{last:?}");
        let (rs_now, pods_now) = (count(&replica_sets).await, count(&pods).await);
        match last.controller.as_str() {
            "deployment controller" => {
                assert_eq!(pods_now, pods_before, "a Deployment step makes no pods");
                if next.plan.contains("will create ReplicaSet") {
                    assert_eq!((rs_before, rs_now), (0, 1));
                    let rs = &replica_sets
                        .list(&ListParams::default())
                        .await
                        .unwrap()
                        .items[0];
                    assert_eq!(rs.spec.as_ref().unwrap().replicas, Some(3));
                }
            }
            "replicaset controller" => {
                assert_eq!(rs_now, rs_before, "a ReplicaSet step makes no ReplicaSet");
                if next
                    .plan
                    .ends_with("wants 3 replicas, has 0: will create 3 pods")
                {
                    saw_rs_plan = true;
                    assert_eq!((pods_before, pods_now), (0, 3), "{next:?}");
                    pods_made_at = Some(target);
                    break;
                }
                assert_eq!(pods_now, pods_before, "{next:?}");
            }
            other => panic!("only two controllers run here, not {other}"),
        }
    }
    assert!(
        saw_rs_plan,
        "the ReplicaSet's plan named the pods it would create"
    );
    assert!(pods_made_at.is_some());

    // The cause is in the notes, after Kubernetes' own words.
    let created = wait_for("three SuccessfulCreate Events", T, || async {
        let created = notes(&client, "SuccessfulCreate").await;
        (created.len() == 3).then_some(created)
    })
    .await;
    for has in 0..3 {
        assert!(
            created.iter().any(|n| n.starts_with("Created pod: web-")
                && n.ends_with(&format!(" wants 3 replicas, has {has})"))),
            "{created:?}"
        );
    }
    let scaled = wait_for("a ScalingReplicaSet Event", T, || async {
        let scaled = notes(&client, "ScalingReplicaSet").await;
        (!scaled.is_empty()).then_some(scaled)
    })
    .await;
    assert!(
        scaled
            .iter()
            .any(|n| n.starts_with("Scaled up replica set web-")
                && n.ends_with(" from 0 to 3 (revision 1: Deployment wants 3)")),
        "{scaled:?}"
    );

    // Resume: normal speed, every held reconcile runs, 3 ready replicas.
    step_mode::set_mode(&client, false).await.unwrap();
    wait_for("3 ready replicas after resume", T, || async {
        let d = deployments.get("web").await.ok()?;
        (d.status?.ready_replicas == Some(3)).then_some(())
    })
    .await;
    wait_for("the waiting list to empty", T, || async {
        let s = state(&client).await;
        (s.waiting_count == 0 && !s.stepping).then_some(())
    })
    .await;
    // Idle, the controller-manager does not rewrite the ConfigMap (its own
    // writes come back through its watch and must not call for more).
    let rv = step_mode::read(&client).await.unwrap().unwrap().1;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(step_mode::read(&client).await.unwrap().unwrap().1, rv);

    // The same through miniktl: pause, see the plan of a scale, step it, resume.
    let kc = &c.kubeconfig;
    let refused = mk::miniktl(kc, &["step"]).await;
    assert_ne!(refused.code, 0);
    assert!(refused.err.contains("not paused"), "{refused:?}");
    let paused = mk::miniktl(kc, &["controllers", "pause"]).await.ok();
    assert!(paused.starts_with("controllers paused"), "{paused}");
    c.kubectl_ok(&["scale", "deploy/web", "--replicas=4"]);
    let listed = wait_for("miniktl step --list to show the scale", T, || async {
        let out = mk::miniktl(kc, &["step", "--list"]).await.ok();
        out.contains("deployment controller  Deployment default/web")
            .then_some(out)
    })
    .await;
    assert!(
        listed.contains(
            "plan: Deployment default/web wants 4 replicas, has 3: will scale ReplicaSet web-"
        ) && listed.contains(" from 3 to 4\n"),
        "{listed}"
    );
    assert_eq!(count(&pods).await, 3, "the scale waits for a step");
    // The dashboard shows the same queue (its `step` object) from its watch.
    let model = minik_dashboard::Model::start(client.clone());
    let shown = wait_for("the dashboard's step-mode object", T, || async {
        model
            .snapshot()
            .into_iter()
            .find(|o| o["k"] == "step" && o["stepping"] == true)
            .filter(|o| {
                o["waiting"].as_array().is_some_and(|w| {
                    w.iter().any(|w| {
                        w["object"] == "default/web"
                            && w["plan"]
                                .as_str()
                                .is_some_and(|p| p.contains(" from 3 to 4"))
                    })
                })
            })
    })
    .await;
    assert_eq!(shown["id"], "kube-system/minik-step-mode");
    let mut stepped = String::new();
    for _ in 0..10 {
        let out = mk::miniktl(kc, &["step"]).await.ok();
        stepped.push_str(&out);
        if out.contains("deployment controller reconciled Deployment default/web: ok") {
            break;
        }
    }
    assert!(
        stepped.contains("deployment controller reconciled Deployment default/web: ok"),
        "{stepped}"
    );
    wait_for("the ReplicaSet scaled to 4", T, || async {
        let rs = &replica_sets.list(&ListParams::default()).await.ok()?.items[0];
        (rs.spec.as_ref()?.replicas == Some(4)).then_some(())
    })
    .await;
    // The dashboard's Step control: one grant, answered with its command.
    let token = minik_dashboard::auth::new_token();
    let dashboard = minik_dashboard::start(minik_dashboard::Config {
        client: client.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: token.clone(),
    })
    .await
    .unwrap();
    let granted = state(&client).await.granted;
    let answer = minik_tests::request(
        dashboard.addr,
        "POST",
        &format!("/api/action?token={token}"),
        Some(r#"{"action":"step"}"#),
    )
    .await;
    assert_eq!(minik_tests::status_code(&answer), 200, "{answer}");
    assert!(
        answer.contains(r#""kubectl":"miniktl controllers step""#)
            && answer.contains(&format!("step {} granted", granted + 1)),
        "{answer}"
    );
    assert_eq!(state(&client).await.granted, granted + 1);
    dashboard.task.abort();
    let resumed = mk::miniktl(kc, &["controllers", "resume"]).await.ok();
    assert!(resumed.starts_with("controllers resumed"), "{resumed}");
    wait_for("4 ready replicas after resume", T, || async {
        let d = deployments.get("web").await.ok()?;
        (d.status?.ready_replicas == Some(4)).then_some(())
    })
    .await;
    wait_for("the scale's ScalingReplicaSet Event", T, || async {
        let scaled = notes(&client, "ScalingReplicaSet").await;
        scaled
            .iter()
            .any(|n| n.ends_with(" from 3 to 4 (Deployment scaled to 4)"))
            .then_some(())
    })
    .await;
}

/// `taken` in `miniktl step --list`'s first line ("steps granted G, taken T").
fn state_of(list: &str) -> u64 {
    list.lines()
        .next()
        .and_then(|l| l.split("taken ").nth(1))
        .and_then(|t| t.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no taken count in {list}"))
}

/// The real binaries: `miniktl cluster up --step` starts paused, `miniktl
/// step` runs one reconcile at a time through the controller-manager
/// process, `miniktl controllers resume` lets the Deployment finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_up_step_starts_paused() {
    use support::cli::{down, ok};

    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("stp-{}", support::run_id());
    let _down = down(home_path.clone());
    let up = ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "1",
        "--isolated",
        "--api-port",
        "0",
        "--name",
        &name,
        "--home",
        &home,
        "--step",
    ]);
    assert!(
        up.contains(" ✓ step mode: each reconcile waits for `miniktl step`"),
        "{up}"
    );
    let kc = home_path.join("kubeconfig").display().to_string();
    let mk = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kc.as_str()];
        all.extend_from_slice(args);
        ok(&all)
    };
    let pods = || {
        mk(&["get", "pods", "-l", "app=web", "-o", "name"])
            .lines()
            .count()
    };
    mk(&[
        "create",
        "deployment",
        "web",
        "--image=minik/web:v1",
        "--replicas=2",
    ]);
    wait_for("the Deployment to wait", T, || async {
        mk(&["step", "--list"])
            .contains("deployment controller  Deployment default/web")
            .then_some(())
    })
    .await;
    // Step (bounded) until the Deployment's own reconcile has run: it made
    // the ReplicaSet; no pod exists until the ReplicaSet's reconcile runs.
    let mut out = String::new();
    for _ in 0..20 {
        out = mk(&["step"]);
        if out.contains("deployment controller reconciled Deployment default/web: ok") {
            break;
        }
    }
    assert!(
        out.contains("deployment controller reconciled Deployment default/web: ok"),
        "{out}"
    );
    assert!(
        out.contains(
            "plan was: Deployment default/web wants 2 replicas, has 0: will create ReplicaSet web-"
        ),
        "{out}"
    );
    assert_eq!(mk(&["get", "rs", "-o", "name"]).lines().count(), 1);
    assert_eq!(pods(), 0, "no pods before the ReplicaSet's step");
    // The ReplicaSet's reconcile waits, with what it would do.
    wait_for("the ReplicaSet's plan in the waiting list", T, || async {
        mk(&["step", "--list"])
            .contains("wants 2 replicas, has 0: will create 2 pods")
            .then_some(())
    })
    .await;

    // The dashboard's step-mode bar: the queue with its plans, and a Step
    // button answered with its miniktl command (a real browser).
    if support::present_or_skip(browser::available(), "chromium and chromedriver") {
        let url = up
            .lines()
            .find_map(|l| l.strip_prefix("Dashboard:"))
            .map(|u| u.trim().to_string())
            .expect("a Dashboard line");
        let b = Browser::start(&format!("step-{}", support::run_id())).await;
        b.client.goto(&url).await.unwrap();
        let bar = || async {
            let el = b.client.find(Locator::Css("#stepbar")).await.ok()?;
            el.text().await.ok()
        };
        // The bar shows the first five waiting, next first, each with its
        // plan: the same as `miniktl step --list` reads from the same
        // ConfigMap. (Whatever was queued after the Deployment's reconcile
        // and before the ReplicaSet's — a node's heartbeat, a controller's
        // own write — is ahead of the ReplicaSet, which may then be beyond
        // the first five.)
        let shown = wait_for("the step bar to show the waiting plans", T, || async {
            let list = mk(&["step", "--list"]);
            let plans: Vec<&str> = list
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("plan: "))
                .take(5)
                .collect();
            bar()
                .await
                .filter(|t| !plans.is_empty() && plans.iter().all(|p| t.contains(p)))
        })
        .await;
        assert!(shown.contains("Step mode"), "{shown}");
        b.screenshot("step-mode-bar").await;
        let taken = state_of(&mk(&["step", "--list"]));
        b.client
            .find(Locator::Css("#stepbar button[data-act*='\"step\"']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for("the Step button's command and step", T, || async {
            let console = b.client.find(Locator::Css("#commands")).await.ok()?;
            let console = console.text().await.ok()?;
            let shown = bar().await?;
            (console.contains("miniktl controllers step")
                && shown.contains(&format!("Step {}:", taken + 1)))
            .then_some(())
        })
        .await;
        b.screenshot("step-mode-stepped").await;
        b.close().await;
    }
    let resumed = mk(&["controllers", "resume"]);
    assert!(resumed.starts_with("controllers resumed"), "{resumed}");
    wait_for("2 ready replicas after resume", T, || async {
        let ready = mk(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]);
        (ready.trim() == "2").then_some(())
    })
    .await;
    assert_eq!(pods(), 2);
}
