//! The `Store` trait and its sled implementation: keys
//! `/registry/<group>/<resource>/<namespace>/<name>` → JSON bytes, plus one
//! store-wide revision counter that is every object's resourceVersion.
//!
//! Kubernetes keeps objects in etcd, whose MVCC revision is the
//! resourceVersion. minik keeps only the latest value of each key in sled and
//! a single counter written atomically with each batch of changes; history
//! for watches lives in memory (see `hub.rs`), which is also what
//! kube-apiserver's watch cache does. Only the API server opens the store,
//! and only the writer (`commit.rs`) changes it.

use std::path::Path;

const REVISION_KEY: &[u8] = b"/minik/revision";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Io(#[from] sled::Error),
    #[error("store holds a corrupt value at {0}")]
    Corrupt(String),
}

/// One change in an atomic batch: `Some(bytes)` writes, `None` removes.
pub type Op = (String, Option<Vec<u8>>);

/// What the API server needs from a key-value store.
pub trait Store: Send + Sync + 'static {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Visits keys under `prefix` in order, strictly after `start_after` if
    /// given, until `visit` returns false.
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str, &[u8]) -> bool,
    ) -> Result<(), StoreError>;
    /// The last revision written by `apply`.
    fn revision(&self) -> Result<u64, StoreError>;
    /// Applies `ops` and sets the revision, all or nothing (not yet durable).
    fn apply(&self, ops: Vec<Op>, revision: u64) -> Result<(), StoreError>;
    /// Makes everything applied so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

/// sled-backed store. sled's `apply_batch` gives atomicity, `flush` durability.
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // Durability comes from explicit group-commit flushes, not a timer.
            .flush_every_ms(None)
            .open()?;
        Ok(Self { db })
    }
}

impl Store for SledStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let iter = match start_after {
            Some(after) => {
                let mut start = after.as_bytes().to_vec();
                start.push(0);
                self.db.range(start..)
            }
            None => self.db.range(prefix.as_bytes()..),
        };
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            let key = std::str::from_utf8(&k).map_err(|_| StoreError::Corrupt(format!("{k:?}")))?;
            if !visit(key, &v) {
                break;
            }
        }
        Ok(())
    }

    fn revision(&self) -> Result<u64, StoreError> {
        match self.db.get(REVISION_KEY)? {
            Some(v) => {
                let bytes: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("revision".into()))?;
                Ok(u64::from_be_bytes(bytes))
            }
            None => Ok(0),
        }
    }

    fn apply(&self, ops: Vec<Op>, revision: u64) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in ops {
            match value {
                Some(v) => batch.insert(key.as_bytes(), v),
                None => batch.remove(key.as_bytes()),
            }
        }
        batch.insert(REVISION_KEY, &revision.to_be_bytes());
        self.db.apply_batch(batch)?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_atomic_and_revision_persists() {
        let dir = tempdir();
        {
            let s = SledStore::open(&dir).unwrap();
            s.apply(
                vec![
                    ("/registry/a/1".into(), Some(b"x".to_vec())),
                    ("/registry/a/2".into(), Some(b"y".to_vec())),
                ],
                7,
            )
            .unwrap();
            s.apply(vec![("/registry/a/1".into(), None)], 8).unwrap();
            s.flush().unwrap();
        }
        let s = SledStore::open(&dir).unwrap();
        assert_eq!(s.revision().unwrap(), 8);
        let mut seen = vec![];
        s.scan("/registry/a/", None, &mut |k, _| {
            seen.push(k.to_string());
            true
        })
        .unwrap();
        assert_eq!(seen, vec!["/registry/a/2"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("minik-store-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
