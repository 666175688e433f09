//! Expectations: what a controller is still waiting to see in its pod cache
//! after its last round of pod creations and deletions, so a cache that lags
//! behind the API server never makes it create duplicates or delete twice.
//! Kubernetes' `UIDTrackingControllerExpectations`, shared by every
//! controller that creates pods (ReplicaSet, Job).
//!
//! Per owner (`namespace/name`): a count of creations and the set of pod
//! keys being deleted, satisfied when both are used up, or after
//! [`EXPECTATIONS_TIMEOUT`] in case an event was lost (Kubernetes'
//! `ExpectationsTimeout`, 5 minutes). The pod watch lowers them
//! ([`Expectations::observe`]) before it wakes the owner's reconcile.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use kube::ResourceExt;
use minik_client::Change;

use crate::ownership::{controller_of, key_of};

/// How long unmet expectations hold an owner back before the controller
/// stops trusting them (Kubernetes' `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Expectations of one controller, keyed by owner (`namespace/name`).
pub struct Expectations {
    /// The owners' kind: pods whose controller is of another kind are ignored.
    owner_kind: &'static str,
    by_owner: Mutex<HashMap<String, Expected>>,
}

struct Expected {
    adds: i64,
    deletes: HashSet<String>,
    set_at: Instant,
}

impl Expected {
    fn met_or_expired(&self) -> bool {
        (self.adds <= 0 && self.deletes.is_empty()) || self.set_at.elapsed() > EXPECTATIONS_TIMEOUT
    }
}

impl Expectations {
    /// Expectations for owners of kind `owner_kind` (e.g. "ReplicaSet", "Job").
    pub fn for_owner_kind(owner_kind: &'static str) -> Self {
        Self {
            owner_kind,
            by_owner: Mutex::default(),
        }
    }

    /// Nothing is awaited for `key` (or what was has expired).
    pub fn satisfied(&self, key: &str) -> bool {
        self.by_owner
            .lock()
            .unwrap()
            .get(key)
            .is_none_or(Expected::met_or_expired)
    }

    /// How long until unmet expectations for `key` expire (`None`: none are unmet).
    pub fn expires_in(&self, key: &str) -> Option<Duration> {
        let map = self.by_owner.lock().unwrap();
        let e = map.get(key).filter(|e| !e.met_or_expired())?;
        Some(EXPECTATIONS_TIMEOUT.saturating_sub(e.set_at.elapsed()) + Duration::from_millis(100))
    }

    /// `n` pods are being created for `key`.
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.set(key, n as i64, HashSet::new());
    }

    /// These pods (keys) are being deleted for `key`.
    pub fn expect_deletions(&self, key: &str, pods: HashSet<String>) {
        self.set(key, 0, pods);
    }

    fn set(&self, key: &str, adds: i64, deletes: HashSet<String>) {
        let expected = Expected {
            adds,
            deletes,
            set_at: Instant::now(),
        };
        let mut map = self.by_owner.lock().unwrap();
        // A met or expired entry means the same as none (this also forgets
        // owners that were deleted).
        map.retain(|_, e| !e.met_or_expired());
        map.insert(key.to_string(), expected);
    }

    /// One awaited creation happened (or will never happen: it failed).
    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.by_owner.lock().unwrap().get_mut(key) {
            e.adds -= 1;
        }
    }

    /// One awaited deletion happened (or will never happen: it failed).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.by_owner.lock().unwrap().get_mut(key) {
            e.deletes.remove(pod);
        }
    }

    /// Lowers expectations for one pod watch event, seen after the cache
    /// applied it.
    pub fn observe(&self, change: &Change<Pod>, cache: &Store<Pod>) {
        match change {
            Change::Added(pod) | Change::Updated { new: pod, .. } => {
                let added = matches!(change, Change::Added(_));
                let Some(owner) = self.owner_of(pod) else {
                    return;
                };
                if pod.metadata.deletion_timestamp.is_some() {
                    // A pod marked for deletion counts as deleted.
                    self.deletion_observed(&owner, &key_of(&pod.metadata));
                } else if added {
                    self.creation_observed(&owner);
                }
            }
            Change::Deleted(pod) => {
                if let Some(owner) = self.owner_of(pod) {
                    self.deletion_observed(&owner, &key_of(&pod.metadata));
                }
            }
            Change::Synced => {
                // After a relist, pods that vanished meanwhile sent no delete.
                let present: HashSet<String> =
                    cache.state().iter().map(|p| key_of(&p.metadata)).collect();
                for e in self.by_owner.lock().unwrap().values_mut() {
                    e.deletes.retain(|k| present.contains(k));
                }
            }
        }
    }

    /// `namespace/name` of the pod's controller, if it is of our kind.
    fn owner_of(&self, pod: &Pod) -> Option<String> {
        let owner = controller_of(&pod.metadata).filter(|o| o.kind == self.owner_kind)?;
        Some(format!(
            "{}/{}",
            pod.namespace().unwrap_or_default(),
            owner.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
    use k8s_openapi::jiff::Timestamp;
    use kube::runtime::reflector;
    use std::sync::Arc;

    #[test]
    fn expectations_wait_until_the_cache_saw_our_writes() {
        let (cache, _writer) = reflector::store::<Pod>();
        let owned = |name: &str| Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: "web".into(),
                    uid: "rs-uid".into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                ..Default::default()
            },
            ..Default::default()
        };
        let updated = |p: Pod| {
            let p = Arc::new(p);
            Change::Updated {
                old: p.clone(),
                new: p,
            }
        };
        let e = Expectations::for_owner_kind("ReplicaSet");
        e.expect_creations("default/web", 2);
        assert!(!e.satisfied("default/web"));
        e.observe(&Change::Added(Arc::new(owned("web-a"))), &cache);
        // A later update of a pod already seen is not another creation.
        e.observe(&updated(owned("web-a")), &cache);
        assert!(!e.satisfied("default/web"));
        e.observe(&Change::Added(Arc::new(owned("web-b"))), &cache);
        assert!(e.satisfied("default/web"));

        e.expect_deletions("default/web", ["default/web-a".to_string()].into());
        assert!(!e.satisfied("default/web"));
        // Marked for deletion counts as deleted.
        let mut terminating = owned("web-a");
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        e.observe(&updated(terminating), &cache);
        assert!(e.satisfied("default/web"));
        assert!(
            e.satisfied("default/other"),
            "no expectations: nothing to wait for"
        );
        // Pods of other kinds of owner are not ours to count.
        let j = Expectations::for_owner_kind("Job");
        j.expect_creations("default/web", 1);
        j.observe(&Change::Added(Arc::new(owned("web-c"))), &cache);
        assert!(!j.satisfied("default/web"));
    }
}
