//! The dashboard in a real headless browser (chromium through chromedriver,
//! `minik_tests::browser`), against an in-process cluster on simulated
//! nodes with the dashboard started in-process as `cluster up` starts it:
//! - requests without the token are refused (403), with it the page loads
//!   and the token is kept in a cookie;
//! - the cluster map shows the 3 pods of a 3-replica Deployment, and the
//!   5 after the real `kubectl scale --replicas=5`, within 2 s;
//! - a pod's page shows its `why` trace (its owner chain, as `miniktl why`
//!   prints it);
//! - the decision feed shows the ReplicaSet's SuccessfulCreate, naming the
//!   ReplicaSet and the pod it created;
//! - the controls (scale, set image and rollout undo in the rollout view;
//!   drain and uncordon on the map) make their API calls and show the
//!   equivalent kubectl commands.
//!
//! And `miniktl cluster up` starts it, printing its URL with the token.
//!
//! Screenshots are saved under `target/test-screenshots/<run>/` and their
//! paths printed. Without chromium the test fails under CI=true and is
//! skipped (saying so) elsewhere.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use minik_tests::browser::{self, Browser};
use support::scheduler::start_scheduler;
use support::workloads::{wait_for, Tasks};
use support::{present_or_skip, run_id, TestCluster};

const T: Duration = Duration::from_secs(30);

fn manifest(name: &str, replicas: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: minik/web:v1
"#
    )
}

