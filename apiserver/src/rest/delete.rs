//! DELETE of one object and of a collection. Whether an object goes at
//! once or is only marked (graceful pod deletion, finalizers, namespaces)
//! is decided by `registry::delete_step`.

use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use super::{json_response, success_status, Ctx};
use crate::commit::Outcome;
use crate::error::ApiError;
use crate::hub::EventType;
use crate::registry::{self, DeleteOptions, DeleteStep};

/// The request's `DeleteOptions`, from its query and its body (kubectl
/// sends them in the body, `dryRun` included): kube-apiserver reads both
/// into one `DeleteOptions`, so a body's `dryRun: ["All"]` joins the
/// query's, where [`Ctx::mutate`](super::Ctx) looks for a dry run.
fn options(ctx: &mut Ctx) -> Result<DeleteOptions, ApiError> {
    if ctx.body.is_empty() {
        return DeleteOptions::from_request(None, &ctx.params);
    }
    let body = ctx.body_object()?;
    match body.get("dryRun") {
        None | Some(Value::Null) => {}
        Some(Value::Array(values)) if values.iter().all(Value::is_string) => {
            for v in values.iter().filter_map(Value::as_str) {
                ctx.params.add("dryRun", v.to_string());
            }
            ctx.params.check_dry_run("DeleteOptions")?;
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go struct field DeleteOptions.dryRun of type []string",
            if other.is_string() { "string" } else { "value" }
        )))
        }
    }
    DeleteOptions::from_request(Some(&body), &ctx.params)
}

/// Deletes (or marks) the object at `key`; returns it and whether it is gone.
pub(super) async fn delete_key(
    ctx: &Ctx,
    key: String,
    name: String,
    opts: DeleteOptions,
) -> Result<(Value, bool), ApiError> {
    let info = ctx.info();
    let committed = ctx
        .mutate(
            key,
            Box::new(move |current| {
                let obj = current.ok_or_else(|| ApiError::not_found(info, &name))?;
                Ok(match registry::delete_step(info, obj, &opts)? {
                    DeleteStep::Remove => Outcome::Delete,
                    DeleteStep::Mark(o) => Outcome::Put(o),
                    DeleteStep::AlreadyMarked(o) => Outcome::Unchanged(o),
                })
            }),
        )
        .await?;
    let gone = committed.event_type == Some(EventType::Deleted);
    if gone && info.strategy.allocates_service_addresses() && !ctx.params.dry_run() {
        ctx.state.services.release(&committed.object);
    }
    Ok((committed.into_object(), gone))
}

pub async fn delete(mut ctx: Ctx) -> Result<Response, ApiError> {
    let opts = options(&mut ctx)?;
    let (obj, gone) =
        delete_key(&ctx, ctx.target.key(), ctx.target.name().to_string(), opts).await?;
    // kube-apiserver answers a completed delete with a Status, except for
    // pods, whose last state it returns; a pending deletion returns the object.
    if gone && !ctx.info().strategy.returns_deleted_object() {
        Ok(json_response(
            StatusCode::OK,
            &success_status(ctx.info(), &obj),
        ))
    } else {
        Ok(ctx.respond(StatusCode::OK, &obj))
    }
}

pub async fn delete_collection(mut ctx: Ctx) -> Result<Response, ApiError> {
    let opts = options(&mut ctx)?;
    let (items, _) = super::read::select(&ctx, 0, None)?;
    let mut deleted = Vec::new();
    for (key, obj) in items {
        let name = minik_api::meta::name(&obj).to_string();
        match delete_key(&ctx, key, name, opts.clone()).await {
            Ok((o, _)) => deleted.push(o),
            // Gone meanwhile: that is what was asked for.
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let info = ctx.info();
    let body = json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": {"resourceVersion": ctx.state.writer.revision().to_string()},
        "items": deleted,
    });
    Ok(json_response(StatusCode::OK, &body))
}
