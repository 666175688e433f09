//! metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics, read-only, built on
//! each request from the usage the scraper keeps (`scraper.rs`) and the
//! stored Nodes and Pods they describe — metrics-server's REST storage.
//!
//! One handler for every kind whose strategy says its backing is
//! [`Backing::ResourceMetrics`]: the kind's core counterpart (same plural
//! in the core group) supplies names, namespaces and labels, so label
//! selectors select what they select on the Node or Pod. Only `get` and
//! `list` are served; anything else is 405, as for metrics-server.

use axum::response::Response;
use http::{Method, StatusCode};
use minik_api::catalogue::{self, ResourceInfo};
use minik_api::quantity::{format_bytes, Format, Quantity};
use minik_api::tables;
use serde_json::{json, Map, Value};

use super::{json_response, Ctx};
use crate::error::ApiError;
use crate::request::Output;
use crate::scraper::Usage;

/// Serves a request to a metrics resource.
pub async fn serve(ctx: Ctx, method: &Method, is_watch: bool) -> Result<Response, ApiError> {
    let allowed = *method == Method::GET && !is_watch && ctx.target.subresource.is_none();
    if !allowed {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let described = described(ctx.info());
    let now = jiff::Timestamp::now();
    match ctx.target.name.clone() {
        Some(name) => {
            let key = described.key(ctx.target.namespace.as_deref(), &name);
            let metrics = ctx
                .read(&key)?
                .and_then(|obj| metrics_of(&ctx, &obj))
                .ok_or_else(|| ApiError::not_found(ctx.info(), &name))?;
            Ok(respond(&ctx, &[metrics], false, now))
        }
        None => {
            let labels = ctx.params.label_selector()?;
            let fields = ctx.params.field_selector()?;
            let prefix = match (&ctx.target.namespace, described.namespaced) {
                (Some(ns), true) => format!("{}{ns}/", described.key_prefix()),
                _ => described.key_prefix(),
            };
            let mut items = Vec::new();
            ctx.state.store.scan(&prefix, None, &mut |_, bytes| {
                if let Ok(obj) = serde_json::from_slice::<Value>(bytes) {
                    if labels.matches_object(&obj) && fields.matches(&obj) {
                        items.extend(metrics_of(&ctx, &obj));
                    }
                }
                true
            })?;
            Ok(respond(&ctx, &items, true, now))
        }
    }
}

/// The stored kind a metrics kind describes: the core resource of the same plural.
fn described(info: &ResourceInfo) -> &'static ResourceInfo {
    catalogue::lookup("", "v1", info.plural).expect("metrics kinds describe core kinds")
}

/// The NodeMetrics or PodMetrics of a stored Node or Pod, if it has been
/// scraped twice (a pod: on the node it is bound to).
fn metrics_of(ctx: &Ctx, obj: &Value) -> Option<Value> {
    let scraped = &ctx.state.resource_metrics;
    let name = minik_api::meta::name(obj);
    let mut metadata = Map::new();
    metadata.insert("name".into(), name.into());
    if let Some(ns) = minik_api::meta::namespace(obj) {
        metadata.insert("namespace".into(), ns.into());
    }
    metadata.insert(
        "creationTimestamp".into(),
        minik_api::meta::now_rfc3339().into(),
    );
    if let Some(labels) = obj.pointer("/metadata/labels") {
        metadata.insert("labels".into(), labels.clone());
    }
    let info = ctx.info();
    let mut out =
        json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata});
    if info.namespaced {
        let node = obj.pointer("/spec/nodeName").and_then(Value::as_str)?;
        let containers = scraped.pod(node, minik_api::meta::namespace(obj)?, name)?;
        let first = containers.first()?.1;
        out["timestamp"] = timestamp(first.time_ms).into();
        out["window"] = go_duration(first.window_ms).into();
        out["containers"] = containers
            .iter()
            .map(|(c, u)| json!({"name": c, "usage": usage(u)}))
            .collect();
    } else {
        let u = scraped.node(name)?;
        out["timestamp"] = timestamp(u.time_ms).into();
        out["window"] = go_duration(u.window_ms).into();
        out["usage"] = usage(&u);
    }
    Some(out)
}

/// CPU in nanocores and memory in bytes, as metrics-server writes them.
fn usage(u: &Usage) -> Value {
    json!({
        "cpu": Quantity::from_nanos(i128::from(u.nano_cores), Format::DecimalSI).to_string(),
        "memory": format_bytes(u.memory_bytes),
    })
}

fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(minik_api::meta::format_timestamp)
        .unwrap_or_default()
}

/// A window as Go's `time.Duration` prints it: `500ms`, `15.012s`, `1m0.5s`.
fn go_duration(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (minutes, rest) = (ms / 60_000, ms % 60_000);
    let seconds = format!("{}.{:03}", rest / 1000, rest % 1000);
    let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
    if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

fn respond(ctx: &Ctx, items: &[Value], list: bool, now: jiff::Timestamp) -> Response {
    let info = ctx.info();
    let body = match ctx.output {
        Output::Table(include) => tables::table(info, items, now, include, "", None),
        _ if list => json!({
            "kind": format!("{}List", info.kind),
            "apiVersion": info.api_version(),
            "metadata": {},
            "items": items,
        }),
        _ => items[0].clone(),
    };
    json_response(StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_print_as_go_durations() {
        assert_eq!(go_duration(15_012), "15.012s");
        assert_eq!(go_duration(15_000), "15s");
        assert_eq!(go_duration(60_500), "1m0.5s");
        assert_eq!(go_duration(250), "250ms");
    }
}
