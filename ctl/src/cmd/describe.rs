//! `miniktl describe`: kubectl describe. Fetches the objects (a name, a
//! name prefix, `-l`, or every object of the type) and prints each through
//! `crate::describe`, separated by blank lines as kubectl does.

use serde_json::Value;

use crate::context::Ctx;
use crate::describe;
use crate::error::{Error, Result};
use crate::flags::{AllNamespaces, Files, Selector};
use crate::objects::prepare;
use crate::resources::{self, Selection};

/// Show details of a specific resource or group of resources.
#[derive(clap::Args, Debug)]
pub struct Describe {
    /// TYPE [NAME_PREFIX] or TYPE/NAME.
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: Files,
    #[command(flatten)]
    pub selector: Selector,
    #[command(flatten)]
    pub all_ns: AllNamespaces,
    /// Show related events.
    #[arg(long = "show-events", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub show_events: bool,
}

impl Describe {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let namespace = ctx.namespace().await?;
        let mut objects: Vec<(&'static minik_api::ResourceInfo, Value)> = Vec::new();
        let mut failures = 0;
        if !self.files.is_empty() {
            for doc in self.files.read(&ctx.io)? {
                let (info, ns, obj) = prepare(ctx, &doc).await?;
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
            let ns = self.all_ns.scope(&namespace);
            for Selection { info, names, .. } in sels.items {
                if names.is_empty() {
                    let list = ctx.list(info, ns, self.selector.get(), None).await?;
                    objects.extend(list.into_iter().map(|o| (info, o)));
                    continue;
                }
                for name in names {
                    match ctx.get(info, &namespace, &name).await {
                        Ok(o) => objects.push((info, o)),
                        Err(e) if e.is_not_found() && !exact => {
                            // kubectl treats a bare name as a prefix when nothing has that exact name.
                            let list = ctx
                                .list(info, Some(&namespace), self.selector.get(), None)
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
                if self.all_ns.all_namespaces {
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
