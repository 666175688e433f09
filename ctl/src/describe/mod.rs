//! `describe` output: kubectl's describers, section by section.
//!
//! Each kind with a kubectl describer has one here, written from kubectl's
//! observable output (`k8s.io/kubectl/pkg/describe`), with the same
//! headings, `<none>` placeholders and alignment: text goes through a
//! prefix writer (two spaces per level) into Go's tabwriter with
//! `describe`'s settings, so a line without a tab ends an aligned block
//! exactly where kubectl's does. Kinds without a describer get kubectl's
//! generic one ([`generic`]): every field, with "smart" labels.
//!
//! - [`pod`]: Pod, and the container/volume sections pod templates share.
//! - [`workloads`]: Deployment and ReplicaSet.
//! - [`service`]: Service (endpoints from the core/v1 Endpoints object).
//! - [`node`]: Node with its Lease, pods and allocated resources.
//! - [`namespace`]: Namespace with quotas and limit ranges.
//! - [`config`]: ConfigMap and Secret.
//! - [`quota`]: ResourceQuota and LimitRange.
//! - [`generic`]: every other kind.
//! - [`events`]: the Events section (core/v1 events for the object).
//! - [`header`]: the Name/Namespace/Labels/Annotations block all of them open with.

pub mod config;
pub mod events;
pub mod generic;
pub mod header;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod quota;
pub mod service;
pub mod workloads;

use minik_api::ResourceInfo;
use serde_json::{Map, Value};

use crate::context::Ctx;
use crate::error::Result;
use crate::last_applied::LAST_APPLIED;
use crate::printers::tabwriter::TabWriter;

/// Describes one object (already fetched), fetching related objects as needed.
pub async fn describe(
    ctx: &Ctx,
    info: &ResourceInfo,
    obj: &Value,
    show_events: bool,
) -> Result<String> {
    let mut w = Writer::new();
    match (info.group, info.kind) {
        ("", "Pod") => pod::describe(ctx, obj, show_events, &mut w).await?,
        ("apps", "Deployment") => {
            workloads::describe_deployment(ctx, obj, show_events, &mut w).await?
        }
        ("apps", "ReplicaSet") => {
            workloads::describe_replicaset(ctx, obj, show_events, &mut w).await?
        }
        ("", "Service") => service::describe(ctx, obj, show_events, &mut w).await?,
        ("", "Node") => node::describe(ctx, obj, show_events, &mut w).await?,
        ("", "Namespace") => namespace::describe(ctx, obj, &mut w).await?,
        ("", "ConfigMap") => config::describe_configmap(ctx, obj, show_events, &mut w).await?,
        ("", "Secret") => config::describe_secret(obj, &mut w),
        ("", "ResourceQuota") => quota::describe_quota(obj, &mut w),
        ("", "LimitRange") => quota::describe_limit_range(obj, &mut w),
        _ => generic::describe(ctx, obj, show_events, &mut w).await?,
    }
    Ok(w.finish())
}

/// kubectl's `PrefixWriter` over a describe-style tabwriter (or, for the
/// few places kubectl prints tabs as they are, over plain text).
pub struct Writer {
    tw: TabWriter,
    raw: Option<String>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            tw: TabWriter::for_describe(),
            raw: None,
        }
    }

    /// A writer that keeps tabs as they are (`rollout history --revision`).
    pub fn raw() -> Self {
        Writer {
            tw: TabWriter::for_describe(),
            raw: Some(String::new()),
        }
    }

    /// Writes `text` after `level` two-space indents.
    pub fn write(&mut self, level: usize, text: &str) {
        let indent = "  ".repeat(level);
        match &mut self.raw {
            Some(buf) => {
                buf.push_str(&indent);
                buf.push_str(text);
            }
            None => {
                self.tw.write_str(&indent);
                self.tw.write_str(text);
            }
        }
    }

    /// Writes and ends the line.
    pub fn line(&mut self, level: usize, text: &str) {
        self.write(level, text);
        self.write(0, "\n");
    }

    /// `Title:  value` for the string at `pointer` in `v`, left out when
    /// it is empty or missing — how kubectl prints optional fields.
    pub fn optional(&mut self, level: usize, title: &str, v: &Value, pointer: &str) {
        let value = str_at(v, pointer);
        if !value.is_empty() {
            self.line(level, &format!("{title}:\t{value}"));
        }
    }

    pub fn finish(mut self) -> String {
        match self.raw.take() {
            Some(buf) => buf,
            None => self.tw.flush(),
        }
    }
}

/// `Mon, 02 Jan 2006 15:04:05 -0700` (Go's RFC1123Z) in local time.
pub fn rfc1123z(ts: &str) -> String {
    match minik_api::meta::parse_timestamp(ts) {
        Some(t) => t
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%a, %d %b %Y %H:%M:%S %z")
            .to_string(),
        None => "Mon, 01 Jan 0001 00:00:00 +0000".into(),
    }
}

