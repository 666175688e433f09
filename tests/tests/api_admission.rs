//! Admission: LimitRanger and ResourceQuota, as kube-apiserver's plugins
//! answer, through the real `kube` client and the real `kubectl`; and the
//! quota controller's `status.used` after creates, deletes, finished pods
//! and an API server restart.

use crate::support;
use crate::support::miniktl;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ResourceQuota};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};
use support::workloads::wait_for;
use support::TestCluster;

/// A pod with one container `app` (`resources` as given) and `spec_extra` merged in.
fn pod(name: &str, resources: Value, spec_extra: Value) -> Pod {
    let mut spec =
        json!({"containers": [{"name": "app", "image": "busybox", "resources": resources}]});
    for (k, v) in spec_extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// The status code and message of a refused request.
fn refusal<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(e)) => (e.code, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Creates any object from JSON in `ns` through the dynamic client.
async fn create(c: &TestCluster, ns: &str, obj: Value) -> Result<DynamicObject, kube::Error> {
    let (group, version) = match obj["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            obj["apiVersion"].as_str().unwrap().to_string(),
        ),
    };
    let kind = obj["kind"].as_str().unwrap();
    let gvk = GroupVersionKind::gvk(&group, &version, kind);
    let plural = format!("{}s", kind.to_lowercase());
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let api: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), ns, &resource);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(obj).unwrap(),
    )
    .await
}

async fn namespace(c: &TestCluster, name: &str) {
    c.kubectl_ok(&["create", "namespace", name]);
}

