//! Pod volumes on the node's disk and the bind mounts that put them into
//! containers, mirroring kubelet's volume plugins:
//!
//! - `emptyDir`: a directory under `<root>/pods/<uid>/volumes/kubernetes.io~empty-dir/`,
//!   shared by the pod's containers and removed with the pod.
//! - `configMap`, `secret`, `downwardAPI`, `projected`: files written by an
//!   *atomic writer* like kubelet's: the data lives in a timestamped
//!   directory, `..data` is a symlink to it and each top-level name is a
//!   symlink through `..data`. An update writes a new directory and renames
//!   a new `..data` link over the old one, so a container sees the old set
//!   or the new set of files, never a mix. Pods sync again when the object
//!   changes (see `cache.rs`), which refreshes these files in place.
//!   A projected `serviceAccountToken` is a token bound to the pod
//!   (`token_manager.rs`), renewed by these syncs before it expires.
//! - `hostPath`: the host path itself (with the `type` checks).
//! - `persistentVolumeClaim`: the bound PersistentVolume's `hostPath` or
//!   `local` path; while the claim is unbound (or missing, or being
//!   deleted) the pod waits with a FailedMount event, as kubelet's volume
//!   manager does. `readOnly` on the claim volume mounts it read-only.
//! - `volumeMounts`: `readOnly`, `subPath` and `subPathExpr`.
//! - the pod's `fsGroup`: an emptyDir (when made) and the files of
//!   configMap, secret, downwardAPI and projected volumes belong to it, as
//!   kubelet's `SetVolumeOwnership` makes them; claims' volumes (hostPath or
//!   local paths here) are left as they are.
//!
//! Simplified: `emptyDir.medium: Memory` is a directory on disk, sizeLimit
//! is not enforced (nor a volume's capacity), and volumes needing storage
//! systems (CSI, NFS…, PersistentVolumes other than hostPath and local)
//! are refused with a FailedMount event.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, KeyToPath, Pod, Volume};

use crate::cache::ObjectCache;
use crate::env::{self, PodFacts};
use crate::token_manager::Wanted;
use crate::Error;

/// Why a volume cannot be set up (shown in a FailedMount event).
#[derive(Debug)]
pub enum MountError {
    Invalid(String),
    /// A claim volume whose claim cannot be used yet (kubelet's "error
    /// processing PVC"): the pod waits for the claim.
    Unprocessed(String),
    Api(Error),
}

impl From<Error> for MountError {
    fn from(e: Error) -> Self {
        MountError::Api(e)
    }
}

/// A file to project: relative path, contents, mode.
type Payload = BTreeMap<String, (Vec<u8>, u32)>;

/// The pod's directory: `<root>/pods/<uid>`.
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// Sets up (or refreshes) every volume of the pod; returns volume name → host path.
/// `materialize`: write the files. The simulated runtime, which runs no
/// containers, resolves every volume (a missing ConfigMap is still a
/// FailedMount, a token is still requested) but writes nothing: at a
/// thousand nodes the files were most of the kubelet's work.
pub async fn setup(
    root: &Path,
    cache: &ObjectCache,
    facts: &PodFacts<'_>,
    materialize: bool,
) -> Result<BTreeMap<String, PathBuf>, MountError> {
    let pod = facts.pod;
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let dir = pod_dir(root, uid).join("volumes");
    let mut paths = BTreeMap::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let path = setup_volume(&dir, cache, facts, volume, materialize)
            .await
            .map_err(|e| match e {
                MountError::Invalid(msg) => MountError::Invalid(format!(
                    "MountVolume.SetUp failed for volume \"{}\" : {msg}",
                    volume.name
                )),
                MountError::Unprocessed(msg) => MountError::Invalid(format!(
                    "Unable to attach or mount volumes: unmounted volumes=[{0}], unattached volumes=[], failed to process volumes=[{0}]: {msg}",
                    volume.name
                )),
                other => other,
            })?;
        paths.insert(volume.name.clone(), path);
    }
    Ok(paths)
}

