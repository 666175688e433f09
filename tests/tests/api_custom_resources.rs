//! CustomResourceDefinitions end to end: a kind written with the kube
//! crate's `#[derive(CustomResource)]` registered at run time and used like
//! a built-in (typed CRUD, watch, status and scale subresources, finalizers,
//! ownerReference garbage collection, the CRD's deletion taking its objects
//! along); the real kubectl applying a CRD and its objects (printer columns,
//! `explain`, `scale`, schema defaulting, validation — CEL rules included —
//! and pruning errors in kube-apiserver's words, strategic merge refused
//! with 415); name
//! conflicts; and the seeds' operator manifests (Istio, Prometheus
//! Operator, Chaos Mesh) stored once a CRD for them exists.

use crate::support;
use crate::support::miniktl as mk;

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::workloads::{wait_for, Tasks};
use support::TestCluster;

const T: Duration = Duration::from_secs(20);

/// The teaching resource of `examples/custom-controller/`, as a student writes it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "minik.example.com",
    version = "v1",
    kind = "Website",
    namespaced,
    status = "WebsiteStatus",
    shortname = "ws",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas"
    ),
    printcolumn(name = "Image", type_ = "string", json_path = ".spec.image"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas")
)]
pub struct WebsiteSpec {
    image: String,
    replicas: i32,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
pub struct WebsiteStatus {
    replicas: i32,
    ready: bool,
}

fn controllers(c: &TestCluster) -> Tasks {
    let ctx = Arc::new(minik_controller::Context::new(
        c.client.clone(),
        minik_controller::Settings::default(),
    ));
    Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(
            ctx,
            &[
                minik_controller::garbage_collector::build,
                minik_controller::custom_resource_cleanup::build,
            ],
        )
        .await
        .unwrap();
    })])
}

fn website(name: &str, replicas: i32) -> Website {
    let mut w = Website::new(
        name,
        WebsiteSpec {
            image: "minik/web:v1".into(),
            replicas,
        },
    );
    w.metadata.labels = Some([("tier".to_string(), "front".to_string())].into());
    w
}

