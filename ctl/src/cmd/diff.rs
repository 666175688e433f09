//! `miniktl diff -f`: what `apply` would change — kubectl diff. Each
//! object's live state and the state a server-side dry run of the same
//! client-side apply returns are written as YAML into two temporary
//! directories (`LIVE-…`, `MERGED-…`, one file per object named
//! `group.version.Kind.namespace.name`) and compared with `diff -u -N`
//! (or `$KUBECTL_EXTERNAL_DIFF`). Exit status 0: no differences; 1: some;
//! above 1: an error. `metadata.managedFields` is left out, as kubectl
//! leaves it out.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{DryRun, Files};
use crate::last_applied::apply_object;
use crate::objects::prepare;
use crate::printers::yaml::to_yaml;

/// Diff the live version against the version that would be applied.
#[derive(clap::Args, Debug)]
pub struct Diff {
    #[command(flatten)]
    pub files: Files,
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The object as YAML without its managed fields.
fn for_diff(mut obj: Value) -> String {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    to_yaml(&obj)
}

fn write(dir: &Path, file: &str, obj: Value) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, for_diff(obj))
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

impl Diff {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let docs = self.files.read(&ctx.io)?;
        let live = TempDir::new("LIVE")?;
        let merged = TempDir::new("MERGED")?;
        for doc in &docs {
            let (info, ns, obj) = prepare(ctx, doc).await?;
            let name = minik_api::meta::name(&obj).to_string();
            let group = if info.group.is_empty() {
                String::new()
            } else {
                format!("{}.", info.group)
            };
            let ns_part = if info.namespaced { ns.as_str() } else { "" };
            let file = format!("{group}{}.{}.{ns_part}.{name}", info.version, info.kind);
            if let Some(current) = ctx.get_opt(info, &ns, &name).await? {
                write(&live.0, &file, current)?;
            }
            let (_, result) = apply_object(ctx, doc, DryRun::Server, false).await?;
            write(&merged.0, &file, result)?;
        }
        let program =
            std::env::var("KUBECTL_EXTERNAL_DIFF").unwrap_or_else(|_| "diff -u -N".into());
        let mut words = program.split_whitespace();
        let command = words.next().unwrap_or("diff");
        let out = std::process::Command::new(command)
            .args(words)
            .arg(&live.0)
            .arg(&merged.0)
            .output()
            .map_err(|e| Error::Usage(format!("cannot run {command}: {e}")))?;
        ctx.print(&String::from_utf8_lossy(&out.stdout));
        match out.status.code() {
            Some(0) => Ok(()),
            // Differences: printed above, exit 1 as kubectl does.
            Some(1) => Err(Error::No),
            _ => Err(Error::Usage(format!(
                "{command} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}
