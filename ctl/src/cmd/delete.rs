//! `miniktl delete`: delete objects and (by default) wait until they are
//! gone — kubectl delete.
//!
//! Objects are named by `TYPE NAME...`, `TYPE/NAME`, `-f` manifests, `-l`
//! selectors or `--all`. Deletion is graceful: the API server sets a
//! `deletionTimestamp`, and the object disappears when its finalizers and
//! owner (a kubelet stopping the pod's containers, the namespace controller
//! emptying a namespace) are done. Like kubectl, miniktl prints
//! `kind "name" deleted` as each request is accepted, then watches until
//! every object is really gone, unless `--wait=false`.

use minik_api::ResourceInfo;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{parse_duration, AllNamespaces, DryRun, DryRunFlag, Files, Matching};
use crate::objects::prepare;
use crate::resources::{self, Selection};
use crate::watch::wait_gone;

/// Delete resources by file names, stdin, resources and names, or by label selector.
#[derive(clap::Args, Debug)]
pub struct Delete {
    /// TYPE NAME... or TYPE/NAME...
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: Files,
    #[command(flatten)]
    pub matching: Matching,
    #[command(flatten)]
    pub all_ns: AllNamespaces,
    /// Wait for the objects to be gone before returning.
    #[arg(long = "wait", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub wait: bool,
    /// Seconds given to the object to terminate gracefully (-1: the object's default).
    #[arg(long = "grace-period", default_value_t = -1, allow_hyphen_values = true)]
    pub grace_period: i64,
    /// Immediate shutdown (grace period 1).
    #[arg(long = "now")]
    pub now: bool,
    /// Immediate removal from the API (grace period 0); the workload may keep running.
    #[arg(long = "force")]
    pub force: bool,
    /// Treat "not found" as success.
    #[arg(long = "ignore-not-found")]
    pub ignore_not_found: bool,
    /// Give up waiting after this long (e.g. 30s, 2m; 0: wait forever).
    #[arg(long = "timeout", default_value = "0s")]
    pub timeout: String,
    #[command(flatten)]
    pub dry_run: DryRunFlag,
}

/// One object to delete.
struct Target {
    info: &'static ResourceInfo,
    ns: String,
    name: String,
}

impl Delete {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dry = self.dry_run.parse()?;
        let timeout = parse_duration(&self.timeout)?;
        let grace: Option<u32> = if self.force {
            ctx.eprint("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n");
            Some(0)
        } else if self.now {
            Some(1)
        } else if self.grace_period >= 0 {
            Some(self.grace_period as u32)
        } else {
            None
        };
        let mut failures = 0;
        let targets = self.targets(ctx).await?;
        if targets.is_empty() && self.matching.any() {
            let ns = ctx.namespace().await?;
            if self.all_ns.all_namespaces {
                ctx.eprint("No resources found\n");
            } else {
                ctx.eprint(&format!("No resources found in {ns} namespace.\n"));
            }
            return Ok(());
        }
        let mut deleted: Vec<(Target, Option<Value>)> = Vec::new();
        for t in targets {
            let before = if self.wait && dry == DryRun::None {
                match ctx.get_opt(t.info, &t.ns, &t.name).await {
                    Ok(v) => v,
                    Err(e) => {
                        failures += 1;
                        ctx.eprint(&format!("{}\n", e.render()));
                        continue;
                    }
                }
            } else {
                None
            };
            let result = if dry == DryRun::Client {
                ctx.get(t.info, &t.ns, &t.name).await.map(|_| ())
            } else {
                ctx.delete(t.info, &t.ns, &t.name, grace, dry == DryRun::Server)
                    .await
            };
            match result {
                Ok(()) => {
                    let kind = resources::kind_prefix(t.info);
                    ctx.print(&format!("{kind} \"{}\" deleted{}\n", t.name, dry.suffix()));
                    deleted.push((t, before));
                }
                Err(e) if e.is_not_found() && self.ignore_not_found => {}
                Err(e) => {
                    failures += 1;
                    ctx.eprint(&format!("{}\n", e.render()));
                }
            }
        }
        if self.wait && dry == DryRun::None && grace != Some(0) {
            for (t, before) in &deleted {
                let Some(before) = before else { continue };
                let wait = wait_gone(ctx, t.info, &t.ns, &t.name, before);
                let r = match timeout {
                    Some(d) => match tokio::time::timeout(d, wait).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::Timeout(format!(
                            "timed out waiting for the condition on {}/{}",
                            t.info.plural, t.name
                        ))),
                    },
                    None => wait.await,
                };
                if let Err(e) = r {
                    failures += 1;
                    ctx.eprint(&format!("{}\n", e.render()));
                }
            }
        }
        if failures > 0 {
            return Err(Error::Reported(failures));
        }
        Ok(())
    }

    async fn targets(&self, ctx: &Ctx) -> Result<Vec<Target>> {
        let namespace = ctx.namespace().await?;
        let mut out = Vec::new();
        if !self.files.is_empty() {
            for doc in self.files.read(&ctx.io)? {
                let (info, ns, obj) = prepare(ctx, &doc).await?;
                out.push(Target {
                    info,
                    ns,
                    name: minik_api::meta::name(&obj).to_string(),
                });
            }
            return Ok(out);
        }
        if self.args.is_empty() {
            return Err(Error::Usage(
                "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'".into(),
            ));
        }
        let selections = resources::parse_args(&self.args)?;
        let by_selector = self.matching.any();
        for Selection { info, names, .. } in selections.items {
            if names.is_empty() {
                if !by_selector {
                    return Err(Error::Usage(format!(
                        "resource(s) were provided, but no name was specified (use --all to delete every {} in the namespace)",
                        info.singular
                    )));
                }
                let ns = self.all_ns.scope(&namespace);
                for obj in ctx
                    .list(info, ns, self.matching.selector.get(), None)
                    .await?
                {
                    out.push(Target {
                        info,
                        ns: minik_api::meta::namespace(&obj).unwrap_or("").to_string(),
                        name: minik_api::meta::name(&obj).to_string(),
                    });
                }
            } else {
                if by_selector {
                    return Err(Error::Usage(
                        "name cannot be provided when a selector is specified".into(),
                    ));
                }
                for name in names {
                    out.push(Target {
                        info,
                        ns: namespace.clone(),
                        name,
                    });
                }
            }
        }
        Ok(out)
    }
}
