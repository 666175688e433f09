//! Transport and authentication, kept in one place: how connections are
//! accepted and who a request is from. Handlers never look at either.
//!
//! Today minik serves plain HTTP and admits every request (like a
//! kube-apiserver with anonymous auth and AlwaysAllow authorization) because
//! it listens on loopback for one student's laptop. TLS would wrap the
//! listener in `serve`; bearer tokens would be checked in `authenticate`.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;

/// The identity a request was authenticated as.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
}

/// Authentication middleware: attaches the caller's identity to the request.
pub async fn authenticate(mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(User {
        name: "system:anonymous".into(),
    });
    next.run(req).await
}

/// Serves the router on the listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.layer(axum::middleware::from_fn(authenticate)))
        .with_graceful_shutdown(shutdown)
        .await
}
