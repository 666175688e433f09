//! ServiceAccounts as a namespace's processes get them: the ServiceAccount
//! controller gives every namespace a `default` one (and gives it back when
//! deleted); a pod gets `serviceAccountName: default` when it names none,
//! and one that names an account its namespace lacks is refused with
//! kube-apiserver's message — the seeds' Deployment for `microservice-sa`
//! runs once its ServiceAccount exists.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams};
use support::workloads::{wait_for, Tasks};
use support::TestCluster;

const T: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_has_a_default_account_and_pods_need_theirs() {
    let c = TestCluster::start().await;
    let ctx = Arc::new(minik_controller::Context::new(
        c.client.clone(),
        minik_controller::Settings::default(),
    ));
    let _controller = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &[minik_controller::service_account::build])
            .await
            .unwrap();
    })]);

    c.kubectl_ok(&["create", "namespace", "shop"]);
    let accounts: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "shop");
    wait_for("shop's default ServiceAccount", T, || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await;
    for ns in ["default", "kube-system"] {
        let out = c.kubectl_ok(&["get", "serviceaccount", "default", "-n", ns, "-o", "name"]);
        assert_eq!(out.trim(), "serviceaccount/default");
    }
    // Deleted, it comes back (a new uid).
    let before = accounts.get("default").await.unwrap().metadata.uid;
    accounts
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the default ServiceAccount back", T, || async {
        let sa = accounts.get_opt("default").await.ok().flatten()?;
        (sa.metadata.uid != before).then_some(())
    })
    .await;

    // A pod without an account runs as `default`.
    c.kubectl_ok(&["run", "web", "-n", "shop", "--image=minik/web:v1"]);
    let sa = c.kubectl_ok(&[
        "get",
        "pod",
        "web",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.serviceAccountName}",
    ]);
    assert_eq!(sa, "default");
    // One naming a missing account is refused, as kube-apiserver words it.
    let out = c.kubectl(&[
        "run",
        "api",
        "-n",
        "shop",
        "--image=minik/web:v1",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"microservice-sa"}}"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("pods \"api\" is forbidden: error looking up service account shop/microservice-sa: serviceaccount \"microservice-sa\" not found"),
        "{err}"
    );
    c.kubectl_ok(&["create", "serviceaccount", "microservice-sa", "-n", "shop"]);
    c.kubectl_ok(&[
        "run",
        "api",
        "-n",
        "shop",
        "--image=minik/web:v1",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"microservice-sa"}}"#,
    ]);
}
