//! `miniktl set image|env|resources`: change a workload's pod template
//! with a strategic merge patch on its containers (matched by name), which
//! the Deployment controller turns into a rolling update — kubectl set.

use serde_json::{json, Map, Value};

use crate::api::with_type;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Matching;
use crate::printers;
use crate::resources::{self, Selection};

/// Set specific features on objects.
#[derive(clap::Subcommand, Debug)]
pub enum Set {
    /// Update the image of containers: `set image deployment/web web=minik/web:v2` (`*=` for all).
    Image {
        /// TYPE/NAME (or TYPE NAME) then CONTAINER=IMAGE ...
        #[arg(required = true)]
        args: Vec<String>,
        #[command(flatten)]
        matching: Matching,
    },
    /// Update environment variables: `set env deployment/web KEY=VALUE OTHER-`.
    Env {
        /// TYPE/NAME (or TYPE NAME) then KEY=VALUE or KEY- ...
        #[arg(required = true)]
        args: Vec<String>,
        /// Only these containers (name or glob `*`).
        #[arg(short = 'c', long = "containers", default_value = "*")]
        containers: String,
        /// Print the current environment instead of changing it.
        #[arg(long = "list")]
        list: bool,
        #[command(flatten)]
        matching: Matching,
    },
    /// Update resource requests and limits: `set resources deployment/web --limits=cpu=200m,memory=512Mi`.
    Resources {
        /// TYPE/NAME or TYPE NAME.
        #[arg(required = true)]
        args: Vec<String>,
        #[arg(short = 'c', long = "containers", default_value = "*")]
        containers: String,
        #[arg(long = "limits")]
        limits: Option<String>,
        #[arg(long = "requests")]
        requests: Option<String>,
        #[command(flatten)]
        matching: Matching,
    },
}

/// Where a kind keeps its pod spec.
pub fn pod_spec_path(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &["spec", "template", "spec"],
    }
}

