//! What each miniktl command does to the cluster (an in-process API server,
//! no other components): generators create the objects kubectl would,
//! delete waits for graceful deletion, `get -w` streams rows, `wait` sees
//! conditions arrive, `edit` round-trips through $EDITOR, `rollout undo`
//! restores an old ReplicaSet's template, `port-forward` carries bytes, and
//! the smaller commands (explain, config, cluster-info, events order) work.

use crate::support;
use crate::support::miniktl as mk;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use minik_ctl::io::{Input, Io, Out};
use serde_json::{json, Value};
use support::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts miniktl in the background; returns its task and live stdout.
fn spawn_miniktl(
    tc: &TestCluster,
    args: &[&str],
) -> (tokio::task::JoinHandle<i32>, Arc<Mutex<Vec<u8>>>) {
    let (out, buf) = Out::buffer();
    let (err, _) = Out::buffer();
    let io = Io {
        out,
        err,
        stdin: Input::Bytes(Arc::new(Vec::new())),
    };
    let mut argv: Vec<String> = vec![
        "miniktl".into(),
        "--kubeconfig".into(),
        tc.kubeconfig.display().to_string(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    (
        tokio::spawn(async move { minik_ctl::execute(argv, io).await }),
        buf,
    )
}

/// Waits (bounded) until `buf` contains `needle`.
async fn until_output(buf: &Arc<Mutex<Vec<u8>>>, needle: &str) -> String {
    for _ in 0..200 {
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "never printed {needle:?}; got:\n{}",
        String::from_utf8_lossy(&buf.lock().unwrap())
    );
}

async fn json_of(tc: &TestCluster, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&mk::miniktl(&tc.kubeconfig, &a).await.ok()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generators_create_what_they_print() {
    let tc = TestCluster::start().await;
    let k = &tc.kubeconfig;
    assert_eq!(
        mk::miniktl(k, &["create", "namespace", "dev"]).await.ok(),
        "namespace/dev created\n"
    );
    let envf = tc.file("e.env", "A=1\nB=two\n");
    assert_eq!(
        mk::miniktl(
            k,
            &[
                "create",
                "configmap",
                "cfg",
                "-n",
                "dev",
                "--from-env-file",
                &envf
            ]
        )
        .await
        .ok(),
        "configmap/cfg created\n"
    );
    assert_eq!(
        json_of(&tc, &["get", "cm", "cfg", "-n", "dev"]).await["data"],
        json!({"A": "1", "B": "two"})
    );
    assert_eq!(
        mk::miniktl(
            k,
            &[
                "create",
                "secret",
                "generic",
                "db",
                "--from-literal=password=pw",
                "-n",
                "dev"
            ]
        )
        .await
        .ok(),
        "secret/db created\n"
    );
    assert_eq!(
        json_of(&tc, &["get", "secret", "db", "-n", "dev"]).await["data"]["password"],
        "cHc="
    );
    assert_eq!(
        mk::miniktl(
            k,
            &[
                "-n",
                "dev",
                "create",
                "deployment",
                "web",
                "--image=minik/web:v1",
                "--replicas=2",
                "--port=80"
            ]
        )
        .await
        .ok(),
        "deployment.apps/web created\n"
    );
    let d = json_of(&tc, &["get", "deploy", "web", "-n", "dev"]).await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert_eq!(
        mk::miniktl(
            k,
            &["expose", "deploy", "web", "-n", "dev", "--type=NodePort"]
        )
        .await
        .ok(),
        "service/web exposed\n"
    );
    let s = json_of(&tc, &["get", "svc", "web", "-n", "dev"]).await;
    assert_eq!(s["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(s["spec"]["type"], "NodePort");
    assert!(s["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .is_some_and(|p| (30000..=32767).contains(&p)));
    assert_eq!(
        mk::miniktl(
            k,
            &[
                "autoscale",
                "deploy/web",
                "-n",
                "dev",
                "--min=2",
                "--max=6",
                "--cpu-percent=70"
            ]
        )
        .await
        .ok(),
        "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    );
    let h = json_of(&tc, &["get", "hpa", "web", "-n", "dev"]).await;
    assert_eq!(
        h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(
        mk::miniktl(k, &["scale", "deploy/web", "-n", "dev", "--replicas=5"])
            .await
            .ok(),
        "deployment.apps/web scaled\n"
    );
    assert_eq!(
        json_of(&tc, &["get", "deploy", "web", "-n", "dev"]).await["spec"]["replicas"],
        5
    );
    assert_eq!(
        mk::miniktl(
            k,
            &[
                "run",
                "once",
                "-n",
                "dev",
                "--image=busybox",
                "--restart=Never",
                "--",
                "echo",
                "hi"
            ]
        )
        .await
        .ok(),
        "pod/once created\n"
    );
    let p = json_of(&tc, &["get", "pod", "once", "-n", "dev"]).await;
    assert_eq!(p["spec"]["containers"][0]["args"], json!(["echo", "hi"]));
    assert_eq!(p["metadata"]["labels"], json!({"run": "once"}));
    // set env with a removal, set image: the template changes.
    mk::miniktl(k, &["set", "env", "deploy/web", "-n", "dev", "A=1", "B=2"])
        .await
        .ok();
    mk::miniktl(k, &["set", "env", "deploy/web", "-n", "dev", "A-"])
        .await
        .ok();
    mk::miniktl(
        k,
        &[
            "set",
            "image",
            "deploy/web",
            "-n",
            "dev",
            "web=minik/web:v2",
        ],
    )
    .await
    .ok();
    let c = &json_of(&tc, &["get", "deploy", "web", "-n", "dev"]).await["spec"]["template"]["spec"]
        ["containers"][0];
    assert_eq!(c["env"], json!([{"name": "B", "value": "2"}]));
    assert_eq!(c["image"], "minik/web:v2");
    // get -f names the objects of a manifest.
    let f = tc.file(
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: dev}\n",
    );
    let out = mk::miniktl(k, &["get", "-f", &f, "-o", "name"]).await.ok();
    assert_eq!(out, "deployment.apps/web\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_waits_for_graceful_deletion() {
    let tc = TestCluster::start().await;
    let f = tc.file("held.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n");
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await.ok();
    let (task, out) = spawn_miniktl(&tc, &["delete", "cm", "held"]);
    until_output(&out, "configmap \"held\" deleted").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !task.is_finished(),
        "delete returned while a finalizer still holds the object"
    );
    mk::miniktl(
        &tc.kubeconfig,
        &[
            "patch",
            "cm",
            "held",
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ],
    )
    .await
    .ok();
    let code = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("delete finishes")
        .unwrap();
    assert_eq!(code, 0);
    // --wait=false returns at once; the object lingers until its finalizer goes.
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await.ok();
    let r = mk::miniktl(&tc.kubeconfig, &["delete", "cm", "held", "--wait=false"]).await;
    assert_eq!(r.ok(), "configmap \"held\" deleted\n");
    let held = json_of(&tc, &["get", "cm", "held"]).await;
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    // By selector, by --all, by file.
    for n in ["a", "b", "c"] {
        mk::miniktl(&tc.kubeconfig, &["create", "cm", n, "--from-literal=k=v"])
            .await
            .ok();
    }
    mk::miniktl(&tc.kubeconfig, &["label", "cm", "a", "b", "x=1"])
        .await
        .ok();
    assert_eq!(
        mk::miniktl(&tc.kubeconfig, &["delete", "cm", "-l", "x=1"])
            .await
            .ok(),
        "configmap \"a\" deleted\nconfigmap \"b\" deleted\n"
    );
    let cf = tc.file(
        "c.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    assert_eq!(
        mk::miniktl(&tc.kubeconfig, &["delete", "-f", &cf])
            .await
            .ok(),
        "configmap \"c\" deleted\n"
    );
    let r = mk::miniktl(
        &tc.kubeconfig,
        &["delete", "cm", "--all", "-n", "kube-public"],
    )
    .await;
    assert_eq!(
        (r.code, r.err.as_str()),
        (0, "No resources found in kube-public namespace.\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_streams_rows_and_wait_sees_conditions() {
    let tc = TestCluster::start().await;
    mk::miniktl(
        &tc.kubeconfig,
        &["create", "cm", "first", "--from-literal=a=b"],
    )
    .await
    .ok();
    let (task, out) = spawn_miniktl(&tc, &["get", "cm", "-w"]);
    until_output(&out, "first").await;
    mk::miniktl(
        &tc.kubeconfig,
        &["create", "cm", "a-much-longer-name", "--from-literal=a=b"],
    )
    .await
    .ok();
    let text = until_output(&out, "a-much-longer-name").await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{text}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("NAME")).count(),
        1,
        "one header: {text}"
    );
    task.abort();

    // wait: a pod becomes Ready after the wait started.
    let pod = tc.file("p.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  containers: [{name: c, image: busybox}]\n");
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &pod])
        .await
        .ok();
    let (task, out) = spawn_miniktl(
        &tc,
        &["wait", "--for=condition=Ready", "pod/w", "--timeout=20s"],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished());
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(tc.client.clone(), "default");
    api.patch_status(
        "w",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})),
    )
    .await
    .unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    assert_eq!(
        String::from_utf8_lossy(&out.lock().unwrap()),
        "pod/w condition met\n"
    );
    let r = mk::miniktl(
        &tc.kubeconfig,
        &["wait", "--for=jsonpath={.status.phase}=Running", "pod/w"],
    )
    .await;
    assert_eq!(r.ok(), "pod/w condition met\n");
    let r = mk::miniktl(
        &tc.kubeconfig,
        &[
            "wait",
            "--for=condition=Ready=False",
            "pod/w",
            "--timeout=1s",
        ],
    )
    .await;
    assert_eq!(
        (r.code, r.err.as_str()),
        (1, "error: timed out waiting for the condition on pods/w\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_rollout_and_small_commands() {
    let tc = TestCluster::start().await;
    let k = &tc.kubeconfig;
    mk::miniktl(k, &["create", "cm", "ed", "--from-literal=version=v1"])
        .await
        .ok();
    // SAFETY (edition 2021: safe): only this test reads KUBE_EDITOR.
    std::env::set_var("KUBE_EDITOR", "sed -i s/version:\\ v1/version:\\ v2/");
    assert_eq!(
        mk::miniktl(k, &["edit", "cm", "ed"]).await.ok(),
        "configmap/ed edited\n"
    );
    assert_eq!(
        json_of(&tc, &["get", "cm", "ed"]).await["data"]["version"],
        "v2"
    );
    std::env::set_var("KUBE_EDITOR", "true");
    let r = mk::miniktl(k, &["edit", "cm/ed"]).await;
    assert_eq!(
        (r.code, r.err.as_str()),
        (0, "Edit cancelled, no changes made.\n")
    );

    // rollout: a deployment with two owned ReplicaSets (what the controller would make).
    let d = tc.file("d.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: minik/web:v2}]}\n");
    mk::miniktl(k, &["apply", "-f", &d]).await.ok();
    let uid = json_of(&tc, &["get", "deploy", "web"]).await["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    for rev in [1, 2] {
        let rs = format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-{rev}\n  labels: {{app: web, pod-template-hash: h{rev}}}\n  annotations: {{deployment.kubernetes.io/revision: \"{rev}\", kubernetes.io/change-cause: \"step {rev}\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {uid}, controller: true}}]\nspec:\n  replicas: 0\n  selector: {{matchLabels: {{app: web, pod-template-hash: h{rev}}}}}\n  template:\n    metadata: {{labels: {{app: web, pod-template-hash: h{rev}}}}}\n    spec: {{containers: [{{name: web, image: minik/web:v{rev}}}]}}\n"
        );
        let f = tc.file(&format!("rs{rev}.yaml"), &rs);
        mk::miniktl(k, &["create", "-f", &f]).await.ok();
    }
    assert_eq!(
        mk::miniktl(k, &["rollout", "history", "deploy/web"])
            .await
            .ok(),
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         step 1\n2         step 2\n\n"
    );
    assert_eq!(
        mk::miniktl(k, &["rollout", "undo", "deploy/web"])
            .await
            .ok(),
        "deployment.apps/web rolled back\n"
    );
    let dep = json_of(&tc, &["get", "deploy", "web"]).await;
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "minik/web:v1"
    );
    assert_eq!(
        dep["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
    assert_eq!(
        dep["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "step 1"
    );
    assert_eq!(
        mk::miniktl(k, &["rollout", "undo", "deploy/web", "--to-revision=1"])
            .await
            .ok(),
        "deployment.apps/web skipped rollback (current template already matches revision 1)\n"
    );
    let r = mk::miniktl(k, &["rollout", "undo", "deploy/web", "--to-revision=7"]).await;
    assert_eq!(
        r.err,
        "error: unable to find specified revision 7 in history\n"
    );
    assert_eq!(
        mk::miniktl(k, &["rollout", "restart", "deploy/web"])
            .await
            .ok(),
        "deployment.apps/web restarted\n"
    );
    assert!(
        json_of(&tc, &["get", "deploy", "web"]).await["spec"]["template"]["metadata"]
            ["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    let r = mk::miniktl(k, &["rollout", "status", "deploy/web", "--watch=false"]).await;
    assert_eq!(
        r.ok(),
        "Waiting for deployment spec update to be observed...\n"
    );

    // explain, config, cluster-info, version.
    let ex = mk::miniktl(k, &["explain", "deployment.spec.strategy"])
        .await
        .ok();
    assert!(ex.starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: strategy <DeploymentStrategy>"), "{ex}");
    assert!(ex.contains("rollingUpdate"), "{ex}");
    let ex = mk::miniktl(k, &["explain", "pods.spec.containers.livenessProbe"])
        .await
        .ok();
    assert!(ex.contains("periodSeconds"), "{ex}");
    assert_eq!(
        mk::miniktl(k, &["config", "current-context"]).await.ok(),
        "minik\n"
    );
    assert_eq!(
        mk::miniktl(
            k,
            &[
                "config",
                "set-context",
                "--current",
                "--namespace=kube-system"
            ]
        )
        .await
        .ok(),
        "Context \"minik\" modified.\n"
    );
    let ctxs = mk::miniktl(k, &["config", "get-contexts"]).await.ok();
    assert_eq!(ctxs, "CURRENT   NAME    CLUSTER   AUTHINFO           NAMESPACE\n*         minik   minik     kubernetes-admin   kube-system\n");
    // The kubeconfig written back is still one kubectl reads.
    assert_eq!(
        tc.kubectl_ok(&[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.contexts[0].context.namespace}"
        ]),
        "kube-system"
    );
    let info = mk::miniktl(k, &["cluster-info"]).await.ok();
    assert!(
        info.starts_with(&format!(
            "Kubernetes control plane is running at {}",
            tc.url()
        )),
        "{info}"
    );
    assert!(mk::miniktl(k, &["version"])
        .await
        .ok()
        .contains("Server Version: v1."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sort_by_time_and_labels_list() {
    let tc = TestCluster::start().await;
    let mut y = String::new();
    for (name, t) in [
        ("late", "2024-01-01T10:05:00Z"),
        ("early", "2024-01-01T10:00:00Z"),
        ("middle", "2024-01-01T10:02:00Z"),
    ] {
        y.push_str(&format!(
            "---\napiVersion: v1\nkind: Event\nmetadata: {{name: {name}}}\ninvolvedObject: {{kind: Pod, name: p, namespace: default}}\nreason: {name}\nmessage: m\ntype: Normal\nfirstTimestamp: \"{t}\"\nlastTimestamp: \"{t}\"\ncount: 1\n"
        ));
    }
    let f = tc.file("ev.yaml", &y);
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await.ok();
    let out = mk::miniktl(&tc.kubeconfig, &["get", "events"]).await.ok();
    let reasons: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(reasons, ["early", "middle", "late"]);
    let out = mk::miniktl(
        &tc.kubeconfig,
        &["get", "events", "--sort-by=.metadata.name", "-o", "name"],
    )
    .await
    .ok();
    assert_eq!(out, "event/early\nevent/late\nevent/middle\n");
    mk::miniktl(&tc.kubeconfig, &["label", "event", "late", "b=2", "a=1"])
        .await
        .ok();
    assert_eq!(
        mk::miniktl(&tc.kubeconfig, &["label", "event", "late", "--list"])
            .await
            .ok(),
        "a=1\nb=2\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_reaches_the_pod_and_node_proxies_report_clearly() {
    let tc = TestCluster::start().await;
    // A "pod" whose IP is loopback, with an echo server on its port.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pod_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf).await {
                    let _ = s.write_all(&buf[..n]).await;
                }
            });
        }
    });
    let f = tc.file("p.yaml", &format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: echo}}\nspec:\n  containers: [{{name: c, image: busybox, ports: [{{containerPort: {pod_port}, name: echo}}]}}]\n"));
    mk::miniktl(&tc.kubeconfig, &["apply", "-f", &f]).await.ok();
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(tc.client.clone(), "default");
    api.patch_status(
        "echo",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"status": {"phase": "Running", "podIP": "127.0.0.1"}})),
    )
    .await
    .unwrap();
    let local = minik_tests::free_port();
    let spec = format!("{local}:echo");
    let (task, out) = spawn_miniktl(&tc, &["port-forward", "pod/echo", &spec]);
    until_output(
        &out,
        &format!("Forwarding from 127.0.0.1:{local} -> {pod_port}"),
    )
    .await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", local))
        .await
        .unwrap();
    conn.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping");
    until_output(&out, &format!("Handling connection for {local}")).await;
    task.abort();

    // logs/exec need a kubelet; top needs scraped metrics: each says so and fails.
    for args in [&["logs", "echo"][..], &["exec", "echo", "--", "true"]] {
        let r = mk::miniktl(&tc.kubeconfig, args).await;
        assert_ne!(r.code, 0, "{args:?}");
        assert!(!r.err.is_empty(), "{args:?}");
    }
    let r = mk::miniktl(&tc.kubeconfig, &["top", "nodes"]).await;
    assert_eq!(r.err, "error: metrics not available yet\n");
    let r = mk::miniktl(&tc.kubeconfig, &["top", "pods"]).await;
    assert_eq!(
        (r.code, r.err.as_str()),
        (0, "No resources found in default namespace.\n")
    );
}

/// `miniktl cordon`, `drain` and `uncordon` on a simulated two-node cluster,
/// the way a node is taken out for maintenance: drain refuses an unmanaged
/// pod and a DaemonSet's without the flags (kubectl's words), then evicts
/// the Deployment's pods, which the ReplicaSet recreates on the other node;
/// the node stays cordoned until uncordoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_drain_and_uncordon_move_pods_off_a_node() {
    use crate::support::workloads::{wait_for, SimCluster};
    let sim = SimCluster::start(2, Duration::from_millis(50)).await;
    let (c, k) = (&sim.c, &sim.c.kubeconfig);
    c.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=minik/web:v1",
        "--replicas=4",
    ]);
    c.kubectl_ok(&[
        "run",
        "loner",
        "--image=busybox:1.35",
        "--overrides",
        r#"{"spec":{"nodeName":"node-1"}}"#,
    ]);
    let pods_on = |node: &'static str, selector: &'static str| async move {
        let out = c.kubectl_ok(&[
            "get",
            "pods",
            "-l",
            selector,
            "--field-selector",
            &format!("spec.nodeName={node},status.phase=Running"),
            "-o",
            "name",
        ]);
        out.lines().count()
    };
    wait_for("4 web pods running", Duration::from_secs(20), || async {
        (pods_on("node-1", "app=web").await + pods_on("node-2", "app=web").await == 4).then_some(())
    })
    .await;
    assert_eq!(
        mk::miniktl(k, &["cordon", "node-1"]).await.ok(),
        "node/node-1 cordoned\n"
    );
    assert_eq!(
        mk::miniktl(k, &["cordon", "node-1"]).await.ok(),
        "node/node-1 already cordoned\n"
    );
    let refused = mk::miniktl(k, &["drain", "node-1"]).await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.err.contains(
            "cannot delete Pods that declare no controller (use --force to override): default/loner"
        ),
        "{}",
        refused.err
    );
    let out = mk::miniktl(k, &["drain", "node-1", "--force", "--timeout=60s"])
        .await
        .ok();
    assert!(out.starts_with("node/node-1 already cordoned\n"), "{out}");
    assert!(out.contains("evicting pod default/loner"), "{out}");
    assert!(out.ends_with("node/node-1 drained\n"), "{out}");
    // The ReplicaSet puts its pods back, on the node that is left.
    wait_for("4 web pods on node-2", Duration::from_secs(30), || async {
        (pods_on("node-2", "app=web").await == 4).then_some(())
    })
    .await;
    assert_eq!(pods_on("node-1", "app=web").await, 0);
    let unschedulable = c.kubectl_ok(&[
        "get",
        "node",
        "node-1",
        "-o",
        "jsonpath={.spec.unschedulable}",
    ]);
    assert_eq!(unschedulable, "true");
    assert_eq!(
        mk::miniktl(k, &["uncordon", "node-1"]).await.ok(),
        "node/node-1 uncordoned\n"
    );
    let unschedulable = c.kubectl_ok(&[
        "get",
        "node",
        "node-1",
        "-o",
        "jsonpath={.spec.unschedulable}",
    ]);
    assert_eq!(unschedulable, "");
}

