//! Forwarding of names outside the cluster to upstream resolvers.
//!
//! Mirrors CoreDNS's `forward . /etc/resolv.conf` in the default Corefile:
//! the upstreams are the host's nameservers unless `--upstream` says
//! otherwise. Where minik differs on purpose: no cache, no health checks
//! and no random upstream order — upstreams are tried in order, each with
//! an equal share of one short deadline (2 s by default), so that a
//! laptop without network fails a lookup fast instead of hanging every
//! `nslookup` in every pod. A query that arrived over TCP is forwarded
//! over TCP (so truncated UDP answers can be retried by the client).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{DnsResponse, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::net::client::{Client, ClientHandle};
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::net::tcp::TcpClientStream;
use hickory_server::net::udp::UdpClientStream;
use hickory_server::net::xfer::{DnsExchange, Protocol};

/// The upstream resolvers, with one UDP exchange each (shared by all queries).
pub struct Forwarder {
    upstreams: Vec<(SocketAddr, DnsExchange<TokioRuntimeProvider>)>,
    timeout: Duration,
}

impl Forwarder {
    /// A forwarder to `upstreams`, giving up after `timeout` in total.
    pub fn new(upstreams: &[SocketAddr], timeout: Duration) -> Self {
        let share = timeout / upstreams.len().max(1) as u32;
        let upstreams = upstreams
            .iter()
            .map(|addr| {
                let exchange = UdpClientStream::builder(*addr, TokioRuntimeProvider::new())
                    .with_timeout(Some(share))
                    .with_max_retries(0)
                    .exchange();
                (*addr, exchange)
            })
            .collect();
        Self { upstreams, timeout }
    }

    /// Asks the upstreams in order; `None` when none answered in time
    /// (the caller answers SERVFAIL, as CoreDNS does).
    pub async fn forward(
        &self,
        name: Name,
        qtype: RecordType,
        protocol: Protocol,
    ) -> Option<DnsResponse> {
        let share = self.timeout / self.upstreams.len().max(1) as u32;
        for (addr, exchange) in &self.upstreams {
            let answer = if protocol == Protocol::Tcp {
                tokio::time::timeout(share, query_tcp(*addr, share, name.clone(), qtype)).await
            } else {
                let mut exchange = exchange.clone();
                tokio::time::timeout(share, exchange.query(name.clone(), DNSClass::IN, qtype)).await
            };
            match answer {
                // A SERVFAIL or REFUSED from one upstream: try the next one.
                Ok(Ok(response))
                    if !matches!(
                        response.metadata.response_code,
                        ResponseCode::ServFail | ResponseCode::Refused
                    ) =>
                {
                    return Some(response)
                }
                Ok(Ok(_)) => tracing::debug!(%addr, %name, "upstream refused or failed"),
                Ok(Err(error)) => tracing::debug!(%addr, %name, %error, "upstream error"),
                Err(_) => tracing::debug!(%addr, %name, "upstream timed out"),
            }
        }
        None
    }
}

async fn query_tcp(
    addr: SocketAddr,
    timeout: Duration,
    name: Name,
    qtype: RecordType,
) -> Result<DnsResponse, hickory_server::net::NetError> {
    let (connect, sender) =
        TcpClientStream::new(addr, None, Some(timeout), TokioRuntimeProvider::new());
    let (mut client, bg) = Client::<TokioRuntimeProvider>::new(connect.await?, sender);
    let bg = tokio::spawn(bg);
    let answer = client.query(name, DNSClass::IN, qtype).await;
    bg.abort();
    answer
}

/// The `nameserver` lines of a resolv.conf (port 53), in order. Loopback
/// stub resolvers (systemd-resolved's 127.0.0.53) are kept: the DNS server
/// runs on the host, where they answer.
pub fn resolv_conf_nameservers(path: &Path) -> std::io::Result<Vec<SocketAddr>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then_some(())?;
            let ip: std::net::IpAddr = words.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameserver_lines() {
        let dir = std::env::temp_dir().join(format!("minik-dns-resolv-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# comment\nsearch example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\noptions ndots:2\n",
        )
        .unwrap();
        let servers = resolv_conf_nameservers(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(
            servers,
            vec![
                "192.0.2.53:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }
}
