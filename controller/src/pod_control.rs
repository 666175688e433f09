//! How controllers create and delete pods without trusting a lagging cache
//! too much, shared by the ReplicaSet, DaemonSet and Job controllers (and
//! slow-start batches by the StatefulSet controller's Parallel mode)
//! (Kubernetes' `controller_utils.go`): expectations, which hold an owner
//! back until its pod cache has seen the creations and deletions it asked
//! for; slow-start batches, which make a template that cannot be created
//! fail once rather than once per pod; and the pod deletion with its
//! Events (`PodControl.DeletePod`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, DeleteParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use minik_client::{errors, Change, EventRecorder};

use crate::ownership::{controller_of, key_of};
use crate::pod_cache::CachedPod;

/// How long unmet expectations hold an owner back before the controller
/// stops trusting them (Kubernetes' `ExpectationsTimeout`).
const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Deletes one pod its owner (`owner`, cache key `owner_key`) decided to
/// remove: `SuccessfulDelete` "Deleted pod: <name>" (followed by
/// ` (<cause>)` when the owner says why), or a `FailedDelete`
/// Warning. A deletion the cache will never show (it failed, or the pod
/// was gone already) is marked observed at once; a pod already gone counts
/// as deleted.
pub async fn delete_pod(
    pods: &Api<Pod>,
    pod: &CachedPod,
    params: DeleteParams,
    owner: (&ObjectReference, &str),
    expectations: &Expectations,
    events: &EventRecorder,
    cause: Option<String>,
) -> Result<(), kube::Error> {
    let (reference, owner_key) = owner;
    let name = pod.name_any();
    match pods.delete(&name, &params).await {
        Ok(_) => {
            let note = match cause {
                Some(cause) => format!("Deleted pod: {name} ({cause})"),
                None => format!("Deleted pod: {name}"),
            };
            events
                .publish_related(
                    reference,
                    Some(&pod.object_ref(&())),
                    EventType::Normal,
                    "SuccessfulDelete",
                    "SuccessfulDelete",
                    note,
                )
                .await;
            Ok(())
        }
        Err(e) => {
            expectations.deletion_observed(owner_key, &key_of(&pod.metadata));
            if errors::is_not_found(&e) {
                return Ok(());
            }
            let note = format!("Error deleting: {}", errors::message(&e));
            events
                .publish(reference, EventType::Warning, "FailedDelete", note)
                .await;
            Err(e)
        }
    }
}

/// Calls `create` `count` times in batches of 1, 2, 4, …, stopping after
/// the first batch with a failure. Returns how many calls succeeded and the
/// first error. Kubernetes' `slowStartBatch` (initial batch size 1).
pub async fn slow_start_batch<F, Fut, E>(count: usize, create: F) -> (usize, Result<(), E>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(1);
    while batch > 0 {
        let results = futures::future::join_all((0..batch).map(|_| create())).await;
        let mut errors = results.into_iter().filter_map(Result::err);
        let first_error = errors.next();
        successes += batch - first_error.iter().count() - errors.count();
        if let Some(e) = first_error {
            return (successes, Err(e));
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, Ok(()))
}

/// What each ReplicaSet is still waiting to see in its pod cache after its
/// last round of creates/deletes. Kubernetes' `UIDTrackingControllerExpectations`:
/// a count of creations and the set of pod keys being deleted, satisfied when
/// both are used up, or after [`EXPECTATIONS_TIMEOUT`] in case an event was lost.
pub struct Expectations {
    /// The kind of owner whose pods are tracked (`ReplicaSet`, `DaemonSet`).
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
    /// Expectations for the pods of owners of this kind.
    pub fn for_kind(owner_kind: &'static str) -> Self {
        Self {
            owner_kind,
            by_owner: Mutex::default(),
        }
    }

    /// Nothing is awaited for `key` (`namespace/name` of the owner).
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

    pub fn expect_creations(&self, key: &str, n: usize) {
        self.set(key, n, HashSet::new());
    }

    pub fn expect_deletions(&self, key: &str, pods: HashSet<String>) {
        self.set(key, 0, pods);
    }

    /// Expects `adds` creations and the deletion of `deletes` (pod keys) for `key`.
    pub fn set(&self, key: &str, adds: usize, deletes: HashSet<String>) {
        let expected = Expected {
            adds: adds as i64,
            deletes,
            set_at: Instant::now(),
        };
        let mut map = self.by_owner.lock().unwrap();
        // A met or expired entry means the same as none (this also forgets
        // ReplicaSets that were deleted).
        map.retain(|_, e| !e.met_or_expired());
        map.insert(key.to_string(), expected);
    }

    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.by_owner.lock().unwrap().get_mut(key) {
            e.adds -= 1;
        }
    }

    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.by_owner.lock().unwrap().get_mut(key) {
            e.deletes.remove(pod);
        }
    }

    /// Lowers expectations for one pod watch event, seen after the cache
    /// applied it. `added`: the cache did not hold this pod before.
    pub fn observe(&self, change: &Change<CachedPod>, cache: &Store<CachedPod>) {
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
}

impl Expectations {
    /// `namespace/name` of the pod's controller, if it is of our kind.
    fn owner_of(&self, pod: &CachedPod) -> Option<String> {
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
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
    use k8s_openapi::jiff::Timestamp;
    use kube::runtime::reflector;
    use std::sync::Arc;

    #[test]
    fn expectations_wait_until_the_cache_saw_our_writes() {
        let (cache, _writer) = reflector::store::<CachedPod>();
        let owned = |name: &str| {
            let mut p = Pod::default();
            p.metadata.name = Some(name.into());
            p.metadata.namespace = Some("default".into());
            p.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "web".into(),
                uid: "rs-uid".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]);
            p
        };
        let updated = |p: Pod| {
            let p = Arc::new(CachedPod::of(&p));
            Change::Updated {
                old: p.clone(),
                new: p,
            }
        };
        let e = Expectations::for_kind("ReplicaSet");
        e.expect_creations("default/web", 2);
        assert!(!e.satisfied("default/web"));
        e.observe(
            &Change::Added(Arc::new(CachedPod::of(&owned("web-a")))),
            &cache,
        );
        // A later update of a pod already seen is not another creation.
        e.observe(&updated(owned("web-a")), &cache);
        assert!(!e.satisfied("default/web"));
        e.observe(
            &Change::Added(Arc::new(CachedPod::of(&owned("web-b")))),
            &cache,
        );
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
    }

    #[tokio::test]
    async fn slow_start_batches_double_and_stop_at_first_failure() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let (ok, res) = slow_start_batch(10, || async {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n >= 4 {
                Err(kube::Error::LinesCodecMaxLineLengthExceeded)
            } else {
                Ok(())
            }
        })
        .await;
        // Batches 1, 2, then 4 of which the 2nd..4th fail: 3 + 1 = 4 succeed,
        // and the 8-batch never starts.
        assert_eq!(ok, 4);
        assert!(res.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 7);
    }
}
