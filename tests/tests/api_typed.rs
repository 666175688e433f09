//! The typed boundary: objects are decoded into their kind's type as
//! kube-apiserver decodes into Go structs. A field of the wrong type is
//! refused (400 for a body, 422 for a patch's result) and nothing is stored;
//! unknown fields follow `fieldValidation` (Warn by default: dropped with a
//! `Warning` header; Strict: 400; Ignore: dropped silently). The real kubectl
//! sends `fieldValidation=Strict` and prints the server's words.

use crate::support;

use serde_json::{json, Value};
use support::TestCluster;

/// Sends a JSON request: (status code, `Warning` headers, body).
async fn raw(
    c: &TestCluster,
    method: &str,
    path: &str,
    ct: &str,
    body: Value,
) -> (u16, Vec<String>, Value) {
    let r = c
        .raw(method, path, ct, serde_json::to_vec(&body).unwrap())
        .await;
    (r.code, r.warnings, r.body)
}

fn deployment(name: &str, replicas: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    })
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const JSON: &str = "application/json";

#[tokio::test]
async fn wrong_types_are_refused_and_nothing_is_stored() {
    let c = TestCluster::start().await;
    for (replicas, found) in [
        (json!("three"), "string"),
        (json!(1.5), "number 1.5"),
        (json!(1u64 << 40), "number 1099511627776"),
    ] {
        let (code, _, body) =
            raw(&c, "POST", DEPLOYMENTS, JSON, deployment("typed", replicas)).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(body["reason"], "BadRequest");
        let msg = body["message"].as_str().unwrap();
        assert!(
            msg.starts_with("Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal ")
                && msg.contains(&format!("unmarshal {found} into Go struct field"))
                && msg.ends_with(".spec.replicas of type int32"),
            "{msg}"
        );
    }
    let (code, _, _) = raw(
        &c,
        "GET",
        &format!("{DEPLOYMENTS}/typed"),
        JSON,
        Value::Null,
    )
    .await;
    assert_eq!(code, 404, "a refused create stores nothing");

    // A patch whose result has the wrong type: 422, the stored object unchanged.
    let (code, _, _) = raw(&c, "POST", DEPLOYMENTS, JSON, deployment("typed", json!(2))).await;
    assert_eq!(code, 201);
    for ct in [
        "application/strategic-merge-patch+json",
        "application/merge-patch+json",
    ] {
        let (code, _, body) = raw(
            &c,
            "PATCH",
            &format!("{DEPLOYMENTS}/typed"),
            ct,
            json!({"spec": {"replicas": "many"}}),
        )
        .await;
        assert_eq!(code, 422, "{ct}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("cannot unmarshal string"),
            "{body}"
        );
    }
    let (_, _, stored) = raw(
        &c,
        "GET",
        &format!("{DEPLOYMENTS}/typed"),
        JSON,
        Value::Null,
    )
    .await;
    assert_eq!(stored["spec"]["replicas"], 2);
}

#[tokio::test]
async fn unknown_fields_follow_field_validation() {
    let c = TestCluster::start().await;
    let with_typo = |name: &str| {
        let mut d = deployment(name, json!(1));
        d["spec"]["lables"] = json!({"a": "b"});
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = json!("Always");
        d
    };
    // Strict: refused, in kube-apiserver's words.
    let (code, _, body) = raw(
        &c,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Strict"),
        JSON,
        with_typo("strict"),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: \
         unknown field \"spec.template.spec.containers[0].imagePullPolice\", unknown field \"spec.lables\""
    );
    // Warn (the default): stored without them, one warning each.
    let (code, warnings, body) = raw(&c, "POST", DEPLOYMENTS, JSON, with_typo("warn")).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        warnings,
        [
            "299 - \"unknown field \\\"spec.template.spec.containers[0].imagePullPolice\\\"\"",
            "299 - \"unknown field \\\"spec.lables\\\"\""
        ]
    );
    assert!(body["spec"].get("lables").is_none());
    // Ignore: stored without them, silently.
    let (code, warnings, body) = raw(
        &c,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Ignore"),
        JSON,
        with_typo("ignore"),
    )
    .await;
    assert_eq!((code, warnings.len()), (201, 0), "{body}");
    assert!(body["spec"].get("lables").is_none());
    // An unknown mode is refused.
    let (code, _, body) = raw(
        &c,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Bogus"),
        JSON,
        deployment("bogus", json!(1)),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Unsupported value: \"Bogus\""));
}

#[tokio::test]
async fn apply_names_the_object_of_the_url() {
    let c = TestCluster::start().await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}, "data": {"a": "b"}});
    let (code, _, body) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/applied2?fieldManager=t",
        "application/apply-patch+yaml",
        cm,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, _, _) = raw(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps/other",
        JSON,
        Value::Null,
    )
    .await;
    assert_eq!(code, 404, "nothing created under the body's name");
}

/// Runs `kubectl <verb> [flags] -f <obj>`; its stderr and whether it succeeded.
fn kubectl_with_file(c: &TestCluster, verb: &[&str], name: &str, obj: &Value) -> (bool, String) {
    let file = c.file(name, &obj.to_string());
    let mut args = verb.to_vec();
    args.extend(["-f", &file]);
    let out = c.kubectl(&args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_reports_the_servers_words() {
    let c = TestCluster::start().await;
    let mut typo = deployment("typo", json!(1));
    typo["spec"]["lables"] = json!({"a": "b"});
    // kubectl sends fieldValidation=Strict for apply and create.
    let (ok, err) = kubectl_with_file(&c, &["apply"], "typo.json", &typo);
    assert!(
        !ok && err.contains("strict decoding error: unknown field \"spec.lables\""),
        "{err}"
    );
    let three = deployment("three", json!("three"));
    let (ok, err) = kubectl_with_file(&c, &["create"], "three.json", &three);
    assert!(
        !ok && err.contains("cannot unmarshal string into Go struct field"),
        "{err}"
    );
    // --validate=false sends Ignore: created without the field.
    let (ok, err) = kubectl_with_file(&c, &["apply", "--validate=false"], "typo2.json", &typo);
    assert!(ok, "{err}");
}
