//! minik's Ingress controller: which Ingresses are ours, their routes,
//! their status, and Events about what minik does not implement.
//!
//! Plays ingress-nginx's control plane. Each sync (after any change to
//! Ingresses, IngressClasses, Services or EndpointSlices):
//! 1. select the Ingresses this controller serves ([`class`]);
//! 2. build the routing table ([`routes`]) and resolve every backend to
//!    its service port's balancer, then swap it into the HTTP server
//!    ([`server`]) in one step;
//! 3. write `status.loadBalancer.ingress: [{ip: <node ip>}]` where it differs;
//! 4. publish, once, a `Normal Sync` event per Ingress generation (as
//!    ingress-nginx does) and a `Warning` for each annotation or field
//!    minik ignores (auth, rate limits, regex rewrites, …) — such an
//!    Ingress still applies and routes, it is not rejected;
//! 5. load the certificates of `spec.tls` Secrets for the HTTPS listener
//!    ([`tls`]), with a Warning for a Secret that cannot be used.

pub mod class;
pub mod routes;
pub mod server;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::Resource;
use serde_json::json;

use crate::events::Events;
use crate::plan::{PortKey, Protocol};
use crate::proxier::SharedBackends;
use class::Identity;
use routes::{BackendPort, RouteTable};
use server::{Routes, SharedRoutes};

/// The Ingress controller's state between syncs.
pub struct IngressController {
    client: kube::Client,
    identity: Identity,
    status_ip: IpAddr,
    routes: SharedRoutes,
    certificates: Arc<tls::Certificates>,
    events: Events,
    synced: HashSet<(String, i64)>,
}

impl IngressController {
    pub fn new(client: kube::Client, identity: Identity, status_ip: IpAddr) -> Self {
        Self {
            events: Events::new(client.clone(), "minik-ingress-controller"),
            client,
            identity,
            status_ip,
            routes: Arc::default(),
            certificates: tls::Certificates::new().expect("a self-signed certificate can be made"),
            synced: HashSet::new(),
        }
    }

    /// The certificates the HTTPS listener serves.
    pub fn certificates(&self) -> Arc<tls::Certificates> {
        self.certificates.clone()
    }

    /// The routes the HTTP server reads.
    pub fn routes(&self) -> SharedRoutes {
        self.routes.clone()
    }

    /// One level-triggered pass over every Ingress.
    pub async fn sync(
        &mut self,
        ingresses: &[Arc<Ingress>],
        classes: &[Arc<IngressClass>],
        secrets: &[Arc<Secret>],
        services: &[Arc<Service>],
        backends: &SharedBackends,
    ) {
        let classes: Vec<&IngressClass> = classes.iter().map(|c| &**c).collect();
        let mut ours: Vec<&Ingress> = ingresses
            .iter()
            .map(|i| &**i)
            .filter(|i| i.metadata.deletion_timestamp.is_none())
            .filter(|i| self.identity.serves(i, &classes))
            .collect();
        ours.sort_by_key(|i| {
            (
                i.metadata.creation_timestamp.as_ref().map(|t| t.0),
                i.metadata.namespace.clone(),
                i.metadata.name.clone(),
            )
        });
        let table = RouteTable::build(&ours);
        let resolved = resolve(&table, services, backends);
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Routes {
            table,
            backends: resolved,
        });
        let (certificates, problems) = tls::collect(&ours, secrets);
        self.certificates.set(certificates);
        for (ing, why) in problems {
            self.events
                .once(&ing.object_ref(&()), EventType::Warning, "TLSSecret", why)
                .await;
        }
        for ing in ours {
            self.status(ing).await;
            self.explain(ing).await;
        }
    }

    async fn status(&self, ing: &Ingress) {
        let (Some(ns), Some(name)) = (
            ing.metadata.namespace.as_deref(),
            ing.metadata.name.as_deref(),
        ) else {
            return;
        };
        let ip = self.status_ip.to_string();
        let current: Vec<String> = ing
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|i| i.iter().filter_map(|x| x.ip.clone()).collect())
            .unwrap_or_default();
        if current == [ip.clone()] {
            return;
        }
        let patch = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
        let api: Api<Ingress> = Api::namespaced(self.client.clone(), ns);
        if let Err(error) = api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::warn!(%error, ingress = %format!("{ns}/{name}"), "cannot update ingress status");
        }
    }

    /// Events: `Sync` once per generation, a Warning per ignored feature.
    async fn explain(&mut self, ing: &Ingress) {
        let reference = ing.object_ref(&());
        let generation = ing.metadata.generation.unwrap_or(0);
        let uid = ing.metadata.uid.clone().unwrap_or_default();
        if self.synced.insert((uid, generation)) {
            self.events
                .once(
                    &reference,
                    EventType::Normal,
                    "Sync",
                    format!("Scheduled for sync (generation {generation})"),
                )
                .await;
        }
        for note in unsupported(ing) {
            self.events
                .once(&reference, EventType::Warning, "Unsupported", note)
                .await;
        }
    }
}

/// What minik's Ingress controller ignores in `ing`, one sentence each.
fn unsupported(ing: &Ingress) -> Vec<String> {
    let mut notes = Vec::new();
    for (key, value) in ing.metadata.annotations.iter().flatten() {
        let understood = key == class::LEGACY_CLASS
            || key.starts_with("kubectl.kubernetes.io/")
            || (key == routes::REWRITE_TARGET && routes::literal_rewrite(value));
        if !understood {
            notes.push(format!(
                "annotation {key}={value:?} is not implemented by minik's ingress controller; ignored"
            ));
        }
    }
    let spec = ing.spec.as_ref();
    let resource_backends = spec
        .into_iter()
        .flat_map(|s| s.rules.iter().flatten())
        .flat_map(|r| r.http.iter().flat_map(|h| &h.paths))
        .map(|p| &p.backend)
        .chain(spec.and_then(|s| s.default_backend.as_ref()))
        .any(|b| b.resource.is_some());
    if resource_backends {
        notes.push("resource backends are not implemented; only service backends route".into());
    }
    notes
}

/// Resolves each target of `table` to its service port's balancer.
fn resolve(
    table: &RouteTable,
    services: &[Arc<Service>],
    backends: &SharedBackends,
) -> HashMap<(String, String, BackendPort), Arc<crate::backends::Backends>> {
    let services: HashMap<(&str, &str), &Service> = services
        .iter()
        .filter_map(|s| {
            Some((
                (
                    s.metadata.namespace.as_deref()?,
                    s.metadata.name.as_deref()?,
                ),
                &**s,
            ))
        })
        .collect();
    let backends = backends.read().unwrap_or_else(|e| e.into_inner());
    let mut out = HashMap::new();
    for t in table.targets() {
        let Some(svc) = services.get(&(t.namespace.as_str(), t.service.as_str())) else {
            continue;
        };
        let port = svc
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .find(|p| {
                let tcp = p.protocol.as_deref().unwrap_or("TCP") == "TCP";
                tcp && match &t.port {
                    BackendPort::Number(n) => p.port == *n,
                    BackendPort::Name(name) => p.name.as_deref() == Some(name.as_str()),
                }
            });
        let Some(port) = port else { continue };
        let key = PortKey {
            namespace: t.namespace.clone(),
            service: t.service.clone(),
            port_name: port.name.clone().unwrap_or_default(),
            protocol: Protocol::Tcp,
        };
        if let Some(b) = backends.get(&key) {
            out.insert(
                (t.namespace.clone(), t.service.clone(), t.port.clone()),
                b.clone(),
            );
        }
    }
    out
}
