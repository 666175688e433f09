//! website-controller: a custom controller in one file, the "sample
//! controller" lesson in Rust. It adds a kind, `Website`, to the cluster
//! (a CustomResourceDefinition generated from the Rust types below) and
//! keeps, for every Website, a Deployment running its image and a Service
//! in front of it — then writes what it sees back into the Website's
//! `status`. See README.md for the walk-through.
//!
//! ```text
//! website-controller crd | kubectl apply -f -     # register the kind
//! website-controller                               # run the loop
//! ```
//!
//! The shape is every controller's: watch the kind (and what it owns),
//! reconcile one object at a time towards its spec — idempotently, so that
//! running it twice changes nothing — and requeue on errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a user asks for: `kubectl apply` a Website with this spec.
// Each `printcolumn(...)` repeats `type_ = …` by design, which clippy takes
// for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
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
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.replicas"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url")
)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteSpec {
    /// The container image that serves the site.
    pub image: String,
    /// How many pods serve it.
    #[serde(default = "one")]
    pub replicas: i32,
    /// The port the image listens on.
    #[serde(default = "eighty")]
    pub port: i32,
}

fn one() -> i32 {
    1
}

fn eighty() -> i32 {
    80
}

/// What the controller reports back.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteStatus {
    /// Pods ready to serve.
    pub replicas: i32,
    /// Where the site is reachable inside the cluster.
    pub url: Option<String>,
}

/// What every reconcile shares.
struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// The name this controller writes with (server-side apply's field manager).
const MANAGER: &str = "website-controller";

#[derive(Debug)]
struct Error(kube::Error);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for Error {}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Error(e)
    }
}

/// The labels that tie a Website's pods to its Deployment and Service.
fn labels(site: &Website) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), site.name_any())])
}

/// The Deployment a Website should have: owned by it, so that deleting the
/// Website lets the garbage collector delete the Deployment.
fn desired_deployment(site: &Website) -> Deployment {
    let owner = site
        .controller_owner_ref(&())
        .expect("a stored Website has a uid");
    Deployment {
        metadata: ObjectMeta {
            name: Some(site.name_any()),
            owner_references: Some(vec![owner]),
            labels: Some(labels(site)),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(site.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(labels(site)),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(site)),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "web".into(),
                        image: Some(site.spec.image.clone()),
                        ports: Some(vec![ContainerPort {
                            container_port: site.spec.port,
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Service in front of the Website's pods.
fn desired_service(site: &Website) -> Service {
    let owner = site
        .controller_owner_ref(&())
        .expect("a stored Website has a uid");
    Service {
        metadata: ObjectMeta {
            name: Some(site.name_any()),
            owner_references: Some(vec![owner]),
            labels: Some(labels(site)),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels(site)),
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(site.spec.port),
                ),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One step towards the spec. Server-side apply makes it idempotent: the
/// same desired objects applied twice change nothing.
async fn reconcile(site: Arc<Website>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = site.namespace().unwrap_or_else(|| "default".into());
    let name = site.name_any();
    let apply = PatchParams::apply(MANAGER).force();

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let deployment = deployments
        .patch(&name, &apply, &Patch::Apply(&desired_deployment(&site)))
        .await?;
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    services
        .patch(&name, &apply, &Patch::Apply(&desired_service(&site)))
        .await?;

    // Report what is, not what was asked for.
    let ready = deployment
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let status = WebsiteStatus {
        replicas: ready,
        url: Some(format!("http://{name}.{ns}.svc.cluster.local")),
    };
    let changed = site.status.as_ref().map(|s| (s.replicas, &s.url)) != Some((ready, &status.url));
    if changed {
        let sites: Api<Website> = Api::namespaced(ctx.client.clone(), &ns);
        sites
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await?;
        let note = format!("{ready}/{} pods ready", site.spec.replicas);
        ctx.recorder
            .publish(
                &Event {
                    type_: EventType::Normal,
                    reason: "Reconciled".into(),
                    note: Some(note),
                    action: "Reconcile".into(),
                    secondary: None,
                },
                &site.object_ref(&()),
            )
            .await?;
    }
    tracing::info!(website = %name, namespace = %ns, ready, "reconciled");
    // Changes to the Website or what it owns wake us; this is a safety net.
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// A failed reconcile is tried again a little later.
fn error_policy(site: Arc<Website>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(website = %site.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("crd") {
        // The CRD as JSON, which kubectl apply reads as well as YAML.
        println!("{}", serde_json::to_string_pretty(&Website::crd())?);
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "website_controller=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // The kubeconfig in $KUBECONFIG or ~/.kube/config, as kubectl finds it.
    let client = Client::try_default().await?;
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: None,
    };
    let ctx = Arc::new(Ctx {
        recorder: Recorder::new(client.clone(), reporter),
        client: client.clone(),
    });
    let sites: Api<Website> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::all(client.clone());
    tracing::info!("watching Websites");
    Controller::new(sites, watcher::Config::default())
        // A change to an owned Deployment (pods becoming ready) wakes its Website.
        .owns(deployments, watcher::Config::default())
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "reconcile");
            }
        })
        .await;
    Ok(())
}
