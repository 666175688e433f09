//! PATCH in the four forms Kubernetes clients send: JSON patch (RFC 6902),
//! JSON merge patch (RFC 7386), strategic merge patch (kubectl's default)
//! and server-side apply (`application/apply-patch+yaml`).
//!
//! The patch is applied inside the store mutation, to the current object,
//! so concurrent patches never lose each other's changes.
//!
//! Server-side apply merges the applied configuration by the kind's field
//! shape and tracks field ownership (see `minik_api::managed_fields`);
//! every other patch is recorded as an update of the fields it changed.

use axum::response::Response;
use http::StatusCode;
use minik_api::{convert, strategic_merge};
use serde_json::{json, Value};

use super::{check_resource_version, finish_update, Ctx};
use crate::decode::Source;
use crate::error::ApiError;
use crate::registry;

#[derive(Clone, Copy, PartialEq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchType::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// Applies a patch document to an object.
pub fn apply_patch(
    kind: &str,
    ty: PatchType,
    doc: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    let unprocessable = |e: String| ApiError::new(422, "Invalid", e);
    match ty {
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            let mut out = doc.clone();
            json_patch::patch(&mut out, &p)
                .map_err(|e| unprocessable(format!("the JSON patch could not be applied: {e}")))?;
            Ok(out)
        }
        PatchType::Merge => {
            let mut out = doc.clone();
            json_patch::merge(&mut out, patch);
            Ok(out)
        }
        // An apply is merged by field ownership (`Recorder::apply`); a
        // scale subresource takes it as a strategic merge.
        PatchType::Strategic | PatchType::Apply => strategic_merge::apply(doc, patch, kind)
            .map_err(|e| {
                unprocessable(format!(
                    "the strategic merge patch could not be applied: {e}"
                ))
            }),
    }
}

/// Decodes the patch body (JSON, or YAML for server-side apply).
fn decode_patch(ctx: &Ctx, ty: PatchType) -> Result<Value, ApiError> {
    if ctx.body.is_empty() {
        return Err(ApiError::bad_request("the patch body is empty"));
    }
    let ct = if ty == PatchType::Apply {
        "application/yaml"
    } else {
        "application/json"
    };
    let v = crate::request::decode_body(&ctx.body, ct)?;
    Ok(v)
}

pub async fn patch(ctx: Ctx) -> Result<Response, ApiError> {
    let ty = PatchType::from_content_type(ctx.content_type())?;
    let info = ctx.info();
    if ty == PatchType::Strategic && !info.strategy.supports_strategic_merge() {
        // kube-apiserver's answer for custom resources, which have no patch strategy.
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    let patch = decode_patch(&ctx, ty)?;
    let target = ctx.target.clone();
    let force = check_force(&ctx, ty)?;
    let fields = crate::field_manager::Recorder::new(&ctx);
    if ty == PatchType::Apply {
        if ctx.params.get("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PATCH with application/apply-patch+yaml requires a fieldManager parameter",
            ));
        }
        if !ctx.exists(&target.key())? && target.subresource.is_none() {
            let mut obj = patch.clone();
            crate::registry::check_type(target.served, &mut obj)?;
            // The object applied is the one the URL names.
            match minik_api::meta::meta_str(&obj, "name") {
                Some(n) if n != target.name() => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({})",
                        target.name()
                    )))
                }
                _ => obj["metadata"]["name"] = serde_json::json!(target.name()),
            }
            let applied = fields.apply(&json!({}), &obj, force)?;
            let entries = applied["metadata"]["managedFields"].clone();
            let mut obj = convert::to_storage(target.served, applied);
            let created = super::create::create_object(&ctx, &mut obj, Some(&entries)).await?;
            return Ok(ctx.respond_committed(StatusCode::CREATED, &created));
        }
    }
    let state = ctx.state.clone();
    let decoder = ctx.decoder.clone();
    // Held until the update is stored: see admission::resource_quota.
    let (authorizer, user) = (ctx.state.authorizer.clone(), ctx.user.clone());
    let (admission, reservation) = super::update::admit_update(&ctx).await?;
    let before = super::update::namespace_before(&ctx)?;
    let committed = ctx
        .mutate(
            target.key(),
            Box::new(move |current| {
                let old = current.ok_or_else(|| ApiError::not_found(info, target.name()))?;
                // Patches are written against the addressed version's shape.
                let served = target.served;
                let old_served = convert::from_storage(served, old.clone());
                let patched = match (ty, target.subresource.as_deref()) {
                    (PatchType::Apply, None | Some("status")) => {
                        fields.apply(&old_served, &patch, force)?
                    }
                    _ => apply_patch(served.kind, ty, &old_served, &patch)?,
                };
                let mut patched = convert::to_storage(served, patched);
                decoder.decode(info, served, &mut patched, Source::Patch)?;
                if target.subresource.is_none() {
                    for warning in info.strategy.warnings(&patched) {
                        decoder.warn(warning);
                    }
                }
                check_resource_version(info, target.name(), &patched, &old)?;
                let mut new = match target.subresource.as_deref() {
                    Some("status") => registry::prepare_status_update(&target, &patched, &old)?,
                    Some("ephemeralcontainers") => {
                        registry::prepare_ephemeral_update(&target, &patched, &old)?
                    }
                    _ => {
                        registry::prepare_update(&target, &mut patched, &old)?;
                        let cluster = super::create::StoreCluster(&*state.store);
                        info.strategy.admit_update(&mut patched, &old, &cluster);
                        admission.check(info, &patched, &old)?;
                        crate::authorization::confirm_no_escalation(
                            &authorizer,
                            &user,
                            info,
                            &patched,
                        )?;
                        super::allocate_service(&state, info, &mut patched, &old)?;
                        patched
                    }
                };
                if ty != PatchType::Apply {
                    fields.record(&old, &mut new);
                }
                Ok(finish_update(info, new, &old))
            }),
        )
        .await;
    drop(reservation);
    let committed = committed?;
    super::update::warn_pod_security(&ctx, before, &committed.object);
    Ok(ctx.respond_committed(StatusCode::OK, &committed))
}

/// `force` is for server-side apply alone; kube-apiserver validates the
/// patch options and answers 422 for any other patch that sets it.
fn check_force(ctx: &Ctx, ty: PatchType) -> Result<bool, ApiError> {
    let force = match ctx.params.get("force") {
        None => return Ok(false),
        Some(v) => v == "true",
    };
    if ty != PatchType::Apply {
        return Err(ApiError::invalid_options(
            "PatchOptions",
            &[minik_api::FieldError::invalid(
                "force",
                json!(force),
                "may not be specified for non-apply patch",
            )],
        ));
    }
    Ok(force)
}
