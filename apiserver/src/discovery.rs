//! Discovery: `/version`, `/api`, `/apis`, and each group-version's
//! `APIResourceList`, generated from the catalogue. This is what lets
//! `kubectl` map `deploy` to `deployments.apps`, find the `scale`
//! subresource, and print `kubectl api-resources`.
//!
//! Both forms kube-apiserver serves: the classic documents, and aggregated
//! discovery (`apidiscovery.k8s.io/v2`, and `v2beta1` for older clients):
//! one `APIGroupDiscoveryList` for `/api` and one for `/apis`, each carrying
//! every resource's verbs, scope, short names, categories, subresources
//! and `responseKind`, so a client discovers the cluster in two requests.
//! Which one a client gets is decided by its `Accept` header, as in
//! Kubernetes; both are generated from the same catalogue.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minik_api::catalogue::ResourceInfo;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::custom_resources::Served;
use crate::error::ApiError;
use crate::rest::json_response;
use crate::AppState;

/// The Kubernetes version minik's API corresponds to.
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";

pub async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": KUBE_MAJOR,
            "minor": KUBE_MINOR,
            "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0-minik.{}", env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": "n/a (minik is written in Rust)",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
        }),
    )
}

/// Architecture names as Kubernetes spells them.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn core_versions(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(version) = aggregated_version(&headers) {
        return aggregated(&state.served(), version, &[""]);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.advertise}],
        }),
    )
}

fn group_doc(served: &Served, group: &str) -> Value {
    let versions: Vec<&str> = served
        .group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| v)
        .collect();
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": entries, "preferredVersion": entries[0]})
}

fn groups(served: &Served) -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for (g, _) in served.group_versions() {
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

pub async fn group_list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let served = state.served();
    if let Some(version) = aggregated_version(&headers) {
        return aggregated(&served, version, &groups(&served));
    }
    let groups: Vec<Value> = groups(&served)
        .into_iter()
        .map(|g| group_doc(&served, g))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

pub async fn group(
    State(state): State<Arc<AppState>>,
    Path(group): Path<String>,
) -> Result<Response, ApiError> {
    let served = state.served();
    if !groups(&served).contains(&group.as_str()) {
        return Err(ApiError::new(404, "NotFound", format!("the server could not find the requested resource: API group {group:?} is not served")));
    }
    let mut doc = group_doc(&served, &group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Ok(json_response(StatusCode::OK, &doc))
}

pub async fn core_resources(State(state): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, &resource_list(&state.served(), "", "v1"))
}

pub async fn group_resources(
    State(state): State<Arc<AppState>>,
    Path((group, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let served = state.served();
    if !served.serves(&group, &version) {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!(
                "the server could not find the requested resource: {group}/{version} is not served"
            ),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &resource_list(&served, &group, &version),
    ))
}

fn verbs_for(r: &ResourceInfo) -> &'static [&'static str] {
    r.strategy.verbs()
}

fn subresource_doc(r: &ResourceInfo, sub: &str) -> Value {
    let (kind, group, version, verbs): (&str, Option<&str>, Option<&str>, &[&str]) = match sub {
        "status" => (r.kind, None, None, &["get", "patch", "update"]),
        "scale" => (
            "Scale",
            Some("autoscaling"),
            Some("v1"),
            &["get", "patch", "update"],
        ),
        "binding" => ("Binding", None, None, &["create"]),
        "log" => ("Pod", None, None, &["get"]),
        "exec" => ("PodExecOptions", None, None, &["create", "get"]),
        "attach" => ("PodAttachOptions", None, None, &["create", "get"]),
        "portforward" => ("PodPortForwardOptions", None, None, &["create", "get"]),
        "proxy" => (
            "NodeProxyOptions",
            None,
            None,
            &["create", "delete", "get", "patch", "update"],
        ),
        "eviction" => ("Eviction", Some("policy"), Some("v1"), &["create"]),
        "token" => (
            "TokenRequest",
            Some("authentication.k8s.io"),
            Some("v1"),
            &["create"],
        ),
        "finalize" => ("Namespace", None, None, &["update"]),
        "approval" => (r.kind, None, None, &["get", "update"]),
        "ephemeralcontainers" => (r.kind, None, None, &["get", "patch", "update"]),
        _ => (r.kind, None, None, &["get"]),
    };
    let mut d = json!({
        "name": format!("{}/{sub}", r.plural),
        "singularName": "",
        "namespaced": r.namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if let (Some(g), Some(v)) = (group, version) {
        d["group"] = json!(g);
        d["version"] = json!(v);
    }
    d
}

pub fn resource_list(served: &Served, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for r in served
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut d = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs_for(r),
        });
        if !r.short_names.is_empty() {
            d["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            d["categories"] = json!(r.categories);
        }
        resources.push(d);
        for sub in r.subresources {
            resources.push(subresource_doc(r, sub));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

// ---------------------------------------------------------------------------
// Aggregated discovery
// ---------------------------------------------------------------------------

/// The aggregated discovery version a client accepts (`v2` or `v2beta1`),
/// the first one it lists: `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(http::header::ACCEPT)?.to_str().ok()?;
    accept.split(',').find_map(|clause| {
        let params: Vec<&str> = clause.split(';').map(str::trim).collect();
        let has = |p: &str| params.contains(&p);
        if !(has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList")) {
            return None;
        }
        if has("v=v2") {
            Some("v2")
        } else if has("v=v2beta1") {
            Some("v2beta1")
        } else {
            None
        }
    })
}

/// The `APIGroupDiscoveryList` for `groups` (`[""]` for `/api`), with the
/// content type naming what was negotiated.
fn aggregated(served: &Served, version: &str, groups: &[&str]) -> Response {
    let items: Vec<Value> = groups.iter().map(|g| group_discovery(served, g)).collect();
    let doc = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    let content_type =
        format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    (
        StatusCode::OK,
        [
            (http::header::CONTENT_TYPE, content_type),
            (http::header::VARY, "Accept".to_string()),
        ],
        doc.to_string(),
    )
        .into_response()
}

/// One group with its versions, preferred (first-listed) first.
fn group_discovery(served: &Served, group: &str) -> Value {
    let versions: Vec<Value> = served
        .group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| {
            let resources: Vec<Value> = served
                .all()
                .into_iter()
                .filter(|r| r.group == group && r.version == v)
                .map(resource_discovery)
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let mut metadata = json!({});
    if !group.is_empty() {
        metadata["name"] = json!(group);
    }
    json!({"metadata": metadata, "versions": versions})
}

fn resource_discovery(r: &ResourceInfo) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|sub| {
            let legacy = subresource_doc(r, sub);
            json!({
                "subresource": sub,
                "responseKind": {
                    "group": legacy.get("group").cloned().unwrap_or_else(|| json!(r.group)),
                    "version": legacy.get("version").cloned().unwrap_or_else(|| json!(r.version)),
                    "kind": legacy["kind"],
                },
                "verbs": legacy["verbs"],
            })
        })
        .collect();
    let mut d = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": verbs_for(r),
    });
    if !r.short_names.is_empty() {
        d["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        d["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        d["subresources"] = json!(subresources);
    }
    d
}
