//! Loopback ports chosen for components before they start.
//!
//! `cluster up` records each listener's port in the component's arguments
//! (a restarted component must listen where its clients point), so the
//! port is picked now and bound only when the component starts. A port
//! from the kernel's ephemeral range — what binding port 0 returns — can be
//! taken in between by anyone's `bind(0)` or outgoing connection: the
//! kubelet servers of a thousand simulated nodes, starting first, once
//! took the proxy's Ingress port. So ports are picked below that range,
//! where only explicit binds land, and below the NodePort range
//! (30000–32767, where the proxy listens for Services), checked free for
//! TCP and UDP (DNS listens on both), and never handed out twice by one
//! process (`cluster up` picks several before any is bound).

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

/// The lowest port picked: below it are the ports students' own servers
/// and tools commonly take (8080, 9090 …).
const LOWEST: u16 = 20_000;
/// Random ports tried before falling back to one from the ephemeral range.
const TRIES: usize = 64;
/// Linux's default `net.ipv4.ip_local_port_range` starts here.
const DEFAULT_EPHEMERAL_LOW: u16 = 32_768;
/// The first NodePort (the API server's default `--service-node-port-range`).
const NODE_PORTS_LOW: u16 = minik_api::validation::NODE_PORT_RANGE.0 as u16;

/// Ports this process has handed out already.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port on 127.0.0.1, free for TCP and UDP now, below the ephemeral and
/// the NodePort ranges, not handed out before by this process.
pub fn free_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let highest = ephemeral_low()
        .unwrap_or(DEFAULT_EPHEMERAL_LOW)
        .min(NODE_PORTS_LOW);
    let usable = |port: u16| !handed_out.contains(&port) && free(port);
    let below = (highest > LOWEST).then(|| {
        (0..TRIES)
            .map(|_| rand::random_range(LOWEST..highest))
            .find(|&p| usable(p))
    });
    let port = match below.flatten() {
        Some(port) => port,
        // Everything tried is taken (or the range leaves no room): the kernel's pick.
        None => loop {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            if usable(port) {
                break port;
            }
        },
    };
    handed_out.insert(port);
    Ok(port)
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_low() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    parse_low(&range)
}

/// The first number of `ip_local_port_range`'s "low<TAB>high".
fn parse_low(range: &str) -> Option<u16> {
    range.split_whitespace().next()?.parse().ok()
}

/// Held by this crate's tests that spawn a process and by those that bind
/// a port right after probing it: a child forked in between holds copies
/// of the probe's sockets until it execs, so the port is still bound for
/// a moment. (`cluster up` binds its picks long after any such moment.)
#[cfg(test)]
pub(crate) static SPAWNING: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ranges_first_port() {
        assert_eq!(parse_low("32768\t60999\n"), Some(32768));
        assert_eq!(parse_low("1024 65535"), Some(1024));
        assert_eq!(parse_low(""), None);
    }

    #[test]
    fn picks_free_ports_below_the_ephemeral_and_node_port_ranges() {
        let highest = ephemeral_low()
            .unwrap_or(DEFAULT_EPHEMERAL_LOW)
            .min(NODE_PORTS_LOW);
        assert_eq!(NODE_PORTS_LOW, 30_000);
        let _no_fork = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..20 {
            let port = free_port().unwrap();
            if highest > LOWEST {
                assert!(
                    (LOWEST..highest).contains(&port),
                    "{port} not below {highest}"
                );
            }
            // Free for both protocols: binding it now works.
            let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
            drop((tcp, udp));
        }
    }

    #[test]
    fn a_port_is_handed_out_once() {
        // Nothing binds them in between, as in `cluster up`: none comes back twice.
        let mut picked = BTreeSet::new();
        for _ in 0..200 {
            let port = free_port().unwrap();
            assert!(picked.insert(port), "{port} was handed out twice");
        }
    }

    #[test]
    fn a_taken_port_is_not_picked() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert!(!free(port), "{port} is bound for TCP");
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        assert!(!free(port), "{port} is bound for UDP");
    }
}
