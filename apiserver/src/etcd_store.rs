//! The etcd v3 store (`minik-apiserver --store etcd://host:port[,host:port]`):
//! the same keys as the sled store, kept in etcd under an optional prefix
//! (kube-apiserver's `--etcd-prefix`), so several API servers can serve one
//! cluster.
//!
//! As in kube-apiserver's etcd3 storage, an object's resourceVersion is its
//! key's `mod_revision`: values are stored with an empty
//! `metadata.resourceVersion`, and every read (get, scan, watch event)
//! stamps the revision etcd reports. Writes are compare-and-swap
//! transactions on `mod_revision` (see `etcd_commit.rs`). The [`Store`]
//! trait's reads are synchronous (sled's are); this store runs the etcd
//! client on a small runtime of its own and blocks the caller until the
//! answer arrives, as a sled read blocks on the disk.
//!
//! Secrets are encrypted at rest by the same [`Transformer`] as in sled.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, GetResponse, KeyValue, Txn, TxnOp,
    WatchOptions, WatchStream,
};
use serde_json::Value;

use crate::encryption::Transformer;
use crate::store::{Op, Store, StoreError};

/// Keys read per range request while scanning.
const SCAN_PAGE: i64 = 500;

/// Where the cluster's data lives in etcd.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// `http://host:port` of each member.
    pub endpoints: Vec<String>,
    /// Prepended to every key (kube-apiserver's `--etcd-prefix`); lets
    /// several clusters (or test runs) share one etcd.
    pub prefix: String,
}

