//! `miniktl apply -f`: declarative create-or-update — kubectl's client-side apply.
//!
//! For each object in the files: resolve its kind, fill in the namespace,
//! record the file's content in the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation, then create the object if it is new, or send the three-way
//! strategic merge patch (`crate::patch`) between last-applied, the file
//! and the live object. An empty patch prints `unchanged`, so applying the
//! same file twice changes nothing; fields removed from the file are
//! removed from the object. Server-side apply (`--server-side`) is left out.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{DryRunFlag, Files, Output};
use crate::last_applied::apply_object;
use crate::printers::{self, Format};

/// Apply a configuration to resources from files or stdin.
#[derive(clap::Args, Debug)]
#[command(mut_arg("filename", |a| a.required_unless_present("kustomize")))]
pub struct Apply {
    #[command(flatten)]
    pub files: Files,
    /// A kustomization directory: not supported by miniktl (says so).
    #[arg(short = 'k', long = "kustomize")]
    pub kustomize: Option<String>,
    #[command(flatten)]
    pub dry_run: DryRunFlag,
    #[command(flatten)]
    pub output: Output,
    /// Accepted for kubectl compatibility (validation is the server's).
    #[arg(long = "validate", num_args = 0..=1, default_missing_value = "true", hide = true)]
    pub validate: Option<String>,
}

impl Apply {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if let Some(k) = &self.kustomize {
            return Err(Error::Usage(format!(
                "kustomize (-k {k}) is not supported by miniktl; render it with `kubectl kustomize {k} > out.yaml` and apply that file with -f"
            )));
        }
        let dry = self.dry_run.parse()?;
        let format = self.output.format()?;
        let docs = self.files.read(&ctx.io)?;
        let mut failures = 0;
        let mut results = Vec::new();
        for doc in docs {
            match apply_object(ctx, &doc, dry, true).await {
                Ok((outcome, obj)) => {
                    match &format {
                        None => ctx.print(&format!(
                            "{} {}{}\n",
                            printers::object_name(&obj),
                            outcome.word(),
                            dry.suffix()
                        )),
                        Some(Format::Name) => {
                            ctx.print(&format!("{}\n", printers::object_name(&obj)))
                        }
                        Some(_) => {}
                    }
                    results.push(obj);
                }
                Err(e) => {
                    failures += 1;
                    ctx.eprint(&format!("{}\n", e.render()));
                }
            }
        }
        if let Some(f) = &format {
            if !matches!(f, Format::Name) && !results.is_empty() {
                let single = results.len() == 1;
                ctx.print(&printers::print_objects(f, &results, single)?);
            }
        }
        if failures > 0 {
            return Err(Error::Reported(failures));
        }
        Ok(())
    }
}
