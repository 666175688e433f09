//! A corpus of malformed requests, each with the status kube-apiserver
//! answers (and, for a sample, its words): bad JSON, YAML and protobuf
//! bodies, wrong types, unknown fields under `fieldValidation=Strict`, query
//! parameters kube-apiserver refuses, bad paths and verbs, oversized bodies,
//! invalid names, conflicts, stale resourceVersions, missing namespaces.
//!
//! After the corpus the server must still answer /healthz and every object
//! created before it must be unchanged — bad input gets a clear error and
//! loses nothing. One summary line is printed.

use crate::support;

use serde_json::{json, Value};
use support::TestCluster;

/// One request of the corpus and what the server must answer.
struct Case {
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    code: u16,
    /// A fragment the `Status` message must contain.
    message: Option<String>,
}

impl Case {
    fn new(method: &'static str, path: impl Into<String>, code: u16) -> Self {
        Self {
            method,
            path: path.into(),
            content_type: "application/json",
            body: Vec::new(),
            code,
            message: None,
        }
    }

    fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = content_type;
        self.body = body.into();
        self
    }

    fn json(self, v: Value) -> Self {
        self.body("application/json", serde_json::to_vec(&v).unwrap())
    }

    fn says(mut self, fragment: impl Into<String>) -> Self {
        self.message = Some(fragment.into());
        self
    }
}

/// Sends a raw request: (status code, body as JSON or `{"raw": text}`).
async fn send(c: &TestCluster, case: &Case) -> (u16, Value) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method(case.method)
        .uri(format!("{}{}", c.url(), case.path))
        .header("content-type", case.content_type)
        .body(case.body.clone())
        .unwrap();
    let resp = c
        .client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", case.method, case.path));
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body =
        serde_json::from_slice(&bytes).unwrap_or(json!({"raw": String::from_utf8_lossy(&bytes)}));
    (code, body)
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "minik/web:v1"}]}}}})
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

/// `base` with the JSON value at `pointer` replaced by `value`.
fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    *base.pointer_mut(pointer).expect("pointer exists") = value;
    base
}

