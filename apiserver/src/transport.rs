//! Transport: how connections are accepted, and what a connection says
//! about its caller. Handlers never look at either.
//!
//! HTTPS (rustls, `ring` provider) offers HTTP/2 and HTTP/1.1 by ALPN, as
//! kube-apiserver does: kubectl, client-go and minik's own components
//! multiplex every request and watch over one HTTP/2 connection, while
//! upgrades (`exec`, `attach`, `port-forward`) and clients without ALPN
//! speak HTTP/1.1. The handshake asks for a
//! client certificate and verifies any that is sent against the client CA;
//! the verified certificate travels with each request as a [`Peer`] for
//! `authentication.rs`, then `authorization.rs` decides. Without a
//! certificate the handshake still succeeds (a bearer token or anonymous,
//! as kube-apiserver allows). Plain HTTP only behind an explicit flag.
//!
//! Connection hygiene — what a misbehaving client cannot do to the server:
//! - hold a connection by never finishing its headers (slowloris): hyper's
//!   header read timeout drops it after `Limits::header_timeout`. A
//!   keep-alive connection waiting for its next request is waiting for
//!   headers too, so the same timer closes idle connections (kube-apiserver
//!   has `ReadHeaderTimeout` 32s and `IdleTimeout` 90s; hyper has one timer
//!   for both, so minik uses the shorter). An HTTP/2 connection may open
//!   at most [`HTTP2_MAX_STREAMS`] streams at once, each with a receive window
//!   of [`HTTP2_STREAM_WINDOW`] (kube-apiserver's 256 KiB), and is pinged
//!   every [`HTTP2_PING_INTERVAL`] and closed if its peer stops answering.
//!   Where minik simplifies: kube-apiserver also closes an HTTP/2 connection
//!   idle for 90 s; hyper has no such timer, so an idle HTTP/2 connection
//!   that answers pings stays open (still counted against the limit below);
//! - hold a request by never finishing its body: the handler reads the body
//!   under `Limits::body_timeout` (see `rest::dispatch`);
//! - exhaust file descriptors with open connections: at most
//!   `Limits::max_connections` are served at once. Past that a connection
//!   is still accepted, answered `429 TooManyRequests` (a `Status` with
//!   `Retry-After`) and closed — except the health probes, which are
//!   answered `ok` as kube-apiserver's priority and fairness exempts them.
//!   A few more (`REFUSING`) may be waiting for their refusal; beyond that a
//!   connection is closed at once. Over HTTP/1.1 every watch holds a
//!   connection of its own, so the default limit leaves room for hundreds.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use minik_client::tls::ClientAuth;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::authentication::{self, Authenticator, Peer};
use crate::authorization::{self, Authorizer};
use crate::error::ApiError;
use crate::impersonation;

/// How callers are told apart: TLS (with the client CA) or plain HTTP, and
/// the static tokens.
#[derive(Clone)]
pub struct Security {
    pub tls: Option<TlsAcceptor>,
    pub authenticator: Arc<Authenticator>,
    pub authorizer: Arc<Authorizer>,
}

/// The serving certificate, its key and the CA client certificates must be
/// signed by (`--tls-cert-file`, `--tls-private-key-file`, `--client-ca-file`).
pub use minik_client::tls::TlsFiles;

/// The rustls acceptor for `files`: client certificates asked for,
/// verified if sent, optional.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let mut config = minik_client::tls::server_config(files, ClientAuth::Optional)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What one client may hold of the server (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once, watches included.
    pub max_connections: usize,
    /// Time to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    pub header_timeout: Duration,
    /// Time to send a request's body once its headers are in.
    pub body_timeout: Duration,
}

/// The body deadline, attached to every request for the handler that reads
/// the body (it is the one that knows whether there is one to read).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Connections past the limit that may wait for their refusal at once; more
/// are closed without an answer, so refusing costs a bounded number of fds.
const REFUSING: usize = 64;

/// Longest a refused connection is kept: long enough to read a request
/// line and answer it, short enough that refusals do not pile up.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);

/// Pause after a failed accept (for example EMFILE: no file descriptor
/// left), so the loop does not spin while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a connection may take to finish its response once the server
/// is stopping; then it is closed (a client that never reads would
/// otherwise hold the shutdown for ever).
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// Streams one HTTP/2 connection may have open at once. kube-apiserver
/// allows 100, and a Go client past it opens another connection; hyper's
/// client queues requests instead, and a controller-manager's watches alone
/// (one stream each, for as long as they run) come near 100. So minik
/// allows what kube-apiserver allows its aggregated API servers' clients.
pub const HTTP2_MAX_STREAMS: u32 = 1000;

