//! NetworkPolicies, Pods and Namespaces → for each isolated pod, the
//! traffic it may receive (ingress) or send (egress). Pure: no I/O.
//!
//! The rules of `networking.k8s.io/v1`, as Kubernetes documents them:
//! - A pod is isolated for ingress (egress) once any policy in its
//!   namespace selects it and lists `Ingress` (`Egress`) in `policyTypes`
//!   (when absent: `Ingress`, plus `Egress` if the policy has egress
//!   rules). An isolated pod gets what the union of those policies'
//!   rules allows; a pod no policy isolates is not restricted at all.
//! - A rule with no peers (`from`/`to`) matches every address; a rule
//!   with no `ports` every port. A peer is a `podSelector` (pods of the
//!   policy's namespace), a `namespaceSelector` (every pod of the matching
//!   namespaces), both (the matching pods of the matching namespaces), or
//!   an `ipBlock` (a CIDR minus its `except` CIDRs).
//! - A port is a number (optionally up to `endPort`) or a container port's
//!   name, resolved against the pod receiving the traffic: for ingress the
//!   isolated pod itself, for egress each destination pod.
//!
//! Where minik simplifies: IPv4 only (pods have IPv4 addresses); a pod
//! using the host's network is never isolated or matched by pod selectors
//! (its address is the node's).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use minik_api::selectors;
use serde_json::{Map, Value};

/// The label every namespace carries with its own name (Kubernetes sets it;
/// `namespaceSelector`s on it are the usual way to name one namespace).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A transport protocol a policy port names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    fn parse(s: Option<&str>) -> Option<Self> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The name iptables' `-p` takes.
    pub fn iptables_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// The other end of an allowed flow: the source for ingress, the
/// destination for egress.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    /// Any address.
    Any,
    /// One pod's address.
    Pod(Ipv4Addr),
    /// A CIDR minus the `except` CIDRs.
    Block { cidr: Ipv4Net, except: Vec<Ipv4Net> },
}

/// The ports of an allowed flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ports {
    /// Every protocol and port.
    Any,
    /// Every port of one protocol.
    Protocol(Protocol),
    /// `first..=last` of one protocol.
    Range {
        protocol: Protocol,
        first: u16,
        last: u16,
    },
}

/// One allowed flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Allow {
    pub peer: Peer,
    pub ports: Ports,
}

/// An isolated pod in one direction, and what may pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Isolated {
    /// `namespace/name` (rule comments, for people reading the rules).
    pub pod: String,
    pub ip: Ipv4Addr,
    /// The policies isolating it, `namespace/name`.
    pub policies: Vec<String>,
    /// Sorted, without repeats; empty: nothing may pass.
    pub allow: Vec<Allow>,
}

/// Every isolated pod, per direction, in pod order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub ingress: Vec<Isolated>,
    pub egress: Vec<Isolated>,
}

/// A pod with an address on the pod network.
struct PodAddr {
    namespace: String,
    name: String,
    ip: Ipv4Addr,
    labels: Map<String, Value>,
    /// Container ports: (name, protocol, number).
    ports: Vec<(String, Protocol, u16)>,
}

impl PodAddr {
    fn from_pod(pod: &Pod) -> Option<Self> {
        let spec = pod.spec.as_ref()?;
        let status = pod.status.as_ref()?;
        if spec.host_network == Some(true)
            || matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"))
        {
            return None;
        }
        let ip: Ipv4Addr = status.pod_ip.as_deref()?.parse().ok()?;
        let ports = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let number = u16::try_from(p.container_port).ok()?;
                Some((
                    p.name.clone()?,
                    Protocol::parse(p.protocol.as_deref())?,
                    number,
                ))
            })
            .collect();
        Some(Self {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            ip,
            labels: string_map(pod.metadata.labels.as_ref()),
            ports,
        })
    }

    /// The number of the container port named `name` for `protocol`.
    fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|(n, p, _)| n == name && *p == protocol)
            .map(|(_, _, number)| *number)
    }
}

