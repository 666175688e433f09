//! Discovery: `/version`, `/api`, `/apis`, and each group-version's
//! `APIResourceList`, generated from the catalogue. This is what lets
//! `kubectl` map `deploy` to `deployments.apps`, find the `scale`
//! subresource, and print `kubectl api-resources`.
//!
//! Only the classic (unaggregated) discovery documents are served; clients
//! that ask for aggregated discovery fall back to these, as they do with
//! older kube-apiservers.

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use minik_api::catalogue::{self, ResourceInfo};
use serde_json::{json, Value};
use std::sync::Arc;

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

pub async fn core_versions(State(state): State<Arc<AppState>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.advertise}],
        }),
    )
}

fn group_doc(group: &str) -> Value {
    let versions: Vec<&str> = catalogue::group_versions()
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

fn groups() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for (g, _) in catalogue::group_versions() {
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

pub async fn group_list() -> Response {
    let groups: Vec<Value> = groups().into_iter().map(group_doc).collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

pub async fn group(Path(group): Path<String>) -> Result<Response, ApiError> {
    if !groups().contains(&group.as_str()) {
        return Err(ApiError::new(404, "NotFound", format!("the server could not find the requested resource: API group {group:?} is not served")));
    }
    let mut doc = group_doc(&group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Ok(json_response(StatusCode::OK, &doc))
}

pub async fn core_resources() -> Response {
    json_response(StatusCode::OK, &resource_list("", "v1"))
}

pub async fn group_resources(
    Path((group, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if !catalogue::group_versions().contains(&(group.as_str(), version.as_str())) {
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
        &resource_list(&group, &version),
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
        "portforward" => ("PodPortForwardOptions", None, None, &["create", "get"]),
        "proxy" => (
            "NodeProxyOptions",
            None,
            None,
            &["create", "delete", "get", "patch", "update"],
        ),
        "eviction" => ("Eviction", Some("policy"), Some("v1"), &["create"]),
        "finalize" => ("Namespace", None, None, &["update"]),
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

pub fn resource_list(group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for r in catalogue::all()
        .iter()
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
