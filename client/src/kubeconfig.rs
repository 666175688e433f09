//! Writing a kubeconfig that points `kubectl` and `kube::Client` at an API
//! server: its address, the CA that signed its serving certificate, and a
//! client certificate saying who the holder is. Written private (0600):
//! whoever reads it is that user. The API server writes the admin's,
//! `miniktl cluster up` one per component. [`ca_pem`] reads the CA back.

use std::path::Path;

use crate::pki::{self, Issued, PkiError};
use base64::Engine;

/// The CA (PEM) of the current context's cluster in the kubeconfig at
/// `path`, from `certificate-authority-data` or `certificate-authority`.
pub fn ca_pem(path: &Path) -> Option<String> {
    let kc = kube::config::Kubeconfig::read_from(path).ok()?;
    let context = kc.current_context.as_deref()?;
    let cluster_name = kc
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)?
        .cluster
        .as_ref()?;
    if let Some(data) = &cluster.certificate_authority_data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        return String::from_utf8(bytes).ok();
    }
    std::fs::read_to_string(cluster.certificate_authority.as_ref()?).ok()
}

/// What a kubeconfig holds for one user of one server.
pub struct Kubeconfig<'a> {
    /// `https://127.0.0.1:6443` (or `http://` for a plain-HTTP server).
    pub server: &'a str,
    /// The CA the server's certificate is checked against.
    pub ca_pem: Option<&'a str>,
    /// The user's client certificate and key.
    pub client: Option<&'a Issued>,
    /// The user's name in the file (`admin`, `system:kube-scheduler`).
    pub user: &'a str,
}

fn data(pem: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(pem)
}

impl Kubeconfig<'_> {
    pub fn render(&self) -> String {
        let ca = self
            .ca_pem
            .map(|ca| format!("\n    certificate-authority-data: {}", data(ca)))
            .unwrap_or_default();
        let user = match self.client {
            Some(c) => format!(
                "\n    client-certificate-data: {}\n    client-key-data: {}",
                data(&c.cert_pem),
                data(&c.key_pem)
            ),
            None => " {}".into(),
        };
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: minik
  cluster:
    server: {server}{ca}
contexts:
- name: minik
  context:
    cluster: minik
    user: {name}
    namespace: default
current-context: minik
users:
- name: {name}
  user:{user}
",
            server = self.server,
            name = self.user,
        )
    }

    /// Writes it, readable by its owner only.
    pub fn write(&self, path: &Path) -> Result<(), PkiError> {
        pki::write_private(path, &self.render())
    }
}

/// A kubeconfig without credentials, for a plain-HTTP server (tests).
pub fn write(path: &Path, server: &str) -> Result<(), PkiError> {
    Kubeconfig {
        server,
        ca_pem: None,
        client: None,
        user: "minik",
    }
    .write(path)
}
