//! # minik-dns: the cluster DNS
//!
//! Models CoreDNS as kubeadm deploys it (the `kube-dns` Service at
//! 10.96.0.10): authoritative for `cluster.local`, built from watches of
//! Services, EndpointSlices and Pods, and a forwarder for every other name.
//! Pods find it because the kubelet writes `nameserver 10.96.0.10`, the
//! search path `<ns>.svc.cluster.local svc.cluster.local cluster.local`
//! and `ndots:5` into their resolv.conf.
//!
//! A tour:
//! - [`zone`]: the records — a pure function of the watched objects
//!   (A, AAAA, SRV, PTR, CNAME, SOA/NS), with NXDOMAIN/NODATA rules.
//! - [`cache`]: the reflectors and the task that rebuilds the zone on change.
//! - [`pod_address`]: the little of each pod the zone needs, decoded straight
//!   from the watch (a pod's name, IPs, hostname and subdomain).
//! - [`handler`]: hickory-server's `RequestHandler`: zone first, then forward.
//! - [`forward`]: upstream resolvers (host's resolv.conf or `--upstream`),
//!   with one short deadline.
//! - this file: [`Config`], [`start`] (binds UDP and TCP on every listen
//!   address, then serves) and the [`Error`] enum.
//!
//! Left out on purpose: caching of forwarded answers, DNSSEC, zone
//! transfers, wildcard queries, `*.pod` "insecure" mode (pod names are
//! verified against watched pods), autopath, and metrics.
//!
//! The cluster DNS IP (10.96.0.10) is inside the service CIDR, which only
//! exists on the host because minik-proxy adds a local route for it.
//! Sockets are bound with `IP_FREEBIND`, so minik-dns can start before the
//! proxy has added that route and starts answering as soon as it exists.

pub mod cache;
pub mod cli;
pub mod forward;
pub mod handler;
pub mod pod_address;
pub mod zone;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::rr::Name;
use hickory_server::Server;
use ipnet::IpNet;
use tokio::task::JoinSet;

use crate::forward::Forwarder;
use crate::handler::ClusterDns;
use crate::zone::ZoneSettings;

/// How long a TCP client may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The crate's errors. None is retryable: they all happen at start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr} ({proto}): {source}")]
    Listen {
        addr: SocketAddr,
        proto: &'static str,
        source: std::io::Error,
    },
    #[error("cannot read upstream resolvers from {path}: {source}")]
    ResolvConf {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid cluster domain {0:?}")]
    Domain(String),
}

/// Where and how minik-dns serves.
pub struct Config {
    pub client: kube::Client,
    /// Addresses to serve UDP and TCP on (port 0: one free port for both).
    pub listen: Vec<SocketAddr>,
    /// Upstream resolvers; empty = the `nameserver`s of `resolv_conf`.
    pub upstreams: Vec<SocketAddr>,
    pub resolv_conf: PathBuf,
    /// Total time allowed for forwarding one query.
    pub forward_timeout: Duration,
    /// The cluster domain (`cluster.local`).
    pub domain: String,
    /// The service CIDR, whose reverse zone is answered authoritatively.
    pub service_cidr: Option<IpNet>,
}

impl Config {
    /// minik's defaults: the cluster DNS IP and a loopback port for debugging.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            listen: vec![
                "10.96.0.10:53".parse().expect("valid"),
                "127.0.0.1:10053".parse().expect("valid"),
            ],
            upstreams: Vec::new(),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            forward_timeout: Duration::from_secs(2),
            domain: "cluster.local".into(),
            service_cidr: Some("10.96.0.0/16".parse().expect("valid")),
        }
    }
}

/// A running minik-dns; dropping it stops it.
pub struct Dns {
    /// The bound addresses (same port for UDP and TCP), in `listen` order.
    pub addrs: Vec<SocketAddr>,
    server: Server<ClusterDns>,
    tasks: JoinSet<()>,
}

impl Dns {
    /// Waits until the server stops (it only stops on error or shutdown).
    pub async fn wait(mut self) -> Result<(), hickory_server::net::NetError> {
        let result = self.server.block_until_done().await;
        self.tasks.abort_all();
        result
    }

    /// Stops serving and watching.
    pub async fn shutdown(mut self) {
        let _ = self.server.shutdown_gracefully().await;
        self.tasks.abort_all();
    }
}

/// Binds every listen address, starts the watches and serves.
pub async fn start(config: Config) -> Result<Dns, Error> {
    let mut domain =
        Name::from_ascii(&config.domain).map_err(|_| Error::Domain(config.domain.clone()))?;
    domain.set_fqdn(true);
    let upstreams = if config.upstreams.is_empty() {
        forward::resolv_conf_nameservers(&config.resolv_conf).map_err(|source| {
            Error::ResolvConf {
                path: config.resolv_conf.clone(),
                source,
            }
        })?
    } else {
        config.upstreams.clone()
    };
    tracing::info!(?upstreams, "forwarding names outside {domain}");

    let zone = Arc::new(RwLock::new(None));
    let handler = ClusterDns::new(
        zone.clone(),
        &domain,
        Forwarder::new(&upstreams, config.forward_timeout),
    );
    let mut server = Server::new(handler);
    let mut addrs = Vec::new();
    for addr in &config.listen {
        let (udp, tcp) = bind_pair(*addr)?;
        addrs.push(udp.local_addr().map_err(|source| Error::Listen {
            addr: *addr,
            proto: "udp",
            source,
        })?);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 64);
    }
    tracing::info!(?addrs, "serving DNS");

    let mut tasks = JoinSet::new();
    let settings = ZoneSettings {
        domain,
        service_cidr: config.service_cidr,
    };
    cache::start(config.client, settings, zone, &mut tasks);
    Ok(Dns {
        addrs,
        server,
        tasks,
    })
}

/// A UDP socket and a TCP listener on the same address and port. With port
/// 0 the UDP port is picked first and TCP takes the same one (retried a few
/// times should TCP's be taken).
fn bind_pair(addr: SocketAddr) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), Error> {
    let attempts = if addr.port() == 0 { 8 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = bind_udp(addr).map_err(|source| Error::Listen {
            addr,
            proto: "udp",
            source,
        })?;
        let port = udp.local_addr().map(|a| a.port()).unwrap_or(addr.port());
        match bind_tcp(SocketAddr::new(addr.ip(), port)) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => last = Some(source),
        }
    }
    Err(Error::Listen {
        addr,
        proto: "tcp",
        source: last.unwrap_or_else(|| std::io::Error::other("no free port")),
    })
}

fn socket(addr: SocketAddr, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    // The service IP may not be local yet (the proxy adds its route).
    match addr {
        SocketAddr::V4(_) => socket.set_freebind_v4(true)?,
        SocketAddr::V6(_) => socket.set_freebind_v6(true)?,
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = socket(addr, socket2::Type::DGRAM)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = socket(addr, socket2::Type::STREAM)?;
    // Restarting must not wait for old connections in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    tokio::net::TcpListener::from_std(socket.into())
}
