//! The load balancer of one service port: its ready endpoints, round-robin
//! choice, and ClientIP session affinity.
//!
//! kube-proxy's iptables mode picks an endpoint per new connection with
//! `statistic --mode random` rules and keeps affinity with the `recent`
//! module; its old userspace mode used round-robin and an affinity map,
//! as the listeners do here (minik's own DNAT rules, in [`crate::nat`],
//! round-robin with `statistic --mode nth` and leave affinity to the
//! listeners). The endpoint list is replaced in place when Endpoints
//! change, so listeners keep running and new connections see the new list
//! at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Ready endpoints and balancing state of one service port.
#[derive(Default)]
pub struct Backends {
    state: RwLock<State>,
    next: AtomicUsize,
    /// ClientIP affinity: client → (endpoint, last used).
    sticky: Mutex<HashMap<IpAddr, (SocketAddr, Instant)>>,
}

#[derive(Default)]
struct State {
    endpoints: Arc<Vec<SocketAddr>>,
    /// `sessionAffinity: ClientIP` with its `timeoutSeconds`.
    affinity: Option<Duration>,
}

impl Backends {
    pub fn new(endpoints: Vec<SocketAddr>, affinity: Option<Duration>) -> Self {
        let backends = Self::default();
        backends.update(endpoints, affinity);
        backends
    }

    /// Replaces the endpoint list (new connections use it at once) and
    /// forgets affinities to endpoints that are gone.
    pub fn update(&self, endpoints: Vec<SocketAddr>, affinity: Option<Duration>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if *state.endpoints != endpoints || state.affinity != affinity {
            let mut sticky = self.sticky.lock().unwrap_or_else(|e| e.into_inner());
            if affinity.is_none() {
                sticky.clear();
            } else {
                sticky.retain(|_, (ep, _)| endpoints.contains(ep));
            }
            state.endpoints = Arc::new(endpoints);
            state.affinity = affinity;
        }
    }

    /// The current ready endpoints.
    pub fn endpoints(&self) -> Arc<Vec<SocketAddr>> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .endpoints
            .clone()
    }

    /// Whether `endpoint` is still one of the ready endpoints.
    pub fn contains(&self, endpoint: &SocketAddr) -> bool {
        self.endpoints().contains(endpoint)
    }

    /// Chooses an endpoint for a new connection from `client`, or `None`
    /// when there are no ready endpoints.
    pub fn pick(&self, client: IpAddr) -> Option<SocketAddr> {
        let (endpoints, affinity) = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            (state.endpoints.clone(), state.affinity)
        };
        if endpoints.is_empty() {
            return None;
        }
        let Some(timeout) = affinity else {
            return Some(self.round_robin(&endpoints));
        };
        let now = Instant::now();
        let mut sticky = self.sticky.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((ep, last)) = sticky.get_mut(&client) {
            if now.duration_since(*last) <= timeout && endpoints.contains(ep) {
                *last = now;
                return Some(*ep);
            }
        }
        let ep = self.round_robin(&endpoints);
        sticky.insert(client, (ep, now));
        if sticky.len() > 4096 {
            sticky.retain(|_, (_, last)| now.duration_since(*last) <= timeout);
        }
        Some(ep)
    }

    /// Forgets `client`'s affinity (its endpoint refused the connection).
    pub fn unstick(&self, client: IpAddr) {
        self.sticky
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client);
    }

    fn round_robin(&self, endpoints: &[SocketAddr]) -> SocketAddr {
        endpoints[self.next.fetch_add(1, Ordering::Relaxed) % endpoints.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ports: &[u16]) -> Vec<SocketAddr> {
        ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect()
    }

    #[test]
    fn round_robin_visits_every_endpoint() {
        let b = Backends::new(addrs(&[1, 2, 3]), None);
        let client: IpAddr = [10, 0, 0, 1].into();
        let mut seen: Vec<u16> = (0..6).map(|_| b.pick(client).unwrap().port()).collect();
        seen.sort();
        assert_eq!(seen, [1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn affinity_sticks_until_the_endpoint_goes_away() {
        let b = Backends::new(addrs(&[1, 2, 3]), Some(Duration::from_secs(60)));
        let client: IpAddr = [10, 0, 0, 1].into();
        let first = b.pick(client).unwrap();
        for _ in 0..5 {
            assert_eq!(b.pick(client), Some(first));
        }
        // Another client is balanced independently.
        assert_ne!(b.pick([10, 0, 0, 2].into()), None);
        let rest: Vec<SocketAddr> = addrs(&[1, 2, 3])
            .into_iter()
            .filter(|a| *a != first)
            .collect();
        b.update(rest.clone(), Some(Duration::from_secs(60)));
        let second = b.pick(client).unwrap();
        assert!(rest.contains(&second));
        assert_eq!(b.pick(client), Some(second));
    }

    #[test]
    fn no_endpoints_means_no_pick() {
        let b = Backends::new(vec![], None);
        assert_eq!(b.pick([10, 0, 0, 1].into()), None);
    }
}
