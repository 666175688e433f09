//! OpenAPI v3 documents, just rich enough for clients that consult them:
//! every served kind's paths with their `x-kubernetes-group-version-kind`
//! and the `fieldValidation` parameter, which tells `kubectl apply` and
//! `kubectl create` (validation on by default) to let the server validate.
//!
//! Left out: the object schemas themselves (`components.schemas`), which
//! `kubectl explain` would read; kubectl falls back to its compiled-in
//! types for strategic-merge metadata.

use axum::extract::Path;
use axum::response::Response;
use http::StatusCode;
use minik_api::catalogue::{self, ResourceInfo};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::rest::json_response;

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub async fn root() -> Response {
    let mut paths = Map::new();
    for (g, v) in catalogue::group_versions() {
        let key = gv_key(g, v);
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(g, v))}),
        );
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

/// A stable content hash per document (the documents only change with the binary).
fn hash(group: &str, version: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (group, version, env!("CARGO_PKG_VERSION")).hash(&mut h);
    format!("{:016X}", h.finish())
}

pub async fn document(Path(path): Path<String>) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path.split('/').collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("no OpenAPI document at /openapi/v3/{path}"),
            ))
        }
    };
    if !catalogue::group_versions().contains(&(group, version)) {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!("no OpenAPI document for {}", gv_key(group, version)),
        ));
    }
    let mut paths = Map::new();
    for r in catalogue::all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let (collection, item) = resource_paths(r);
        paths.insert(collection_path(r), collection);
        paths.insert(item_path(r), item);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes (minik)", "version": format!("v{}.{}", crate::discovery::KUBE_MAJOR, crate::discovery::KUBE_MINOR)},
            "paths": paths,
            "components": {"schemas": {}},
        }),
    ))
}

fn collection_path(r: &ResourceInfo) -> String {
    if r.namespaced {
        format!("{}/namespaces/{{namespace}}/{}", r.gv_path(), r.plural)
    } else {
        format!("{}/{}", r.gv_path(), r.plural)
    }
}

fn item_path(r: &ResourceInfo) -> String {
    format!("{}/{{name}}", collection_path(r))
}

fn operation(r: &ResourceInfo, action: &str, query: &[&str]) -> Value {
    let params: Vec<Value> = query
        .iter()
        .map(|q| json!({"name": q, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    json!({
        "operationId": format!("{action}{}", r.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    })
}

fn resource_paths(r: &ResourceInfo) -> (Value, Value) {
    let write = ["dryRun", "fieldManager", "fieldValidation"];
    let collection = json!({
        "get": operation(r, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch", "resourceVersion"]),
        "post": operation(r, "post", &write),
    });
    let item = json!({
        "get": operation(r, "get", &[]),
        "put": operation(r, "put", &write),
        "patch": operation(r, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
        "delete": operation(r, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
    });
    (collection, item)
}