/// Every malformed request of the corpus. `kept` is a stored ConfigMap
/// (with its resourceVersion) the conflict cases update with stale versions.
fn corpus(kept: &Value) -> Vec<Case> {
    let mut cases = Vec::new();

    // Bodies that are not JSON, or not an object: 400.
    for body in [
        "{",
        "}",
        "{\"metadata\":}",
        "[1,2",
        "nul",
        "{\"a\" 1}",
        "{'single': 1}",
        "{\"metadata\":{\"name\":\"x\"}",
        "{\"data\":{\"k\":\"v\",}}",
        "{} trailing",
        "\"just a string\"",
        "42",
        "[]",
        "true",
        "null",
        "{\"metadata\":{\"name\":\"x\"}}}",
        "\u{0}\u{1}",
        "{\"metadata\":{\"name\":\"x\"},\"data\":{\"k\":\"\\q\"}}",
    ] {
        cases.push(Case::new("POST", CMS, 400).body("application/json", body));
    }
    cases.push(Case::new("POST", CMS, 400).body("application/json", vec![0xff, 0xfe, 0x00]));
    cases.push(Case::new("POST", CMS, 400).says("body is empty"));
    cases.push(Case::new("PUT", format!("{CMS}/keep-0"), 400).body("application/json", "{"));
    cases.push(Case::new("POST", DEPLOYS, 400).body("application/json", "{\"spec\":"));

    // YAML that does not parse, or is not a mapping: 400.
    for body in [
        "a: [",
        "metadata: {name: x",
        "- just\n- a list",
        "key: \"unterminated",
        "a: b\n  c: d\n e: f",
        "metadata:\n\tname: tab",
        "&anchor a: *missing",
        "just a scalar",
    ] {
        cases.push(Case::new("POST", CMS, 400).body("application/yaml", body));
    }

    // Protobuf that is not Kubernetes' envelope, or not a ConfigMap: 400.
    let pb = "application/vnd.kubernetes.protobuf";
    for body in [
        b"garbage".to_vec(),
        b"k8s\x00".to_vec(),
        b"k8s\x00\xff\xff\xff\xff".to_vec(),
        b"k8s\x00\x0a\x05\x0a\x02v1".to_vec(),
        vec![0x0a; 64],
        (0u8..=255).collect(),
    ] {
        cases.push(Case::new("POST", CMS, 400).body(pb, body));
    }

    // Wrong types: 400 with Go's words.
    let c = cm("typed");
    for (pointer, value) in [
        ("/data", json!([])),
        ("/data", json!("s")),
        ("/data", json!({"k": 1})),
        ("/metadata", json!("x")),
        ("/metadata/name", json!(5)),
        ("/kind", json!(1)),
    ] {
        cases.push(Case::new("POST", CMS, 400).json(with(c.clone(), pointer, value)));
    }
    let mut labels = c.clone();
    labels["metadata"]["labels"] = json!("a");
    cases.push(Case::new("POST", CMS, 400).json(labels));
    let mut immutable = c.clone();
    immutable["immutable"] = json!("yes");
    cases.push(Case::new("POST", CMS, 400).json(immutable));
    let d = deployment("typed");
    cases.push(
        Case::new("POST", DEPLOYS, 400)
            .json(with(d.clone(), "/spec/replicas", json!("three")))
            .says("replicas"),
    );
    for (pointer, value) in [
        ("/spec/replicas", json!(1.5)),
        ("/spec", json!([])),
        ("/spec/template/spec/containers", json!({})),
        ("/spec/selector/matchLabels", json!(["app"])),
        ("/spec/template/spec/containers/0/image", json!(7)),
    ] {
        cases.push(Case::new("POST", DEPLOYS, 400).json(with(d.clone(), pointer, value)));
    }
    let p = pod("typed");
    cases.push(Case::new("POST", PODS, 400).json(with(p.clone(), "/spec/containers", json!("x"))));
    let mut deadline = p.clone();
    deadline["spec"]["activeDeadlineSeconds"] = json!("soon");
    cases.push(Case::new("POST", PODS, 400).json(deadline));

    // Unknown fields under fieldValidation=Strict: 400; an unknown mode: 400.
    let strict = |base: &str| format!("{base}?fieldValidation=Strict");
    let mut unknown = cm("strict");
    unknown["bogus"] = json!(1);
    cases.push(
        Case::new("POST", strict(CMS), 400)
            .json(unknown)
            .says("strict decoding error"),
    );
    let mut unknown = cm("strict");
    unknown["metadata"]["bogus"] = json!(1);
    cases.push(Case::new("POST", strict(CMS), 400).json(unknown));
    let mut unknown = cm("strict");
    unknown["spec"] = json!({});
    cases.push(Case::new("POST", strict(CMS), 400).json(unknown));
    let mut unknown = deployment("strict");
    unknown["spec"]["bogus"] = json!(true);
    cases.push(Case::new("POST", strict(DEPLOYS), 400).json(unknown));
    let mut unknown = pod("strict");
    unknown["spec"]["containers"][0]["bogus"] = json!("x");
    cases.push(Case::new("POST", strict(PODS), 400).json(unknown));
    cases.push(
        Case::new("POST", format!("{CMS}?fieldValidation=Bogus"), 400)
            .json(cm("fv"))
            .says("fieldValidation: Unsupported value: \"Bogus\""),
    );
    cases.push(
        Case::new("PUT", format!("{CMS}/keep-0?fieldValidation=strict"), 400).json(kept.clone()),
    );
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-0?fieldValidation=1"), 400)
            .body("application/merge-patch+json", "{}"),
    );

    // dryRun other than All: 422 on the request's options.
    for value in ["Bogus", "all", "true", "1", "None"] {
        cases.push(
            Case::new("POST", format!("{CMS}?dryRun={value}"), 422)
                .json(cm("dry"))
                .says(format!(
                    "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: \"{value}\": supported values: \"All\""
                )),
        );
    }
    cases.push(Case::new("POST", format!("{CMS}?dryRun=All&dryRun=x"), 422).json(cm("dry")));
    cases.push(
        Case::new("PUT", format!("{CMS}/keep-0?dryRun=all"), 422)
            .json(kept.clone())
            .says("UpdateOptions.meta.k8s.io"),
    );
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-0?dryRun=Bogus"), 422)
            .body(
                "application/merge-patch+json",
                "{\"data\":{\"k\":\"changed\"}}",
            )
            .says("PatchOptions.meta.k8s.io"),
    );
    cases.push(
        Case::new("DELETE", format!("{CMS}/keep-0?dryRun=Bogus"), 422)
            .says("DeleteOptions.meta.k8s.io"),
    );
    cases.push(Case::new("DELETE", format!("{CMS}?dryRun=yes"), 422));
    // dryRun=All is accepted and writes nothing (checked with the store).
    cases.push(Case::new("POST", format!("{CMS}?dryRun=All"), 201).json(cm("dry-run-only")));
    cases.push(Case::new("DELETE", format!("{CMS}/keep-1?dryRun=All"), 200));
    // ... and as kubectl sends it, in the DeleteOptions body (one object,
    // then the whole collection): every object stays.
    let dry_body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background", "dryRun": ["All"]});
    cases.push(Case::new("DELETE", format!("{CMS}/keep-3"), 200).json(dry_body.clone()));
    cases.push(Case::new("DELETE", CMS, 200).json(dry_body));
    cases.push(
        Case::new("DELETE", format!("{CMS}/keep-3"), 422)
            .json(json!({"dryRun": ["Bogus"]}))
            .says("DeleteOptions.meta.k8s.io"),
    );
    cases.push(
        Case::new("DELETE", format!("{CMS}/keep-3"), 400)
            .json(json!({"dryRun": "All"}))
            .says("DeleteOptions.dryRun"),
    );
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-2?dryRun=All"), 200)
            .body("application/merge-patch+json", "{\"data\":{\"k\":\"dry\"}}"),
    );

    // resourceVersion that is not one: 400.
    for rv in ["abc", "-1", "1.5", "0x10", "1e3", "%20"] {
        cases.push(
            Case::new("GET", format!("{CMS}?resourceVersion={rv}"), 400)
                .says("resourceVersion: Invalid value"),
        );
    }
    cases.push(
        Case::new("GET", format!("{CMS}/keep-0?resourceVersion=abc"), 400).says(
            "resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax",
        ),
    );
    cases.push(Case::new(
        "GET",
        format!("{CMS}?watch=true&resourceVersion=abc"),
        400,
    ));
    cases.push(Case::new(
        "GET",
        "/api/v1/namespaces?resourceVersion=latest",
        400,
    ));

    // resourceVersionMatch: 422 on ListOptions.
    cases.push(
        Case::new(
            "GET",
            format!("{CMS}?resourceVersion=1&resourceVersionMatch=Bogus"),
            422,
        )
        .says("resourceVersionMatch: Unsupported value: \"Bogus\": supported values: \"Exact\", \"NotOlderThan\", \"\""),
    );
    cases.push(
        Case::new("GET", format!("{CMS}?resourceVersionMatch=Exact"), 422)
            .says("resourceVersionMatch is forbidden unless resourceVersion is provided"),
    );
    cases.push(Case::new(
        "GET",
        format!("{CMS}?resourceVersionMatch=NotOlderThan"),
        422,
    ));
    cases.push(Case::new(
        "GET",
        format!("{CMS}?resourceVersion=0&resourceVersionMatch=Exact"),
        422,
    ));
    cases.push(Case::new(
        "GET",
        format!("{CMS}?resourceVersion=1&resourceVersionMatch=exact"),
        422,
    ));
    // ... and accepted when well formed.
    cases.push(Case::new(
        "GET",
        format!("{CMS}?resourceVersion=0&resourceVersionMatch=NotOlderThan"),
        200,
    ));

    // Selectors: unsupported field labels and bad syntax are 400.
    cases.push(
        Case::new("GET", format!("{CMS}?fieldSelector=foo.bar%3Dbaz"), 400)
            .says("field label not supported: foo.bar"),
    );
    for (path, field) in [
        (PODS, "spec.bogus"),
        (PODS, "metadata.labels"),
        ("/api/v1/nodes", "status.phase"),
        ("/api/v1/nodes", "metadata.namespace"),
        ("/api/v1/namespaces/default/events", "message"),
        (DEPLOYS, "spec.replicas"),
        ("/api/v1/namespaces", "spec.finalizers"),
        ("/api/v1/namespaces/default/secrets", "data"),
        ("/api/v1/namespaces/default/services", "spec.ports"),
    ] {
        cases.push(
            Case::new("GET", format!("{path}?fieldSelector={field}%3Dx"), 400)
                .says(format!("field label not supported: {field}")),
        );
    }
    cases.push(Case::new(
        "GET",
        format!("{CMS}?watch=true&fieldSelector=data.k%3Dv"),
        400,
    ));
    cases.push(Case::new(
        "DELETE",
        format!("{CMS}?fieldSelector=data.k%3Dv"),
        400,
    ));
    for (path, field) in [
        (PODS, "spec.nodeName"),
        (PODS, "status.phase"),
        ("/api/v1/nodes", "spec.unschedulable"),
        ("/api/v1/namespaces/default/events", "involvedObject.name"),
        ("/api/v1/namespaces/default/secrets", "type"),
        (CMS, "metadata.name"),
        (CMS, "metadata.namespace"),
    ] {
        cases.push(Case::new(
            "GET",
            format!("{path}?fieldSelector={field}%3Dx"),
            200,
        ));
    }
    for q in [
        "fieldSelector=abc",
        "fieldSelector=a%3Db%3Dc",
        "labelSelector=a%20in%20(b",
        "labelSelector=!!",
        "labelSelector=a%3D%3D%3Db",
        "limit=abc",
        "limit=-1",
        "continue=garbage",
        "continue=eyJ4IjoxfQ",
    ] {
        cases.push(Case::new("GET", format!("{CMS}?{q}"), 400));
    }

    // Paths that name nothing: 404.
    for path in [
        "/api/v2/pods",
        "/api/v1/bogus",
        "/apis/nope/v1/things",
        "/apis/apps/v9/deployments",
        "/api/v1/namespaces/default/configmaps/a/b/c",
        "/api/v1/namespaces/default/nodes",
        "/api/v1/namespaces/default/configmaps/keep-0/bogus",
        "/bogus",
        "/api/v1/namespaces/default/configmaps/missing",
        "/api/v1/namespaces/default/pods/missing/status",
        "/apis/apps/v1/namespaces/default/deployments/missing/scale",
        "/api/v1/nodes/missing",
    ] {
        cases.push(Case::new("GET", path, 404));
    }
    cases.push(
        Case::new("GET", format!("{CMS}/missing"), 404).says("configmaps \"missing\" not found"),
    );
    cases.push(Case::new("DELETE", format!("{CMS}/missing"), 404));
    cases.push(
        Case::new("PATCH", format!("{CMS}/missing"), 404)
            .body("application/merge-patch+json", "{}"),
    );
    cases.push(Case::new("PUT", format!("{CMS}/missing"), 404).json(cm("missing")));

    // Verbs a path does not take: 405.
    for (method, path) in [
        ("PUT", CMS.to_string()),
        ("PATCH", CMS.to_string()),
        ("POST", format!("{CMS}/keep-0")),
        ("PUT", "/api/v1/namespaces".to_string()),
        ("PATCH", "/api/v1/nodes".to_string()),
        ("POST", "/api/v1/nodes/n1".to_string()),
        ("PUT", DEPLOYS.to_string()),
        ("POST", format!("{DEPLOYS}/keep")),
    ] {
        cases.push(Case::new(method, path, 405).json(json!({})));
    }

    // Bodies over kube-apiserver's 3 MiB limit: 413.
    let big = |n: usize| {
        let mut v = br#"{"metadata":{"name":"big"},"data":{"k":""#.to_vec();
        v.extend(std::iter::repeat_n(b'x', n));
        v.extend_from_slice(br#""}}"#);
        v
    };
    cases.push(
        Case::new("POST", CMS, 413)
            .body("application/json", big(4 << 20))
            .says("Request entity too large: limit is 3145728"),
    );
    cases.push(Case::new("POST", CMS, 413).body("application/json", big(3 << 20)));
    cases.push(
        Case::new("PUT", format!("{CMS}/keep-0"), 413).body("application/json", big(5 << 20)),
    );
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-0"), 413)
            .body("application/merge-patch+json", big(4 << 20)),
    );
    cases.push(Case::new("POST", CMS, 413).body("application/yaml", big(4 << 20)));

    // Names and metadata that break the rules: 422.
    for name in [
        "UPPER",
        "under_score",
        "-lead",
        "trail-",
        "a b",
        "dots..dots",
        ".",
        "ünïcode",
        &"a".repeat(254),
    ] {
        cases.push(Case::new("POST", CMS, 422).json(cm(name)));
    }
    cases.push(
        Case::new("POST", CMS, 422)
            .json(cm("Bad_Name"))
            .says("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""),
    );
    for name in ["a.b", "Ab", &"n".repeat(64)] {
        cases
            .push(Case::new("POST", "/api/v1/namespaces", 422).json(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            ));
    }
    cases.push(Case::new("POST", DEPLOYS, 422).json(deployment("web_1")));
    cases.push(
        Case::new("POST", CMS, 422)
            .json(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}))
            .says("name or generateName is required"),
    );
    let mut bad_label = cm("labels");
    bad_label["metadata"]["labels"] = json!({"bad key!": "v"});
    cases.push(Case::new("POST", CMS, 422).json(bad_label));
    let mut long_label = cm("labels");
    long_label["metadata"]["labels"] = json!({"k": "v".repeat(64)});
    cases.push(Case::new("POST", CMS, 422).json(long_label));
    let mut bad_annotation = cm("annotations");
    bad_annotation["metadata"]["annotations"] = json!({"/bad": "v"});
    cases.push(Case::new("POST", CMS, 422).json(bad_annotation));
    cases.push(Case::new("POST", DEPLOYS, 422).json(with(
        deployment("mismatch"),
        "/spec/template/metadata/labels",
        json!({"app": "other"}),
    )));
    cases.push(Case::new("POST", DEPLOYS, 422).json(with(
        deployment("negative"),
        "/spec/replicas",
        json!(-1),
    )));
    cases.push(Case::new("POST", PODS, 422).json(with(
        pod("empty"),
        "/spec/containers",
        json!([]),
    )));

    // Conflicts: 409.
    for i in 0..5 {
        cases.push(
            Case::new("POST", CMS, 409)
                .json(cm(&format!("keep-{i}")))
                .says(format!("configmaps \"keep-{i}\" already exists")),
        );
    }
    cases.push(Case::new("POST", DEPLOYS, 409).json(deployment("keep")));
    for stale in ["1", "2", "3", "999999"] {
        let mut update = kept.clone();
        update["metadata"]["resourceVersion"] = json!(stale);
        update["data"] = json!({"k": "lost"});
        cases.push(
            Case::new("PUT", format!("{CMS}/keep-0"), 409)
                .json(update)
                .says("the object has been modified"),
        );
    }
    cases.push(Case::new("PATCH", format!("{CMS}/keep-0"), 409).body(
        "application/merge-patch+json",
        r#"{"metadata":{"resourceVersion":"1"},"data":{"k":"lost"}}"#,
    ));
    // The name in the body must be the name in the URL: 400.
    cases.push(Case::new("PUT", format!("{CMS}/keep-0"), 400).json(with(
        kept.clone(),
        "/metadata/name",
        json!("keep-1"),
    )));

    // A namespace that does not exist: 404.
    for path in [
        "/api/v1/namespaces/nope/configmaps",
        "/api/v1/namespaces/nope/secrets",
        "/apis/apps/v1/namespaces/nope/deployments",
    ] {
        let body = if path.ends_with("deployments") {
            deployment("x")
        } else {
            json!({"metadata": {"name": "x"}})
        };
        cases.push(
            Case::new("POST", path, 404)
                .json(body)
                .says("namespaces \"nope\" not found"),
        );
    }

    // Patches that do not decode (400) or do not apply (422), and media
    // types the server does not read (415).
    let json_patch = "application/json-patch+json";
    cases.push(Case::new("PATCH", format!("{CMS}/keep-0"), 400).body(json_patch, "{}"));
    cases.push(Case::new("PATCH", format!("{CMS}/keep-0"), 400).body(json_patch, "[{"));
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-0"), 422)
            .body(json_patch, r#"[{"op":"remove","path":"/data/missing"}]"#),
    );
    cases.push(Case::new("PATCH", format!("{CMS}/keep-0"), 422).body(
        json_patch,
        r#"[{"op":"test","path":"/data/k","value":"no"}]"#,
    ));
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-0"), 400)
            .body("application/merge-patch+json", "{\"data\":"),
    );
    cases.push(
        Case::new("PATCH", format!("{CMS}/keep-0"), 400)
            .body("application/strategic-merge-patch+json", "nope"),
    );
    cases.push(Case::new("PATCH", format!("{CMS}/keep-0"), 415).body("text/plain", "{}"));
    cases.push(
        Case::new("POST", CMS, 415).body("text/plain", serde_json::to_vec(&cm("plain")).unwrap()),
    );
    cases.push(
        Case::new("PUT", format!("{CMS}/keep-0"), 415).body("application/xml", "<ConfigMap/>"),
    );
    cases
}

