//! `pods/<name>/log` and `pods/<name>/exec`: proxied to the kubelet of the
//! pod's node, as kube-apiserver does (its "connect" subresources).
//!
//! The kubelet is found through the Node's
//! `status.daemonEndpoints.kubeletEndpoint.Port`, on 127.0.0.1: every minik
//! node runs on the API server's host.
//!
//! - log: `GET /containerLogs/<ns>/<pod>/<container>?<options>`; the
//!   response streams through as it comes (`kubectl logs -f`).
//! - exec, attach and portforward: the client's upgrade is forwarded as is (same
//!   `Sec-WebSocket-Key` and offered subprotocols, or `Upgrade: SPDY/3.1`
//!   with `X-Stream-Protocol-Version`), so the kubelet's handshake answer —
//!   including the negotiated `v5.channel.k8s.io`, `v4.channel.k8s.io` or
//!   `SPDY/3.1+portforward.k8s.io` — is valid for the client; after the 101
//!   both upgraded connections are spliced byte for byte. kube-apiserver
//!   unwraps SPDY-in-WebSocket itself and speaks plain SPDY to the kubelet;
//!   here the kubelet does both, so only one place speaks the protocol.
//!
//! Before proxying, the container is resolved like kube-apiserver does: the
//! `container` parameter, or the pod's only container; a container that has
//! never run is "waiting to start". The connection is the API server's
//! kubelet client (`kubelet_client.rs`: HTTPS with its own certificate).
//! Simplified: no SPDY for exec and attach.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::Ctx;
use crate::error::ApiError;

/// Headers an upgrade (WebSocket or SPDY) needs to reach the kubelet
/// unchanged.
const UPGRADE_HEADERS: [&str; 7] = [
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "x-stream-protocol-version",
];

/// The pod subresources proxied to the kubelet.
const PROXIED: [&str; 4] = ["log", "exec", "attach", "portforward"];

/// Proxies a pod's `log`, `exec`, `attach` or `portforward` subresource to
/// its kubelet.
pub async fn proxy(
    ctx: Ctx,
    method: Method,
    sub: &str,
    query: Option<&str>,
    mut extensions: http::Extensions,
) -> Result<Response, ApiError> {
    if !ctx.info().has_subresource(sub) || !PROXIED.contains(&sub) {
        return Err(ApiError::method_not_allowed(format!(
            "{}/{sub} is not served",
            ctx.info().plural
        )));
    }
    let name = ctx.target.name().to_string();
    let namespace = ctx.target.namespace.clone().unwrap_or_default();
    let pod = ctx
        .read(&ctx.target.key())?
        .ok_or_else(|| ApiError::not_found(ctx.info(), &name))?;
    let port = kubelet_port(&ctx, &pod, &name)?;

    // The kubelet's path; the client's options pass through as they are.
    let query: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("container="))
        .collect();
    let path = match sub {
        "portforward" => {
            check_running(&pod, &name)?;
            format!("/portForward/{namespace}/{name}")
        }
        "log" => {
            let container = container_name(&pod, &name, ctx.params.get("container"))?;
            check_started(&pod, &name, &container)?;
            format!("/containerLogs/{namespace}/{name}/{container}")
        }
        _ => {
            let container = container_name(&pod, &name, ctx.params.get("container"))?;
            format!("/{sub}/{namespace}/{name}/{container}")
        }
    };
    let uri = format!(
        "{path}{}{}",
        if query.is_empty() { "" } else { "?" },
        query.join("&")
    );
    let upgrade = sub != "log";
    // SPDY upgrades are POSTs; WebSocket ones GETs. The kubelet takes both.
    let method = if upgrade { method } else { Method::GET };

    let stream = ctx
        .state
        .kubelets
        .connect(port)
        .await
        .map_err(|e| unavailable(&name, e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unavailable(&name, e))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut request = Request::builder()
        .method(method)
        .uri(&uri)
        .header(header::HOST, format!("127.0.0.1:{port}"));
    if upgrade {
        for h in UPGRADE_HEADERS {
            for v in ctx.headers.get_all(h) {
                request = request.header(h, v);
            }
        }
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| unavailable(&name, e))?;

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let client_side = extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or_else(|| ApiError::bad_request(format!("{sub} needs an upgrade request")))?;
        let kubelet_side = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            let (Ok(client), Ok(kubelet)) = (client_side.await, kubelet_side.await) else {
                return;
            };
            let mut client = TokioIo::new(client);
            let mut kubelet = TokioIo::new(kubelet);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await;
        });
        let (parts, _) = response.into_parts();
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// `GET nodes/<name>/proxy/<path>`: forwards a GET to the node's kubelet
/// (`kubectl top` and `miniktl top` read `/stats/summary` this way).
pub async fn node_proxy(
    state: &crate::AppState,
    node: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let port = node_kubelet_port(state, node)?;
    let path = if path.is_empty() { "/" } else { path };
    let uri = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    };
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::unavailable(format!("error trying to reach node {node}: {e}"))
    };
    let stream = state
        .kubelets
        .connect(port)
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(conn);
    let request = Request::builder()
        .method(Method::GET)
        .uri(&uri)
        .header(header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(&e))?;
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)))
}

