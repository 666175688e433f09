//! The API server's transport and authentication as a default
//! `minik-apiserver` serves them: HTTPS with the cluster CA, x509 client
//! certificates (the admin's kubeconfig) and static bearer tokens
//! (`--token-auth-file`); anonymous callers reach only the health and
//! version endpoints (403 in kube-apiserver's words elsewhere); credentials
//! that name nobody get 401; a certificate from another CA is refused in
//! the handshake; the kubeconfig is private. Through the kube crate and the
//! real kubectl.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use minik_apiserver::authentication::Authenticator;
use minik_client::kubeconfig::Kubeconfig;
use minik_client::pki::Ca;
use support::TestCluster;

fn ca_pem(c: &TestCluster) -> String {
    std::fs::read_to_string(c.dir.path().join("pki/ca.crt")).unwrap()
}

/// A kubeconfig that trusts the cluster CA and carries `client`, if any.
fn kubeconfig(c: &TestCluster, name: &str, client: Option<&minik_client::pki::Issued>) -> String {
    let path = c.dir.path().join(name);
    let ca = ca_pem(c);
    Kubeconfig {
        server: &c.url(),
        ca_pem: Some(&ca),
        client,
        user: name,
    }
    .write(&path)
    .unwrap();
    path.display().to_string()
}

async fn client_from(path: &str) -> kube::Client {
    kube::Client::try_from(support::config_from(std::path::Path::new(path)).await).unwrap()
}

/// GET `path` with an optional bearer token: status and body.
async fn get(client: &kube::Client, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let mut req = http::Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = client
        .send(req.body(Vec::new()).unwrap().map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::json!(String::from_utf8_lossy(&bytes)));
    (code, body)
}

fn kubectl(c: &TestCluster, kubeconfig: &str, args: &[&str]) -> std::process::Output {
    tokio::task::block_in_place(|| {
        support::kubectl_with(
            std::path::Path::new(kubeconfig),
            &c.dir.path().join("kubectl-cache"),
            args,
            None,
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_client_certificates_tokens_and_anonymous_limits() {
    let tokens = Authenticator::parse_tokens("s3cret,alice,1001,\"dev\"\n").unwrap();
    let c = TestCluster::start_with(|cfg| cfg.authenticator = Arc::new(tokens)).await;
    assert!(c.url().starts_with("https://"), "{}", c.url());

    // The admin (O=system:masters client certificate) over HTTPS.
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"kube-system".to_string()), "{names:?}");
    assert!(c
        .kubectl_ok(&["get", "namespaces"])
        .contains("kube-node-lease"));
    // kubectl speaks HTTP/2 to it, as to kube-apiserver (Go's HTTP/2
    // transport says so when asked with GODEBUG); a minik component's
    // client does too and carries twenty lists at once (that each
    // component then holds one connection is counted in `miniktl_cluster`).
    let traced = tokio::task::block_in_place(|| {
        std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .args(["get", "--raw", "/version"])
            .env("GODEBUG", "http2debug=1")
            .output()
            .unwrap()
    });
    let trace = String::from_utf8_lossy(&traced.stderr);
    assert!(traced.status.success(), "{trace}");
    assert!(
        trace.contains("http2: Transport creating client conn"),
        "kubectl did not use HTTP/2:\n{trace}"
    );
    let component = minik_client::connect(Some(&c.kubeconfig)).await.unwrap();
    let listed = futures::future::join_all((0..20).map(|_| {
        let namespaces: Api<Namespace> = Api::all(component.clone());
        async move { namespaces.list(&ListParams::default()).await }
    }))
    .await;
    assert!(listed.iter().all(|l| l.is_ok()), "{listed:?}");
    let mode = std::fs::metadata(&c.kubeconfig)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds the admin's key");
    let pki = std::fs::metadata(c.dir.path().join("pki"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(pki & 0o777, 0o700);

    // Anonymous: health and version only, 403 elsewhere in kube-apiserver's words.
    let anonymous = client_from(&kubeconfig(&c, "anonymous", None)).await;
    assert_eq!(
        get(&anonymous, "/healthz", None).await,
        (200, serde_json::json!("ok"))
    );
    assert_eq!(get(&anonymous, "/version", None).await.0, 200);
    let (code, status) = get(&anonymous, "/api/v1/namespaces/default/pods", None).await;
    assert_eq!(code, 403);
    assert_eq!(
        status["message"],
        "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(status["details"], serde_json::json!({"kind": "pods"}));
    let (code, status) = get(&anonymous, "/apis", None).await;
    assert_eq!(
        (code, status["message"].as_str().unwrap()),
        (
            403,
            "forbidden: User \"system:anonymous\" cannot get path \"/apis\""
        )
    );
    let pods: Api<Pod> = Api::namespaced(anonymous.clone(), "default");
    match pods.list(&ListParams::default()).await {
        Err(kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden")),
        other => panic!("anonymous listed pods: {other:?}"),
    }

    // A static token names its user (signed in, so discovery is allowed
    // where anonymous was refused); an unknown one is 401, not anonymous.
    assert_eq!(get(&anonymous, "/apis", Some("s3cret")).await.0, 200);
    let (code, status) = get(&anonymous, "/healthz", Some("wrong")).await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (401, Some("Unauthorized"))
    );
    assert_eq!(status["message"], "Unauthorized");
    let ca_only = kubeconfig(&c, "ca-only", None);
    let out = kubectl(&c, &ca_only, &["--token", "s3cret", "auth", "whoami"]);
    let whoami = String::from_utf8_lossy(&out.stdout);
    assert!(
        whoami.contains("alice") && whoami.contains("dev"),
        "{whoami}"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(&c, &ca_only, &["--token", "wrong", "get", "namespaces"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("You must be logged in to the server (Unauthorized)"),
        "{stderr}"
    );
    // A certificate signed by another CA is refused in the handshake.
    let stranger = Ca::generate("not-the-cluster-ca")
        .unwrap()
        .issue_client("mallory", &["system:masters"])
        .unwrap();
    let forged = client_from(&kubeconfig(&c, "forged", Some(&stranger))).await;
    let refused = Api::<Namespace>::all(forged)
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(&refused, Err(e) if !matches!(e, kube::Error::Api(_))),
        "a foreign certificate got an answer: {refused:?}"
    );

    // The serving certificate names what a pod dials: kubernetes.default.svc.
    let mut config = c.client_config().await;
    config.tls_server_name = Some("kubernetes.default.svc".into());
    let in_cluster = kube::Client::try_from(config).unwrap();
    assert_eq!(get(&in_cluster, "/healthz", None).await.0, 200);
}
