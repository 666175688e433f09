//! The real `kubectl` (v1.32) sending Kubernetes protobuf bodies: its typed
//! `create` subcommands and `autoscale` POST `application/vnd.kubernetes.protobuf`,
//! which minik-apiserver decodes (`minik_api::protobuf`) into the same
//! objects a JSON body would give. Each command's verbose log is checked to
//! prove the body really was protobuf, and the stored object is read back.
//! Also: malformed or unsupported protobuf bodies are 400s naming the kind.

use crate::support;

use serde_json::{json, Value};
use support::TestCluster;

const PROTOBUF: &str = "Content-Type: application/vnd.kubernetes.protobuf";

/// A throwaway self-signed P-256 pair, made for this test only (kubectl
/// checks that the two match before it sends the Secret).
const TLS_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBgjCCASegAwIBAgIUT7ua8PeHriCHqabK0CLvDlXhOEwwCgYIKoZIzj0EAwIw\nFTETMBEGA1UEAwwKbWluaWstdGVzdDAgFw0yNjExMjExMjQ2MTZaGA8yMTI2MTAy\nODEyNDYxNlowFTETMBEGA1UEAwwKbWluaWstdGVzdDBZMBMGByqGSM49AgEGCCqG\nSM49AwEHA0IABB3v+oRbvGQp2RmmV/VoEXmolh+wG+/cRGEDGaVmeZSZ5LSDQlBv\nnLiJGc2VnFIYAf6ut2fIGgtij0jZMXUJW6qjUzBRMB0GA1UdDgQWBBT3M3HmfP8G\nhBsebnA9OduxENyNCjAfBgNVHSMEGDAWgBT3M3HmfP8GhBsebnA9OduxENyNCjAP\nBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDUuqKxYu67ejvqVYKY\noangixnkcoFI7JtvlTbmOPBv+QIhAKECtZvopTzL5ipB7LIgVaIgBW49y0KZVgtB\n4+7LTOWF\n-----END CERTIFICATE-----\n";
const TLS_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLf8MATprBqMeXz4y\nEHRuOqqJNxj7oiSJyyVg/QBg2dShRANCAAQd7/qEW7xkKdkZplf1aBF5qJYfsBvv\n3ERhAxmlZnmUmeS0g0JQb5y4iRnNlZxSGAH+rrdnyBoLYo9I2TF1CVuq\n-----END PRIVATE KEY-----\n";

/// Runs a kubectl command that creates an object, asserting it succeeded
/// and sent its body as protobuf.
fn create(c: &TestCluster, args: &[&str]) -> String {
    let mut all = vec!["-v=8"];
    all.extend_from_slice(args);
    let out = c.kubectl(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubectl {} failed: {stderr}",
        args.join(" ")
    );
    assert!(
        stderr.contains(PROTOBUF),
        "kubectl {} did not send protobuf:\n{stderr}",
        args.join(" ")
    );
    String::from_utf8(out.stdout).unwrap()
}

