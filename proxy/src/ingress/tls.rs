//! The Ingress HTTPS listener's certificates: each Ingress `spec.tls`
//! entry names a `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) in the
//! Ingress's namespace and the hosts it serves; the listener picks the
//! certificate by the client's SNI name — the exact host first, then a
//! `*.domain` wildcard, as ingress-nginx does. A client asking for any
//! other name (or none) gets ingress-nginx's self-signed "Kubernetes
//! Ingress Controller Fake Certificate", made at start.
//!
//! Where minik simplifies: a `tls` entry without `hosts` is not a default
//! certificate (ingress-nginx's `--default-ssl-certificate` is not
//! offered), and HTTP is not redirected to HTTPS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The Common Name of the certificate served when no Ingress names the host.
pub const FAKE_CERTIFICATE: &str = "Kubernetes Ingress Controller Fake Certificate";

/// Certificates by host name, swapped whole after each sync.
#[derive(Debug)]
pub struct Certificates {
    by_host: RwLock<Arc<ByHost>>,
    fallback: Arc<CertifiedKey>,
}

impl Certificates {
    /// No hosts yet; the fake certificate for everything.
    pub fn new() -> Result<Arc<Self>, String> {
        let ca = minik_client::pki::Ca::generate(FAKE_CERTIFICATE).map_err(|e| e.to_string())?;
        let fake = ca
            .issue_server(FAKE_CERTIFICATE, &["ingress.local".to_string()], &[])
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Self {
            by_host: RwLock::default(),
            fallback: Arc::new(certified_key(
                fake.cert_pem.as_bytes(),
                fake.key_pem.as_bytes(),
            )?),
        }))
    }

    /// Replaces every host's certificate.
    pub fn set(&self, by_host: ByHost) {
        *self.by_host.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(by_host);
    }

    /// The certificate for a server name (SNI).
    fn for_name(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let by_host = self
            .by_host
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(name) = name.map(str::to_ascii_lowercase) else {
            return self.fallback.clone();
        };
        let wildcard = name.split_once('.').map(|(_, rest)| format!("*.{rest}"));
        by_host
            .get(&name)
            .or_else(|| wildcard.and_then(|w| by_host.get(&w)))
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }

    /// A TLS server configuration that asks these certificates (HTTP/1.1).
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.for_name(hello.server_name()))
    }
}

/// A certificate chain and its key, as rustls signs with them.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls.crt: {e}"))?;
    if chain.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("tls.key: {e}"))?;
    let key = any_supported_type(&key).map_err(|e| format!("tls.key: {e}"))?;
    Ok(CertifiedKey::new(chain, key))
}

/// Certificates by (lower-case) host name.
pub type ByHost = HashMap<String, Arc<CertifiedKey>>;

/// Every host's certificate from the Ingresses' `spec.tls` entries (the
/// oldest Ingress wins a host, as for routes), and for each entry whose
/// Secret cannot be used, the Ingress and why.
pub fn collect(
    ingresses: &[&Ingress],
    secrets: &[Arc<Secret>],
) -> (ByHost, Vec<(Ingress, String)>) {
    let mut by_host = HashMap::new();
    let mut problems = Vec::new();
    for ing in ingresses {
        let ns = ing.metadata.namespace.clone().unwrap_or_default();
        for tls in ing.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
            let Some(secret_name) = tls.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                continue;
            };
            let secret = secrets.iter().find(|s| {
                s.metadata.namespace.as_deref() == Some(ns.as_str())
                    && s.metadata.name.as_deref() == Some(secret_name)
            });
            let key = match secret {
                None => Err(format!("secret {ns}/{secret_name} was not found")),
                Some(s) => {
                    let data = s.data.clone().unwrap_or_default();
                    match (data.get("tls.crt"), data.get("tls.key")) {
                        (Some(crt), Some(key)) => certified_key(&crt.0, &key.0)
                            .map(Arc::new)
                            .map_err(|e| format!("secret {ns}/{secret_name}: {e}")),
                        _ => Err(format!(
                            "secret {ns}/{secret_name} has no tls.crt and tls.key"
                        )),
                    }
                }
            };
            match key {
                Ok(key) => {
                    for host in tls.hosts.iter().flatten() {
                        by_host
                            .entry(host.to_ascii_lowercase())
                            .or_insert_with(|| key.clone());
                    }
                }
                Err(why) => problems.push((
                    (*ing).clone(),
                    format!("Error getting SSL certificate: {why}"),
                )),
            }
        }
    }
    (by_host, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(ns: &str, name: &str, host: &str) -> Arc<Secret> {
        let ca = minik_client::pki::Ca::generate("test").unwrap();
        let issued = ca.issue_server(host, &[host.to_string()], &[]).unwrap();
        let mut s = Secret::default();
        s.metadata.namespace = Some(ns.into());
        s.metadata.name = Some(name.into());
        s.data = Some(
            [
                (
                    "tls.crt".to_string(),
                    ByteString(issued.cert_pem.into_bytes()),
                ),
                (
                    "tls.key".to_string(),
                    ByteString(issued.key_pem.into_bytes()),
                ),
            ]
            .into(),
        );
        Arc::new(s)
    }

    fn ingress(ns: &str, tls: serde_json::Value) -> Ingress {
        serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": ns, "name": "i"},
            "spec": {"tls": tls},
        }))
        .unwrap()
    }

    #[test]
    fn hosts_get_their_secrets_certificate_and_others_the_fake_one() {
        let certs = Certificates::new().unwrap();
        let shop = ingress(
            "shop",
            serde_json::json!([
                {"hosts": ["shop.example", "*.apps.example"], "secretName": "shop-tls"},
                {"hosts": ["missing.example"], "secretName": "absent"},
            ]),
        );
        let secrets = [
            secret("shop", "shop-tls", "shop.example"),
            secret("other", "absent", "x"),
        ];
        let (by_host, problems) = collect(&[&shop], &secrets);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].1,
            "Error getting SSL certificate: secret shop/absent was not found"
        );
        certs.set(by_host);
        let shop_cert = certs.for_name(Some("shop.example"));
        assert!(Arc::ptr_eq(
            &shop_cert,
            &certs.for_name(Some("Shop.Example"))
        ));
        assert!(Arc::ptr_eq(
            &shop_cert,
            &certs.for_name(Some("a.apps.example"))
        ));
        assert!(Arc::ptr_eq(
            &certs.fallback,
            &certs.for_name(Some("other.example"))
        ));
        assert!(Arc::ptr_eq(&certs.fallback, &certs.for_name(None)));
    }
}
