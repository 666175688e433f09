//! Server-side apply with field ownership, driven by the real kubectl:
//! `apply --server-side` owns exactly its configuration (`managedFields`
//! in kube-apiserver's FieldsV1 shape), `scale`/`set image` take fields
//! over, re-applying conflicts with kube-apiserver's 409 message naming
//! the managers and fields, `--force-conflicts` takes them back, fields
//! dropped from the configuration are removed unless someone else owns
//! them, and kubectl's client-side → server-side migration works. Also
//! the kube client's apply and the raw API's answers.

use crate::support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use support::TestCluster;

use support::miniktl as miniktl_support;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports: [{containerPort: 80}]
"#;

/// The object's managedFields entries, by manager.
fn entries(c: &TestCluster, kind: &str, name: &str) -> Vec<Value> {
    let out = c.kubectl_ok(&["get", kind, name, "-o", "json", "--show-managed-fields"]);
    let obj: Value = serde_json::from_str(&out).unwrap();
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry<'e>(entries: &'e [Value], manager: &str, operation: &str) -> &'e Value {
    entries
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .unwrap_or_else(|| panic!("no {operation} entry for {manager} in {entries:#?}"))
}

fn kubectl_err(c: &TestCluster, args: &[&str]) -> String {
    let out = c.kubectl(args);
    assert!(!out.status.success(), "kubectl {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_tracks_owners_conflicts_and_removals() {
    let c = TestCluster::start().await;
    let file = c.file("web.yaml", DEPLOYMENT);
    let out = c.kubectl_ok(&["apply", "--server-side", "-f", &file]);
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );

    // The applier owns its configuration, in kube-apiserver's FieldsV1 shape
    // (no identity fields, maps' entries, keyed list elements with `.`).
    let all = entries(&c, "deploy", "web");
    let mine = entry(&all, "kubectl", "Apply");
    assert_eq!(mine["apiVersion"], "apps/v1");
    assert_eq!(
        mine["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {},
                        "f:env": {
                            "k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}},
                            "k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}},
                        },
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {},
                        }},
                    }}},
                },
            },
        })
    );
    // Hidden unless asked for, as kubectl and miniktl both print objects.
    let yaml = c.kubectl_ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(!yaml.contains("managedFields"), "{yaml}");
    let plain = miniktl_support::miniktl(&c.kubeconfig, &["get", "deploy", "web", "-o", "yaml"])
        .await
        .ok();
    assert!(!plain.contains("managedFields"), "{plain}");
    let shown = miniktl_support::miniktl(
        &c.kubeconfig,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
    )
    .await
    .ok();
    assert!(
        shown.contains("manager: kubectl") && shown.contains("operation: Apply"),
        "{shown}"
    );

    // Other writers take the fields they change.
    c.kubectl_ok(&["scale", "deploy", "web", "--replicas=4"]);
    c.kubectl_ok(&["set", "image", "deploy/web", "nginx=nginx:1.26"]);
    let all = entries(&c, "deploy", "web");
    let scale = all
        .iter()
        .find(|e| e["subresource"] == "scale")
        .expect("an entry for the scale subresource");
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert!(entry(&all, "kubectl", "Apply")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_none());

    // Re-applying the old values conflicts, in kube-apiserver's words.
    let err = kubectl_err(&c, &["apply", "--server-side", "-f", &file]);
    let scaler = scale["manager"].as_str().unwrap();
    assert!(
        err.contains(&format!(
            "Apply failed with 2 conflicts: conflicts with \"{scaler}\" with subresource \"scale\" using apps/v1:\n- .spec.replicas\n"
        )) && err.contains(
            "conflicts with \"kubectl-set\" using apps/v1:\n- .spec.template.spec.containers[name=\"nginx\"].image"
        ),
        "{err}"
    );
    assert!(
        err.contains("--force-conflicts"),
        "kubectl's advice follows: {err}"
    );
    // miniktl says the same, word for word.
    let mine =
        miniktl_support::miniktl(&c.kubeconfig, &["apply", "--server-side", "-f", &file]).await;
    assert_ne!(mine.code, 0);
    assert_eq!(mine.err, err);
    let d = Api::<Deployment>::default_namespaced(c.client.clone())
        .get("web")
        .await
        .unwrap();
    assert_eq!(
        d.spec.as_ref().unwrap().replicas,
        Some(4),
        "nothing changed"
    );

    // Co-owning by applying the value it has now is no conflict.
    let shared = c.file(
        "shared.yaml",
        &DEPLOYMENT
            .replace("replicas: 2", "replicas: 4")
            .replace("nginx:1.25", "nginx:1.26"),
    );
    c.kubectl_ok(&["apply", "--server-side", "-f", &shared]);

    // Forced (by miniktl, as kubectl would): the applier's values win and
    // the fields are its alone.
    let forced = miniktl_support::miniktl(
        &c.kubeconfig,
        &["apply", "--server-side", "--force-conflicts", "-f", &file],
    )
    .await
    .ok();
    assert_eq!(forced, "deployment.apps/web serverside-applied\n");
    let d = Api::<Deployment>::default_namespaced(c.client.clone())
        .get("web")
        .await
        .unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(
        spec.template.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx:1.25")
    );
    let all = entries(&c, "deploy", "web");
    assert!(all.iter().all(|e| e["subresource"] != "scale"), "{all:#?}");
    assert!(
        all.iter().all(|e| e["manager"] != "kubectl-set"),
        "{all:#?}"
    );

    // Dropped from the configuration: removed, unless another manager owns it.
    c.kubectl_ok(&["label", "deploy", "web", "team=blue"]);
    let smaller = c.file(
        "smaller.yaml",
        &DEPLOYMENT
            .replace("{app: web, tier: front}", "{app: web}")
            .replace(", {name: B, value: \"2\"}", ""),
    );
    c.kubectl_ok(&["apply", "--server-side", "-f", &smaller]);
    let d: Value =
        serde_json::from_str(&c.kubectl_ok(&["get", "deploy", "web", "-o", "json"])).unwrap();
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "team": "blue"})
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
    // Defaults nobody applied stay.
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_migrates_to_server_side_apply() {
    let c = TestCluster::start().await;
    let v1 = c.file(
        "conf.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {a: \"1\", b: \"2\"}\n",
    );
    c.kubectl_ok(&["apply", "-f", &v1]);
    let all = entries(&c, "cm", "conf");
    let csa = entry(&all, "kubectl-client-side-apply", "Update");
    assert_eq!(csa["fieldsV1"]["f:data"], json!({"f:a": {}, "f:b": {}}));

    // The same configuration server-side: kubectl moves the fields to its
    // Apply entry (a JSON patch of managedFields the server takes as sent).
    c.kubectl_ok(&["apply", "--server-side", "-f", &v1]);
    let all = entries(&c, "cm", "conf");
    assert_eq!(
        entry(&all, "kubectl", "Apply")["fieldsV1"]["f:data"],
        json!({"f:a": {}, "f:b": {}})
    );
    assert!(all
        .iter()
        .all(|e| e["manager"] != "kubectl-client-side-apply"));

    // From now on changes and removals go through without conflicts.
    let v2 = c.file(
        "conf2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {a: \"9\"}\n",
    );
    c.kubectl_ok(&["apply", "--server-side", "-f", &v2]);
    let cm = Api::<ConfigMap>::default_namespaced(c.client.clone())
        .get("conf")
        .await
        .unwrap();
    assert_eq!(
        cm.data.unwrap(),
        [("a".to_string(), "9".to_string())].into_iter().collect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_apply_conflicts_and_the_apis_answers() {
    let c = TestCluster::start().await;
    let api = Api::<ConfigMap>::default_namespaced(c.client.clone());
    let cm = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"key": v}});
    api.patch(
        "shared",
        &PatchParams::apply("team-a"),
        &Patch::Apply(cm("a")),
    )
    .await
    .unwrap();
    let refused = api
        .patch(
            "shared",
            &PatchParams::apply("team-b"),
            &Patch::Apply(cm("b")),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = refused else {
        panic!("expected an API error, got {refused:?}")
    };
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"team-a\": .data.key"
    );
    let forced = api
        .patch(
            "shared",
            &PatchParams::apply("team-b").force(),
            &Patch::Apply(cm("b")),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["key"], "b");
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|e| e.manager)
        .collect();
    assert_eq!(managers, ["team-b"], "team-a owns nothing any more");

    // The raw answers: `force` on a merge patch is 422, an apply without
    // a manager 400, managedFields inside an apply 400; the store is intact.
    let raw = |path: &str, ct: &str, body: &str| {
        http::Request::patch(path)
            .header("Content-Type", ct)
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    let base = "/api/v1/namespaces/default/configmaps/shared";
    let cases = [
        (
            raw(
                &format!("{base}?force=true"),
                "application/merge-patch+json",
                "{}",
            ),
            422,
            "force: Invalid value: true: may not be specified for non-apply patch",
        ),
        (
            raw(base, "application/apply-patch+yaml", "data: {key: c}"),
            400,
            "requires a fieldManager",
        ),
        (
            raw(
                &format!("{base}?fieldManager=x"),
                "application/apply-patch+yaml",
                "{apiVersion: v1, kind: ConfigMap, metadata: {name: shared, managedFields: []}}",
            ),
            400,
            "metadata.managedFields must be nil",
        ),
    ];
    for (request, code, words) in cases {
        let err = c.client.request::<Value>(request).await.unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("expected an API error, got {err:?}")
        };
        assert_eq!(status.code, code, "{status:?}");
        assert!(status.message.contains(words), "{status:?}");
    }
    assert_eq!(api.get("shared").await.unwrap().data.unwrap()["key"], "b");
}
