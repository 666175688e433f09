//! The proxy's view of the cluster: reflectors (list, then watch; re-list
//! after an API-server restart or a 410) for Services, EndpointSlices,
//! Ingresses, IngressClasses and Secrets (Ingress TLS), and one `Notify`
//! that any change wakes.
//!
//! Like kube-proxy's informers: a change wakes the sync loop, which reads
//! the caches whole. Only a completed re-list (`InitDone`) counts as a
//! change during a resync, so the proxy never acts on half a list — and
//! after it, objects deleted while the API server was away are gone from
//! the cache, so no endpoint is used past a resync.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::reflector::Store;
use kube::Api;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use minik_client::reflect;

/// The caches the sync loop reads.
#[derive(Clone)]
pub struct Caches {
    pub services: Store<Service>,
    /// Every Service's EndpointSlices (what kube-proxy reads).
    pub endpoints: Store<EndpointSlice>,
    pub ingresses: Store<Ingress>,
    pub classes: Store<IngressClass>,
    /// For Ingress TLS certificates (as ingress-nginx, every namespace's).
    pub secrets: Store<Secret>,
    pub changed: Arc<Notify>,
}

impl Caches {
    /// Starts the reflectors on `tasks`.
    pub fn start(client: &kube::Client, tasks: &mut JoinSet<()>) -> Self {
        let changed = Arc::new(Notify::new());
        Self {
            services: reflect(Api::all(client.clone()), &changed, tasks),
            endpoints: reflect(Api::all(client.clone()), &changed, tasks),
            ingresses: reflect(Api::all(client.clone()), &changed, tasks),
            classes: reflect(Api::all(client.clone()), &changed, tasks),
            secrets: reflect(Api::all(client.clone()), &changed, tasks),
            changed,
        }
    }

    /// Waits until every cache has listed once.
    pub async fn ready(&self) -> bool {
        futures::future::try_join5(
            self.services.wait_until_ready(),
            self.endpoints.wait_until_ready(),
            self.ingresses.wait_until_ready(),
            self.classes.wait_until_ready(),
            self.secrets.wait_until_ready(),
        )
        .await
        .is_ok()
    }
}