fn get(c: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.kubectl_ok(&all)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_configmap_secrets_serviceaccount_quota() {
    let c = TestCluster::start().await;

    let out = create(&c, &["create", "namespace", "shop"]);
    assert!(out.contains("namespace/shop created"), "{out}");
    let ns = get(&c, &["namespace", "shop"]);
    assert_eq!(ns["metadata"]["name"], "shop");
    assert_eq!(ns["status"]["phase"], "Active");

    create(
        &c,
        &[
            "create",
            "configmap",
            "c",
            "-n",
            "shop",
            "--from-literal=a=b",
            "--from-literal=x=",
        ],
    );
    let bin = c.dir.path().join("blob");
    std::fs::write(&bin, [0x00, 0x01, b'b', 0xff]).unwrap();
    let from_file = format!("--from-file=blob={}", bin.display());
    create(
        &c,
        &["create", "configmap", "bin", "-n", "shop", &from_file],
    );
    let cm = get(&c, &["configmap", "c", "-n", "shop"]);
    assert_eq!(cm["data"], json!({"a": "b", "x": ""}));
    assert_eq!(cm["metadata"]["namespace"], "shop");
    let cm = get(&c, &["configmap", "bin", "-n", "shop"]);
    // Not UTF-8, so kubectl puts it in binaryData; base64 of the file's bytes.
    assert_eq!(cm["binaryData"]["blob"], "AAFi/w==");

    create(
        &c,
        &["create", "secret", "generic", "s", "--from-literal=p=q"],
    );
    let s = get(&c, &["secret", "s"]);
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["data"], json!({"p": "cQ=="}));

    create(
        &c,
        &[
            "create",
            "secret",
            "docker-registry",
            "r",
            "--docker-server=registry.test",
            "--docker-username=u",
            "--docker-password=p",
        ],
    );
    let r = get(&c, &["secret", "r"]);
    assert_eq!(r["type"], "kubernetes.io/dockerconfigjson");
    assert!(r["data"][".dockerconfigjson"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));

    let cert = c.file("tls.crt", TLS_CERT);
    let key = c.file("tls.key", TLS_KEY);
    create(
        &c,
        &[
            "create", "secret", "tls", "t", "--cert", &cert, "--key", &key,
        ],
    );
    let t = get(&c, &["secret", "t"]);
    assert_eq!(t["type"], "kubernetes.io/tls");
    let crt = t["data"]["tls.crt"].as_str().unwrap();
    assert!(
        crt.starts_with("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"),
        "{crt}"
    );

    create(&c, &["create", "serviceaccount", "robot"]);
    let sa = get(&c, &["serviceaccount", "robot"]);
    assert_eq!(sa["metadata"]["name"], "robot");

    create(
        &c,
        &["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2"],
    );
    let q = get(&c, &["resourcequota", "q"]);
    assert_eq!(
        q["spec"]["hard"],
        json!({"cpu": "1", "memory": "1G", "pods": "2"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_deployment_job_cronjob() {
    let c = TestCluster::start().await;

    create(
        &c,
        &[
            "create",
            "deployment",
            "d",
            "--image=busybox",
            "--replicas=2",
            "--port=80",
        ],
    );
    let d = get(&c, &["deployment", "d"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "d"}}));
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "busybox");
    assert_eq!(container["image"], "busybox");
    // Go writes hostPort: 0 on the wire; Go's JSON (and minik) drop it.
    assert_eq!(
        container["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );

    // replicas is a pointer in Go: an explicit 0 must not become the default 1.
    create(
        &c,
        &[
            "create",
            "deployment",
            "zero",
            "--image=busybox",
            "--replicas=0",
        ],
    );
    assert_eq!(get(&c, &["deployment", "zero"])["spec"]["replicas"], 0);

    create(
        &c,
        &["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    );
    let j = get(&c, &["job", "j"]);
    let spec = &j["spec"]["template"]["spec"];
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["containers"][0]["command"], json!(["echo", "hi"]));

    create(
        &c,
        &[
            "create",
            "cronjob",
            "cj",
            "--image=busybox",
            "--schedule=*/1 * * * *",
        ],
    );
    let cj = get(&c, &["cronjob", "cj"]);
    assert_eq!(cj["spec"]["schedule"], "*/1 * * * *");
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );

    // A Job from the CronJob carries an ownerReference (pointer bools set).
    create(&c, &["create", "job", "manual", "--from=cronjob/cj"]);
    let manual = get(&c, &["job", "manual"]);
    let owner = &manual["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob");
    assert_eq!(owner["name"], "cj");
    assert_eq!(owner["uid"], cj["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_of_every_type() {
    let c = TestCluster::start().await;

    create(
        &c,
        &["create", "service", "clusterip", "ci", "--tcp=5678:8080"],
    );
    let ci = get(&c, &["service", "ci"]);
    assert_eq!(ci["spec"]["type"], "ClusterIP");
    assert_eq!(ci["spec"]["ports"][0]["port"], 5678);
    assert_eq!(ci["spec"]["ports"][0]["targetPort"], 8080);
    assert!(ci["spec"]["clusterIP"]
        .as_str()
        .is_some_and(|ip| ip.starts_with("10.96.")));
    assert!(ci["spec"]["ports"][0].get("nodePort").is_none());

    create(
        &c,
        &[
            "create",
            "service",
            "clusterip",
            "headless",
            "--clusterip=None",
        ],
    );
    assert_eq!(
        get(&c, &["service", "headless"])["spec"]["clusterIP"],
        "None"
    );

    create(&c, &["create", "service", "nodeport", "n", "--tcp=80:8080"]);
    let n = get(&c, &["service", "n"]);
    assert_eq!(n["spec"]["type"], "NodePort");
    let node_port = n["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&node_port), "{node_port}");

    create(
        &c,
        &[
            "create",
            "service",
            "nodeport",
            "fixed",
            "--tcp=80:8080",
            "--node-port=30123",
        ],
    );
    assert_eq!(
        get(&c, &["service", "fixed"])["spec"]["ports"][0]["nodePort"],
        30123
    );

    create(
        &c,
        &["create", "service", "loadbalancer", "lb", "--tcp=443:8443"],
    );
    assert_eq!(get(&c, &["service", "lb"])["spec"]["type"], "LoadBalancer");

    create(
        &c,
        &[
            "create",
            "service",
            "externalname",
            "en",
            "--external-name=db.example.test",
        ],
    );
    let en = get(&c, &["service", "en"]);
    assert_eq!(en["spec"]["type"], "ExternalName");
    assert_eq!(en["spec"]["externalName"], "db.example.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_and_autoscale() {
    let c = TestCluster::start().await;

    create(
        &c,
        &[
            "create",
            "ingress",
            "i",
            "--rule=foo.com/bar=svc:80",
            "--rule=foo.com/api*=api:http",
        ],
    );
    let i = get(&c, &["ingress", "i"]);
    let paths = &i["spec"]["rules"][0]["http"]["paths"];
    assert_eq!(i["spec"]["rules"][0]["host"], "foo.com");
    assert_eq!(paths[0]["path"], "/bar");
    assert_eq!(paths[0]["pathType"], "Exact");
    assert_eq!(
        paths[0]["backend"]["service"],
        json!({"name": "svc", "port": {"number": 80}})
    );
    assert_eq!(paths[1]["pathType"], "Prefix");
    assert_eq!(
        paths[1]["backend"]["service"]["port"],
        json!({"name": "http"})
    );

    create(&c, &["create", "deployment", "d", "--image=busybox"]);
    let out = create(
        &c,
        &[
            "autoscale",
            "deployment",
            "d",
            "--max=5",
            "--min=2",
            "--cpu-percent=50",
        ],
    );
    assert!(out.contains("autoscaled"), "{out}");
    let hpa = get(&c, &["horizontalpodautoscalers.v2.autoscaling", "d"]);
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 5);
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"})
    );
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );
}

// ---------------------------------------------------------------- errors

fn varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    out.push(number << 3 | 2);
    varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// `k8s\0` + runtime.Unknown{typeMeta{apiVersion, kind}, raw}.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, api_version.as_bytes());
    field(&mut type_meta, 2, kind.as_bytes());
    let mut body = b"k8s\0".to_vec();
    field(&mut body, 1, &type_meta);
    field(&mut body, 2, raw);
    body
}

async fn post_protobuf(c: &TestCluster, path: &str, body: Vec<u8>) -> (u16, Value) {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", c.url()))
        .header("content-type", "application/vnd.kubernetes.protobuf")
        .header("accept", "application/json")
        .body(kube::client::Body::from(body))
        .unwrap();
    let resp = c.client.send(req).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_unsupported_protobuf_is_a_bad_request() {
    let c = TestCluster::start().await;

    // A ConfigMap whose metadata claims 5 bytes but has 2.
    let body = envelope("v1", "ConfigMap", &[0x0a, 0x05, b'a', b'b']);
    let (code, status) = post_protobuf(&c, "/api/v1/namespaces/default/configmaps", body).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("ConfigMap"), "{message}");
    assert!(message.contains("metadata"), "{message}");

    // A kind minik does not decode from protobuf.
    let body = envelope("scheduling.k8s.io/v1", "PriorityClass", &[]);
    let (code, status) = post_protobuf(&c, "/api/v1/namespaces/default/configmaps", body).await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("PriorityClass"),
        "{status}"
    );

    // No magic prefix.
    let (code, _) =
        post_protobuf(&c, "/api/v1/namespaces/default/configmaps", b"{}".to_vec()).await;
    assert_eq!(code, 400);

    // A well-formed body is accepted: ConfigMap{metadata{name: "ok"}, data{k: v}}.
    let mut meta = Vec::new();
    field(&mut meta, 1, b"ok");
    let mut entry = Vec::new();
    field(&mut entry, 1, b"k");
    field(&mut entry, 2, b"v");
    let mut raw = Vec::new();
    field(&mut raw, 1, &meta);
    field(&mut raw, 2, &entry);
    let (code, created) = post_protobuf(
        &c,
        "/api/v1/namespaces/default/configmaps",
        envelope("v1", "ConfigMap", &raw),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["data"], json!({"k": "v"}));
    assert_eq!(created["metadata"]["namespace"], "default");
}