fn unavailable(pod: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(format!("cannot reach the kubelet of pod {pod}: {e}"))
}

fn names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
        .collect()
}

/// The `container` parameter, or the pod's only container.
fn container_name(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let containers = names(pod, "containers");
    let inits = names(pod, "initContainers");
    let ephemeral = names(pod, "ephemeralContainers");
    match asked {
        Some(c)
            if containers
                .iter()
                .chain(&inits)
                .chain(&ephemeral)
                .any(|n| n == c) =>
        {
            Ok(c.to_string())
        }
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !inits.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            if !ephemeral.is_empty() {
                message.push_str(&format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

/// Port-forward needs the pod running, as kube-apiserver checks.
fn check_running(pod: &Value, name: &str) -> Result<(), ApiError> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    if phase == "Running" {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "pod {name} is not running and cannot be port-forwarded (phase {phase})"
    )))
}

/// Logs exist once the container has run at least once.
fn check_started(pod: &Value, name: &str, container: &str) -> Result<(), ApiError> {
    let statuses = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|f| {
        pod.pointer(&format!("/status/{f}"))
            .and_then(Value::as_array)
    })
    .flatten();
    for s in statuses {
        if s.get("name").and_then(Value::as_str) != Some(container) {
            continue;
        }
        let has_run = s
            .get("containerID")
            .is_some_and(|v| v.as_str().is_some_and(|v| !v.is_empty()));
        if has_run {
            return Ok(());
        }
        let reason = s
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
    )))
}

/// The kubelet port of the pod's node.
fn kubelet_port(ctx: &Ctx, pod: &Value, name: &str) -> Result<u16, ApiError> {
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        })?;
    node_kubelet_port(&ctx.state, node)
}

/// The port a node's kubelet serves on (`status.daemonEndpoints`).
fn node_kubelet_port(state: &crate::AppState, node: &str) -> Result<u16, ApiError> {
    let nodes = minik_api::catalogue::lookup("", "v1", "nodes").expect("nodes are served");
    let node_obj = crate::commit::read(&*state.store, &nodes.key(None, node))?
        .ok_or_else(|| ApiError::not_found(nodes, node))?;
    node_obj
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| ApiError::unavailable(format!("node {node} reports no kubelet port")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_is_resolved_like_kube_apiserver() {
        let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}});
        assert_eq!(container_name(&pod, "p", Some("i")).unwrap(), "i");
        let err = container_name(&pod, "p", None).unwrap_err();
        assert!(err.status()["message"]
            .as_str()
            .unwrap()
            .starts_with("a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"));
        assert!(container_name(&pod, "p", Some("z")).is_err());
        let single = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(container_name(&single, "p", None).unwrap(), "only");
    }

    #[test]
    fn logs_of_a_container_that_never_ran_are_refused() {
        let pod = json!({"status": {"containerStatuses": [
            {"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
            {"name": "d", "containerID": "docker://abc", "state": {"running": {}}}
        ]}});
        let err = check_started(&pod, "p", "c").unwrap_err();
        assert_eq!(
            err.status()["message"],
            "container \"c\" in pod \"p\" is waiting to start: ImagePullBackOff"
        );
        assert!(check_started(&pod, "p", "d").is_ok());
    }
}