async fn setup_volume(
    dir: &Path,
    cache: &ObjectCache,
    facts: &PodFacts<'_>,
    v: &Volume,
    materialize: bool,
) -> Result<PathBuf, MountError> {
    let ns = facts.pod.metadata.namespace.as_deref().unwrap_or("default");
    let plugin_dir = |plugin: &str| dir.join(plugin).join(&v.name);
    let fs_group = facts
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|sc| sc.fs_group)
        .and_then(|g| u32::try_from(g).ok());
    if v.empty_dir.is_some() {
        let path = plugin_dir("kubernetes.io~empty-dir");
        if materialize {
            empty_dir(&path, fs_group)?;
        }
        return Ok(path);
    }
    if let Some(h) = &v.host_path {
        return host_path(&h.path, h.type_.as_deref().unwrap_or(""));
    }
    if let Some(c) = &v.persistent_volume_claim {
        return claim_path(cache, ns, &c.claim_name).await;
    }
    let payload = if let Some(cm) = &v.config_map {
        let source = match cache.config_map(ns, &cm.name).await? {
            Some(obj) => Some(config_map_data(&obj)),
            None if cm.optional == Some(true) => None,
            None => {
                return Err(MountError::Invalid(format!(
                    "configmap \"{}\" not found",
                    cm.name
                )))
            }
        };
        project(
            source,
            cm.items.as_deref(),
            cm.default_mode.unwrap_or(0o644),
            cm.optional == Some(true),
            "configmap",
        )?
    } else if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let source = match cache.secret(ns, &name).await? {
            Some(obj) => Some(secret_bytes(&obj)),
            None if s.optional == Some(true) => None,
            None => return Err(MountError::Invalid(format!("secret \"{name}\" not found"))),
        };
        project(
            source,
            s.items.as_deref(),
            s.default_mode.unwrap_or(0o644),
            s.optional == Some(true),
            "secret",
        )?
    } else if let Some(d) = &v.downward_api {
        downward_payload(
            facts,
            d.items.as_deref().unwrap_or(&[]),
            d.default_mode.unwrap_or(0o644),
        )?
    } else if let Some(p) = &v.projected {
        let mode = p.default_mode.unwrap_or(0o644);
        let mut all = Payload::new();
        for source in p.sources.iter().flatten() {
            if let Some(cm) = &source.config_map {
                let data = cache
                    .config_map(ns, &cm.name)
                    .await?
                    .map(|o| config_map_data(&o));
                if data.is_none() && cm.optional != Some(true) {
                    return Err(MountError::Invalid(format!(
                        "configmap \"{}\" not found",
                        cm.name
                    )));
                }
                all.extend(project(
                    data,
                    cm.items.as_deref(),
                    mode,
                    cm.optional == Some(true),
                    "configmap",
                )?);
            }
            if let Some(s) = &source.secret {
                let data = cache.secret(ns, &s.name).await?.map(|o| secret_bytes(&o));
                if data.is_none() && s.optional != Some(true) {
                    return Err(MountError::Invalid(format!(
                        "secret \"{}\" not found",
                        s.name
                    )));
                }
                all.extend(project(
                    data,
                    s.items.as_deref(),
                    mode,
                    s.optional == Some(true),
                    "secret",
                )?);
            }
            if let Some(d) = &source.downward_api {
                all.extend(downward_payload(
                    facts,
                    d.items.as_deref().unwrap_or(&[]),
                    mode,
                )?);
            }
            if let Some(t) = &source.service_account_token {
                check_relative(&t.path)?;
                let pod = facts.pod;
                let wanted = Wanted {
                    namespace: ns.to_string(),
                    service_account: pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.service_account_name.clone())
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| "default".into()),
                    pod_name: pod.metadata.name.clone().unwrap_or_default(),
                    pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
                    audience: t.audience.clone().filter(|a| !a.is_empty()),
                    expiration_seconds: t.expiration_seconds.unwrap_or(3600),
                };
                let token = cache
                    .tokens
                    .token(&wanted, materialize)
                    .await
                    .map_err(|e| {
                        MountError::Invalid(format!(
                            "failed to fetch token: {}",
                            e.to_string().trim_start_matches("API server: ")
                        ))
                    })?;
                all.insert(t.path.clone(), (token.into_bytes(), mode as u32));
            }
            if source.cluster_trust_bundle.is_some() {
                return Err(MountError::Invalid(
                    "minik does not serve ClusterTrustBundles: a clusterTrustBundle projection cannot be mounted".into(),
                ));
            }
        }
        all
    } else {
        return Err(MountError::Invalid(
            "minik supports emptyDir, hostPath, persistentVolumeClaim, configMap, secret, downwardAPI and projected volumes only"
                .into(),
        ));
    };
    let plugin = if v.config_map.is_some() {
        "kubernetes.io~configmap"
    } else if v.secret.is_some() {
        "kubernetes.io~secret"
    } else if v.downward_api.is_some() {
        "kubernetes.io~downward-api"
    } else {
        "kubernetes.io~projected"
    };
    let path = plugin_dir(plugin);
    if materialize {
        write_atomic(&path, &payload, fs_group)?;
    }
    Ok(path)
}

