//! Writing to and following an etcd store: what `commit.rs` does for sled,
//! for API servers that share one etcd.
//!
//! - **Writes** are compare-and-swap transactions, as kube-apiserver's
//!   `GuaranteedUpdate`: read the object and its `mod_revision`, run the
//!   mutation, then put (or delete) only if the `mod_revision` is
//!   unchanged. Mutations of one key are serialized inside this server (a
//!   lock per key), so only a race with *another* API server can fail a
//!   swap. minik simplifies there: kube-apiserver re-runs the update on
//!   the fresh object; minik's mutations run once, so the loser gets the
//!   409 Conflict a stale resourceVersion gets, and clients retry as they
//!   do for any conflict.
//! - **Watches**: one etcd watch on the store's prefix feeds the [`Hub`],
//!   so every change reaches this server's watches whichever server made
//!   it. It starts `watch_history` revisions back, so a watch resumed
//!   after an API server restart finds its history (etcd keeps it until
//!   compaction). If etcd has compacted past what the hub needs, the hub
//!   forgets its history and watches get 410 Gone, as on kube-apiserver.
//! - A write is answered once the hub has published it, so a client that
//!   writes and then watches or is authorized by what it wrote sees it —
//!   the same order the sled writer keeps.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::commit::{Committed, Mutation, Outcome};
use crate::error::ApiError;
use crate::etcd_store::EtcdStore;
use crate::hub::{Event, EventType, Hub};

/// How long a write waits for its change to come back through the watch
/// before it is answered anyway.
const PUBLISH_WAIT: Duration = Duration::from_secs(10);

pub struct SharedWriter {
    store: Arc<EtcdStore>,
    hub: Arc<Hub>,
    /// The newest revision this server knows of (its writes and the watch).
    known: Arc<AtomicU64>,
    /// One lock per key being written, removed when nobody holds it.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SharedWriter {
    /// Starts following the store into `hub` from `history_from` (the
    /// revision the hub's history starts at) and returns the writer.
    pub async fn start(
        store: Arc<EtcdStore>,
        hub: Arc<Hub>,
        history_from: u64,
    ) -> Result<Arc<Self>, ApiError> {
        let current = store.current_revision().await?;
        let known = Arc::new(AtomicU64::new(current));
        let writer = Arc::new(Self {
            store: store.clone(),
            hub: hub.clone(),
            known: known.clone(),
            locks: Mutex::default(),
        });
        store.spawn(follow(store.clone(), hub, known, history_from));
        Ok(writer)
    }

    pub fn revision(&self) -> u64 {
        self.known.load(Ordering::SeqCst)
    }

    pub async fn mutate(&self, key: String, mutation: Mutation) -> Result<Committed, ApiError> {
        let lock = self.lock_for(&key);
        let guard = lock.lock().await;
        let result = self.mutate_locked(&key, mutation).await;
        drop(guard);
        drop(lock);
        self.unlock(&key);
        result
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Drops the key's lock if no one else holds or waits for it.
    fn unlock(&self, key: &str) {
        let mut locks = self.locks.lock().unwrap();
        if locks.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(key);
        }
    }

    async fn mutate_locked(&self, key: &str, mutation: Mutation) -> Result<Committed, ApiError> {
        let (current, expected) = match self.store.get_versioned(key).await? {
            Some(v) => {
                let value: Value = serde_json::from_slice(&v.bytes)
                    .map_err(|e| ApiError::internal(format!("corrupt object at {key}: {e}")))?;
                (Some(value), v.mod_revision)
            }
            None => (None, 0),
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| mutation(current.clone())))
            .unwrap_or_else(|_| {
                Err(ApiError::internal(
                    "a request handler panicked; nothing was written",
                ))
            })?;
        match outcome {
            Outcome::Unchanged(v) => Ok(Committed {
                object: Arc::new(v),
                event_type: None,
                json: None,
            }),
            Outcome::Put(mut v) => {
                // Stored without a revision: readers stamp the key's mod_revision.
                v["metadata"]["resourceVersion"] = json!("");
                minik_api::meta::go_field_order(&mut v);
                let bytes = serde_json::to_vec(&v).expect("JSON values serialize");
                let revision = self.swap(key, expected, Some(bytes)).await?;
                v["metadata"]["resourceVersion"] = json!(revision.to_string());
                Ok(Committed {
                    object: Arc::new(v),
                    event_type: Some(if current.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    }),
                    json: None,
                })
            }
            Outcome::Delete => {
                let revision = self.swap(key, expected, None).await?;
                let mut last = current.unwrap_or(Value::Null);
                if last.is_object() {
                    last["metadata"]["resourceVersion"] = json!(revision.to_string());
                }
                Ok(Committed {
                    object: Arc::new(last),
                    event_type: Some(EventType::Deleted),
                    json: None,
                })
            }
        }
    }

    /// The compare-and-swap, then the wait until the hub has the change.
    async fn swap(
        &self,
        key: &str,
        expected: i64,
        value: Option<Vec<u8>>,
    ) -> Result<u64, ApiError> {
        let revision = self
            .store
            .swap(key, expected, value)
            .await?
            .ok_or_else(|| raced(key))?;
        self.known.fetch_max(revision, Ordering::SeqCst);
        let mut published = self.hub.published();
        let seen = tokio::time::timeout(PUBLISH_WAIT, published.wait_for(|r| *r >= revision)).await;
        if !matches!(seen, Ok(Ok(_))) {
            tracing::warn!(
                key,
                revision,
                "a write did not come back through the etcd watch in time"
            );
        }
        Ok(revision)
    }
}

