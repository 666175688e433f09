//! The endpoints behind each Service, read from its EndpointSlices
//! (`discovery.k8s.io/v1`), as kube-proxy and CoreDNS read them: the
//! slices labelled `kubernetes.io/service-name=<service>` in the Service's
//! namespace, each with its own ports and endpoints.
//!
//! An endpoint whose `ready` condition is unset counts as ready (the API's
//! rule); `FQDN` slices carry no addresses and are skipped; an address
//! listed by two slices counts once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};

/// Which Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// One Service's slices.
#[derive(Default)]
pub struct ServiceEndpoints<'a> {
    slices: Vec<&'a EndpointSlice>,
}

/// The slices of every Service, by (namespace, Service name).
pub fn by_service(slices: &[Arc<EndpointSlice>]) -> HashMap<(&str, &str), ServiceEndpoints<'_>> {
    let mut out: HashMap<(&str, &str), ServiceEndpoints<'_>> = HashMap::new();
    for slice in slices {
        let ns = slice.metadata.namespace.as_deref();
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE_NAME))
            .map(String::as_str);
        if let (Some(ns), Some(service)) = (ns, service) {
            if slice.address_type != "FQDN" {
                out.entry((ns, service)).or_default().slices.push(&**slice);
            }
        }
    }
    out
}

/// Whether an endpoint may receive traffic (`ready` unset means ready).
pub fn is_ready(endpoint: &Endpoint) -> bool {
    endpoint
        .conditions
        .as_ref()
        .and_then(|c| c.ready)
        .unwrap_or(true)
}

impl<'a> ServiceEndpoints<'a> {
    /// Every endpoint with the ports of its slice, in slice order.
    pub fn endpoints(&self) -> impl Iterator<Item = (&'a Endpoint, &'a [EndpointPort])> + '_ {
        self.slices.iter().flat_map(|slice| {
            let ports = slice.ports.as_deref().unwrap_or(&[]);
            slice.endpoints.iter().map(move |e| (e, ports))
        })
    }

    /// The ready `ip:port`s for the Service port named `port_name` (`""`
    /// for an unnamed one) with `protocol` (`TCP`, `UDP`, `SCTP`), sorted.
    pub fn ready(&self, port_name: &str, protocol: &str) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for (endpoint, ports) in self.endpoints().filter(|(e, _)| is_ready(e)) {
            let port = ports.iter().find(|p| {
                p.name.as_deref().unwrap_or("") == port_name
                    && p.protocol.as_deref().unwrap_or("TCP") == protocol
            });
            let Some(port) = port
                .and_then(|p| p.port)
                .and_then(|p| u16::try_from(p).ok())
            else {
                continue;
            };
            for address in &endpoint.addresses {
                if let Ok(ip) = address.parse::<IpAddr>() {
                    out.push(SocketAddr::new(ip, port));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slice(v: serde_json::Value) -> Arc<EndpointSlice> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn ready_addresses_per_port_from_every_slice_of_the_service() {
        let slices = vec![
            slice(json!({
                "metadata": {"name": "web-a", "namespace": "default", "labels": {LABEL_SERVICE_NAME: "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [
                    {"addresses": ["10.0.0.2"], "conditions": {"ready": true}},
                    {"addresses": ["10.0.0.3"], "conditions": {"ready": false, "serving": true}},
                    {"addresses": ["10.0.0.4"]},
                ],
            })),
            slice(json!({
                "metadata": {"name": "web-b", "namespace": "default", "labels": {LABEL_SERVICE_NAME: "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true}}],
            })),
            slice(json!({
                "metadata": {"name": "other", "namespace": "prod", "labels": {LABEL_SERVICE_NAME: "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 1, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["10.9.9.9"]}],
            })),
        ];
        let all = by_service(&slices);
        let web = &all[&("default", "web")];
        let got: Vec<String> = web
            .ready("http", "TCP")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["10.0.0.2:8080", "10.0.0.4:8080", "10.0.0.5:9090"]);
        assert!(web.ready("http", "UDP").is_empty());
        assert!(web.ready("", "TCP").is_empty());
        assert_eq!(web.endpoints().count(), 4);
    }
}