/// The host path behind a claim: its bound volume's `hostPath` or `local` path.
async fn claim_path(cache: &ObjectCache, ns: &str, name: &str) -> Result<PathBuf, MountError> {
    let unprocessed =
        |why: &str| MountError::Unprocessed(format!("error processing PVC {ns}/{name}: {why}"));
    let Some(claim) = cache.claim(ns, name).await? else {
        return Err(unprocessed(&format!(
            "persistentvolumeclaim \"{name}\" not found"
        )));
    };
    if claim.metadata.deletion_timestamp.is_some() {
        return Err(unprocessed(&format!(
            "can't start pod because PVC {ns}/{name} is being deleted"
        )));
    }
    let volume = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    let phase = claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    if volume.is_empty() || phase != "Bound" {
        return Err(unprocessed("PVC is not bound"));
    }
    let Some(pv) = cache.volume(&volume).await? else {
        return Err(unprocessed(&format!(
            "persistentvolume \"{volume}\" not found"
        )));
    };
    let spec = pv.spec.clone().unwrap_or_default();
    if let Some(h) = &spec.host_path {
        return host_path(&h.path, h.type_.as_deref().unwrap_or(""));
    }
    if let Some(l) = &spec.local {
        if !Path::new(&l.path).exists() {
            return Err(MountError::Invalid(format!(
                "path \"{}\" does not exist",
                l.path
            )));
        }
        return Ok(PathBuf::from(&l.path));
    }
    Err(MountError::Invalid(format!(
        "persistentvolume \"{volume}\": minik mounts hostPath and local PersistentVolumes only"
    )))
}

fn config_map_data(cm: &k8s_openapi::api::core::v1::ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.iter().flatten() {
        out.insert(k.clone(), v.0.clone());
    }
    out
}

fn secret_bytes(s: &k8s_openapi::api::core::v1::Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in s.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    out
}

/// Files from a ConfigMap's or Secret's keys: all keys, or only `items`.
fn project(
    data: Option<BTreeMap<String, Vec<u8>>>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
    what: &str,
) -> Result<Payload, MountError> {
    let Some(data) = data else {
        return Ok(Payload::new());
    };
    let mut out = Payload::new();
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                match data.get(&item.key) {
                    Some(bytes) => {
                        check_relative(&item.path)?;
                        out.insert(
                            item.path.clone(),
                            (bytes.clone(), item.mode.unwrap_or(default_mode) as u32),
                        );
                    }
                    None if optional => {}
                    None => {
                        return Err(MountError::Invalid(format!(
                            "{what} references non-existent config key: {}",
                            item.key
                        )))
                    }
                }
            }
        }
        _ => {
            for (k, v) in data {
                out.insert(k, (v, default_mode as u32));
            }
        }
    }
    Ok(out)
}

