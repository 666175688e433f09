//! `label` and `annotate`: editing an object's labels or annotations from
//! `KEY=VALUE` (set) and `KEY-` (remove) arguments, with kubectl's
//! `--overwrite` rule and messages. Both commands send the same JSON merge
//! patch of `metadata.labels` or `metadata.annotations`; they differ only
//! in validation (label values) and wording ([`MetaField`]).

use serde_json::{json, Map, Value};

use crate::api::with_type;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Matching;
use crate::printers;
use crate::resources::{self, Selection};

/// The arguments and flags `label` and `annotate` share.
#[derive(clap::Args, Debug)]
pub struct Edits {
    /// TYPE NAME KEY=VAL ... KEY- ... (or TYPE/NAME).
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Allow changing existing values.
    #[arg(long = "overwrite")]
    pub overwrite: bool,
    #[command(flatten)]
    pub matching: Matching,
    /// Print the current values instead.
    #[arg(long = "list")]
    pub list: bool,
}

/// Which metadata map is edited.
#[derive(Debug, Clone, Copy)]
pub enum MetaField {
    Labels,
    Annotations,
}

impl MetaField {
    fn field(self) -> &'static str {
        match self {
            MetaField::Labels => "labels",
            MetaField::Annotations => "annotations",
        }
    }
}

/// Resource arguments, keys to set, keys to remove.
type Changes = (Vec<String>, Map<String, Value>, Vec<String>);

/// Splits arguments into resource arguments and `k=v` / `k-` changes.
fn split_changes(args: &[String]) -> Result<Changes> {
    let mut resource_args = Vec::new();
    let mut set = Map::new();
    let mut remove = Vec::new();
    for a in args {
        if let Some((k, v)) = a.split_once('=') {
            set.insert(k.to_string(), Value::String(v.to_string()));
        } else if let Some(k) = a
            .strip_suffix('-')
            .filter(|k| !k.is_empty() && !resource_args.is_empty())
        {
            remove.push(k.to_string());
        } else {
            resource_args.push(a.clone());
        }
    }
    for k in set.keys().chain(remove.iter()) {
        if remove.contains(k) && set.contains_key(k) {
            return Err(Error::Usage(format!(
                "can not both modify and remove the key {k} in the same command"
            )));
        }
    }
    Ok((resource_args, set, remove))
}

/// Sets and removes `key=value` / `key-` entries of each object's
/// labels or annotations (or lists them with `--list`).
pub async fn edit_metadata(ctx: &Ctx, which: MetaField, edits: &Edits) -> Result<()> {
    let Edits {
        args,
        overwrite,
        matching,
        list,
    } = edits;
    let (overwrite, list, selector) = (*overwrite, *list, matching.selector.get());
    let (resource_args, set, remove) = split_changes(args)?;
    if set.is_empty() && remove.is_empty() && !list {
        return Err(Error::Usage(format!(
            "at least one {} update is required",
            &which.field()[..which.field().len() - 1]
        )));
    }
    if which_is_labels(which) {
        for (k, v) in &set {
            let errs = minik_api::names::is_valid_label_value(v.as_str().unwrap_or(""));
            if !errs.is_empty() {
                return Err(Error::Usage(format!(
                    "invalid label value: \"{k}={}\": {}",
                    v.as_str().unwrap_or(""),
                    errs.join("; ")
                )));
            }
        }
    }
    let ns = ctx.namespace().await?;
    let sels = resources::parse_args(&resource_args)?;
    let mut objects = Vec::new();
    for Selection { info, names, .. } in sels.items {
        if names.is_empty() {
            if !matching.any() {
                return Err(Error::Usage(
                    "resource(s) were provided, but no name was specified".into(),
                ));
            }
            for o in ctx.list(info, Some(&ns), selector, None).await? {
                objects.push((info, o));
            }
        } else {
            for n in names {
                objects.push((info, ctx.get(info, &ns, &n).await?));
            }
        }
    }
    for (info, obj) in objects {
        let name = minik_api::meta::name(&obj).to_string();
        let current = obj
            .pointer(&format!("/metadata/{}", which.field()))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if list {
            let mut keys: Vec<&String> = current.keys().collect();
            keys.sort();
            for k in keys {
                ctx.print(&format!("{k}={}\n", current[k].as_str().unwrap_or("")));
            }
            continue;
        }
        if !overwrite {
            let mut errs = Vec::new();
            let mut keys: Vec<&String> = set.keys().collect();
            keys.sort();
            for k in keys {
                let v = &set[k];
                let protected = which_is_labels(which) || k != "kubernetes.io/change-cause";
                if let Some(cur) = current.get(k).filter(|c| *c != v && protected) {
                    errs.push(format!(
                        "'{k}' already has a value ({})",
                        cur.as_str().unwrap_or("")
                    ));
                }
            }
            if !errs.is_empty() {
                return Err(Error::Usage(match which {
                    MetaField::Labels => errs
                        .iter()
                        .map(|e| format!("{e}, and --overwrite is false"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    MetaField::Annotations => format!(
                        "--overwrite is false but found the following declared annotation(s): {}",
                        errs.join("; ")
                    ),
                }));
            }
        }
        let mut changes = Map::new();
        for (k, v) in &set {
            if current.get(k) != Some(v) {
                changes.insert(k.clone(), v.clone());
            }
        }
        for k in &remove {
            if current.contains_key(k) {
                changes.insert(k.clone(), Value::Null);
            } else if which_is_labels(which) {
                ctx.eprint(&format!("label \"{k}\" not found.\n"));
            }
        }
        let target = printers::object_name(&with_type(obj.clone(), info));
        // kubectl's wording: label says "not labeled" for no change and
        // "unlabeled" when (without --overwrite) the labels only shrank;
        // annotate always says "annotated".
        let verb = match which {
            MetaField::Annotations => "annotated",
            MetaField::Labels if changes.is_empty() => "not labeled",
            MetaField::Labels => {
                let mut after = current.clone();
                for (k, v) in &changes {
                    if v.is_null() {
                        after.remove(k);
                    } else {
                        after.insert(k.clone(), v.clone());
                    }
                }
                let len = |m: &Map<String, Value>| {
                    printers::json::to_compact(&Value::Object(m.clone())).len()
                };
                if !overwrite && len(&after) < len(&current) {
                    "unlabeled"
                } else {
                    "labeled"
                }
            }
        };
        if !changes.is_empty() {
            let ns_obj = minik_api::meta::namespace(&obj).unwrap_or(&ns).to_string();
            ctx.merge_patch(
                info,
                &ns_obj,
                &name,
                &json!({"metadata": {which.field(): changes}}),
            )
            .await?;
        }
        ctx.print(&format!("{target} {verb}\n"));
    }
    Ok(())
}

fn which_is_labels(w: MetaField) -> bool {
    matches!(w, MetaField::Labels)
}
