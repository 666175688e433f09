//! Who may use the kubelet's API. With `--tls-cert-file`,
//! `--tls-private-key-file` and `--client-ca-file` the kubelet serves HTTPS
//! and a client must present a certificate the cluster CA signed — a
//! connection without one fails in the handshake — and be the API server
//! (`kube-apiserver-kubelet-client`) or in `system:masters`; anyone else
//! gets 403 in the kubelet's words (`Forbidden (user=system:node:node-2,
//! verb=get, resource=nodes, subresource=proxy)`). So logs, exec and stats
//! go through the API server, which authorizes them. Kubernetes' kubelet
//! asks the API server instead (a SubjectAccessReview per request, its
//! webhook authorizer); minik decides from the certificate alone.
//! Without those flags (tests that start kubelets in-process) it serves
//! plain HTTP on loopback.

use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The users the kubelet's API answers.
fn allowed(user: &str, groups: &[String]) -> bool {
    user == "kube-apiserver-kubelet-client" || groups.iter().any(|g| g == "system:masters")
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Serves `app` over TLS on `listener` to the callers [`allowed`] names.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    acceptor: TlsAcceptor,
    k: Arc<crate::context::Kubelet>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (app, acceptor, k) = (app.clone(), acceptor.clone(), k.clone());
        tokio::spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await else {
                tracing::debug!("kubelet TLS handshake failed");
                return;
            };
            let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
            // A resumed session (`server.rs` issues tickets) carries the
            // certificate it was made with, which rustls does not check
            // again: one that has expired since ends the connection, as the
            // full handshake it would need fails (Go's crypto/tls refuses
            // to resume then).
            if cert.is_some_and(|c| !minik_client::pki::is_current(c)) {
                tracing::debug!("kubelet TLS session resumed with an expired certificate");
                return;
            }
            let subject = cert.and_then(|c| minik_client::pki::subject_of(c));
            let app = match subject {
                Some((user, groups)) if allowed(&user, &groups) => app,
                Some((user, _)) => forbidden(user),
                None => forbidden("system:anonymous".into()),
            };
            // The router is the process's; which node this is rides along
            // with each request (`server::router`).
            let app = app.map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(k.clone());
                req
            });
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(32));
            let conn = builder
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "kubelet connection ended");
            }
        });
    }
}

/// A router that refuses every request of `user`.
fn forbidden(user: String) -> Router {
    Router::new().fallback(move |req: axum::extract::Request| {
        let user = user.clone();
        async move {
            let verb = match *req.method() {
                http::Method::POST => "create",
                _ => "get",
            };
            let message =
                format!("Forbidden (user={user}, verb={verb}, resource=nodes, subresource=proxy)");
            (http::StatusCode::FORBIDDEN, message).into_response()
        }
    })
}
