//! The kubelet's HTTP server on 127.0.0.1 (kubelet's port 10250; HTTPS for
//! the API server only, see `authn.rs`), which the API server proxies
//! `pods/log` and `pods/exec` to:
//!
//! - `GET /containerLogs/{namespace}/{pod}/{container}` with `follow`,
//!   `previous`, `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps`,
//!   `limitBytes` — the runtime's log stream, streamed as it comes;
//! - `GET /exec/{namespace}/{pod}/{container}?command=…&stdin&stdout&stderr&tty`
//!   — a WebSocket (see `exec.rs`);
//! - `GET /stats/summary` — CPU and memory per pod and container, in the
//!   shape of kubelet's Summary API;
//! - `GET /metrics/resource` — the same as Prometheus text with the
//!   kubelet's metric names (what metrics-server, and minik's API server, scrape);
//! - `GET /healthz`.
//!
//! Errors are Kubernetes `Status` objects, which the API server passes on to
//! kubectl unchanged. Simplified: no attach or port-forward.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use http::StatusCode;
use serde_json::json;

use crate::context::Kubelet;
use crate::exec::{self, ExecRequest};
use crate::runtime::{ContainerRecord, LogOptions};
use crate::Error;

/// The kubelet's routes for one node.
pub fn router(k: Arc<Kubelet>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/containerLogs/{namespace}/{pod}/{container}", get(logs))
        .route(
            "/exec/{namespace}/{pod}/{container}",
            get(exec_handler).post(exec_handler),
        )
        .route("/stats/summary", get(summary))
        .route("/metrics/resource", get(resource_metrics))
        .with_state(k)
}

/// Binds the listener and serves in the background; returns the bound address.
pub async fn start(
    k: Arc<Kubelet>,
    listener: tokio::net::TcpListener,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("kubelet listener", e))?;
    let tls = match &k.config.tls {
        Some(files) => Some(
            minik_client::tls::server_config(files, minik_client::tls::ClientAuth::Required)
                .map_err(|e| Error::io("kubelet TLS", std::io::Error::other(e)))?,
        ),
        None => None,
    };
    let app = router(k);
    let task = match tls {
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            tokio::spawn(crate::authn::serve_tls(listener, app, acceptor))
        }
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "kubelet server stopped");
            }
        }),
    };
    Ok((addr, task))
}

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: Error) -> Response {
    match e {
        Error::NotFound(m) => status(404, "NotFound", m),
        Error::BadRequest(m) => status(400, "BadRequest", m),
        other => status(500, "InternalError", other.to_string()),
    }
}

/// Query parameters, with repeated keys (`command=sh&command=-c`) kept.
fn query(raw: Option<String>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

fn flag(q: &HashMap<String, Vec<String>>, key: &str) -> bool {
    q.get(key)
        .and_then(|v| v.first())
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true") || v.is_empty())
}

fn number(q: &HashMap<String, Vec<String>>, key: &str) -> Result<Option<i64>, Error> {
    match q.get(key).and_then(|v| v.first()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::BadRequest(format!("invalid {key}: {v:?}"))),
    }
}

