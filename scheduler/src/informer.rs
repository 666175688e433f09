//! Informers: a watch per kind of object the scheduler needs, each keeping
//! a reflector cache and telling the scheduling loop what changed.
//!
//! Mirrors client-go's shared informer (reflector + indexer + event
//! handlers with `OnAdd`/`OnUpdate(old, new)`/`OnDelete`). The scheduler
//! runs three, as kube-scheduler's pod informer is split by its handlers:
//! - **nodes** — every Node;
//! - **assigned pods** — `spec.nodeName!=`, not Succeeded or Failed: what
//!   uses node capacity;
//! - **pending pods** — `spec.nodeName=` for this scheduler's name, not
//!   Succeeded or Failed: what needs scheduling. A pod that gets bound
//!   leaves this watch (the API server sends DELETED when an object stops
//!   matching a field selector) and enters the assigned one.
//!
//! The watcher's relist protocol (`Init`, `InitApply`…, `InitDone`) is
//! turned into ordinary changes: listed objects are applied as they come,
//! and at `InitDone` objects that were cached but not listed are deleted —
//! client-go's `Replace`. The first `InitDone` is also reported as
//! [`Change::Synced`]; the loop schedules nothing before nodes and assigned
//! pods are synced (kube's `WaitForCacheSync`).

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// One change seen by an informer.
#[derive(Debug)]
pub enum Change<K> {
    /// Added (`old` is `None`) or updated.
    Applied {
        old: Option<Arc<K>>,
        new: Arc<K>,
    },
    Deleted(Arc<K>),
    /// The initial list is complete: the cache holds every object.
    Synced,
}

/// A relist in progress: what the cache held before it, and what it listed so far.
type Relist<K> = (Vec<Arc<K>>, HashSet<ObjectRef<K>>);

/// Starts an informer; returns its cache. Changes are sent wrapped by `wrap`
/// until the receiver goes away.
pub fn spawn<K, E>(
    api: Api<K>,
    config: watcher::Config,
    tx: mpsc::Sender<E>,
    wrap: fn(Change<K>) -> E,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    E: Send + 'static,
{
    let mut writer = reflector::store::Writer::<K>::default();
    let store = writer.as_reader();
    let cache = store.clone();
    tokio::spawn(async move {
        let mut stream = watcher(api, config).default_backoff().boxed();
        let mut relist: Option<Relist<K>> = None;
        let mut synced = false;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    // The watcher backs off and retries by itself.
                    tracing::warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying");
                    continue;
                }
            };
            let mut changes = Vec::new();
            match event {
                watcher::Event::Init => relist = Some((cache.state(), HashSet::new())),
                watcher::Event::InitApply(mut obj) | watcher::Event::Apply(mut obj) => {
                    obj.meta_mut().managed_fields = None;
                    let key = ObjectRef::from_obj(&obj);
                    if let Some((_, seen)) = &mut relist {
                        seen.insert(key.clone());
                    }
                    let old = cache.get(&key);
                    writer.apply_watcher_event(&watcher::Event::Apply(obj));
                    if let Some(new) = cache.get(&key) {
                        changes.push(Change::Applied { old, new });
                    }
                }
                watcher::Event::Delete(obj) => {
                    let old = cache.get(&ObjectRef::from_obj(&obj));
                    writer.apply_watcher_event(&watcher::Event::Delete(obj.clone()));
                    changes.push(Change::Deleted(old.unwrap_or_else(|| Arc::new(obj))));
                }
                watcher::Event::InitDone => {
                    if let Some((before, seen)) = relist.take() {
                        for obj in before {
                            if !seen.contains(&ObjectRef::from_obj(&*obj)) {
                                writer.apply_watcher_event(&watcher::Event::Delete((*obj).clone()));
                                changes.push(Change::Deleted(obj));
                            }
                        }
                    }
                    if !synced {
                        synced = true;
                        changes.push(Change::Synced);
                    }
                }
            }
            for change in changes {
                if tx.send(wrap(change)).await.is_err() {
                    return;
                }
            }
        }
    });
    store
}
