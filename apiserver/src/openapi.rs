//! OpenAPI v3 documents, just rich enough for clients that consult them:
//! every served kind's paths with their `x-kubernetes-group-version-kind`
//! and the `fieldValidation` parameter, which tells `kubectl apply` and
//! `kubectl create` (validation on by default) to let the server validate.
//!
//! Object schemas (`components.schemas`, what `kubectl explain` reads): the
//! built-in kinds' from their k8s-openapi types (with every type they
//! reference, named as Kubernetes names them), custom kinds' from their
//! CRD; each kind's own schema carries its `x-kubernetes-group-version-kind`.
//! Left out: the `x-kubernetes-patch-*` extensions (kubectl falls back to
//! its compiled-in types for strategic-merge metadata).
//!
//! Each document's `hash` covers what it describes, so a client's cached
//! copy is replaced when a CRD changes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use minik_api::catalogue::ResourceInfo;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::custom_resources::Served;
use crate::error::ApiError;
use crate::rest::json_response;
use crate::AppState;

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub async fn root(State(state): State<Arc<AppState>>) -> Response {
    let served = state.served();
    let mut paths = Map::new();
    for (g, v) in served.group_versions() {
        let key = gv_key(g, v);
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(&served, g, v))}),
        );
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

/// A content hash per document: the binary's version and the schemas of
/// the group-version's custom resources.
fn hash(served: &Served, group: &str, version: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (group, version, env!("CARGO_PKG_VERSION")).hash(&mut h);
    for r in served
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        (r.plural, r.kind).hash(&mut h);
        // Built-in schemas change only with the binary; custom ones with their CRD.
        if minik_api::catalogue::lookup(r.group, r.version, r.plural).is_none() {
            let mut g = SchemaSettings::openapi3().into_generator();
            if let Some(schema) = r.strategy.openapi_schema(r, &mut g) {
                schema.to_string().hash(&mut h);
            }
        }
    }
    format!("{:016X}", h.finish())
}

pub async fn document(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let served = state.served();
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
    if !served.serves(group, version) {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!("no OpenAPI document for {}", gv_key(group, version)),
        ));
    }
    let (paths, schemas) = group_version(&served, group, version);
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes (minik)", "version": format!("v{}.{}", crate::discovery::KUBE_MAJOR, crate::discovery::KUBE_MINOR)},
            "paths": paths,
            "components": {"schemas": schemas},
        }),
    ))
}

/// One group-version's paths and object schemas (`components.schemas`,
/// each named as Kubernetes names it).
pub fn group_version(
    served: &Served,
    group: &str,
    version: &str,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds: Vec<(String, &ResourceInfo)> = Vec::new();
    for r in served
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let (collection, item) = resource_paths(r);
        paths.insert(collection_path(r), collection);
        paths.insert(item_path(r), item);
        match r.strategy.openapi_schema(r, &mut generator) {
            // A reference into the generator's definitions (built-in kinds).
            Some(Value::Object(reference)) if reference.contains_key("$ref") => {
                if let Some(name) = reference["$ref"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("#/components/schemas/"))
                {
                    kinds.push((name.to_string(), r));
                }
            }
            Some(schema) => {
                schemas.insert(schema_name(r), object_schema(r, schema));
            }
            None => {}
        }
    }
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    for (name, r) in kinds {
        if let Some(schema) = schemas.get_mut(&name) {
            add_gvk(schema, r);
        }
    }
    (paths, schemas)
}

/// kube-apiserver's name for a kind's schema: the group reversed, then
/// version and kind (`com.example.v1.Website`).
fn schema_name(r: &ResourceInfo) -> String {
    let mut group: Vec<&str> = r.group.split('.').collect();
    group.reverse();
    format!("{}.{}.{}", group.join("."), r.version, r.kind)
}

/// A custom kind's schema as kube-apiserver publishes it: the CRD's schema
/// with `apiVersion`, `kind` and `metadata` described and the kind named.
fn object_schema(r: &ResourceInfo, mut schema: Value) -> Value {
    let standard = json!({
        "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"},
        "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"},
        "metadata": {"type": "object", "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"},
    });
    if !schema.get("properties").is_some_and(Value::is_object) {
        schema["properties"] = json!({});
    }
    for (k, v) in standard.as_object().into_iter().flatten() {
        if schema["properties"].get(k).is_none() {
            schema["properties"][k] = v.clone();
        }
    }
    add_gvk(&mut schema, r);
    schema
}

/// Names the kind a schema describes, as kube-apiserver's documents do.
fn add_gvk(schema: &mut Value, r: &ResourceInfo) {
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
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