async fn quota(c: &TestCluster, ns: &str, name: &str, spec: Value) {
    let api: Api<ResourceQuota> = Api::namespaced(c.client.clone(), ns);
    let q = serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    api.create(&PostParams::default(), &q).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_ranges_default_and_bound_pods_and_claims() {
    let c = TestCluster::start().await;
    namespace(&c, "lr").await;
    let file = c.file(
        "limits.yaml",
        r#"apiVersion: v1
kind: LimitRange
metadata:
  name: bounds
  namespace: lr
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 128Mi}
    defaultRequest: {cpu: 200m, memory: 64Mi}
    min: {cpu: 100m}
    max: {cpu: "1", memory: 1Gi}
    maxLimitRequestRatio: {memory: "4"}
  - type: Pod
    max: {cpu: 1500m}
  - type: PersistentVolumeClaim
    min: {storage: 1Gi}
    max: {storage: 2Gi}
"#,
    );
    c.kubectl_ok(&["apply", "-f", &file]);
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "lr");

    // Defaults fill what the container leaves out, and the pod says so.
    let p = pods
        .create(&PostParams::default(), &pod("plain", json!({}), json!({})))
        .await
        .unwrap();
    let r = serde_json::to_value(&p.spec.unwrap().containers[0].resources).unwrap();
    assert_eq!(
        r,
        json!({"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}})
    );
    assert_eq!(
        p.metadata.annotations.unwrap()["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app"
    );
    assert_eq!(p.status.unwrap().qos_class.as_deref(), Some("Burstable"));
    // A limit without a request: defaulting copies the limit first, as Kubernetes.
    let p = pods
        .create(
            &PostParams::default(),
            &pod("limited", json!({"limits": {"cpu": "300m"}}), json!({})),
        )
        .await
        .unwrap();
    let r = serde_json::to_value(&p.spec.unwrap().containers[0].resources).unwrap();
    assert_eq!(r["requests"]["cpu"], "300m");

    // min, max, ratio, and the Pod total, each in Kubernetes' words.
    let cases = [
        (
            "small",
            json!({"requests": {"cpu": "50m"}}),
            "pods \"small\" is forbidden: minimum cpu usage per Container is 100m, but request is 50m",
        ),
        (
            "big",
            json!({"limits": {"cpu": "1200m"}}),
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 1200m",
        ),
        (
            "ratio",
            json!({"requests": {"memory": "32Mi"}, "limits": {"memory": "256Mi"}}),
            "pods \"ratio\" is forbidden: memory max limit to request ratio per Container is 4, but provided ratio is 8.000000",
        ),
    ];
    for (name, resources, message) in cases {
        let (code, msg) = refusal(
            pods.create(&PostParams::default(), &pod(name, resources, json!({})))
                .await,
        );
        assert_eq!((code, msg.as_str()), (403, message));
    }
    let two = pod("two", json!({"limits": {"cpu": "800m"}}), json!({}));
    let mut two_json = serde_json::to_value(&two).unwrap();
    let second = two_json["spec"]["containers"][0].clone();
    let mut second = second;
    second["name"] = json!("side");
    two_json["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let (code, msg) = refusal(
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(two_json).unwrap(),
        )
        .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        "pods \"two\" is forbidden: maximum cpu usage per Pod is 1500m, but limit is 1600m"
    );

    // The real kubectl shows the refusal as kube-apiserver's.
    let bad = c.file(
        "small.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: tiny, namespace: lr}\nspec:\n  containers:\n  - name: app\n    image: busybox\n    resources: {requests: {cpu: 10m}}\n",
    );
    let out = c.kubectl(&["apply", "-f", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (Forbidden): error when creating")
            && err.contains("pods \"tiny\" is forbidden: minimum cpu usage per Container is 100m, but request is 10m"),
        "{err}"
    );

    // Claims: storage between min and max.
    let claim = |name: &str, size: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})
    };
    let (code, msg) = refusal(create(&c, "lr", claim("tiny", "500Mi")).await);
    assert_eq!(code, 403);
    assert_eq!(msg, "persistentvolumeclaims \"tiny\" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi");
    let (_, msg) = refusal(create(&c, "lr", claim("huge", "5Gi")).await);
    assert_eq!(msg, "persistentvolumeclaims \"huge\" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi");
    create(&c, "lr", claim("fits", "1Gi")).await.unwrap();

    // kubectl get/describe limits.
    let table = c.kubectl_ok(&["get", "limits", "-n", "lr"]);
    assert!(
        table.starts_with("NAME") && table.contains("bounds"),
        "{table}"
    );
    let described = c.kubectl_ok(&["describe", "limits", "bounds", "-n", "lr"]);
    for line in [
        "Type                   Resource  Min   Max    Default Request  Default Limit  Max Limit/Request Ratio",
        "Container              cpu       100m  1      200m             500m           -",
        "PersistentVolumeClaim  storage   1Gi   2Gi    -                -              -",
    ] {
        assert!(described.contains(line), "missing {line:?} in:\n{described}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_refuses_each_resource_past_hard() {
    let c = TestCluster::start().await;
    namespace(&c, "counts").await;
    quota(
        &c,
        "counts",
        "q",
        json!({"hard": {
            "pods": "1", "services": "2", "services.nodeports": "1", "services.loadbalancers": "1",
            "configmaps": "1", "secrets": "1", "persistentvolumeclaims": "2", "requests.storage": "3Gi",
            "count/deployments.apps": "1", "resourcequotas": "2",
        }}),
    )
    .await;
    let ok = |r: Result<DynamicObject, kube::Error>| {
        r.unwrap();
    };
    let forbidden = |r: Result<DynamicObject, kube::Error>, expected: &str| {
        let (code, msg) = refusal(r);
        assert_eq!((code, msg.as_str()), (403, expected));
    };
    let p = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]}})
    };
    ok(create(&c, "counts", p("a")).await);
    forbidden(
        create(&c, "counts", p("b")).await,
        "pods \"b\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1",
    );
    let svc = |name: &str, t: &str, ports: usize| {
        let ports: Vec<Value> = (0..ports)
            .map(|i| json!({"name": format!("p{i}"), "port": 80 + i, "targetPort": 80}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": t, "selector": {"app": "x"}, "ports": ports}})
    };
    forbidden(
        create(&c, "counts", svc("np", "NodePort", 2)).await,
        "services \"np\" is forbidden: exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1",
    );
    ok(create(&c, "counts", svc("lb", "LoadBalancer", 1)).await);
    forbidden(
        create(&c, "counts", svc("lb2", "LoadBalancer", 1)).await,
        "services \"lb2\" is forbidden: exceeded quota: q, requested: services.loadbalancers=1,services.nodeports=1, used: services.loadbalancers=1,services.nodeports=1, limited: services.loadbalancers=1,services.nodeports=1",
    );
    ok(create(&c, "counts", svc("c1", "ClusterIP", 1)).await);
    forbidden(
        create(&c, "counts", svc("c2", "ClusterIP", 1)).await,
        "services \"c2\" is forbidden: exceeded quota: q, requested: services=1, used: services=2, limited: services=2",
    );
    let cm =
        |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    ok(create(&c, "counts", cm("one")).await);
    forbidden(
        create(&c, "counts", cm("two")).await,
        "configmaps \"two\" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1",
    );
    let secret =
        |name: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}});
    ok(create(&c, "counts", secret("one")).await);
    forbidden(
        create(&c, "counts", secret("two")).await,
        "secrets \"two\" is forbidden: exceeded quota: q, requested: secrets=1, used: secrets=1, limited: secrets=1",
    );
    let claim = |name: &str, size: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})
    };
    ok(create(&c, "counts", claim("a", "2Gi")).await);
    forbidden(
        create(&c, "counts", claim("b", "2Gi")).await,
        "persistentvolumeclaims \"b\" is forbidden: exceeded quota: q, requested: requests.storage=2Gi, used: requests.storage=2Gi, limited: requests.storage=3Gi",
    );
    ok(create(&c, "counts", claim("c", "1Gi")).await);
    forbidden(
        create(&c, "counts", claim("d", "1Mi")).await,
        "persistentvolumeclaims \"d\" is forbidden: exceeded quota: q, requested: persistentvolumeclaims=1,requests.storage=1Mi, used: persistentvolumeclaims=2,requests.storage=3Gi, limited: persistentvolumeclaims=2,requests.storage=3Gi",
    );
    let deploy = |name: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}})
    };
    ok(create(&c, "counts", deploy("one")).await);
    forbidden(
        create(&c, "counts", deploy("two")).await,
        "deployments.apps \"two\" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1",
    );
    // The quota counts itself among the namespace's quotas.
    let rq = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
        "spec": {"hard": {"secrets": "5"}}})
    };
    ok(create(&c, "counts", rq("second")).await);
    forbidden(
        create(&c, "counts", rq("third")).await,
        "resourcequotas \"third\" is forbidden: exceeded quota: q, requested: resourcequotas=1, used: resourcequotas=2, limited: resourcequotas=2",
    );
    // Other namespaces are not limited.
    create(&c, "default", p("b")).await.unwrap();
}

