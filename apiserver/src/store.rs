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
//!
//! Damage is not left to chance. sled recovers a torn or truncated log by
//! dropping everything after the damage, so a damaged store would open
//! "fine" with its newest changes gone and its revision rolled back. To
//! notice, the writer keeps a [`Marker`] beside sled's files — the last
//! durable revision and the number of objects, never ahead of the store
//! and never far behind what clients have seen — and [`open_checked`]
//! compares the store with it at start-up (etcd checks its own data with
//! hashes on every page; minik checks the outcome instead). The same file
//! format serves [`Snapshot`]s, etcd's `snapshot save/restore`.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::encryption::Transformer;

const REVISION_KEY: &[u8] = b"/minik/revision";
/// How long opening waits for a store lock that a closing holder still has.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The most sled keeps of the store's pages in memory (its default is
/// 1 GiB). Every object and Event a big cluster writes went into that
/// cache: 260 MB of the API server's 652 MB at 30,000 simulated pods
/// (BENCHMARKS.md, "Pods at scale" steps 10 and 13: 1 GiB → 128 MiB →
/// 64 MiB, the API server 652 → 389 → 300–337 MB there). Pages past it
/// are read back from the file, which the kernel's page cache holds; the
/// burst ran no slower. (etcd likewise leaves its file to the kernel:
/// bbolt maps it.)
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Io(#[from] sled::Error),
    #[error("store holds a corrupt value at {0}")]
    Corrupt(String),
    /// Found at start-up: the store disagrees with its marker or cannot be read.
    #[error("{0}")]
    Damaged(String),
    #[error("{0}")]
    File(String),
    /// A value the encryption configuration cannot read (a missing key).
    #[error("cannot decrypt {key}: {why}")]
    Decrypt { key: String, why: String },
    /// etcd did not answer, or answered with an error.
    #[error("etcd: {0}")]
    Etcd(String),
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
/// Values of the resources the [`Transformer`] names (Secrets) are
/// encrypted on the way in and decrypted on the way out, so everything
/// above the store sees plain JSON (`encryption.rs`).
pub struct SledStore {
    db: sled::Db,
    transformer: Arc<Transformer>,
}

impl SledStore {
    /// A store that writes every value as it is.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        SledStore::open_with(dir, Arc::default())
    }

    pub fn open_with(dir: &Path, transformer: Arc<Transformer>) -> Result<Self, StoreError> {
        let config = sled::Config::new()
            .path(dir)
            // Durability comes from explicit group-commit flushes, not a timer.
            .flush_every_ms(None)
            .cache_capacity(CACHE_BYTES);
        // The store's lock is held until its last file handle closes: a
        // dropped store's background threads, or a killed server's last
        // threads, may still hold it for a moment. Wait that out (bounded);
        // a store another live server holds is still refused.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match config.open() {
                Err(e) if lock_held(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                db => {
                    return Ok(Self {
                        db: db?,
                        transformer,
                    })
                }
            }
        }
    }

    fn read(&self, key: &str, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.transformer
            .from_storage(key, stored)
            .map_err(|why| StoreError::Decrypt {
                key: key.to_string(),
                why,
            })
    }
}

/// Whether opening failed because another handle holds the store's lock
/// (sled 0.34 reports it as an `Other` error naming the lock).
fn lock_held(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("could not acquire lock"))
}

impl Store for SledStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.db.get(key.as_bytes())? {
            Some(v) if self.transformer.transforms(key) => Ok(Some(self.read(key, &v)?)),
            Some(v) => Ok(Some(v.to_vec())),
            None => Ok(None),
        }
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
            let more = if self.transformer.transforms(key) {
                visit(key, &self.read(key, &v)?)
            } else {
                visit(key, &v)
            };
            if !more {
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
                Some(v) => batch.insert(key.as_bytes(), self.transformer.to_storage(&key, v)),
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

// ---------------------------------------------------------------------------
// The marker: what the store must at least hold.

/// The last durable state the writer recorded: the store's revision must
/// never be below `revision` at start-up, and at exactly that revision it
/// must hold `objects` objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub revision: u64,
    pub objects: u64,
}

/// Name of the marker file inside the data dir.
pub const MARKER_FILE: &str = "revision";

/// Two slots, each in its own 512-byte sector.
const SLOT: u64 = 512;

