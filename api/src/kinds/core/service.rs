//! Service (core/v1): a stable virtual IP and ports in front of a set of pods.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The Service strategy.
pub struct Service;

/// `services` in v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("", "v1", "Service", "services", "service", &Service)
        .short_names(&["svc"])
        .categories(&["all"])
        .subresources(&["status"]);

impl Strategy for Service {
    fn field_labels(&self) -> &'static [&'static str] {
        &["spec.clusterIP", "spec.type"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::Service>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::Service>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn name_rule(&self) -> NameRule {
        NameRule::Dns1035Label
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_service(obj)
    }
    fn prepare_update(&self, new: &mut Value, old: &Value) {
        prepare_service_update(new, old)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_service(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_service_update(new, old, errs)
    }
    fn allocates_service_addresses(&self) -> bool {
        true
    }
    fn columns(&self) -> &'static [Column] {
        SERVICE_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        service_cells(obj, now)
    }
    fn quota_usage(&self, obj: &Value, _: Timestamp) -> crate::quota::ResourceList {
        service_quota_usage(obj)
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        matches!(
            resource,
            "services" | "services.nodeports" | "services.loadbalancers"
        )
    }
}

fn is_headless(spec: &core::ServiceSpec) -> bool {
    opt_str(&spec.cluster_ip) == "None"
        || list(&spec.cluster_ips).first().map(String::as_str) == Some("None")
}

/// `ValidateService`.
fn validate_service(obj: &Value, errs: &mut Errs) {
    let Some(svc) = typed::<core::Service>(obj, errs) else {
        return;
    };
    let spec = &svc.spec.unwrap_or_default();
    let ty = opt_str(&spec.type_);
    let ports = list(&spec.ports);
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            Value::from("None"),
            format!("may not be set to 'None' for {ty} services"),
        )),
        "ExternalName" => {
            if !list(&spec.cluster_ips).is_empty() || !opt_str(&spec.cluster_ip).is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !list(&spec.ip_families).is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = opt_str(&spec.external_name);
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                for msg in names::is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid(
                        "spec.externalName",
                        Value::from(cname),
                        msg,
                    ));
                }
            }
        }
        _ => {}
    }

    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_service_port(
            port,
            &format!("spec.ports[{i}]"),
            ports.len() > 1,
            &mut port_names,
            errs,
        );
    }
    if let Some(selector) = &spec.selector {
        errs.extend(names::validate_labels(&json_of(selector), "spec.selector"));
    }

    match spec.session_affinity.as_deref() {
        None | Some("") => errs.push(FieldError::required("spec.sessionAffinity", "")),
        Some("ClientIP") => {
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            match timeout {
                None => errs.push(FieldError::required(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    "",
                )),
                Some(t) if !(1..=86400).contains(&t) => errs.push(FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    Value::from(t),
                    "must be greater than 0 and less than 86400",
                )),
                _ => {}
            }
        }
        Some("None") => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            Value::from(other),
            &["ClientIP", "None"],
        )),
    }

    validate_cluster_ips(spec, ty, errs);

    for (i, ip) in list(&spec.external_ips).iter().enumerate() {
        if !is_ip(ip) {
            errs.push(FieldError::invalid(
                format!("spec.externalIPs[{i}]"),
                Value::from(ip.as_str()),
                INVALID_IP,
            ));
        }
    }

    match ty {
        "" => errs.push(FieldError::required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(FieldError::not_supported(
            "spec.type",
            Value::from(other),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }

    let mut node_ports = HashSet::new();
    let mut port_keys = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = i64::from(port.node_port.unwrap_or(0));
        let protocol = opt_str(&port.protocol);
        if node_port != 0 {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&node_port) {
                errs.push(FieldError::invalid(
                    format!("spec.ports[{i}].nodePort"),
                    Value::from(node_port),
                    format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                    ),
                ));
            }
            if !node_ports.insert((protocol.to_string(), node_port)) {
                errs.push(FieldError::duplicate(
                    format!("spec.ports[{i}].nodePort"),
                    Value::from(node_port),
                ));
            }
        }
        let port_num = port.port;
        if !port_keys.insert((protocol.to_string(), port_num)) {
            errs.push(FieldError {
                kind: ErrorType::Duplicate,
                field: format!("spec.ports[{i}]"),
                value: None,
                detail: format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port_num}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_quote(protocol)
                ),
            });
        }
    }

    if !list(&spec.load_balancer_source_ranges).is_empty() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.LoadBalancerSourceRanges",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if spec.allocate_load_balancer_node_ports.is_some() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }

    let externally_accessible = matches!(ty, "NodePort" | "LoadBalancer")
        || (ty == "ClusterIP" && !list(&spec.external_ips).is_empty());
    match opt_str(&spec.external_traffic_policy) {
        "" if externally_accessible => {
            errs.push(FieldError::required("spec.externalTrafficPolicy", ""))
        }
        "" => {}
        etp if !externally_accessible => errs.push(FieldError::invalid(
            "spec.externalTrafficPolicy",
            Value::from(etp),
            "may only be set for externally-accessible services",
        )),
        "Cluster" | "Local" => {}
        other => errs.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            Value::from(other),
            &["Cluster", "Local"],
        )),
    }
    let needs_health_check =
        ty == "LoadBalancer" && opt_str(&spec.external_traffic_policy) == "Local";
    if let Some(hc) = spec
        .health_check_node_port
        .map(i64::from)
        .filter(|p| *p != 0)
    {
        if !needs_health_check {
            errs.push(FieldError::invalid(
                "spec.healthCheckNodePort",
                Value::from(hc),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        } else {
            for msg in port_num_errors(hc) {
                errs.push(FieldError::invalid(
                    "spec.healthCheckNodePort",
                    Value::from(hc),
                    msg,
                ));
            }
        }
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(ty, "ClusterIP" | "NodePort" | "LoadBalancer") => {
            errs.push(FieldError::required("spec.internalTrafficPolicy", ""))
        }
        None | Some("Cluster" | "Local") => {}
        Some(other) => errs.push(FieldError::not_supported(
            "spec.internalTrafficPolicy",
            Value::from(other),
            &["Cluster", "Local"],
        )),
    }
}

/// `validateServicePort`.
fn validate_service_port(
    port: &core::ServicePort,
    path: &str,
    require_name: bool,
    seen: &mut HashSet<String>,
    errs: &mut Errs,
) {
    let name = opt_str(&port.name);
    if require_name && name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else if !name.is_empty() {
        for msg in names::is_dns1123_label(name) {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                Value::from(name),
                msg,
            ));
        }
        if !seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(
                format!("{path}.name"),
                Value::from(name),
            ));
        }
    }
    let port_num = i64::from(port.port);
    for msg in port_num_errors(port_num) {
        errs.push(FieldError::invalid(
            format!("{path}.port"),
            Value::from(port_num),
            msg,
        ));
    }
    validate_protocol(port.protocol.as_deref(), path, errs);
    // Unset reads as 0, as an unset `IntOrString` does.
    let target = port.target_port.clone().unwrap_or(IntOrString::Int(0));
    validate_port_num_or_name(&target, &format!("{path}.targetPort"), errs);
    if let Some(app) = port.app_protocol.as_deref() {
        for msg in names::is_qualified_name(app) {
            errs.push(FieldError::invalid(
                format!("{path}.appProtocol"),
                Value::from(app),
                msg,
            ));
        }
    }
}

