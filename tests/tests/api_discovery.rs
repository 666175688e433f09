//! Discovery as clients use it: aggregated discovery (`apidiscovery.k8s.io`
//! v2) tells the kube client exactly what the classic documents tell it,
//! and what minik does not serve answers at once with a 4xx — never a
//! retryable 5xx that makes a client back off for minutes. `/metrics` shows
//! the watches each client holds open (one per kind for a component) and
//! the requests each has made, by verb, resource and code.

use crate::support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, PostParams};
use kube::discovery::{Discovery, Scope};
use serde_json::json;
use support::TestCluster;

/// Every (group, version, plural, kind, scope, verbs) a discovery saw.
fn resources(d: &Discovery) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for group in d.groups() {
        for (ar, caps) in group.recommended_resources() {
            let scope = match caps.scope {
                Scope::Cluster => "Cluster",
                Scope::Namespaced => "Namespaced",
            };
            let mut verbs = caps.operations.clone();
            verbs.sort();
            out.insert(format!(
                "{}/{} {} {} {scope} {verbs:?} subresources={:?}",
                ar.group,
                ar.version,
                ar.plural,
                ar.kind,
                caps.subresources
                    .iter()
                    .map(|(s, _)| s.plural.clone())
                    .collect::<Vec<_>>()
            ));
        }
    }
    out
}

