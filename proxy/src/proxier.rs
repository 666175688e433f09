//! Applies a plan: one balancer per service port, one listener per frontend.
//!
//! kube-proxy's `syncProxyRules` writes the whole iptables ruleset at
//! once; minik's equivalent step reconciles running listeners with the
//! plan: balancers are updated in place (so running listeners see new
//! endpoints at once and keep their sockets), listeners whose frontend
//! disappeared are stopped, new ones are bound. A frontend that cannot be
//! bound (port in use, two services claiming one host port) is reported
//! back, and retried at the next sync. Level-triggered and idempotent:
//! applying the same plan twice changes nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::backends::Backends;
use crate::plan::{Frontend, PortKey, PortPlan, Protocol};

/// Balancers by service port, shared with the Ingress router.
pub type SharedBackends = Arc<RwLock<HashMap<PortKey, Arc<Backends>>>>;

/// A frontend that is not being served, and why.
#[derive(Clone, Debug)]
pub struct Failure {
    pub key: PortKey,
    pub frontend: Frontend,
    pub reason: String,
}

struct Listener {
    key: PortKey,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The running listeners and balancers.
pub struct Proxier {
    backends: SharedBackends,
    listeners: HashMap<(SocketAddr, Protocol), Listener>,
    udp_idle: Duration,
}

impl Proxier {
    pub fn new(udp_idle: Duration) -> Self {
        Self {
            backends: Arc::default(),
            listeners: HashMap::new(),
            udp_idle,
        }
    }

    /// The balancers, for the Ingress router.
    pub fn backends(&self) -> SharedBackends {
        self.backends.clone()
    }

    /// Whether `frontend` is being served by `key`.
    pub fn serves(&self, key: &PortKey, frontend: &Frontend) -> bool {
        self.listeners
            .get(&(frontend.addr, frontend.protocol))
            .is_some_and(|l| l.key == *key)
    }

    /// Makes the running state match `plans`; returns what could not be served.
    pub fn apply(&mut self, plans: &[PortPlan]) -> Vec<Failure> {
        // Balancers first: listeners that survive see new endpoints at once.
        {
            let mut backends = self.backends.write().unwrap_or_else(|e| e.into_inner());
            backends.retain(|k, _| plans.iter().any(|p| p.key == *k));
            for p in plans {
                match backends.get(&p.key) {
                    Some(b) => b.update(p.endpoints.clone(), p.affinity),
                    None => {
                        let b = Backends::new(p.endpoints.clone(), p.affinity);
                        backends.insert(p.key.clone(), Arc::new(b));
                    }
                }
            }
        }
        // Who gets each frontend: the service already serving it keeps it;
        // otherwise the first (oldest) service to claim it.
        let mut wanted: HashMap<(SocketAddr, Protocol), &PortKey> = HashMap::new();
        for p in plans {
            for f in &p.frontends {
                let slot = (f.addr, f.protocol);
                if self.listeners.get(&slot).is_some_and(|l| l.key == p.key) {
                    wanted.insert(slot, &p.key);
                }
            }
        }
        let mut failures = Vec::new();
        for p in plans {
            for f in &p.frontends {
                match wanted.get(&(f.addr, f.protocol)).filter(|k| ***k != p.key) {
                    Some(owner) => failures.push(Failure {
                        key: p.key.clone(),
                        frontend: *f,
                        reason: format!(
                            "{} {} is already used by service {}/{}",
                            proto_name(f.protocol),
                            f.addr,
                            owner.namespace,
                            owner.service
                        ),
                    }),
                    None => {
                        wanted.entry((f.addr, f.protocol)).or_insert(&p.key);
                    }
                }
            }
        }
        self.listeners
            .retain(|addr, l| wanted.get(addr).is_some_and(|k| **k == l.key));
        let backends = self
            .backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for p in plans {
            for f in &p.frontends {
                let slot = (f.addr, f.protocol);
                if wanted.get(&slot) != Some(&&p.key) || self.listeners.contains_key(&slot) {
                    continue;
                }
                let balancer = backends[&p.key].clone();
                match self.listen(*f, balancer) {
                    Ok(task) => {
                        tracing::info!(
                            service = %format!("{}/{}", p.key.namespace, p.key.service),
                            port = %p.key.port_name,
                            frontend = %f.addr,
                            kind = ?f.kind,
                            protocol = proto_name(f.protocol),
                            "listening"
                        );
                        let key = p.key.clone();
                        self.listeners.insert(slot, Listener { key, task });
                    }
                    Err(error) => failures.push(Failure {
                        key: p.key.clone(),
                        frontend: *f,
                        reason: format!(
                            "cannot listen on {} {}: {error}",
                            proto_name(f.protocol),
                            f.addr
                        ),
                    }),
                }
            }
        }
        failures
    }

    fn listen(&self, f: Frontend, backends: Arc<Backends>) -> std::io::Result<JoinHandle<()>> {
        Ok(match f.protocol {
            Protocol::Tcp => {
                let listener = crate::socket::tcp_listener(f.addr)?;
                tokio::spawn(crate::tcp::serve(listener, backends))
            }
            Protocol::Udp => {
                let socket = crate::socket::udp_socket(f.addr)?;
                tokio::spawn(crate::udp::serve(socket, backends, self.udp_idle))
            }
        })
    }
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}
