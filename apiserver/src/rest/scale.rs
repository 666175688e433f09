//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets:
//! an autoscaling/v1 `Scale` view (spec.replicas, status.replicas and the
//! selector as a string) that `kubectl scale` and autoscalers read and write.

use axum::response::Response;
use http::{Method, StatusCode};
use minik_api::selectors::LabelSelector;
use serde_json::{json, Value};

use super::patch::{apply_patch, PatchType};
use super::{check_resource_version, finish_update, json_response, Ctx};
use crate::error::ApiError;
use crate::registry;

/// The Scale object for a scalable parent.
pub fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector")
        .and_then(|s| LabelSelector::from_json(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let m = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
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
        return Ok(json_response(StatusCode::OK, &scale_of(&obj)));
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
    let committed = ctx
        .mutate(
            target.key(),
            Box::new(move |current| {
                let old = current.ok_or_else(|| ApiError::not_found(info, target.name()))?;
                let current_scale = scale_of(&old);
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
                new["spec"]["replicas"] = json!(replicas);
                let mut main = target.clone();
                main.subresource = None;
                registry::prepare_update(&main, &mut new, &old)?;
                Ok(finish_update(info, new, &old))
            }),
        )
        .await?;
    Ok(json_response(StatusCode::OK, &scale_of(&committed.object)))
}
