//! The API server's connections to the kubelets (logs, exec, stats and the
//! metrics scrape): HTTPS with the API server's kubelet-client certificate
//! (`--kubelet-client-certificate`, `O=system:masters`), checking the
//! kubelet's serving certificate against `--kubelet-certificate-authority`
//! — or plain HTTP when none is configured (in-process tests, and
//! `--insecure-plain-http`). Every minik kubelet listens on 127.0.0.1.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use minik_client::tls::TlsFiles;
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Resumption};
use rustls::client::{Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

/// A connection to a kubelet, TLS or not.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How the API server dials a kubelet.
#[derive(Clone, Default)]
pub struct KubeletClient {
    tls: Option<TlsConnector>,
}

impl KubeletClient {
    /// TLS with `files` (client certificate and the kubelets' CA), or plain.
    pub fn new(files: Option<&TlsFiles>) -> Result<KubeletClient, String> {
        let tls = match files {
            Some(files) => Some(TlsConnector::from(Arc::new(tls_config(files)?))),
            None => None,
        };
        Ok(KubeletClient { tls })
    }

    /// A connection to the kubelet listening on 127.0.0.1:`port`.
    pub async fn connect(&self, port: u16) -> std::io::Result<Box<dyn Io>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some(tls) => Ok(Box::new(
                tls.connect(minik_client::tls::loopback(), tcp).await?,
            )),
        }
    }
}

/// The client side of the API server's kubelet connections: its
/// certificate, the kubelets' CA, and room for a session ticket per
/// connection the metrics scrape has open at once ([`KubeletTickets`]).
pub(crate) fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, String> {
    let mut config = minik_client::tls::client_config(files)?;
    config.resumption = Resumption::store(Arc::new(KubeletTickets::default()));
    Ok(config)
}

/// How many TLS 1.3 session tickets are kept for one server name: more
/// than the metrics scrape's concurrent connections (64), as each
/// connection takes one.
const TICKETS_PER_NAME: usize = 256;

/// Session tickets from the kubelets, so the metrics scrape — every node
/// dialled anew each 15 s — resumes sessions instead of a full handshake
/// (a signature and two certificate checks) per node. Every minik kubelet
/// is 127.0.0.1 to TLS, one server name, and rustls's own cache keeps 8
/// tickets a name: a scrape starting 64 connections at once resumed at
/// most 8 of them. Tickets are single-use; one a kubelet does not take (a
/// ticket of another kubelet process) costs a full handshake, as without
/// it. Key-exchange hints and TLS 1.2 sessions stay with rustls's cache.
#[derive(Debug)]
struct KubeletTickets {
    others: ClientSessionMemoryCache,
    tls13: Mutex<HashMap<ServerName<'static>, VecDeque<Tls13ClientSessionValue>>>,
}

impl Default for KubeletTickets {
    fn default() -> Self {
        Self {
            others: ClientSessionMemoryCache::new(64),
            tls13: Mutex::default(),
        }
    }
}

impl ClientSessionStore for KubeletTickets {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.others.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.others.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.others.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.others.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.others.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        let mut all = self.tls13.lock().unwrap_or_else(|e| e.into_inner());
        let tickets = all.entry(server_name).or_default();
        if tickets.len() == TICKETS_PER_NAME {
            tickets.pop_front();
        }
        tickets.push_back(value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        let mut all = self.tls13.lock().unwrap_or_else(|e| e.into_inner());
        // Newest first: the oldest are the likeliest to have expired.
        all.get_mut(server_name)?.pop_back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` connections at once to `addr` with `connector`: how many resumed.
    async fn wave(connector: &TlsConnector, addr: std::net::SocketAddr, n: usize) -> usize {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let one = || async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut tls = connector
                .connect(minik_client::tls::loopback(), tcp)
                .await
                .unwrap();
            // One round trip, so the tickets sent after the handshake are read.
            tls.write_all(b"ping").await.unwrap();
            let mut pong = [0u8; 4];
            tls.read_exact(&mut pong).await.unwrap();
            tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
        };
        futures::future::join_all((0..n).map(|_| one()))
            .await
            .into_iter()
            .filter(|resumed| *resumed)
            .count()
    }

    #[tokio::test]
    async fn a_scrape_of_many_kubelets_at_once_resumes_every_session() {
        let dir = tempfile::tempdir().unwrap();
        let listen: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        let certs =
            crate::certificates::ensure(dir.path(), listen, [10, 96, 0, 1].into(), &[]).unwrap();
        // A kubelet's server side: client certificates required, tickets on.
        let mut server = minik_client::tls::server_config(
            &certs.tls_files(),
            minik_client::tls::ClientAuth::Required,
        )
        .unwrap();
        server.ticketer = rustls::crypto::ring::Ticketer::new().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let mut tls = acceptor.accept(tcp).await.unwrap();
                    let mut ping = [0u8; 4];
                    tls.read_exact(&mut ping).await.unwrap();
                    tls.write_all(b"pong").await.unwrap();
                });
            }
        });
        let connector = TlsConnector::from(Arc::new(tls_config(&certs.kubelet_files()).unwrap()));
        // More at once than rustls's own cache keeps tickets for one name.
        const AT_ONCE: usize = 32;
        assert_eq!(
            wave(&connector, addr, AT_ONCE).await,
            0,
            "nothing to resume yet"
        );
        assert_eq!(
            wave(&connector, addr, AT_ONCE).await,
            AT_ONCE,
            "every connection of the second wave resumes"
        );
        served.abort();
    }
}
