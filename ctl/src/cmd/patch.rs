//! `miniktl patch`: send a strategic merge, JSON merge or JSON patch —
//! kubectl patch. Prints `patched`, or `patched (no change)` when the
//! object's resourceVersion did not move.

use kube::api::{Patch, PatchParams};
use serde_json::Value;

use crate::api::{to_value, with_type};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::printers;
use crate::resources;

/// Update fields of a resource using a patch.
#[derive(clap::Args, Debug)]
pub struct PatchCmd {
    /// TYPE NAME or TYPE/NAME.
    #[arg(required = true)]
    pub args: Vec<String>,
    /// The patch (JSON or YAML).
    #[arg(short = 'p', long = "patch", required = true)]
    pub patch: String,
    /// strategic (default), merge or json.
    #[arg(long = "type", default_value = "strategic")]
    pub type_: String,
}

impl PatchCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (info, name) = resources::one_target(&self.args, "patch")?;
        let body: Value = serde_saphyr::from_str(&self.patch)
            .map_err(|e| Error::Usage(format!("unable to parse \"{}\": {e}", self.patch)))?;
        let ns = ctx.namespace().await?;
        let before = ctx.get(info, &ns, &name).await?;
        let api = ctx.api(info, Some(&ns)).await?;
        let pp = PatchParams {
            field_manager: Some("kubectl-patch".into()),
            ..Default::default()
        };
        let result = match self.type_.as_str() {
            "strategic" => api.patch(&name, &pp, &Patch::Strategic(&body)).await,
            "merge" => api.patch(&name, &pp, &Patch::Merge(&body)).await,
            "json" => {
                let ops: json_patch::Patch = serde_json::from_value(body)
                    .map_err(|e| Error::Usage(format!("invalid JSON patch: {e}")))?;
                api.patch(&name, &pp, &Patch::<()>::Json(ops)).await
            }
            other => {
                return Err(Error::Usage(format!(
                    "--type must be one of [json merge strategic], not \"{other}\""
                )))
            }
        };
        let after = match result {
            Ok(o) => to_value(o),
            Err(e) => return Err(ctx.kube_err(e).await),
        };
        let same = minik_api::meta::meta_str(&before, "resourceVersion")
            == minik_api::meta::meta_str(&after, "resourceVersion");
        ctx.print(&format!(
            "{} patched{}\n",
            printers::object_name(&with_type(after, info)),
            if same { " (no change)" } else { "" }
        ));
        Ok(())
    }
}
