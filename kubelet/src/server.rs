//! The kubelet's HTTP server on 127.0.0.1 (kubelet's port 10250; HTTPS for
//! the API server only, see `authn.rs`), which the API server proxies
//! `pods/log` and `pods/exec` to:
//!
//! - `GET /containerLogs/{namespace}/{pod}/{container}` with `follow`,
//!   `previous`, `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps`,
//!   `limitBytes` — the runtime's log stream, streamed as it comes;
//! - `GET /exec/{namespace}/{pod}/{container}?command=…&stdin&stdout&stderr&tty`
//!   — a WebSocket (see `exec.rs`);
//! - `GET /attach/{namespace}/{pod}/{container}?stdin&stdout&stderr&tty`
//!   — the container's main process, same WebSocket protocol as exec;
//! - `GET|POST /portForward/{namespace}/{pod}` — SPDY/3.1, SPDY tunnelled
//!   in a WebSocket, or the WebSocket channel form (see `portforward.rs`);
//! - `GET /stats/summary` — CPU and memory per pod and container, in the
//!   shape of kubelet's Summary API;
//! - `GET /metrics/resource` — the same as Prometheus text with the
//!   kubelet's metric names (what metrics-server, and minik's API server, scrape);
//! - `GET /healthz`.
//!
//! Errors are Kubernetes `Status` objects, which the API server passes on to
//! kubectl unchanged. Simplified: no SPDY for exec and attach (kubectl
//! tries WebSocket first).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Path, RawQuery, Request, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures::StreamExt;
use http::StatusCode;
use serde_json::json;

use crate::context::Kubelet;
use crate::exec::{self, ExecRequest};
use crate::portforward;
use crate::runtime::{ContainerRecord, LogOptions};
use crate::Error;

/// The kubelet's routes, built once per process and shared by its nodes:
/// each handler finds its node's [`Kubelet`] in the request's extensions,
/// put there for each connection (`start`). A router per node, state
/// bound in, was 17 KB of routing tables apiece: 17 MB for a thousand
/// simulated nodes.
pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/containerLogs/{namespace}/{pod}/{container}", get(logs))
        .route(
            "/exec/{namespace}/{pod}/{container}",
            get(exec_handler).post(exec_handler),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            get(attach_handler).post(attach_handler),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            get(port_forward).post(port_forward),
        )
        .route("/stats/summary", get(summary))
        .route("/metrics/resource", get(resource_metrics))
}

/// The server's TLS configuration, built once per process: every
/// simulated node of a process serves the same certificate, and each
/// configuration keeps its own session cache.
pub fn tls_config(
    config: &crate::Config,
) -> Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>, Error> {
    let Some(files) = &config.tls else {
        return Ok(None);
    };
    let fail = |e: String| Error::io("kubelet TLS", std::io::Error::other(e));
    let mut tls = minik_client::tls::server_config(files, minik_client::tls::ClientAuth::Required)
        .map_err(fail)?;
    // Session tickets, so a client that comes back resumes instead of a
    // full handshake. The API server's metrics scrape dials every node
    // anew each 15 s; with a thousand simulated nodes the handshakes'
    // signatures and certificate checks were a third of an idle kubelet
    // process's CPU. The tickets are sealed with a key the process keeps
    // (and rotates), so they cost it no memory per client, and a resumed
    // session carries the client certificate it was made with.
    tls.ticketer =
        tokio_rustls::rustls::crypto::ring::Ticketer::new().map_err(|e| fail(e.to_string()))?;
    Ok(Some(Arc::new(tls)))
}

