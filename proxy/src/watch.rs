//! The proxy's view of the cluster: reflectors (list, then watch; re-list
//! after an API-server restart or a 410) for Services, Endpoints,
//! Ingresses and IngressClasses, and one `Notify` that any change wakes.
//!
//! Like kube-proxy's informers: a change wakes the sync loop, which reads
//! the caches whole. Only a completed re-list (`InitDone`) counts as a
//! change during a resync, so the proxy never acts on half a list — and
//! after it, objects deleted while the API server was away are gone from
//! the cache, so no endpoint is used past a resync.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// The caches the sync loop reads.
#[derive(Clone)]
pub struct Caches {
    pub services: Store<Service>,
    pub endpoints: Store<Endpoints>,
    pub ingresses: Store<Ingress>,
    pub classes: Store<IngressClass>,
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
            changed,
        }
    }

    /// Waits until every cache has listed once.
    pub async fn ready(&self) -> bool {
        futures::future::try_join4(
            self.services.wait_until_ready(),
            self.endpoints.wait_until_ready(),
            self.ingresses.wait_until_ready(),
            self.classes.wait_until_ready(),
        )
        .await
        .is_ok()
    }
}

fn reflect<K>(api: Api<K>, changed: &Arc<Notify>, tasks: &mut JoinSet<()>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let changed = changed.clone();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tasks.spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))
                | Ok(watcher::Event::InitDone) => changed.notify_one(),
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Err(error) => {
                    let kind = K::kind(&Default::default()).to_string();
                    tracing::warn!(%error, %kind, "watch failed; retrying");
                }
            }
        }
    });
    store
}
