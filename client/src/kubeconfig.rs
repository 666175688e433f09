//! Writing a kubeconfig that points `kubectl` and `kube::Client` at an API
//! server: its address, the CA that signed its serving certificate, and a
//! client certificate saying who the holder is. Written private (0600):
//! whoever reads it is that user. The API server writes the admin's,
//! `miniktl cluster up` one per component.

use std::path::Path;

use crate::pki::{self, Issued, PkiError};
use base64::Engine;

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
