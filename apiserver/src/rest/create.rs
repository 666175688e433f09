//! POST to a collection: create an object (generateName, defaults,
//! admission, validation, identity), failing with 409 AlreadyExists on a taken name.

use axum::response::Response;
use http::StatusCode;
use minik_api::{meta, names};
use serde_json::{json, Value};

use super::Ctx;
use crate::admission;
use crate::commit::{Committed, Outcome};
use crate::decode::Source;
use crate::error::ApiError;
use crate::registry;

/// What admission reads: the stored objects, straight from the store.
pub struct StoreCluster<'a>(pub &'a dyn crate::store::Store);

impl minik_api::kinds::Cluster for StoreCluster<'_> {
    fn list(&self, info: &minik_api::catalogue::ResourceInfo) -> Vec<Value> {
        let mut out = Vec::new();
        // An unreadable object is left out: admission defaults, it does not fail.
        let _ = self.0.scan(&info.key_prefix(), None, &mut |_, bytes| {
            if let Ok(v) = serde_json::from_slice(bytes) {
                out.push(v);
            }
            true
        });
        out
    }
}

pub async fn create(ctx: Ctx) -> Result<Response, ApiError> {
    let mut obj = ctx.resource_body()?;
    let created = create_object(&ctx, &mut obj, None).await?;
    Ok(ctx.respond_committed(StatusCode::CREATED, &created))
}

/// Shared by POST and by server-side apply of an absent object (`applied`:
/// the apply's managedFields, kept instead of recording a create).
pub async fn create_object(
    ctx: &Ctx,
    obj: &mut Value,
    applied: Option<&Value>,
) -> Result<Committed, ApiError> {
    let info = ctx.info();
    if ctx.state.served().terminating(info) {
        return Err(ApiError::method_not_allowed(
            "create not allowed while custom resource definition is terminating",
        ));
    }
    registry::check_type(info, obj)?;
    registry::check_namespace(&ctx.target, obj)?;
    ctx.decoder
        .decode(info, ctx.target.served, obj, Source::Body)?;
    ctx.require_namespace()?;
    info.strategy
        .admit_create(obj, &StoreCluster(&*ctx.state.store));
    info.strategy.stamp_requester(
        obj,
        &crate::authorization::user_info(&ctx.user),
        &ctx.user.uid,
    );
    for warning in info.strategy.warnings(obj) {
        ctx.decoder.warn(warning);
    }
    for warning in info.strategy.prepare_create_warnings(obj) {
        ctx.decoder.warn(warning);
    }
    let generate = meta::name(obj).is_empty();
    let fields = crate::field_manager::Recorder::new(ctx);
    // A generated name that collides is retried, as clients of kube-apiserver would.
    for _ in 0..5 {
        // A name that is given is tried once: no copy is kept for a retry.
        let mut candidate = if generate {
            obj.clone()
        } else {
            std::mem::take(obj)
        };
        if generate {
            if let Some(prefix) = meta::meta_str(&candidate, "generateName").map(str::to_string) {
                candidate["metadata"]["name"] = json!(names::generate_name(&prefix));
            }
        }
        let mut target = ctx.target.clone();
        target.name = Some(meta::name(&candidate).to_string());
        let store = ctx.state.store.clone();
        registry::prepare_admitted_create(&target, &mut candidate, |obj| {
            admission::mutate(&*store, info, obj)
        })?;
        fields.record_create(&mut candidate, applied);
        // Held until the object is stored: see admission::resource_quota.
        let reservation = admission::validate(&ctx.state, info, &candidate, &ctx.decoder).await?;
        crate::authorization::confirm_no_escalation(
            &ctx.state.authorizer,
            &ctx.user,
            info,
            &candidate,
        )?;
        let created_warnings = info.strategy.warnings_on_create(&candidate);
        let allocated = if info.strategy.allocates_service_addresses() {
            ctx.allocate_service(&mut candidate)?;
            Some(candidate.clone())
        } else {
            None
        };
        let name = target.name().to_string();
        let key = target.key();
        let result = ctx
            .mutate(
                key,
                Box::new(move |current| match current {
                    Some(_) => Err(ApiError::already_exists(info, &name)),
                    None => Ok(Outcome::Put(candidate)),
                }),
            )
            .await;
        // A Service that was not stored (or only dry-run) gives its IP and ports back.
        if let Some(svc) = &allocated {
            if result.is_err() || ctx.params.dry_run() {
                ctx.state.services.release(svc);
            }
        }
        drop(reservation);
        match result {
            Err(e) if generate && e.reason == "AlreadyExists" => continue,
            Err(e) => return Err(e),
            Ok(c) => {
                for warning in created_warnings {
                    ctx.decoder.warn(warning);
                }
                return Ok(c);
            }
        }
    }
    Err(ApiError::new(
        500,
        "ServerTimeout",
        "could not generate a unique name; try again",
    ))
}