fn pod_spec<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for p in pod_spec_path(kind) {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

/// Wraps `inner` (the pod spec patch) in the kind's path.
fn wrap(kind: &str, inner: Value) -> Value {
    let mut v = inner;
    for p in pod_spec_path(kind).iter().rev() {
        v = json!({ *p: v });
    }
    v
}

fn matches(pattern: &str, name: &str) -> bool {
    pattern == "*" || pattern == name || pattern.split(',').any(|p| p == name)
}

/// The containers of `obj`'s pod template that `-c PATTERN` selects, by name.
fn selected_containers(obj: &Value, kind: &str, pattern: &str) -> Vec<(String, Value)> {
    pod_spec(obj, kind)
        .and_then(|spec| spec.get("containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            matches(pattern, name).then(|| (name.to_string(), c.clone()))
        })
        .collect()
}

/// Splits leading resource arguments from trailing `a=b` / `a-` arguments.
fn split(args: &[String]) -> (Vec<String>, Vec<String>) {
    let first_change = args
        .iter()
        .position(|a| a.contains('=') || (a.ends_with('-') && a.len() > 1 && !a.contains('/')))
        .unwrap_or(args.len());
    let first_change = if first_change == 0 {
        args.len()
    } else {
        first_change
    };
    (args[..first_change].to_vec(), args[first_change..].to_vec())
}

async fn targets(
    ctx: &Ctx,
    resource_args: &[String],
    matching: &Matching,
) -> Result<Vec<(&'static minik_api::ResourceInfo, Value)>> {
    let ns = ctx.namespace().await?;
    let mut out = Vec::new();
    for Selection { info, names, .. } in resources::parse_args(resource_args)?.items {
        if names.is_empty() {
            if !matching.any() {
                return Err(Error::Usage(
                    "resource(s) were provided, but no name was specified".into(),
                ));
            }
            out.extend(
                ctx.list(info, Some(&ns), matching.selector.get(), None)
                    .await?
                    .into_iter()
                    .map(|o| (info, o)),
            );
        } else {
            for n in names {
                out.push((info, with_type(ctx.get(info, &ns, &n).await?, info)));
            }
        }
    }
    Ok(out)
}

impl Set {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            Set::Image { args, matching } => {
                let (res, changes) = split(&args);
                if changes.is_empty() {
                    return Err(Error::Usage("at least one image update is required".into()));
                }
                let mut wanted: Vec<(String, String)> = Vec::new();
                for c in &changes {
                    let (n, i) = c.split_once('=').ok_or_else(|| {
                        Error::Usage(format!(
                            "invalid image update {c}: expected CONTAINER=IMAGE"
                        ))
                    })?;
                    wanted.push((n.to_string(), i.to_string()));
                }
                for (info, obj) in targets(ctx, &res, &matching).await? {
                    let spec = pod_spec(&obj, info.kind).cloned().unwrap_or_default();
                    let mut patch_spec = Map::new();
                    let mut found_any = vec![false; wanted.len()];
                    for field in ["initContainers", "containers"] {
                        let mut list = Vec::new();
                        for c in spec
                            .get(field)
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                        {
                            let name = c
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string();
                            for (i, (wn, img)) in wanted.iter().enumerate() {
                                if wn == "*" || *wn == name {
                                    found_any[i] = true;
                                    list.push(json!({"name": name, "image": img}));
                                }
                            }
                        }
                        if !list.is_empty() {
                            patch_spec.insert(field.to_string(), Value::Array(list));
                        }
                    }
                    if let Some(i) = found_any.iter().position(|f| !f) {
                        return Err(Error::Usage(format!(
                            "unable to find container named \"{}\"",
                            wanted[i].0
                        )));
                    }
                    finish(
                        ctx,
                        info,
                        &obj,
                        wrap(info.kind, Value::Object(patch_spec)),
                        "image updated",
                    )
                    .await?;
                }
                Ok(())
            }
            Set::Env {
                args,
                containers,
                list,
                matching,
            } => {
                let (res, changes) = split(&args);
                let mut set: Vec<(String, String)> = Vec::new();
                let mut remove: Vec<String> = Vec::new();
                for c in &changes {
                    if let Some((k, v)) = c.split_once('=') {
                        set.push((k.to_string(), v.to_string()));
                    } else if let Some(k) = c.strip_suffix('-') {
                        remove.push(k.to_string());
                    }
                }
                if !list && set.is_empty() && remove.is_empty() {
                    return Err(Error::Usage(
                        "at least one environment variable must be provided".into(),
                    ));
                }
                for (info, obj) in targets(ctx, &res, &matching).await? {
                    let mut patch_list = Vec::new();
                    for (name, c) in selected_containers(&obj, info.kind, &containers) {
                        let env = c
                            .get("env")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        if list {
                            ctx.print(&format!(
                                "# {} {}, container {name}\n",
                                info.kind,
                                minik_api::meta::name(&obj)
                            ));
                            for e in &env {
                                match e.get("value").and_then(Value::as_str) {
                                    Some(v) => ctx.print(&format!(
                                        "{}={v}\n",
                                        e["name"].as_str().unwrap_or("")
                                    )),
                                    None => ctx.print(&format!(
                                        "# {} from: {}\n",
                                        e["name"].as_str().unwrap_or(""),
                                        e.get("valueFrom")
                                            .map(|v| v.to_string())
                                            .unwrap_or_default()
                                    )),
                                }
                            }
                            continue;
                        }
                        let mut items: Vec<Value> = set
                            .iter()
                            .map(|(k, v)| json!({"name": k, "value": v}))
                            .collect();
                        for k in &remove {
                            if env
                                .iter()
                                .any(|e| e.get("name").and_then(Value::as_str) == Some(k))
                            {
                                items.push(json!({"name": k, "$patch": "delete"}));
                            }
                        }
                        if !items.is_empty() {
                            patch_list.push(json!({"name": name, "env": items}));
                        }
                    }
                    if list {
                        continue;
                    }
                    patch_containers(ctx, info, &obj, patch_list, &containers, "env updated")
                        .await?;
                }
                Ok(())
            }
            Set::Resources {
                args,
                containers,
                limits,
                requests,
                matching,
            } => {
                let parse = |s: &Option<String>| -> Result<Map<String, Value>> {
                    let mut m = Map::new();
                    if let Some(s) = s {
                        for part in s.split(',').filter(|p| !p.is_empty()) {
                            let (k, v) = part.split_once('=').ok_or_else(|| {
                                Error::Usage(format!(
                                    "invalid resource {part}: expected NAME=QUANTITY"
                                ))
                            })?;
                            minik_api::quantity::parse(v)
                                .map_err(|e| Error::Usage(format!("invalid quantity {v}: {e}")))?;
                            m.insert(k.to_string(), Value::String(v.to_string()));
                        }
                    }
                    Ok(m)
                };
                let (lim, req) = (parse(&limits)?, parse(&requests)?);
                if lim.is_empty() && req.is_empty() {
                    return Err(Error::Usage("you must specify an update to requests or limits (in the form of --requests/--limits)".into()));
                }
                for (info, obj) in targets(ctx, &args, &matching).await? {
                    let mut patch_list = Vec::new();
                    for (name, _) in selected_containers(&obj, info.kind, &containers) {
                        let mut r = Map::new();
                        if !lim.is_empty() {
                            r.insert("limits".into(), Value::Object(lim.clone()));
                        }
                        if !req.is_empty() {
                            r.insert("requests".into(), Value::Object(req.clone()));
                        }
                        patch_list.push(json!({"name": name, "resources": r}));
                    }
                    patch_containers(
                        ctx,
                        info,
                        &obj,
                        patch_list,
                        &containers,
                        "resource requirements updated",
                    )
                    .await?;
                }
                Ok(())
            }
        }
    }
}

/// Sends the per-container patches, or says that no container matched `-c`.
async fn patch_containers(
    ctx: &Ctx,
    info: &minik_api::ResourceInfo,
    obj: &Value,
    patch_list: Vec<Value>,
    pattern: &str,
    what: &str,
) -> Result<()> {
    if patch_list.is_empty() {
        return Err(Error::Usage(format!(
            "unable to find container named \"{pattern}\""
        )));
    }
    let patch = wrap(info.kind, json!({"containers": patch_list}));
    finish(ctx, info, obj, patch, what).await
}

async fn finish(
    ctx: &Ctx,
    info: &minik_api::ResourceInfo,
    obj: &Value,
    patch: Value,
    what: &str,
) -> Result<()> {
    let ns = minik_api::meta::namespace(obj)
        .unwrap_or("default")
        .to_string();
    let name = minik_api::meta::name(obj).to_string();
    ctx.patch(info, &ns, &name, &patch, false).await?;
    ctx.print(&format!(
        "{} {what}\n",
        printers::object_name(&with_type(obj.clone(), info))
    ));
    Ok(())
}
