//! `pods/attach` with real Docker pods: `kubectl run -i --rm` talks to the
//! container's main process and deletes the pod, `kubectl attach` follows a
//! running container's output and leaves it running, and the kube crate's
//! `Api::attach` reaches stdin and stdout.
//!
//! Docker is required: these tests fail under CI=true without an engine.

use crate::kubelet_support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use kube::api::AttachParams;
use kubelet_support::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_run_interactive_and_attach() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    // No scheduler runs here: the pod is bound through --overrides.
    let out = c.cluster.kubectl_stdin(
        &[
            "run",
            "talk",
            "-i",
            "--rm",
            "--restart=Never",
            "--image=busybox:1.35",
            "--pod-running-timeout=60s",
            "--overrides",
            r#"{"apiVersion": "v1", "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 0}}"#,
            "--",
            "sh",
            "-c",
            "read line; echo got $line; echo to-stderr >&2",
        ],
        "hello\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("got hello"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("pod \"talk\" deleted"), "{stdout}");
    assert!(
        !stderr.contains("falling back to logs") && !stderr.contains("error"),
        "{stderr}"
    );
    c.wait_gone("talk", Duration::from_secs(30)).await;

    // kubectl attach: the running container's output, and it keeps running.
    c.create_pod(json!({
        "metadata": {"name": "ticker"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "tick", "image": "busybox:1.35",
            "command": ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
        }]}
    }))
    .await;
    c.wait_pod("ticker", Duration::from_secs(60), running_and_ready)
        .await;
    let mut attach = c.cluster.kubectl_spawn(&["attach", "ticker", "-c", "tick"]);
    let stdout = attach.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut ticks = Vec::new();
    while ticks.len() < 3 {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) if l.starts_with("tick ") => ticks.push(l),
            Ok(_) => {}
            Err(_) => {
                let _ = attach.kill();
                let out = attach.wait_with_output().unwrap();
                panic!(
                    "kubectl attach printed {ticks:?}; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    let n = |l: &String| l[5..].parse::<u64>().unwrap();
    assert!(n(&ticks[1]) == n(&ticks[0]) + 1 && n(&ticks[2]) == n(&ticks[1]) + 1);
    attach.kill().unwrap();
    let _ = attach.wait();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pod = c.pod("ticker").await.unwrap();
    assert_eq!(
        container_status(&pod, "tick")["restartCount"],
        0,
        "detaching leaves the container alone"
    );
    assert!(container_status(&pod, "tick")["state"]["running"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_crate_attach() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    c.create_pod(json!({
        "metadata": {"name": "echoer"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "c", "image": "busybox:1.35", "stdin": true,
            "command": ["sh", "-c", "while read line; do echo got $line; done"]
        }]}
    }))
    .await;
    c.wait_pod("echoer", Duration::from_secs(60), running_and_ready)
        .await;
    let params = AttachParams::default()
        .stdin(true)
        .stdout(true)
        .stderr(false);
    let mut attached = c.pods().attach("echoer", &params).await.unwrap();
    let mut stdin = attached.stdin().unwrap();
    let mut stdout = attached.stdout().unwrap();
    stdin.write_all(b"one\ntwo\n").await.unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 1024];
        while !seen.ends_with(b"got two\n") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "stdout ended early");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the container's answers");
    assert_eq!(seen, b"got one\ngot two\n");
    drop(stdin);
    attached.abort();
}

