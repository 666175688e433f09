//! The `cluster.local` zone as a pure function of the watched objects.
//!
//! Mirrors CoreDNS's `kubernetes` plugin and the Kubernetes DNS
//! specification (kubernetes/dns `docs/specification.md`):
//!
//! | name | record |
//! |---|---|
//! | `<svc>.<ns>.svc.<domain>` | A → ClusterIP; headless → one A per ready endpoint |
//! | `<host>.<svc>.<ns>.svc.<domain>` | A → that endpoint (headless); `<host>` is the endpoint's `hostname`, the pod's `spec.hostname` when its `spec.subdomain` names the service, else the IP with dashes |
//! | `_<port>._<proto>.<svc>.<ns>.svc.<domain>` | SRV per named port (targets the service, or each endpoint when headless) |
//! | `<a-b-c-d>.<ns>.pod.<domain>` | A for a pod that has that IP ("pods verified") |
//! | reverse of a ClusterIP / headless endpoint IP | PTR → the names above |
//! | ExternalName service | CNAME → `spec.externalName` |
//!
//! Pods' names are not stored as records: the zone keeps each namespace's
//! pod IPs and answers `<a-b-c-d>.<ns>.pod.<domain>` by parsing the name
//! and looking the IP up, as CoreDNS does in "pods verified" mode (a
//! record per pod was most of the zone at 30,000 pods).
//!
//! Simplifications on purpose: the zone is rebuilt whole on every change
//! (CoreDNS answers from indexed informer caches instead; a rebuild of a
//! laptop-sized cluster takes well under a millisecond, and a snapshot
//! makes every answer consistent); IPv4 and IPv6 ClusterIPs are served,
//! but only `in-addr.arpa` of the service CIDR is claimed as authoritative;
//! no wildcard queries, no `dns-version` TXT, no zone transfers.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use minik_client::service_endpoints::{self, ServiceEndpoints};

use crate::pod_address::PodAddress;

/// TTL of every answer (CoreDNS's `kubernetes` plugin default).
pub const TTL: u32 = 5;

/// What a lookup in the zone found.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// Records for the name and type (`additionals`: glue for SRV targets).
    Records {
        answers: Vec<Record>,
        additionals: Vec<Record>,
    },
    /// The name is an alias (ExternalName): the CNAME, for the caller to chase.
    Alias(Record),
    /// The name exists but has no record of that type (NOERROR, SOA in authority).
    NoData(Record),
    /// The name does not exist in a zone we are authoritative for (SOA in authority).
    NxDomain(Record),
    /// Not our zone: forward upstream.
    NotOurs,
}

/// One immutable snapshot of the cluster's DNS data.
pub struct Zone {
    domain: LowerName,
    reverse_zone: Option<(IpNet, LowerName)>,
    records: HashMap<LowerName, Vec<Record>>,
    /// Each namespace's pod IPs: `<dashed IP>.<ns>.pod.<domain>` exists
    /// for each (see [`Zone::pod_record`]).
    pod_ips: HashMap<String, HashSet<IpAddr>>,
    /// Every name that exists, including empty non-terminals such as
    /// `svc.cluster.local` (they answer NODATA, not NXDOMAIN).
    names: HashSet<LowerName>,
    soa: Record,
}

/// The settings a zone is built with.
#[derive(Debug, Clone)]
pub struct ZoneSettings {
    /// The cluster domain, e.g. `cluster.local`.
    pub domain: Name,
    /// The service CIDR: its reverse zone is ours (NXDOMAIN for unknown IPs).
    pub service_cidr: Option<IpNet>,
}

