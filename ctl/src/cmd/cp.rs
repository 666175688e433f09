//! `miniktl cp`: copy files and directories to and from containers —
//! kubectl cp, which runs `tar` in the container through `pods/exec`
//! (so the image needs a `tar`, as with kubectl): `tar cf -` to read a
//! path, `tar xf -` to write one. Archives are made and unpacked here with
//! the `tar` crate. `POD:PATH` names a container path (`NAMESPACE/POD:PATH`
//! too); anything else is local (a local name with a colon needs `./`).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::pod_pick::choose_container;
use crate::resources;

/// Copy files and directories to and from containers.
#[derive(clap::Args, Debug)]
pub struct Cp {
    /// The source: a local path, or POD:PATH.
    pub src: String,
    /// The destination: a local path, or POD:PATH.
    pub dest: String,
    /// The container (default: the only one, or the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
}

/// `[NAMESPACE/]POD:PATH`, if `arg` names a container path.
fn remote(arg: &str) -> Option<(Option<&str>, &str, &str)> {
    let (pod, path) = arg.split_once(':')?;
    if pod.is_empty() || path.is_empty() {
        return None;
    }
    match pod.split_once('/') {
        Some((ns, pod)) => Some((Some(ns), pod, path)),
        None => Some((None, pod, path)),
    }
}

/// The directory and last element of a container path (`/a/b` → `/a`, `b`).
fn split_path(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some(("", base)) => ("/".into(), base.into()),
        Some((dir, base)) => (dir.into(), base.into()),
        None => (".".into(), trimmed.into()),
    }
}

impl Cp {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match (remote(&self.src), remote(&self.dest)) {
            (Some((ns, pod, path)), None) => {
                let (api, container) = self.target(ctx, ns, pod).await?;
                let (dir, base) = split_path(path);
                let command = vec!["tar", "cf", "-", "-C", &dir, &base];
                let archive = run_tar(ctx, &api, pod, &container, &command, None).await?;
                for warning in unpack(&archive, &base, Path::new(&self.dest))? {
                    ctx.eprint(&format!("{warning}\n"));
                }
                Ok(())
            }
            (None, Some((ns, pod, path))) => {
                let (api, container) = self.target(ctx, ns, pod).await?;
                let (dir, base) = split_path(path);
                let archive = pack(Path::new(&self.src), &base)?;
                let command = vec!["tar", "xf", "-", "-C", &dir];
                run_tar(ctx, &api, pod, &container, &command, Some(archive)).await?;
                Ok(())
            }
            (Some(_), Some(_)) => Err(Error::Usage(
                "one of src or dest must be a local file specification".into(),
            )),
            (None, None) => Err(Error::Usage(
                "one of src or dest must be a remote file specification".into(),
            )),
        }
    }

    /// The pod's API and the container to run `tar` in.
    async fn target(&self, ctx: &Ctx, ns: Option<&str>, pod: &str) -> Result<(Api<Pod>, String)> {
        let ns = match ns {
            Some(ns) => ns.to_string(),
            None => ctx.namespace().await?,
        };
        let obj = ctx.get(resources::resolve("pods")?, &ns, pod).await?;
        let container = choose_container(ctx, &obj, self.container.as_deref(), true)?;
        Ok((Api::namespaced(ctx.client().await?, &ns), container))
    }
}