#[tokio::test]
async fn aggregated_discovery_agrees_with_the_classic_documents() {
    let c = TestCluster::start().await;
    let classic = Discovery::new(c.client.clone()).run().await.unwrap();
    let aggregated = Discovery::new(c.client.clone())
        .run_aggregated()
        .await
        .unwrap();
    let classic = resources(&classic);
    assert!(classic.len() > 20, "{classic:#?}");
    assert_eq!(resources(&aggregated), classic);
    assert!(classic.iter().any(
        |r| r.starts_with("apps/v1 deployments Deployment Namespaced") && r.contains("\"scale\"")
    ));

    // The negotiated content type, and the classic form for plain JSON.
    let r = c
        .raw_with_accept(
            "/apis",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .await;
    assert_eq!(
        r.0,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(r.1["kind"], "APIGroupDiscoveryList");
    let r = c
        .raw_with_accept(
            "/api",
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        )
        .await;
    assert_eq!(r.1["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    assert_eq!(r.1["items"][0]["versions"][0]["version"], "v1");
    let r = c.raw_with_accept("/apis", "application/json").await;
    assert_eq!(r.1["kind"], "APIGroupList");
}

#[tokio::test]
async fn what_is_not_served_fails_at_once() {
    let c = TestCluster::start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let started = Instant::now();
    // Eviction is served: a pod not yet running is evicted at once.
    pods.evict("p", &EvictParams::default()).await.unwrap();
    assert!(pods.portforward("p", &[80]).await.is_err());
    for sub in ["resize", "proxy"] {
        let r = c
            .raw(
                "POST",
                &format!("/api/v1/namespaces/default/pods/p/{sub}"),
                "application/json",
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(r.code, 404, "{sub}: {}", r.body);
        // Clients read `details` unchecked (kubectl debug panicked on its absence).
        assert!(r.body["details"].is_object(), "{sub}: {}", r.body);
    }
    // kube's client retries a 503 for minutes; a 404 comes back at once.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_drain_evicts_an_unmanaged_pod() {
    let c = TestCluster::start().await;
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-9"}});
    let file = c.file("node.json", &node.to_string());
    c.kubectl_ok(&["create", "-f", &file]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lonely"},
        "spec": {"nodeName": "node-9", "containers": [{"name": "c", "image": "busybox"}]}});
    let file = c.file("pod.json", &pod.to_string());
    c.kubectl_ok(&["create", "-f", &file]);
    let out = c.kubectl(&[
        "drain",
        "node-9",
        "--force",
        "--grace-period=0",
        "--timeout=30s",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("node/node-9 cordoned"), "{stdout}");
    assert!(stdout.contains("pod/lonely evicted"), "{stdout}");
    assert!(stdout.contains("node/node-9 drained"), "{stdout}");
    let unschedulable = c.kubectl_ok(&[
        "get",
        "node",
        "node-9",
        "-o",
        "jsonpath={.spec.unschedulable}",
    ]);
    assert_eq!(unschedulable.trim(), "true");
}

#[tokio::test]
async fn metrics_count_open_watches_per_client() {
    use futures::StreamExt;
    let c = TestCluster::start().await;
    // A client that names itself as minik's components do.
    let client = c.client_named("minik-controller/0.1.0 (linux/amd64)").await;
    let pods: Api<Pod> = Api::all(client.clone());
    let gauge = |text: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("apiserver_longrunning_requests{client=\"minik-controller\"")
                    && l.contains("resource=\"pods\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(|n| n.parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    let metrics = || c.metrics();
    assert_eq!(gauge(&metrics().await), 0);
    let mut one = pods
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let two = pods
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let _ = tokio::time::timeout(Duration::from_millis(200), one.next()).await;
    assert_eq!(gauge(&metrics().await), 2);
    drop(two);
    let deadline = Instant::now() + Duration::from_secs(5);
    while gauge(&metrics().await) != 1 {
        assert!(Instant::now() < deadline, "{}", metrics().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `apiserver_request_total` counts each answered request by client, verb
/// (kube-apiserver's: LIST, APPLY, DELETECOLLECTION …), resource,
/// subresource and code.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_per_client_verb_and_code() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
    let c = TestCluster::start().await;
    let client = c.client_named("minik-controller/0.1.0 (linux/amd64)").await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "counted"}})).unwrap();
    maps.create(&PostParams::default(), &map).await.unwrap();
    let again = maps.create(&PostParams::default(), &map).await.unwrap_err();
    assert!(
        matches!(again, kube::Error::Api(ref e) if e.code == 409),
        "{again}"
    );
    maps.get("counted").await.unwrap();
    maps.list(&ListParams::default()).await.unwrap();
    let merge = Patch::Merge(json!({"data": {"a": "1"}}));
    maps.patch("counted", &PatchParams::default(), &merge)
        .await
        .unwrap();
    let apply = Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "counted"}, "data": {"b": "2"}}));
    maps.patch("counted", &PatchParams::apply("metrics-test"), &apply)
        .await
        .unwrap();
    maps.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    c.kubectl_ok(&["get", "configmaps", "-n", "default"]);

    let text = c.metrics().await;
    let count = |client: &str, verb: &str, scope: &str, code: &str| {
        support::metric(
            &text,
            &format!(
                "apiserver_request_total{{client=\"{client}\",code=\"{code}\",group=\"\",resource=\"configmaps\",scope=\"{scope}\",subresource=\"\",verb=\"{verb}\",version=\"v1\"}}"
            ),
        )
    };
    let mine = "minik-controller";
    assert_eq!(count(mine, "POST", "resource", "201"), 1, "{text}");
    assert_eq!(count(mine, "POST", "resource", "409"), 1, "{text}");
    assert_eq!(count(mine, "GET", "resource", "200"), 1, "{text}");
    assert_eq!(count(mine, "LIST", "namespace", "200"), 1, "{text}");
    assert_eq!(count(mine, "PATCH", "resource", "200"), 1, "{text}");
    assert_eq!(count(mine, "APPLY", "resource", "200"), 1, "{text}");
    assert_eq!(
        count(mine, "DELETECOLLECTION", "namespace", "200"),
        1,
        "{text}"
    );
    assert_eq!(count("kubectl", "LIST", "namespace", "200"), 1, "{text}");
}

