//! `miniktl wait`: block until objects meet a condition (`--for=condition=Ready`,
//! `--for=jsonpath='{.status.phase}'=Running`, `--for=delete`) — kubectl wait.
//! Each object is watched (not polled) until its condition holds.

use std::time::Duration;

use futures::StreamExt;
use minik_api::ResourceInfo;
use serde_json::Value;

use crate::api::with_type;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{parse_duration, AllNamespaces, Matching};
use crate::printers::{self, jsonpath};
use crate::resources::{self, Selection};
use crate::watch::{resource_version, wait_gone};

/// Wait for a specific condition on one or many resources.
#[derive(clap::Args, Debug)]
pub struct Wait {
    /// TYPE NAME... or TYPE/NAME...
    #[arg(required = true)]
    pub args: Vec<String>,
    /// condition=NAME[=VALUE], jsonpath=EXPR=VALUE, delete, or create.
    #[arg(long = "for", required = true)]
    pub for_: String,
    #[command(flatten)]
    pub matching: Matching,
    #[command(flatten)]
    pub all_ns: AllNamespaces,
    /// How long to wait (e.g. 30s, 5m).
    #[arg(long = "timeout", default_value = "30s")]
    pub timeout: String,
}

#[derive(Debug, Clone)]
enum Condition {
    Type(String, String),
    JsonPath(jsonpath::JsonPath, Option<String>),
    Delete,
    Create,
}

fn parse_for(s: &str) -> Result<Condition> {
    let s = s.trim();
    if s == "delete" {
        return Ok(Condition::Delete);
    }
    if s == "create" {
        return Ok(Condition::Create);
    }
    if let Some(c) = s.strip_prefix("condition=") {
        let (t, v) = c.split_once('=').unwrap_or((c, "True"));
        return Ok(Condition::Type(t.to_ascii_lowercase(), v.to_string()));
    }
    if let Some(j) = s.strip_prefix("jsonpath=") {
        let j = j.trim_matches('\'');
        // `{.status.phase}=Running`: the value follows the closing brace.
        let (expr, value) = match j.rfind('}') {
            Some(i) => (
                &j[..=i],
                j[i + 1..]
                    .strip_prefix('=')
                    .map(|v| v.trim_matches('\'').trim_matches('"').to_string()),
            ),
            None => match j.split_once('=') {
                Some((e, v)) => (e, Some(v.to_string())),
                None => (j, None),
            },
        };
        return Ok(Condition::JsonPath(jsonpath::relaxed(expr)?, value));
    }
    Err(Error::Usage(format!(
        "unrecognized condition: {s:?} (use condition=NAME[=VALUE], jsonpath=EXPR=VALUE, delete or create)"
    )))
}

fn holds(cond: &Condition, obj: &Value) -> bool {
    match cond {
        Condition::Type(t, v) => obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type")
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .as_deref()
                        == Some(t.as_str())
                        && c.get("status")
                            .and_then(Value::as_str)
                            .is_some_and(|s| s.eq_ignore_ascii_case(v))
                })
            }),
        Condition::JsonPath(p, v) => {
            let found = p.select(obj);
            match v {
                Some(v) => found.iter().any(|x| jsonpath::text(x) == *v),
                None => !found.is_empty(),
            }
        }
        Condition::Delete => false,
        Condition::Create => true,
    }
}

impl Wait {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let cond = parse_for(&self.for_)?;
        let timeout =
            parse_duration(&self.timeout)?.unwrap_or(Duration::from_secs(60 * 60 * 24 * 365));
        let deadline = tokio::time::Instant::now() + timeout;
        let ns = ctx.namespace().await?;
        let mut targets: Vec<(&'static ResourceInfo, String, String)> = Vec::new();
        for Selection { info, names, .. } in resources::parse_args(&self.args)?.items {
            if names.is_empty() {
                let list_ns = self.all_ns.scope(&ns);
                for o in ctx
                    .list(info, list_ns, self.matching.selector.get(), None)
                    .await?
                {
                    targets.push((
                        info,
                        minik_api::meta::namespace(&o).unwrap_or("").to_string(),
                        minik_api::meta::name(&o).to_string(),
                    ));
                }
            } else {
                targets.extend(names.into_iter().map(|n| (info, ns.clone(), n)));
            }
        }
        if targets.is_empty() {
            return Err(Error::Usage("no matching resources found".into()));
        }
        for (info, ns, name) in targets {
            let work = wait_one(ctx, info, &ns, &name, &cond);
            match tokio::time::timeout_at(deadline, work).await {
                Ok(Ok(())) => {
                    let obj = serde_json::json!({"apiVersion": info.api_version(), "kind": info.kind, "metadata": {"name": name}});
                    ctx.print(&format!("{} condition met\n", printers::object_name(&obj)));
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::Timeout(format!(
                        "timed out waiting for the condition on {}/{name}",
                        info.plural
                    )))
                }
            }
        }
        Ok(())
    }
}

async fn wait_one(
    ctx: &Ctx,
    info: &'static ResourceInfo,
    ns: &str,
    name: &str,
    cond: &Condition,
) -> Result<()> {
    loop {
        let current = ctx.get_opt(info, ns, name).await?;
        if let Condition::Delete = cond {
            return match current {
                None => Ok(()),
                Some(obj) => wait_gone(ctx, info, ns, name, &obj).await,
            };
        }
        let rv = match &current {
            Some(obj) if holds(cond, &with_type(obj.clone(), info)) => return Ok(()),
            Some(obj) => resource_version(obj),
            None if matches!(cond, Condition::Create) => "0".to_string(),
            None => {
                return Err(Error::Api {
                    code: 404,
                    reason: "NotFound".into(),
                    message: format!("{} \"{name}\" not found", info.qualified_plural()),
                })
            }
        };
        let mut stream = Box::pin(ctx.watch_object(info, Some(ns), name, rv).await?);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok((kind, obj)) if kind == "ADDED" || kind == "MODIFIED" => {
                    if holds(cond, &with_type(obj, info)) {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse_and_match() {
        let pod = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(holds(&parse_for("condition=ready").unwrap(), &pod));
        assert!(!holds(&parse_for("condition=Ready=False").unwrap(), &pod));
        assert!(holds(
            &parse_for("jsonpath='{.status.phase}'=Running").unwrap(),
            &pod
        ));
        assert!(!holds(
            &parse_for("jsonpath={.status.phase}=Pending").unwrap(),
            &pod
        ));
        assert!(parse_for("bogus").is_err());
    }
}