impl Zone {
    /// Builds the zone from the current objects. `serial` is the SOA serial
    /// (it grows with every rebuild so resolvers can tell versions apart).
    pub fn build(
        settings: &ZoneSettings,
        serial: u32,
        services: &[std::sync::Arc<Service>],
        slices: &[std::sync::Arc<EndpointSlice>],
        pods: &[std::sync::Arc<PodAddress>],
    ) -> Zone {
        let mut domain = settings.domain.clone();
        domain.set_fqdn(true);
        let mut b = Builder {
            domain: domain.clone(),
            records: HashMap::new(),
        };
        let endpoints_by_key = service_endpoints::by_service(slices);
        let pods_by_key: HashMap<(&str, &str), &PodAddress> = pods
            .iter()
            .filter_map(|p| Some(((ns_of(&p.metadata)?, p.metadata.name.as_deref()?), &**p)))
            .collect();

        for svc in services {
            let (Some(ns), Some(name)) = (ns_of(&svc.metadata), svc.metadata.name.as_deref())
            else {
                continue;
            };
            b.service(
                svc,
                ns,
                name,
                endpoints_by_key.get(&(ns, name)),
                &pods_by_key,
            );
        }
        let mut pod_ips: HashMap<String, HashSet<IpAddr>> = HashMap::new();
        for pod in pods {
            let Some(ns) = ns_of(&pod.metadata) else {
                continue;
            };
            for ip in pod.ips().filter_map(|ip| ip.parse::<IpAddr>().ok()) {
                match pod_ips.get_mut(ns) {
                    Some(ips) => {
                        ips.insert(ip);
                    }
                    None => {
                        pod_ips.insert(ns.to_string(), HashSet::from([ip]));
                    }
                }
            }
        }

        let mname = name_in(&domain, &["ns", "dns"]);
        let rname = name_in(&domain, &["hostmaster"]);
        let soa_data = SOA::new(mname.clone(), rname, serial, 7200, 1800, 86400, TTL);
        let soa = Record::from_rdata(domain.clone(), TTL, RData::SOA(soa_data.clone()));
        b.add(soa.clone());
        b.add(Record::from_rdata(
            domain.clone(),
            TTL,
            RData::NS(NS(mname)),
        ));

        let reverse_zone = settings
            .service_cidr
            .map(|cidr| (cidr, reverse_zone_of(cidr)));
        let mut names = HashSet::new();
        let pod_namespaces = pod_ips.keys().map(|ns| name_in(&domain, &[ns, "pod"]));
        for mut n in b.records.keys().map(Name::from).chain(pod_namespaces) {
            // Ancestors down to (and including) the zone apex exist too.
            while n.num_labels() >= domain.num_labels() || is_reverse(&n) && n.num_labels() > 2 {
                if !names.insert(LowerName::new(&n)) {
                    break;
                }
                n = n.base_name();
            }
        }
        Zone {
            domain: LowerName::new(&domain),
            reverse_zone,
            records: b.records,
            pod_ips,
            names,
            soa,
        }
    }

    /// The zone's SOA record (for authority sections).
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// Looks `name`/`qtype` up in the zone.
    pub fn lookup(&self, name: &LowerName, qtype: RecordType) -> Answer {
        let ours = self.domain.zone_of(name);
        let reverse = !ours && is_reverse(&name.into());
        if !ours && !reverse {
            return Answer::NotOurs;
        }
        let Some(rrs) = self.records.get(name) else {
            if let Some(record) = self.pod_record(name).filter(|_| ours) {
                if qtype != RecordType::ANY && record.record_type() != qtype {
                    return Answer::NoData(self.soa.clone());
                }
                return Answer::Records {
                    answers: vec![record],
                    additionals: Vec::new(),
                };
            }
            if ours {
                return if self.names.contains(name) {
                    Answer::NoData(self.soa.clone())
                } else {
                    Answer::NxDomain(self.soa.clone())
                };
            }
            // A reverse name we have no PTR for: ours only inside the service CIDR.
            return match &self.reverse_zone {
                Some((cidr, zone)) if in_cidr(name, cidr) => {
                    let mut soa = self.soa.clone();
                    soa.name = zone.into();
                    if self.names.contains(name) {
                        Answer::NoData(soa)
                    } else {
                        Answer::NxDomain(soa)
                    }
                }
                _ => Answer::NotOurs,
            };
        };
        let answers: Vec<Record> = rrs
            .iter()
            .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
            .cloned()
            .collect();
        if answers.is_empty() {
            if let Some(cname) = rrs.iter().find(|r| r.record_type() == RecordType::CNAME) {
                return Answer::Alias(cname.clone());
            }
            return Answer::NoData(self.soa.clone());
        }
        let additionals = answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => self.records.get(&LowerName::new(&srv.target)),
                _ => None,
            })
            .flatten()
            .filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
            .cloned()
            .collect();
        Answer::Records {
            answers,
            additionals,
        }
    }

    /// `<dashed IP>.<ns>.pod.<domain>`'s address, if a pod of `ns` has that
    /// IP (only the IP's own dashed form: `10-1-2-3`, or `fd00--1` for
    /// `fd00::1`).
    fn pod_record(&self, name: &LowerName) -> Option<Record> {
        let name: Name = name.into();
        if name.num_labels() != self.domain.num_labels() + 3 {
            return None;
        }
        let labels: Vec<&[u8]> = name.iter().take(3).collect();
        let [dashed_ip, ns, b"pod"] = labels[..] else {
            return None;
        };
        let dashed_ip = std::str::from_utf8(dashed_ip).ok()?;
        let ip = dashed_ip
            .replace('-', ".")
            .parse::<IpAddr>()
            .or_else(|_| dashed_ip.replace('-', ":").parse::<IpAddr>())
            .ok()
            .filter(|ip| dashed(*ip) == dashed_ip)?;
        let ns = std::str::from_utf8(ns).ok()?;
        if !self.pod_ips.get(ns)?.contains(&ip) {
            return None;
        }
        Some(address_record(name, ip))
    }
}

