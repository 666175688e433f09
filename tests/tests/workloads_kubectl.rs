//! The real `kubectl rollout` against minik's Deployment controller:
//! status, history (with change-cause), undo and `--to-revision` (kubectl
//! patches the old template back; the controller must re-use the old
//! ReplicaSet and give it the next revision), pause/resume batching two
//! changes into one rollout, restart, and status on a stuck rollout.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use support::workloads::*;
use support::TestCluster;

const NS: &str = "default";
const WAIT: Duration = Duration::from_secs(20);

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: minik/web:v1
"#;

/// ReplicaSets of `web`: name → (revision, image, replicas, env names).
async fn revisions(client: &kube::Client) -> BTreeMap<String, (String, String, i32, Vec<String>)> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    api.list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|rs| {
            let spec = rs.spec.clone().unwrap();
            let c = spec.template.unwrap().spec.unwrap().containers[0].clone();
            let env = c
                .env
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.name)
                .collect();
            let rev = rs
                .annotations()
                .get("deployment.kubernetes.io/revision")
                .cloned()
                .unwrap_or_default();
            (
                rs.name_any(),
                (rev, c.image.unwrap(), spec.replicas.unwrap_or(1), env),
            )
        })
        .collect()
}

fn rs_with_revision(
    rss: &BTreeMap<String, (String, String, i32, Vec<String>)>,
    rev: &str,
) -> String {
    rss.iter()
        .find(|(_, v)| v.0 == rev)
        .unwrap_or_else(|| panic!("no ReplicaSet with revision {rev}: {rss:?}"))
        .0
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_history_undo_pause_resume_restart() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(&client, NS, Readiness::all(Duration::from_millis(50)));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);

    cluster.kubectl_ok(&["apply", "-f", &cluster.file("web.yaml", WEB)]);
    let out = cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );

    // Revision 2, with a change cause.
    cluster.kubectl_ok(&["set", "image", "deployment/web", "web=minik/web:v2"]);
    cluster.kubectl_ok(&[
        "annotate",
        "deployment/web",
        "kubernetes.io/change-cause=web v2",
    ]);
    let out = cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let history = wait_for("history with the change cause", WAIT, || async {
        let h = cluster.kubectl_ok(&["rollout", "history", "deployment/web"]);
        h.contains("web v2").then_some(h)
    })
    .await;
    let lines: Vec<Vec<&str>> = history
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["1", "<none>"], "{history}");
    assert_eq!(lines[1], ["2", "web", "v2"], "{history}");
    let rss = revisions(&client).await;
    assert_eq!(rss.len(), 2);
    let (v1_rs, v2_rs) = (rs_with_revision(&rss, "1"), rs_with_revision(&rss, "2"));

    // `undo`: kubectl puts revision 1's template back; the controller scales
    // that same ReplicaSet up again, now as revision 3.
    let out = cluster.kubectl_ok(&["rollout", "undo", "deployment/web"]);
    assert!(out.contains("rolled back"), "{out}");
    cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let rss = wait_for("revision 3", WAIT, || async {
        let rss = revisions(&client).await;
        (rss.get(&v1_rs).map(|v| v.0.as_str()) == Some("3")).then_some(rss)
    })
    .await;
    assert_eq!(rss.len(), 2, "undo re-uses the old ReplicaSet: {rss:?}");
    assert_eq!(rss[&v1_rs], ("3".into(), "minik/web:v1".into(), 2, vec![]));
    assert_eq!(rss[&v2_rs].2, 0);
    let v1: ReplicaSet = Api::namespaced(client.clone(), NS)
        .get(&v1_rs)
        .await
        .unwrap();
    assert_eq!(
        v1.annotations()["deployment.kubernetes.io/revision-history"],
        "1"
    );
    let d = deployments.get("web").await.unwrap();
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "3");

    // `undo --to-revision=2`: back to v2's ReplicaSet, revision 4.
    cluster.kubectl_ok(&["rollout", "undo", "deployment/web", "--to-revision=2"]);
    cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let rss = wait_for("revision 4", WAIT, || async {
        let rss = revisions(&client).await;
        (rss.get(&v2_rs).map(|v| v.0.as_str()) == Some("4")).then_some(rss)
    })
    .await;
    assert_eq!(rss.len(), 2);
    assert_eq!((rss[&v2_rs].1.as_str(), rss[&v2_rs].2), ("minik/web:v2", 2));
    let detail = cluster.kubectl_ok(&["rollout", "history", "deployment/web", "--revision=4"]);
    assert!(detail.contains("minik/web:v2"), "{detail}");
    let out = cluster.kubectl(&["rollout", "undo", "deployment/web", "--to-revision=9"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unable to find specified revision 9"));

    // Paused: two changes, no rollout; resumed: one new ReplicaSet with both.
    cluster.kubectl_ok(&["rollout", "pause", "deployment/web"]);
    cluster.kubectl_ok(&["set", "image", "deployment/web", "web=busybox:1.35"]);
    cluster.kubectl_ok(&["set", "env", "deployment/web", "GREETING=hello"]);
    let paused = wait_for("Progressing: DeploymentPaused", WAIT, || async {
        let d = deployments.get("web").await.unwrap();
        let s = d.status.clone()?;
        let c = s
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Progressing")?;
        (c.reason.as_deref() == Some("DeploymentPaused")
            && s.observed_generation == d.metadata.generation)
            .then_some(c)
    })
    .await;
    assert_eq!(
        (paused.status.as_str(), paused.message.as_deref()),
        ("Unknown", Some("Deployment is paused"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(revisions(&client).await.len(), 2, "no rollout while paused");
    cluster.kubectl_ok(&["rollout", "resume", "deployment/web"]);
    cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let rss = revisions(&client).await;
    assert_eq!(rss.len(), 3, "{rss:?}");
    let v5 = &rss[&rs_with_revision(&rss, "5")];
    assert_eq!(
        (v5.1.as_str(), v5.2, v5.3.clone()),
        ("busybox:1.35", 2, vec!["GREETING".to_string()])
    );

    // `restart`: same containers, a restartedAt annotation, a new ReplicaSet.
    cluster.kubectl_ok(&["rollout", "restart", "deployment/web"]);
    cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let rss = revisions(&client).await;
    let v6_name = rs_with_revision(&rss, "6");
    let v6: ReplicaSet = Api::namespaced(client.clone(), NS)
        .get(&v6_name)
        .await
        .unwrap();
    let template = v6.spec.unwrap().template.unwrap();
    assert!(template
        .metadata
        .unwrap()
        .annotations
        .unwrap()
        .contains_key("kubectl.kubernetes.io/restartedAt"));
    assert_eq!(
        template.spec.unwrap().containers[0].image.as_deref(),
        Some("busybox:1.35")
    );
    let out = cluster.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    ]);
    assert_eq!(out, "6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_fails_on_a_stuck_rollout() {
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let _controllers = start_controllers(&client);
    let _kubelet = fake_kubelet(
        &client,
        NS,
        Readiness::except_image(Duration::ZERO, "minik/web:broken"),
    );
    let manifest = WEB.replace(
        "  replicas: 2\n",
        "  replicas: 2\n  progressDeadlineSeconds: 2\n",
    );
    cluster.kubectl_ok(&["apply", "-f", &cluster.file("web.yaml", &manifest)]);
    cluster.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    cluster.kubectl_ok(&["set", "image", "deployment/web", "web=minik/web:broken"]);
    let out = cluster.kubectl(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("deployment \"web\" exceeded its progress deadline"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Waiting for deployment \"web\" rollout to finish: 1 out of 2 new replicas have been updated..."), "{stdout}");
}
