//! What the proxy should be doing, as a pure function of Services and
//! their EndpointSlices: for every service port, its ready endpoints and the
//! addresses ("frontends") it must be reachable on.
//!
//! This is the part of kube-proxy's `syncProxyRules` that turns the
//! service and endpoint maps into rules, before anything touches the
//! system; keeping it pure makes the Kubernetes rules testable alone:
//! - ClusterIP: `<clusterIP>:<port>` for every IP in `clusterIPs`;
//!   headless and ExternalName services get no frontend.
//! - NodePort (and LoadBalancer, which has node ports too):
//!   `<node address>:<nodePort>`.
//! - LoadBalancer, the k3s ServiceLB way: `<node address>:<port>` on the host.
//! - A Service's endpoints come from its EndpointSlices (as kube-proxy
//!   reads them, see `minik_client::service_endpoints`), matched to a
//!   service port by port name and protocol; only ready endpoints count.
//!
//! - A Service labelled `service.kubernetes.io/service-proxy-name` belongs
//!   to another proxy and gets nothing here, as kube-proxy skips it (minik's
//!   own `kube-dns` carries it: minik-dns serves that ClusterIP itself).
//!
//! Not modelled: `externalIPs`, `externalTrafficPolicy`/
//! `internalTrafficPolicy` (every node is this host), SCTP, topology hints.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use minik_client::service_endpoints;

/// The label that hands a Service to another proxy (kube-proxy's
/// `LabelServiceProxyName`).
pub const SERVICE_PROXY_NAME: &str = "service.kubernetes.io/service-proxy-name";

/// Layer-4 protocol of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    fn parse(s: Option<&str>) -> Option<Self> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// One port of one service: `namespace/service:port-name/protocol`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortKey {
    pub namespace: String,
    pub service: String,
    /// The service port's name ("" for the single unnamed port).
    pub port_name: String,
    pub protocol: Protocol,
}

/// Why a frontend exists (for logs and LoadBalancer status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrontendKind {
    ClusterIp,
    NodePort,
    LoadBalancer,
}

/// An address a service port must be reachable on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frontend {
    pub addr: SocketAddr,
    pub protocol: Protocol,
    pub kind: FrontendKind,
}

/// Desired state of one service port.
#[derive(Clone, Debug, PartialEq)]
pub struct PortPlan {
    pub key: PortKey,
    /// `spec.ports[].port`.
    pub port: i32,
    pub endpoints: Vec<SocketAddr>,
    pub affinity: Option<Duration>,
    pub frontends: Vec<Frontend>,
}

/// Where frontends are bound on this host.
#[derive(Clone, Debug)]
pub struct Addressing {
    /// How ClusterIPs map to host addresses.
    pub cluster_ips: ClusterIpBind,
    /// Addresses for NodePort and LoadBalancer listeners
    /// (minik: 127.0.0.1 and the node IP).
    pub node_addresses: Vec<IpAddr>,
}

/// How a ClusterIP becomes a local address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterIpBind {
    /// Bind the ClusterIP itself (it is local thanks to the service-CIDR route).
    Direct,
    /// For tests and debugging without the route: serve IPv4 ClusterIP
    /// `a.b.c.d` at `127.<x>.c.d`, where `x` is this address's second octet.
    /// Needs a service CIDR of /16 or smaller so the mapping stays one-to-one.
    Loopback(Ipv4Addr),
}

impl ClusterIpBind {
    /// The host address a ClusterIP is served on (`None`: cannot be mapped).
    pub fn local(&self, cluster_ip: IpAddr) -> Option<IpAddr> {
        match (self, cluster_ip) {
            (ClusterIpBind::Direct, ip) => Some(ip),
            (ClusterIpBind::Loopback(base), IpAddr::V4(ip)) => {
                let [_, _, c, d] = ip.octets();
                Some(IpAddr::V4(Ipv4Addr::new(127, base.octets()[1], c, d)))
            }
            (ClusterIpBind::Loopback(_), IpAddr::V6(_)) => None,
        }
    }
}

/// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
const DEFAULT_AFFINITY: Duration = Duration::from_secs(10800);