/// Accumulates records while the zone is built.
struct Builder {
    domain: Name,
    records: HashMap<LowerName, Vec<Record>>,
}

impl Builder {
    fn add(&mut self, record: Record) {
        let rrs = self
            .records
            .entry(LowerName::new(&record.name))
            .or_default();
        if !rrs.contains(&record) {
            rrs.push(record);
        }
    }

    fn address(&mut self, name: &Name, ip: IpAddr) {
        self.add(address_record(name.clone(), ip));
    }

    fn ptr(&mut self, ip: IpAddr, target: &Name) {
        self.add(Record::from_rdata(
            Name::from(ip),
            TTL,
            RData::PTR(PTR(target.clone())),
        ));
    }

    fn srv(&mut self, base: &Name, port_name: &str, protocol: &str, srv: SRV) {
        let proto = format!("_{}", protocol.to_ascii_lowercase());
        let port = format!("_{port_name}");
        if let Ok(name) = Name::from_labels([port.as_bytes(), proto.as_bytes()])
            .and_then(|prefix| prefix.append_domain(base))
        {
            self.add(Record::from_rdata(name, TTL, RData::SRV(srv)));
        }
    }

    /// Records of one Service (and of its ready endpoints when it is headless).
    fn service(
        &mut self,
        svc: &Service,
        ns: &str,
        name: &str,
        endpoints: Option<&ServiceEndpoints<'_>>,
        pods: &HashMap<(&str, &str), &PodAddress>,
    ) {
        let Some(spec) = &svc.spec else { return };
        let base = name_in(&self.domain, &[name, ns, "svc"]);
        if spec.type_.as_deref() == Some("ExternalName") {
            if let Some(target) = spec.external_name.as_deref().and_then(fqdn) {
                self.add(Record::from_rdata(base, TTL, RData::CNAME(CNAME(target))));
            }
            return;
        }
        let cluster_ips: Vec<&str> = match &spec.cluster_ips {
            Some(ips) if !ips.is_empty() => ips.iter().map(String::as_str).collect(),
            _ => spec.cluster_ip.as_deref().into_iter().collect(),
        };
        let headless = cluster_ips
            .first()
            .is_none_or(|ip| *ip == "None" || ip.is_empty());
        if !headless {
            for ip in cluster_ips
                .iter()
                .filter_map(|ip| ip.parse::<IpAddr>().ok())
            {
                self.address(&base, ip);
                self.ptr(ip, &base);
            }
            for port in spec.ports.iter().flatten() {
                if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
                    let proto = port.protocol.as_deref().unwrap_or("TCP");
                    let srv = SRV::new(0, 100, port.port as u16, base.clone());
                    self.srv(&base, port_name, proto, srv);
                }
            }
            return;
        }
        // Headless: the ready endpoints themselves.
        let Some(endpoints) = endpoints else { return };
        let ready: Vec<_> = endpoints
            .endpoints()
            .filter(|(e, _)| service_endpoints::is_ready(e))
            .collect();
        let total: usize = ready.iter().map(|(e, _)| e.addresses.len()).sum();
        let weight = (100 / total.max(1)).max(1) as u16;
        for (endpoint, ports) in ready {
            for address in &endpoint.addresses {
                let Ok(ip) = address.parse::<IpAddr>() else {
                    continue;
                };
                let host = endpoint_hostname(
                    endpoint.hostname.as_deref(),
                    endpoint.target_ref.as_ref(),
                    name,
                    ns,
                    pods,
                )
                .unwrap_or_else(|| dashed(ip));
                let Ok(host_name) =
                    Name::from_labels([host.as_bytes()]).and_then(|h| h.append_domain(&base))
                else {
                    continue;
                };
                self.address(&base, ip);
                self.address(&host_name, ip);
                self.ptr(ip, &host_name);
                for port in ports {
                    let (Some(port_name), Some(number)) =
                        (port.name.as_deref().filter(|n| !n.is_empty()), port.port)
                    else {
                        continue;
                    };
                    let proto = port.protocol.as_deref().unwrap_or("TCP");
                    let srv = SRV::new(0, weight, number as u16, host_name.clone());
                    self.srv(&base, port_name, proto, srv);
                }
            }
        }
    }
}