fn condition(crd: &CustomResourceDefinition, kind: &str) -> Option<String> {
    crd.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn kube_crate_custom_resource_like_a_built_in() {
    let c = TestCluster::start().await;
    let _controllers = controllers(&c);
    let crds: Api<CustomResourceDefinition> = Api::all(c.client.clone());
    let created = crds
        .create(&PostParams::default(), &Website::crd())
        .await
        .unwrap();
    // Accepted and Established in the create itself: usable at once.
    assert_eq!(
        condition(&created, "NamesAccepted").as_deref(),
        Some("True")
    );
    assert_eq!(condition(&created, "Established").as_deref(), Some("True"));
    assert!(created
        .finalizers()
        .contains(&"customresourcecleanup.apiextensions.k8s.io".to_string()));

    // Typed CRUD with label selectors.
    let sites: Api<Website> = Api::namespaced(c.client.clone(), "default");
    let blog = sites
        .create(&PostParams::default(), &website("blog", 1))
        .await
        .unwrap();
    assert_eq!(blog.metadata.generation, Some(1));
    sites
        .create(&PostParams::default(), &website("shop", 2))
        .await
        .unwrap();
    let front = sites
        .list(&ListParams::default().labels("tier=front"))
        .await
        .unwrap();
    assert_eq!(front.items.len(), 2);
    let paged = sites.list(&ListParams::default().limit(1)).await.unwrap();
    assert_eq!(paged.items.len(), 1);
    assert!(paged.metadata.continue_.is_some_and(|t| !t.is_empty()));

    // A watch sees a merge patch and a JSON patch.
    let rv = blog.resource_version().unwrap();
    let mut events = sites
        .watch(&WatchParams::default().fields("metadata.name=blog"), &rv)
        .await
        .unwrap()
        .boxed();
    sites
        .patch(
            "blog",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_value(
        json!([{"op": "replace", "path": "/spec/image", "value": "minik/web:v2"}]),
    )
    .unwrap();
    let patched = sites
        .patch("blog", &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .unwrap();
    assert_eq!(patched.spec.image, "minik/web:v2");
    assert_eq!(patched.metadata.generation, Some(3));
    let first = tokio::time::timeout(T, events.try_next())
        .await
        .unwrap()
        .unwrap();
    match first {
        Some(WatchEvent::Modified(w)) => assert_eq!(w.spec.replicas, 3),
        other => panic!("expected the merge patch, got {other:?}"),
    }

    // The status subresource: status writes go there only, and do not move generation.
    let status = sites
        .patch_status(
            "blog",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 3, "ready": true}})),
        )
        .await
        .unwrap();
    assert!(status.status.as_ref().unwrap().ready);
    assert_eq!(status.metadata.generation, Some(3));
    let mut ignored = status.clone();
    ignored.status = Some(WebsiteStatus::default());
    let replaced = sites
        .replace("blog", &PostParams::default(), &ignored)
        .await
        .unwrap();
    assert!(
        replaced.status.unwrap().ready,
        "status ignored on the main resource"
    );

    // The scale subresource reads and writes where the CRD says.
    let scale = sites.get_scale("blog").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    assert_eq!(scale.status.unwrap().replicas, 3);
    sites
        .patch_scale(
            "blog",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(sites.get("blog").await.unwrap().spec.replicas, 5);

    // Finalizers hold a deleted object until they are lifted.
    sites
        .patch(
            "shop",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["minik.example.com/cleanup"]}})),
        )
        .await
        .unwrap();
    sites
        .delete("shop", &DeleteParams::default())
        .await
        .unwrap();
    let held = sites.get("shop").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    sites
        .patch(
            "shop",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    wait_for("shop gone", T, || async {
        sites.get_opt("shop").await.unwrap().is_none().then_some(())
    })
    .await;

    // A ConfigMap owned by a Website is collected once the Website goes.
    let owner = sites.get("blog").await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("blog-content".into());
    cm.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).unwrap()]);
    maps.create(&PostParams::default(), &cm).await.unwrap();
    sites
        .delete("blog", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the owned ConfigMap collected", T, || async {
        maps.get_opt("blog-content")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    // Deleting the CRD takes its objects along; created again, it starts empty.
    for name in ["a", "b"] {
        sites
            .create(&PostParams::default(), &website(name, 1))
            .await
            .unwrap();
    }
    // An object's finalizer holds the CRD in Terminating, where creates are refused.
    sites
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["minik.example.com/cleanup"]}})),
        )
        .await
        .unwrap();
    crds.delete("websites.minik.example.com", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the CRD Terminating", T, || async {
        let crd = crds.get("websites.minik.example.com").await.unwrap();
        (condition(&crd, "Terminating").as_deref() == Some("True")).then_some(())
    })
    .await;
    wait_for("b deleted, a held by its finalizer", T, || async {
        let b = sites.get_opt("b").await.unwrap();
        let a = sites.get("a").await.unwrap();
        (b.is_none() && a.metadata.deletion_timestamp.is_some()).then_some(())
    })
    .await;
    let err = sites
        .create(&PostParams::default(), &website("c", 1))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 405);
            assert_eq!(
                s.message,
                "create not allowed while custom resource definition is terminating"
            );
        }
        other => panic!("expected 405, got {other}"),
    }
    sites
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    wait_for("the CRD gone", T, || async {
        crds.get_opt("websites.minik.example.com")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // The API server that removed the CRD stops serving its resources
    // before it answers; on etcd, another reader can see the CRD gone from
    // the store a moment before that (kube-apiserver's crdHandler lags its
    // informer the same way), so this waits rather than asks once.
    wait_for("the resource no longer served", T, || async {
        match sites.list(&ListParams::default()).await {
            Err(err) if minik_client::errors::is_not_found(&err) => Some(()),
            Err(err) => panic!("expected 404, got {err}"),
            Ok(_) => None,
        }
    })
    .await;
    crds.create(&PostParams::default(), &Website::crd())
        .await
        .unwrap();
    assert!(sites
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: websites.minik.example.com
spec:
  group: minik.example.com
  scope: Namespaced
  names:
    plural: websites
    singular: website
    kind: Website
    shortNames: [ws]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Image
      type: string
      jsonPath: .spec.image
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A website served by a Deployment and a Service.
        properties:
          spec:
            type: object
            description: What the website should be.
            required: [image]
            x-kubernetes-validations:
            - rule: "!has(self.size) || self.size != 'small' || self.replicas <= 5"
              message: a small website has at most 5 replicas
            properties:
              image:
                type: string
                description: The container image that serves the site.
              replicas:
                type: integer
                description: How many pods serve it.
                minimum: 1
                maximum: 10
                default: 1
              size:
                type: string
                enum: [small, large]
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: size is immutable
          status:
            type: object
            properties:
              replicas:
                type: integer
"#;

fn site(name: &str, spec: &str) -> String {
    format!("apiVersion: minik.example.com/v1\nkind: Website\nmetadata:\n  name: {name}\nspec:\n{spec}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_applies_gets_explains_scales_and_validates() {
    let c = TestCluster::start().await;
    let out = c.apply(CRD);
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/websites.minik.example.com created"
        ),
        "{out}"
    );
    let resources = c.kubectl_ok(&["api-resources", "--api-group=minik.example.com"]);
    assert!(
        resources.contains("websites") && resources.contains("ws"),
        "{resources}"
    );

    // Defaulting from the schema.
    let out = c.apply(&site("blog", "  image: minik/web:v1"));
    assert!(
        out.contains("website.minik.example.com/blog created"),
        "{out}"
    );
    let replicas = c.kubectl_ok(&["get", "ws", "blog", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "1");

    // Printer columns in the server-side table.
    let table = c.kubectl_ok(&["get", "websites"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "IMAGE", "REPLICAS", "AGE"], "{table}");
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], &["blog", "minik/web:v1", "1"], "{table}");

    // explain reads the CRD's schema from /openapi/v3.
    let explain = c.kubectl_ok(&["explain", "websites.spec"]);
    assert!(explain.contains("KIND:       Website"), "{explain}");
    assert!(explain.contains("What the website should be."), "{explain}");
    assert!(
        explain
            .contains("image\t<string> -required-\n    The container image that serves the site."),
        "{explain}"
    );
    assert!(
        explain.contains("replicas\t<integer>\n    How many pods serve it."),
        "{explain}"
    );
    assert!(explain.contains("enum: small, large"), "{explain}");

    // kubectl scale through the scale subresource.
    let out = c.kubectl_ok(&["scale", "website", "blog", "--replicas=3"]);
    assert!(
        out.contains("website.minik.example.com/blog scaled"),
        "{out}"
    );
    assert_eq!(
        c.kubectl_ok(&["get", "ws", "blog", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );

    // Validation in kube-apiserver's words.
    let refused = |manifest: String| {
        let path = c.file("bad.yaml", &manifest);
        let out = c.kubectl(&["apply", "-f", &path]);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = refused(site("bad", "  image: x\n  replicas: three"));
    assert!(err.contains(r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#), "{err}");
    let err = refused(site("bad", "  image: x\n  replicas: 11"));
    assert!(err.contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"), "{err}");
    let err = refused(site("bad", "  replicas: 2"));
    assert!(err.contains("spec.image: Required value"), "{err}");
    let err = refused(site("bad", "  image: x\n  size: huge"));
    assert!(
        err.contains(r#"spec.size: Unsupported value: "huge": supported values: "small", "large""#),
        "{err}"
    );
    // CEL rules, and a transition rule that compares with the stored object.
    let err = refused(site("bad", "  image: x\n  size: small\n  replicas: 6"));
    assert!(
        err.contains(r#"spec: Invalid value: "object": a small website has at most 5 replicas"#),
        "{err}"
    );
    c.apply(&site("sized", "  image: x\n  size: small"));
    let err = refused(site("sized", "  image: x\n  size: large"));
    assert!(
        err.contains(r#"spec.size: Invalid value: "string": size is immutable"#),
        "{err}"
    );
    // kubectl validates strictly by default: an undeclared field is refused.
    let err = refused(site("bad", "  image: x\n  colour: blue"));
    assert!(
        err.contains(r#"strict decoding error: unknown field "spec.colour""#),
        "{err}"
    );
    // Without strict validation it is pruned, with a warning.
    let path = c.file("lax.yaml", &site("lax", "  image: x\n  colour: blue"));
    let out = c.kubectl(&["apply", "--validate=warn", "-f", &path]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(r#"unknown field "spec.colour""#));
    assert_eq!(
        c.kubectl_ok(&["get", "ws", "lax", "-o", "jsonpath={.spec}"]),
        r#"{"image":"x","replicas":1}"#
    );

    // Custom resources have no patch strategy: strategic merge is a 415.
    let out = c.kubectl(&["patch", "ws", "blog", "-p", r#"{"spec":{"replicas":2}}"#]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"), "{err}");
    c.kubectl_ok(&[
        "patch",
        "ws",
        "blog",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":2}}"#,
    ]);

    // Server-side apply.
    let path = c.file(
        "ssa.yaml",
        &site("ssa", "  image: minik/web:v2\n  replicas: 2"),
    );
    let out = c.kubectl_ok(&["apply", "--server-side", "-f", &path]);
    assert!(
        out.contains("website.minik.example.com/ssa serverside-applied"),
        "{out}"
    );
    assert_eq!(
        c.kubectl_ok(&[
            "get",
            "ws",
            "ssa",
            "-o",
            "jsonpath={.spec.image} {.spec.replicas}"
        ]),
        "minik/web:v2 2"
    );

    // Gone with its CRD.
    c.kubectl_ok(&[
        "delete",
        "crd",
        "websites.minik.example.com",
        "--wait=false",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn crd_validation_and_name_conflicts() {
    let c = TestCluster::start().await;
    let bad = CRD
        .replace("name: websites.minik.example.com", "name: websites.example")
        .replace("group: minik.example.com", "group: example");
    let path = c.file("bad-crd.yaml", &bad);
    let out = c.kubectl(&["apply", "-f", &path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            r#"spec.group: Invalid value: "example": should be a domain with at least one dot"#
        ),
        "{err}"
    );
    let no_schema = CRD.replace(
        "    schema:\n      openAPIV3Schema:",
        "    x:\n      openAPIV3Schema:",
    );
    let path = c.file("no-schema.yaml", &no_schema);
    let out = c.kubectl(&["apply", "--validate=false", "-f", &path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
        ),
        "{err}"
    );

    // A second CRD of the group that takes a name in use is stored but not served.
    c.apply(CRD);
    let rival = CRD
        .replace("websites.minik.example.com", "sites.minik.example.com")
        .replace("plural: websites", "plural: sites")
        .replace("singular: website", "singular: site")
        .replace("shortNames: [ws]", "shortNames: [st]");
    c.apply(&rival);
    let crds: Api<CustomResourceDefinition> = Api::all(c.client.clone());
    let got = crds.get("sites.minik.example.com").await.unwrap();
    assert_eq!(condition(&got, "NamesAccepted").as_deref(), Some("False"));
    assert_eq!(condition(&got, "Established").as_deref(), Some("False"));
    let message = got.status.unwrap().conditions.unwrap()[0].message.clone();
    assert_eq!(message.as_deref(), Some(r#""Website" is already in use"#));
    let out = c.kubectl(&["get", "sites.minik.example.com"]);
    assert!(!out.status.success());
}

/// The seeds' operator manifests, stored as written once a CRD exists.
const SEED_OPERATORS: &str = r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: user-service-routing
spec:
  hosts:
  - user-service
  http:
  - match:
    - headers:
        version:
          exact: v2
    route:
    - destination:
        host: user-service
        subset: v2
  - route:
    - destination:
        host: user-service
        subset: v1
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: microservices-monitor
  labels:
    release: monitoring
spec:
  selector:
    matchLabels:
      monitoring: enabled
  endpoints:
  - port: http
    path: /metrics
    interval: 30s
  namespaceSelector:
    matchNames:
    - microservices
---
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata:
  name: user-service-failure
spec:
  action: pod-failure
  mode: one
  duration: "30s"
  selector:
    namespaces:
    - microservices
    labelSelectors:
      app: user-service
  scheduler:
    cron: "@every 10m"
"#;

/// A minimal CRD for a third-party kind: any spec is kept.
fn open_crd(group: &str, version: &str, kind: &str, plural: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, kind: {kind}}}
  versions:
  - name: {version}
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
---
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_operator_manifests_apply_once_their_crds_exist() {
    let c = TestCluster::start().await;
    let path = c.file("operators.yaml", SEED_OPERATORS);
    // (Client-side validation would first ask for /openapi/v2, which minik
    // does not serve; without it kubectl reports the missing kinds.)
    let out = c.kubectl(&["apply", "--validate=false", "-f", &path]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            r#"no matches for kind "VirtualService" in version "networking.istio.io/v1beta1""#
        ),
        "{err}"
    );
    assert!(err.contains("ensure CRDs are installed first"), "{err}");

    let crds = [
        open_crd(
            "networking.istio.io",
            "v1beta1",
            "VirtualService",
            "virtualservices",
        ),
        open_crd(
            "monitoring.coreos.com",
            "v1",
            "ServiceMonitor",
            "servicemonitors",
        ),
        open_crd("chaos-mesh.org", "v1alpha1", "PodChaos", "podchaos"),
    ]
    .concat();
    c.apply(&crds);
    let out = c.kubectl_ok(&["apply", "-f", &path]);
    for created in [
        "virtualservice.networking.istio.io/user-service-routing created",
        "servicemonitor.monitoring.coreos.com/microservices-monitor created",
        "podchaos.chaos-mesh.org/user-service-failure created",
    ] {
        assert!(out.contains(created), "{out}");
    }
    let route = c.kubectl_ok(&[
        "get",
        "virtualservice",
        "user-service-routing",
        "-o",
        "jsonpath={.spec.http[0].route[0].destination.subset}",
    ]);
    assert_eq!(route, "v2");
    let cron = c.kubectl_ok(&[
        "get",
        "podchaos",
        "-o",
        "jsonpath={.items[0].spec.scheduler.cron}",
    ]);
    assert_eq!(cron, "@every 10m");
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_share_storage_and_discovery_prefers_the_highest() {
    let c = TestCluster::start().await;
    let two = CRD.replace(
        "  versions:\n  - name: v1\n",
        "  versions:\n  - name: v1beta1\n    served: true\n    storage: false\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n  - name: v1\n",
    );
    c.apply(&two);
    let group = c.kubectl_ok(&["get", "--raw", "/apis/minik.example.com"]);
    let group: serde_json::Value = serde_json::from_str(&group).unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v1");
    assert_eq!(group["versions"][1]["version"], "v1beta1");
    // Written as v1beta1, read as v1 (conversion None: only apiVersion changes).
    let old = "apiVersion: minik.example.com/v1beta1\nkind: Website\nmetadata:\n  name: old\nspec:\n  image: minik/web:v1\n  replicas: 2\n";
    c.apply(old);
    let v1 = c.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/minik.example.com/v1/namespaces/default/websites/old",
    ]);
    let v1: serde_json::Value = serde_json::from_str(&v1).unwrap();
    assert_eq!(v1["apiVersion"], "minik.example.com/v1");
    assert_eq!(v1["spec"]["replicas"], 2);
    let beta = c.kubectl_ok(&[
        "get",
        "websites.v1beta1.minik.example.com",
        "old",
        "-o",
        "jsonpath={.apiVersion}",
    ]);
    assert_eq!(beta, "minik.example.com/v1beta1");
    let crd = c.kubectl_ok(&[
        "get",
        "crd",
        "websites.minik.example.com",
        "-o",
        "jsonpath={.status.storedVersions}",
    ]);
    assert_eq!(crd, r#"["v1"]"#);
}

/// miniktl reads the cluster's CRDs, so custom kinds resolve as in kubectl.
#[tokio::test(flavor = "multi_thread")]
async fn miniktl_gets_applies_and_deletes_custom_resources() {
    let c = TestCluster::start().await;
    c.apply(CRD);
    let path = c.file("blog.yaml", &site("blog", "  image: minik/web:v1"));
    let out = mk::miniktl(&c.kubeconfig, &["apply", "-f", &path])
        .await
        .ok();
    assert!(
        out.contains("website.minik.example.com/blog created"),
        "{out}"
    );
    let table = mk::miniktl(&c.kubeconfig, &["get", "ws"]).await.ok();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "IMAGE", "REPLICAS", "AGE"], "{table}");
    let ours = mk::miniktl(
        &c.kubeconfig,
        &[
            "get",
            "websites.minik.example.com",
            "blog",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    )
    .await
    .ok();
    assert_eq!(ours, "1");
    let out = mk::miniktl(&c.kubeconfig, &["delete", "website", "blog"])
        .await
        .ok();
    assert!(
        out.contains("website.minik.example.com \"blog\" deleted"),
        "{out}"
    );
    let missing = mk::miniktl(&c.kubeconfig, &["get", "gadgets"]).await;
    assert_ne!(missing.code, 0);
    assert!(
        missing
            .err
            .contains("the server doesn't have a resource type \"gadgets\""),
        "{}",
        missing.err
    );
}
