//! ClusterIP and NodePort allocation for Services — kube-apiserver's
//! service IP and port allocators.
//!
//! Kubernetes keeps allocation bitmaps in etcd. minik keeps them in memory
//! and rebuilds them at start-up from the stored Services, which are the
//! truth anyway: an IP or port is taken exactly when a stored Service
//! holds it. Dynamic allocation picks randomly from the upper part of the
//! range and leaves the low addresses (10.96.0.1 for `kubernetes`,
//! 10.96.0.10 for cluster DNS) to be requested explicitly, as Kubernetes does.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::Mutex;

use serde_json::{json, Value};

/// A service IP range such as `10.96.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR like 10.96.0.0/16"))?;
        let base: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("prefix /{prefix} must be between /8 and /30"));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr {
            base: Ipv4Addr::from(u32::from(base) & mask),
            prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl Cidr {
    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let offset = u32::from(ip).wrapping_sub(u32::from(self.base));
        offset < self.size()
    }

    /// The `n`th address of the range (1 = the first usable one).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
}

struct Used {
    ips: HashSet<Ipv4Addr>,
    ports: HashSet<u16>,
}

pub struct ServiceAllocator {
    pub cidr: Cidr,
    pub node_ports: RangeInclusive<u16>,
    used: Mutex<Used>,
}

fn random(n: u32) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (h.finish() % n as u64) as u32
}

impl ServiceAllocator {
    pub fn new(cidr: Cidr, node_ports: RangeInclusive<u16>) -> Self {
        Self {
            cidr,
            node_ports,
            used: Mutex::new(Used {
                ips: HashSet::new(),
                ports: HashSet::new(),
            }),
        }
    }

    /// Marks what a stored Service holds as taken (start-up).
    pub fn load(&self, svc: &Value) {
        let mut used = self.used.lock().unwrap();
        for ip in cluster_ips(svc) {
            used.ips.insert(ip);
        }
        for (_, port) in node_ports(svc) {
            used.ports.insert(port);
        }
    }

    fn take_ip(&self, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr, String> {
        let mut used = self.used.lock().unwrap();
        if let Some(ip) = requested {
            if !self.cidr.contains(ip)
                || ip == self.cidr.base
                || ip == self.cidr.nth(self.cidr.size() - 1)
            {
                return Err(format!("failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}", self.cidr));
            }
            if !used.ips.insert(ip) {
                return Err(format!(
                    "failed to allocate IP {ip}: provided IP is already allocated"
                ));
            }
            return Ok(ip);
        }
        // Dynamic: the upper part of the range (Kubernetes reserves the
        // bottom 1/16, at least 16 and at most 256 addresses, for static use).
        let size = self.cidr.size();
        let reserved = (size / 16).clamp(16, 256).min(size / 2);
        let span = size - reserved - 1;
        let start = random(span);
        for i in 0..span {
            let ip = self.cidr.nth(reserved + (start + i) % span);
            if used.ips.insert(ip) {
                return Ok(ip);
            }
        }
        // Then the static part, as a last resort.
        for n in 1..reserved {
            let ip = self.cidr.nth(n);
            if used.ips.insert(ip) {
                return Ok(ip);
            }
        }
        Err(format!(
            "failed to allocate a serviceIP: range is full ({})",
            self.cidr
        ))
    }

    fn take_port(&self, requested: Option<u16>) -> Result<u16, String> {
        let mut used = self.used.lock().unwrap();
        if let Some(p) = requested {
            if !self.node_ports.contains(&p) {
                return Err(format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    self.node_ports.start(),
                    self.node_ports.end()
                ));
            }
            if !used.ports.insert(p) {
                return Err("provided port is already allocated".into());
            }
            return Ok(p);
        }
        let span = (*self.node_ports.end() - *self.node_ports.start()) as u32 + 1;
        let start = random(span);
        for i in 0..span {
            let p = *self.node_ports.start() + ((start + i) % span) as u16;
            if used.ports.insert(p) {
                return Ok(p);
            }
        }
        Err("range is full".into())
    }

    /// Frees everything `svc` holds.
    pub fn release(&self, svc: &Value) {
        let mut used = self.used.lock().unwrap();
        for ip in cluster_ips(svc) {
            used.ips.remove(&ip);
        }
        for (_, port) in node_ports(svc) {
            used.ports.remove(&port);
        }
    }

    /// Gives a new Service its ClusterIP and NodePorts (requested ones if
    /// free). On error nothing stays allocated; the error is (field, value, detail).
    pub fn allocate(&self, svc: &mut Value) -> Result<(), (String, Value, String)> {
        self.reallocate(svc, &Value::Null)
    }

