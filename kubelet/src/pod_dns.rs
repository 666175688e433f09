//! A pod's `/etc/resolv.conf` and `/etc/hosts`, written in the pod directory
//! and bind-mounted into each of its containers, as kubelet does.
//!
//! - `dnsPolicy: ClusterFirst` (the default): the cluster DNS
//!   (`--cluster-dns`, 10.96.0.10), search `<ns>.svc.<domain> svc.<domain>
//!   <domain>`, `options ndots:5`. A `hostNetwork` pod gets that only with
//!   `ClusterFirstWithHostNet`; under `ClusterFirst` it has the host's.
//! - `Default`: the host's resolv.conf. `None`: only `dnsConfig`.
//! - `dnsConfig` nameservers, searches and options are merged in.
//! - hosts: localhost entries, the pod IP with its hostname (and FQDN when
//!   `subdomain` is set), then `hostAliases`; a `hostNetwork` pod's is the
//!   host's own `/etc/hosts` and its `hostAliases`.
//!
//! Simplified: the host's own search domains are not appended under
//! ClusterFirst.

use k8s_openapi::api::core::v1::Pod;

/// The contents of the pod's resolv.conf.
pub fn resolv_conf(pod: &Pod, cluster_dns: &str, domain: &str) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let policy = match spec.dns_policy.as_deref().unwrap_or("ClusterFirst") {
        "ClusterFirst" if spec.host_network == Some(true) => "Default",
        policy => policy,
    };
    let (mut servers, mut searches, mut options): (Vec<String>, Vec<String>, Vec<String>) =
        match policy {
            "None" => (vec![], vec![], vec![]),
            "Default" => host_resolv_conf(),
            _ => (
                vec![cluster_dns.to_string()],
                vec![
                    format!("{ns}.svc.{domain}"),
                    format!("svc.{domain}"),
                    domain.to_string(),
                ],
                vec!["ndots:5".to_string()],
            ),
        };
    if let Some(config) = spec.dns_config {
        for s in config.nameservers.unwrap_or_default() {
            if !servers.contains(&s) {
                servers.push(s);
            }
        }
        for s in config.searches.unwrap_or_default() {
            if !searches.contains(&s) {
                searches.push(s);
            }
        }
        for o in config.options.unwrap_or_default() {
            let rendered = match &o.value {
                Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or("")),
                None => o.name.clone().unwrap_or_default(),
            };
            let name = o.name.unwrap_or_default();
            options.retain(|existing| existing.split(':').next() != Some(name.as_str()));
            options.push(rendered);
        }
    }
    servers.truncate(3);
    let mut out = String::new();
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !searches.is_empty() {
        out.push_str(&format!("search {}\n", searches.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// nameservers, search domains and options of the host.
fn host_resolv_conf() -> (Vec<String>, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (mut servers, mut searches, mut options) = (vec![], vec![], vec![]);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.map(String::from)),
            Some("search") | Some("domain") => searches.extend(words.map(String::from)),
            Some("options") => options.extend(words.map(String::from)),
            _ => {}
        }
    }
    (servers, searches, options)
}

/// The pod's hostname: `spec.hostname` or the pod name.
pub fn hostname(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default())
}

/// The contents of the pod's /etc/hosts.
pub fn hosts(pod: &Pod, pod_ip: &str, domain: &str) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    if spec.host_network == Some(true) {
        let mut out = String::from("# Kubernetes-managed hosts file (host network).\n");
        out.push_str(&std::fs::read_to_string("/etc/hosts").unwrap_or_default());
        out.push_str(&alias_entries(spec.host_aliases.unwrap_or_default()));
        return out;
    }
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    let host = hostname(pod);
    match spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        Some(sub) => {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            out.push_str(&format!(
                "{pod_ip}\t{host}.{sub}.{ns}.svc.{domain}\t{host}\n"
            ));
        }
        None => out.push_str(&format!("{pod_ip}\t{host}\n")),
    }
    out.push_str(&alias_entries(spec.host_aliases.unwrap_or_default()));
    out
}

/// The `hostAliases` lines, under kubelet's heading.
fn alias_entries(aliases: Vec<k8s_openapi::api::core::v1::HostAlias>) -> String {
    let mut out = String::new();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            out.push_str(&format!(
                "{}\t{}\n",
                a.ip,
                a.hostnames.unwrap_or_default().join("\t")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn cluster_first_points_at_cluster_dns() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": []}}),
        );
        assert_eq!(
            resolv_conf(&p, "10.96.0.10", "cluster.local"),
            "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        );
    }

    #[test]
    fn none_uses_dns_config_only_and_options_override() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {
                "containers": [], "dnsPolicy": "None",
                "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["example.org"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
            }}),
        );
        assert_eq!(
            resolv_conf(&p, "10.96.0.10", "cluster.local"),
            "nameserver 1.2.3.4\nsearch example.org\noptions ndots:2 edns0\n"
        );
        let p = pod(
            serde_json::json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {
                "containers": [], "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}
            }}),
        );
        assert!(resolv_conf(&p, "10.96.0.10", "cluster.local").ends_with("options ndots:1\n"));
    }

    #[test]
    fn hosts_name_the_pod_and_its_subdomain() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "web-0", "namespace": "shop"}, "spec": {
                "containers": [], "subdomain": "web", "hostAliases": [{"ip": "1.1.1.1", "hostnames": ["a", "b"]}]
            }}),
        );
        let h = hosts(&p, "10.244.0.7", "cluster.local");
        assert!(h.contains("10.244.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n"));
        assert!(h.ends_with("1.1.1.1\ta\tb\n"));
    }
}