/// Bytes a client may send on one HTTP/2 stream before the server reads
/// them (kube-apiserver's `MaxUploadBufferPerStream`, sized for the 99th
/// percentile of request bodies).
pub const HTTP2_STREAM_WINDOW: u32 = 256 * 1024;

/// Bytes a client may send on one HTTP/2 connection, all streams together,
/// before the server reads them: kube-apiserver's
/// `MaxUploadBufferPerConnection` with its 100 streams (256 KiB each), so
/// the thousand streams minik allows do not let one connection buffer
/// 256 MB of unread request bodies.
const HTTP2_CONNECTION_WINDOW: u32 = HTTP2_STREAM_WINDOW * 100;

/// How often an HTTP/2 connection is pinged, and how long an answer may take.
pub const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves the router on the listener until `shutdown` resolves, then waits
/// for open connections to finish (open watches end when the hub closes).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    security: Security,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The outermost layer runs first: who, as whom, may they, then the handler.
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            security.authorizer.clone(),
            authorization::authorize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            security.authorizer.clone(),
            impersonation::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            security.authenticator.clone(),
            authentication::authenticate,
        ))
        .layer(axum::Extension(BodyTimeout(limits.body_timeout)));
    let serving = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    // Every connection task holds a receiver; shutdown is complete when the
    // last one is dropped.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; backing off");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = serving.clone().try_acquire_owned() {
            let (app, stop, open) = (app.clone(), stop_rx.clone(), open_rx.clone());
            let tls = security.tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => {
                        serve_connection(stream, Peer::Insecure, false, app, limits, stop).await
                    }
                    Some(tls) => {
                        // The handshake is bounded like a request's headers.
                        let accepted =
                            tokio::time::timeout(limits.header_timeout, tls.accept(stream)).await;
                        match accepted {
                            Ok(Ok(stream)) => {
                                let (_, session) = stream.get_ref();
                                let certificate = session
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .map(|c| c.as_ref());
                                let peer = Peer::from_certificate(certificate);
                                let h2 = session.alpn_protocol() == Some(b"h2");
                                serve_connection(stream, peer, h2, app, limits, stop).await
                            }
                            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        }
                    }
                }
                drop((permit, open));
            });
        } else if security.tls.is_some() {
            tracing::debug!(
                limit = limits.max_connections,
                "connection limit reached; closing"
            );
            drop(stream);
        } else if let Ok(permit) = refusing.clone().try_acquire_owned() {
            tracing::debug!(
                limit = limits.max_connections,
                "connection limit reached; refusing"
            );
            tokio::spawn(refuse(stream, permit));
        } else {
            drop(stream);
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// One connection: HTTP/2 if the TLS handshake chose it, else HTTP/1.1
/// (clients of a plain-HTTP kube-apiserver do not speak HTTP/2 without TLS)
/// with upgrades for `exec`'s WebSocket.
async fn serve_connection<S>(
    stream: S,
    peer: Peer,
    h2: bool,
    app: Router,
    limits: Limits,
    stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer.clone());
            tower::ServiceExt::oneshot(app.clone(), req)
        });
    if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(HTTP2_MAX_STREAMS)
            .initial_stream_window_size(HTTP2_STREAM_WINDOW)
            .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
            .keep_alive_interval(HTTP2_PING_INTERVAL)
            .keep_alive_timeout(HTTP2_PING_TIMEOUT);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        drive(conn, stop, |c| c.graceful_shutdown()).await;
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        drive(conn, stop, |c| c.graceful_shutdown()).await;
    }
}

/// Runs a connection until it ends; once the server is stopping, lets it
/// finish what is in flight (at most [`SHUTDOWN_DRAIN`]), then closes it.
async fn drive<C, E>(
    conn: C,
    mut stop: watch::Receiver<bool>,
    graceful_shutdown: impl Fn(std::pin::Pin<&mut C>),
) where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    let drain = tokio::time::sleep(Duration::MAX);
    let mut drain = std::pin::pin!(drain);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                // Finish the request in flight, then close.
                graceful_shutdown(conn.as_mut());
                stopping = true;
                drain.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_DRAIN);
            }
            // A client that stopped reading cannot hold the shutdown up.
            _ = &mut drain => return,
        }
    }
}

/// A connection past the limit: the health probes get their `ok`, anything
/// else a 429 `Status`; then the connection is closed. (Over TLS the
/// refusal is a closed connection: a handshake per refusal would cost what
/// the limit is there to save.)
async fn refuse(stream: TcpStream, permit: OwnedSemaphorePermit) {
    let service =
        hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
            let response = match req.uri().path() {
                "/healthz" | "/livez" | "/readyz" => "ok".into_response(),
                _ => ApiError::too_many_requests(1).into_response(),
            };
            Ok::<_, Infallible>(response)
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_DEADLINE)
        .keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_DEADLINE, conn).await;
    drop(permit);
}
