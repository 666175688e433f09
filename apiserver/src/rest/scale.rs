//! The `scale` subresource of Deployments, ReplicaSets, StatefulSets and
//! custom resources that declare one: an autoscaling/v1 `Scale` view
//! (spec.replicas, status.replicas and the selector as a string) that
//! `kubectl scale` and autoscalers read and write. A custom resource's
//! replicas and selector sit where its CRD's `subresources.scale` says.

use axum::response::Response;
use http::{Method, StatusCode};
use minik_api::catalogue::ResourceInfo;
use minik_api::selectors::LabelSelector;
use serde_json::{json, Value};

use super::patch::{apply_patch, PatchType};
use super::{check_resource_version, finish_update, json_response, Ctx};
use crate::error::ApiError;
use crate::registry;

/// Where a kind keeps its replicas and selector.
struct Paths {
    spec_replicas: String,
    status_replicas: String,
    /// `None`: a label selector object at `spec.selector` (the built-in kinds).
    selector: Option<Option<String>>,
}

/// A JSONPath of the simple form CRDs use (`.spec.replicas`) as a JSON pointer.
fn pointer(json_path: &str) -> String {
    json_path.replace('.', "/")
}

fn paths(info: &ResourceInfo) -> Paths {
    match info.strategy.scale_paths() {
        Some(p) => Paths {
            spec_replicas: pointer(&p.spec_replicas),
            status_replicas: pointer(&p.status_replicas),
            selector: Some(p.label_selector.as_deref().map(pointer)),
        },
        None => Paths {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            selector: None,
        },
    }
}

/// The Scale object for a scalable parent.
pub fn scale_of(info: &ResourceInfo, obj: &Value) -> Value {
    let p = paths(info);
    let selector = match &p.selector {
        // A ReplicationController's selector is a plain label map.
        None => match obj.pointer("/spec/selector") {
            Some(Value::Object(m))
                if !m.contains_key("matchLabels") && !m.contains_key("matchExpressions") =>
            {
                LabelSelector::from_map(m).to_string()
            }
            s => s
                .and_then(|s| LabelSelector::from_json(s).ok())
                .map(|s| s.to_string())
                .unwrap_or_default(),
        },
        Some(path) => path
            .as_deref()
            .and_then(|p| obj.pointer(p))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    let m = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer(&p.spec_replicas).cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer(&p.status_replicas).cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

pub async fn scale(ctx: Ctx) -> Result<Response, ApiError> {
    let info = ctx.info();
    let target = ctx.target.clone();
    let method = if ctx.body.is_empty() {
        Method::GET
    } else if ctx.content_type().contains("patch") {
        Method::PATCH
    } else {
        Method::PUT
    };
    if method == Method::GET {
        let obj = ctx
            .read(&target.key())?
            .ok_or_else(|| ApiError::not_found(info, target.name()))?;
        return Ok(json_response(StatusCode::OK, &scale_of(info, &obj)));
    }
    let (patch_type, body) = if method == Method::PATCH {
        let ty = PatchType::from_content_type(ctx.content_type())?;
        (
            Some(ty),
            crate::request::decode_body(&ctx.body, "application/json")?,
        )
    } else {
        (None, ctx.body_object()?)
    };
    let fields = crate::field_manager::Recorder::new(&ctx);
    let committed = ctx
        .mutate(
            target.key(),
            Box::new(move |current| {
                let old = current.ok_or_else(|| ApiError::not_found(info, target.name()))?;
                let current_scale = scale_of(info, &old);
                let wanted = match patch_type {
                    Some(ty) => apply_patch("Scale", ty, &current_scale, &body)?,
                    None => body,
                };
                check_resource_version(info, target.name(), &wanted, &old)?;
                // Scale.spec.replicas is a plain int32 in Kubernetes: absent means 0.
                let replicas = match wanted.pointer("/spec/replicas") {
                    None | Some(Value::Null) => 0,
                    Some(v) => v.as_i64().ok_or_else(|| {
                        ApiError::new(422, "Invalid", format!("Scale.autoscaling \"{}\" is invalid: spec.replicas: Invalid value: {v}: must be an integer", target.name()))
                    })?,
                };
                let mut new = old.clone();
                set_at(&mut new, &paths(info).spec_replicas, json!(replicas));
                let mut main = target.clone();
                main.subresource = None;
                registry::prepare_update(&main, &mut new, &old)?;
                fields.record(&old, &mut new);
                Ok(finish_update(info, new, &old))
            }),
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &scale_of(info, &committed.object),
    ))
}

/// Writes `value` at a JSON pointer, making the objects on the way.
fn set_at(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let keys: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, key) in keys.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        if i + 1 == keys.len() {
            cur[*key] = value;
            return;
        }
        cur = &mut cur[*key];
    }
}