/// `<data-dir>/revision`, rewritten after every flushed batch (off the
/// commit path: see `commit.rs`).
///
/// The usual way to replace a file atomically is temp + fsync + rename (+
/// fsync of the directory): four system calls and two flushes, about 4 ms
/// here — more than sled's own flush. Instead the file has two fixed slots
/// written in turn in place, each a text line with its own checksum, and
/// one `fdatasync` per batch: a crash can tear only the slot being written,
/// and then the other slot still holds the previous (smaller, durable)
/// revision. The reader takes the newest valid slot.
pub struct MarkerFile {
    file: File,
    next_slot: u64,
}

impl MarkerFile {
    /// Opens (creating if missing) the marker in `dir`.
    fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(MARKER_FILE);
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| file_error(&path, e))?;
        if !existed {
            // Make the new file's name durable once; later writes only need fdatasync.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| file_error(dir, e))?;
        }
        Ok(Self { file, next_slot: 0 })
    }

    /// Records `marker` durably. Call only once the store holds it durably.
    pub fn write(&mut self, marker: Marker) -> std::io::Result<()> {
        let mut slot = marker_line(marker).into_bytes();
        slot.resize(SLOT as usize - 1, b' ');
        slot.push(b'\n');
        self.file.write_all_at(&slot, self.next_slot * SLOT)?;
        self.file.sync_data()?;
        self.next_slot = 1 - self.next_slot;
        Ok(())
    }
}

fn marker_line(m: Marker) -> String {
    let body = format!(
        "minik store marker v1 revision={} objects={}",
        m.revision, m.objects
    );
    format!("{body} check={:016x}", fnv1a(body.as_bytes()))
}

/// The newest valid slot of `<dir>/revision`: `Ok(None)` if there is no
/// marker file, an error if there is one but no slot is valid.
pub fn read_marker(dir: &Path) -> Result<Option<Marker>, StoreError> {
    let path = dir.join(MARKER_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(&path, e)),
    };
    let best = bytes
        .chunks(SLOT as usize)
        .filter_map(|slot| parse_marker_line(String::from_utf8_lossy(slot).trim()))
        .max_by_key(|m| m.revision);
    match best {
        Some(m) => Ok(Some(m)),
        None => Err(StoreError::Damaged(format!(
            "the marker file {} is unreadable",
            path.display()
        ))),
    }
}

fn parse_marker_line(line: &str) -> Option<Marker> {
    let (body, check) = line.rsplit_once(" check=")?;
    if u64::from_str_radix(check, 16).ok()? != fnv1a(body.as_bytes()) {
        return None;
    }
    let mut fields = body.strip_prefix("minik store marker v1 ")?.split(' ');
    let revision = fields.next()?.strip_prefix("revision=")?.parse().ok()?;
    let objects = fields.next()?.strip_prefix("objects=")?.parse().ok()?;
    Some(Marker { revision, objects })
}

/// 64-bit FNV-1a: enough to tell a torn or flipped record from a good one
/// (an integrity check, not a defence against forgery).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn file_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::File(format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Start-up: open, check against the marker, optionally recover.

/// A store that passed the start-up check (or was recovered).
pub struct Opened {
    pub store: SledStore,
    pub marker: MarkerFile,
    /// Objects in the store (the writer keeps counting from here).
    pub objects: u64,
    /// What `--recover` found and did, to be logged.
    pub recovered: Option<String>,
}

/// What reading the whole store found.
struct Survey {
    revision: u64,
    objects: u64,
    /// The highest resourceVersion any object carries.
    newest_object: u64,
}

/// How far the marker may be behind the revisions clients have seen: the
/// writer records markers beside the commit path and answers only while the
/// marker is within this many revisions (`commit.rs`). Recovery and restore
/// move the revision past the marker by more than this.
const MARKER_LAG: u64 = crate::commit::MAX_BATCH as u64;

/// How far `--recover` moves the revision when no marker says how far the
/// old store had got (etcd's `snapshot restore --bump-revision` serves the
/// same purpose).
const UNKNOWN_BUMP: u64 = 1_000_000;

