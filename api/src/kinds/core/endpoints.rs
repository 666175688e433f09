//! Endpoints (core/v1): the ready and not-ready addresses behind a Service.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The Endpoints strategy.
pub struct Endpoints;

/// `endpoints` in v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("", "v1", "Endpoints", "endpoints", "endpoints", &Endpoints)
        .short_names(&["ep"]);

impl Strategy for Endpoints {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::Endpoints>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::Endpoints>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    /// Kubernetes 1.33 deprecated Endpoints for EndpointSlices (KEP-4974);
    /// the kind stays served, as it will be in Kubernetes.
    fn deprecation(&self) -> Option<&'static str> {
        Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_endpoints(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_endpoints(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        ENDPOINTS_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        endpoints_cells(obj, now)
    }
}

fn validate_endpoints(obj: &Value, errs: &mut Errs) {
    let Some(ep) = typed::<core::Endpoints>(obj, errs) else {
        return;
    };
    for (i, subset) in list(&ep.subsets).iter().enumerate() {
        for (j, addr) in list(&subset.addresses)
            .iter()
            .chain(list(&subset.not_ready_addresses))
            .enumerate()
        {
            if !is_ip(&addr.ip) {
                errs.push(FieldError::invalid(
                    format!("subsets[{i}].addresses[{j}].ip"),
                    Value::from(addr.ip.as_str()),
                    INVALID_IP,
                ));
            }
        }
        for (j, port) in list(&subset.ports).iter().enumerate() {
            let p = format!("subsets[{i}].ports[{j}]");
            for msg in port_num_errors(i64::from(port.port)) {
                errs.push(FieldError::invalid(
                    format!("{p}.port"),
                    Value::from(port.port),
                    msg,
                ));
            }
            validate_protocol(port.protocol.as_deref(), &p, errs);
        }
    }
}

/// `SetDefaults_EndpointPort`: protocol TCP.
fn default_endpoints(ep: &mut Obj) {
    for subset in each_item(ep, "subsets") {
        for p in each_item(subset, "ports") {
            default_value(p, "protocol", json!("TCP"));
        }
    }
}

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    string("Endpoints", "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."),
    AGE,
];

fn endpoints_cells(ep: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(ep),
        format_endpoints(ep).into(),
        age_cell(ep, now),
    ]
}

/// Up to three `ip:port` (or bare IPs for port-less subsets), then `+ N more...`.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = items_at(ep, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses = items_at(subset, "/addresses");
        let ports = items_at(subset, "/ports");
        let port_numbers: Vec<Option<i64>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(|p| Some(int(p, "/port"))).collect()
        };
        for port in port_numbers {
            total += addresses.len();
            for address in addresses {
                if shown.len() == MAX {
                    break;
                }
                let ip = text(address, "/ip");
                shown.push(match port {
                    None => ip.to_string(),
                    Some(port) => join_host_port(ip, port),
                });
            }
        }
    }
    let list = shown.join(",");
    if total > MAX {
        format!("{list} + {} more...", total - MAX)
    } else {
        list
    }
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
