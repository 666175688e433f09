//! The real `kubectl` (v1.32) against minik-apiserver: discovery, OpenAPI
//! validation, server-side tables, apply's three-way patches, scale, watch.

use crate::support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use support::TestCluster;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: minik/web:v1
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
"#;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  containers:
  - name: hello
    image: busybox
    command: ["sh", "-c", "echo hi; sleep 3600"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_apply_get_scale_delete() {
    let c = TestCluster::start().await;
    let file = c.file("web.yaml", DEPLOYMENT);

    let out = c.kubectl_ok(&["create", "-f", &file]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("service/web created"), "{out}");

    // apply over objects created without last-applied, then a real change.
    let out = c.kubectl_ok(&["apply", "-f", &file]);
    assert!(
        out.contains("deployment.apps/web configured")
            || out.contains("deployment.apps/web unchanged"),
        "{out}"
    );
    let changed = c.file(
        "web2.yaml",
        &DEPLOYMENT
            .replace("minik/web:v1", "minik/web:v2")
            .replace("replicas: 2", "replicas: 3"),
    );
    let out = c.kubectl_ok(&["apply", "-f", &changed]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("service/web unchanged"), "{out}");
    let out = c.kubectl_ok(&["apply", "-f", &changed]);
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let d = Api::<Deployment>::namespaced(c.client.clone(), "default")
        .get("web")
        .await
        .unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(
        spec.template.spec.unwrap().containers[0].image.as_deref(),
        Some("minik/web:v2")
    );
    assert!(d
        .metadata
        .annotations
        .unwrap()
        .contains_key("kubectl.kubernetes.io/last-applied-configuration"));

    // Server-side tables.
    let out = c.kubectl_ok(&["get", "deployments"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    assert!(out.lines().nth(1).unwrap().starts_with("web "), "{out}");
    let out = c.kubectl_ok(&["get", "svc", "web"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{out}"
    );

    let yaml = c.kubectl_ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );

    let all = c.kubectl_ok(&["get", "all"]);
    assert!(
        all.contains("deployment.apps/web") && all.contains("service/web"),
        "{all}"
    );

    let out = c.kubectl_ok(&["scale", "deployment", "web", "--replicas=5"]);
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let d = Api::<Deployment>::namespaced(c.client.clone(), "default")
        .get("web")
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(5));

    let out = c.kubectl_ok(&["delete", "-f", &changed]);
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    assert!(out.contains("service \"web\" deleted"), "{out}");
    let out = c.kubectl(&["get", "deploy", "web"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (NotFound): deployments.apps \"web\" not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_table_and_watch() {
    let c = TestCluster::start().await;
    let file = c.file("pod.yaml", POD);
    c.kubectl_ok(&["apply", "-f", &file]);

    let out = c.kubectl_ok(&["get", "pods"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["hello", "0/1", "Pending", "0"], "{out}");

    let wide = c.kubectl_ok(&["get", "pods", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        &header[..7],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
        "{wide}"
    );

    // `kubectl get pods -w` prints the current pods, then each change.
    let mut child = c.kubectl_spawn(&["get", "pods", "-w"]);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return seen;
                }
            }
        }
        panic!("kubectl get -w never printed {needle:?}; saw {seen:?}");
    };
    tokio::task::block_in_place(|| wait_for("hello"));
    let second = c.file("pod2.yaml", &POD.replace("name: hello", "name: second"));
    c.kubectl_ok(&["create", "-f", &second]);
    let seen = tokio::task::block_in_place(|| wait_for("second"));
    assert!(seen.last().unwrap().contains("Pending"), "{seen:?}");
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_and_version() {
    let c = TestCluster::start().await;
    let out = c.kubectl_ok(&["api-resources"]);
    let row = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("deployments"),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    assert_eq!(row("pods"), ["pods", "po", "v1", "true", "Pod"]);
    assert_eq!(row("nodes"), ["nodes", "no", "v1", "false", "Node"]);
    assert_eq!(
        row("leases"),
        ["leases", "coordination.k8s.io/v1", "true", "Lease"]
    );
    assert_eq!(
        row("horizontalpodautoscalers"),
        [
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "true",
            "HorizontalPodAutoscaler"
        ]
    );

    let v = c.kubectl_ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_shows_validation_errors() {
    let c = TestCluster::start().await;
    let bad = c.file(
        "bad.yaml",
        &POD.replacen("name: hello", "name: Hello_World", 1),
    );
    let out = c.kubectl(&["apply", "-f", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Pod \"Hello_World\" is invalid: metadata.name: Invalid value: \"Hello_World\""
        ),
        "{err}"
    );
    assert!(err.contains("RFC 1123 subdomain"), "{err}");

    let missing_ns = c.kubectl(&["apply", "-n", "nowhere", "-f", &c.file("p.yaml", POD)]);
    assert!(!missing_ns.status.success());
    let err = String::from_utf8_lossy(&missing_ns.stderr);
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");

    // Many tutorials' first Deployment: no selector and no pod labels.
    // Kubernetes 1.33 names both mistakes.
    let no_selector = DEPLOYMENT
        .split("---")
        .next()
        .unwrap()
        .replace("  selector:\n    matchLabels:\n      app: web\n", "")
        .replace("    metadata:\n      labels:\n        app: web\n", "");
    let out = c.kubectl(&["apply", "-f", &c.file("d.yaml", &no_selector)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("The Deployment \"web\" is invalid: \n* spec.selector: Required value\n* spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_last_label_or_annotation_leaves_no_empty_map() {
    let c = TestCluster::start().await;
    c.kubectl_ok(&["create", "configmap", "settings", "--from-literal=a=1"]);
    c.kubectl_ok(&["label", "configmap", "settings", "tier=fe"]);
    c.kubectl_ok(&["annotate", "configmap", "settings", "note=hi"]);
    let json = c.kubectl_ok(&["get", "configmap", "settings", "-o", "json"]);
    assert!(
        json.contains("\"tier\": \"fe\"") && json.contains("\"note\": \"hi\""),
        "{json}"
    );
    c.kubectl_ok(&["label", "configmap", "settings", "tier-"]);
    c.kubectl_ok(&["annotate", "configmap", "settings", "note-"]);
    let json = c.kubectl_ok(&["get", "configmap", "settings", "-o", "json"]);
    let obj: serde_json::Value = serde_json::from_str(&json).unwrap();
    let meta = obj["metadata"].as_object().unwrap();
    assert!(
        !meta.contains_key("labels") && !meta.contains_key("annotations"),
        "{json}"
    );
    // A whole object sent with empty maps is stored without them too.
    let sent = json.replace(
        "\"metadata\": {",
        "\"metadata\": {\"labels\": {}, \"finalizers\": [],",
    );
    c.kubectl_ok(&["replace", "-f", &c.file("cm.json", &sent)]);
    let json = c.kubectl_ok(&["get", "configmap", "settings", "-o", "json"]);
    assert!(
        !json.contains("\"labels\"") && !json.contains("\"finalizers\""),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_deletes_nothing() {
    let c = TestCluster::start().await;
    c.apply(DEPLOYMENT);
    c.kubectl_ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    // kubectl sends `dryRun` in the DeleteOptions body, not in the query.
    for args in [
        &["delete", "configmap", "kept", "--dry-run=server"][..],
        &["delete", "deployment", "web", "--dry-run=server"],
        &["delete", "configmaps", "--all", "--dry-run=server"],
    ] {
        let out = c.kubectl_ok(args);
        assert!(out.contains("(server dry run)"), "{args:?}: {out}");
    }
    c.kubectl_ok(&["get", "configmap", "kept"]);
    c.kubectl_ok(&["get", "deployment", "web"]);
}
