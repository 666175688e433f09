//! The local route that makes the whole service CIDR an address of this host.
//!
//! kube-proxy never binds ClusterIPs: iptables/IPVS rewrite packets for
//! them. A userspace proxy has to accept connections on them, and this
//! kernel has no `dummy` interface to put addresses on, so minik adds
//! `ip route add local <service-cidr> dev lo table local`: every address of
//! the range is then local (bindable by the proxy and DNS, reachable from
//! containers on Docker bridges), and a packet for an unused service IP
//! can never leave the machine by the default route.
//!
//! The proxy adds the route at start when it is missing and removes it on
//! clean shutdown only if it added it; `miniktl cluster down` removes it
//! too, in case the proxy was killed. Ranges inside 127.0.0.0/8 are
//! already local and left alone.

use ipnet::IpNet;

use crate::Error;

/// The route, removed on drop if this process added it.
#[derive(Debug)]
pub struct LocalRoute {
    cidr: IpNet,
    added: bool,
}

impl LocalRoute {
    /// Adds the route unless it exists (or the range is loopback already).
    pub fn ensure(cidr: IpNet) -> Result<Self, Error> {
        let loopback: IpNet = "127.0.0.0/8".parse().expect("valid");
        if loopback.contains(&cidr) || exists(cidr)? {
            return Ok(Self { cidr, added: false });
        }
        ip(&[
            "route",
            "add",
            "local",
            &cidr.to_string(),
            "dev",
            "lo",
            "table",
            "local",
        ])?;
        tracing::info!(%cidr, "added local route for the service CIDR");
        Ok(Self { cidr, added: true })
    }
}

impl Drop for LocalRoute {
    fn drop(&mut self) {
        if self.added {
            let cidr = self.cidr.to_string();
            match ip(&[
                "route", "del", "local", &cidr, "dev", "lo", "table", "local",
            ]) {
                Ok(_) => tracing::info!(%cidr, "removed local route for the service CIDR"),
                Err(error) => tracing::warn!(%error, "cannot remove the service route"),
            }
        }
    }
}

fn exists(cidr: IpNet) -> Result<bool, Error> {
    let out = ip(&[
        "route",
        "show",
        "table",
        "local",
        "exact",
        &cidr.to_string(),
    ])?;
    Ok(out.lines().any(|l| l.starts_with("local ")))
}

fn ip(args: &[&str]) -> Result<String, Error> {
    crate::command::run("ip", args, None).map_err(Error::Route)
}
