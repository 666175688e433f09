//! `examples/custom-controller/` end to end, as its README walks a student
//! through it, on a simulated node: the controller's own binary prints its
//! CRD, kubectl applies it and a Website; the controller makes the
//! Deployment and Service, reports ready pods and the URL in `status`
//! (shown by `kubectl get websites` columns) with an Event; `kubectl
//! scale` on the Website reaches its pods; deleting the Website lets the
//! garbage collector remove what it owned.

use crate::support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use support::scheduler;
use support::workloads::{wait_for, Tasks};
use support::{workspace_bin, TestCluster};

const T: Duration = Duration::from_secs(30);

/// Kills the controller process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const WEBSITE: &str = r#"
apiVersion: minik.example.com/v1
kind: Website
metadata:
  name: hello
spec:
  image: minik/web:v1
  replicas: 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_controller_reconciles_websites() {
    let c = TestCluster::start().await;
    let mut node = minik_kubelet::Config::new("node-a");
    node.runtime = minik_kubelet::RuntimeKind::Sim;
    node.root_dir = c.dir.path().join("kubelet");
    node.listen = "127.0.0.1:0".parse().unwrap();
    node.sim_delay = Duration::from_millis(100);
    node.lease_renew_interval = Duration::from_secs(1);
    node.resync_period = Duration::from_millis(500);
    let _node = minik_kubelet::start(node, c.client.clone()).await.unwrap();
    let _scheduler = scheduler::start_scheduler(&c.client);
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
                minik_controller::garbage_collector::build,
            ],
        )
        .await
        .unwrap();
    })]);

    // Step 1 of the README: the kind, from the controller's own types.
    let bin = workspace_bin("website-controller");
    let crd = Command::new(&bin).arg("crd").output().unwrap();
    assert!(crd.status.success());
    let crd = String::from_utf8(crd.stdout).unwrap();
    let out = c.kubectl_stdin(&["apply", "-f", "-"], &crd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Step 2: run the controller against the cluster.
    let _controller = Child(
        Command::new(&bin)
            .env("KUBECONFIG", &c.kubeconfig)
            .env("RUST_LOG", "website_controller=info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Step 3: a Website becomes a Deployment and a Service, then ready pods.
    c.apply(WEBSITE);
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let services: Api<Service> = Api::namespaced(c.client.clone(), "default");
    let deployment = wait_for("the Website's Deployment", T, || async {
        deployments.get_opt("hello").await.unwrap()
    })
    .await;
    let owner = &deployment.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Website", "hello")
    );
    wait_for("the Website's Service", T, || async {
        services.get_opt("hello").await.unwrap()
    })
    .await;
    wait_for("two ready pods in the Website's status", T, || async {
        let ready = c.kubectl_ok(&["get", "ws", "hello", "-o", "jsonpath={.status.replicas}"]);
        (ready == "2").then_some(())
    })
    .await;
    let table = c.kubectl_ok(&["get", "websites"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        vec!["NAME", "IMAGE", "DESIRED", "READY", "URL"],
        "{table}"
    );
    assert!(
        table.contains("http://hello.default.svc.cluster.local"),
        "{table}"
    );
    let events = c.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=hello",
    ]);
    assert!(events.contains("Reconciled"), "{events}");

    // Step 4: scale the Website; the controller carries it to the Deployment.
    c.kubectl_ok(&["scale", "website", "hello", "--replicas=3"]);
    wait_for("three ready pods", T, || async {
        let ready = c.kubectl_ok(&["get", "ws", "hello", "-o", "jsonpath={.status.replicas}"]);
        (ready == "3").then_some(())
    })
    .await;

    // Step 5: delete it; what it owned goes with it.
    c.kubectl_ok(&["delete", "website", "hello"]);
    wait_for("the Deployment collected", T, || async {
        deployments
            .get_opt("hello")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    wait_for("the Service collected", T, || async {
        services
            .get_opt("hello")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}
