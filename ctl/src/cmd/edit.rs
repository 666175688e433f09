//! `miniktl edit`: open an object as YAML in `$KUBE_EDITOR`, `$EDITOR` or
//! `vi`, then replace it with what was saved — kubectl edit. Unlike
//! kubectl, a failed save is not reopened in the editor: the error is
//! printed and the edited copy kept in a temporary file.

use std::io::Write;
use std::process::Command;

use serde_json::Value;

use crate::api::with_type;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::printers::{self, yaml};
use crate::resources;

/// Edit a resource in your editor.
#[derive(clap::Args, Debug)]
pub struct Edit {
    /// TYPE NAME or TYPE/NAME.
    #[arg(required = true)]
    pub args: Vec<String>,
}

impl Edit {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (info, name) = resources::one_target(&self.args, "edit")?;
        let ns = ctx.namespace().await?;
        let mut obj = with_type(ctx.get(info, &ns, &name).await?, info);
        // Like kubectl edit: who owns which field is not for hand editing.
        crate::printers::omit_managed_fields(&mut obj);
        let original = format!(
            "# Please edit the object below. Lines beginning with a '#' will be ignored,\n\
             # and an empty file will abort the edit.\n#\n{}",
            yaml::to_yaml(&obj)
        );
        let path =
            std::env::temp_dir().join(format!("miniktl-edit-{}-{}.yaml", std::process::id(), name));
        {
            let mut f = std::fs::File::create(&path).map_err(|source| Error::File {
                path: path.clone(),
                source,
            })?;
            f.write_all(original.as_bytes())?;
        }
        let editor = std::env::var("KUBE_EDITOR")
            .or_else(|_| std::env::var("EDITOR"))
            .unwrap_or_else(|_| "vi".into());
        let status = tokio::task::block_in_place(|| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("{editor} \"$1\""))
                .arg("sh")
                .arg(&path)
                .status()
        })
        .map_err(|e| Error::Usage(format!("cannot run editor {editor:?}: {e}")))?;
        if !status.success() {
            return Err(Error::Usage(format!(
                "editor {editor:?} exited with {status}"
            )));
        }
        let edited = std::fs::read_to_string(&path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        let body: String = edited
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        if body.trim().is_empty() {
            let _ = std::fs::remove_file(&path);
            ctx.eprint("Edit cancelled, saved file was empty.\n");
            return Ok(());
        }
        if edited == original {
            let _ = std::fs::remove_file(&path);
            ctx.eprint("Edit cancelled, no changes made.\n");
            return Ok(());
        }
        let new: Value = serde_saphyr::from_str(&body).map_err(|e| Error::Usage(format!("the edited file is not valid YAML: {e}\nA copy of your changes has been stored to \"{}\"", path.display())))?;
        if new == obj {
            let _ = std::fs::remove_file(&path);
            ctx.eprint("Edit cancelled, no changes made.\n");
            return Ok(());
        }
        match ctx.replace(info, &ns, &new).await {
            Ok(saved) => {
                let _ = std::fs::remove_file(&path);
                ctx.print(&format!(
                    "{} edited\n",
                    printers::object_name(&with_type(saved, info))
                ));
                Ok(())
            }
            Err(e) => {
                ctx.eprint(&format!(
                    "{}\nA copy of your changes has been stored to \"{}\"\n",
                    e.render(),
                    path.display()
                ));
                Err(Error::Reported(1))
            }
        }
    }
}
