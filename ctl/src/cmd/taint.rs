//! `miniktl taint` — kubectl taint: add (`key[=value]:Effect`), or remove
//! (`key[=value]:Effect-`, or `key-` for every effect) taints on nodes,
//! with kubectl's `--overwrite` rule and messages. The node's
//! `spec.taints` list is written whole (a JSON merge patch).

use serde_json::{json, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::resources;

const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Update the taints on one or more nodes.
#[derive(clap::Args, Debug)]
pub struct Taint {
    /// `nodes NAME KEY[=VALUE]:EFFECT ...` (or `node/NAME`); `KEY:EFFECT-` or `KEY-` removes.
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Replace a taint with the same key and effect.
    #[arg(long)]
    pub overwrite: bool,
    /// Every node.
    #[arg(long)]
    pub all: bool,
}

/// One taint argument.
#[derive(Debug, Clone, PartialEq)]
struct Change {
    key: String,
    value: Option<String>,
    /// `None`: every effect (removal only).
    effect: Option<String>,
    remove: bool,
}

fn parse_change(arg: &str) -> Result<Change> {
    let (body, remove) = match arg.strip_suffix('-') {
        Some(b) => (b, true),
        None => (arg, false),
    };
    let (kv, effect) = match body.rsplit_once(':') {
        Some((kv, e)) => (kv, Some(e.to_string())),
        None if remove => (body, None),
        None => {
            return Err(Error::Usage(format!(
                "invalid taint spec: {arg}, taint effect is required"
            )))
        }
    };
    if let Some(e) = &effect {
        if !EFFECTS.contains(&e.as_str()) {
            return Err(Error::Usage(format!(
                "invalid taint spec: {arg}, invalid taint effect: {e}, unsupported taint effect"
            )));
        }
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (kv.to_string(), None),
    };
    if key.is_empty() {
        return Err(Error::Usage(format!("invalid taint spec: {arg}")));
    }
    Ok(Change {
        key,
        value,
        effect,
        remove,
    })
}

/// The node's taints after the changes, or kubectl's refusal.
fn apply_changes(
    node: &str,
    mut taints: Vec<Value>,
    changes: &[Change],
    overwrite: bool,
) -> Result<Vec<Value>> {
    let same = |t: &Value, key: &str, effect: Option<&str>| {
        t["key"] == json!(key) && effect.is_none_or(|e| t["effect"] == json!(e))
    };
    for c in changes {
        if c.remove {
            let before = taints.len();
            taints.retain(|t| !same(t, &c.key, c.effect.as_deref()));
            if taints.len() == before {
                let what = match &c.effect {
                    Some(e) => format!("{}:{e}", c.key),
                    None => c.key.clone(),
                };
                return Err(Error::Usage(format!("taint {what:?} not found")));
            }
            continue;
        }
        let effect = c.effect.as_deref().unwrap_or_default();
        let mut taint = json!({"key": c.key, "effect": effect});
        if let Some(v) = &c.value {
            taint["value"] = json!(v);
        }
        match taints.iter().position(|t| same(t, &c.key, Some(effect))) {
            Some(_) if !overwrite => {
                return Err(Error::Usage(format!(
                "node {node} already has {} taint(s) with same effect(s) and --overwrite is false",
                c.key
            )))
            }
            Some(i) => taints[i] = taint,
            None => taints.push(taint),
        }
    }
    Ok(taints)
}

impl Taint {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let info = resources::resolve("nodes")?;
        let mut args = self.args.iter();
        let first = args.next().cloned().unwrap_or_default();
        let mut nodes: Vec<String> = match first.split_once('/') {
            Some((kind, name))
                if resources::resolve(kind).is_ok_and(|i| i.plural == info.plural) =>
            {
                vec![name.to_string()]
            }
            _ if resources::resolve(&first).is_ok_and(|i| i.plural == info.plural) => Vec::new(),
            _ => {
                return Err(Error::Usage(format!(
                    "invalid resource type {first}, only node types are supported"
                )))
            }
        };
        let mut changes = Vec::new();
        for a in args {
            if nodes.is_empty() && !self.all && !a.contains([':', '=']) && !a.ends_with('-') {
                nodes.push(a.clone());
            } else {
                changes.push(parse_change(a)?);
            }
        }
        if self.all {
            nodes = ctx
                .list(info, None, None, None)
                .await?
                .iter()
                .map(|n| minik_api::meta::name(n).to_string())
                .collect();
        }
        if nodes.is_empty() || changes.is_empty() {
            return Err(Error::Usage(
                "at least one taint update is required, and a node (or --all)".into(),
            ));
        }
        for node in nodes {
            let current = ctx.get(info, "", &node).await?;
            let taints = current
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let updated = apply_changes(&node, taints, &changes, self.overwrite)?;
            let patch = json!({"spec": {"taints": if updated.is_empty() { Value::Null } else { json!(updated) }}});
            ctx.merge_patch(info, "", &node, &patch).await?;
            let verb = if changes.iter().all(|c| c.remove) {
                "untainted"
            } else {
                "tainted"
            };
            ctx.print(&format!("node/{node} {verb}\n"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_are_added_replaced_and_removed_as_kubectl_does() {
        let add = [parse_change("gpu=yes:NoSchedule").unwrap()];
        let taints = apply_changes("n", vec![], &add, false).unwrap();
        assert_eq!(
            taints,
            vec![json!({"key": "gpu", "value": "yes", "effect": "NoSchedule"})]
        );
        let again = apply_changes("n", taints.clone(), &add, false).unwrap_err();
        assert_eq!(
            again.to_string(),
            Error::Usage(
                "node n already has gpu taint(s) with same effect(s) and --overwrite is false"
                    .into()
            )
            .to_string()
        );
        let other = [parse_change("gpu:NoExecute").unwrap()];
        let two = apply_changes("n", taints, &other, false).unwrap();
        assert_eq!(two.len(), 2);
        let none =
            apply_changes("n", two.clone(), &[parse_change("gpu-").unwrap()], false).unwrap();
        assert!(none.is_empty());
        let missing = apply_changes("n", two, &[parse_change("ssd:NoSchedule-").unwrap()], false);
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains(r#"taint "ssd:NoSchedule" not found"#));
        assert!(parse_change("gpu=yes:Sometimes").is_err());
        assert!(parse_change("gpu=yes").is_err());
    }
}
