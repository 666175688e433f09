//! The ConfigMaps and Secrets pods consume (and the PersistentVolumeClaims
//! and PersistentVolumes behind their claim volumes), watched rather than
//! fetched per sync: like kubelet's watch-based configmap/secret managers, one shared
//! informer per kind (`minik_client::informer`) keeps a local copy, and
//! every change is announced so the pod workers using that object sync
//! again (refreshing volume files).
//!
//! One cache serves every node of the process (`--nodes N` shares it). A
//! lookup that misses the cache asks the API server once, so a pod created
//! right after its ConfigMap does not fail on a cache that is a moment
//! behind.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, Service,
};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use minik_client::SharedInformerFactory;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::Error;

/// Which object changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

/// Watched ConfigMaps and Secrets.
pub struct ObjectCache {
    client: kube::Client,
    config_maps: Store<ConfigMap>,
    secrets: Store<Secret>,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    /// For containers' Service environment variables (not announced: a
    /// Service change does not touch running containers).
    services: Store<Service>,
    changes: broadcast::Sender<ObjectChange>,
    tasks: Vec<JoinHandle<()>>,
    /// ServiceAccount tokens for projected volumes.
    pub tokens: crate::token_manager::TokenManager,
}

impl Drop for ObjectCache {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ObjectCache {
    /// Starts both informers (from the process's `informers`) and waits for
    /// their first lists.
    pub async fn start(
        client: kube::Client,
        informers: &SharedInformerFactory,
    ) -> Result<Arc<Self>, Error> {
        let (changes, _) = broadcast::channel(1024);
        let (config_maps, cm_task) = announce::<ConfigMap>(informers, "ConfigMap", changes.clone());
        let (secrets, secret_task) = announce::<Secret>(informers, "Secret", changes.clone());
        // A claim changes when it is bound (volumeName, phase): that wakes its pods.
        let (claims, claim_task) =
            announce::<PersistentVolumeClaim>(informers, "PersistentVolumeClaim", changes.clone());
        let volumes = informers.get::<PersistentVolume>().store();
        let services = informers.get::<Service>().store();
        informers.start();
        let cache = Arc::new(Self {
            tokens: crate::token_manager::TokenManager::new(client.clone()),
            client,
            config_maps,
            secrets,
            claims,
            volumes,
            services,
            changes,
            tasks: vec![cm_task, secret_task, claim_task],
        });
        let ready = async {
            let _ = cache.config_maps.wait_until_ready().await;
            let _ = cache.secrets.wait_until_ready().await;
        };
        if tokio::time::timeout(std::time::Duration::from_secs(30), ready)
            .await
            .is_err()
        {
            tracing::warn!("ConfigMap/Secret caches not ready after 30s; falling back to reads");
        }
        Ok(cache)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ObjectChange> {
        self.changes.subscribe()
    }

    pub async fn config_map(&self, ns: &str, name: &str) -> Result<Option<Arc<ConfigMap>>, Error> {
        lookup(&self.client, &self.config_maps, ns, name).await
    }

    pub async fn secret(&self, ns: &str, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        lookup(&self.client, &self.secrets, ns, name).await
    }

    pub async fn claim(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<Arc<PersistentVolumeClaim>>, Error> {
        lookup(&self.client, &self.claims, ns, name).await
    }

    /// Every Service the cache holds (all namespaces).
    pub fn services(&self) -> Vec<Arc<Service>> {
        self.services.state()
    }

    /// A PersistentVolume (cluster-scoped), from the cache or else the API server.
    pub async fn volume(&self, name: &str) -> Result<Option<Arc<PersistentVolume>>, Error> {
        if let Some(pv) = self.volumes.get(&ObjectRef::new(name)) {
            return Ok(Some(pv));
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        Ok(api.get_opt(name).await?.map(Arc::new))
    }
}

/// The shared informer's store for `K`, and a task announcing each change.
fn announce<K>(
    informers: &SharedInformerFactory,
    kind: &'static str,
    changes: broadcast::Sender<ObjectChange>,
) -> (Store<K>, JoinHandle<()>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let informer = informers.get::<K>();
    let mut touched = informer.touched();
    let task = tokio::spawn(async move {
        while let Some(obj) = touched.next().await {
            let _ = changes.send(ObjectChange {
                kind,
                namespace: obj.meta().namespace.clone().unwrap_or_default(),
                name: obj.meta().name.clone().unwrap_or_default(),
            });
        }
    });
    (informer.store(), task)
}

async fn lookup<K>(
    client: &kube::Client,
    store: &Store<K>,
    ns: &str,
    name: &str,
) -> Result<Option<Arc<K>>, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    if let Some(obj) = store.get(&ObjectRef::new(name).within(ns)) {
        return Ok(Some(obj));
    }
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    Ok(api.get_opt(name).await?.map(Arc::new))
}
