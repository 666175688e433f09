//! The Ingress HTTP listener: route, then reverse-proxy to an endpoint.
//!
//! Plays ingress-nginx's data plane: requests go straight to a ready
//! endpoint of the backend service (not through its ClusterIP, as
//! ingress-nginx does), with the usual proxy headers (`X-Forwarded-For`,
//! `-Host`, `-Proto`, `-Port`, `X-Real-IP`), the client's `Host` kept, and
//! hop-by-hop headers dropped. `Upgrade` requests (WebSocket) are passed
//! through: once the endpoint answers 101, bytes are spliced both ways.
//! Answers of its own: 404 (`default backend - 404`) when nothing
//! matches, 503 when the backend service has no ready endpoint (or does
//! not exist), 502 when the endpoint cannot be reached. HTTP/1.1 only;
//! the same server answers HTTPS on its TLS listener ([`super::tls`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::routes::{BackendPort, RouteTable, Target};
use crate::backends::Backends;

type Body = BoxBody<Bytes, hyper::Error>;

/// The routing table with each target resolved to its service port's balancer.
#[derive(Default)]
pub struct Routes {
    pub table: RouteTable,
    /// `(namespace, service, port)` → balancer; absent = no such service port.
    pub backends: HashMap<(String, String, BackendPort), Arc<Backends>>,
}

/// Swapped whole by the sync loop whenever anything changes.
pub type SharedRoutes = Arc<RwLock<Arc<Routes>>>;

/// Serves HTTP on `listener` (HTTPS with `tls`) until the task is aborted.
pub async fn serve(
    listener: TcpListener,
    routes: SharedRoutes,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let local_port = listener.local_addr().map(|a| a.port()).unwrap_or(80);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, "ingress accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let routes = routes.clone();
        let client = client.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let scheme = if acceptor.is_some() { "https" } else { "http" };
            let service = hyper::service::service_fn(move |req| {
                handle(
                    req,
                    peer,
                    local_port,
                    scheme,
                    routes.clone(),
                    client.clone(),
                )
            });
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(acceptor) => {
                    // A handshake that stalls is dropped with its connection.
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    );
                    if let Ok(Ok(stream)) = handshake.await {
                        let _ = http
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    }
                }
                None => {
                    let _ = http
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                }
            }
        });
    }
}

async fn handle(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    local_port: u16,
    scheme: &'static str,
    routes: SharedRoutes,
    client: Client<HttpConnector, Incoming>,
) -> Result<Response<Body>, Infallible> {
    let host_header = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let host = strip_port(&host_header);
    let routes = routes.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(route) = routes.table.route(host, req.uri().path()) else {
        return Ok(text(StatusCode::NOT_FOUND, "default backend - 404\n"));
    };
    let Some(endpoint) = routes
        .backends
        .get(&key(&route.target))
        .and_then(|b| b.pick(peer.ip()))
    else {
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "503 Service Temporarily Unavailable\n",
        ));
    };

    let path_and_query = match req.uri().query() {
        Some(q) => format!("{}?{q}", route.path),
        None => route.path.clone(),
    };
    let Ok(uri) = format!("http://{endpoint}{path_and_query}").parse::<Uri>() else {
        return Ok(text(StatusCode::BAD_REQUEST, "400 Bad Request\n"));
    };
    *req.uri_mut() = uri;
    let upgrade = upgrade_protocol(req.headers());
    strip_hop_by_hop(req.headers_mut());
    let headers = req.headers_mut();
    if let Some(proto) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, proto.clone());
    }
    let client_ip = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {client_ip}"),
        None => client_ip.clone(),
    };
    set(headers, "x-forwarded-for", &forwarded_for);
    set(headers, "x-forwarded-host", &host_header);
    set(headers, "x-forwarded-proto", scheme);
    set(headers, "x-forwarded-port", &local_port.to_string());
    set(headers, "x-real-ip", &client_ip);

    let downstream = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let mut response = match client.request(req).await {
        Ok(r) => r,
        Err(error) => {
            tracing::debug!(%endpoint, %error, "ingress backend failed");
            return Ok(text(StatusCode::BAD_GATEWAY, "502 Bad Gateway\n"));
        }
    };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(downstream) = downstream {
            let upstream = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                if let (Ok(down), Ok(up)) = tokio::join!(downstream, upstream) {
                    let _ = tokio::io::copy_bidirectional(
                        &mut TokioIo::new(down),
                        &mut TokioIo::new(up),
                    )
                    .await;
                }
            });
        }
    } else {
        strip_hop_by_hop(response.headers_mut());
    }
    Ok(response.map(|b| b.boxed()))
}

fn key(t: &Target) -> (String, String, BackendPort) {
    (t.namespace.clone(), t.service.clone(), t.port.clone())
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// The `Upgrade` protocol when the request asks for one (`Connection: upgrade`).
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), including those the
/// `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(strip_port("shop.test:8080"), "shop.test");
        assert_eq!(strip_port("shop.test"), "shop.test");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }
}