/// `miniktl auth whoami` and `auth can-i` print what the real kubectl
/// prints (the oracle), for the admin and for a ServiceAccount's token
/// (whose "no" exits 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_whoami_and_can_i_answer_like_kubectl() {
    let c = TestCluster::start().await;
    let k = &c.kubeconfig;
    let kubectl_out = |args: &[&str]| {
        let out = c.kubectl(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let whoami = mk::miniktl(k, &["auth", "whoami"]).await.ok();
    assert_eq!(whoami, kubectl_out(&["auth", "whoami"]).1);
    let yes = mk::miniktl(k, &["auth", "can-i", "delete", "pods"]).await;
    assert_eq!((yes.code, yes.out.as_str()), (0, "yes\n"));

    // A ServiceAccount's token, in a kubeconfig of its own.
    c.kubectl_ok(&["create", "serviceaccount", "viewer"]);
    let token = c.kubectl_ok(&["create", "token", "viewer"]);
    let viewer = c.dir.path().join("viewer.kubeconfig");
    std::fs::copy(k, &viewer).unwrap();
    let with_viewer = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", viewer.to_str().unwrap()];
        all.extend_from_slice(args);
        c.kubectl(&all)
    };
    assert!(with_viewer(&[
        "config",
        "set-credentials",
        "viewer",
        "--token",
        token.trim()
    ])
    .status
    .success());
    assert!(
        with_viewer(&["config", "set-context", "--current", "--user", "viewer"])
            .status
            .success()
    );
    let whoami = mk::miniktl(&viewer, &["auth", "whoami"]).await.ok();
    let expected = String::from_utf8_lossy(&with_viewer(&["auth", "whoami"]).stdout).to_string();
    assert_eq!(whoami, expected);
    assert!(
        whoami.contains("system:serviceaccount:default:viewer"),
        "{whoami}"
    );
    let no = mk::miniktl(&viewer, &["auth", "can-i", "list", "secrets"]).await;
    let kubectl_no = with_viewer(&["auth", "can-i", "list", "secrets"]);
    assert_eq!(
        (no.code, no.out.as_str()),
        (
            kubectl_no.status.code().unwrap(),
            String::from_utf8_lossy(&kubectl_no.stdout).as_ref()
        )
    );
    assert_eq!(no.code, 1);
    assert!(no.err.is_empty(), "{}", no.err);
}

