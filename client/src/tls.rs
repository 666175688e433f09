//! rustls configurations from PEM text, the same way for every component
//! that serves or dials TLS itself (the `kube` client does its own): the
//! API server's listener, the kubelet's listener, and the API server's
//! connections to the kubelets. The `ring` provider throughout; HTTP/1.1
//! (what minik's servers speak; exec's WebSocket upgrades need it).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;

/// A certificate, its key and the CA the other side is checked against.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

/// Whether a server asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Verified if sent; a client without one still connects (the API
    /// server: tokens and anonymous requests are decided later).
    Optional,
    /// A certificate from the CA or no connection (the kubelet).
    Required,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: {e}"))
}

fn roots(ca_pem: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(ca_pem, "CA")? {
        roots.add(ca).map_err(|e| format!("CA: {e}"))?;
    }
    Ok(roots)
}

/// A server configuration: `files` is the serving certificate and key, and
/// the CA client certificates must come from.
pub fn server_config(files: &TlsFiles, auth: ClientAuth) -> Result<rustls::ServerConfig, String> {
    let key = PrivateKeyDer::from_pem_slice(files.key_pem.as_bytes())
        .map_err(|e| format!("serving key: {e}"))?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&files.ca_pem)?), provider());
    let verifier = match auth {
        ClientAuth::Optional => verifier.allow_unauthenticated(),
        ClientAuth::Required => verifier,
    }
    .build()
    .map_err(|e| format!("client CA: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&files.cert_pem, "serving certificate")?, key)
        .map_err(|e| format!("serving certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A client configuration that trusts `files.ca_pem` and presents
/// `files`' certificate.
pub fn client_config(files: &TlsFiles) -> Result<rustls::ClientConfig, String> {
    let key = PrivateKeyDer::from_pem_slice(files.key_pem.as_bytes())
        .map_err(|e| format!("client key: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(&files.ca_pem)?)
        .with_client_auth_cert(certs(&files.cert_pem, "client certificate")?, key)
        .map_err(|e| format!("client certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The name a loopback server's certificate is checked for.
pub fn loopback() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
}
