//! Every acknowledged write survives `kill -9` of the API server process,
//! and resourceVersions keep increasing after the restart.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

struct ApiServerProcess {
    child: Child,
    url: String,
}

impl Drop for ApiServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data: &std::path::Path, kubeconfig: &std::path::Path, listen: &str) -> ApiServerProcess {
    let _ = std::fs::remove_file(kubeconfig);
    let mut process = ApiServerProcess {
        child: Command::new(support::workspace_bin("minik-apiserver"))
            .arg("--data-dir")
            .arg(data)
            .arg("--listen")
            .arg(listen)
            // Plain HTTP: this test is about durability, not the transport.
            .arg("--insecure-plain-http")
            .arg("--write-kubeconfig")
            .arg(kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start minik-apiserver"),
        url: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(kubeconfig) {
            if let Some(line) = text.lines().find(|l| l.trim_start().starts_with("server:")) {
                process.url = line
                    .trim_start()
                    .trim_start_matches("server:")
                    .trim()
                    .to_string();
                return process;
            }
        }
        assert!(Instant::now() < deadline, "minik-apiserver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut server = spawn(&data, &kubeconfig, "127.0.0.1:0");
    let client = support::client_for(&server.url);
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");

    // 200 concurrent creates; remember which were acknowledged.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let cms = cms.clone();
        tasks.push(tokio::spawn(async move {
            let cm: ConfigMap = serde_json::from_value(
                json!({"metadata": {"name": format!("cm-{i}")}, "data": {"i": i.to_string()}}),
            )
            .unwrap();
            cms.create(&PostParams::default(), &cm)
                .await
                .map(|c| c.metadata.resource_version.unwrap())
        }));
    }
    let mut acked = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if let Ok(rv) = t.await.unwrap() {
            acked.push((i, rv.parse::<u64>().unwrap()));
        }
    }
    assert_eq!(acked.len(), 200);
    let max_rv = acked.iter().map(|(_, rv)| *rv).max().unwrap();
    // No graceful anything: SIGKILL right after the last acknowledgement.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = spawn(&data, &kubeconfig, "127.0.0.1:0");
    let cms: Api<ConfigMap> = Api::namespaced(support::client_for(&server.url), "default");
    let list = cms.list(&ListParams::default()).await.unwrap();
    for (i, _) in &acked {
        let name = format!("cm-{i}");
        let found = list
            .items
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name.as_str()));
        let found = found.unwrap_or_else(|| panic!("{name} was acknowledged but lost"));
        assert_eq!(found.data.as_ref().unwrap()["i"], i.to_string());
    }
    let after: ConfigMap = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "after"}})).unwrap(),
        )
        .await
        .unwrap();
    let rv: u64 = after.metadata.resource_version.unwrap().parse().unwrap();
    assert!(
        rv > max_rv,
        "resourceVersion went backwards after restart: {rv} <= {max_rv}"
    );
}
