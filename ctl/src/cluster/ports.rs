//! Loopback ports chosen for components before they start.
//!
//! `cluster up` records each listener's port in the component's arguments
//! (a restarted component must listen where its clients point), so the
//! port is picked now and bound only when the component starts. A port
//! from the kernel's ephemeral range — what binding port 0 returns — can be
//! taken in between by anyone's `bind(0)` or outgoing connection: the
//! kubelet servers of a thousand simulated nodes, starting first, once
//! took the proxy's Ingress port. So ports are picked below that range,
//! where only explicit binds land, and checked for TCP and UDP (DNS
//! listens on both).

use std::net::{TcpListener, UdpSocket};

/// The lowest port picked: below it are the ports students' own servers
/// and tools commonly take (8080, 9090 …).
const LOWEST: u16 = 20_000;
/// Random ports tried before falling back to one from the ephemeral range.
const TRIES: usize = 64;
/// Linux's default `net.ipv4.ip_local_port_range` starts here.
const DEFAULT_EPHEMERAL_LOW: u16 = 32_768;

/// A port on 127.0.0.1, free for TCP and UDP now, below the ephemeral range.
pub fn free_port() -> std::io::Result<u16> {
    let ephemeral_low = ephemeral_low().unwrap_or(DEFAULT_EPHEMERAL_LOW);
    if ephemeral_low > LOWEST {
        for _ in 0..TRIES {
            let port = rand::random_range(LOWEST..ephemeral_low);
            if free(port) {
                return Ok(port);
            }
        }
    }
    // Everything tried is taken (or the range leaves no room): the kernel's pick.
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if free(port) {
            return Ok(port);
        }
    }
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
    fn picks_free_ports_below_the_ephemeral_range() {
        let low = ephemeral_low().unwrap_or(DEFAULT_EPHEMERAL_LOW);
        for _ in 0..20 {
            let port = free_port().unwrap();
            if low > LOWEST {
                assert!((LOWEST..low).contains(&port), "{port} not below {low}");
            }
            // Free for both protocols: binding it now works.
            let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
            drop((tcp, udp));
        }
    }

    #[test]
    fn a_taken_port_is_not_picked() {
        // Hold every port `free_port` returns; none comes back twice.
        let mut held = Vec::new();
        for _ in 0..50 {
            let port = free_port().unwrap();
            assert!(
                !held
                    .iter()
                    .any(|l: &TcpListener| l.local_addr().unwrap().port() == port),
                "{port} was picked while held"
            );
            held.push(TcpListener::bind(("127.0.0.1", port)).unwrap());
        }
    }
}
