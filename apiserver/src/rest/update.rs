//! PUT: replace an object (or its `status`, or a namespace's `finalize`)
//! with optimistic concurrency: a stale resourceVersion is a 409 Conflict.

use axum::response::Response;
use http::StatusCode;
use serde_json::Value;

use super::{check_resource_version, finish_update, Ctx};
use crate::admission;
use crate::decode::Source;
use crate::error::ApiError;
use crate::registry;

pub async fn update(ctx: Ctx) -> Result<Response, ApiError> {
    let mut body = ctx.resource_body()?;
    let target = ctx.target.clone();
    let info = ctx.info();
    if target.subresource.as_deref() != Some("finalize") {
        registry::check_type(info, &mut body)?;
        ctx.decoder
            .decode(info, target.served, &mut body, Source::Body)?;
        if target.subresource.is_none() {
            for warning in info.strategy.warnings(&body) {
                ctx.decoder.warn(warning);
            }
        }
    }
    let state = ctx.state.clone();
    // Held until the update is stored: see admission::resource_quota.
    let (authorizer, user) = (ctx.state.authorizer.clone(), ctx.user.clone());
    let (admission, reservation) = admit_update(&ctx).await?;
    let fields = crate::field_manager::Recorder::new(&ctx);
    let before = namespace_before(&ctx)?;
    let committed = ctx
        .mutate(
            target.key(),
            Box::new(move |current| {
                let old = current.ok_or_else(|| ApiError::not_found(info, target.name()))?;
                check_resource_version(info, target.name(), &body, &old)?;
                let mut new = match target.subresource.as_deref() {
                    Some("status") => registry::prepare_status_update(&target, &body, &old)?,
                    Some("approval") => registry::prepare_approval_update(&target, &body, &old)?,
                    Some("ephemeralcontainers") => {
                        registry::prepare_ephemeral_update(&target, &body, &old)?
                    }
                    Some("finalize") => finalize(&body, &old),
                    _ => {
                        let mut new = body;
                        registry::prepare_update(&target, &mut new, &old)?;
                        let cluster = super::create::StoreCluster(&*state.store);
                        info.strategy.admit_update(&mut new, &old, &cluster);
                        admission.check(info, &new, &old)?;
                        crate::authorization::confirm_no_escalation(
                            &authorizer,
                            &user,
                            info,
                            &new,
                        )?;
                        super::allocate_service(&state, info, &mut new, &old)?;
                        new
                    }
                };
                fields.record(&old, &mut new);
                Ok(finish_update(info, new, &old))
            }),
        )
        .await;
    drop(reservation);
    let committed = committed?;
    warn_pod_security(&ctx, before, &committed.object);
    Ok(ctx.respond_committed(StatusCode::OK, &committed))
}

/// A namespace as it was before its own update, for pod security's warning
/// after it; `None` for every other update, which need not decode its
/// object once more before the writer does.
pub(super) fn namespace_before(ctx: &Ctx) -> Result<Option<Value>, ApiError> {
    let subresource = ctx.target.subresource.as_deref();
    if admission::pod_security::judges_update(ctx.info(), subresource) {
        ctx.read(&ctx.target.key())
    } else {
        Ok(None)
    }
}

/// After a namespace's update ([`namespace_before`] gave its old state):
/// pod security's warning if its enforce level changed.
pub(super) fn warn_pod_security(ctx: &Ctx, before: Option<Value>, after: &Value) {
    if let Some(old) = before {
        admission::pod_security::namespace_updated(&*ctx.state.store, &old, after, &ctx.decoder);
    }
}

/// The validating admission of an update of the object itself (not of a
/// subresource): see [`admission::prepare_update`].
pub(super) async fn admit_update(
    ctx: &Ctx,
) -> Result<(admission::UpdateAdmission, Option<admission::Reservation>), ApiError> {
    let namespace = match ctx.target.subresource {
        None => ctx.target.namespace.as_deref(),
        Some(_) => None,
    };
    admission::prepare_update(&ctx.state, ctx.info(), namespace).await
}

/// The `namespaces/<name>/finalize` subresource changes only `spec.finalizers`.
fn finalize(body: &Value, old: &Value) -> Value {
    let mut new = old.clone();
    new["spec"]["finalizers"] = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    new
}
