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

/// `kubectl create token` (the TokenRequest API) and what a token is good
/// for: the account it names, until the account (or the pod it is bound
/// to) is gone; kube-apiserver's refusals for bad requests; and the token
/// volume ServiceAccount admission mounts into pods, with the CA the root
/// CA publisher puts in every namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_issued_bound_and_mounted() {
    let c = TestCluster::start().await;
    let settings = minik_controller::Settings {
        root_ca: c.tls.as_ref().map(|t| t.ca_pem.clone()),
        ..Default::default()
    };
    let ctx = Arc::new(minik_controller::Context::new(c.client.clone(), settings));
    let _controller = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(
            ctx,
            &[
                minik_controller::service_account::build,
                minik_controller::root_ca_publisher::build,
            ],
        )
        .await
        .unwrap();
    })]);
    c.kubectl_ok(&["create", "namespace", "shop"]);
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(c.client.clone(), "shop");
    let root_ca = wait_for("shop's kube-root-ca.crt", T, || async {
        config_maps.get_opt("kube-root-ca.crt").await.ok().flatten()
    })
    .await;
    assert_eq!(
        root_ca.data.unwrap()["ca.crt"],
        c.tls.as_ref().unwrap().ca_pem
    );
    let accounts: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "shop");
    wait_for("shop's default ServiceAccount", T, || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await;

    // A token names its account; RBAC judges it.
    c.kubectl_ok(&["create", "serviceaccount", "reader", "-n", "shop"]);
    let token = c.kubectl_ok(&["create", "token", "reader", "-n", "shop", "--duration=15m"]);
    let token = token.trim();
    let out = c.kubectl_as_token(
        token,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "system:serviceaccount:shop:reader"
    );
    let out = c.kubectl_as_token(token, &["get", "pods", "-n", "shop"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("User \"system:serviceaccount:shop:reader\" cannot list resource \"pods\""),
        "{out:?}"
    );
    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "reader-view",
        "-n",
        "shop",
        "--clusterrole=view",
        "--serviceaccount=shop:reader",
    ]);
    wait_for("the granted list", T, || async {
        c.kubectl_as_token(token, &["get", "pods", "-n", "shop"])
            .status
            .success()
            .then_some(())
    })
    .await;
    // Tampered, or from an account deleted since: 401.
    let tampered = format!("{}x", token);
    let out = c.kubectl_as_token(&tampered, &["get", "pods", "-n", "shop"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unauthorized"),
        "{out:?}"
    );
    c.kubectl_ok(&["delete", "serviceaccount", "reader", "-n", "shop"]);
    let out = c.kubectl_as_token(token, &["get", "pods", "-n", "shop"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unauthorized"),
        "{out:?}"
    );

    // kube-apiserver's refusals.
    let refused = |args: &[&str]| {
        let out = c.kubectl(args);
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = refused(&["create", "token", "default", "-n", "shop", "--duration=5m"]);
    assert!(
        err.contains("TokenRequest.authentication.k8s.io \"default\" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let err = refused(&["create", "token", "nobody", "-n", "shop"]);
    assert!(
        err.contains("serviceaccounts \"nobody\" not found"),
        "{err}"
    );

    // Pods get the token volume unless they or their account opt out.
    c.kubectl_ok(&["run", "web", "-n", "shop", "--image=minik/web:v1"]);
    let pod = c.kubectl_ok(&["get", "pod", "web", "-n", "shop", "-o", "json"]);
    let pod: serde_json::Value = serde_json::from_str(&pod).unwrap();
    let volume = &pod["spec"]["volumes"][0];
    let name = volume["name"].as_str().unwrap();
    assert!(name.starts_with("kube-api-access-"), "{volume}");
    assert_eq!(
        volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3607
    );
    assert_eq!(
        pod["spec"]["containers"][0]["volumeMounts"][0],
        serde_json::json!({"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    );
    c.kubectl_ok(&[
        "run",
        "quiet",
        "-n",
        "shop",
        "--image=minik/web:v1",
        "--overrides",
        r#"{"spec":{"automountServiceAccountToken":false}}"#,
    ]);
    let volumes = c.kubectl_ok(&[
        "get",
        "pod",
        "quiet",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.volumes}",
    ]);
    assert_eq!(volumes, "");
    // A token bound to a pod running as another account is refused.
    let err = refused(&[
        "create",
        "token",
        "microservice-sa",
        "-n",
        "shop",
        "--bound-object-kind=Pod",
        "--bound-object-name=web",
    ]);
    assert!(
        err.contains("serviceaccounts \"microservice-sa\" not found"),
        "{err}"
    );
    c.kubectl_ok(&["create", "serviceaccount", "other", "-n", "shop"]);
    let err = refused(&[
        "create",
        "token",
        "other",
        "-n",
        "shop",
        "--bound-object-kind=Pod",
        "--bound-object-name=web",
    ]);
    assert!(
        err.contains("cannot bind token for serviceaccount \"other\" to pod running with different serviceaccount name."),
        "{err}"
    );
    // Bound to a scheduled pod, the token names the pod's node too.
    c.apply("apiVersion: v1\nkind: Node\nmetadata:\n  name: token-node\n");
    let pods: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(c.client_named("token-test").await, "shop");
    let binding = serde_json::json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "web"}, "target": {"kind": "Node", "name": "token-node"}});
    pods.create_subresource::<_, serde_json::Value>(
        "binding",
        "web",
        &Default::default(),
        &binding,
    )
    .await
    .unwrap();
    let bound = c.kubectl_ok(&[
        "create",
        "token",
        "default",
        "-n",
        "shop",
        "--bound-object-kind=Pod",
        "--bound-object-name=web",
    ]);
    assert!(c
        .kubectl_as_token(bound.trim(), &["auth", "whoami"])
        .status
        .success());
    // The token names the pod and the pod's node, each with its uid.
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = bound.trim().split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    };
    let field = |args: &[&str]| c.kubectl_ok(args).trim().to_string();
    let pod_uid = field(&[
        "get",
        "pod",
        "web",
        "-n",
        "shop",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let node = "token-node";
    let node_uid = field(&["get", "node", node, "-o", "jsonpath={.metadata.uid}"]);
    let bound_to = &claims["kubernetes.io"];
    assert_eq!(
        bound_to["pod"],
        serde_json::json!({"name": "web", "uid": pod_uid}),
        "{claims}"
    );
    assert_eq!(
        bound_to["node"],
        serde_json::json!({"name": node, "uid": node_uid}),
        "{claims}"
    );
    c.kubectl_ok(&[
        "delete",
        "pod",
        "web",
        "-n",
        "shop",
        "--grace-period=0",
        "--force",
    ]);
    let out = c.kubectl_as_token(bound.trim(), &["auth", "whoami"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unauthorized"),
        "{out:?}"
    );
}
