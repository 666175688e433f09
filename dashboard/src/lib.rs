//! # minik-dashboard: watching Kubernetes work, in a browser
//!
//! What Kubernetes Dashboard or kube-ops-view are to a real cluster, cut
//! down to what a classroom needs, and showing what they do not: each
//! controller's decision, with its cause, as it happens. A client of the
//! API like any other component (watches only; it never opens the store):
//! - [`model`]: informer caches of pods, nodes, Deployments, ReplicaSets,
//!   StatefulSets, PersistentVolumeClaims, Services and EndpointSlices,
//!   the newest events.k8s.io Events ([`event_feed`]: no cache of them
//!   all), and the stream of compact deltas every change becomes
//!   ([`compact`]: what the page needs of each object, a few fields, not
//!   the object);
//! - [`stream`]: Server-Sent Events: a snapshot, then deltas batched as
//!   they come, so the page follows the cluster without polling;
//! - [`trace`]: the pod page's `why` trace, built by `minik_client::why`
//!   (the same code as `miniktl why`) from the caches, and pods and Events
//!   read when asked ([`pod_summary`]: the pod cache keeps what the cards
//!   show);
//! - [`actions`]: the classroom controls, each one ordinary API call,
//!   answered with the kubectl command that does the same;
//! - [`step`]: step mode's bar — the step-mode ConfigMap as the page shows
//!   it (what waits, with plans) and its pause / step / resume controls;
//! - [`auth`]: the per-cluster access token (in the printed URL, then a
//!   cookie), as Jupyter guards its notebooks;
//! - [`assets`]: the page (HTML, JavaScript, CSS) compiled into the binary:
//!   no CDN, works offline.
//!
//! Left out: logs, exec, YAML editing, and any kind but the nine above
//! (besides the one step-mode ConfigMap).

pub mod actions;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod compact;
pub mod event_feed;
pub mod model;
pub mod pod_summary;
pub mod step;
pub mod stream;
pub mod trace;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use model::Model;

/// What the dashboard needs to run.
pub struct Config {
    pub client: kube::Client,
    /// Where to listen (loopback; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The access token every request must carry (query or cookie).
    pub token: String,
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub model: Arc<Model>,
    pub token: Arc<str>,
}

/// The dashboard's routes, every one behind the token.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .route("/api/stream", get(stream::sse))
        .route("/api/why/{kind}/{namespace}/{name}", get(trace::why))
        .route("/api/action", post(actions::act))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state)
}

/// A running dashboard: where it listens and the URL to open.
pub struct Running {
    pub addr: SocketAddr,
    pub url: String,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the caches' watches and the HTTP server; returns once listening.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let model = Model::start(config.client.clone());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let state = AppState {
        model: model.clone(),
        token: config.token.clone().into(),
    };
    let app = router(state);
    let task = tokio::spawn(async move {
        // The model lives as long as the server (its informers stop with it).
        let _model = model;
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "dashboard server stopped");
        }
    });
    let url = format!("http://{addr}/?token={}", config.token);
    Ok(Running { addr, url, task })
}
