//! # minik-apiserver: the Kubernetes REST API over a sled store
//!
//! Models kube-apiserver together with etcd. It is the only component that
//! opens the store; every other part of minik — controllers, scheduler,
//! kubelets, `miniktl`, the real `kubectl` — talks to it over HTTP.
//!
//! A request's path through the code:
//! - [`transport`] accepts the connection and authenticates the caller;
//! - [`router`] sends discovery and OpenAPI paths to [`discovery`] and
//!   [`openapi`], and every resource path to [`rest::dispatch`];
//! - [`request`] parses the path against the catalogue, the query and the
//!   Accept header;
//! - a verb handler in [`rest`] (`read`, `create`, `update`, `patch`,
//!   `delete`, `watch`, `scale`, `binding`) applies the lifecycle rules in
//!   [`registry`] inside a mutation sent to [`commit`], the single writer
//!   that group-commits to the [`store`] and publishes to the watch [`hub`];
//!   a create passes [`admission`] (LimitRanger, ResourceQuota) on the way;
//! - errors become Kubernetes `Status` objects in [`error`].
//!
//! At start-up [`store::open_checked`] refuses a damaged store (or, with
//! `--recover`, keeps what is intact); `GET /minik/snapshot` serves a
//! consistent copy of the store from the writer ([`commit::Writer::snapshot`]).
//!
//! Deliberately left out (for now): TLS and authentication (see
//! [`transport`]), admission webhooks (the built-in LimitRanger and
//! ResourceQuota plugins are in [`admission`]), CRDs, protobuf responses (protobuf
//! requests are decoded), aggregated discovery,
//! and field-level server-side apply. Logs and exec are proxied to the
//! pod's kubelet ([`rest::proxy`]).

pub mod admission;
pub mod allocator;
pub mod authentication;
pub mod authorization;
pub mod bootstrap;
pub mod bootstrap_policy;
pub mod certificates;
pub mod cli;
pub mod commit;
pub mod custom_resources;
pub mod decode;
pub mod discovery;
pub mod encryption;
pub mod error;
pub mod etcd_commit;
pub mod etcd_store;
pub mod event_ttl;
pub mod field_manager;
pub mod hub;
pub mod impersonation;
pub mod kubelet_client;
pub mod metrics;
pub mod node_authorizer;
pub mod openapi;
pub mod openapi_v2;
pub mod registry;
pub mod request;
pub mod rest;
pub mod scraper;
pub mod service_account_token;
pub mod store;
pub mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::commit::Writer;
use crate::hub::Hub;
use crate::store::Store;

