//! Ingress (networking.k8s.io/v1): HTTP routes from outside to Services.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::networking::v1 as networking;

/// The Ingress strategy.
pub struct Ingress;

/// `ingresses` in networking.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "networking.k8s.io",
    "v1",
    "Ingress",
    "ingresses",
    "ingress",
    &Ingress,
)
.short_names(&["ing"])
.subresources(&["status"]);

impl Strategy for Ingress {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::networking::v1::Ingress>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::networking::v1::Ingress>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_ingress(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        INGRESS_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        ingress_cells(obj, now)
    }
}

/// `IsWildcardDNS1123Subdomain`.
fn wildcard_host_errors(host: &str) -> Vec<String> {
    let valid = host
        .strip_prefix("*.")
        .is_some_and(|rest| names::is_dns1123_subdomain(rest).is_empty());
    let mut errs = Vec::new();
    if host.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !valid {
        errs.push("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
    }
    errs
}

fn validate_ingress(obj: &Value, errs: &mut Errs) {
    let Some(ing) = typed::<networking::Ingress>(obj, errs) else {
        return;
    };
    let spec = ing.spec.unwrap_or_default();
    let rules = list(&spec.rules);
    if rules.is_empty() && spec.default_backend.is_none() {
        errs.push(invalid_shown(
            "spec",
            "[]networking.IngressRule(nil)",
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = &spec.default_backend {
        validate_ingress_backend(b, "spec.defaultBackend", errs);
    }
    for (i, rule) in rules.iter().enumerate() {
        let p = format!("spec.rules[{i}]");
        let host = opt_str(&rule.host);
        if !host.is_empty() {
            if is_ip(host) {
                errs.push(FieldError::invalid(
                    format!("{p}.host"),
                    Value::from(host),
                    "must be a DNS name, not an IP address",
                ));
            }
            validate_host(host, &format!("{p}.host"), errs);
        }
        let Some(http) = &rule.http else {
            continue;
        };
        if http.paths.is_empty() {
            errs.push(FieldError::required(format!("{p}.http.paths"), ""));
        }
        for (j, path) in http.paths.iter().enumerate() {
            // k8s-openapi reads an absent pathType as "", which Kubernetes refuses differently.
            let path_type = is_present(obj, &format!("/spec/rules/{i}/http/paths/{j}/pathType"))
                .then_some(path.path_type.as_str());
            validate_ingress_path(path, path_type, &format!("{p}.http.paths[{j}]"), errs);
        }
    }
    if let Some(class) = spec.ingress_class_name.as_deref() {
        for msg in names::is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid(
                "spec.ingressClassName",
                Value::from(class),
                msg,
            ));
        }
    }
    for (i, tls) in list(&spec.tls).iter().enumerate() {
        for (j, host) in list(&tls.hosts).iter().enumerate() {
            validate_host(host, &format!("spec.tls[{i}].hosts[{j}]"), errs);
        }
    }
}

/// `validateHTTPIngressPath`; `path_type` is `None` when absent.
fn validate_ingress_path(
    path: &networking::HTTPIngressPath,
    path_type: Option<&str>,
    p: &str,
    errs: &mut Errs,
) {
    let value = opt_str(&path.path);
    match path_type {
        None => {
            errs.push(FieldError::required(
                format!("{p}.pathType"),
                "pathType must be specified",
            ));
            return;
        }
        Some("Exact" | "Prefix") => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    format!("{p}.path"),
                    Value::from(value),
                    "must be an absolute path",
                ));
            }
            if !value.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            format!("{p}.path"),
                            Value::from(value),
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            format!("{p}.path"),
                            Value::from(value),
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        Some("ImplementationSpecific") => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    format!("{p}.path"),
                    Value::from(value),
                    "must be an absolute path",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            format!("{p}.pathType"),
            Value::from(other),
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    validate_ingress_backend(&path.backend, &format!("{p}.backend"), errs);
}

/// `validateIngressBackend`.
fn validate_ingress_backend(backend: &networking::IngressBackend, p: &str, errs: &mut Errs) {
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            p,
            Value::from(""),
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            for (key, value) in [("kind", &r.kind), ("name", &r.name)] {
                if value.is_empty() {
                    errs.push(FieldError::required(format!("{p}.resource.{key}"), ""));
                }
            }
        }
        (None, Some(s)) => {
            let name = s.name.as_str();
            if name.is_empty() {
                errs.push(FieldError::required(format!("{p}.service.name"), ""));
            } else {
                for msg in names::is_dns1035_label(name) {
                    errs.push(FieldError::invalid(
                        format!("{p}.service.name"),
                        Value::from(name),
                        msg,
                    ));
                }
            }
            let port = s.port.clone().unwrap_or_default();
            let port_name = opt_str(&port.name);
            let port_number = i64::from(port.number.unwrap_or(0));
            if !port_name.is_empty() && port_number != 0 {
                errs.push(FieldError::invalid(
                    p,
                    Value::from(""),
                    "cannot set both port name & port number",
                ));
            } else if !port_name.is_empty() {
                for msg in port_name_errors(port_name) {
                    errs.push(FieldError::invalid(
                        format!("{p}.service.port.name"),
                        Value::from(port_name),
                        msg,
                    ));
                }
            } else if port_number != 0 {
                for msg in port_num_errors(port_number) {
                    errs.push(FieldError::invalid(
                        format!("{p}.service.port.number"),
                        Value::from(port_number),
                        msg,
                    ));
                }
            } else {
                errs.push(FieldError::required(p, "port name or number is required"));
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            p,
            Value::from(""),
            "resource or service backend is required",
        )),
    }
}

const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    string(
        "Class",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    string(
        "Hosts",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    string(
        "Address",
        "Address is a list containing ingress points for the load-balancer",
    ),
    string("Ports", "Ports of TLS configurations that open"),
    AGE,
];

fn ingress_cells(ing: &Value, now: Timestamp) -> Vec<Value> {
    let ports = if items_at(ing, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name_cell(ing),
        or_none(text(ing, "/spec/ingressClassName")).into(),
        ingress_hosts(items_at(ing, "/spec/rules")).into(),
        load_balancer_ingress(ing).join(",").into(),
        ports.into(),
        age_cell(ing, now),
    ]
}

/// The first three rule hosts, `*` when none is set; `+ N more...` (N counted
/// in rules, as kube does) once a rule comes after three hosts.
fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
            break;
        }
        let host = text(rule, "/host");
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".into();
    }
    let list = hosts.join(",");
    if more {
        format!("{list} + {} more...", rules.len() - MAX)
    } else {
        list
    }
}

/// A rule's or TLS entry's host: a DNS subdomain, or a `*.` wildcard one.
fn validate_host(host: &str, path: &str, errs: &mut Errs) {
    let msgs = if host.contains('*') {
        wildcard_host_errors(host)
    } else {
        names::is_dns1123_subdomain(host)
    };
    for msg in msgs {
        errs.push(FieldError::invalid(path, Value::from(host), msg));
    }
}
