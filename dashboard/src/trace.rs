//! `GET /api/why/{kind}/{namespace}/{name}`: the `why` trace of a pod,
//! Deployment or Service, built by `minik_client::why` — the code behind
//! `miniktl why` — from the dashboard's caches instead of GETs, except for
//! pods and Events: the pod cache keeps only what a pod's card shows
//! (`crate::pod_summary`) and the dashboard keeps only the newest Events
//! (`crate::event_feed`), so the pod, or a Service's pods, and the
//! namespace's Events are read from the API server when asked. Answers
//! `{"text": …, "trace": …}`: the page shows the text as `miniktl why`
//! prints it.
//!
//! Endpoints membership is read from the Service's EndpointSlices, shaped
//! as the Endpoints the trace reads (ready and not-ready addresses).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use minik_api::names;
use minik_client::why;
use serde::Serialize;
use serde_json::{json, Value};

use crate::{AppState, Model};

fn to_value<K: Serialize + Resource<DynamicType = ()>>(o: &K) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    // Typed caches drop apiVersion and kind; the trace names kinds.
    v["apiVersion"] = json!(K::api_version(&()));
    v["kind"] = json!(K::kind(&()));
    v
}

/// The API server could not answer a read the trace needs.
fn unavailable(e: kube::Error) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        Json(json!({"message": format!("reading from the API server: {e}")})),
    )
        .into_response()
}

fn not_found(kind: &str, ns: &str, name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": format!("{kind} {ns}/{name} not found")})),
    )
        .into_response()
}

pub async fn why(
    State(state): State<AppState>,
    Path((kind, ns, name)): Path<(String, String, String)>,
) -> Response {
    // The names go into API paths: only what could name a namespace and
    // an object (a DNS label and subdomain) does.
    if !names::is_dns1123_label(&ns).is_empty() || !names::is_dns1123_subdomain(&name).is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": format!("{ns:?}/{name:?} does not name a namespaced object")})),
        )
            .into_response();
    }
    let m = &state.model;
    let events = match namespace_events(m, &ns).await {
        Ok(events) => events,
        Err(e) => return unavailable(e),
    };
    let trace = match kind.as_str() {
        "pod" => {
            let pods: Api<Pod> = Api::namespaced(m.client(), &ns);
            let pod = match pods.get_opt(&name).await {
                Ok(Some(pod)) => to_value(&pod),
                Ok(None) => return not_found("pod", &ns, &name),
                Err(e) => return unavailable(e),
            };
            let owners = owner_chain(m, &ns, &pod);
            let services: Vec<(Value, Option<Value>)> = m
                .services
                .store()
                .state()
                .iter()
                .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
                .map(|s| {
                    let svc = to_value(&**s);
                    let endpoints = endpoints_of(m, &ns, &s.name_any());
                    (svc, Some(endpoints))
                })
                .collect();
            let node_name = why::str_at(&pod, "/spec/nodeName");
            let node = m
                .nodes
                .store()
                .get(&ObjectRef::new(node_name))
                .map(|n| to_value(&*n));
            why::pod_trace(&pod, &owners, node.as_ref(), &services, &events)
        }
        "deployment" => {
            let Some(d) = m.deployments.store().get(&ObjectRef::new(&name).within(&ns)) else {
                return not_found("deployment", &ns, &name);
            };
            let sets: Vec<Value> = m
                .replica_sets
                .store()
                .state()
                .iter()
                .filter(|rs| rs.namespace().as_deref() == Some(ns.as_str()))
                .map(|rs| to_value(&**rs))
                .collect();
            why::deployment_trace(&to_value(&*d), &sets, &events)
        }
        "service" => {
            let Some(s) = m.services.store().get(&ObjectRef::new(&name).within(&ns)) else {
                return not_found("service", &ns, &name);
            };
            let svc = to_value(&*s);
            // The pods it selects (none for a Service without a selector).
            let pods: Vec<Value> = match why::pod_selector(&svc) {
                None => Vec::new(),
                Some(selector) => {
                    let api: Api<Pod> = Api::namespaced(m.client(), &ns);
                    match api.list(&ListParams::default().labels(&selector)).await {
                        Ok(list) => list.items.iter().map(to_value).collect(),
                        Err(e) => return unavailable(e),
                    }
                }
            };
            let endpoints = endpoints_of(m, &ns, &name);
            why::service_trace(&svc, Some(&endpoints), &pods, &events)
        }
        other => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": format!("why explains pods, deployments and services, not {other}")})),
            )
                .into_response()
        }
    };
    Json(json!({"text": why::render(&trace), "trace": trace})).into_response()
}

/// The namespace's Events (events.k8s.io shape), oldest first, read
/// untyped: the trace reads JSON, and one Event that would not decode as
/// the type must not hide the rest.
async fn namespace_events(m: &Model, ns: &str) -> Result<Vec<Value>, kube::Error> {
    let kind = ApiResource::erase::<Event>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(m.client(), ns, &kind);
    let list = api.list(&ListParams::default()).await?;
    let mut events: Vec<Value> = list
        .items
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            v["apiVersion"] = json!(kind.api_version);
            v["kind"] = json!(kind.kind);
            v
        })
        .collect();
    why::sort_events(&mut events);
    Ok(events)
}

/// The owner chain from the caches (ReplicaSets and Deployments are cached;
/// other owners are named without their objects).
fn owner_chain(m: &Model, ns: &str, obj: &Value) -> Vec<Value> {
    let mut chain: Vec<Value> = Vec::new();
    let mut child = obj.clone();
    while let Some(owner) = why::owner_ref(&child) {
        let found = if owner.kind == ReplicaSet::kind(&()) {
            let key = ObjectRef::new(owner.name).within(ns);
            m.replica_sets.store().get(&key).map(|o| to_value(&*o))
        } else if owner.kind == Deployment::kind(&()) {
            let key = ObjectRef::new(owner.name).within(ns);
            m.deployments.store().get(&key).map(|o| to_value(&*o))
        } else {
            Some(why::unknown_owner(&owner))
        };
        let found = found.unwrap_or_else(|| why::gone_owner(&owner));
        chain.push(found.clone());
        if why::chain_ends(&found, chain.len()) {
            break;
        }
        child = found;
    }
    chain
}

/// A Service's EndpointSlices as one core Endpoints (`subsets` of ready
/// and not-ready addresses), which is what the trace reads.
fn endpoints_of(m: &Model, ns: &str, service: &str) -> Value {
    let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
    for slice in m.slices.store().state() {
        if slice.namespace().as_deref() != Some(ns)
            || slice
                .labels()
                .get("kubernetes.io/service-name")
                .map(String::as_str)
                != Some(service)
        {
            continue;
        }
        for e in &slice.endpoints {
            let is_ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            for ip in &e.addresses {
                if is_ready {
                    ready.push(json!({"ip": ip}));
                } else {
                    not_ready.push(json!({"ip": ip}));
                }
            }
        }
    }
    json!({"subsets": [{"addresses": ready, "notReadyAddresses": not_ready}]})
}