/// Serves `app` ([`router`]) as node `k` on `listener` in the background
/// (over TLS with `tls`); returns the bound address.
pub async fn start(
    k: Arc<Kubelet>,
    app: Router,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("kubelet listener", e))?;
    let task = match tls {
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            tokio::spawn(crate::authn::serve_tls(listener, app, acceptor, k))
        }
        // Plain HTTP (a kubelet without certificates, as in-process test
        // clusters run) binds its node into a router of its own.
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app.layer(Extension(k))).await {
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

/// The container exec and attach reach: its newest instance, which must be
/// running; otherwise the answer to send.
async fn running_container(
    k: &Kubelet,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<ContainerRecord, Response> {
    match find_container(k, namespace, pod, container, false).await {
        Ok(r) if r.running() => Ok(r),
        Ok(_) => Err(status(
            400,
            "BadRequest",
            format!("container {container} is not running in pod {pod}"),
        )),
        Err(e) => Err(error_response(e)),
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
    Extension(k): Extension<Arc<Kubelet>>,
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
    Extension(k): Extension<Arc<Kubelet>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let q = query(raw);
    // The container and command are checked before the protocol: kubectl
    // retries a failed WebSocket exec with SPDY, and that retry must report
    // the real reason, not "SPDY is not supported".
    let record = match running_container(&k, &namespace, &pod, &container).await {
        Ok(r) => r,
        Err(response) => return response,
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
        .on_upgrade(move |socket| exec::serve(socket, runtime, exec::Session::Exec(request)))
}

async fn attach_handler(
    Extension(k): Extension<Arc<Kubelet>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let q = query(raw);
    let record = match running_container(&k, &namespace, &pod, &container).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let Ok(ws) = ws else {
        return status(
            400,
            "BadRequest",
            "attach needs a WebSocket upgrade (v5.channel.k8s.io or v4.channel.k8s.io); SPDY is not supported".into(),
        );
    };
    let session = exec::Session::Attach {
        container_id: record.id,
        stdin: flag(&q, "stdin") || flag(&q, "input"),
    };
    let runtime = k.runtime.clone();
    ws.protocols(exec::PROTOCOLS)
        .on_upgrade(move |socket| exec::serve(socket, runtime, session))
}

/// `pods/portforward`: finds the pod's network, then serves whichever
/// form the client asked for.
async fn port_forward(
    Extension(k): Extension<Arc<Kubelet>>,
    Path((namespace, pod)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    mut request: Request,
) -> Response {
    let target = match pod_network(&k, &namespace, &pod).await {
        Ok(t) => t,
        Err(e) => return error_response(e),
    };
    let headers = request.headers();
    let upgrade = headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if upgrade == "spdy/3.1" {
        let offered = headers
            .get_all("x-stream-protocol-version")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == portforward::SPDY_PROTOCOL);
        if !offered {
            return status(
                403,
                "Forbidden",
                format!(
                    "unable to upgrade: no common protocol: port-forward speaks {}",
                    portforward::SPDY_PROTOCOL
                ),
            );
        }
        let on_upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                portforward::serve_spdy(hyper_util::rt::TokioIo::new(upgraded), target).await;
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(http::header::CONNECTION, "Upgrade")
            .header(http::header::UPGRADE, "SPDY/3.1")
            .header("X-Stream-Protocol-Version", portforward::SPDY_PROTOCOL)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let offered: Vec<String> = headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .collect();
    let ws = match WebSocketUpgrade::from_request(request, &()).await {
        Ok(ws) => ws,
        Err(_) => {
            return status(
                400,
                "BadRequest",
                "port-forward needs an upgrade: SPDY/3.1, or a WebSocket with SPDY/3.1+portforward.k8s.io or v4.channel.k8s.io".into(),
            )
        }
    };
    if offered.iter().any(|p| p == portforward::TUNNEL_PROTOCOL) {
        return ws
            .protocols([portforward::TUNNEL_PROTOCOL])
            .on_upgrade(move |socket| portforward::serve_tunnel(socket, target));
    }
    let q = query(raw);
    let ports = match portforward::parse_ports(q.get("ports").map(Vec::as_slice).unwrap_or(&[])) {
        Ok(p) => p,
        Err(m) => return status(400, "BadRequest", m),
    };
    ws.protocols(portforward::CHANNEL_PROTOCOLS)
        .on_upgrade(move |socket| portforward::serve_channels(socket, target, ports))
}

/// The pod's IP on the pod network, from its running sandbox.
async fn pod_network(
    k: &Kubelet,
    namespace: &str,
    pod: &str,
) -> Result<portforward::Target, Error> {
    let uid = k.pod_uid(namespace, pod).ok_or_else(|| {
        Error::NotFound(format!("pod {namespace}/{pod} is not running on this node"))
    })?;
    if !k.runtime.reaches_pods() {
        return Err(Error::BadRequest(format!(
            "port-forward to pod {pod} is not possible: the {} runtime simulates containers and gives pods no network",
            k.runtime.scheme()
        )));
    }
    let sandbox = k
        .runtime
        .list_pod(&uid)
        .await?
        .into_iter()
        .find(|r| r.sandbox && r.running())
        .ok_or_else(|| Error::BadRequest(format!("pod {pod} has no running sandbox")))?;
    // A hostNetwork pod's network is the host's: its ports are on loopback.
    let host_network = k
        .workers
        .lock()
        .unwrap()
        .get(&uid)
        .and_then(|w| w.pod())
        .is_some_and(|p| p.decode().spec.and_then(|s| s.host_network) == Some(true));
    let ip = match host_network {
        true => Some("127.0.0.1".to_string()),
        false => sandbox.ip.filter(|ip| !ip.is_empty()),
    }
    .ok_or_else(|| Error::BadRequest(format!("pod {pod} has no IP yet")))?;
    Ok(portforward::Target {
        pod: sandbox.id,
        uid,
        ip,
    })
}

async fn summary(Extension(k): Extension<Arc<Kubelet>>) -> Response {
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

async fn resource_metrics(Extension(k): Extension<Arc<Kubelet>>) -> Response {
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