#[tokio::test]
async fn malformed_requests_get_clear_errors_and_lose_nothing() {
    let c = TestCluster::start().await;
    // What exists before the corpus.
    let mut kept = Value::Null;
    for i in 0..10 {
        let mut obj = cm(&format!("keep-{i}"));
        obj["data"] = json!({"k": format!("value-{i}"), "n": i.to_string()});
        let (code, stored) = send(&c, &Case::new("POST", CMS, 201).json(obj)).await;
        assert_eq!(code, 201, "{stored}");
        if i == 0 {
            kept = stored;
        }
    }
    let (code, stored) = send(
        &c,
        &Case::new("POST", DEPLOYS, 201).json(deployment("keep")),
    )
    .await;
    assert_eq!(code, 201, "{stored}");
    let snapshot = || async {
        let mut all = Vec::new();
        for path in [CMS, DEPLOYS, PODS, "/api/v1/namespaces"] {
            let (code, list) = send(&c, &Case::new("GET", path, 200)).await;
            assert_eq!(code, 200, "{list}");
            all.push(list["items"].clone());
        }
        all
    };
    let before = snapshot().await;

    let cases = corpus(&kept);
    let mut unexpected = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (code, body) = send(&c, case).await;
        let message = body["message"].as_str().unwrap_or("");
        let words_ok = case.message.as_deref().is_none_or(|m| message.contains(m));
        // Every refusal is a Status, in kube-apiserver's shape.
        let status_ok = code < 400 || body["kind"] == "Status" && body["code"] == code;
        if code != case.code || !words_ok || !status_ok {
            let shown: String = case.path.chars().take(120).collect();
            unexpected.push(format!(
                "#{i} {} {shown} {}: expected {}{}, got {code} {}",
                case.method,
                String::from_utf8_lossy(&case.body)
                    .chars()
                    .take(200)
                    .collect::<String>(),
                case.code,
                case.message
                    .as_deref()
                    .map(|m| format!(" ({m:?})"))
                    .unwrap_or_default(),
                body.to_string().chars().take(300).collect::<String>()
            ));
        }
    }

    let (code, _) = send(&c, &Case::new("GET", "/healthz", 200)).await;
    assert_eq!(code, 200, "the server still answers /healthz");
    let after = snapshot().await;
    let intact = before == after;
    println!(
        "fault_input: {} requests, {} unexpected, store {}",
        cases.len(),
        unexpected.len(),
        if intact { "intact" } else { "CHANGED" }
    );
    assert!(
        cases.len() >= 150,
        "the corpus has {} requests",
        cases.len()
    );
    assert!(
        unexpected.is_empty(),
        "unexpected answers:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(
        before, after,
        "objects created before the corpus are unchanged"
    );
}