fn downward_payload(
    facts: &PodFacts<'_>,
    items: &[k8s_openapi::api::core::v1::DownwardAPIVolumeFile],
    default_mode: i32,
) -> Result<Payload, MountError> {
    let mut out = Payload::new();
    for item in items {
        check_relative(&item.path)?;
        let value = if let Some(f) = &item.field_ref {
            env::field_value(facts, &f.field_path)
        } else if let Some(r) = &item.resource_field_ref {
            env::resource_value(facts, None, r)
        } else {
            Ok(String::new())
        }
        .map_err(MountError::Invalid)?;
        out.insert(
            item.path.clone(),
            (value.into_bytes(), item.mode.unwrap_or(default_mode) as u32),
        );
    }
    Ok(out)
}

fn check_relative(path: &str) -> Result<(), MountError> {
    if path.starts_with('/') || path.split('/').any(|p| p == "..") || path.starts_with("..") {
        return Err(MountError::Invalid(format!("invalid path {path:?}")));
    }
    Ok(())
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> MountError {
    move |e| MountError::Api(Error::io(context, e))
}

/// Makes an emptyDir world-writable like the kubelet does, so non-root users
/// can write, and the pod's `fsGroup`'s; the mode is set once, when the
/// directory is made: a container may narrow it (postgres wants its data
/// dir 0700), and every later sync of the pod must leave that alone.
fn empty_dir(path: &Path, fs_group: Option<u32>) -> Result<(), MountError> {
    if !path.exists() {
        create_dir(path)?;
        set_mode(path, 0o777)?;
        if let Some(gid) = fs_group {
            set_group(path, gid, false);
        }
    }
    Ok(())
}

/// kubelet's `SetVolumeOwnership` for a pod's `fsGroup`: everything under
/// `path` belongs to the group, readable by it (and writable unless
/// `read_only`: the files of a configMap, secret, downwardAPI or projected
/// volume), and directories are setgid so new files keep the group.
/// Symbolic links are left as they are. As kubelet's, a failure (a kubelet
/// not running as root) is logged and the volume used as it is.
fn set_group(path: &Path, gid: u32, read_only: bool) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.file_type().is_symlink() {
        return;
    }
    let mut add = if read_only { 0o440 } else { 0o660 };
    if meta.is_dir() {
        add |= 0o2110;
    }
    let changed = std::os::unix::fs::chown(path, None, Some(gid)).and_then(|()| {
        std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode((meta.permissions().mode() & 0o7777) | add),
        )
    });
    if let Err(error) = changed {
        tracing::warn!(path = %path.display(), gid, %error, "cannot give the volume to the pod's fsGroup");
        return;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            set_group(&entry.path(), gid, read_only);
        }
    }
}

fn create_dir(path: &Path) -> Result<(), MountError> {
    std::fs::create_dir_all(path).map_err(io(format!("creating {}", path.display())))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), MountError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", path.display())))
}

fn host_path(path: &str, kind: &str) -> Result<PathBuf, MountError> {
    let p = PathBuf::from(path);
    let missing = |what: &str| {
        Err(MountError::Invalid(format!(
            "hostPath type check failed: {path} is not a {what}"
        )))
    };
    match kind {
        "DirectoryOrCreate" => create_dir(&p)?,
        "FileOrCreate" if !p.exists() => {
            if let Some(parent) = p.parent() {
                create_dir(parent)?;
            }
            std::fs::write(&p, b"").map_err(io(format!("creating {path}")))?;
        }
        "Directory" if !p.is_dir() => return missing("directory"),
        "File" if !p.is_file() => return missing("file"),
        "Socket" | "CharDevice" | "BlockDevice" if !p.exists() => return missing(kind),
        _ => {}
    }
    Ok(p)
}