/// Runs `tar` in the container with `input` as its stdin; its stdout.
async fn run_tar(
    ctx: &Ctx,
    api: &Api<Pod>,
    pod: &str,
    container: &str,
    command: &[&str],
    input: Option<Vec<u8>>,
) -> Result<Vec<u8>> {
    let params = AttachParams::default()
        .container(container)
        .stdin(input.is_some())
        .stdout(true)
        .stderr(true);
    let mut proc = match api.exec(pod, command.to_vec(), &params).await {
        Ok(p) => p,
        Err(e) => return Err(ctx.kube_err(e).await),
    };
    let status = proc.take_status();
    if let (Some(bytes), Some(mut stdin)) = (input, proc.stdin()) {
        stdin
            .write_all(&bytes)
            .await
            .map_err(|e| Error::Client(format!("sending the archive: {e}")))?;
        // The end of stdin is what ends `tar xf -`.
        let _ = stdin.shutdown().await;
    }
    let mut out = Vec::new();
    if let Some(mut stdout) = proc.stdout() {
        stdout
            .read_to_end(&mut out)
            .await
            .map_err(|e| Error::Client(format!("reading the archive: {e}")))?;
    }
    let mut err = Vec::new();
    if let Some(mut stderr) = proc.stderr() {
        let _ = stderr.read_to_end(&mut err).await;
    }
    let ended = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = proc.join().await;
    match ended {
        Some(s) if s.status.as_deref() != Some("Success") => Err(Error::Usage(format!(
            "{}{}",
            String::from_utf8_lossy(&err).trim(),
            if err.is_empty() {
                s.message.unwrap_or_default()
            } else {
                String::new()
            }
        ))),
        _ => Ok(out),
    }
}

/// A tar archive of the local `src` (a file or a directory), named `name`.
fn pack(src: &Path, name: &str) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::Usage(format!("{}: {e}", src.display()));
    let mut builder = tar::Builder::new(Vec::new());
    if src.is_dir() {
        builder.append_dir_all(name, src).map_err(io)?;
    } else {
        builder.append_path_with_name(src, name).map_err(io)?;
    }
    builder.into_inner().map_err(io)
}

/// Unpacks the archive of remote `base` to the local `dest`: a file's
/// contents to `dest` itself (or into it, if it is a directory), a
/// directory's entries under `dest`. Links are skipped, as kubectl skips
/// them (a link from the pod could point anywhere on this machine); the
/// warnings say which.
fn unpack(archive: &[u8], base: &str, dest: &Path) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let io = |e: std::io::Error| Error::Usage(format!("{}: {e}", dest.display()));
    let mut entries = tar::Archive::new(archive);
    let mut wrote = false;
    for entry in entries.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.into_owned();
        let Ok(rest) = path.strip_prefix(base) else {
            continue;
        };
        // Nothing may land outside `dest` (a `..` in an archive from the pod).
        if rest
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let link = entry
                .link_name()
                .ok()
                .flatten()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            warnings.push(format!(
                "warning: skipping symlink: {:?} -> {link:?}",
                dest.join(rest).display().to_string()
            ));
            continue;
        }
        let target: PathBuf = if rest.as_os_str().is_empty() {
            if entry.header().entry_type().is_dir() {
                std::fs::create_dir_all(dest).map_err(io)?;
                wrote = true;
                continue;
            }
            if dest.is_dir() {
                dest.join(base)
            } else {
                dest.to_path_buf()
            }
        } else {
            dest.join(rest)
        };
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        entry.unpack(&target).map_err(io)?;
        wrote = true;
    }
    if !wrote && warnings.is_empty() {
        return Err(Error::Usage(format!("{base}: no such file or directory")));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_specs_and_paths_read_like_kubectls() {
        assert_eq!(remote("web:/etc/hosts"), Some((None, "web", "/etc/hosts")));
        assert_eq!(remote("shop/web:/tmp"), Some((Some("shop"), "web", "/tmp")));
        assert_eq!(remote("./local-file"), None);
        assert_eq!(split_path("/etc/hosts"), ("/etc".into(), "hosts".into()));
        assert_eq!(split_path("/data/"), ("/".into(), "data".into()));
    }

    #[test]
    fn a_packed_directory_unpacks_to_the_same_files() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("src/sub")).unwrap();
        std::fs::write(dir.join("src/a.txt"), "a").unwrap();
        std::fs::write(dir.join("src/sub/b.txt"), "b").unwrap();
        let archive = pack(&dir.join("src"), "data").unwrap();
        unpack(&archive, "data", &dir.join("out")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("out/a.txt")).unwrap(), "a");
        assert_eq!(
            std::fs::read_to_string(dir.join("out/sub/b.txt")).unwrap(),
            "b"
        );
        let file = pack(&dir.join("src/a.txt"), "a.txt").unwrap();
        unpack(&file, "a.txt", &dir.join("copy.txt")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("copy.txt")).unwrap(), "a");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("miniktl-cp-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
