//! GET of one object and LIST of a collection (label/field selectors,
//! limit/continue pagination), in the negotiated shape (objects, Table,
//! or metadata only).

use axum::response::Response;
use base64::Engine;
use http::StatusCode;
use minik_api::tables;
use serde_json::Value;

use super::{json_response, Ctx};
use crate::error::ApiError;
use crate::request::Output;

pub async fn get(ctx: Ctx) -> Result<Response, ApiError> {
    let obj = ctx
        .read(&ctx.target.key())?
        .ok_or_else(|| ApiError::not_found(ctx.info(), ctx.target.name()))?;
    Ok(ctx.respond(StatusCode::OK, &obj))
}

/// Where a paginated list resumes: the revision of its first page and the
/// last key already returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    start: String,
}

/// Objects under the target's collection matching the request's selectors,
/// at most `limit` (0 = all) after `start_after`; also whether more remain.
pub fn select(
    ctx: &Ctx,
    limit: usize,
    start_after: Option<&str>,
) -> Result<(Vec<(String, Value)>, bool), ApiError> {
    let labels = ctx.params.label_selector()?;
    let fields = ctx.params.field_selector()?;
    let prefix = ctx.target.collection_prefix();
    if let Some(key) = ctx.target.single_key(&fields) {
        // One object at most: read it rather than scan the collection.
        let past = start_after.is_some_and(|after| key.as_str() <= after);
        let obj = if past { None } else { ctx.read(&key)? };
        let items = obj
            .filter(|o| labels.matches_object(o) && fields.matches(o))
            .map(|o| vec![(key, o)])
            .unwrap_or_default();
        return Ok((items, false));
    }
    let mut items = Vec::new();
    let mut more = false;
    let mut error = None;
    ctx.state
        .store
        .scan(&prefix, start_after, &mut |key, bytes| {
            let obj: Value = match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(e) => {
                    error = Some(ApiError::internal(format!("corrupt object at {key}: {e}")));
                    return false;
                }
            };
            if !labels.matches_object(&obj) || !fields.matches(&obj) {
                return true;
            }
            if limit > 0 && items.len() == limit {
                more = true;
                return false;
            }
            items.push((key.to_string(), obj));
            true
        })?;
    match error {
        Some(e) => Err(e),
        None => Ok((items, more)),
    }
}

pub async fn list(ctx: Ctx) -> Result<Response, ApiError> {
    let limit = ctx.params.u64("limit")?.unwrap_or(0) as usize;
    let token = match ctx.params.get("continue") {
        Some(c) => Some(decode_continue(c)?),
        None => None,
    };
    // The revision is read before the scan: every object listed is at least
    // this new, so a watch from it may repeat a change but never miss one.
    let rv = token
        .as_ref()
        .map(|t| t.rv)
        .unwrap_or_else(|| ctx.state.writer.revision());
    let (items, more) = select(&ctx, limit, token.as_ref().map(|t| t.start.as_str()))?;
    let next = if more {
        let last = items.last().map(|(k, _)| k.clone()).unwrap_or_default();
        let raw = serde_json::to_vec(&ContinueToken { rv, start: last }).expect("serializable");
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    } else {
        None
    };
    // Taken apart, not copied: a page is hundreds of objects.
    let objects: Vec<Value> = items
        .into_iter()
        .map(|(_, v)| minik_api::convert::from_storage(ctx.target.served, v))
        .collect();
    let info = ctx.target.served;
    let rv = rv.to_string();
    let body = match ctx.output {
        Output::Table(include) => tables::table_of(
            info,
            objects,
            jiff::Timestamp::now(),
            include,
            &rv,
            next.as_deref(),
        ),
        Output::Metadata => list_body(
            "PartialObjectMetadataList".into(),
            "meta.k8s.io/v1".into(),
            tables::list_metadata(&rv, next.as_deref()),
            objects
                .into_iter()
                .map(tables::partial_metadata_of)
                .collect(),
        ),
        Output::Object => list_body(
            format!("{}List", info.kind),
            info.api_version(),
            tables::list_metadata(&rv, next.as_deref()),
            objects,
        ),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// A list's body, its items moved in (see `tables::object_of`).
fn list_body(kind: String, api_version: String, metadata: Value, items: Vec<Value>) -> Value {
    tables::object_of([
        ("kind", kind.into()),
        ("apiVersion", api_version.into()),
        ("metadata", metadata),
        ("items", Value::Array(items)),
    ])
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "continue key is not valid: decode it from a previous list's metadata.continue",
            )
        })
}
