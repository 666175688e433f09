//! `pods/<name>/binding`: how the scheduler assigns a pod to a node. The
//! API server sets `spec.nodeName` (which no ordinary update may change)
//! and the PodScheduled condition, refusing a pod already bound, and copies
//! the Binding's annotations onto the pod, as kube-apiserver does.

use axum::response::Response;
use minik_api::meta;
use serde_json::{json, Value};

use super::Ctx;
use crate::commit::Outcome;
use crate::error::ApiError;

pub async fn bind(ctx: Ctx) -> Result<Response, ApiError> {
    let body = ctx.body_object()?;
    let node = body
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                422,
                "Invalid",
                format!(
                    "Binding \"{}\" is invalid: target.name: Required value",
                    ctx.target.name()
                ),
            )
        })?
        .to_string();
    let annotations = body
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let info = ctx.info();
    let target = ctx.target.clone();
    ctx.mutate(
        target.key(),
        Box::new(move |current| {
            let mut pod = current.ok_or_else(|| ApiError::not_found(info, target.name()))?;
            if pod
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null())
            {
                return Err(ApiError::conflict(
                    info,
                    target.name(),
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            if let Some(current) = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return Err(ApiError::conflict(
                    info,
                    target.name(),
                    &format!(
                        "pod {} is already assigned to node \"{current}\"",
                        target.name()
                    ),
                ));
            }
            pod["spec"]["nodeName"] = json!(node);
            for (k, v) in annotations {
                pod["metadata"]["annotations"][k] = v;
            }
            super::set_pod_condition(
                &mut pod,
                json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                       "lastTransitionTime": meta::now_rfc3339()}),
            );
            Ok(Outcome::Put(pod))
        }),
    )
    .await?;
    Ok(super::created_status())
}
