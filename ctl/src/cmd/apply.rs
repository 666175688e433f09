//! `miniktl apply -f`: declarative create-or-update — kubectl's client-side apply.
//!
//! For each object in the files: resolve its kind, fill in the namespace,
//! record the file's content in the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation, then create the object if it is new, or send the three-way
//! strategic merge patch (`crate::patch`) between last-applied, the file
//! and the live object. An empty patch prints `unchanged`, so applying the
//! same file twice changes nothing; fields removed from the file are
//! removed from the object.
//!
//! `--server-side`: each object is sent whole as an apply patch; the API
//! server merges it and tracks who owns which field. A conflict with
//! another manager fails with kubectl's advice; `--force-conflicts` takes
//! the fields over.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::DryRun;
use crate::flags::{DryRunFlag, Files, Output};
use crate::last_applied::apply_object;
use crate::objects::prepare;
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
    /// Apply on the server, which tracks field ownership (managedFields).
    #[arg(long = "server-side")]
    pub server_side: bool,
    /// With --server-side: take fields other managers own.
    #[arg(long = "force-conflicts", requires = "server_side")]
    pub force_conflicts: bool,
    /// The manager applying (default: kubectl, as kubectl's server-side apply).
    #[arg(long = "field-manager", default_value = "kubectl")]
    pub field_manager: String,
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
            let applied = if self.server_side {
                self.server_side_apply(ctx, &doc, dry).await
            } else {
                apply_object(ctx, &doc, dry, true)
                    .await
                    .map(|(outcome, obj)| (outcome.word(), obj))
            };
            match applied {
                Ok((outcome, obj)) => {
                    match &format {
                        None => ctx.print(&format!(
                            "{} {}{}\n",
                            printers::object_name(&obj),
                            outcome,
                            dry.suffix()
                        )),
                        Some(Format::Name) => {
                            ctx.print(&format!("{}\n", printers::object_name(&obj)))
                        }
                        Some(_) => {}
                    }
                    results.push(obj);
                }
                Err(Error::Api {
                    code: 409, message, ..
                }) if message.starts_with("Apply failed") => {
                    failures += 1;
                    ctx.eprint(&format!("error: {message}\n{CONFLICT_ADVICE}"));
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

impl Apply {
    /// One object, applied on the server.
    async fn server_side_apply(
        &self,
        ctx: &Ctx,
        doc: &crate::manifest::Document,
        dry: DryRun,
    ) -> Result<(&'static str, serde_json::Value)> {
        let (info, ns, obj) = prepare(ctx, doc).await?;
        if dry == DryRun::Client {
            return Ok(("serverside-applied", obj));
        }
        let applied = ctx
            .server_side_apply(
                info,
                &ns,
                &obj,
                &self.field_manager,
                self.force_conflicts,
                dry == DryRun::Server,
            )
            .await?;
        Ok(("serverside-applied", applied))
    }
}

/// What kubectl prints after a server-side apply conflict.
const CONFLICT_ADVICE: &str =
    "Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
";