/// The cluster IP fields: addresses, `clusterIP` = `clusterIPs[0]`, the
/// IP family fields.
fn validate_cluster_ips(spec: &core::ServiceSpec, ty: &str, errs: &mut Errs) {
    if ty == "ExternalName" {
        return;
    }
    let ips = list(&spec.cluster_ips);
    let cluster_ip = opt_str(&spec.cluster_ip);
    if let Some(first) = ips.first() {
        if first != cluster_ip {
            errs.push(invalid_shown(
                "spec.clusterIPs",
                &go_string_slice(Some(&json_of(ips))),
                "first value must match `clusterIP`",
            ));
        }
    }
    for (i, ip) in ips.iter().enumerate() {
        let ip = ip.as_str();
        if ip == "None" && ips.len() == 1 {
            continue;
        }
        if !is_ip(ip) {
            errs.push(FieldError::invalid(
                format!("spec.clusterIPs[{i}]"),
                Value::from(ip),
                INVALID_IP,
            ));
        }
    }
    if ips.is_empty() && !cluster_ip.is_empty() && cluster_ip != "None" && !is_ip(cluster_ip) {
        errs.push(FieldError::invalid(
            "spec.clusterIP",
            Value::from(cluster_ip),
            INVALID_IP,
        ));
    }
    if let Some(policy) = spec.ip_family_policy.as_deref() {
        if !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        ) {
            errs.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                Value::from(policy),
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
    for (i, family) in list(&spec.ip_families).iter().enumerate() {
        let family = family.as_str();
        if !matches!(family, "IPv4" | "IPv6") {
            errs.push(FieldError::not_supported(
                format!("spec.ipFamilies[{i}]"),
                Value::from(family),
                &["IPv4", "IPv6"],
            ));
        }
    }
}

/// `ValidateServiceUpdate`: cluster IPs may not change once set (except to
/// or from ExternalName, or between headless forms); the health-check node
/// port and load balancer class stay.
fn validate_service_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = |obj: &Value, errs: &mut Errs| {
        typed::<core::Service>(obj, errs).map(|svc| svc.spec.unwrap_or_default())
    };
    let (Some(ns), Some(os)) = (spec(new, errs), spec(old, errs)) else {
        return;
    };
    let (ns, os) = (&ns, &os);
    let ips = |s: &core::ServiceSpec| -> Vec<String> {
        match (list(&s.cluster_ips), opt_str(&s.cluster_ip)) {
            ([], ip) if !ip.is_empty() => vec![ip.to_string()],
            (ips, _) => ips.to_vec(),
        }
    };
    if opt_str(&ns.type_) != "ExternalName"
        && opt_str(&os.type_) != "ExternalName"
        && !(is_headless(ns) && is_headless(os))
    {
        let (new_ips, old_ips) = (ips(ns), ips(os));
        let shown = go_string_slice(Some(&Value::from(new_ips.clone())));
        if new_ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != new_ips[i] {
                    errs.push(invalid_shown(
                        format!("spec.clusterIPs[{i}]"),
                        &shown,
                        "may not change once set",
                    ));
                }
            }
        } else if new_ips.len() < old_ips.len() {
            if new_ips.is_empty() {
                errs.push(invalid_shown(
                    "spec.clusterIPs[0]",
                    &shown,
                    "primary clusterIP can not be unset",
                ));
            } else if new_ips[0] != old_ips[0] {
                errs.push(invalid_shown(
                    "spec.clusterIPs[0]",
                    &shown,
                    "may not change once set",
                ));
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(invalid_shown(
                "spec.clusterIPs[0]",
                &shown,
                "may not change once set",
            ));
        }
    }
    let needs_hc = |s: &core::ServiceSpec| {
        opt_str(&s.type_) == "LoadBalancer" && opt_str(&s.external_traffic_policy) == "Local"
    };
    if needs_hc(ns) && needs_hc(os) && ns.health_check_node_port != os.health_check_node_port {
        errs.push(FieldError::forbidden("spec.healthCheckNodePort", IMMUTABLE));
    }
    if opt_str(&ns.type_) == "LoadBalancer"
        && opt_str(&os.type_) == "LoadBalancer"
        && ns.load_balancer_class != os.load_balancer_class
    {
        errs.push(FieldError::invalid(
            "spec.loadBalancerClass",
            json_of(&ns.load_balancer_class),
            "may not change once set",
        ));
    }
}

