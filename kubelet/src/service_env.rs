//! Service environment variables (kubelet's `getServiceEnvVarMap` and
//! `envvars.FromServices`): a container sees every Service of its
//! namespace that has a ClusterIP as `<NAME>_SERVICE_HOST`,
//! `<NAME>_SERVICE_PORT[_<PORTNAME>]` and the Docker-links style
//! `<NAME>_PORT[_<port>_<PROTO>[_PROTO|_PORT|_ADDR]]`, and always the API
//! server's `kubernetes` Service of `default` (how in-cluster client
//! libraries find it). `enableServiceLinks: false` keeps only the latter.
//! Names are upper-cased with `-` as `_`; the container's own variables
//! win over these.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

/// The namespace and name of the API server's Service.
const MASTER: (&str, &str) = ("default", "kubernetes");

/// The variables for a pod in `namespace`, from `services` (all namespaces).
pub fn service_env<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    namespace: &str,
    enable_service_links: bool,
) -> BTreeMap<String, String> {
    let mut chosen: BTreeMap<String, &Service> = BTreeMap::new();
    for svc in services {
        let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
        if matches!(ip, None | Some("" | "None")) {
            continue;
        }
        let master = (ns, name) == MASTER;
        // A pod's own namespace's `kubernetes` Service does not hide the master's.
        if master || (enable_service_links && ns == namespace && !chosen.contains_key(name)) {
            chosen.insert(name.to_string(), svc);
        }
    }
    let mut env = BTreeMap::new();
    for (name, svc) in chosen {
        variables(&name, svc, &mut env);
    }
    env
}

fn variables(name: &str, svc: &Service, env: &mut BTreeMap<String, String>) {
    let spec = svc.spec.as_ref().expect("checked: has a ClusterIP");
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    let prefix = name.to_uppercase().replace('-', "_");
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    env.insert(format!("{prefix}_SERVICE_HOST"), ip.clone());
    let Some(first) = ports.first() else { return };
    env.insert(format!("{prefix}_SERVICE_PORT"), first.port.to_string());
    for p in ports {
        if let Some(port_name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            let port_name = port_name.to_uppercase().replace('-', "_");
            env.insert(
                format!("{prefix}_SERVICE_PORT_{port_name}"),
                p.port.to_string(),
            );
        }
    }
    let protocol = |p: &k8s_openapi::api::core::v1::ServicePort| {
        p.protocol.clone().unwrap_or_else(|| "TCP".into())
    };
    env.insert(
        format!("{prefix}_PORT"),
        format!("{}://{ip}:{}", protocol(first).to_lowercase(), first.port),
    );
    for p in ports {
        let proto = protocol(p);
        let base = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
        env.insert(
            base.clone(),
            format!("{}://{ip}:{}", proto.to_lowercase(), p.port),
        );
        env.insert(format!("{base}_PROTO"), proto.to_lowercase());
        env.insert(format!("{base}_PORT"), p.port.to_string());
        env.insert(format!("{base}_ADDR"), ip.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(ns: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name},
            "spec": {"clusterIP": ip, "ports": ports},
        }))
        .unwrap()
    }

    #[test]
    fn writes_kubelets_variables() {
        let services = [
            svc(
                "default",
                "kubernetes",
                "10.96.0.1",
                json!([{"name": "https", "port": 443, "protocol": "TCP"}]),
            ),
            svc(
                "shop",
                "user-service",
                "10.96.0.20",
                json!([{"name": "http", "port": 80}, {"port": 53, "protocol": "UDP"}]),
            ),
            svc("shop", "headless", "None", json!([{"port": 80}])),
            svc("other", "elsewhere", "10.96.0.30", json!([{"port": 80}])),
        ];
        let env = service_env(&services, "shop", true);
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
        assert_eq!(env["KUBERNETES_SERVICE_PORT"], "443");
        assert_eq!(env["KUBERNETES_SERVICE_PORT_HTTPS"], "443");
        assert_eq!(env["KUBERNETES_PORT"], "tcp://10.96.0.1:443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP_ADDR"], "10.96.0.1");
        assert_eq!(env["USER_SERVICE_SERVICE_HOST"], "10.96.0.20");
        assert_eq!(env["USER_SERVICE_SERVICE_PORT_HTTP"], "80");
        assert_eq!(env["USER_SERVICE_PORT"], "tcp://10.96.0.20:80");
        assert_eq!(env["USER_SERVICE_PORT_53_UDP"], "udp://10.96.0.20:53");
        assert_eq!(env["USER_SERVICE_PORT_53_UDP_PROTO"], "udp");
        assert!(!env
            .keys()
            .any(|k| k.starts_with("HEADLESS") || k.starts_with("ELSEWHERE")));

        let without_links = service_env(&services, "shop", false);
        assert!(without_links.contains_key("KUBERNETES_SERVICE_HOST"));
        assert!(!without_links.contains_key("USER_SERVICE_SERVICE_HOST"));
    }
}