/// `kubectl explain` reads the built-in kinds' schemas from `/openapi/v3`,
/// with Kubernetes' own descriptions, nested types and required fields.
#[tokio::test(flavor = "multi_thread")]
async fn kubectl_explain_reads_the_built_in_schemas() {
    let c = TestCluster::start().await;
    let explain = c.kubectl_ok(&["explain", "deployment.spec.strategy"]);
    assert!(explain.contains("GROUP:      apps"), "{explain}");
    assert!(explain.contains("KIND:       Deployment"), "{explain}");
    assert!(
        explain.contains("FIELD: strategy <DeploymentStrategy>"),
        "{explain}"
    );
    assert!(
        explain.contains("The deployment strategy to use to replace existing pods with new ones."),
        "{explain}"
    );
    assert!(
        explain.contains("rollingUpdate\t<RollingUpdateDeployment>"),
        "{explain}"
    );
    let explain = c.kubectl_ok(&["explain", "pods.spec.containers.livenessProbe.httpGet"]);
    assert!(
        explain.contains("port\t<IntOrString> -required-"),
        "{explain}"
    );
    let explain = c.kubectl_ok(&["explain", "svc", "--recursive"]);
    assert!(explain.contains("clusterIP\t<string>"), "{explain}");
    let explain = c.kubectl_ok(&[
        "explain",
        "hpa.spec.metrics",
        "--api-version=autoscaling/v2",
    ]);
    assert!(explain.contains("VERSION:    v2"), "{explain}");
    let explain = c.kubectl_ok(&["explain", "events.note", "--api-version=events.k8s.io/v1"]);
    assert!(
        explain.contains("note is a human-readable description"),
        "{explain}"
    );
}

const LIST: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed-a, creationTimestamp: null}
  data: {a: b}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: listed}
  spec:
    selector: {matchLabels: {app: listed}}
    template:
      metadata: {labels: {app: listed}}
      spec:
        containers:
        - name: web
          image: minik/web:v1
          IMAGEPULLPOLICY
          livenessProbe: {httpGet: {path: /, port: 80}}
  status: {}
"#;

/// kubectl validates a `kind: List` file itself, against `/openapi/v2`
/// (it never asks the server to validate a List): with minik's v2 document
/// such a file applies, an exported List (`kubectl get -o yaml`) applies
/// back, and a misspelt field is refused by kubectl in its own words
/// before anything is created — as against kube-apiserver.
#[tokio::test(flavor = "multi_thread")]
async fn kubectl_validates_a_list_against_openapi_v2() {
    let c = TestCluster::start().await;
    let good = LIST.replace("IMAGEPULLPOLICY", "imagePullPolicy: IfNotPresent");
    let out = c.kubectl_stdin(&["apply", "-f", "-"], &good);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("configmap/listed-a created"), "{text}");
    assert!(text.contains("deployment.apps/listed created"), "{text}");

    // Exported and applied back, status and server fields included.
    let exported = c.kubectl_ok(&["get", "deploy/listed", "cm/listed-a", "-o", "yaml"]);
    assert!(exported.contains("kind: List"), "{exported}");
    c.kubectl_ok(&["delete", "deploy/listed", "cm/listed-a"]);
    let out = c.kubectl_stdin(&["apply", "-f", "-"], &exported);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A misspelt field: kubectl's client-side validation names it.
    let bad = LIST
        .replace("IMAGEPULLPOLICY", "imagePullPolice: IfNotPresent")
        .replace("listed", "misspelt");
    let out = c.kubectl_stdin(&["apply", "-f", "-"], &bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("error validating data: ValidationError(Deployment.spec.template.spec.containers[0]): unknown field \"imagePullPolice\" in io.k8s.api.core.v1.Container"),
        "{err}"
    );
    let cm = c.kubectl(&["get", "cm", "misspelt-a"]);
    assert!(!cm.status.success(), "nothing of a refused List is created");

    // The same document as JSON, for other clients.
    let doc = c.kubectl_ok(&["get", "--raw", "/openapi/v2"]);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(
        doc["definitions"]["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Pod"
    );
}