/// The endpoint's DNS label: its `hostname`, else its pod's `spec.hostname`
/// when the pod's `spec.subdomain` is this service (how Kubernetes names
/// StatefulSet pods: `web-0.nginx.default.svc.cluster.local`).
fn endpoint_hostname(
    hostname: Option<&str>,
    target: Option<&ObjectReference>,
    service: &str,
    ns: &str,
    pods: &HashMap<(&str, &str), &PodAddress>,
) -> Option<String> {
    if let Some(h) = hostname.filter(|h| !h.is_empty()) {
        return Some(h.to_string());
    }
    let target = target?;
    if target.kind.as_deref() != Some("Pod") {
        return None;
    }
    let pod_ns = target.namespace.as_deref().unwrap_or(ns);
    let pod = pods.get(&(pod_ns, target.name.as_deref()?))?;
    let spec = &pod.spec;
    if spec.subdomain.as_deref() != Some(service) {
        return None;
    }
    spec.hostname.clone().filter(|h| !h.is_empty())
}

fn ns_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<&str> {
    meta.namespace.as_deref()
}

/// `name`'s A (IPv4) or AAAA (IPv6) record.
fn address_record(name: Name, ip: IpAddr) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name, TTL, data)
}

/// `10.244.0.5` → `10-244-0-5` (IPv6: colons become dashes, as in Kubernetes).
fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// `labels` prepended to `domain` (labels are already valid DNS-1123 names).
fn name_in(domain: &Name, labels: &[&str]) -> Name {
    Name::from_labels(labels.iter().map(|l| l.as_bytes()))
        .and_then(|n| n.append_domain(domain))
        .unwrap_or_else(|_| domain.clone())
}

fn fqdn(target: &str) -> Option<Name> {
    let mut name = Name::from_str(target).ok()?;
    name.set_fqdn(true);
    Some(name)
}

fn is_reverse(name: &Name) -> bool {
    let n = name.num_labels();
    if n < 2 {
        return false;
    }
    let tail = name.trim_to(2).to_lowercase().to_ascii();
    tail == "in-addr.arpa." || tail == "ip6.arpa."
}

fn in_cidr(name: &LowerName, cidr: &IpNet) -> bool {
    let name: Name = name.into();
    match name.parse_arpa_name() {
        Ok(net) => cidr.contains(&net) || cidr.contains(&net.network()),
        Err(_) => false,
    }
}