    /// Brings allocations from `old` (Null for a new Service) to what `new`
    /// needs: keeps what it still holds, allocates what it gains, frees what
    /// it dropped once the update is stored (see [`Self::release_dropped`]).
    pub fn reallocate(&self, new: &mut Value, old: &Value) -> Result<(), (String, Value, String)> {
        let ty = new
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let mut taken_ips = Vec::new();
        let mut taken_ports = Vec::new();
        let result = (|| {
            if ty != "ExternalName" {
                let requested = new
                    .pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let old_ip = old
                    .pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if requested == "None" {
                    new["spec"]["clusterIPs"] = json!(["None"]);
                } else if requested.is_empty() || requested != old_ip {
                    let wanted = if requested.is_empty() {
                        None
                    } else {
                        Some(requested.parse::<Ipv4Addr>().map_err(|_| {
                            (
                                "spec.clusterIPs".to_string(),
                                json!([requested]),
                                "must be a valid IP address".to_string(),
                            )
                        })?)
                    };
                    let ip = self
                        .take_ip(wanted)
                        .map_err(|e| ("spec.clusterIPs".to_string(), json!([requested]), e))?;
                    taken_ips.push(ip);
                    new["spec"]["clusterIP"] = json!(ip.to_string());
                    new["spec"]["clusterIPs"] = json!([ip.to_string()]);
                }
            }
            let wants_node_ports = ty == "NodePort"
                || (ty == "LoadBalancer"
                    && new
                        .pointer("/spec/allocateLoadBalancerNodePorts")
                        .and_then(Value::as_bool)
                        != Some(false));
            let old_ports: HashSet<u16> = node_ports(old).into_iter().map(|(_, p)| p).collect();
            let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
                return Ok(());
            };
            for (i, port) in ports.iter_mut().enumerate() {
                let requested = port
                    .get("nodePort")
                    .and_then(Value::as_u64)
                    .map(|p| p as u16);
                if !wants_node_ports {
                    if let Some(o) = port.as_object_mut() {
                        o.remove("nodePort");
                    }
                    continue;
                }
                match requested {
                    Some(p) if old_ports.contains(&p) => {}
                    _ => {
                        let p = self.take_port(requested).map_err(|e| {
                            (
                                format!("spec.ports[{i}].nodePort"),
                                json!(requested.unwrap_or(0)),
                                e,
                            )
                        })?;
                        taken_ports.push(p);
                        port["nodePort"] = json!(p);
                    }
                }
            }
            Ok(())
        })();
        if result.is_err() {
            let mut used = self.used.lock().unwrap();
            for ip in taken_ips {
                used.ips.remove(&ip);
            }
            for p in taken_ports {
                used.ports.remove(&p);
            }
        }
        result
    }

    /// After an update is stored: frees what `old` held and `new` does not.
    pub fn release_dropped(&self, new: &Value, old: &Value) {
        let keep_ips: HashSet<Ipv4Addr> = cluster_ips(new).into_iter().collect();
        let keep_ports: HashSet<u16> = node_ports(new).into_iter().map(|(_, p)| p).collect();
        let mut used = self.used.lock().unwrap();
        for ip in cluster_ips(old) {
            if !keep_ips.contains(&ip) {
                used.ips.remove(&ip);
            }
        }
        for (_, p) in node_ports(old) {
            if !keep_ports.contains(&p) {
                used.ports.remove(&p);
            }
        }
    }
}

fn cluster_ips(svc: &Value) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = svc
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    if let Some(ip) = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
    {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

fn node_ports(svc: &Value) -> Vec<(usize, u16)> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, p.get("nodePort")?.as_u64()? as u16)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc() -> ServiceAllocator {
        ServiceAllocator::new("10.96.0.0/16".parse().unwrap(), 30000..=32767)
    }

    #[test]
    fn dynamic_ips_avoid_the_static_range_and_requested_ones_conflict() {
        let a = alloc();
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        a.allocate(&mut s).unwrap();
        let ip: Ipv4Addr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(
            u32::from(ip) >= u32::from(Ipv4Addr::new(10, 96, 1, 0)),
            "{ip}"
        );
        let mut fixed = json!({"spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}});
        a.allocate(&mut fixed).unwrap();
        let mut again = json!({"spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}});
        let (field, _, detail) = a.allocate(&mut again).unwrap_err();
        assert_eq!(field, "spec.clusterIPs");
        assert!(detail.contains("already allocated"));
        a.release(&fixed);
        a.allocate(&mut again).unwrap();
    }

    #[test]
    fn node_ports_are_allocated_and_conflicts_rejected() {
        let a = alloc();
        let mut s = json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}, {"port": 81}]}});
        a.allocate(&mut s).unwrap();
        assert_eq!(s["spec"]["ports"][0]["nodePort"], 30001);
        assert!(s["spec"]["ports"][1]["nodePort"].as_u64().is_some());
        let mut clash =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}]}});
        let (field, _, _) = a.allocate(&mut clash).unwrap_err();
        assert_eq!(field, "spec.ports[0].nodePort");
        // The failed attempt left nothing allocated (its ClusterIP was given back).
        let mut headless = json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}});
        a.allocate(&mut headless).unwrap();
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    }

    #[test]
    fn cidr_parsing() {
        let c: Cidr = "10.96.3.7/16".parse().unwrap();
        assert_eq!(c.to_string(), "10.96.0.0/16");
        assert!(c.contains("10.96.255.254".parse().unwrap()));
        assert!(!c.contains("10.97.0.1".parse().unwrap()));
        assert!("10.96.0.0".parse::<Cidr>().is_err());
    }
}