/// Opens the store in `dir` and checks it against its marker: the revision
/// must not be below the marker's, the object count must match at the same
/// revision, no object may be newer than the revision, and sled must read
/// every entry without error or panic. On damage this refuses with
/// [`StoreError::Damaged`] unless `recover` is set; then it keeps what is
/// intact, moves the revision above anything handed out before, and says
/// what was lost.
pub fn open_checked(
    dir: &Path,
    recover: bool,
    transformer: Arc<Transformer>,
) -> Result<Opened, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    // Only the server's user reads the store (it holds every Secret).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| file_error(dir, e))?;
    }
    let marker = match read_marker(dir) {
        Ok(m) => m,
        Err(e) if recover => {
            tracing::warn!(error = %e, "ignoring the unreadable marker (--recover)");
            None
        }
        Err(e) => return Err(e),
    };
    let (store, survey) = match guarded(|| {
        let store = SledStore::open_with(dir, transformer)?;
        let survey = survey(&store)?;
        Ok((store, survey))
    }) {
        Ok(found) => found,
        // Someone else has it open: not damage, and nothing to recover.
        Err(StoreError::Io(sled::Error::Io(e))) if e.to_string().contains("lock") => {
            return Err(StoreError::Io(sled::Error::Io(e)))
        }
        // A key missing from the encryption configuration is not damage.
        Err(e @ StoreError::Decrypt { .. }) => return Err(e),
        Err(e) if recover => return recover_unreadable(dir, marker, &e),
        Err(e) => return Err(StoreError::Damaged(format!("sled cannot read it: {e}"))),
    };
    let problem = check(&survey, marker);
    let recovered = match (problem, recover) {
        (None, _) => None,
        (Some(problem), false) => return Err(StoreError::Damaged(problem)),
        (Some(problem), true) => {
            let was = marker.map_or(survey.revision, |m| m.revision);
            let bumped = match marker {
                Some(m) => m.revision.max(survey.revision) + MARKER_LAG + 1,
                None => survey.revision + UNKNOWN_BUMP,
            };
            store.apply(Vec::new(), bumped)?;
            store.flush()?;
            let mut report = format!(
                "recovered: {problem}; kept the store at revision {} with {} objects",
                survey.revision, survey.objects
            );
            if let Some(m) = marker {
                report += &format!(
                    " ({} revision(s) and {} object(s) lost, counting from the marker)",
                    m.revision.saturating_sub(survey.revision),
                    m.objects as i64 - survey.objects as i64
                );
            }
            report += &format!(
                "; revision set to {bumped}, {MARKER_LAG}+ above the marker's {was}, so no revision number is reused and their watches get 410 Gone"
            );
            Some(report)
        }
    };
    let mut marker_file = MarkerFile::open(dir)?;
    let revision = store.revision()?;
    marker_file
        .write(Marker {
            revision,
            objects: survey.objects,
        })
        .map_err(|e| file_error(&dir.join(MARKER_FILE), e))?;
    Ok(Opened {
        store,
        marker: marker_file,
        objects: survey.objects,
        recovered,
    })
}

/// What is wrong with the store, judged against the marker (`None`: nothing).
fn check(s: &Survey, marker: Option<Marker>) -> Option<String> {
    if let Some(m) = marker {
        if s.revision < m.revision {
            let empty = if s.revision == 0 && s.objects == 0 {
                "the store is empty"
            } else {
                "the store's revision went backwards"
            };
            return Some(format!(
                "{empty}: it is at revision {} with {} objects, but its marker says revision {} with {} objects was durable",
                s.revision, s.objects, m.revision, m.objects
            ));
        }
        if s.revision == m.revision && s.objects != m.objects {
            return Some(format!(
                "the store holds {} objects at revision {}, but its marker counted {}",
                s.objects, s.revision, m.objects
            ));
        }
    }
    if s.newest_object > s.revision {
        return Some(format!(
            "an object has resourceVersion {} but the store's revision is {}",
            s.newest_object, s.revision
        ));
    }
    None
}

/// Reads every entry (so damage anywhere shows now, not in a request later).
fn survey(store: &SledStore) -> Result<Survey, StoreError> {
    let revision = store.revision()?;
    let mut objects = 0;
    let mut newest_object = 0;
    let mut bad = None;
    store.scan("", None, &mut |key, value| {
        if key.as_bytes() == REVISION_KEY {
            return true;
        }
        objects += 1;
        match object_revision(value) {
            Some(rv) => newest_object = newest_object.max(rv),
            // Every object is written by `commit.rs`, which stamps its resourceVersion.
            None => bad = Some(key.to_string()),
        }
        bad.is_none()
    })?;
    match bad {
        Some(key) => Err(StoreError::Corrupt(key)),
        None => Ok(Survey {
            revision,
            objects,
            newest_object,
        }),
    }
}

