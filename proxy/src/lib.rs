//! # minik-proxy: Services and Ingress made real
//!
//! Models kube-proxy (ClusterIP and NodePort), k3s's ServiceLB
//! (LoadBalancer) and an ingress controller (ingress-nginx) in one process
//! on the host. Everything is driven by watches: any change to Services,
//! EndpointSlices, Ingresses or IngressClasses wakes one sync loop that brings
//! listeners, balancers, DNAT rules, routes and statuses in line with the
//! cluster — level-triggered, like kube-proxy's `syncProxyRules`.
//!
//! A tour:
//! - [`watch`]: the reflectors and the change signal.
//! - [`plan`]: Services + EndpointSlices → per service port: ready endpoints and
//!   frontends (ClusterIP, NodePort, LoadBalancer). Pure.
//! - [`proxier`]: applies a plan — balancers updated in place, listeners
//!   started/stopped; [`socket`] binds them.
//! - [`backends`]: round-robin and ClientIP affinity over ready endpoints.
//! - [`tcp`], [`udp`]: the userspace data path.
//! - [`nat`]: the kernel fast path (iptables DNAT) in front of the TCP
//!   listeners, for what the kernel can do alone.
//! - [`network_policy`]: NetworkPolicy enforced with iptables filter rules
//!   on the pod network (in iptables mode).
//! - [`loadbalancer`]: `status.loadBalancer` for LoadBalancer services.
//! - [`ingress`]: IngressClass selection, the routing table, the HTTP
//!   reverse proxy (WebSocket included) and Ingress status.
//! - [`route`]: the local route that makes the service CIDR bindable.
//! - [`events`]: Kubernetes Events, each said once.
//! - [`command`]: runs `ip` and the iptables tools.
//! - this file: [`Config`], [`start`] and the sync loop, [`Error`].
//!
//! Where minik simplifies on purpose: every frontend is a userspace
//! listener (kube-proxy's original mode), and in the default iptables
//! mode DNAT rules take new TCP connections to ready endpoints before they
//! reach it; either way a backend sees this host's address, not a
//! calling pod's (the rules masquerade what pods send); there is one node
//! (the host) whatever the number of kubelets, so traffic policies and
//! topology are moot; no `externalIPs`, no SCTP; Ingress serves HTTP/1.1
//! (and HTTPS for `spec.tls` hosts); annotations other than `rewrite-target` are reported and
//! ignored.

pub mod backends;
pub mod cli;
pub mod command;
pub mod events;
pub mod ingress;
pub mod loadbalancer;
pub mod nat;
pub mod network_policy;
pub mod plan;
pub mod proxier;
pub mod route;
pub mod socket;
pub mod tcp;
pub mod udp;
pub mod watch;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::task::JoinSet;

use crate::ingress::class::Identity;
use crate::ingress::server::SharedRoutes;
use crate::ingress::IngressController;
use crate::plan::{Addressing, ClusterIpBind};
use crate::proxier::Proxier;
use crate::route::LocalRoute;

/// How soon frontends that could not be bound are tried again.
const RETRY_FAILED_BINDS: Duration = Duration::from_secs(5);

/// The crate's errors; all happen at start and none is retryable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("service CIDR route: {0}")]
    Route(String),
    #[error("cannot listen for Ingress traffic on {addr}: {source}")]
    IngressListen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("Ingress TLS: {0}")]
    IngressTls(String),
}

/// kube-proxy's `--proxy-mode`, as far as minik has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// DNAT rules in chains named `<prefix>-…` in front of the listeners
    /// (see [`nat`]); the listeners alone if iptables cannot be used.
    Iptables { chain_prefix: String },
    /// The userspace listeners only.
    Userspace,
}

/// How minik-proxy runs.
pub struct Config {
    pub client: kube::Client,
    /// The service CIDR whose local route the proxy ensures (`None`: leave routes alone).
    pub service_cidr: Option<IpNet>,
    /// Where ClusterIPs are served (the IPs themselves, or loopback for tests).
    pub cluster_ips: ClusterIpBind,
    /// Whether the kernel fast path is used.
    pub mode: ProxyMode,
    /// The node IP: reported as LoadBalancer and Ingress address.
    pub node_ip: Option<IpAddr>,
    /// Addresses NodePort and LoadBalancer ports listen on.
    pub node_addresses: Vec<IpAddr>,
    /// The Ingress HTTP listener (`None`: no Ingress controller).
    pub ingress_listen: Option<SocketAddr>,
    /// The Ingress HTTPS listener, for Ingresses with `spec.tls` (`None`:
    /// none; only with an HTTP listener).
    pub ingress_tls_listen: Option<SocketAddr>,
    /// The IngressClass name and controller this proxy answers to.
    pub ingress_identity: Identity,
    /// How long an idle UDP session to an endpoint lives.
    pub udp_idle: Duration,
}

