//! A one-question DNS client: `cluster up` and `cluster status` ask the
//! cluster DNS (on its loopback listener) for `kubernetes.default.svc.cluster.local`,
//! which exists in every cluster, to know DNS answers. Hand-written (one
//! UDP packet each way) to keep miniktl free of a resolver library.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// The name every cluster resolves.
pub const PROBE_NAME: &str = "kubernetes.default.svc.cluster.local";

/// Asks `server` for the A record of `name`; the first address, if answered.
pub async fn query_a(server: SocketAddr, name: &str, timeout: Duration) -> Option<Ipv4Addr> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.ok()?;
    let id: u16 = rand::random();
    let packet = build_query(id, name);
    sock.send_to(&packet, server).await.ok()?;
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(timeout, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    parse_answer(&buf[..n], id)
}

fn build_query(id: u16, name: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    p
}

fn skip_name(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *b.get(i)?;
        if len & 0xc0 == 0xc0 {
            return Some(i + 2);
        }
        if len == 0 {
            return Some(i + 1);
        }
        i += 1 + len as usize;
    }
}

fn parse_answer(b: &[u8], id: u16) -> Option<Ipv4Addr> {
    if b.len() < 12 || u16::from_be_bytes([b[0], b[1]]) != id || b[3] & 0x0f != 0 {
        return None;
    }
    let qd = u16::from_be_bytes([b[4], b[5]]);
    let an = u16::from_be_bytes([b[6], b[7]]);
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(b, i)? + 4;
    }
    for _ in 0..an {
        i = skip_name(b, i)?;
        let t = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]);
        let len = u16::from_be_bytes([*b.get(i + 8)?, *b.get(i + 9)?]) as usize;
        i += 10;
        if t == 1 && len == 4 {
            return Some(Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]));
        }
        i += len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_a_answer() {
        let mut resp = build_query(7, "a.b");
        resp[2] = 0x81;
        resp[3] = 0x80;
        resp[7] = 1;
        resp.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 1]);
        assert_eq!(parse_answer(&resp, 7), Some(Ipv4Addr::new(10, 96, 0, 1)));
        assert_eq!(parse_answer(&resp, 8), None);
    }
}