fn object_revision(value: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "resourceVersion")]
        resource_version: String,
    }
    #[derive(serde::Deserialize)]
    struct Obj {
        metadata: Meta,
    }
    let obj: Obj = serde_json::from_slice(value).ok()?;
    obj.metadata.resource_version.parse().ok()
}

/// Runs `f`, turning a panic inside sled into an error: sled 0.34 panics
/// on some damage (flipped bytes) instead of reporting it.
fn guarded<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(StoreError::Damaged(format!("sled panicked: {what}")))
    })
}

/// `--recover` when sled cannot read the store at all: move it aside and
/// start an empty one above the marker's revision.
fn recover_unreadable(
    dir: &Path,
    marker: Option<Marker>,
    error: &StoreError,
) -> Result<Opened, StoreError> {
    let aside = aside_path(dir, "damaged");
    std::fs::rename(dir, &aside).map_err(|e| file_error(dir, e))?;
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let bumped = marker.map_or(UNKNOWN_BUMP, |m| m.revision + MARKER_LAG + 1);
    let store = SledStore::open(dir)?;
    store.apply(Vec::new(), bumped)?;
    store.flush()?;
    let mut marker_file = MarkerFile::open(dir)?;
    marker_file
        .write(Marker {
            revision: bumped,
            objects: 0,
        })
        .map_err(|e| file_error(&dir.join(MARKER_FILE), e))?;
    let lost = marker.map_or("everything".into(), |m| {
        format!("{} objects (revision {})", m.objects, m.revision)
    });
    Ok(Opened {
        store,
        marker: marker_file,
        objects: 0,
        recovered: Some(format!(
            "recovered: sled could not read the store ({error}); moved it to {} and started an empty store at revision {bumped}; lost {lost} — restore a backup to get them back",
            aside.display()
        )),
    })
}

/// `<dir>.<what>-<unix seconds>`: where an old data dir is kept aside.
pub fn aside_path(dir: &Path, what: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{what}-{secs}"));
    dir.with_file_name(name)
}

// ---------------------------------------------------------------------------
// Snapshots: etcd's `snapshot save` / `snapshot restore`.

/// A consistent copy of the whole store at one revision.
///
/// The file is JSON lines a student can read with `head`: a header
/// `{"minikSnapshot":1,"revision":R,"objects":N}`, one
/// `{"key":…,"value":{…}}` line per object in key order, and a last line
/// `{"check":"<fnv1a of everything before it>"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub revision: u64,
    pub entries: Vec<(String, serde_json::Value)>,
}

impl Snapshot {
    /// Copies the store. Call it where nothing writes meanwhile (the
    /// writer thread, between batches) so the copy is one revision's state.
    pub fn take(store: &dyn Store) -> Result<Self, StoreError> {
        let revision = store.revision()?;
        let mut entries = Vec::new();
        let mut bad = None;
        store.scan("", None, &mut |key, value| {
            if key.as_bytes() == REVISION_KEY {
                return true;
            }
            match serde_json::from_slice(value) {
                Ok(v) => entries.push((key.to_string(), v)),
                Err(_) => bad = Some(key.to_string()),
            }
            bad.is_none()
        })?;
        match bad {
            Some(key) => Err(StoreError::Corrupt(key)),
            None => Ok(Self { revision, entries }),
        }
    }

    pub fn encode(&self) -> String {
        let mut out = serde_json::json!({
            "minikSnapshot": 1,
            "revision": self.revision,
            "objects": self.entries.len(),
        })
        .to_string();
        out.push('\n');
        for (key, value) in &self.entries {
            out += &serde_json::json!({"key": key, "value": value}).to_string();
            out.push('\n');
        }
        let check = format!("{:016x}", fnv1a(out.as_bytes()));
        out += &serde_json::json!({ "check": check }).to_string();
        out.push('\n');
        out
    }