impl EtcdConfig {
    /// Parses `etcd://host:port[,host:port]`.
    pub fn parse(spec: &str, prefix: &str) -> Result<Self, String> {
        let rest = spec
            .strip_prefix("etcd://")
            .ok_or_else(|| format!("{spec:?}: expected etcd://host:port[,host:port]"))?;
        let endpoints: Vec<String> = rest
            .split(',')
            .filter(|e| !e.is_empty())
            .map(|e| format!("http://{}", e.trim_end_matches('/')))
            .collect();
        if endpoints.is_empty() {
            return Err(format!("{spec:?}: no etcd endpoint given"));
        }
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(format!("--etcd-prefix {prefix:?} must start with '/'"));
        }
        Ok(Self {
            endpoints,
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }
}

/// A value read with the revision that last changed it.
pub struct Versioned {
    /// The stored JSON with `metadata.resourceVersion` stamped.
    pub bytes: Vec<u8>,
    pub mod_revision: i64,
}

pub struct EtcdStore {
    /// Runs the client's I/O; shut down in the background on drop (the
    /// store may be dropped inside another runtime).
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    prefix: String,
    transformer: Arc<Transformer>,
}

fn etcd_error(e: etcd_client::Error) -> StoreError {
    StoreError::Etcd(e.to_string())
}

impl EtcdStore {
    /// Connects to etcd (failing if no member answers within a few seconds).
    pub async fn connect(
        config: &EtcdConfig,
        transformer: Arc<Transformer>,
    ) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("minik-etcd")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Etcd(e.to_string()))?;
        let endpoints = config.endpoints.clone();
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(15))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let connect = runtime.spawn(async move {
            let mut client = Client::connect(endpoints, Some(options)).await?;
            // Connecting is lazy: ask for something so a dead endpoint fails here.
            client.status().await?;
            Ok::<_, etcd_client::Error>(client)
        });
        let client = connect
            .await
            .map_err(|e| StoreError::Etcd(e.to_string()))?
            .map_err(|e| {
                StoreError::Etcd(format!(
                    "cannot reach etcd at {}: {e}",
                    config.endpoints.join(",")
                ))
            })?;
        Ok(Self {
            runtime: Some(runtime),
            client,
            prefix: config.prefix.clone(),
            transformer,
        })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("running until dropped")
            .handle()
    }

    /// Runs `fut` on the store's runtime and waits for it without blocking
    /// the caller's runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.handle()
            .spawn(fut)
            .await
            .map_err(|e| StoreError::Etcd(e.to_string()))?
    }

    /// Runs `fut` on the store's runtime, blocking this thread until it ends.
    ///
    /// Called from a request handler on a multi-threaded runtime, the wait
    /// is announced with `block_in_place`, so the worker's other requests
    /// move to another thread meanwhile rather than queue behind an etcd
    /// round trip.
    fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(fut.await);
        });
        let wait = || {
            rx.recv()
                .map_err(|_| StoreError::Etcd("the etcd client stopped".into()))?
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }

    /// A read of `key`, to run on the store's runtime (`run` or `block`).
    fn read_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<GetResponse, StoreError>> + Send + 'static {
        let mut client = self.client.clone();
        let ekey = self.etcd_key(key);
        async move { client.get(ekey, None).await.map_err(etcd_error) }
    }

    /// A read of nothing, for the current revision its answer carries.
    fn read_revision(&self) -> impl Future<Output = Result<u64, StoreError>> + Send + 'static {
        let mut client = self.client.clone();
        let key = self.etcd_key("/");
        async move {
            let resp = client
                .get(key, Some(GetOptions::new().with_count_only()))
                .await
                .map_err(etcd_error)?;
            Ok(resp.header().map(|h| h.revision() as u64).unwrap_or(0))
        }
    }

    /// The etcd key of a minik key.
    pub fn etcd_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The minik key of an etcd key (None if outside this store's prefix).
    pub fn minik_key<'a>(&self, etcd_key: &'a [u8]) -> Option<&'a str> {
        std::str::from_utf8(etcd_key.strip_prefix(self.prefix.as_bytes())?).ok()
    }

    /// A stored value as callers see it: decrypted, resourceVersion stamped.
    pub fn decode(&self, key: &str, kv: &KeyValue) -> Result<Vec<u8>, StoreError> {
        self.decode_value(key, kv.value(), kv.mod_revision())
    }

    pub fn decode_value(
        &self,
        key: &str,
        stored: &[u8],
        revision: i64,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = if self.transformer.transforms(key) {
            self.transformer
                .from_storage(key, stored)
                .map_err(|why| StoreError::Decrypt {
                    key: key.to_string(),
                    why,
                })?
        } else {
            stored.to_vec()
        };
        Ok(stamp_revision(plain, revision))
    }

    /// The value at `key` and its mod_revision, read before a swap. A
    /// linearizable read: a serializable one (no quorum round trip) was
    /// faster, but a lagging member could show a client's own last write as
    /// not yet there and fail its next update with a false 409.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let mut resp = self.run(self.read_key(key)).await?;
        match resp.take_kvs().into_iter().next() {
            Some(kv) => Ok(Some(Versioned {
                bytes: self.decode(key, &kv)?,
                mod_revision: kv.mod_revision(),
            })),
            None => Ok(None),
        }
    }

    /// Writes (`Some`) or deletes (`None`) `key` if its mod_revision is
    /// still `expected` (0: the key must not exist). Returns the new
    /// revision, or `None` if another writer got there first.
    pub async fn swap(
        &self,
        key: &str,
        expected: i64,
        value: Option<Vec<u8>>,
    ) -> Result<Option<u64>, StoreError> {
        let ekey = self.etcd_key(key);
        let op = match value {
            Some(v) => TxnOp::put(ekey.clone(), self.transformer.to_storage(key, v), None),
            None => TxnOp::delete(ekey.clone(), None),
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(ekey, CompareOp::Equal, expected)])
            .and_then([op]);
        let mut client = self.client.clone();
        let resp = self
            .run(async move { client.txn(txn).await.map_err(etcd_error) })
            .await?;
        if !resp.succeeded() {
            return Ok(None);
        }
        Ok(resp.header().map(|h| h.revision() as u64))
    }

    /// Watches every key of this store from `revision` (inclusive), with
    /// each change's previous value.
    pub async fn watch_from(&self, revision: u64) -> Result<WatchStream, StoreError> {
        let mut client = self.client.clone();
        let key = self.etcd_key("/");
        let options = WatchOptions::new()
            .with_prefix()
            .with_prev_key()
            .with_progress_notify()
            .with_start_revision(revision as i64);
        self.run(async move { client.watch(key, Some(options)).await.map_err(etcd_error) })
            .await
    }

    /// etcd's current revision.
    pub async fn current_revision(&self) -> Result<u64, StoreError> {
        self.run(self.read_revision()).await
    }

    /// Spawns `fut` on the store's runtime (the watch feeder).
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.handle().spawn(fut);
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Sets `metadata.resourceVersion` to `revision` (values that are not JSON
/// objects are left as they are: readers report them as corrupt).
pub fn stamp_revision(bytes: Vec<u8>, revision: i64) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    match value.get_mut("metadata").and_then(Value::as_object_mut) {
        Some(meta) => {
            meta.insert(
                "resourceVersion".into(),
                Value::String(revision.to_string()),
            );
            serde_json::to_vec(&value).expect("JSON values serialize")
        }
        None => bytes,
    }
}

