//! The API server's connections to the kubelets (logs, exec, stats and the
//! metrics scrape): HTTPS with the API server's kubelet-client certificate
//! (`--kubelet-client-certificate`, `O=system:masters`), checking the
//! kubelet's serving certificate against `--kubelet-certificate-authority`
//! — or plain HTTP when none is configured (in-process tests, and
//! `--insecure-plain-http`). Every minik kubelet listens on 127.0.0.1.

use std::sync::Arc;

use minik_client::tls::TlsFiles;
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
            Some(files) => {
                let config = minik_client::tls::client_config(files)?;
                Some(TlsConnector::from(Arc::new(config)))
            }
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
