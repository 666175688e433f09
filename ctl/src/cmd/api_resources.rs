//! `miniktl api-resources`: what the server serves, from its discovery
//! documents (`/api/v1`, `/apis`, `/apis/<group>/<version>`), one row per
//! resource at its group's preferred version — kubectl api-resources.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Output;
use crate::printers::tabwriter::TabWriter;
use crate::value::array_at;

/// Print the supported API resources on the server.
#[derive(clap::Args, Debug)]
pub struct ApiResources {
    /// true: only namespaced resources; false: only cluster-scoped ones.
    #[arg(long = "namespaced", num_args = 0..=1, default_missing_value = "true")]
    pub namespaced: Option<bool>,
    /// Only resources in this API group ("" for core).
    #[arg(long = "api-group")]
    pub api_group: Option<String>,
    #[command(flatten)]
    pub output: Output,
    #[arg(long = "no-headers")]
    pub no_headers: bool,
}

struct Row {
    name: String,
    short: String,
    group: String,
    api_version: String,
    namespaced: bool,
    kind: String,
    verbs: Vec<String>,
    categories: Vec<String>,
}

impl ApiResources {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let mut rows: Vec<Row> = Vec::new();
        let core = ctx.raw_get("/api/v1", "application/json").await?;
        collect(&core, "", "v1", &mut rows);
        let groups = ctx.raw_get("/apis", "application/json").await?;
        for g in array_at(&groups, "/groups") {
            let name = g.get("name").and_then(Value::as_str).unwrap_or("");
            let gv = g
                .pointer("/preferredVersion/groupVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            if gv.is_empty() {
                continue;
            }
            let doc = ctx
                .raw_get(&format!("/apis/{gv}"), "application/json")
                .await?;
            collect(&doc, name, gv, &mut rows);
        }
        rows.retain(|r| self.namespaced.is_none_or(|n| n == r.namespaced));
        if let Some(g) = &self.api_group {
            rows.retain(|r| &r.group == g);
        }
        rows.sort_by(|a, b| {
            (a.group.as_str(), a.name.as_str()).cmp(&(b.group.as_str(), b.name.as_str()))
        });
        let mut tw = TabWriter::for_tables();
        match self.output.as_deref() {
            Some("name") => {
                for r in &rows {
                    let n = if r.group.is_empty() {
                        r.name.clone()
                    } else {
                        format!("{}.{}", r.name, r.group)
                    };
                    ctx.print(&format!("{n}\n"));
                }
                return Ok(());
            }
            Some("wide") => {
                if !self.no_headers {
                    tw.write_str(
                        "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND\tVERBS\tCATEGORIES\n",
                    );
                }
                for r in &rows {
                    tw.write_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t[{}]\t{}\n",
                        r.name,
                        r.short,
                        r.api_version,
                        r.namespaced,
                        r.kind,
                        r.verbs.join(" "),
                        r.categories.join(",")
                    ));
                }
            }
            None => {
                if !self.no_headers {
                    tw.write_str("NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND\n");
                }
                for r in &rows {
                    tw.write_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\n",
                        r.name, r.short, r.api_version, r.namespaced, r.kind
                    ));
                }
            }
            Some(other) => {
                return Err(Error::Usage(format!(
                    "--output {other} is not available (use wide or name)"
                )))
            }
        }
        ctx.print(&tw.flush());
        Ok(())
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn collect(doc: &Value, group: &str, gv: &str, rows: &mut Vec<Row>) {
    for r in array_at(doc, "/resources") {
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        if name.contains('/') {
            continue;
        }
        rows.push(Row {
            name: name.to_string(),
            short: strings(r.get("shortNames")).join(","),
            group: group.to_string(),
            api_version: gv.to_string(),
            namespaced: r
                .get("namespaced")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            kind: r
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            verbs: strings(r.get("verbs")),
            categories: strings(r.get("categories")),
        });
    }
}