/// The container instance to read from: the newest, or the one before it
/// for `previous`.
async fn find_container(
    k: &Kubelet,
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<ContainerRecord, Error> {
    // The pod's own containers when a worker knows it; else search the node.
    let all = match k.pod_uid(namespace, pod) {
        Some(uid) => k.runtime.list_pod(&uid).await?,
        None => k.runtime.list_all().await?,
    };
    let mut instances = all.into_iter().filter(|r| {
        !r.sandbox && r.pod.namespace == namespace && r.pod.name == pod && r.name == container
    });
    let found = if previous {
        instances.nth(1)
    } else {
        instances.next()
    };
    found.ok_or_else(|| {
        if previous {
            Error::BadRequest(format!(
                "previous terminated container \"{container}\" in pod \"{pod}\" not found"
            ))
        } else {
            Error::BadRequest(format!(
                "container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"
            ))
        }
    })
}

async fn logs(
    State(k): State<Arc<Kubelet>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    match stream_logs(&k, &namespace, &pod, &container, query(raw)).await {
        Ok(r) => r,
        Err(e) => error_response(e),
    }
}

async fn stream_logs(
    k: &Kubelet,
    namespace: &str,
    pod: &str,
    container: &str,
    q: HashMap<String, Vec<String>>,
) -> Result<Response, Error> {
    let record = find_container(k, namespace, pod, container, flag(&q, "previous")).await?;
    let since_time = q
        .get("sinceTime")
        .and_then(|v| v.first())
        .map(|s| {
            s.parse::<jiff::Timestamp>()
                .map_err(|_| Error::BadRequest(format!("invalid sinceTime: {s:?}")))
        })
        .transpose()?;
    let since = match number(&q, "sinceSeconds")? {
        Some(s) => Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s)),
        None => since_time,
    };
    let options = LogOptions {
        follow: flag(&q, "follow"),
        tail_lines: number(&q, "tailLines")?,
        since,
        timestamps: flag(&q, "timestamps"),
    };
    let limit = number(&q, "limitBytes")?.map(|n| n.max(0) as usize);
    let stream = k.runtime.logs(&record.id, &options).await?;
    // limitBytes: cut the stream once that many bytes went out.
    let stream = stream.scan(limit, |left, item| {
        let out = match (item, left.as_mut()) {
            (Ok(bytes), Some(left)) => {
                if *left == 0 {
                    return futures::future::ready(None);
                }
                let take = bytes.len().min(*left);
                *left -= take;
                Ok(bytes.slice(..take))
            }
            (other, _) => other,
        };
        futures::future::ready(Some(out.map_err(std::io::Error::other)))
    });
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn exec_handler(
    State(k): State<Arc<Kubelet>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let q = query(raw);
    // The container and command are checked before the protocol: kubectl
    // retries a failed WebSocket exec with SPDY, and that retry must report
    // the real reason, not "SPDY is not supported".
    let record = match find_container(&k, &namespace, &pod, &container, false).await {
        Ok(r) if r.running() => r,
        Ok(_) => {
            return status(
                400,
                "BadRequest",
                format!("container {container} is not running in pod {pod}"),
            )
        }
        Err(e) => return error_response(e),
    };
    let command = q.get("command").cloned().unwrap_or_default();
    if command.is_empty() {
        return status(
            400,
            "BadRequest",
            "you must specify at least one command for the container".into(),
        );
    }
    let Ok(ws) = ws else {
        return status(
            400,
            "BadRequest",
            "exec needs a WebSocket upgrade (v5.channel.k8s.io or v4.channel.k8s.io); SPDY is not supported".into(),
        );
    };
    let request = ExecRequest {
        container_id: record.id,
        command,
        stdin: flag(&q, "stdin") || flag(&q, "input"),
        tty: flag(&q, "tty"),
    };
    let runtime = k.runtime.clone();
    ws.protocols(exec::PROTOCOLS)
        .on_upgrade(move |socket| exec::serve(socket, runtime, request))
}

async fn summary(State(k): State<Arc<Kubelet>>) -> Response {
    match crate::stats::collect(&k).await {
        Ok(usages) => axum::Json(crate::stats::summary(
            &k.node_name,
            &usages,
            k.rates.retired_core_nanoseconds(),
        ))
        .into_response(),
        Err(e) => error_response(e),
    }
}

async fn resource_metrics(State(k): State<Arc<Kubelet>>) -> Response {
    match crate::stats::collect(&k).await {
        Ok(usages) => (
            [(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            crate::stats::resource_metrics(&usages, k.rates.retired_core_nanoseconds()),
        )
            .into_response(),
        Err(e) => error_response(e),
    }
}