impl Config {
    /// minik's defaults: the 10.96.0.0/16 route, ClusterIPs bound directly,
    /// NodePorts and LoadBalancers on 127.0.0.1, Ingress on 127.0.0.1:80.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            service_cidr: Some("10.96.0.0/16".parse().expect("valid")),
            cluster_ips: ClusterIpBind::Direct,
            mode: ProxyMode::Iptables {
                chain_prefix: nat::DEFAULT_PREFIX.into(),
            },
            node_ip: None,
            node_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            ingress_listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 80))),
            ingress_tls_listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 443))),
            ingress_identity: Identity {
                class: "minik".into(),
                controller: "minik.dev/ingress".into(),
            },
            udp_idle: Duration::from_secs(30),
        }
    }
}

/// The fast path, shared by the sync loop and [`Proxy`]'s drop.
type SharedNat = Arc<Mutex<Option<nat::Iptables>>>;

/// A running proxy. Dropping it stops everything and removes the rules
/// and the route it added.
pub struct Proxy {
    /// Where the Ingress listener is bound.
    pub ingress_addr: Option<SocketAddr>,
    /// Where the Ingress HTTPS listener is bound.
    pub ingress_tls_addr: Option<SocketAddr>,
    tasks: JoinSet<()>,
    nat: SharedNat,
    network_policy: network_policy::SharedRules,
    _route: Option<LocalRoute>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
        // Taken under the lock, so a sync in flight finishes first and no
        // later one can write rules again.
        let rules = self.nat.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(rules);
        let rules = self
            .network_policy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(rules);
    }
}

impl Proxy {
    /// Runs until a task ends (they only end if the process is stopping).
    pub async fn wait(mut self) {
        self.tasks.join_next().await;
    }
}

/// One Ingress listener (HTTP or HTTPS): at its configured address, and
/// at the node IP on the same port when that address is another single
/// one (loopback, by default). The node IP is the Ingress's reported
/// address, as k3s reports the nodes its ingress listens on, so it must
/// answer — from the host and from pods, which reach the host there.
struct IngressListeners {
    listeners: Vec<tokio::net::TcpListener>,
    bound: SocketAddr,
    on_node_ip: bool,
}

impl IngressListeners {
    fn bind(addr: SocketAddr, node_ip: Option<IpAddr>) -> Result<Self, Error> {
        let first =
            socket::tcp_listener(addr).map_err(|source| Error::IngressListen { addr, source })?;
        let bound = first.local_addr().unwrap_or(addr);
        let mut listeners = vec![first];
        let mut on_node_ip = false;
        if let Some(ip) = node_ip.filter(|ip| *ip != bound.ip() && !bound.ip().is_unspecified()) {
            // Not fatal: the configured address still serves, and the
            // status then names it instead.
            match socket::tcp_listener(SocketAddr::new(ip, bound.port())) {
                Ok(l) => {
                    listeners.push(l);
                    on_node_ip = true;
                }
                Err(error) => {
                    tracing::warn!(%error, %ip, port = bound.port(), "the Ingress cannot listen on the node IP; it answers on {bound} only")
                }
            }
        } else {
            on_node_ip = node_ip.is_some();
        }
        Ok(Self {
            listeners,
            bound,
            on_node_ip,
        })
    }