    /// Parses and verifies a snapshot file's text.
    pub fn decode(text: &str) -> Result<Self, String> {
        let body_end = text
            .trim_end_matches('\n')
            .rfind('\n')
            .map(|i| i + 1)
            .ok_or("not a minik snapshot (too short)")?;
        let (body, last) = text.split_at(body_end);
        let last: serde_json::Value = serde_json::from_str(last)
            .map_err(|_| "the snapshot's last line is not its checksum (truncated?)")?;
        if last["check"].as_str() != Some(format!("{:016x}", fnv1a(body.as_bytes())).as_str()) {
            return Err(
                "the snapshot's checksum does not match its contents (damaged or truncated)".into(),
            );
        }
        let mut lines = body.lines();
        let header: serde_json::Value = lines
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or("not a minik snapshot (no header)")?;
        if header["minikSnapshot"] != 1 {
            return Err("not a minik snapshot (unknown header)".into());
        }
        let revision = header["revision"]
            .as_u64()
            .ok_or("the header has no revision")?;
        let mut entries = Vec::new();
        for (i, line) in lines.enumerate() {
            let mut entry: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("entry {}: {e}", i + 1))?;
            let key = entry["key"]
                .as_str()
                .filter(|k| k.as_bytes() != REVISION_KEY)
                .ok_or_else(|| format!("entry {} has no object key", i + 1))?
                .to_string();
            entries.push((key, entry["value"].take()));
        }
        if header["objects"].as_u64() != Some(entries.len() as u64) {
            return Err("the snapshot's object count does not match its header".into());
        }
        Ok(Self { revision, entries })
    }

    /// Writes this snapshot as a new store in `dir` — which must be stopped
    /// — keeping any existing one aside as `<dir>.before-restore-<secs>`.
    /// The new store's revision is above both the snapshot's and the old
    /// marker's, so no revision number handed out before is reused: watches
    /// and lists from before the restore get 410 Gone and relist. Returns
    /// a sentence saying what was done.
    pub fn restore(&self, dir: &Path, transformer: Arc<Transformer>) -> Result<String, StoreError> {
        let old_marker = read_marker(dir).ok().flatten();
        if dir.exists() {
            // sled locks its files: if this opens, no server is using them.
            // (A damaged store may not open at all — that is why we restore.)
            if let Err(StoreError::Io(e)) = guarded(|| SledStore::open(dir).map(drop)) {
                if e.to_string().contains("lock") {
                    return Err(StoreError::File(format!(
                        "{} is in use by a running minik-apiserver ({e}); stop the cluster first",
                        dir.display()
                    )));
                }
            }
        }
        let revision = self
            .revision
            .max(old_marker.map_or(0, |m| m.revision + MARKER_LAG + 1));
        let staging = aside_path(dir, "restoring");
        std::fs::create_dir_all(&staging).map_err(|e| file_error(&staging, e))?;
        {
            let store = SledStore::open_with(&staging, transformer)?;
            let ops = self
                .entries
                .iter()
                .map(|(k, v)| {
                    let bytes = serde_json::to_vec(v).expect("JSON values serialize");
                    (k.clone(), Some(bytes))
                })
                .collect();
            store.apply(ops, revision)?;
            store.flush()?;
            MarkerFile::open(&staging)?
                .write(Marker {
                    revision,
                    objects: self.entries.len() as u64,
                })
                .map_err(|e| file_error(&staging, e))?;
        }
        let mut said = String::new();
        if dir.exists() {
            let aside = aside_path(dir, "before-restore");
            std::fs::rename(dir, &aside).map_err(|e| file_error(dir, e))?;
            said = format!("; the previous store is kept in {}", aside.display());
        }
        std::fs::rename(&staging, dir).map_err(|e| file_error(dir, e))?;
        if let Some(parent) = dir.parent() {
            let _ = File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(format!(
            "restored {} objects from a snapshot at revision {} into {}, now at revision {revision}{said}",
            self.entries.len(),
            self.revision,
            dir.display()
        ))
    }

    /// Writes the encoded snapshot to `path` durably (temp + fsync + rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_file_atomically(path, self.encode().as_bytes())
    }
}