/// `miniktl diff -f` shows the same changed lines as the real `kubectl
/// diff` (the oracle), exits 1 when there are differences and 0 when there
/// are none, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_what_apply_would_change_like_kubectl() {
    let c = TestCluster::start().await;
    let k = &c.kubeconfig;
    let manifest = |replicas: u32, image: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: {image}\n")
    };
    let file = c.file("web.yaml", &manifest(1, "minik/web:v1"));
    mk::miniktl(k, &["apply", "-f", &file]).await.ok();
    let same = mk::miniktl(k, &["diff", "-f", &file]).await;
    assert_eq!((same.code, same.out.as_str()), (0, ""), "{}", same.err);
    let changed = c.file("web.yaml", &manifest(3, "minik/web:v2"));
    let ours = mk::miniktl(k, &["diff", "-f", &changed]).await;
    assert_eq!(ours.code, 1, "{}", ours.err);
    let theirs = c.kubectl(&["diff", "-f", &changed]);
    assert_eq!(theirs.status.code(), Some(1));
    // The changed lines, without the headers naming the temporary files.
    let changes = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .map(str::to_string)
            .collect()
    };
    let ours_lines = changes(&ours.out);
    assert!(
        ours_lines.contains(&"-  replicas: 1".to_string()),
        "{}",
        ours.out
    );
    assert!(
        ours_lines.contains(&"+  replicas: 3".to_string()),
        "{}",
        ours.out
    );
    assert_eq!(
        ours_lines,
        changes(&String::from_utf8_lossy(&theirs.stdout))
    );
    // Nothing was applied.
    let replicas = c.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "1");
}