/// The reverse zone covering `cidr`, rounded to whole labels
/// (10.96.0.0/16 → `96.10.in-addr.arpa.`).
fn reverse_zone_of(cidr: IpNet) -> LowerName {
    let full = Name::from(cidr.network());
    let whole_labels = match cidr {
        IpNet::V4(n) => (n.prefix_len() / 8) as usize,
        IpNet::V6(n) => (n.prefix_len() / 4) as usize,
    };
    let keep = 2 + whole_labels;
    LowerName::new(&full.trim_to(keep))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn settings() -> ZoneSettings {
        ZoneSettings {
            domain: Name::from_str("cluster.local").unwrap(),
            service_cidr: Some("10.96.0.0/16".parse().unwrap()),
        }
    }

    fn lower(s: &str) -> LowerName {
        LowerName::from_str(s).unwrap()
    }

    fn svc(v: serde_json::Value) -> Arc<Service> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn zone() -> Zone {
        let services = vec![
            svc(json!({"metadata": {"name": "web", "namespace": "default"},
                "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}})),
            svc(json!({"metadata": {"name": "db", "namespace": "shop"},
                "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}})),
            svc(json!({"metadata": {"name": "ext", "namespace": "default"},
                "spec": {"type": "ExternalName", "externalName": "example.test"}})),
        ];
        let endpoints: Vec<Arc<EndpointSlice>> = vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "db-x7k2p", "namespace": "shop",
                    "labels": {"kubernetes.io/service-name": "db"}},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": ["10.244.0.7"], "hostname": "db-0", "conditions": {"ready": true}},
                    {"addresses": ["10.244.0.8"], "conditions": {"ready": true},
                        "targetRef": {"kind": "Pod", "name": "db-1", "namespace": "shop"}},
                    {"addresses": ["10.244.0.9"], "conditions": {"ready": false}},
                ],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]
            }))
            .unwrap(),
        )];
        let pods: Vec<Arc<PodAddress>> = vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "db-1", "namespace": "shop"},
                "spec": {"hostname": "db-1", "subdomain": "db", "containers": []},
                "status": {"podIP": "10.244.0.8"}
            }))
            .unwrap(),
        )];
        Zone::build(&settings(), 7, &services, &endpoints, &pods)
    }

    fn ips(answer: Answer) -> Vec<String> {
        let Answer::Records { answers, .. } = answer else {
            panic!("expected records, got {answer:?}")
        };
        let mut v: Vec<String> = answers.iter().map(|r| r.data.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn cluster_ip_service_has_a_ptr_and_srv() {
        let z = zone();
        assert_eq!(
            ips(z.lookup(&lower("web.default.svc.cluster.local."), RecordType::A)),
            ["10.96.0.20"]
        );
        assert_eq!(
            ips(z.lookup(&lower("20.0.96.10.in-addr.arpa."), RecordType::PTR)),
            ["web.default.svc.cluster.local."]
        );
        let Answer::Records { answers, .. } = z.lookup(
            &lower("_http._tcp.web.default.svc.cluster.local."),
            RecordType::SRV,
        ) else {
            panic!()
        };
        assert_eq!(
            answers[0].data.to_string(),
            "0 100 80 web.default.svc.cluster.local."
        );
    }

    #[test]
    fn headless_service_answers_ready_endpoints_and_hostnames() {
        let z = zone();
        assert_eq!(
            ips(z.lookup(&lower("db.shop.svc.cluster.local."), RecordType::A)),
            ["10.244.0.7", "10.244.0.8"]
        );
        assert_eq!(
            ips(z.lookup(&lower("db-0.db.shop.svc.cluster.local."), RecordType::A)),
            ["10.244.0.7"]
        );
        // Hostname from the pod's spec.hostname + spec.subdomain.
        assert_eq!(
            ips(z.lookup(&lower("db-1.db.shop.svc.cluster.local."), RecordType::A)),
            ["10.244.0.8"]
        );
        assert_eq!(
            ips(z.lookup(&lower("8.0.244.10.in-addr.arpa."), RecordType::PTR)),
            ["db-1.db.shop.svc.cluster.local."]
        );
        let Answer::Records {
            answers,
            additionals,
        } = z.lookup(
            &lower("_pg._tcp.db.shop.svc.cluster.local."),
            RecordType::SRV,
        )
        else {
            panic!()
        };
        assert_eq!(answers.len(), 2);
        assert_eq!(additionals.len(), 2, "glue A records for the SRV targets");
    }

    #[test]
    fn external_name_is_an_alias_and_unknown_names_are_nxdomain() {
        let z = zone();
        match z.lookup(&lower("ext.default.svc.cluster.local."), RecordType::A) {
            Answer::Alias(r) => assert_eq!(r.data.to_string(), "example.test."),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            z.lookup(&lower("nope.default.svc.cluster.local."), RecordType::A),
            Answer::NxDomain(_)
        ));
        // Empty non-terminal and wrong type: NODATA.
        assert!(matches!(
            z.lookup(&lower("default.svc.cluster.local."), RecordType::A),
            Answer::NoData(_)
        ));
        assert!(matches!(
            z.lookup(&lower("web.default.svc.cluster.local."), RecordType::AAAA),
            Answer::NoData(_)
        ));
        // Reverse: inside the service CIDR ours, elsewhere forwarded.
        assert!(matches!(
            z.lookup(&lower("99.0.96.10.in-addr.arpa."), RecordType::PTR),
            Answer::NxDomain(_)
        ));
        assert_eq!(
            z.lookup(&lower("1.1.168.192.in-addr.arpa."), RecordType::PTR),
            Answer::NotOurs
        );
        assert_eq!(
            z.lookup(&lower("example.test."), RecordType::A),
            Answer::NotOurs
        );
    }

    #[test]
    fn pods_get_dashed_names_and_lookups_ignore_case() {
        let z = zone();
        assert_eq!(
            ips(z.lookup(&lower("10-244-0-8.shop.pod.cluster.local."), RecordType::A)),
            ["10.244.0.8"]
        );
        assert_eq!(
            ips(z.lookup(&lower("WEB.Default.svc.cluster.local."), RecordType::A)),
            ["10.96.0.20"]
        );
    }

    #[test]
    fn pod_names_are_answered_from_the_pods_ips() {
        let pods: Vec<Arc<PodAddress>> = [
            ("a", "shop", json!({"podIP": "10.244.1.5"})),
            (
                "b",
                "shop",
                json!({"podIP": "10.244.1.6", "podIPs": [{"ip": "10.244.1.6"}, {"ip": "fd00::6"}]}),
            ),
            ("c", "other", json!({})),
        ]
        .into_iter()
        .map(|(name, ns, status)| {
            Arc::new(
                serde_json::from_value(json!({
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"containers": []},
                    "status": status,
                }))
                .unwrap(),
            )
        })
        .collect();
        let z = Zone::build(&settings(), 1, &[], &[], &pods);
        let a = |name: &str, t| z.lookup(&lower(name), t);
        assert_eq!(
            ips(a("10-244-1-5.shop.pod.cluster.local.", RecordType::A)),
            ["10.244.1.5"]
        );
        assert_eq!(
            ips(a("fd00--6.shop.pod.cluster.local.", RecordType::AAAA)),
            ["fd00::6"]
        );
        assert_eq!(
            ips(a("10-244-1-6.shop.pod.cluster.local.", RecordType::ANY)),
            ["10.244.1.6"]
        );
        // The name exists, not with that type.
        assert!(matches!(
            a("10-244-1-5.shop.pod.cluster.local.", RecordType::AAAA),
            Answer::NoData(_)
        ));
        // Another namespace's pod, an IP no pod has, a form that is not the
        // IP's own (leading zero), something that is no IP at all.
        for missing in [
            "10-244-1-5.other.pod.cluster.local.",
            "10-244-1-7.shop.pod.cluster.local.",
            "10-244-1-05.shop.pod.cluster.local.",
            "web.shop.pod.cluster.local.",
            "x.10-244-1-5.shop.pod.cluster.local.",
        ] {
            assert!(
                matches!(a(missing, RecordType::A), Answer::NxDomain(_)),
                "{missing}"
            );
        }
        // A namespace with pods that have IPs is an empty non-terminal; one
        // whose pods have none is not there.
        assert!(matches!(
            a("shop.pod.cluster.local.", RecordType::A),
            Answer::NoData(_)
        ));
        assert!(matches!(
            a("pod.cluster.local.", RecordType::A),
            Answer::NoData(_)
        ));
        assert!(matches!(
            a("other.pod.cluster.local.", RecordType::A),
            Answer::NxDomain(_)
        ));
    }

    #[test]
    fn reverse_zone_is_rounded_to_labels() {
        assert_eq!(
            reverse_zone_of("10.96.0.0/16".parse().unwrap()).to_string(),
            "96.10.in-addr.arpa."
        );
    }
}