/// kubectl's `translateTimestampSince`: `5m` ago, or `<unknown>`.
pub fn since(ts: Option<&str>) -> String {
    match ts.and_then(minik_api::meta::parse_timestamp) {
        Some(t) => {
            minik_api::meta::human_duration(jiff::Timestamp::now().as_second() - t.as_second())
        }
        None => "<unknown>".into(),
    }
}

pub use crate::value::str_at;

/// A scalar as Go's `%v` prints it (`""` for missing).
pub fn scalar(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => crate::printers::yaml::format_number(n),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// `Labels:  a=b` with one continuation line per further label.
pub fn labels_multiline(w: &mut Writer, title: &str, labels: Option<&Map<String, Value>>) {
    w.write(0, &format!("{title}:\t"));
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        w.line(0, "<none>");
        return;
    };
    let mut keys: Vec<&String> = labels.keys().collect();
    keys.sort();
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            w.write(0, "\t");
        }
        w.line(0, &format!("{k}={}", labels[*k].as_str().unwrap_or("")));
    }
}

/// `Annotations:  k: v` lines, hiding kubectl's last-applied annotation.
pub fn annotations_multiline(
    w: &mut Writer,
    title: &str,
    annotations: Option<&Map<String, Value>>,
) {
    w.write(0, &format!("{title}:\t"));
    let shown: Vec<(&String, &Value)> = annotations
        .map(|a| {
            a.iter()
                .filter(|(k, _)| k.as_str() != LAST_APPLIED)
                .collect()
        })
        .unwrap_or_default();
    if shown.is_empty() {
        w.line(0, "<none>");
        return;
    }
    let mut shown = shown;
    shown.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in shown.iter().enumerate() {
        if i > 0 {
            w.write(0, "\t");
        }
        let value = v.as_str().unwrap_or("");
        let line = format!("{k}: {value}");
        if line.len() > 140 {
            let mut cut = 140;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            w.line(0, &format!("{}...", &line[..cut]));
        } else {
            w.line(0, &line);
        }
    }
}

/// A `Conditions:` section, left out when there are none. kubectl's
/// columns differ per kind, so each describer passes its heading lines and
/// how one condition reads.
pub fn conditions(w: &mut Writer, obj: &Value, heading: &[&str], row: impl Fn(&Value) -> String) {
    let Some(conds) = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return;
    };
    w.line(0, "Conditions:");
    for h in heading {
        w.line(1, h);
    }
    for c in conds {
        w.line(1, &row(c));
    }
}

/// Whether `obj`'s controller owner is the object with this uid.
pub fn is_controlled_by(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|o| {
            o.iter().any(|r| {
                str_at(r, "/uid") == uid
                    && r.get("controller").and_then(Value::as_bool) == Some(true)
            })
        })
}

/// `Kind/name` of the controller owner, if any.
pub fn controlled_by(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|o| format!("{}/{}", str_at(o, "/kind"), str_at(o, "/name")))
}

/// A label selector (`{matchLabels, matchExpressions}`) as text, or `<none>`.
pub fn format_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = str_at(e, "/key").to_string();
            let mut values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            values.sort();
            let text = match str_at(e, "/operator") {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.clone(),
                "DoesNotExist" => format!("!{key}"),
                other => format!("{key} {other}"),
            };
            reqs.push((key, text));
        }
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    if reqs.is_empty() {
        return "<none>".into();
    }
    reqs.into_iter().map(|r| r.1).collect::<Vec<_>>().join(",")
}

/// A `Title:` block of resource quantities (a node's capacity, a
/// container's limits), one `name: quantity` line per key in key order, one
/// level deeper; nothing when the map is missing or empty.
pub fn quantities(w: &mut Writer, level: usize, title: &str, map: Option<&Value>) {
    let Some(m) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return;
    };
    w.line(level, &format!("{title}:"));
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        w.line(level + 1, &format!("{k}:\t{}", canonical_quantity(&m[k])));
    }
}

/// A quantity in Kubernetes' canonical form (`0.5` → `500m`), or as given.
pub fn canonical_quantity(v: &Value) -> String {
    match minik_api::quantity::from_json(v) {
        Ok(q) => q.to_string(),
        Err(_) => scalar(Some(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_continue_in_the_value_column() {
        let mut w = Writer::new();
        w.line(0, "Name:\tweb");
        let l = json!({"b": "2", "a": "1"});
        labels_multiline(&mut w, "Labels", l.as_object());
        annotations_multiline(&mut w, "Annotations", None);
        assert_eq!(
            w.finish(),
            "Name:         web\nLabels:       a=1\n              b=2\nAnnotations:  <none>\n"
        );
    }

    #[test]
    fn selectors_format_like_apimachinery() {
        let s = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]});
        assert_eq!(format_label_selector(Some(&s)), "app=web,tier in (a,b)");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
    }
}