/// An update is charged only what it adds: a ClusterIP Service turned
/// NodePort past `services.nodeports` is refused (by PATCH and by PUT) and
/// keeps its type, while an update that adds nothing — a label on a pod in
/// a namespace already over its quota — passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_charges_updates_what_they_add() {
    let c = TestCluster::start().await;
    namespace(&c, "updates").await;
    quota(
        &c,
        "updates",
        "q",
        json!({"hard": {"services.nodeports": "1", "pods": "1"}}),
    )
    .await;
    let svc = |name: &str, t: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": t, "selector": {"app": "x"}, "ports": [{"port": 80}]}})
    };
    create(&c, "updates", svc("np", "NodePort")).await.unwrap();
    create(&c, "updates", svc("plain", "ClusterIP"))
        .await
        .unwrap();
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(c.client.clone(), "updates");
    let to_node_port = Patch::Merge(json!({"spec": {"type": "NodePort"}}));
    let expected = "services \"plain\" is forbidden: exceeded quota: q, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1";
    let (code, msg) = refusal(
        services
            .patch("plain", &PatchParams::default(), &to_node_port)
            .await,
    );
    assert_eq!((code, msg.as_str()), (403, expected));
    let mut replaced = services.get("plain").await.unwrap();
    replaced.spec.as_mut().unwrap().type_ = Some("NodePort".into());
    let (code, msg) = refusal(
        services
            .replace("plain", &PostParams::default(), &replaced)
            .await,
    );
    assert_eq!((code, msg.as_str()), (403, expected));
    let kept = services.get("plain").await.unwrap();
    assert_eq!(kept.spec.unwrap().type_.as_deref(), Some("ClusterIP"));
    // The real kubectl shows kube-apiserver's words.
    let out = c.kubectl(&[
        "patch",
        "svc",
        "plain",
        "-n",
        "updates",
        "-p",
        r#"{"spec":{"type":"NodePort"}}"#,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expected), "{stderr}");
    // A change that adds nothing passes; once the NodePort Service is gone
    // the type change fits (no node port was kept by the refusals).
    let label = Patch::Merge(json!({"metadata": {"labels": {"tier": "web"}}}));
    services
        .patch("plain", &PatchParams::default(), &label)
        .await
        .unwrap();
    services
        .delete("np", &DeleteParams::default())
        .await
        .unwrap();
    services
        .patch("plain", &PatchParams::default(), &to_node_port)
        .await
        .unwrap();

    // Two pods, then a quota of one: the namespace is over it, yet the
    // pods can still be relabelled; only a new pod is refused.
    namespace(&c, "over").await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "over");
    for name in ["a", "b"] {
        pods.create(&PostParams::default(), &pod(name, json!({}), json!({})))
            .await
            .unwrap();
    }
    quota(&c, "over", "q", json!({"hard": {"pods": "1"}})).await;
    pods.patch("a", &PatchParams::default(), &label)
        .await
        .unwrap();
    let (code, msg) = refusal(
        pods.create(&PostParams::default(), &pod("c", json!({}), json!({})))
            .await,
    );
    assert_eq!(
        (code, msg.as_str()),
        (403, "pods \"c\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_quota_requires_requests_and_limits() {
    let c = TestCluster::start().await;
    namespace(&c, "compute").await;
    quota(
        &c,
        "compute",
        "compute",
        json!({"hard": {"requests.cpu": "500m", "limits.memory": "256Mi", "memory": "1Gi"}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "compute");
    let (code, msg) = refusal(
        pods.create(&PostParams::default(), &pod("bare", json!({}), json!({})))
            .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        "pods \"bare\" is forbidden: failed quota: compute: must specify limits.memory for: app; memory for: app; requests.cpu for: app"
    );
    let sized = |name: &str| {
        pod(
            name,
            json!({"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"memory": "100Mi"}}),
            json!({}),
        )
    };
    for name in ["a", "b"] {
        pods.create(&PostParams::default(), &sized(name))
            .await
            .unwrap();
    }
    let (code, msg) = refusal(pods.create(&PostParams::default(), &sized("c")).await);
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        "pods \"c\" is forbidden: exceeded quota: compute, requested: limits.memory=100Mi,requests.cpu=200m, used: limits.memory=200Mi,requests.cpu=400m, limited: limits.memory=256Mi,requests.cpu=500m"
    );
    // A deleted pod frees its share at once.
    pods.delete("a", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait_for("pod a to go", Duration::from_secs(10), || async {
        pods.get_opt("a").await.unwrap().is_none().then_some(())
    })
    .await;
    pods.create(&PostParams::default(), &sized("c"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_scopes_select_the_pods_they_limit() {
    let c = TestCluster::start().await;
    namespace(&c, "scopes").await;
    quota(
        &c,
        "scopes",
        "best-effort",
        json!({"hard": {"pods": "1"}, "scopes": ["BestEffort"]}),
    )
    .await;
    quota(
        &c,
        "scopes",
        "terminating",
        json!({"hard": {"pods": "1"}, "scopes": ["Terminating", "NotBestEffort"]}),
    )
    .await;
    quota(
        &c,
        "scopes",
        "high",
        json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "scopes");
    let post = PostParams::default();
    let small = json!({"requests": {"cpu": "10m"}});
    let deadline = json!({"activeDeadlineSeconds": 60});
    // BestEffort: one pod without requests.
    pods.create(&post, &pod("be1", json!({}), json!({})))
        .await
        .unwrap();
    let (_, msg) = refusal(pods.create(&post, &pod("be2", json!({}), json!({}))).await);
    assert_eq!(msg, "pods \"be2\" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1");
    // NotBestEffort and NotTerminating pods are outside every quota here.
    for name in ["bu1", "bu2"] {
        pods.create(&post, &pod(name, small.clone(), json!({})))
            .await
            .unwrap();
    }
    // Terminating and NotBestEffort together: one.
    pods.create(&post, &pod("t1", small.clone(), deadline.clone()))
        .await
        .unwrap();
    let (_, msg) = refusal(
        pods.create(&post, &pod("t2", small.clone(), deadline.clone()))
            .await,
    );
    assert_eq!(msg, "pods \"t2\" is forbidden: exceeded quota: terminating, requested: pods=1, used: pods=1, limited: pods=1");
    // A best-effort pod with a deadline is only the BestEffort quota's (full).
    let (_, msg) = refusal(
        pods.create(&post, &pod("t3", json!({}), deadline.clone()))
            .await,
    );
    assert!(msg.contains("exceeded quota: best-effort"), "{msg}");
    // PriorityClass In [high].
    let high = json!({"priorityClassName": "high"});
    pods.create(&post, &pod("h1", small.clone(), high.clone()))
        .await
        .unwrap();
    let (_, msg) = refusal(
        pods.create(&post, &pod("h2", small.clone(), high.clone()))
            .await,
    );
    assert_eq!(msg, "pods \"h2\" is forbidden: exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1");
    pods.create(
        &post,
        &pod("low", small.clone(), json!({"priorityClassName": "low"})),
    )
    .await
    .unwrap();

    // miniktl describes a scoped quota as the real kubectl does.
    for name in ["best-effort", "terminating"] {
        let args = ["describe", "quota", name, "-n", "scopes"];
        let theirs = c.kubectl_ok(&args);
        assert!(theirs.contains("Scopes:"), "{theirs}");
        assert_eq!(miniktl::miniktl(&c.kubeconfig, &args).await.ok(), theirs);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_exceed_the_quota() {
    let c = TestCluster::start().await;
    namespace(&c, "race").await;
    quota(&c, "race", "q", json!({"hard": {"pods": "2"}})).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "race");
    for round in 0..3 {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let pods = pods.clone();
                tokio::spawn(async move {
                    pods.create(
                        &PostParams::default(),
                        &pod(&format!("p{round}-{i}"), json!({}), json!({})),
                    )
                    .await
                })
            })
            .collect();
        let mut created = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(p) => created.push(p.metadata.name.unwrap()),
                Err(kube::Error::Api(e)) => {
                    assert_eq!(e.code, 403, "{}", e.message);
                    assert!(
                        e.message.contains(
                            "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
                        ),
                        "{}",
                        e.message
                    );
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(created.len(), 2, "round {round}: {created:?}");
        assert_eq!(pods.list(&Default::default()).await.unwrap().items.len(), 2);
        for name in created {
            pods.delete(&name, &DeleteParams::default().grace_period(0))
                .await
                .unwrap();
        }
        wait_for(
            "the round's pods to go",
            Duration::from_secs(10),
            || async {
                pods.list(&Default::default())
                    .await
                    .unwrap()
                    .items
                    .is_empty()
                    .then_some(())
            },
        )
        .await;
    }
}

/// The quota controller, in-process, with a short full-resync period.
fn start_quota_controller(client: &kube::Client) -> tokio::task::JoinHandle<()> {
    let settings = minik_controller::Settings {
        resource_quota_sync_period: Duration::from_secs(2),
        ..Default::default()
    };
    let ctx = Arc::new(minik_controller::Context::new(client.clone(), settings));
    tokio::spawn(async move {
        let _ = minik_controller::run_only(ctx, &[minik_controller::resource_quota::build]).await;
    })
}

async fn used(api: &Api<ResourceQuota>, name: &str) -> Value {
    let q = api.get(name).await.unwrap();
    serde_json::to_value(q.status.and_then(|s| s.used)).unwrap()
}

async fn wait_used(api: &Api<ResourceQuota>, name: &str, want: Value) {
    let what = format!("quota {name} used {want}");
    wait_for(&what, Duration::from_secs(20), || async {
        (used(api, name).await == want).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_status_follows_creates_deletes_finished_pods_and_restarts() {
    let mut c = TestCluster::start().await;
    let controller = start_quota_controller(&c.client);
    namespace(&c, "usage").await;
    quota(
        &c,
        "usage",
        "q",
        json!({"hard": {"pods": "2", "requests.cpu": "1", "count/pods": "10", "configmaps": "5"}}),
    )
    .await;
    let quotas: Api<ResourceQuota> = Api::namespaced(c.client.clone(), "usage");
    wait_used(
        &quotas,
        "q",
        json!({"configmaps": "0", "count/pods": "0", "pods": "0", "requests.cpu": "0"}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "usage");
    let cpu = |m: &str| json!({"requests": {"cpu": m}});
    pods.create(&PostParams::default(), &pod("a", cpu("250m"), json!({})))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("b", cpu("500m"), json!({})))
        .await
        .unwrap();
    wait_used(
        &quotas,
        "q",
        json!({"configmaps": "0", "count/pods": "2", "pods": "2", "requests.cpu": "750m"}),
    )
    .await;
    let table = c.kubectl_ok(&["get", "quota", "-n", "usage"]);
    assert!(
        table.contains("configmaps: 0/5, count/pods: 2/10, pods: 2/2, requests.cpu: 750m/1"),
        "{table}"
    );
    let described = c.kubectl_ok(&["describe", "quota", "q", "-n", "usage"]);
    let want = "Name:         q\nNamespace:    usage\nResource      Used  Hard\n--------      ----  ----\nconfigmaps    0     5\ncount/pods    2     10\npods          2     2\nrequests.cpu  750m  1\n";
    assert_eq!(described, want);
    let ours = miniktl::miniktl(&c.kubeconfig, &["describe", "quota", "q", "-n", "usage"])
        .await
        .ok();
    assert_eq!(ours, want);

    // A finished pod no longer counts (but its object does).
    pods.patch_status(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
    )
    .await
    .unwrap();
    wait_used(
        &quotas,
        "q",
        json!({"configmaps": "0", "count/pods": "2", "pods": "1", "requests.cpu": "500m"}),
    )
    .await;
    pods.create(&PostParams::default(), &pod("c", cpu("500m"), json!({})))
        .await
        .unwrap();
    // A deleted pod frees its share.
    pods.delete("b", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait_used(
        &quotas,
        "q",
        json!({"configmaps": "0", "count/pods": "2", "pods": "1", "requests.cpu": "500m"}),
    )
    .await;

    // After a restart, admission counts what the store holds and the
    // controller (reconnected) reports it.
    c.restart().await;
    pods.create(&PostParams::default(), &pod("d", cpu("500m"), json!({})))
        .await
        .unwrap();
    let (_, msg) = refusal(
        pods.create(&PostParams::default(), &pod("e", cpu("100m"), json!({})))
            .await,
    );
    assert_eq!(msg, "pods \"e\" is forbidden: exceeded quota: q, requested: pods=1,requests.cpu=100m, used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1");
    wait_used(
        &quotas,
        "q",
        json!({"configmaps": "0", "count/pods": "3", "pods": "2", "requests.cpu": "1"}),
    )
    .await;
    controller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_quota_applies_with_kubectl() {
    let c = TestCluster::start().await;
    let controller = start_quota_controller(&c.client);
    namespace(&c, "microservices").await;
    // From the seeds' microservices tutorial.
    let file = c.file(
        "quota.yaml",
        r#"apiVersion: v1
kind: ResourceQuota
metadata:
  name: microservices-quota
  namespace: microservices
spec:
  hard:
    requests.cpu: "4"      # Total CPU requests allowed
    requests.memory: 8Gi   # Total memory requests allowed
    limits.cpu: "8"        # Total CPU limits allowed
    limits.memory: 16Gi    # Total memory limits allowed
    pods: "20"             # Maximum number of pods
    services: "10"         # Maximum number of services
    persistentvolumeclaims: "5"  # Maximum PVCs
"#,
    );
    assert_eq!(
        c.kubectl_ok(&["apply", "-f", &file]),
        "resourcequota/microservices-quota created\n"
    );
    let quotas: Api<ResourceQuota> = Api::namespaced(c.client.clone(), "microservices");
    wait_used(
        &quotas,
        "microservices-quota",
        json!({"limits.cpu": "0", "limits.memory": "0", "persistentvolumeclaims": "0", "pods": "0",
            "requests.cpu": "0", "requests.memory": "0", "services": "0"}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "microservices");
    let (_, msg) = refusal(
        pods.create(&PostParams::default(), &pod("web", json!({}), json!({})))
            .await,
    );
    assert_eq!(msg, "pods \"web\" is forbidden: failed quota: microservices-quota: must specify limits.cpu for: app; limits.memory for: app; requests.cpu for: app; requests.memory for: app");
    let sized = json!({"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}});
    pods.create(&PostParams::default(), &pod("web", sized, json!({})))
        .await
        .unwrap();
    wait_used(
        &quotas,
        "microservices-quota",
        json!({"limits.cpu": "500m", "limits.memory": "512Mi", "persistentvolumeclaims": "0", "pods": "1",
            "requests.cpu": "250m", "requests.memory": "256Mi", "services": "0"}),
    )
    .await;
    let described = c.kubectl_ok(&["describe", "quota", "-n", "microservices"]);
    assert!(
        described.contains("limits.memory           512Mi  16Gi"),
        "{described}"
    );
    let table = c.kubectl_ok(&["get", "quota", "-n", "microservices"]);
    assert!(
        table.contains(
            "pods: 1/20, requests.cpu: 250m/4, requests.memory: 256Mi/8Gi, services: 0/10"
        ) && table.contains("limits.cpu: 500m/8, limits.memory: 512Mi/16Gi"),
        "{table}"
    );
    controller.abort();
}