/// `SetDefaults_Service` plus the single-stack IP family fields the service
/// REST storage fills in.
fn default_service(svc: &mut Obj) {
    let Some(spec) = child(svc, "spec") else {
        return;
    };
    default_value(spec, "sessionAffinity", json!("None"));
    if str_at(spec, "sessionAffinity") == Some("None") {
        spec.remove("sessionAffinityConfig");
    }
    if str_at(spec, "sessionAffinity") == Some("ClientIP") {
        if let Some(cfg) = child(spec, "sessionAffinityConfig") {
            if let Some(ip) = child(cfg, "clientIP") {
                default_value(ip, "timeoutSeconds", json!(10800));
            }
        }
    }
    default_value(spec, "type", json!("ClusterIP"));
    for p in each_item(spec, "ports") {
        default_value(p, "protocol", json!("TCP"));
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if unset {
            if let Some(port) = p.get("port").cloned() {
                p.insert("targetPort".into(), port);
            }
        }
    }
    let ty = str_at(spec, "type").unwrap_or("ClusterIP").to_string();
    let externally_accessible = ty == "NodePort"
        || ty == "LoadBalancer"
        || (ty == "ClusterIP" && non_empty(spec, "externalIPs"));
    if externally_accessible {
        default_value(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_value(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_value(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty != "ExternalName" {
        // clusterIP and clusterIPs[0] name the same address.
        let ip = str_at(spec, "clusterIP").unwrap_or("").to_string();
        let ips_empty = !non_empty(spec, "clusterIPs");
        if !ip.is_empty() && ips_empty {
            spec.insert("clusterIPs".into(), json!([ip]));
        } else if ip.is_empty() && !ips_empty {
            if let Some(first) = spec.get("clusterIPs").and_then(|v| v.get(0)).cloned() {
                spec.insert("clusterIP".into(), first);
            }
        }
        let family = if str_at(spec, "clusterIP").is_some_and(|ip| ip.contains(':')) {
            "IPv6"
        } else {
            "IPv4"
        };
        default_value(spec, "ipFamilyPolicy", json!("SingleStack"));
        if !non_empty(spec, "ipFamilies") {
            spec.insert("ipFamilies".into(), json!([family]));
        }
    }
}

fn service_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn needs_node_ports(svc: &Value) -> bool {
    match service_type(svc) {
        "NodePort" => true,
        "LoadBalancer" => {
            svc.pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false)
        }
        _ => false,
    }
}

fn prepare_service_update(new: &mut Value, old: &Value) {
    let new_type = service_type(new).to_string();
    let old_type = service_type(old).to_string();
    let new_needs_node_ports = needs_node_ports(new);
    let old_needs_node_ports = needs_node_ports(old);
    let Some(spec) = new.as_object_mut().and_then(|n| child(n, "spec")) else {
        return;
    };
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let old_str = |k: &str| {
        old_spec
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };

    // patchAllocatedValues
    if new_type != "ExternalName" && old_type != "ExternalName" {
        if str_at(spec, "clusterIP").unwrap_or("").is_empty() && !old_str("clusterIP").is_empty() {
            spec.insert("clusterIP".into(), json!(old_str("clusterIP")));
        }
        if !non_empty(spec, "clusterIPs") {
            if let Some(ips) = old_spec
                .get("clusterIPs")
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                spec.insert("clusterIPs".into(), ips.clone());
            }
        }
    }
    if new_needs_node_ports && old_needs_node_ports {
        let old_ports: Vec<(String, Value)> = old_spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let np = p.get("nodePort").filter(|v| v.as_i64().unwrap_or(0) != 0)?;
                Some((
                    p.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    np.clone(),
                ))
            })
            .collect();
        let used: Vec<Value> = spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                p.get("nodePort")
                    .filter(|v| v.as_i64().unwrap_or(0) != 0)
                    .cloned()
            })
            .collect();
        for p in each_item(spec, "ports") {
            if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                continue;
            }
            let name = str_at(p, "name").unwrap_or("").to_string();
            if let Some((_, np)) = old_ports.iter().find(|(n, _)| *n == name) {
                if !used.contains(np) {
                    p.insert("nodePort".into(), np.clone());
                }
            }
        }
        if new_type == "LoadBalancer"
            && old_type == "LoadBalancer"
            && spec
                .get("healthCheckNodePort")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0
        {
            if let Some(hc) = old_spec
                .get("healthCheckNodePort")
                .filter(|v| v.as_i64().unwrap_or(0) != 0)
            {
                spec.insert("healthCheckNodePort".into(), hc.clone());
            }
        }
    }

    // dropTypeDependentFields: only fields the user left as they were.
    let unchanged = |spec: &Obj, k: &str| spec.get(k) == old_spec.get(k);
    if new_type != old_type {
        if new_type == "ExternalName" {
            for k in [
                "clusterIP",
                "clusterIPs",
                "ipFamilies",
                "ipFamilyPolicy",
                "internalTrafficPolicy",
            ] {
                if unchanged(spec, k) {
                    spec.remove(k);
                }
            }
        }
        if !new_needs_node_ports {
            let old_ports = old_spec
                .get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, p) in each_item(spec, "ports").enumerate() {
                let old_np = old_ports.get(i).and_then(|op| op.get("nodePort"));
                if p.get("nodePort").is_some() && p.get("nodePort") == old_np {
                    p.remove("nodePort");
                }
            }
        }
        if new_type != "LoadBalancer" {
            for k in [
                "healthCheckNodePort",
                "allocateLoadBalancerNodePorts",
                "loadBalancerClass",
            ] {
                if unchanged(spec, k) {
                    spec.remove(k);
                }
            }
        }
        let externally_accessible = new_type == "NodePort"
            || new_type == "LoadBalancer"
            || (new_type == "ClusterIP" && non_empty(spec, "externalIPs"));
        if !externally_accessible && unchanged(spec, "externalTrafficPolicy") {
            spec.remove("externalTrafficPolicy");
        }
    }
}

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    string("Type", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
    string("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    string("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system."),
    string("Port(s)", "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    AGE,
    wide("Selector", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/"),
];

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    // Objects written before `clusterIPs` existed carry only `clusterIP`.
    let cluster_ip = first_nonempty(&[
        text(svc, "/spec/clusterIPs/0"),
        text(svc, "/spec/clusterIP"),
    ]);
    let ports = service_ports(svc);
    vec![
        name_cell(svc),
        text(svc, "/spec/type").into(),
        or_none(cluster_ip).into(),
        service_external_ip(svc).into(),
        or_none(&ports).into(),
        age_cell(svc, now),
        format_labels(svc.pointer("/spec/selector")).into(),
    ]
}

/// EXTERNAL-IP: external IPs, load-balancer ingress (`<pending>` until assigned), or externalName.
fn service_external_ip(svc: &Value) -> String {
    let external_ips: Vec<&str> = items_at(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(svc, "/spec/type") {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let mut all = load_balancer_ingress(svc);
            all.extend(external_ips.iter().map(|ip| ip.to_string()));
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

/// PORT(S): `80/TCP`, or `80:30080/TCP` when a node port is allocated.
fn service_ports(svc: &Value) -> String {
    items_at(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = first_nonempty(&[text(p, "/protocol"), "TCP"]);
            match int(p, "/nodePort") {
                n if n > 0 => format!("{}:{}/{}", int(p, "/port"), n, protocol),
                _ => format!("{}/{}", int(p, "/port"), protocol),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Kubernetes' service evaluator: one `services`; a NodePort or
/// LoadBalancer Service also one `services.nodeports` per port (a
/// LoadBalancer with `allocateLoadBalancerNodePorts: false` only its ports
/// that name a nodePort), and a LoadBalancer one `services.loadbalancers`.
fn service_quota_usage(svc: &Value) -> crate::quota::ResourceList {
    let count = |n: usize| Quantity::from_value(n as i64, Default::default());
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let (node_ports, load_balancers) = match svc.pointer("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => (ports.len(), 0),
        Some("LoadBalancer") => {
            let allocate = svc
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false);
            let explicit = ports
                .iter()
                .filter(|p| {
                    p.get("nodePort")
                        .and_then(Value::as_i64)
                        .is_some_and(|n| n != 0)
                })
                .count();
            (if allocate { ports.len() } else { explicit }, 1)
        }
        _ => (0, 0),
    };
    [
        ("services".to_string(), count(1)),
        ("services.nodeports".to_string(), count(node_ports)),
        ("services.loadbalancers".to_string(), count(load_balancers)),
    ]
    .into()
}
