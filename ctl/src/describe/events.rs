//! The `Events:` section of `describe`: the core/v1 Events whose
//! `involvedObject` is the described object, oldest first, with kubectl's
//! `AGE (xN over FIRST)` for repeated events.

use serde_json::Value;

use crate::context::Ctx;
use crate::describe::{since, str_at, Writer};
use crate::error::Result;
use crate::resources;

/// Events about `obj` (matched by kind, name, namespace and uid). For a
/// Node, events recorded with the node's name as uid (kubelet's habit) too.
pub async fn for_object(ctx: &Ctx, obj: &Value) -> Result<Vec<Value>> {
    let info = resources::resolve("events")?;
    let kind = str_at(obj, "/kind");
    let name = minik_api::meta::name(obj);
    let ns = minik_api::meta::namespace(obj);
    let uid = minik_api::meta::meta_str(obj, "uid").unwrap_or("");
    let mut fields = vec![
        format!("involvedObject.name={name}"),
        format!("involvedObject.kind={kind}"),
    ];
    if let Some(ns) = ns {
        fields.push(format!("involvedObject.namespace={ns}"));
    }
    let base = fields.join(",");
    // Cluster-scoped objects' events live in the default namespace; search all.
    let list_ns = ns;
    let mut events = ctx
        .list(
            info,
            list_ns,
            None,
            Some(&format!("{base},involvedObject.uid={uid}")),
        )
        .await?;
    if kind == "Node" {
        events.extend(
            ctx.list(
                info,
                None,
                None,
                Some(&format!("{base},involvedObject.uid={name}")),
            )
            .await?,
        );
    }
    events.sort_by_key(last_time);
    Ok(events)
}

fn last_time(e: &Value) -> String {
    for p in [
        "/lastTimestamp",
        "/series/lastObservedTime",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ] {
        let s = str_at(e, p);
        if !s.is_empty() {
            return s.to_string();
        }
    }
    String::new()
}

/// Writes the section (kubectl's `DescribeEvents`).
pub fn write(w: &mut Writer, events: &[Value]) {
    if events.is_empty() {
        w.line(0, "Events:\t<none>");
        return;
    }
    w.line(0, "Events:");
    w.line(1, "Type\tReason\tAge\tFrom\tMessage");
    w.line(1, "----\t------\t----\t----\t-------");
    for e in events {
        let event_time = str_at(e, "/eventTime");
        let first = if event_time.is_empty() {
            since(e.pointer("/firstTimestamp").and_then(Value::as_str))
        } else {
            since(Some(event_time))
        };
        let count = e.get("count").and_then(Value::as_i64).unwrap_or(0);
        let interval = if let Some(series) = e.get("series").filter(|s| s.is_object()) {
            format!(
                "{} (x{} over {first})",
                since(series.get("lastObservedTime").and_then(Value::as_str)),
                series.get("count").and_then(Value::as_i64).unwrap_or(0)
            )
        } else if count > 1 {
            format!(
                "{} (x{count} over {first})",
                since(e.get("lastTimestamp").and_then(Value::as_str))
            )
        } else {
            first
        };
        let mut source = str_at(e, "/source/component").to_string();
        if source.is_empty() {
            source = str_at(e, "/reportingComponent").to_string();
        }
        w.line(
            1,
            &format!(
                "{}\t{}\t{interval}\t{source}\t{}",
                str_at(e, "/type"),
                str_at(e, "/reason"),
                str_at(e, "/message").trim()
            ),
        );
    }
}
