//! Added / updated / deleted notifications from a kube-rs watch: what
//! client-go's shared informers hand their event handlers (`OnAdd`,
//! `OnUpdate(old, new)`, `OnDelete`).
//!
//! kube-rs's `watcher` reports the new state of an object but not the
//! previous one, and after a relist (the watch expired or the connection
//! dropped) it simply lists everything again: objects deleted while the
//! watch was down are never reported as deleted. Controllers that must know
//! which *other* objects an object used to point at — the endpoints
//! controller (a pod's old labels decide which Services lost it) and the
//! garbage collector (a deleted owner's dependents) — keep a [`Tracker`]
//! next to the reflector: it remembers the last version of each object and,
//! when a relist ends, reports the ones that did not come back as deleted
//! (client-go's `DeletedFinalStateUnknown`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

/// One change to one object, with the state before it where there was one.
#[derive(Debug)]
pub enum Change<K> {
    Added(Arc<K>),
    Updated {
        old: Arc<K>,
        new: Arc<K>,
    },
    /// The last known state of an object that is gone.
    Deleted(Arc<K>),
}

/// `namespace/name` (or `name`): how a watch identifies an object.
type Key = (Option<String>, String);

/// The last known version of every object of one watch.
pub struct Tracker<K> {
    known: HashMap<Key, Arc<K>>,
    /// Keys seen since the current relist began (`None` between relists).
    relisted: Option<HashSet<Key>>,
}

impl<K> Default for Tracker<K> {
    fn default() -> Self {
        Self {
            known: HashMap::new(),
            relisted: None,
        }
    }
}

impl<K: Resource + Clone> Tracker<K> {
    /// Folds one watch event into the tracker and returns what changed.
    /// An object replaced by a new one of the same name (a different uid)
    /// is reported as a deletion followed by an addition.
    pub fn observe(&mut self, event: &watcher::Event<K>) -> Vec<Change<K>> {
        match event {
            watcher::Event::Apply(obj) => self.upsert(obj),
            watcher::Event::Delete(obj) => {
                self.known.remove(&key(obj));
                vec![Change::Deleted(Arc::new(obj.clone()))]
            }
            watcher::Event::Init => {
                self.relisted = Some(HashSet::new());
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                if let Some(seen) = self.relisted.as_mut() {
                    seen.insert(key(obj));
                }
                self.upsert(obj)
            }
            watcher::Event::InitDone => {
                let Some(seen) = self.relisted.take() else {
                    return Vec::new();
                };
                let gone: Vec<Key> = self
                    .known
                    .keys()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|k| self.known.remove(&k))
                    .map(Change::Deleted)
                    .collect()
            }
        }
    }

    fn upsert(&mut self, obj: &K) -> Vec<Change<K>> {
        let new = Arc::new(obj.clone());
        match self.known.insert(key(obj), new.clone()) {
            None => vec![Change::Added(new)],
            Some(old) if old.uid() != new.uid() => {
                vec![Change::Deleted(old), Change::Added(new)]
            }
            Some(old) => vec![Change::Updated { old, new }],
        }
    }
}

fn key<K: Resource>(obj: &K) -> Key {
    (obj.namespace(), obj.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(name: &str, uid: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(uid.into());
        p
    }

    #[test]
    fn reports_old_state_and_deletions_missed_during_a_relist() {
        let mut t = Tracker::default();
        assert!(matches!(
            t.observe(&watcher::Event::Apply(pod("a", "1")))[..],
            [Change::Added(_)]
        ));
        t.observe(&watcher::Event::Apply(pod("b", "2")));
        assert!(matches!(
            t.observe(&watcher::Event::Apply(pod("a", "1")))[..],
            [Change::Updated { .. }]
        ));
        // A relist in which "b" no longer appears and "a" was recreated.
        t.observe(&watcher::Event::Init);
        let changes = t.observe(&watcher::Event::InitApply(pod("a", "3")));
        assert!(matches!(
            changes[..],
            [Change::Deleted(ref old), Change::Added(ref new)]
                if old.uid().as_deref() == Some("1") && new.uid().as_deref() == Some("3")
        ));
        let changes = t.observe(&watcher::Event::InitDone);
        assert!(matches!(
            changes[..],
            [Change::Deleted(ref gone)] if gone.name_any() == "b"
        ));
    }
}