/// temp + fsync + rename: `path` holds either its old contents or all of
/// `bytes`. Owner-only (0600): snapshots hold Secrets in clear.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_atomic_and_revision_persists() {
        let tmp = tempdir();
        let dir = tmp.path().to_path_buf();
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
        let s = reopen(&dir);
        assert_eq!(s.revision().unwrap(), 8);
        let mut seen = vec![];
        s.scan("/registry/a/", None, &mut |k, _| {
            seen.push(k.to_string());
            true
        })
        .unwrap();
        assert_eq!(seen, vec!["/registry/a/2"]);
    }

    #[test]
    fn opening_waits_for_a_closing_holder_and_refuses_a_live_one() {
        let tmp = tempdir();
        let dir = tmp.path().to_path_buf();
        let held = SledStore::open(&dir).unwrap();
        // A live holder: refused once the bounded wait is over.
        let started = std::time::Instant::now();
        let refused = SledStore::open(&dir).err().expect("a second open");
        assert!(
            started.elapsed() >= LOCK_WAIT,
            "{:?} {refused:?}",
            started.elapsed()
        );
        assert!(refused.to_string().contains("lock"), "{refused}");
        // A holder that lets go while the next one waits: that one opens.
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        let reopened = SledStore::open(&dir);
        closer.join().unwrap();
        assert!(reopened.is_ok(), "{:?}", reopened.err());
    }

    #[test]
    fn marker_keeps_the_newest_valid_slot() {
        let tmp = tempdir();
        let dir = tmp.path().to_path_buf();
        let mut m = MarkerFile::open(&dir).unwrap();
        m.write(Marker {
            revision: 5,
            objects: 2,
        })
        .unwrap();
        m.write(Marker {
            revision: 9,
            objects: 3,
        })
        .unwrap();
        assert_eq!(
            read_marker(&dir).unwrap(),
            Some(Marker {
                revision: 9,
                objects: 3
            })
        );
        // Tear the newest slot (slot 1): the older one still answers.
        let path = dir.join(MARKER_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SLOT as usize + 30] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            read_marker(&dir).unwrap(),
            Some(Marker {
                revision: 5,
                objects: 2
            })
        );
        bytes[30] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_marker(&dir).is_err());
    }

    #[test]
    fn a_rolled_back_store_is_refused_and_recovered_above_the_marker() {
        let tmp = tempdir();
        let dir = tmp.path().to_path_buf();
        {
            let s = SledStore::open(&dir).unwrap();
            s.apply(
                vec![(
                    "/registry/a/x".into(),
                    Some(br#"{"metadata":{"resourceVersion":"3"}}"#.to_vec()),
                )],
                3,
            )
            .unwrap();
            s.flush().unwrap();
        }
        // The marker claims more than the store holds: a rollback.
        MarkerFile::open(&dir)
            .unwrap()
            .write(Marker {
                revision: 10,
                objects: 4,
            })
            .unwrap();
        let err = open_checked(&dir, false, Arc::default())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("went backwards"), "{err}");
        let opened = open_checked(&dir, true, Arc::default()).unwrap();
        assert_eq!(opened.store.revision().unwrap(), 10 + MARKER_LAG + 1);
        let report = opened.recovered.as_deref().unwrap();
        assert!(
            report.contains("7 revision(s) and 3 object(s) lost"),
            "{report}"
        );
        drop(opened);
        assert!(open_checked(&dir, false, Arc::default())
            .unwrap()
            .recovered
            .is_none());
    }

    #[test]
    fn a_panic_inside_sled_becomes_a_refusal() {
        let found = guarded::<()>(|| panic!("index out of bounds")).unwrap_err();
        assert!(
            matches!(&found, StoreError::Damaged(m) if m.contains("sled panicked: index out of bounds"))
        );
    }

    #[test]
    fn snapshots_round_trip_and_detect_damage() {
        let snap = Snapshot {
            revision: 42,
            entries: vec![(
                "/registry/configmaps/default/a".into(),
                serde_json::json!({"metadata": {"name": "a", "resourceVersion": "40"}}),
            )],
        };
        let text = snap.encode();
        assert_eq!(Snapshot::decode(&text).unwrap(), snap);
        let damaged = text.replace("\"a\"", "\"b\"");
        assert!(Snapshot::decode(&damaged).unwrap_err().contains("checksum"));
        let truncated = &text[..text.len() - 10];
        assert!(Snapshot::decode(truncated).is_err());
    }

    /// sled lets go of its file lock from a background thread after the
    /// `Db` is dropped: a reopen at once may find it still held.
    fn reopen(dir: &Path) -> SledStore {
        for _ in 0..100 {
            match SledStore::open(dir) {
                Err(StoreError::Io(e)) if e.to_string().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => return other.unwrap(),
            }
        }
        panic!("{} stayed locked for 2 s", dir.display());
    }

    /// A store directory removed when the test ends (pass or fail).
    fn tempdir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("minik-store-test-")
            .tempdir()
            .unwrap()
    }
}