/// The desired state for all services, in a stable order (oldest service
/// first, so that when two services claim one host port the older keeps it).
pub fn plan(
    services: &[std::sync::Arc<Service>],
    slices: &[std::sync::Arc<EndpointSlice>],
    addressing: &Addressing,
) -> Vec<PortPlan> {
    let endpoints = service_endpoints::by_service(slices);
    let mut services: Vec<&Service> = services.iter().map(|s| &**s).collect();
    services.sort_by(|a, b| {
        let key = |s: &Service| {
            (
                s.metadata.creation_timestamp.as_ref().map(|t| t.0),
                s.metadata.namespace.clone(),
                s.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut plans = Vec::new();
    for svc in services {
        let (Some(ns), Some(name), Some(spec)) = (
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
            svc.spec.as_ref(),
        ) else {
            continue;
        };
        let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
        let other_proxy = svc
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(SERVICE_PROXY_NAME));
        if ty == "ExternalName" || other_proxy {
            continue;
        }
        let cluster_ips: Vec<IpAddr> = match &spec.cluster_ips {
            Some(ips) if !ips.is_empty() => ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
            _ => spec
                .cluster_ip
                .as_deref()
                .and_then(|ip| ip.parse().ok())
                .into_iter()
                .collect(),
        };
        let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .map(|s| Duration::from_secs(s.max(0) as u64))
                .unwrap_or(DEFAULT_AFFINITY)
        });
        for port in spec.ports.iter().flatten() {
            let Some(protocol) = Protocol::parse(port.protocol.as_deref()) else {
                continue;
            };
            let port_name = port.name.clone().unwrap_or_default();
            let mut frontends = Vec::new();
            let mut add = |ip: IpAddr, p: i32, kind| {
                if let Ok(p) = u16::try_from(p) {
                    frontends.push(Frontend {
                        addr: SocketAddr::new(ip, p),
                        protocol,
                        kind,
                    });
                }
            };
            for ip in cluster_ips
                .iter()
                .filter_map(|ip| addressing.cluster_ips.local(*ip))
            {
                add(ip, port.port, FrontendKind::ClusterIp);
            }
            if matches!(ty, "NodePort" | "LoadBalancer") {
                if let Some(node_port) = port.node_port.filter(|p| *p > 0) {
                    for ip in &addressing.node_addresses {
                        add(*ip, node_port, FrontendKind::NodePort);
                    }
                }
            }
            if ty == "LoadBalancer" {
                for ip in &addressing.node_addresses {
                    add(*ip, port.port, FrontendKind::LoadBalancer);
                }
            }
            plans.push(PortPlan {
                key: PortKey {
                    namespace: ns.to_string(),
                    service: name.to_string(),
                    port_name: port_name.clone(),
                    protocol,
                },
                port: port.port,
                endpoints: endpoints
                    .get(&(ns, name))
                    .map(|e| e.ready(&port_name, protocol.as_str()))
                    .unwrap_or_default(),
                affinity,
                frontends,
            });
        }
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn addressing() -> Addressing {
        Addressing {
            cluster_ips: ClusterIpBind::Direct,
            node_addresses: vec!["127.0.0.1".parse().unwrap()],
        }
    }

    fn svc(v: serde_json::Value) -> Arc<Service> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn eps(v: serde_json::Value) -> Arc<EndpointSlice> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn cluster_ip_service_matches_ready_endpoints_by_port_name() {
        let services = [svc(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.20", "ports": [
                {"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}
        }))];
        let endpoints = [eps(json!({
            "metadata": {"name": "web-x1", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.244.0.5"], "conditions": {"ready": true}},
                {"addresses": ["10.244.0.6"], "conditions": {"ready": true}},
                {"addresses": ["10.244.0.7"], "conditions": {"ready": false}},
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}]
        }))];
        let plans = plan(&services, &endpoints, &addressing());
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].key.port_name, "http");
        assert_eq!(
            plans[0].endpoints,
            vec![
                "10.244.0.5:8080".parse().unwrap(),
                "10.244.0.6:8080".parse().unwrap()
            ]
        );
        assert_eq!(
            plans[0].frontends,
            vec![Frontend {
                addr: "10.96.0.20:80".parse().unwrap(),
                protocol: Protocol::Tcp,
                kind: FrontendKind::ClusterIp
            }]
        );
        assert_eq!(plans[1].key.protocol, Protocol::Udp);
        assert_eq!(plans[1].endpoints[0].port(), 5353);
    }

    #[test]
    fn node_port_and_load_balancer_frontends() {
        let services = [svc(json!({
            "metadata": {"name": "lb", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.30",
                "sessionAffinity": "ClientIP",
                "ports": [{"port": 8080, "nodePort": 30001}]}
        }))];
        let plans = plan(&services, &[], &addressing());
        let kinds: Vec<(FrontendKind, String)> = plans[0]
            .frontends
            .iter()
            .map(|f| (f.kind, f.addr.to_string()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (FrontendKind::ClusterIp, "10.96.0.30:8080".into()),
                (FrontendKind::NodePort, "127.0.0.1:30001".into()),
                (FrontendKind::LoadBalancer, "127.0.0.1:8080".into()),
            ]
        );
        assert_eq!(plans[0].affinity, Some(DEFAULT_AFFINITY));
        assert!(plans[0].endpoints.is_empty());
    }

    #[test]
    fn headless_and_external_name_services_get_no_frontends() {
        let services = [
            svc(json!({"metadata": {"name": "h", "namespace": "default"},
                "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})),
            svc(json!({"metadata": {"name": "x", "namespace": "default"},
                "spec": {"type": "ExternalName", "externalName": "example.test"}})),
        ];
        let plans = plan(&services, &[], &addressing());
        assert_eq!(plans.len(), 1, "headless keeps its backends (for Ingress)");
        assert!(plans[0].frontends.is_empty());
    }

    #[test]
    fn a_service_of_another_proxy_is_left_alone() {
        let services = [
            svc(
                json!({"metadata": {"name": "kube-dns", "namespace": "kube-system",
                "labels": {SERVICE_PROXY_NAME: "minik-dns"}},
                "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}),
            ),
            svc(json!({"metadata": {"name": "web", "namespace": "default"},
                "spec": {"clusterIP": "10.96.0.11", "ports": [{"port": 80}]}})),
        ];
        let plans = plan(&services, &[], &addressing());
        let names: Vec<&str> = plans.iter().map(|p| p.key.service.as_str()).collect();
        assert_eq!(names, vec!["web"]);
    }

    #[test]
    fn loopback_mapping_keeps_the_host_part() {
        let bind = ClusterIpBind::Loopback("127.55.0.0".parse().unwrap());
        assert_eq!(
            bind.local("10.96.3.4".parse().unwrap()),
            Some("127.55.3.4".parse().unwrap())
        );
    }
}