/// How to run an API server.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// How many recent changes watches can resume from.
    pub watch_history: usize,
    /// `--watch-history-bytes`: the most bytes of encoded changes kept for watches.
    pub watch_history_bytes: usize,
    /// The most bytes one watch may queue for a client that is not reading,
    /// and how long the queue may stay full before the watch is closed.
    pub watch_buffer_bytes: usize,
    pub watch_stall_timeout: std::time::Duration,
    /// `--event-ttl`: Events are deleted this long after their last write.
    pub event_ttl: std::time::Duration,
    /// `--service-cluster-ip-range`: where ClusterIPs come from.
    pub service_cidr: allocator::Cidr,
    /// `--service-node-port-range`.
    pub node_ports: std::ops::RangeInclusive<u16>,
    /// Connections served at once, watches included (one per watch); past
    /// it a connection is answered 429. Far below a 1,024 fd limit, far
    /// above what a cluster's components hold open.
    pub max_connections: usize,
    /// Time to send a request's headers; also how long an idle keep-alive
    /// connection is kept (kube-apiserver's `ReadHeaderTimeout` is 32s).
    pub request_header_timeout: std::time::Duration,
    /// Time to send a request's body (kube-apiserver's request timeout is 60s).
    pub request_body_timeout: std::time::Duration,
    /// `--recover`: start on a damaged store, keeping what is intact.
    pub recover: bool,
    /// `--metrics-resolution`: how often every kubelet's resource metrics
    /// are scraped (metrics-server's default, 15 s).
    pub metrics_resolution: std::time::Duration,
    /// HTTPS with client certificates; `None` serves plain HTTP, where every
    /// caller acts as the cluster admin (`authentication.rs`): in-process
    /// tests and `--insecure-plain-http` only.
    pub tls: Option<transport::TlsFiles>,
    /// `--token-auth-file`: static bearer tokens.
    pub authenticator: Arc<authentication::Authenticator>,
    /// How to reach the kubelets: the API server's client certificate and
    /// the kubelets' CA (`--kubelet-client-certificate`, …); `None` dials
    /// them over plain HTTP.
    pub kubelet_tls: Option<transport::TlsFiles>,
    /// `--encryption-provider-config`: how Secrets are encrypted at rest
    /// (the default here writes them as they are).
    pub encryption: Arc<encryption::Transformer>,
    /// `--service-account-signing-key-file`: signs and checks
    /// ServiceAccount tokens (`None`: a key for this process's life).
    pub service_account_keys: Option<Arc<service_account_token::Keys>>,
    /// `--store etcd://…`: keep the cluster in etcd (shared with other API
    /// servers) instead of sled in `data_dir`.
    pub etcd: Option<etcd_store::EtcdConfig>,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen,
            watch_history: 10_000,
            watch_history_bytes: 64 << 20,
            watch_buffer_bytes: 1 << 20,
            watch_stall_timeout: std::time::Duration::from_secs(5),
            event_ttl: std::time::Duration::from_secs(3600),
            service_cidr: "10.96.0.0/16".parse().expect("valid default"),
            node_ports: 30000..=32767,
            max_connections: 512,
            request_header_timeout: std::time::Duration::from_secs(32),
            request_body_timeout: std::time::Duration::from_secs(60),
            recover: false,
            metrics_resolution: std::time::Duration::from_secs(15),
            tls: None,
            authenticator: Arc::default(),
            encryption: Arc::default(),
            kubelet_tls: None,
            service_account_keys: None,
            etcd: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the store in {dir}: {source}")]
    Store {
        dir: PathBuf,
        source: store::StoreError,
    },
    #[error(
        "refusing to start: the store in {dir} is damaged: {found}.\n\
         Serving it would show clients a cluster that silently went back in time. \
         To recover: with the cluster stopped, restore a backup (`miniktl cluster restore FILE`, \
         or `minik-apiserver --data-dir {dir} --restore-snapshot FILE`), \
         or start once with `--recover` to keep what is intact (what was lost stays lost)",
        dir = dir.display()
    )]
    Damaged { dir: PathBuf, found: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Api(#[from] error::ApiError),
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// Shared by every handler.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub writer: Writer,
    pub hub: Arc<Hub>,
    /// ClusterIPs and NodePorts held by stored Services.
    pub services: allocator::ServiceAllocator,
    /// The address clients are told to use (`host:port`).
    pub advertise: String,
    /// Open watches by client and resource (`GET /metrics`).
    pub watches: Arc<metrics::Watches>,
    /// Requests answered, by client, verb, resource and code (`GET /metrics`).
    pub requests: metrics::Requests,
    /// Serializes the creates a ResourceQuota limits, per namespace
    /// (see [`admission::resource_quota`]).
    pub quota_locks: admission::NamespaceLocks,
    /// Usage scraped from the kubelets (metrics.k8s.io).
    pub resource_metrics: scraper::Scraped,
    /// RBAC: who may do what (also asked by the access reviews).
    pub authorizer: Arc<authorization::Authorizer>,
    /// How the API server dials a kubelet (proxy, scrape).
    pub kubelets: kubelet_client::KubeletClient,
    /// Signs the tokens the TokenRequest API issues.
    pub service_account_keys: Arc<service_account_token::Keys>,
    /// The resources CustomResourceDefinitions add.
    pub custom: custom_resources::CustomResources,
    /// When this server started (the APIServices' creation time).
    pub started: jiff::Timestamp,
}

impl AppState {
    /// Every resource served now, custom ones included.
    pub fn served(&self) -> custom_resources::Served {
        self.custom.served()
    }
}

/// The HTTP routes: fixed paths first, every resource path through the dispatcher.
pub fn router(state: Arc<AppState>) -> Router {
    let ok = || async { "ok" };
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .route("/livez", get(ok))
        .route("/api", get(discovery::core_versions))
        .route("/api/v1", get(discovery::core_resources))
        .route("/apis", get(discovery::group_list))
        .route("/apis/{group}", get(discovery::group))
        .route("/apis/{group}/{version}", get(discovery::group_resources))
        .route("/openapi/v2", get(openapi_v2::document))
        .route("/openapi/v3", get(openapi::root))
        .route("/openapi/v3/{*path}", get(openapi::document))
        .route("/minik/snapshot", get(snapshot))
        .route("/metrics", get(metrics::metrics))
        .fallback(rest::dispatch)
        .with_state(state)
}

/// `GET /minik/snapshot`: the whole store at one revision, what
/// `miniktl cluster backup` saves (etcd's `snapshot save`). Authenticated
/// like every other path (see [`transport`]).
async fn snapshot(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> Result<String, error::ApiError> {
    Ok(state.writer.snapshot().await?.encode())
}

/// A running API server.
pub struct Server {
    pub addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// The etcd store it serves from, if not sled.
    pub etcd: Option<etcd_store::EtcdConfig>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
    writer_done: commit::WriterDone,
    hub: Arc<Hub>,
    /// The Event TTL sweeper; it holds the store until it sees the hub close.
    event_ttl: tokio::task::JoinHandle<()>,
    /// The kubelet scraper (metrics.k8s.io); aborted on stop.
    scraper: tokio::task::JoinHandle<()>,
}

impl Server {
    /// `https://<addr>` (or `http://` without TLS), what a kubeconfig's `server:` holds.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// What the watch hub holds now (history and watch buffers).
    pub fn hub_stats(&self) -> hub::Stats {
        self.hub.stats()
    }

    /// Waits until the server stops (it only stops on error or `stop`).
    pub async fn wait(self) -> Result<(), Error> {
        self.task
            .await
            .map_err(|e| Error::Serve(std::io::Error::other(e)))?
    }

    /// Stops accepting requests, ends open watches, and waits until the
    /// store is closed (so it can be reopened at once).
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.scraper.abort();
        let _ = (&mut self.scraper).await;
        self.hub.close();
        let served = self
            .task
            .await
            .map_err(|e| Error::Serve(std::io::Error::other(e)))?;
        // It ends on the hub's close; until then it holds the store open.
        let _ = self.event_ttl.await;
        let _ = self.writer_done.await;
        served
    }
}

/// Opens the store (refusing a damaged one unless `recover`), binds the
/// listener and serves in the background.
pub async fn start(config: Config) -> Result<Server, Error> {
    let limits = hub::Limits {
        changes: config.watch_history,
        bytes: config.watch_history_bytes,
        watcher_bytes: config.watch_buffer_bytes,
        stall_timeout: config.watch_stall_timeout,
    };
    let (store, hub, writer, writer_done) = match &config.etcd {
        None => open_sled(&config, limits)?,
        Some(etcd) => open_etcd(&config, etcd, limits).await?,
    };
    bootstrap::retry_races(|| bootstrap::ensure_namespaces(&writer)).await?;
    bootstrap::retry_races(|| bootstrap_policy::ensure(&writer)).await?;
    let authorizer = Arc::new(authorization::Authorizer::new(store.clone(), &hub));
    let listener = listen(config.listen).map_err(|source| Error::Listen {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr()?;
    let services = allocator::ServiceAllocator::new(config.service_cidr, config.node_ports.clone());
    bootstrap::load_service_allocations(&*store, &services)?;
    let custom = custom_resources::CustomResources::new(store.clone(), &hub);
    let service_account_keys = config
        .service_account_keys
        .clone()
        .unwrap_or_else(|| Arc::new(service_account_token::Keys::ephemeral()));
    let authenticator = Arc::new(
        config
            .authenticator
            .with_service_accounts(service_account_keys.clone(), store.clone()),
    );
    let state = Arc::new(AppState {
        custom,
        started: jiff::Timestamp::now(),
        store,
        writer,
        hub: hub.clone(),
        services,
        advertise: addr.to_string(),
        watches: Arc::default(),
        requests: Default::default(),
        quota_locks: Default::default(),
        resource_metrics: scraper::Scraped::new(config.metrics_resolution),
        authorizer: authorizer.clone(),
        kubelets: kubelet_client::KubeletClient::new(config.kubelet_tls.as_ref())
            .map_err(Error::Tls)?,
        service_account_keys,
    });
    bootstrap::retry_races(|| bootstrap::ensure_kubernetes_service(&state, addr)).await?;
    let state_revision = state.writer.revision();
    if config.etcd.is_some() {
        tokio::spawn(follow_service_allocations(state.clone()));
    }
    let event_ttl = tokio::spawn(event_ttl::run(state.clone(), config.event_ttl));
    let scraper = tokio::spawn(scraper::run(state.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state);
    let limits = transport::Limits {
        max_connections: config.max_connections,
        header_timeout: config.request_header_timeout,
        body_timeout: config.request_body_timeout,
    };
    let security = transport::Security {
        tls: match &config.tls {
            Some(files) => Some(transport::acceptor(files).map_err(Error::Tls)?),
            None => None,
        },
        authenticator,
        authorizer,
    };
    let tls = security.tls.is_some();
    let task = tokio::spawn(async move {
        transport::serve(listener, app, limits, security, async {
            let _ = rx.await;
        })
        .await
        .map_err(Error::from)
    });
    match &config.etcd {
        None => {
            tracing::info!(%addr, data_dir = %config.data_dir.display(), revision = state_revision, "minik-apiserver serving")
        }
        Some(etcd) => {
            tracing::info!(%addr, etcd = %etcd.endpoints.join(","), prefix = %etcd.prefix, revision = state_revision, "minik-apiserver serving")
        }
    }
    Ok(Server {
        addr,
        tls,
        etcd: config.etcd.clone(),
        shutdown: Some(tx),
        task,
        writer_done,
        hub,
        event_ttl,
        scraper,
    })
}

/// With several API servers on one etcd, each one's allocator learns from
/// the watch hub which ClusterIPs and NodePorts the others took or freed.
/// Where minik simplifies: kube-apiserver keeps the allocation bitmaps in
/// etcd and takes from them with compare-and-swap; here two servers
/// allocating in the same instant (before either hears of the other) can
/// still pick one address.
async fn follow_service_allocations(state: Arc<AppState>) {
    let prefix = minik_api::catalogue::lookup("", "v1", "services")
        .expect("services are served")
        .key_prefix();
    let mut published = state.hub.published();
    let mut cursor = *published.borrow_and_update();
    let closed = state.hub.closed();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            _ = &mut closed => return,
            changed = published.changed() => if changed.is_err() { return },
        }
        match state.hub.changes_after(cursor, usize::MAX) {
            Ok(changes) => {
                for c in changes {
                    cursor = c.revision;
                    if !c.key.starts_with(prefix.as_str()) {
                        continue;
                    }
                    match c.event_type {
                        hub::EventType::Deleted => state.services.release(&c.decode_object()),
                        _ => state.services.load(&c.decode_object()),
                    }
                }
            }
            // Fell behind the history: read every Service again.
            Err(expired) => {
                cursor = expired.oldest;
                if let Err(e) = bootstrap::load_service_allocations(&*state.store, &state.services)
                {
                    tracing::warn!(error = ?e, "cannot reload the Services' allocations");
                }
            }
        }
    }
}

type Opened = (Arc<dyn Store>, Arc<Hub>, Writer, commit::WriterDone);

/// The sled store in `data_dir`, checked against its marker, and its writer thread.
fn open_sled(config: &Config, limits: hub::Limits) -> Result<Opened, Error> {
    let opened = store::open_checked(&config.data_dir, config.recover, config.encryption.clone())
        .map_err(|e| match e {
        store::StoreError::Damaged(found) => Error::Damaged {
            dir: config.data_dir.clone(),
            found,
        },
        source => Error::Store {
            dir: config.data_dir.clone(),
            source,
        },
    })?;
    if let Some(report) = &opened.recovered {
        tracing::warn!(data_dir = %config.data_dir.display(), "{report}");
    }
    let store: Arc<dyn Store> = Arc::new(opened.store);
    let revision = store.revision().map_err(|source| Error::Store {
        dir: config.data_dir.clone(),
        source,
    })?;
    let hub = Arc::new(Hub::new(revision, limits));
    let (writer, writer_done) =
        Writer::start(store.clone(), hub.clone(), opened.marker, opened.objects)?;
    Ok((store, hub, writer, writer_done))
}

/// An etcd store: the hub follows etcd from `watch_history` revisions back
/// (so watches resume across restarts), writes are transactions.
async fn open_etcd(
    config: &Config,
    etcd: &etcd_store::EtcdConfig,
    limits: hub::Limits,
) -> Result<Opened, Error> {
    let store_error = |source| Error::Store {
        dir: PathBuf::from(etcd.endpoints.join(",")),
        source,
    };
    let store = Arc::new(
        etcd_store::EtcdStore::connect(etcd, config.encryption.clone())
            .await
            .map_err(store_error)?,
    );
    let current = store.current_revision().await.map_err(store_error)?;
    let history_from = current.saturating_sub(limits.changes as u64);
    let hub = Arc::new(Hub::new(history_from, limits));
    let shared = etcd_commit::SharedWriter::start(store.clone(), hub.clone(), history_from).await?;
    let store: Arc<dyn Store> = store;
    let (writer, writer_done) = Writer::shared(shared, store.clone());
    Ok((store, hub, writer, writer_done))
}

/// The listening socket, with the longest accept queue the kernel allows.
/// A thousand simulated kubelets open connections in bursts; tokio's
/// default backlog (1,024) overflowed and their connects were dropped and
/// retried ("client error (Connect)"). Go's listener, and so
/// kube-apiserver's, asks for `net.core.somaxconn`; asking for more gets
/// exactly that, as the kernel caps it.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(65_535)
}

/// Runs until the process is stopped.
pub async fn run(config: Config) -> Result<(), Error> {
    start(config).await?.wait().await
}