/// The files currently published under `..data`.
fn current_payload(dir: &Path) -> Option<Payload> {
    fn walk(base: &Path, rel: &str, out: &mut Payload) -> std::io::Result<()> {
        for entry in std::fs::read_dir(base.join(rel))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_name = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = entry.metadata()?;
            if meta.is_dir() {
                walk(base, &rel_name, out)?;
            } else {
                let bytes = std::fs::read(entry.path())?;
                out.insert(rel_name, (bytes, meta.permissions().mode() & 0o7777));
            }
        }
        Ok(())
    }
    let mut out = Payload::new();
    walk(&dir.join("..data"), "", &mut out).ok()?;
    Some(out)
}

/// Publishes `payload` in `dir` atomically (kubelet's AtomicWriter); does
/// nothing when the published files are already the same.
fn write_atomic(dir: &Path, payload: &Payload, fs_group: Option<u32>) -> Result<(), MountError> {
    // With an fsGroup the files are group-readable too: compare with what
    // was written, or every sync would write them again.
    let grouped: Payload;
    let payload = match fs_group {
        Some(_) => {
            grouped = payload
                .iter()
                .map(|(k, (bytes, mode))| (k.clone(), (bytes.clone(), mode | 0o440)))
                .collect();
            &grouped
        }
        None => payload,
    };
    let old = current_payload(dir);
    if old.as_ref() == Some(payload) {
        return Ok(());
    }
    create_dir(dir)?;
    let stamp = jiff::Timestamp::now()
        .strftime("..%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let data_dir = dir.join(&stamp);
    create_dir(&data_dir)?;
    for (rel, (bytes, mode)) in payload {
        let file = data_dir.join(rel);
        if let Some(parent) = file.parent() {
            create_dir(parent)?;
        }
        std::fs::write(&file, bytes).map_err(io(format!("writing {}", file.display())))?;
        set_mode(&file, *mode)?;
    }
    set_mode(&data_dir, 0o755)?;
    if let Some(gid) = fs_group {
        set_group(dir, gid, true);
    }
    let previous = std::fs::read_link(dir.join("..data")).ok();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&stamp, &tmp).map_err(io(format!("linking {}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join("..data"))
        .map_err(io(format!("publishing {}", dir.display())))?;
    // Top-level names point through ..data; names no longer present go.
    let top: std::collections::BTreeSet<String> = payload
        .keys()
        .map(|k| k.split('/').next().unwrap_or(k).to_string())
        .collect();
    for name in &top {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link)
                .map_err(io(format!("linking {}", link.display())))?;
        }
    }
    for entry in std::fs::read_dir(dir)
        .map_err(io(format!("listing {}", dir.display())))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !top.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(prev) = previous {
        if prev != Path::new(&stamp) {
            let _ = std::fs::remove_dir_all(dir.join(prev));
        }
    }
    Ok(())
}

/// Docker bind mounts for the container's volumeMounts.
pub fn binds(
    pod: &Pod,
    container: &Container,
    volumes: &BTreeMap<String, PathBuf>,
    env: &[(String, String)],
) -> Result<Vec<String>, String> {
    let specs = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let host = volumes
            .get(&m.name)
            .ok_or_else(|| format!("volume {:?} is not defined in the pod", m.name))?;
        let spec = specs.iter().find(|v| v.name == m.name);
        let projected = spec.is_some_and(|v| {
            v.config_map.is_some()
                || v.secret.is_some()
                || v.downward_api.is_some()
                || v.projected.is_some()
        });
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(p), _) if !p.is_empty() => Some(p.clone()),
            (_, Some(e)) if !e.is_empty() => Some(env::expand(e, |n| {
                env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
            })),
            _ => None,
        };
        let source = match sub {
            Some(sub) => {
                if sub.starts_with('/') || sub.split('/').any(|p| p == "..") {
                    return Err(format!("invalid subPath {sub:?}"));
                }
                let p = host.join(&sub);
                if !projected && !p.exists() {
                    std::fs::create_dir_all(&p)
                        .map_err(|e| format!("creating subPath {}: {e}", p.display()))?;
                    let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777));
                }
                // A projected key is a symlink through ..data: bind its target.
                std::fs::canonicalize(&p).unwrap_or(p)
            }
            None => host.clone(),
        };
        let claim_read_only = spec
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .is_some_and(|c| c.read_only == Some(true));
        let read_only = m.read_only == Some(true) || projected || claim_read_only;
        out.push(format!(
            "{}:{}{}",
            source.display(),
            m.mount_path,
            if read_only { ":ro" } else { "" }
        ));
    }
    Ok(out)
}