/// `kubectl debug` with an ephemeral container: it joins the target's
/// process namespace (its `ps` shows the target's processes), takes stdin
/// and writes to kubectl, is reported in `ephemeralContainerStatuses`, and
/// has logs; the pod's own container keeps running. The subresource's
/// rules refuse changing an ephemeral container, a duplicate name and an
/// unknown target, in kube-apiserver's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_debug_joins_the_target_container() {
    let Some(c) = KubeletCluster::start().await else {
        return;
    };
    c.create_pod(json!({
        "metadata": {"name": "app"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "app", "image": "busybox:1.35",
            "command": ["sh", "-c", "exec sleep 3600"]}]},
    }))
    .await;
    c.wait_pod("app", Duration::from_secs(60), running_and_ready)
        .await;
    let debug = |name: &str, stdin: &str| {
        c.cluster.kubectl_stdin(
            &[
                "debug",
                "app",
                "-i",
                "--image=busybox:1.35",
                "--target=app",
                &format!("--container={name}"),
                "--profile=general",
                "--",
                "sh",
            ],
            stdin,
        )
    };
    let out = debug("dbg", "ps -o pid,args\nexit\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("sleep 3600"),
        "the target's processes are visible:\n{stdout}\nstderr: {stderr}"
    );
    let pod = c
        .wait_pod("app", Duration::from_secs(20), |p| {
            p["status"]["ephemeralContainerStatuses"][0]["state"]["terminated"]["reason"]
                == "Completed"
        })
        .await;
    assert_eq!(
        pod["status"]["ephemeralContainerStatuses"][0]["name"],
        "dbg"
    );
    assert_eq!(
        pod["spec"]["ephemeralContainers"][0]["targetContainerName"],
        "app"
    );
    assert!(running_and_ready(&pod), "the app keeps running");
    let logs = c.cluster.kubectl_ok(&["logs", "app", "-c", "dbg"]);
    assert!(logs.contains("sleep 3600"), "{logs}");

    // The subresource's rules.
    let patch = |body: &str| {
        c.cluster.kubectl(&[
            "patch",
            "pod",
            "app",
            "--subresource=ephemeralcontainers",
            "--type=strategic",
            "-p",
            body,
        ])
    };
    let refused = |body: &str, message: &str| {
        let out = patch(body);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(message),
            "{body}: {err}"
        );
    };
    refused(
        r#"{"spec":{"ephemeralContainers":[{"name":"dbg","image":"busybox:latest"}]}}"#,
        r#"spec.ephemeralContainers[0]: Forbidden: existing ephemeral containers "dbg" may not be changed"#,
    );
    refused(
        r#"{"spec":{"ephemeralContainers":[{"name":"app","image":"busybox:1.35"}]}}"#,
        r#"spec.ephemeralContainers[0].name: Duplicate value: "app""#,
    );
    refused(
        r#"{"spec":{"ephemeralContainers":[{"name":"x","image":"busybox:1.35","targetContainerName":"nope"}]}}"#,
        r#"spec.ephemeralContainers[0].targetContainerName: Not found: "nope""#,
    );
    refused(
        r#"{"spec":{"ephemeralContainers":[{"name":"y","image":"busybox:1.35","ports":[{"containerPort":80}]}]}}"#,
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
    );

    // miniktl's own debug: the same ephemeral container, attached with -i.
    let k = &c.cluster.kubeconfig;
    let out = crate::support::miniktl::miniktl_with_stdin(
        k,
        &[
            "debug",
            "app",
            "-i",
            "--image=busybox:1.35",
            "--target=app",
            "-c",
            "mdbg",
            "--",
            "sh",
        ],
        "ps -o pid,args\nexit\n",
    )
    .await;
    assert_eq!(out.code, 0, "stdout: {}\nstderr: {}", out.out, out.err);
    assert!(
        out.out.contains("sleep 3600"),
        "stdout: {}\nstderr: {}",
        out.out,
        out.err
    );
    // miniktl cp, both ways, as kubectl cp does it (tar through exec).
    let dir = c.cluster.dir.path();
    std::fs::write(dir.join("local.txt"), "hello cp\n").unwrap();
    let local = dir.join("local.txt").display().to_string();
    crate::support::miniktl::miniktl(k, &["cp", &local, "app:/tmp/copied.txt"])
        .await
        .ok();
    let inside = c
        .cluster
        .kubectl_ok(&["exec", "app", "--", "cat", "/tmp/copied.txt"]);
    assert_eq!(inside, "hello cp\n");
    let mine = dir.join("mine").display().to_string();
    let theirs = dir.join("theirs").display().to_string();
    crate::support::miniktl::miniktl(k, &["cp", "app:/etc", &mine])
        .await
        .ok();
    c.cluster.kubectl_ok(&["cp", "app:/etc", &theirs]);
    let files = |root: &str| {
        let mut names: Vec<(String, Vec<u8>)> = std::fs::read_dir(root)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        names.sort();
        names
    };
    assert!(!files(&mine).is_empty());
    assert_eq!(
        files(&mine),
        files(&theirs),
        "miniktl cp and kubectl cp agree"
    );

    // miniktl attach: a container's output until its process ends.
    c.create_pod(json!({
        "metadata": {"name": "brief"},
        "spec": {"terminationGracePeriodSeconds": 0, "restartPolicy": "Never", "containers": [{
            "name": "brief", "image": "busybox:1.35",
            "command": ["sh", "-c", "sleep 2; echo bye"]}]},
    }))
    .await;
    c.wait_pod("brief", Duration::from_secs(60), |p| {
        p["status"]["phase"] == "Running"
    })
    .await;
    let out = crate::support::miniktl::miniktl(k, &["attach", "brief"]).await;
    assert_eq!(
        (out.code, out.out.as_str()),
        (0, "bye\n"),
        "stderr: {}",
        out.err
    );
}
