//! `miniktl cluster backup FILE` and `miniktl cluster restore FILE`: the
//! cluster's store saved to, and rebuilt from, one snapshot file — what
//! `etcdctl snapshot save` and `etcdutl snapshot restore` do for a real
//! cluster's etcd.
//!
//! `backup` asks the running API server for `GET /minik/snapshot` (a
//! consistent copy taken between two group commits; see
//! `apiserver/src/commit.rs`) and writes it with temp + fsync + rename, so
//! FILE is either the old file or a whole snapshot. `restore` needs the
//! cluster stopped: it runs `minik-apiserver --restore-snapshot` (`minik`
//! under that name), which checks the file's checksum, builds a new store
//! beside the old one, keeps the old one aside and moves the revision past
//! anything clients saw before (so their watches get 410 Gone and relist,
//! as after an etcd restore with `--bump-revision`). miniktl never opens
//! the store itself: only the API server does.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cluster_ctx, load_state, process, running, HomeArg};
use crate::context::Ctx;
use crate::error::{Error, Result};

/// `cluster backup FILE`: saves a snapshot of the running cluster's store.
pub async fn backup(ctx: &Ctx, home: &HomeArg, file: &Path) -> Result<()> {
    let home = home.resolve();
    let cluster = cluster_ctx(ctx, &home);
    let client = cluster.client().await?;
    let req = http::Request::get("/minik/snapshot")
        .body(Vec::new())
        .map_err(|e| Error::Cluster(e.to_string()))?;
    let text = match client.request_text(req).await {
        Ok(text) => text,
        Err(e) => return Err(cluster.kube_err(e).await),
    };
    // The header line says what the snapshot holds.
    let header: serde_json::Value = text
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| Error::Cluster("the API server sent no snapshot".into()))?;
    write_atomically(file, text.as_bytes()).map_err(|source| Error::File {
        path: file.to_path_buf(),
        source,
    })?;
    ctx.print(&format!(
        "Saved a snapshot of {} objects at revision {} to {} ({} bytes)\n",
        header["objects"],
        header["revision"],
        file.display(),
        text.len()
    ));
    Ok(())
}

/// `cluster restore FILE`: replaces the stopped cluster's store.
pub async fn restore(ctx: &Ctx, home: &HomeArg, file: &Path) -> Result<()> {
    let home = home.resolve();
    if let Some(state) = load_state(&home)? {
        if running(&state, &home, "apiserver") {
            return Err(Error::Cluster(format!(
                "the cluster in {} is running; stop it first (`miniktl cluster down`), then restore",
                home.path().display()
            )));
        }
    }
    let minik = process::find_minik()?;
    let file = std::path::absolute(file).unwrap_or_else(|_| PathBuf::from(file));
    // The API server does the work: it alone opens the store, and it
    // refuses a store another process holds (sled locks its files).
    let out = Command::new(&minik)
        .arg0("minik-apiserver")
        .arg("--data-dir")
        .arg(home.apiserver_data())
        .arg("--restore-snapshot")
        .arg(&file)
        .output()
        .map_err(|e| Error::Cluster(format!("running {}: {e}", minik.display())))?;
    if !out.status.success() {
        return Err(Error::Cluster(format!(
            "restore failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    ctx.print(&format!(
        "{}\nStart the cluster with `miniktl cluster up`.\n",
        String::from_utf8_lossy(&out.stdout).trim()
    ));
    Ok(())
}

/// temp + fsync + rename, readable by its owner only: a backup holds
/// every Secret in clear (the store's encryption stays in the store).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
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
