//! The custom resources this API server serves: every Established
//! CustomResourceDefinition in its store, turned into resources by
//! [`minik_api::custom_resource::resources_of`] and served beside the
//! built-in catalogue — in REST paths, discovery and OpenAPI — from the
//! request after the CRD's write, without a restart.
//!
//! Like the RBAC policy, the set is kept in memory and rebuilt when the
//! hub's change counter for the CRD prefix moves, so a request reads no
//! store to find its resource. (kube-apiserver's `crdHandler` watches CRDs
//! through an informer instead; minik's counter is bumped before the
//! write's reply, so the client that wrote a CRD is served it at once. On
//! etcd the counter moves when the change comes back through etcd's watch,
//! so another client may read the new CRD from the store a moment before
//! this set has it, as with kube-apiserver's informer.)

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use minik_api::catalogue::{self, ResourceInfo};
use minik_api::kinds::apiextensions::custom_resource_definition;

use crate::hub::Hub;
use crate::store::Store;

/// The CRDs' resources, rebuilt when a CRD changes.
pub struct CustomResources {
    store: Arc<dyn Store>,
    generation: Arc<AtomicU64>,
    cached: RwLock<Option<(u64, Served)>>,
}

impl CustomResources {
    pub fn new(store: Arc<dyn Store>, hub: &Hub) -> CustomResources {
        let prefix = custom_resource_definition::RESOURCE.key_prefix();
        CustomResources {
            store,
            generation: hub.generation(&prefix),
            cached: RwLock::new(None),
        }
    }

    /// Every resource served now: the catalogue's, then the CRDs'.
    pub fn served(&self) -> Served {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, served)) = &*self.cached.read().unwrap() {
            if *g == generation {
                return served.clone();
            }
        }
        let served = self.load();
        *self.cached.write().unwrap() = Some((generation, served.clone()));
        served
    }

    fn load(&self) -> Served {
        let mut custom = Vec::new();
        let mut terminating = HashSet::new();
        let prefix = custom_resource_definition::RESOURCE.key_prefix();
        let scanned = self.store.scan(&prefix, None, &mut |_, bytes| {
            if let Ok(crd) = serde_json::from_slice::<serde_json::Value>(bytes) {
                let resources = minik_api::custom_resource::resources_of(&crd);
                if crd.pointer("/metadata/deletionTimestamp").is_some() {
                    terminating.extend(resources.iter().map(|r| r.key_prefix()));
                }
                custom.extend(resources);
            }
            true
        });
        if let Err(e) = scanned {
            tracing::error!(error = %e, "reading CustomResourceDefinitions");
        }
        Served {
            custom: Arc::new(custom),
            terminating: Arc::new(terminating),
        }
    }
}

/// One view of what is served: the built-in catalogue and the custom resources.
#[derive(Clone, Default)]
pub struct Served {
    custom: Arc<Vec<&'static ResourceInfo>>,
    /// Storage prefixes of resources whose CRD is being deleted.
    terminating: Arc<HashSet<String>>,
}

impl Served {
    /// Every served resource, built-ins first, in discovery order.
    pub fn all(&self) -> Vec<&'static ResourceInfo> {
        catalogue::all()
            .iter()
            .chain(self.custom.iter().copied())
            .collect()
    }

    /// The resource served at `group/version/plural`, if any.
    pub fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceInfo> {
        catalogue::lookup(group, version, plural).or_else(|| {
            self.custom
                .iter()
                .copied()
                .find(|r| r.group == group && r.version == version && r.plural == plural)
        })
    }

    /// All distinct group-versions, core first; a group's preferred version first.
    pub fn group_versions(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = catalogue::group_versions();
        for r in self.custom.iter() {
            if !out.contains(&(r.group, r.version)) {
                out.push((r.group, r.version));
            }
        }
        out
    }

    /// Whether `info`'s CRD is being deleted: its objects can still be
    /// read and deleted, not created.
    pub fn terminating(&self, info: &ResourceInfo) -> bool {
        self.terminating.contains(&info.key_prefix())
    }

    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.group_versions().contains(&(group, version))
    }
}