fn string_map(labels: Option<&BTreeMap<String, String>>) -> Map<String, Value> {
    labels
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// A `metav1.LabelSelector` as a matcher; a selector that does not parse
/// (the API server validated it) matches nothing.
fn matcher(selector: &LabelSelector) -> selectors::LabelSelector {
    serde_json::to_value(selector)
        .ok()
        .and_then(|v| selectors::LabelSelector::from_json(&v).ok())
        .unwrap_or_else(selectors::LabelSelector::nothing)
}

/// Whether the policy applies to ingress and egress (`policyTypes`, or its default).
fn directions(spec: &NetworkPolicySpec) -> (bool, bool) {
    match &spec.policy_types {
        Some(types) if !types.is_empty() => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        _ => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

/// A resolved peer: pods stay pods until their named ports are looked up.
enum Target<'a> {
    Any,
    Pod(&'a PodAddr),
    Block { cidr: Ipv4Net, except: Vec<Ipv4Net> },
}

impl Target<'_> {
    fn peer(&self) -> Peer {
        match self {
            Target::Any => Peer::Any,
            Target::Pod(p) => Peer::Pod(p.ip),
            Target::Block { cidr, except } => Peer::Block {
                cidr: *cidr,
                except: except.clone(),
            },
        }
    }

    /// Whether a pod's address is within this target (for egress named ports).
    fn covers(&self, pod: &PodAddr) -> bool {
        match self {
            Target::Any => true,
            Target::Pod(p) => p.ip == pod.ip,
            Target::Block { cidr, except } => {
                cidr.contains(&pod.ip) && !except.iter().any(|e| e.contains(&pod.ip))
            }
        }
    }
}

/// The cluster as the plan reads it.
struct View {
    pods: Vec<PodAddr>,
    namespace_labels: BTreeMap<String, Map<String, Value>>,
}

impl View {
    /// The targets one rule's peers name (`None` peers: everything).
    fn targets(&self, namespace: &str, peers: Option<&Vec<NetworkPolicyPeer>>) -> Vec<Target<'_>> {
        let Some(peers) = peers.filter(|p| !p.is_empty()) else {
            return vec![Target::Any];
        };
        let mut out = Vec::new();
        for peer in peers {
            if let Some(block) = &peer.ip_block {
                // An IPv6 block cannot match an IPv4 pod network; a bad CIDR
                // was refused by validation.
                if let Ok(cidr) = block.cidr.parse::<Ipv4Net>() {
                    let except = block
                        .except
                        .iter()
                        .flatten()
                        .filter_map(|e| e.parse().ok())
                        .collect();
                    out.push(Target::Block { cidr, except });
                }
                continue;
            }
            let pods = peer.pod_selector.as_ref().map(matcher);
            let namespaces = peer.namespace_selector.as_ref().map(matcher);
            for pod in &self.pods {
                let in_namespace = match &namespaces {
                    Some(sel) => self
                        .namespace_labels
                        .get(&pod.namespace)
                        .is_some_and(|labels| sel.matches(labels)),
                    None => pod.namespace == namespace,
                };
                let selected = pods.as_ref().is_none_or(|sel| sel.matches(&pod.labels));
                if in_namespace && selected {
                    out.push(Target::Pod(pod));
                }
            }
        }
        out
    }

    /// The flows one rule allows: its targets × its ports. `receiver` is
    /// the pod receiving the traffic for ingress (named ports resolve
    /// against it); for egress (`None`) they resolve against each target pod.
    fn allows(
        &self,
        targets: &[Target<'_>],
        ports: Option<&Vec<NetworkPolicyPort>>,
        receiver: Option<&PodAddr>,
        out: &mut Vec<Allow>,
    ) {
        let Some(ports) = ports.filter(|p| !p.is_empty()) else {
            out.extend(targets.iter().map(|t| Allow {
                peer: t.peer(),
                ports: Ports::Any,
            }));
            return;
        };
        for port in ports {
            let Some(protocol) = Protocol::parse(port.protocol.as_deref()) else {
                continue;
            };
            match &port.port {
                None => out.extend(targets.iter().map(|t| Allow {
                    peer: t.peer(),
                    ports: Ports::Protocol(protocol),
                })),
                Some(IntOrString::Int(n)) => {
                    let Ok(first) = u16::try_from(*n) else {
                        continue;
                    };
                    let last = port
                        .end_port
                        .and_then(|e| u16::try_from(e).ok())
                        .filter(|e| *e >= first)
                        .unwrap_or(first);
                    out.extend(targets.iter().map(|t| Allow {
                        peer: t.peer(),
                        ports: Ports::Range {
                            protocol,
                            first,
                            last,
                        },
                    }));
                }
                Some(IntOrString::String(name)) => {
                    let range = |n: u16| Ports::Range {
                        protocol,
                        first: n,
                        last: n,
                    };
                    match receiver {
                        // Ingress: the isolated pod's own port of that name.
                        Some(pod) => {
                            if let Some(n) = pod.named_port(name, protocol) {
                                out.extend(targets.iter().map(|t| Allow {
                                    peer: t.peer(),
                                    ports: range(n),
                                }));
                            }
                        }
                        // Egress: every destination pod that has such a port.
                        None => {
                            for pod in &self.pods {
                                let Some(n) = pod.named_port(name, protocol) else {
                                    continue;
                                };
                                if targets.iter().any(|t| t.covers(pod)) {
                                    out.push(Allow {
                                        peer: Peer::Pod(pod.ip),
                                        ports: range(n),
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The plan for the whole cluster.
pub fn plan(policies: &[&NetworkPolicy], pods: &[&Pod], namespaces: &[&Namespace]) -> Plan {
    let mut pods: Vec<PodAddr> = pods.iter().filter_map(|p| PodAddr::from_pod(p)).collect();
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let namespace_labels = namespaces
        .iter()
        .map(|ns| {
            let name = ns.metadata.name.clone().unwrap_or_default();
            let mut labels = string_map(ns.metadata.labels.as_ref());
            labels
                .entry(NAMESPACE_NAME_LABEL)
                .or_insert_with(|| Value::String(name.clone()));
            (name, labels)
        })
        .collect();
    let view = View {
        pods,
        namespace_labels,
    };
    let mut policies: Vec<&NetworkPolicy> = policies.to_vec();
    policies.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    // Per pod index: (policies, allows) for each direction.
    let mut ingress: BTreeMap<usize, (Vec<String>, Vec<Allow>)> = BTreeMap::new();
    let mut egress: BTreeMap<usize, (Vec<String>, Vec<Allow>)> = BTreeMap::new();
    for policy in policies {
        let Some(spec) = &policy.spec else { continue };
        let namespace = policy.metadata.namespace.as_deref().unwrap_or_default();
        let name = format!(
            "{namespace}/{}",
            policy.metadata.name.as_deref().unwrap_or_default()
        );
        let (is_ingress, is_egress) = directions(spec);
        // Absent is the empty selector (a Go struct, not a pointer): every pod.
        let selector = matcher(&spec.pod_selector.clone().unwrap_or_default());
        for (i, pod) in view.pods.iter().enumerate() {
            if pod.namespace != namespace || !selector.matches(&pod.labels) {
                continue;
            }
            if is_ingress {
                let (names, allow) = ingress.entry(i).or_default();
                names.push(name.clone());
                for rule in spec.ingress.iter().flatten() {
                    let targets = view.targets(namespace, rule.from.as_ref());
                    view.allows(&targets, rule.ports.as_ref(), Some(pod), allow);
                }
            }
            if is_egress {
                let (names, allow) = egress.entry(i).or_default();
                names.push(name.clone());
                for rule in spec.egress.iter().flatten() {
                    let targets = view.targets(namespace, rule.to.as_ref());
                    view.allows(&targets, rule.ports.as_ref(), None, allow);
                }
            }
        }
    }
    let finish = |map: BTreeMap<usize, (Vec<String>, Vec<Allow>)>| {
        map.into_iter()
            .map(|(i, (policies, mut allow))| {
                allow.sort();
                allow.dedup();
                let pod = &view.pods[i];
                Isolated {
                    pod: format!("{}/{}", pod.namespace, pod.name),
                    ip: pod.ip,
                    policies,
                    allow,
                }
            })
            .collect()
    };
    Plan {
        ingress: finish(ingress),
        egress: finish(egress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, ip: &str, labels: Value, ports: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": ports}]},
            "status": {"phase": "Running", "podIP": ip},
        }))
        .unwrap()
    }

    fn policy(ns: &str, name: &str, spec: Value) -> NetworkPolicy {
        serde_json::from_value(json!({"metadata": {"namespace": ns, "name": name}, "spec": spec}))
            .unwrap()
    }

    fn namespace(name: &str, labels: Value) -> Namespace {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
    }

    fn cluster() -> (Vec<Pod>, Vec<Namespace>) {
        let http = json!([{"name": "http", "containerPort": 8080}, {"name": "dns", "containerPort": 53, "protocol": "UDP"}]);
        (
            vec![
                pod(
                    "shop",
                    "web",
                    "10.0.0.2",
                    json!({"app": "web"}),
                    http.clone(),
                ),
                pod(
                    "shop",
                    "client",
                    "10.0.0.3",
                    json!({"app": "client"}),
                    json!([]),
                ),
                pod(
                    "ops",
                    "probe",
                    "10.0.0.4",
                    json!({"app": "client"}),
                    json!([]),
                ),
                pod("ops", "api", "10.0.0.5", json!({"app": "api"}), http),
            ],
            vec![
                namespace("shop", json!({"team": "shop"})),
                namespace("ops", json!({"team": "ops"})),
            ],
        )
    }

    fn run(policies: &[NetworkPolicy]) -> Plan {
        let (pods, namespaces) = cluster();
        plan(
            &policies.iter().collect::<Vec<_>>(),
            &pods.iter().collect::<Vec<_>>(),
            &namespaces.iter().collect::<Vec<_>>(),
        )
    }

    fn tcp(first: u16, last: u16) -> Ports {
        Ports::Range {
            protocol: Protocol::Tcp,
            first,
            last,
        }
    }

    fn ip(s: &str) -> Peer {
        Peer::Pod(s.parse().unwrap())
    }

    #[test]
    fn no_policy_isolates_nothing_and_default_deny_isolates_every_pod_of_its_namespace() {
        assert_eq!(run(&[]), Plan::default());
        let plan = run(&[policy("shop", "deny", json!({"podSelector": {}}))]);
        let pods: Vec<&str> = plan.ingress.iter().map(|i| i.pod.as_str()).collect();
        assert_eq!(pods, ["shop/client", "shop/web"]);
        assert!(plan.ingress.iter().all(|i| i.allow.is_empty()));
        assert!(plan.egress.is_empty(), "egress is not isolated by default");
        let plan = run(&[policy(
            "shop",
            "deny",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
        )]);
        assert!(plan.ingress.is_empty());
        assert_eq!(plan.egress.len(), 2);
    }

    #[test]
    fn allow_all_idiom_and_the_union_of_policies() {
        let plan = run(&[
            policy("shop", "deny", json!({"podSelector": {}})),
            policy(
                "shop",
                "allow-all",
                json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}),
            ),
        ]);
        let web = plan.ingress.iter().find(|i| i.pod == "shop/web").unwrap();
        assert_eq!(web.policies, ["shop/allow-all", "shop/deny"]);
        assert_eq!(
            web.allow,
            [Allow {
                peer: Peer::Any,
                ports: Ports::Any
            }]
        );
    }

    #[test]
    fn pod_and_namespace_selectors_and_named_ports() {
        let plan = run(&[policy(
            "shop",
            "web",
            json!({
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": "http"}]},
                    {"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}}, "podSelector": {"matchLabels": {"app": "api"}}}],
                     "ports": [{"port": 9000, "endPort": 9010}, {"protocol": "UDP", "port": "dns"}, {"port": "missing"}]},
                ],
            }),
        )]);
        assert_eq!(plan.ingress.len(), 1);
        assert_eq!(
            plan.ingress[0].allow,
            [
                // podSelector alone: the policy's namespace only (not ops/probe).
                Allow {
                    peer: ip("10.0.0.3"),
                    ports: tcp(8080, 8080)
                },
                Allow {
                    peer: ip("10.0.0.5"),
                    ports: tcp(9000, 9010)
                },
                Allow {
                    peer: ip("10.0.0.5"),
                    ports: Ports::Range {
                        protocol: Protocol::Udp,
                        first: 53,
                        last: 53
                    }
                },
            ]
        );
    }

    #[test]
    fn namespace_name_label_ip_blocks_and_egress_named_ports() {
        let plan = run(&[policy(
            "shop",
            "out",
            json!({
                "podSelector": {"matchLabels": {"app": "client"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}], "ports": [{"port": "http"}]},
                    {"to": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.4/32"]}}], "ports": [{"protocol": "UDP"}]},
                    {"ports": [{"port": 53, "protocol": "UDP"}]},
                ],
            }),
        )]);
        assert!(plan.ingress.is_empty());
        assert_eq!(plan.egress.len(), 1);
        assert_eq!(plan.egress[0].pod, "shop/client");
        assert_eq!(
            plan.egress[0].allow,
            [
                Allow {
                    peer: Peer::Any,
                    ports: Ports::Range {
                        protocol: Protocol::Udp,
                        first: 53,
                        last: 53
                    }
                },
                // Only ops/api has a port named http among ops' pods.
                Allow {
                    peer: ip("10.0.0.5"),
                    ports: tcp(8080, 8080)
                },
                Allow {
                    peer: Peer::Block {
                        cidr: "10.0.0.0/24".parse().unwrap(),
                        except: vec!["10.0.0.4/32".parse().unwrap()]
                    },
                    ports: Ports::Protocol(Protocol::Udp)
                },
            ]
        );
    }

    /// The microservices tutorial's policy, as the seed writes it.
    #[test]
    fn the_tutorials_policy() {
        let seed = policy(
            "microservices",
            "microservices-network-policy",
            json!({
                "podSelector": {"matchLabels": {"app": "user-service"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [
                    {"podSelector": {"matchLabels": {"app": "api-gateway"}}},
                    {"namespaceSelector": {"matchLabels": {"name": "monitoring"}},
                     "podSelector": {"matchLabels": {"app": "prometheus"}}},
                ], "ports": [{"protocol": "TCP", "port": 3001}]}],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}],
                     "ports": [{"protocol": "TCP", "port": 5432}]},
                    {"to": [], "ports": [{"protocol": "UDP", "port": 53}]},
                ],
            }),
        );
        let pods = [
            pod(
                "microservices",
                "user",
                "10.0.1.1",
                json!({"app": "user-service"}),
                json!([]),
            ),
            pod(
                "microservices",
                "gw",
                "10.0.1.2",
                json!({"app": "api-gateway"}),
                json!([]),
            ),
            pod(
                "microservices",
                "db",
                "10.0.1.3",
                json!({"app": "postgres"}),
                json!([]),
            ),
            pod(
                "microservices",
                "prom-here",
                "10.0.1.4",
                json!({"app": "prometheus"}),
                json!([]),
            ),
            pod(
                "monitoring",
                "prom",
                "10.0.2.1",
                json!({"app": "prometheus"}),
                json!([]),
            ),
            pod(
                "monitoring",
                "other",
                "10.0.2.2",
                json!({"app": "grafana"}),
                json!([]),
            ),
        ];
        let namespaces = [
            namespace("microservices", json!({})),
            namespace("monitoring", json!({"name": "monitoring"})),
        ];
        let out = plan(
            &[&seed],
            &pods.iter().collect::<Vec<_>>(),
            &namespaces.iter().collect::<Vec<_>>(),
        );
        let ingress: Vec<Allow> = ["10.0.1.2", "10.0.2.1"]
            .map(|p| Allow {
                peer: ip(p),
                ports: tcp(3001, 3001),
            })
            .to_vec();
        assert_eq!(out.ingress.len(), 1);
        assert_eq!(out.ingress[0].pod, "microservices/user");
        assert_eq!(out.ingress[0].allow, ingress);
        let egress = vec![
            Allow {
                peer: Peer::Any,
                ports: Ports::Range {
                    protocol: Protocol::Udp,
                    first: 53,
                    last: 53,
                },
            },
            Allow {
                peer: ip("10.0.1.3"),
                ports: tcp(5432, 5432),
            },
        ];
        assert_eq!(out.egress[0].allow, egress);
    }

    #[test]
    fn finished_and_host_network_pods_are_left_out() {
        let mut done = pod("shop", "done", "10.0.0.9", json!({}), json!([]));
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let mut host = pod("shop", "host", "192.168.1.2", json!({}), json!([]));
        host.spec.as_mut().unwrap().host_network = Some(true);
        let deny = policy("shop", "deny", json!({"podSelector": {}}));
        let out = plan(&[&deny], &[&done, &host], &[]);
        assert_eq!(out, Plan::default());
    }
}
