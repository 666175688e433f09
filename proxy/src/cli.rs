//! The `minik-proxy` command line: its flags, then [`crate::start`] until
//! Ctrl-C or SIGTERM; on a clean stop the iptables rules and the
//! service-CIDR route it added are removed (`miniktl cluster down` removes
//! both as well, should the proxy be killed: it runs `minik-proxy
//! --cleanup`).
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::plan::ClusterIpBind;
use crate::ProxyMode;
use anyhow::Context;
use clap::Parser;

/// kube-proxy's `--proxy-mode` values that minik implements.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// DNAT rules for TCP services in front of the userspace listeners.
    Iptables,
    /// Userspace listeners only.
    Userspace,
}

/// minik's service proxy: ClusterIP, NodePort, LoadBalancer and Ingress.
#[derive(Parser, Debug)]
#[command(name = "minik-proxy", version)]
struct Args {
    /// Kubeconfig of the cluster (else KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The service CIDR; the proxy adds its local route if missing.
    #[arg(long, default_value = "10.96.0.0/16")]
    service_cidr: ipnet::IpNet,
    /// Do not add (or remove) the service-CIDR route.
    #[arg(long)]
    no_route: bool,
    /// The node IP (the cluster network's gateway): NodePorts,
    /// LoadBalancers and the Ingress listen on it too, and it is the
    /// reported EXTERNAL-IP and Ingress ADDRESS.
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// HTTP address of the Ingress controller ("none" to disable).
    #[arg(long, default_value = "127.0.0.1:80")]
    ingress_listen: String,
    /// HTTPS address of the Ingress controller, for Ingresses with `tls`
    /// ("none" to disable).
    #[arg(long, default_value = "127.0.0.1:443")]
    ingress_tls_listen: String,
    /// Debugging without the route: serve ClusterIP a.b.c.d at 127.X.c.d
    /// (give 127.X.0.0; needs a service CIDR of /16 or smaller).
    #[arg(long, value_name = "127.X.0.0")]
    cluster_ip_loopback: Option<Ipv4Addr>,
    /// Idle timeout of UDP sessions, in seconds.
    #[arg(long, default_value_t = 30)]
    udp_idle_timeout: u64,
    /// How connections reach endpoints (kube-proxy's flag).
    #[arg(long, value_enum, default_value = "iptables")]
    proxy_mode: Mode,
    /// Names of the iptables chains (`<PREFIX>-SERVICES`, `<PREFIX>-NETPOL`, …); side-by-side
    /// proxies need different ones.
    #[arg(long, default_value = crate::nat::DEFAULT_PREFIX)]
    iptables_chain_prefix: String,
    /// Remove the iptables rules (services and network policy) of
    /// --iptables-chain-prefix and exit (kube-proxy's flag).
    #[arg(long)]
    cleanup: bool,
}

/// Runs `minik-proxy` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

/// One thread is enough: a proxied connection's cost is the kernel's TCP
/// work on its two legs (about 90 % of the proxy's CPU time is in system
/// calls), and one thread spares the data path cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn run(args: Args) -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info");
    if args.cleanup {
        let prefix = &args.iptables_chain_prefix;
        if crate::nat::cleanup(prefix).map_err(anyhow::Error::msg)? {
            println!("removed the {prefix}-* service rules");
        }
        if crate::network_policy::rules::cleanup(prefix).map_err(anyhow::Error::msg)? {
            println!("removed the {prefix}-* network policy rules");
        }
        return Ok(());
    }
    let mut config = crate::Config::new(minik_client::connect(args.kubeconfig.as_deref()).await?);
    config.service_cidr = (!args.no_route).then_some(args.service_cidr);
    if let Some(base) = args.cluster_ip_loopback {
        config.cluster_ips = ClusterIpBind::Loopback(base);
    }
    config.mode = match args.proxy_mode {
        Mode::Iptables => ProxyMode::Iptables {
            chain_prefix: args.iptables_chain_prefix.clone(),
        },
        Mode::Userspace => ProxyMode::Userspace,
    };
    config.node_ip = args.node_ip;
    config.node_addresses = std::iter::once(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .chain(args.node_ip)
        .collect();
    let listen = |flag: &str, value: &str| -> anyhow::Result<Option<SocketAddr>> {
        match value {
            "none" | "" => Ok(None),
            addr => Ok(Some(
                addr.parse::<SocketAddr>()
                    .with_context(|| format!("--{flag} {addr}"))?,
            )),
        }
    };
    config.ingress_listen = listen("ingress-listen", &args.ingress_listen)?;
    config.ingress_tls_listen = listen("ingress-tls-listen", &args.ingress_tls_listen)?;
    config.udp_idle = Duration::from_secs(args.udp_idle_timeout);
    let proxy = crate::start(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = proxy.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