    /// Serves `routes` on every listener; the configured address's bound form.
    fn serve(
        self,
        tasks: &mut JoinSet<()>,
        routes: &SharedRoutes,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> SocketAddr {
        for listener in self.listeners {
            tasks.spawn(ingress::server::serve(
                listener,
                routes.clone(),
                tls.clone(),
            ));
        }
        self.bound
    }
}

/// Ensures the route, binds the Ingress listeners, starts watches and the sync loop.
pub async fn start(config: Config) -> Result<Proxy, Error> {
    let route = config.service_cidr.map(LocalRoute::ensure).transpose()?;
    let nat: SharedNat = Arc::new(Mutex::new(match &config.mode {
        ProxyMode::Iptables { chain_prefix } => match nat::Iptables::install(chain_prefix) {
            Ok(rules) => {
                tracing::info!(prefix = %chain_prefix, "proxy mode iptables: DNAT rules in front of the listeners");
                Some(rules)
            }
            Err(error) => {
                tracing::warn!(%error, "iptables cannot be used; every connection goes through the userspace listeners");
                None
            }
        },
        ProxyMode::Userspace => None,
    }));
    let mut tasks = JoinSet::new();
    let policy_prefix = match &config.mode {
        ProxyMode::Iptables { chain_prefix } => Some(chain_prefix.as_str()),
        ProxyMode::Userspace => None,
    };
    let network_policy = network_policy::start(&config.client, policy_prefix, &mut tasks);
    let caches = watch::Caches::start(&config.client, &mut tasks);
    let status_ip = config.node_ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let http = config
        .ingress_listen
        .map(|addr| IngressListeners::bind(addr, config.node_ip))
        .transpose()?;
    let tls_listeners = config
        .ingress_tls_listen
        .filter(|_| http.is_some())
        .map(|addr| IngressListeners::bind(addr, config.node_ip))
        .transpose()?;
    // An Ingress's address is where it answers: the node IP when the
    // listener is there too, else the one address it is bound to.
    let ingress_status_ip = match &http {
        Some(l) if !l.on_node_ip && !l.bound.ip().is_unspecified() => l.bound.ip(),
        _ => status_ip,
    };
    let mut ingress = IngressController::new(
        config.client.clone(),
        config.ingress_identity.clone(),
        ingress_status_ip,
    );
    let ingress_addr = http.map(|l| {
        tracing::info!(addr = %l.bound, on_node_ip = l.on_node_ip, "serving Ingress");
        l.serve(&mut tasks, &ingress.routes(), None)
    });
    let ingress_tls_addr = match tls_listeners {
        Some(l) => {
            let tls = ingress
                .certificates()
                .server_config()
                .map_err(Error::IngressTls)?;
            tracing::info!(addr = %l.bound, on_node_ip = l.on_node_ip, "serving Ingress over HTTPS");
            Some(l.serve(&mut tasks, &ingress.routes(), Some(Arc::new(tls))))
        }
        None => None,
    };
    let addressing = Addressing {
        cluster_ips: config.cluster_ips,
        node_addresses: config.node_addresses.clone(),
    };
    let client = config.client.clone();
    let udp_idle = config.udp_idle;
    let serve_ingress = config.ingress_listen.is_some();
    let loop_nat = nat.clone();
    tasks.spawn(async move {
        if !caches.ready().await {
            return;
        }
        let mut proxier = Proxier::new(udp_idle);
        let mut lb_events = events::Events::new(client.clone(), "service-controller");
        loop {
            let services = caches.services.state();
            let plans = plan::plan(&services, &caches.endpoints.state(), &addressing);
            for p in &plans {
                tracing::debug!(service = %format!("{}/{}", p.key.namespace, p.key.service), port = %p.key.port_name, endpoints = ?p.endpoints, "sync");
            }
            let failures = proxier.apply(&plans);
            for f in &failures {
                tracing::warn!(service = %format!("{}/{}", f.key.namespace, f.key.service), "{}", f.reason);
            }
            let mut rules_written = true;
            if let Some(rules) = loop_nat.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                let services = nat::select(&plans, |k, f| proxier.serves(k, f));
                if let Err(error) = rules.sync(services) {
                    tracing::warn!(%error, "cannot write the service rules; the listeners serve meanwhile");
                    rules_written = false;
                }
            }
            loadbalancer::sync(
                &client,
                &mut lb_events,
                &services,
                &plans,
                &proxier,
                &failures,
                status_ip,
            )
            .await;
            if serve_ingress {
                ingress
                    .sync(
                        &caches.ingresses.state(),
                        &caches.classes.state(),
                        &caches.secrets.state(),
                        &services,
                        &proxier.backends(),
                    )
                    .await;
            }
            if failures.is_empty() && rules_written {
                caches.changed.notified().await;
            } else {
                tokio::select! {
                    _ = caches.changed.notified() => {}
                    _ = tokio::time::sleep(RETRY_FAILED_BINDS) => {}
                }
            }
        }
    });
    Ok(Proxy {
        ingress_addr,
        ingress_tls_addr,
        tasks,
        nat,
        network_policy,
        _route: route,
    })
}
