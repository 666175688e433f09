//! What clients beyond kubectl's basics expect of kube-apiserver: the
//! CertificateSigningRequest lesson (openssl key and CSR → approve → a
//! kubeconfig for the new user → RBAC), `kubectl get apiservices` (every
//! served group-version, CRDs' included, Local), `kubectl get cs` (the
//! control plane's real health, with the deprecation warning), objects
//! written in Go's field order, and unknown subresources answering a
//! non-retryable 404 at once.

use crate::support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, WatchParams};
use support::workloads::{wait_for, Tasks};
use support::TestCluster;

const T: Duration = Duration::from_secs(20);

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn csr_manifest(name: &str, request_pem: &str) -> String {
    use base64::Engine;
    let request = base64::engine::general_purpose::STANDARD.encode(request_pem);
    format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: {name}\nspec:\n  request: {request}\n  signerName: kubernetes.io/kube-apiserver-client\n  expirationSeconds: 86400\n  usages:\n  - client auth\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_through_a_certificate_signing_request() {
    let c = TestCluster::start().await;
    let pki = c.dir.path().join("pki");
    let settings = minik_controller::Settings {
        cluster_signing: Some((pki.join("ca.crt"), pki.join("ca.key"))),
        ..Default::default()
    };
    let ctx = Arc::new(minik_controller::Context::new(c.client.clone(), settings));
    let _signer = Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &[minik_controller::csr_signing::build])
            .await
            .unwrap();
    })]);

    // The student's key and request, made with openssl.
    let dir = c.dir.path();
    let key = dir.join("jane.key");
    let request = dir.join("jane.csr");
    openssl(&["genrsa", "-out", key.to_str().unwrap(), "2048"]);
    openssl(&[
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        "/CN=jane/O=developers",
        "-out",
        request.to_str().unwrap(),
    ]);
    let pem = std::fs::read_to_string(&request).unwrap();
    let out = c.apply(&csr_manifest("jane", &pem));
    assert!(
        out.contains("certificatesigningrequest.certificates.k8s.io/jane created"),
        "{out}"
    );

    // Pending, with the requester the API server saw (the admin), not the CSR's subject.
    let table = c.kubectl_ok(&["get", "csr"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        vec![
            "NAME",
            "AGE",
            "SIGNERNAME",
            "REQUESTOR",
            "REQUESTEDDURATION",
            "CONDITION"
        ]
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[2], row[3], row[4], row[5]),
        (
            "jane",
            "kubernetes.io/kube-apiserver-client",
            "kubernetes-admin",
            "24h",
            "Pending"
        ),
        "{table}"
    );

    let out = c.kubectl_ok(&["certificate", "approve", "jane"]);
    assert!(
        out.contains("certificatesigningrequest.certificates.k8s.io/jane approved"),
        "{out}"
    );
    let certificate = wait_for("jane's certificate", T, || async {
        let cert = c.kubectl_ok(&["get", "csr", "jane", "-o", "jsonpath={.status.certificate}"]);
        (!cert.is_empty()).then_some(cert)
    })
    .await;
    assert!(c
        .kubectl_ok(&["get", "csr", "jane"])
        .contains("Approved,Issued"));
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD
        .decode(certificate.trim())
        .unwrap();
    let crt = dir.join("jane.crt");
    std::fs::write(&crt, &cert).unwrap();
    // openssl agrees the cluster CA signed it, for a client.
    let ca = dir.join("pki/ca.crt");
    openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        "-purpose",
        "sslclient",
        crt.to_str().unwrap(),
    ]);

    // A kubeconfig for jane, made with kubectl's own commands.
    let jane = dir.join("jane.kubeconfig");
    std::fs::copy(&c.kubeconfig, &jane).unwrap();
    let cfg = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &jane)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = cfg(&[
        "config",
        "set-credentials",
        "jane",
        "--client-key",
        key.to_str().unwrap(),
        "--client-certificate",
        crt.to_str().unwrap(),
        "--embed-certs=true",
    ]);
    assert!(ok, "{out}");
    let (ok, cluster) = cfg(&["config", "view", "-o", "jsonpath={.clusters[0].name}"]);
    assert!(ok);
    let (ok, out) = cfg(&[
        "config",
        "set-context",
        "jane",
        "--cluster",
        &cluster,
        "--user",
        "jane",
    ]);
    assert!(ok, "{out}");
    let (ok, whoami) = cfg(&["--context", "jane", "auth", "whoami"]);
    assert!(ok, "{whoami}");
    assert!(
        whoami.contains("jane") && whoami.contains("developers"),
        "{whoami}"
    );
    let (ok, err) = cfg(&["--context", "jane", "get", "pods"]);
    assert!(!ok);
    assert!(
        err.contains(
            r#"User "jane" cannot list resource "pods" in API group "" in the namespace "default""#
        ),
        "{err}"
    );
    c.kubectl_ok(&[
        "create",
        "rolebinding",
        "jane-view",
        "--clusterrole=view",
        "--group=developers",
    ]);
    let (ok, out) = cfg(&["--context", "jane", "get", "pods"]);
    assert!(ok, "{out}");

    // A denied request is never signed; a decision cannot be taken back.
    c.apply(&csr_manifest("mallory", &pem));
    let out = c.kubectl_ok(&["certificate", "deny", "mallory"]);
    assert!(out.contains("denied"), "{out}");
    let out = c.kubectl(&["certificate", "approve", "mallory"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(r#"certificate signing request "mallory" is already Denied"#),
        "{err}"
    );
    // The API server enforces it too, for clients that do not check.
    let mut denied: serde_json::Value =
        serde_json::from_str(&c.kubectl_ok(&["get", "csr", "mallory", "-o", "json"])).unwrap();
    denied["status"]["conditions"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "Approved", "status": "True", "reason": "Sneaky"}));
    let put = c
        .raw(
            "PUT",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/mallory/approval",
            "application/json",
            denied.to_string().into_bytes(),
        )
        .await;
    assert_eq!(put.code, 422, "{}", put.body);
    assert!(
        put.body["message"]
            .as_str()
            .unwrap()
            .contains("Approved and Denied conditions are mutually exclusive"),
        "{}",
        put.body
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.kubectl_ok(&[
            "get",
            "csr",
            "mallory",
            "-o",
            "jsonpath={.status.certificate}"
        ]),
        ""
    );
    // A kubelet's serving certificate: its SANs kept, for server auth;
    // a request not from a node's identity fails the signer's checks.
    let node_key = dir.join("node.key");
    let node_csr = dir.join("node.csr");
    openssl(&["genrsa", "-out", node_key.to_str().unwrap(), "2048"]);
    openssl(&[
        "req",
        "-new",
        "-key",
        node_key.to_str().unwrap(),
        "-subj",
        "/O=system:nodes/CN=system:node:node-a",
        "-addext",
        "subjectAltName=DNS:node-a,IP:127.0.0.1",
        "-out",
        node_csr.to_str().unwrap(),
    ]);
    let node_pem = std::fs::read_to_string(&node_csr).unwrap();
    let serving = |name: &str, pem: &str| {
        csr_manifest(name, pem)
            .replace("kube-apiserver-client", "kubelet-serving")
            .replace(
                "  - client auth\n",
                "  - digital signature\n  - server auth\n",
            )
    };
    c.apply(&serving("node-a-serving", &node_pem));
    c.apply(&serving("not-a-node", &pem));
    c.kubectl_ok(&["certificate", "approve", "node-a-serving", "not-a-node"]);
    let certificate = wait_for("node-a's serving certificate", T, || async {
        let cert = c.kubectl_ok(&[
            "get",
            "csr",
            "node-a-serving",
            "-o",
            "jsonpath={.status.certificate}",
        ]);
        (!cert.is_empty()).then_some(cert)
    })
    .await;
    let served = dir.join("node-a.crt");
    std::fs::write(
        &served,
        base64::engine::general_purpose::STANDARD
            .decode(certificate.trim())
            .unwrap(),
    )
    .unwrap();
    openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        "-purpose",
        "sslserver",
        served.to_str().unwrap(),
    ]);
    let text = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            served.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("DNS:node-a") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    let failed = wait_for("the non-node request Failed", T, || async {
        let reason = c.kubectl_ok(&[
            "get",
            "csr",
            "not-a-node",
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Failed")].message}"#,
        ]);
        (!reason.is_empty()).then_some(reason)
    })
    .await;
    assert_eq!(failed, "subject organization is not system:nodes (CN jane)");

    // Validation in kube-apiserver's words.
    let bad = csr_manifest("short", &pem).replace("86400", "60");
    let path = c.file("short.yaml", &bad);
    let out = c.kubectl(&["apply", "-f", &path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn apiservices_componentstatuses_field_order_and_unknown_subresources() {
    let c = TestCluster::start().await;

    // Every served group-version is a Local APIService, CRDs' as they come.
    let table = c.kubectl_ok(&["get", "apiservices"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "SERVICE", "AVAILABLE", "AGE"]);
    for name in [
        "v1.",
        "v1.apps",
        "v2.autoscaling",
        "v1beta1.metrics.k8s.io",
        "v1.apiextensions.k8s.io",
    ] {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{table}"));
        assert!(line.contains("Local") && line.contains("True"), "{line}");
    }
    c.apply(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.minik.example.com\nspec:\n  group: minik.example.com\n  scope: Namespaced\n  names: {plural: widgets, kind: Widget}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object}\n",
    );
    let available = c.kubectl_ok(&[
        "get",
        "apiservice",
        "v1.minik.example.com",
        "-o",
        "jsonpath={.status.conditions[0].reason}",
    ]);
    assert_eq!(available, "Local");
    let out = c.kubectl(&["delete", "apiservice", "v1.apps"]);
    assert!(!out.status.success(), "APIServices are not writable");

    // Endpoints are deprecated since 1.33: every answer says so, a miss
    // too; EndpointSlices, their replacement, are not.
    let endpoints =
        "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice";
    for args in [
        &["get", "endpoints", "-A"][..],
        &["get", "endpoints", "no-such-service"],
    ] {
        let out = c.kubectl(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.matches(endpoints).count(), 1, "{args:?}: {stderr}");
    }
    let out = c.kubectl(&["get", "endpointslices", "-A"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Warning"));

    // Component health: nothing runs yet but the store.
    let out = c.kubectl(&["get", "cs"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Warning: v1 ComponentStatus is deprecated in v1.19+"),
        "{stderr}"
    );
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let row = |table: &str, name: &str| -> String {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{table}"))
            .to_string()
    };
    assert!(row(&table, "scheduler").contains("Unhealthy"), "{table}");
    assert!(
        row(&table, "store-0").contains("Healthy") && row(&table, "store-0").contains("ok"),
        "{table}"
    );
    // A scheduler is up once it watches (a client named as minik-scheduler names itself).
    let scheduler = c.client_named("minik-scheduler/0.1.0 (linux/amd64)").await;
    let pods: Api<Pod> = Api::all(scheduler);
    let mut watch = pods
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let _ = tokio::time::timeout(Duration::from_millis(200), watch.next()).await;
    let table = c.kubectl_ok(&["get", "componentstatuses"]);
    assert!(
        row(&table, "scheduler").contains("Healthy")
            && !row(&table, "scheduler").contains("Unhealthy"),
        "{table}"
    );
    assert!(
        row(&table, "controller-manager").contains("Unhealthy"),
        "{table}"
    );
    drop(watch);

    // Written in Go's order, whatever order the client used.
    let body = br#"{"data":{"k":"v"},"metadata":{"labels":{"a":"b"},"name":"ordered"},"apiVersion":"v1","kind":"ConfigMap"}"#;
    let created = c
        .raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            body.to_vec(),
        )
        .await;
    assert_eq!(created.code, 201, "{}", created.body);
    let raw = c.kubectl_ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps/ordered",
    ]);
    assert!(raw.starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"ordered","namespace":"default","uid":"#), "{raw}");
    // managedFields (the create, as an Update by the client) close metadata.
    assert!(
        raw.contains(r#""labels":{"a":"b"},"managedFields":[{"manager":"#)
            && raw.ends_with(r#"}]},"data":{"k":"v"}}"#),
        "{raw}"
    );

    // What minik does not serve fails at once with a 404, never a retried 5xx.
    let started = Instant::now();
    let missing = c
        .raw(
            "GET",
            "/api/v1/namespaces/default/pods/x/frobnicate",
            "",
            vec![],
        )
        .await;
    assert_eq!(missing.code, 404, "{}", missing.body);
    assert_eq!(missing.body["kind"], "Status");
    assert!(started.elapsed() < Duration::from_secs(1));
}
