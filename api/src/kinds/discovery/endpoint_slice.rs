//! EndpointSlice (discovery.k8s.io/v1): a slice of the endpoints behind a
//! Service — addresses with their ready/serving/terminating conditions,
//! node and zone, and the ports they serve.
//!
//! Its strategy: served resource, typed form, validation
//! (`pkg/apis/discovery/validation`: the address type, at most 1000
//! endpoints of 1 to 100 addresses each, at most 100 ports with unique
//! names) and kubectl's table columns.

use crate::kinds::prelude::*;
use k8s_openapi::api::discovery::v1 as discovery;

/// The EndpointSlice strategy.
pub struct EndpointSlice;

/// `endpointslices` in discovery.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "discovery.k8s.io",
    "v1",
    "EndpointSlice",
    "endpointslices",
    "endpointslice",
    &EndpointSlice,
);

/// `maxEndpoints`, `maxAddresses`, `maxPorts`.
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 100;
const ADDRESS_TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];

impl Strategy for EndpointSlice {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<discovery::EndpointSlice>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<discovery::EndpointSlice>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        for p in each_item(obj, "ports") {
            default_value(p, "protocol", json!("TCP"));
        }
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_slice(obj, errs)
    }
    /// `addressType` never changes.
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        immutable_field(
            new.get("addressType"),
            old.get("addressType"),
            "addressType",
            errs,
        )
    }
    fn columns(&self) -> &'static [Column] {
        SLICE_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name_cell(obj),
            text(obj, "/addressType").into(),
            format_ports(items_at(obj, "/ports")).into(),
            format_endpoints(items_at(obj, "/endpoints")).into(),
            age_cell(obj, now),
        ]
    }
}

fn too_many(field: &str, count: usize, max: usize) -> FieldError {
    FieldError {
        kind: ErrorType::TooMany,
        field: field.into(),
        value: Some(json!(count)),
        detail: format!("must have at most {max} items"),
    }
}

fn validate_slice(obj: &Value, errs: &mut Errs) {
    let Some(slice) = typed::<discovery::EndpointSlice>(obj, errs) else {
        return;
    };
    let address_type = slice.address_type.as_str();
    if address_type.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !ADDRESS_TYPES.contains(&address_type) {
        errs.push(FieldError::not_supported(
            "addressType",
            json!(address_type),
            &ADDRESS_TYPES,
        ));
    }
    if slice.endpoints.len() > MAX_ENDPOINTS {
        errs.push(too_many("endpoints", slice.endpoints.len(), MAX_ENDPOINTS));
    }
    for (i, endpoint) in slice.endpoints.iter().enumerate() {
        let path = format!("endpoints[{i}].addresses");
        match endpoint.addresses.len() {
            0 => errs.push(FieldError::required(
                &path,
                "must contain at least 1 address",
            )),
            n if n > MAX_ADDRESSES => errs.push(too_many(&path, n, MAX_ADDRESSES)),
            _ => {}
        }
        for (j, address) in endpoint.addresses.iter().enumerate() {
            let valid = match address_type {
                "IPv4" => address.parse::<std::net::Ipv4Addr>().is_ok(),
                "IPv6" => address.parse::<std::net::Ipv6Addr>().is_ok(),
                _ => true,
            };
            if !valid {
                errs.push(FieldError::invalid(
                    format!("{path}[{j}]"),
                    json!(address),
                    format!("must be a valid {address_type} address"),
                ));
            }
        }
    }
    let ports = slice.ports.as_deref().unwrap_or_default();
    if ports.len() > MAX_PORTS {
        errs.push(too_many("ports", ports.len(), MAX_PORTS));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let path = format!("ports[{i}]");
        let name = port.name.clone().unwrap_or_default();
        if !names.insert(name.clone()) {
            errs.push(FieldError::duplicate(format!("{path}.name"), json!(name)));
        }
        if let Some(n) = port.port {
            for msg in port_num_errors(i64::from(n)) {
                errs.push(FieldError::invalid(format!("{path}.port"), json!(n), msg));
            }
        }
        validate_protocol(port.protocol.as_deref(), &path, errs);
    }
}

const SLICE_COLUMNS: &[Column] = &[
    NAME,
    string("AddressType", "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for the \"FQDN\" type."),
    string("Ports", "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list."),
    string("Endpoints", "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."),
    AGE,
];

/// `listWithMoreString`: up to three items, then `+ N more...`; `<unset>` for none.
fn list_with_more(list: Vec<String>, count: usize) -> String {
    const MAX: usize = 3;
    let shown = list.join(",");
    if count > MAX {
        format!("{shown} + {} more...", count - MAX)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

/// `formatDiscoveryPorts`: each port's number, else its name, else `*`.
fn format_ports(ports: &[Value]) -> String {
    let list = ports
        .iter()
        .take(3)
        .map(|p| match p.get("port").and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string(),
        })
        .collect();
    list_with_more(list, ports.len())
}

/// `formatDiscoveryEndpoints`: the endpoints' addresses.
fn format_endpoints(endpoints: &[Value]) -> String {
    let addresses: Vec<&str> = endpoints
        .iter()
        .flat_map(|e| items_at(e, "/addresses"))
        .filter_map(Value::as_str)
        .collect();
    let list = addresses.iter().take(3).map(|a| a.to_string()).collect();
    list_with_more(list, addresses.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_like_kubectls() {
        let ports = [json!({"port": 80}), json!({"name": "dns"}), json!({})];
        assert_eq!(format_ports(&ports), "80,dns,*");
        assert_eq!(format_ports(&[]), "<unset>");
        let endpoints = [
            json!({"addresses": ["10.0.0.1"]}),
            json!({"addresses": ["10.0.0.2", "10.0.0.3"]}),
            json!({"addresses": ["10.0.0.4"]}),
        ];
        assert_eq!(
            format_endpoints(&endpoints),
            "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."
        );
    }

    #[test]
    fn validation_follows_the_discovery_rules() {
        let mut errs = Vec::new();
        validate_slice(
            &json!({"metadata": {"name": "s"}, "addressType": "IPv5",
                    "endpoints": [{"addresses": []}, {"addresses": ["10.0.0.300"]}],
                    "ports": [{"name": "a", "port": 80, "protocol": "TCP"}, {"name": "a", "port": 70000, "protocol": "TCP"}]}),
            &mut errs,
        );
        let messages: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(
            messages,
            [
                "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
                "endpoints[0].addresses: Required value: must contain at least 1 address",
                "ports[1].name: Duplicate value: \"a\"",
                "ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ]
        );
    }
}
