//! `miniktl scale`: set the replica count through the `scale` subresource
//! (deployments, replica sets, stateful sets) — kubectl scale.

use serde_json::json;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Matching;
use crate::printers;
use crate::resources::{self, Selection};
use crate::url::resource_path;

/// Set a new size for a deployment, replica set or stateful set.
#[derive(clap::Args, Debug)]
pub struct Scale {
    /// TYPE NAME or TYPE/NAME.
    #[arg(required = true)]
    pub args: Vec<String>,
    /// The new number of replicas.
    #[arg(long = "replicas", required = true)]
    pub replicas: i64,
    /// Only scale if the current count is this (a precondition).
    #[arg(long = "current-replicas", default_value_t = -1, allow_hyphen_values = true)]
    pub current_replicas: i64,
    #[command(flatten)]
    pub matching: Matching,
}

impl Scale {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if self.replicas < 0 {
            return Err(Error::Usage("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0".into()));
        }
        let ns = ctx.namespace().await?;
        let sels = resources::parse_args(&self.args)?;
        for Selection { info, names, .. } in sels.items {
            if !info.has_subresource("scale") {
                return Err(Error::Usage(format!(
                    "cannot scale {}: it has no scale subresource",
                    info.plural
                )));
            }
            let names = if names.is_empty() {
                if !self.matching.any() {
                    return Err(Error::Usage(
                        "resource(s) were provided, but no name was specified".into(),
                    ));
                }
                ctx.list(info, Some(&ns), self.matching.selector.get(), None)
                    .await?
                    .iter()
                    .map(|o| minik_api::meta::name(o).to_string())
                    .collect()
            } else {
                names
            };
            for name in names {
                let path = resource_path(info, Some(&ns), Some(&name), Some("scale"));
                if self.current_replicas >= 0 {
                    let scale = ctx.raw_get(&path, "application/json").await?;
                    let cur = scale
                        .pointer("/spec/replicas")
                        .and_then(serde_json::Value::as_i64)
                        .unwrap_or(0);
                    if cur != self.current_replicas {
                        return Err(Error::Usage(format!(
                            "Expected replicas to be {}, was {cur}",
                            self.current_replicas
                        )));
                    }
                }
                ctx.raw_merge_patch(&path, &json!({"spec": {"replicas": self.replicas}}))
                    .await?;
                let obj = json!({"apiVersion": info.api_version(), "kind": info.kind, "metadata": {"name": name}});
                ctx.print(&format!("{} scaled\n", printers::object_name(&obj)));
            }
        }
        Ok(())
    }
}
