//! `miniktl describe`: kubectl describe. Fetches the objects (a name, a
//! name prefix, `-l`, or every object of the type) and prints each through
//! `crate::describe`, separated by blank lines as kubectl does.

use serde_json::Value;

use crate::context::Ctx;
use crate::describe;
use crate::error::{Error, Result};
use crate::manifest;
use crate::resources::{self, Selection};

/// Show details of a specific resource or group of resources.
#[derive(clap::Args, Debug)]
pub struct Describe {
    /// TYPE [NAME_PREFIX] or TYPE/NAME.
    pub args: Vec<String>,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    #[arg(short = 'R', long = "recursive")]
    pub recursive: bool,
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// Show related events.
    #[arg(long = "show-events", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub show_events: bool,
}

impl Describe {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let namespace = ctx.namespace().await?;
        let mut objects: Vec<(&'static minik_api::ResourceInfo, Value)> = Vec::new();
        let mut failures = 0;
        if !self.filename.is_empty() {
            for doc in manifest::read_all(&ctx.io, &self.filename, self.recursive)? {
                let (info, ns, obj) = crate::cmd::apply::prepare(ctx, &doc).await?;
                match ctx.get(info, &ns, minik_api::meta::name(&obj)).await {
                    Ok(o) => objects.push((info, o)),
                    Err(e) => {
                        failures += 1;
                        ctx.eprint(&format!("{}\n", e.render()));
                    }
                }
            }
        } else {
            if self.args.is_empty() {
                return Err(Error::Usage(
                    "You must specify the type of resource to describe. Use \"miniktl api-resources\" for a complete list of supported resources.".into(),
                ));
            }
            let sels = resources::parse_args(&self.args)?;
            // TYPE/NAME is exact; a bare NAME may be a prefix, as in kubectl.
            let exact = self.args.iter().any(|a| a.contains('/'));
            let ns = (!self.all_namespaces).then_some(namespace.as_str());
            for Selection { info, names, .. } in sels.items {
                if names.is_empty() {
                    let list = ctx.list(info, ns, self.selector.as_deref(), None).await?;
                    objects.extend(list.into_iter().map(|o| (info, o)));
                    continue;
                }
                for name in names {
                    match ctx.get(info, &namespace, &name).await {
                        Ok(o) => objects.push((info, o)),
                        Err(e) if e.is_not_found() && !exact => {
                            // kubectl treats a bare name as a prefix when nothing has that exact name.
                            let list = ctx
                                .list(info, Some(&namespace), self.selector.as_deref(), None)
                                .await?;
                            let matching: Vec<Value> = list
                                .into_iter()
                                .filter(|o| minik_api::meta::name(o).starts_with(name.as_str()))
                                .collect();
                            if matching.is_empty() {
                                failures += 1;
                                ctx.eprint(&format!("{}\n", e.render()));
                            }
                            objects.extend(matching.into_iter().map(|o| (info, o)));
                        }
                        Err(e) => {
                            failures += 1;
                            ctx.eprint(&format!("{}\n", e.render()));
                        }
                    }
                }
            }
            if objects.is_empty() && failures == 0 {
                if self.all_namespaces {
                    ctx.eprint("No resources found\n");
                } else {
                    ctx.eprint(&format!("No resources found in {namespace} namespace.\n"));
                }
            }
        }
        let mut first = true;
        for (info, obj) in objects {
            let text = describe::describe(ctx, info, &obj, self.show_events).await?;
            if first {
                first = false;
                ctx.print(&text);
            } else {
                ctx.print(&format!("\n\n{text}"));
            }
        }
        if failures > 0 {
            return Err(Error::Reported(failures));
        }
        Ok(())
    }
}