/// 409 for a write that lost a race with another API server, in the words
/// kube-apiserver uses for a stale resourceVersion.
fn raced(key: &str) -> ApiError {
    // Keys are /registry/<group>/<resource>/[<namespace>/]<name>.
    let parts: Vec<&str> = key.trim_start_matches('/').split('/').collect();
    let resource = match parts.as_slice() {
        [_, "core", resource, ..] => resource.to_string(),
        [_, group, resource, ..] => format!("{resource}.{group}"),
        _ => "objects".into(),
    };
    let name = parts.last().copied().unwrap_or_default();
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        ),
    )
}

/// Feeds every change under the store's prefix into the hub, from
/// `history_from` on, until the hub closes; re-watches after errors.
async fn follow(store: Arc<EtcdStore>, hub: Arc<Hub>, known: Arc<AtomicU64>, history_from: u64) {
    let mut next = history_from + 1;
    let closed = hub.closed();
    tokio::pin!(closed);
    loop {
        let followed = async {
            let mut stream = store.watch_from(next).await?;
            while let Some(resp) = stream
                .message()
                .await
                .map_err(|e| crate::store::StoreError::Etcd(e.to_string()))?
            {
                if resp.compact_revision() > 0 {
                    // The history we need is gone: start again from what is left.
                    let from = resp.compact_revision() as u64;
                    tracing::warn!(
                        wanted = next,
                        compacted = from,
                        "etcd compacted the history the watch cache needs; open watches get 410 Gone"
                    );
                    hub.reset(from.saturating_sub(1));
                    next = from;
                    return Ok(());
                }
                if resp.canceled() {
                    return Err(crate::store::StoreError::Etcd(format!(
                        "watch canceled: {}",
                        resp.cancel_reason()
                    )));
                }
                let mut events = Vec::new();
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    let Some(key) = store.minik_key(kv.key()) else {
                        continue;
                    };
                    let revision = kv.mod_revision() as u64;
                    // A value this server cannot read (a different encryption
                    // key, a stray key) is logged and skipped: one bad value
                    // must not stop every watch.
                    let decoded = |stored: &[u8], at: i64| match decode(&store, key, stored, at) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            tracing::error!(key, revision, error = %e, "unreadable value in etcd; its change is not published");
                            None
                        }
                    };
                    let prev = match ev.prev_kv() {
                        Some(p) => match decoded(p.value(), p.mod_revision()) {
                            Some(v) => Some(v),
                            None => continue,
                        },
                        None => None,
                    };
                    let (event_type, object) = match ev.event_type() {
                        etcd_client::EventType::Put => {
                            let Some(v) = decoded(kv.value(), kv.mod_revision()) else {
                                continue;
                            };
                            let added = kv.create_revision() == kv.mod_revision();
                            let t = if added {
                                EventType::Added
                            } else {
                                EventType::Modified
                            };
                            (t, Arc::new(v))
                        }
                        etcd_client::EventType::Delete => {
                            // The last state, stamped with the deletion's revision.
                            let last = ev
                                .prev_kv()
                                .and_then(|p| decoded(p.value(), kv.mod_revision()))
                                .unwrap_or(Value::Null);
                            (EventType::Deleted, Arc::new(last))
                        }
                    };
                    events.push(Arc::new(Event::encoded(
                        revision,
                        event_type,
                        key.to_string(),
                        object,
                        prev.as_ref(),
                    )));
                }
                // Skipped values still move the watch on.
                let newest = resp
                    .events()
                    .iter()
                    .filter_map(|e| e.kv())
                    .map(|kv| kv.mod_revision() as u64)
                    .max();
                if let Some(last) = newest {
                    known.fetch_max(last, Ordering::SeqCst);
                    next = last + 1;
                    hub.publish(events);
                } else if let Some(h) = resp.header() {
                    // A progress notification: nothing of ours changed up to here.
                    known.fetch_max(h.revision() as u64, Ordering::SeqCst);
                }
            }
            Err(crate::store::StoreError::Etcd("the watch ended".into()))
        };
        tokio::select! {
            _ = &mut closed => return,
            result = followed => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, from = next, "etcd watch lost; watching again");
                    tokio::select! {
                        _ = &mut closed => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }
}

fn decode(
    store: &EtcdStore,
    key: &str,
    stored: &[u8],
    revision: i64,
) -> Result<Value, crate::store::StoreError> {
    let bytes = store.decode_value(key, stored, revision)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| crate::store::StoreError::Corrupt(format!("{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn races_are_named_like_stale_writes() {
        let e = raced("/registry/apps/deployments/default/web");
        assert_eq!(e.status()["code"], 409);
        assert_eq!(
            e.status()["message"],
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let e = raced("/registry/core/pods/default/p");
        assert!(e.status()["message"]
            .as_str()
            .unwrap()
            .starts_with("Operation cannot be fulfilled on pods \"p\""));
    }
}
