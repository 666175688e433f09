//! The ConfigMaps and Secrets pods consume (and the PersistentVolumeClaims
//! behind their claim volumes), watched rather than fetched per sync, one
//! object at a time: like the kubelet's watch-based configmap/secret
//! managers, the first lookup of an object starts a watch on it alone
//! (`fieldSelector=metadata.name=<name>`), so the kubelet reads only what
//! its pods use — all the Node authorizer lets it read — and every change
//! is announced so the pod workers using that object sync again
//! (refreshing volume files). A watch nobody has looked up for
//! [`IDLE`] is stopped.
//!
//! One cache serves every node of the process (`--nodes N` shares it). A
//! lookup that misses the watch's copy asks the API server once, so a pod
//! created right after its ConfigMap does not fail on a watch that is a
//! moment behind. PersistentVolumes are read when needed; Services (for
//! environment variables) are one shared informer, which nodes may list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, Service,
};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::Resource;
use minik_client::informer::Informer;
use minik_client::SharedInformerFactory;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::Error;

/// How long a watched object may go unlooked-up before its watch stops.
pub const IDLE: Duration = Duration::from_secs(600);
/// How often idle watches are looked for.
const SWEEP: Duration = Duration::from_secs(60);

/// Which object changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

/// Watched ConfigMaps, Secrets and claims.
pub struct ObjectCache {
    client: kube::Client,
    config_maps: Watched<ConfigMap>,
    secrets: Watched<Secret>,
    claims: Watched<PersistentVolumeClaim>,
    /// For containers' Service environment variables (not announced: a
    /// Service change does not touch running containers).
    services: Store<Service>,
    changes: broadcast::Sender<ObjectChange>,
    sweeper: Mutex<Option<JoinHandle<()>>>,
    /// ServiceAccount tokens for projected volumes.
    pub tokens: crate::token_manager::TokenManager,
}

impl Drop for ObjectCache {
    fn drop(&mut self) {
        if let Some(t) = self
            .sweeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.abort();
        }
    }
}

impl ObjectCache {
    /// Starts the Service informer (from the process's `informers`) and the
    /// sweeper of idle watches.
    pub async fn start(
        client: kube::Client,
        informers: &SharedInformerFactory,
    ) -> Result<Arc<Self>, Error> {
        let (changes, _) = broadcast::channel(1024);
        let services = informers.get::<Service>().store();
        informers.start();
        let cache = Arc::new(Self {
            tokens: crate::token_manager::TokenManager::new(client.clone()),
            config_maps: Watched::new("ConfigMap", &client, &changes),
            secrets: Watched::new("Secret", &client, &changes),
            // A claim changes when it is bound (volumeName, phase): that wakes its pods.
            claims: Watched::new("PersistentVolumeClaim", &client, &changes),
            client,
            services,
            changes,
            sweeper: Mutex::new(None),
        });
        let weak = Arc::downgrade(&cache);
        let sweeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(SWEEP).await;
                let Some(cache) = weak.upgrade() else { return };
                cache.config_maps.sweep(IDLE);
                cache.secrets.sweep(IDLE);
                cache.claims.sweep(IDLE);
            }
        });
        *cache.sweeper.lock().unwrap_or_else(|e| e.into_inner()) = Some(sweeper);
        Ok(cache)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ObjectChange> {
        self.changes.subscribe()
    }

    pub async fn config_map(&self, ns: &str, name: &str) -> Result<Option<Arc<ConfigMap>>, Error> {
        self.config_maps.get(ns, name).await
    }

    pub async fn secret(&self, ns: &str, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        self.secrets.get(ns, name).await
    }

    pub async fn claim(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<Arc<PersistentVolumeClaim>>, Error> {
        self.claims.get(ns, name).await
    }

    /// Every Service the cache holds (all namespaces).
    pub fn services(&self) -> Vec<Arc<Service>> {
        self.services.state()
    }

    /// A PersistentVolume (cluster-scoped), from the API server.
    pub async fn volume(&self, name: &str) -> Result<Option<Arc<PersistentVolume>>, Error> {
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        Ok(api.get_opt(name).await?.map(Arc::new))
    }

    /// How many objects are watched now (ConfigMaps, Secrets, claims).
    pub fn watched(&self) -> usize {
        self.config_maps.len() + self.secrets.len() + self.claims.len()
    }
}

/// One watch per object of kind `K`, started by the first lookup.
struct Watched<K: Resource<DynamicType = ()> + Clone + 'static> {
    kind: &'static str,
    client: kube::Client,
    changes: broadcast::Sender<ObjectChange>,
    watches: Mutex<HashMap<(String, String), Watch<K>>>,
}

struct Watch<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    task: JoinHandle<()>,
    used: Instant,
}

impl<K> Watched<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    fn new(
        kind: &'static str,
        client: &kube::Client,
        changes: &broadcast::Sender<ObjectChange>,
    ) -> Self {
        Self {
            kind,
            client: client.clone(),
            changes: changes.clone(),
            watches: Mutex::default(),
        }
    }

    /// The object, from its watch (started now if there is none), or else
    /// from the API server.
    async fn get(&self, ns: &str, name: &str) -> Result<Option<Arc<K>>, Error> {
        let store = {
            let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
            let watch = watches
                .entry((ns.to_string(), name.to_string()))
                .or_insert_with(|| self.start(ns, name));
            watch.used = Instant::now();
            watch.store.clone()
        };
        if let Some(obj) = store.get(&ObjectRef::new(name).within(ns)) {
            return Ok(Some(obj));
        }
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        Ok(api.get_opt(name).await?.map(Arc::new))
    }

    fn start(&self, ns: &str, name: &str) -> Watch<K> {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let (informer, run) = Informer::standalone(api, config);
        let mut touched = informer.touched();
        let (changes, kind) = (self.changes.clone(), self.kind);
        let (namespace, name) = (ns.to_string(), name.to_string());
        let task = tokio::spawn(async move {
            let announce = async {
                while touched.next().await.is_some() {
                    let _ = changes.send(ObjectChange {
                        kind,
                        namespace: namespace.clone(),
                        name: name.clone(),
                    });
                }
            };
            tokio::join!(run, announce);
        });
        Watch {
            store: informer.store(),
            task,
            used: Instant::now(),
        }
    }

    /// Stops the watches not looked up for `idle`.
    fn sweep(&self, idle: Duration) {
        self.watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, w| {
                let keep = w.used.elapsed() < idle;
                if !keep {
                    w.task.abort();
                }
                keep
            });
    }

    fn len(&self) -> usize {
        self.watches.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Drop for Watched<K> {
    fn drop(&mut self) {
        for w in self
            .watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            w.task.abort();
        }
    }
}