/// Writes a small pod-level file (resolv.conf, hosts) unless unchanged.
pub fn write_pod_file(
    root: &Path,
    uid: &str,
    name: &str,
    contents: &str,
) -> Result<PathBuf, Error> {
    let dir = pod_dir(root, uid);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join(name);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(contents) {
        std::fs::write(&path, contents)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(path)
}

/// Removes everything the pod had on disk.
pub fn remove_pod_dir(root: &Path, uid: &str) {
    let _ = std::fs::remove_dir_all(pod_dir(root, uid));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(entries: &[(&str, &str)]) -> Payload {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), (v.as_bytes().to_vec(), 0o644)))
            .collect()
    }

    #[test]
    fn an_fs_group_owns_the_files_and_an_unchanged_volume_is_not_rewritten() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        // The test's own group: chown to it needs no root.
        let gid = std::fs::metadata(dir.path()).unwrap().gid();
        let vol = dir.path().join("secret");
        let private: Payload = [("key".to_string(), (b"s3cret".to_vec(), 0o400))].into();
        write_atomic(&vol, &private, Some(gid)).unwrap();
        let file = std::fs::metadata(vol.join("key")).unwrap();
        assert_eq!(file.mode() & 0o7777, 0o440);
        assert_eq!(file.gid(), gid);
        assert_eq!(std::fs::metadata(&vol).unwrap().mode() & 0o2000, 0o2000);
        let data = std::fs::read_link(vol.join("..data")).unwrap();
        write_atomic(&vol, &private, Some(gid)).unwrap();
        assert_eq!(std::fs::read_link(vol.join("..data")).unwrap(), data);
    }

    #[test]
    fn empty_dir_mode_is_set_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        empty_dir(&path, None).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&path), 0o777);
        // What a container does to its data dir survives the next sync.
        set_mode(&path, 0o700).unwrap();
        empty_dir(&path, None).unwrap();
        assert_eq!(mode(&path), 0o700);
    }

    #[test]
    fn atomic_writer_swaps_data_and_drops_removed_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        write_atomic(&dir, &payload(&[("a", "1"), ("b", "2")]), None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(
            std::fs::read_link(dir.join("a")).unwrap(),
            Path::new("..data/a")
        );
        let first = std::fs::read_link(dir.join("..data")).unwrap();

        // Same content: nothing is rewritten.
        write_atomic(&dir, &payload(&[("a", "1"), ("b", "2")]), None).unwrap();
        assert_eq!(std::fs::read_link(dir.join("..data")).unwrap(), first);

        std::thread::sleep(std::time::Duration::from_millis(2));
        write_atomic(&dir, &payload(&[("a", "9"), ("c", "3")]), None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "9");
        assert_eq!(std::fs::read_to_string(dir.join("c")).unwrap(), "3");
        assert!(std::fs::symlink_metadata(dir.join("b")).is_err());
        assert!(!dir.join(&first).exists(), "old data directory removed");
    }

    #[test]
    fn items_select_keys_with_modes() {
        let data: BTreeMap<String, Vec<u8>> = [
            ("k".to_string(), b"v".to_vec()),
            ("x".to_string(), b"y".to_vec()),
        ]
        .into();
        let items = vec![KeyToPath {
            key: "k".into(),
            path: "dir/file".into(),
            mode: Some(0o600),
        }];
        let p = project(Some(data.clone()), Some(&items), 0o644, false, "configmap").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p["dir/file"], (b"v".to_vec(), 0o600));
        let missing = vec![KeyToPath {
            key: "nope".into(),
            path: "f".into(),
            mode: None,
        }];
        assert!(project(Some(data), Some(&missing), 0o644, false, "configmap").is_err());
    }
}
