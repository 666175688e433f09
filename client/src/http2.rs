//! The HTTP stack under every component's API client: HTTP/2 where the
//! server offers it, so all of a component's requests and watches share one
//! connection, as client-go's do with kube-apiserver.
//!
//! kube's own client (`kube::Client::try_from(config)`) speaks HTTP/1.1
//! only, and HTTP/1.1 carries one request at a time per connection: in a
//! burst of 10,000 pods the controller-manager held 850 connections, the
//! scheduler 508 and the simulated kubelet 2,752, each opened with a TLS
//! handshake and each holding buffers in the API server. This builds the
//! same stack kube builds — base URI, authentication, extra headers, kube's
//! retry of 429/503/504, the connect, read and write timeouts — over a
//! connector that offers `h2` and `http/1.1` by ALPN. A server that does not choose `h2`
//! (a plain-HTTP one, say) is spoken to in HTTP/1.1 as before.
//!
//! Like client-go (`ReadIdleTimeout` 30 s, `PingTimeout` 15 s), the client
//! pings a quiet HTTP/2 connection and drops it if the server stops
//! answering: every request on it then fails, and its caller retries on a
//! new connection as after any connection error.
//! That, not the per-read timeout, is what ends requests to a hung server
//! over HTTP/2: the one connection's reads never go quiet for long while
//! any watch on it is busy.
//!
//! Where minik simplifies: a kubeconfig with a `proxy-url` falls back to
//! kube's own HTTP/1.1 client; nothing minik starts uses one.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::{Body, ConfigExt};
use tower::{BoxError, ServiceBuilder};

/// How long an HTTP/2 connection may be quiet before it is pinged, and how
/// long the answer may take (client-go's defaults).
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// A client for `config` that speaks HTTP/2 to a server offering it.
pub fn client(config: kube::Config) -> Result<kube::Client, kube::Error> {
    if config.proxy_url.is_some() {
        return kube::Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let tls = config.rustls_client_config()?;
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = config.tls_server_name.as_ref() {
        let name = name
            .clone()
            .try_into()
            .map_err(kube::client::RustlsTlsError::InvalidServerName)
            .map_err(kube::Error::RustlsTls)?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = https.enable_all_versions().wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let transport = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_INTERVAL)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .build::<_, Body>(connector);
    let retry = config
        .default_retry
        .then(|| tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(transport);
    Ok(kube::client::ClientBuilder::new(service, config.default_namespace).build())
}