impl Store for EtcdStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut resp = self.block(self.read_key(key))?;
        match resp.take_kvs().into_iter().next() {
            Some(kv) => Ok(Some(self.decode(key, &kv)?)),
            None => Ok(None),
        }
    }

    /// Reads the range page by page, every page at the first page's
    /// revision, so a scan sees one state of the store.
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // Every minik key starts with '/': an empty prefix is the whole of
        // this store, not every key sharing its text (`/test-1` vs `/test-12`).
        let prefix = if prefix.is_empty() { "/" } else { prefix };
        let end = prefix_end(self.etcd_key(prefix).into_bytes());
        let mut start = match start_after {
            Some(after) => {
                let mut k = self.etcd_key(after).into_bytes();
                k.push(0);
                k
            }
            None => self.etcd_key(prefix).into_bytes(),
        };
        let mut at_revision = 0i64;
        loop {
            let mut client = self.client.clone();
            let mut options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(SCAN_PAGE);
            if at_revision > 0 {
                options = options.with_revision(at_revision);
            }
            let from = start.clone();
            let mut resp = self
                .block(async move { client.get(from, Some(options)).await.map_err(etcd_error) })?;
            if at_revision == 0 {
                at_revision = resp.header().map(|h| h.revision()).unwrap_or(0);
            }
            let more = resp.more();
            let kvs = resp.take_kvs();
            for kv in &kvs {
                let Some(key) = self.minik_key(kv.key()) else {
                    continue;
                };
                if !visit(key, &self.decode(key, kv)?) {
                    return Ok(());
                }
            }
            match kvs.last() {
                Some(last) if more => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    fn revision(&self) -> Result<u64, StoreError> {
        self.block(self.read_revision())
    }

    /// Not used: an etcd store is written one compare-and-swap at a time
    /// (`etcd_commit.rs`), never in the sled writer's batches.
    fn apply(&self, _ops: Vec<Op>, _revision: u64) -> Result<(), StoreError> {
        Err(StoreError::Etcd(
            "an etcd store is written through transactions, not batches".into(),
        ))
    }

    /// Every acknowledged etcd write is already durable (on a quorum).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The first key after every key starting with `prefix` (etcd's range end).
fn prefix_end(mut prefix: Vec<u8>) -> Vec<u8> {
    while let Some(last) = prefix.pop() {
        if last < 0xff {
            prefix.push(last + 1);
            return prefix;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_prefix_parse() {
        let c = EtcdConfig::parse("etcd://127.0.0.1:2379,10.0.0.2:2379", "/minik/").unwrap();
        assert_eq!(
            c.endpoints,
            ["http://127.0.0.1:2379", "http://10.0.0.2:2379"]
        );
        assert_eq!(c.prefix, "/minik");
        assert!(EtcdConfig::parse("http://x:1", "").is_err());
        assert!(EtcdConfig::parse("etcd://", "").is_err());
        assert!(EtcdConfig::parse("etcd://x:1", "nope").is_err());
    }

    #[test]
    fn revisions_are_stamped_in_place() {
        let stored = br#"{"kind":"Pod","metadata":{"name":"a","resourceVersion":"","uid":"u"}}"#;
        let out = stamp_revision(stored.to_vec(), 42);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"kind":"Pod","metadata":{"name":"a","resourceVersion":"42","uid":"u"}}"#
        );
        assert_eq!(stamp_revision(b"not json".to_vec(), 1), b"not json");
        assert_eq!(prefix_end(b"/a/".to_vec()), b"/a0");
        assert_eq!(prefix_end(vec![b'a', 0xff]), b"b");
    }
}