/// The pod boxes of this Deployment on the cluster map (`data-pod` = `ns/name`).
async fn boxes(b: &Browser, name: &str) -> Vec<String> {
    let script = format!(
        "return [...document.querySelectorAll('#map [data-pod^=\"default/{name}-\"]')].map(e => e.dataset.pod)"
    );
    b.eval(&script)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Types `text` into `input` (if given), then clicks `button`. The page
/// redraws a view when what it shows changes, which can replace an element
/// between finding and using it: the whole step is retried then (bounded).
async fn click_control(b: &Browser, input: &str, text: Option<&str>, button: &str) {
    let attempt = || async {
        if let Some(text) = text {
            let el = b.client.find(Locator::Css(input)).await?;
            el.clear().await?;
            el.send_keys(text).await?;
        }
        b.client.find(Locator::Css(button)).await?.click().await
    };
    let deadline = Instant::now() + T;
    loop {
        match attempt().await {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("control {button}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn text_of(b: &Browser, css: &str) -> Option<String> {
    let el = b.client.find(Locator::Css(css)).await.ok()?;
    el.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_the_cluster_in_a_browser() {
    if !present_or_skip(browser::available(), "chromium and chromedriver") {
        return;
    }
    let run = run_id();
    let name = format!("dash-{run}");
    let c = TestCluster::start().await;
    let mut nodes = Vec::new();
    for n in ["node-a", "node-b"] {
        nodes.push(
            minik_kubelet::start(c.sim_node(n), c.client.clone())
                .await
                .unwrap(),
        );
    }
    let _scheduler = start_scheduler(&c.client);
    let ctx = Arc::new(minik_controller::Context::new(
        c.client.clone(),
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
    let token = minik_dashboard::auth::new_token();
    let dashboard = minik_dashboard::start(minik_dashboard::Config {
        client: c.client.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: token.clone(),
    })
    .await
    .unwrap();
    let base = format!("http://{}", dashboard.addr);

    // Without the token: refused, for the page and for the API behind it.
    for path in [
        "/",
        "/api/stream",
        "/api/why/pod/default/x",
        "/?token=wrong",
    ] {
        let answer = minik_tests::request(dashboard.addr, "GET", path, None).await;
        assert_eq!(minik_tests::status_code(&answer), 403, "{path}: {answer}");
    }
    let body = r#"{"action":"delete","namespace":"default","name":"x"}"#;
    let answer = minik_tests::request(dashboard.addr, "POST", "/api/action", Some(body)).await;
    assert_eq!(minik_tests::status_code(&answer), 403, "{answer}");

    let b = Browser::start(&run).await;
    b.client.goto(&format!("{base}/")).await.unwrap();
    let refused = b.client.source().await.unwrap();
    assert!(refused.contains("403 Forbidden"), "{refused}");

    // With it: the map shows the Deployment's 3 pods.
    c.apply(&manifest(&name, 3));
    b.client.goto(&dashboard.url).await.unwrap();
    let three = wait_for("3 pod boxes on the map", T, || async {
        let found = boxes(&b, &name).await;
        (found.len() == 3).then_some(found)
    })
    .await;
    // The token is now a cookie: the bare URL works.
    b.client.goto(&format!("{base}/#/map")).await.unwrap();
    wait_for("the map again from the cookie", T, || async {
        (boxes(&b, &name).await.len() == 3).then_some(())
    })
    .await;
    let shot = b.screenshot("1-map-3-pods").await;
    assert!(shot.exists());

    // The real kubectl scales; the two new boxes appear within 2 s of the
    // scale being stored. (Counted from kubectl's return: its own start
    // and discovery are not the dashboard's latency. Counted from before
    // it, one run under the whole suite's load took 2.45 s.)
    let asked = Instant::now();
    c.kubectl_ok(&["scale", &format!("deployment/{name}"), "--replicas=5"]);
    let started = Instant::now();
    let five = wait_for("5 pod boxes on the map", Duration::from_secs(5), || async {
        let found = boxes(&b, &name).await;
        (found.len() == 5).then_some(found)
    })
    .await;
    let took = started.elapsed();
    b.screenshot("2-map-5-pods").await;
    assert!(
        took < Duration::from_secs(2),
        "5 pods shown {took:?} after the scale was stored (kubectl took {:?})",
        started - asked
    );
    assert!(three.iter().all(|p| five.contains(p)), "{three:?} {five:?}");

    // A pod's page: its why trace, as miniktl why prints it.
    let pod = five[0].trim_start_matches("default/").to_string();
    let rs = pod.rsplit_once('-').unwrap().0.to_string();
    b.client
        .goto(&format!("{base}/#/pod/default/{pod}"))
        .await
        .unwrap();
    let why = wait_for("the pod's why trace", T, || async {
        let text = text_of(&b, "pre#why").await?;
        (text.contains(&format!("Pod {pod} ← ReplicaSet {rs}"))
            && text.contains(&format!("ReplicaSet {rs}"))
            && text.contains(&format!("← Deployment {name}"))
            && text.contains("SuccessfulCreate"))
        .then_some(text)
    })
    .await;
    assert!(why.starts_with(&format!("Pod default/{pod}: ")), "{why}");
    b.screenshot("3-pod-why").await;

    // A Service's trace lists the pods it selects: read from the API server
    // when asked, as the dashboard's pod cache keeps only what cards show.
    c.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {{app: {name}}}\n  ports: [{{port: 80}}]\n"
    ));
    let path = format!("/api/why/service/default/{name}?token={token}");
    let answer = wait_for("the Service's why trace", T, || async {
        let answer = minik_tests::request(dashboard.addr, "GET", &path, None).await;
        (minik_tests::status_code(&answer) == 200).then_some(answer)
    })
    .await;
    for p in &five {
        let p = p.trim_start_matches("default/");
        assert!(
            answer.contains(&format!("\"name\":\"{p}\"")),
            "{p}: {answer}"
        );
    }
    // A name that could not name a pod never reaches an API path.
    let path = format!("/api/why/pod/default/..%2Fsecrets?token={token}");
    let answer = minik_tests::request(dashboard.addr, "GET", &path, None).await;
    assert_eq!(minik_tests::status_code(&answer), 400, "{answer}");

    // The decision feed: the ReplicaSet's SuccessfulCreate, with what it is
    // about (the ReplicaSet) and what it did (created this pod).
    b.client.goto(&format!("{base}/#/feed")).await.unwrap();
    let entry = wait_for("SuccessfulCreate in the feed", T, || async {
        let entries = b
            .client
            .find_all(Locator::Css("#feed li[data-reason=SuccessfulCreate]"))
            .await
            .ok()?;
        for e in entries {
            let text = e.text().await.ok()?;
            if text.contains(&format!("ReplicaSet/{rs}")) && text.contains(&pod) {
                return Some(text);
            }
        }
        None
    })
    .await;
    assert!(entry.contains(&format!("Created pod: {pod}")), "{entry}");
    b.screenshot("4-decision-feed").await;

    // A control: scale to 2 from the rollout view; the API has it and the
    // page shows the kubectl command.
    b.client.goto(&format!("{base}/#/rollouts")).await.unwrap();
    let input = wait_for("the rollout view's scale box", T, || async {
        b.client
            .find(Locator::Css(&format!("input[id='r-default/{name}']")))
            .await
            .ok()
    })
    .await;
    input.send_keys("2").await.unwrap();
    let button = b
        .client
        .find(Locator::Css(&format!(
            "[data-deployment='default/{name}'] button[data-field=replicas]"
        )))
        .await
        .unwrap();
    button.click().await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    wait_for("the Deployment scaled to 2", T, || async {
        let d = deployments.get(&name).await.ok()?;
        (d.spec?.replicas == Some(2)).then_some(())
    })
    .await;
    let command = wait_for("the kubectl command shown", T, || async {
        text_of(&b, "#commands li code").await
    })
    .await;
    assert_eq!(
        command,
        format!("kubectl scale deployment/{name} --replicas=2 -n default")
    );
    b.client.goto(&format!("{base}/#/map")).await.unwrap();
    wait_for("2 pod boxes left", T, || async {
        let live = b
            .eval(&format!(
                "return document.querySelectorAll('#map [data-pod^=\"default/{name}-\"]:not(.deleting)').length"
            ))
            .await;
        (live == 2).then_some(())
    })
    .await;
    b.screenshot("5-scaled-to-2").await;

    // Set image, then rollout undo, from the rollout view.
    b.client.goto(&format!("{base}/#/rollouts")).await.unwrap();
    let image_of = || async {
        let d = deployments.get(&name).await.ok()?;
        d.spec?.template.spec?.containers[0].image.clone()
    };
    click_control(
        &b,
        &format!("input[id='i-default/{name}']"),
        Some("minik/web:v2"),
        &format!("[data-deployment='default/{name}'] button[data-field=image]"),
    )
    .await;
    wait_for("the image set to v2", T, || async {
        (image_of().await? == "minik/web:v2").then_some(())
    })
    .await;
    wait_for("the new ReplicaSet in the rollout view", T, || async {
        let text = text_of(&b, &format!("[data-deployment='default/{name}'] table")).await?;
        text.contains("minik/web:v2").then_some(())
    })
    .await;
    b.screenshot("6-set-image").await;
    click_control(
        &b,
        "",
        None,
        &format!("[data-deployment='default/{name}'] button[data-act*=undo]"),
    )
    .await;
    wait_for("the image back to v1", T, || async {
        (image_of().await? == "minik/web:v1").then_some(())
    })
    .await;
    let commands = wait_for("three kubectl commands shown", T, || async {
        let text = text_of(&b, "#commands").await?;
        (text.matches("kubectl ").count() >= 3).then_some(text)
    })
    .await;
    assert!(
        commands.contains(&format!(
            "kubectl set image deployment/{name} web=minik/web:v2 -n default"
        )),
        "{commands}"
    );
    assert!(
        commands.contains(&format!(
            "kubectl rollout undo deployment/{name} -n default"
        )),
        "{commands}"
    );

    // The rollout back finishes first: a pod it created while the drain
    // ran could be bound to node-b by a scheduler that had not yet seen
    // the cordon, and stay there (kubectl drain has the same window).
    wait_for("the rollout back to v1 complete", T, || async {
        let d = deployments.get(&name).await.ok()?;
        let want = d.spec.as_ref()?.replicas?;
        let s = d.status?;
        (d.metadata.generation == s.observed_generation
            && s.replicas == Some(want)
            && s.updated_replicas == Some(want)
            && s.ready_replicas == Some(want))
        .then_some(())
    })
    .await;

    // Cordon and drain a node from the map: it takes no pods and its pods go.
    b.client.goto(&format!("{base}/#/map")).await.unwrap();
    click_control(&b, "", None, "[data-node='node-b'] button[data-act*=drain]").await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    wait_for("node-b cordoned", T, || async {
        let n = nodes.get("node-b").await.ok()?;
        (n.spec?.unschedulable == Some(true)).then_some(())
    })
    .await;
    let shown = std::sync::Mutex::new(String::new());
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let drained = tokio::time::timeout(T, async {
        loop {
            let on_b = b
                .eval("return document.querySelectorAll(\"[data-node='node-b'] .pod:not(.deleting)\").length + ' ' + document.querySelectorAll('.column.cordoned').length")
                .await;
            if on_b == "0 1" {
                return;
            }
            *shown.lock().unwrap() = on_b.to_string();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if drained.is_err() {
        // What the page showed and where the pods are, to tell a page that
        // lags from a pod the scheduler placed on node-b before it saw the
        // cordon.
        let placed: Vec<String> = pods
            .list(&Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|p| {
                let node = p.spec.and_then(|s| s.node_name).unwrap_or_default();
                let gone = p.metadata.deletion_timestamp.is_some();
                format!(
                    "{} on {node:?} deleting={gone}",
                    p.metadata.name.unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "node-b's pods not evicted or node-b not shown cordoned within {T:?}: the page shows \"{}\" (pods on node-b, cordoned columns); pods: {placed:?}",
            shown.lock().unwrap()
        );
    }
    b.screenshot("7-drained").await;
    click_control(
        &b,
        "",
        None,
        "[data-node='node-b'] button[data-act*=uncordon]",
    )
    .await;
    wait_for("node-b uncordoned", T, || async {
        let n = nodes.get("node-b").await.ok()?;
        (n.spec?.unschedulable != Some(true)).then_some(())
    })
    .await;
    b.close().await;
    dashboard.task.abort();
}

/// `miniktl cluster up` starts minik-dashboard and prints its URL with the
/// cluster's token (kept 0600 in the home, new per cluster); the URL
/// answers, the bare address refuses; `cluster status` names it and
/// `cluster down` stops it and removes the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_up_starts_the_dashboard_and_prints_its_url() {
    use std::os::unix::fs::PermissionsExt;
    use support::cli::{down, ok};

    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("dsh-{}", run_id());
    let _down = down(home_path.clone());
    let out = ok(&[
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
    ]);
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("Dashboard:"))
        .map(|u| u.trim().to_string())
        .unwrap_or_else(|| panic!("no Dashboard line in:\n{out}"));
    let token = std::fs::read_to_string(home_path.join("dashboard-token")).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 32, "{token:?}");
    let mode = std::fs::metadata(home_path.join("dashboard-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, query) = rest.split_once('/').unwrap();
    assert_eq!(query, format!("?token={token}"));
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback(), "{url}");
    let page = minik_tests::request(addr, "GET", &format!("/{query}"), None).await;
    assert_eq!(minik_tests::status_code(&page), 200, "{page}");
    assert!(page.contains("<title>minik dashboard</title>"), "{page}");
    let refused = minik_tests::request(addr, "GET", "/", None).await;
    assert_eq!(minik_tests::status_code(&refused), 403, "{refused}");
    let status = ok(&["cluster", "status", "--home", &home]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("minik-dashboard") && l.contains(&url)),
        "{status}"
    );
    ok(&["cluster", "down", "--home", &home]);
    assert!(!home_path.join("dashboard-token").exists());
    let gone = minik_tests::try_request(addr, "GET", "/", None, Duration::from_secs(2)).await;
    assert!(gone.as_ref().is_none_or(|r| r.is_empty()), "{gone:?}");
}

/// The ownership graph follows a StatefulSet to its pods and each pod to
/// the PersistentVolumeClaim made from the claim template (Pending here:
/// no provisioner runs, so the first pod waits for its claim, as on a
/// cluster without a default StorageClass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ownership_graph_shows_statefulset_pods_and_claims() {
    if !present_or_skip(browser::available(), "chromium and chromedriver") {
        return;
    }
    let run = run_id();
    let c = TestCluster::start().await;
    let ctx = Arc::new(minik_controller::Context::new(
        c.client.clone(),
        minik_controller::Settings::default(),
    ));
    let _controllers = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &[minik_controller::stateful_set::build])
            .await
            .unwrap();
    })]);
    let token = minik_dashboard::auth::new_token();
    let dashboard = minik_dashboard::start(minik_dashboard::Config {
        client: c.client.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token,
    })
    .await
    .unwrap();
    c.apply(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: minik/web:v1
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"#,
    );
    let b = Browser::start(&run).await;
    b.client
        .goto(&format!("{}#/owners", dashboard.url))
        .await
        .unwrap();
    let tree = wait_for("StatefulSet db → db-0 → PVC data-db-0", T, || async {
        let text = text_of(&b, ".tree").await?;
        (text.contains("StatefulSet")
            && text.contains("db-0")
            && text.contains("PVC")
            && text.contains("data-db-0 Pending"))
        .then_some(text)
    })
    .await;
    assert!(tree.contains("db — 0/2 ready"), "{tree}");
    let line = tree
        .lines()
        .find(|l| l.contains("data-db-0"))
        .unwrap_or_default();
    assert!(
        line.contains("db-0"),
        "the pod and its claim on one line: {tree}"
    );
    b.screenshot("statefulset-graph").await;
    b.close().await;
    dashboard.task.abort();
}
