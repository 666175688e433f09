//! What every command runs with ([`Ctx`]): its streams, the cluster it
//! talks to (a client built lazily from the kubeconfig, so `miniktl
//! cluster up` and `miniktl version --client` work without a cluster),
//! and the namespace.
//!
//! Mirrors kubectl's `genericclioptions` + `cmdutil.Factory`. The requests
//! themselves are methods on `Ctx` written next to what they do:
//! `crate::api` (CRUD) and `crate::watch` (watches).

use std::path::PathBuf;

use crate::io::Io;

use crate::error::{Error, Result};
use crate::kubeconfig::{self, Conn};

/// Everything a command needs: streams, flags shared by all commands, and
/// (once asked for) a client.
pub struct Ctx {
    pub io: Io,
    pub kubeconfig: Option<PathBuf>,
    namespace_flag: Option<String>,
    conn: tokio::sync::OnceCell<Conn>,
}

impl Ctx {
    pub fn new(io: Io, kubeconfig: Option<PathBuf>, namespace: Option<String>) -> Self {
        Ctx {
            io,
            kubeconfig,
            namespace_flag: namespace,
            conn: tokio::sync::OnceCell::new(),
        }
    }

    /// Writes to stdout (errors writing to a closed pipe are ignored, as
    /// `kubectl get | head` expects).
    pub fn print(&self, text: &str) {
        self.io.out.text(text);
    }

    /// Writes to stderr.
    pub fn eprint(&self, text: &str) {
        self.io.err.text(text);
    }

    /// The kubeconfig file that will be used, if any exists.
    pub fn kubeconfig_path(&self) -> Option<PathBuf> {
        kubeconfig::find(self.kubeconfig.as_deref())
    }

    async fn conn(&self) -> Result<&Conn> {
        self.conn
            .get_or_try_init(|| kubeconfig::connect(self.kubeconfig_path()))
            .await
    }

    pub async fn client(&self) -> Result<kube::Client> {
        Ok(self.conn().await?.client.clone())
    }

    /// The API server's URL from the kubeconfig.
    pub async fn server(&self) -> Result<String> {
        Ok(self.conn().await?.server.clone())
    }

    /// `-n`, else the kubeconfig context's namespace, else `default`.
    pub async fn namespace(&self) -> Result<String> {
        if let Some(ns) = &self.namespace_flag {
            return Ok(ns.clone());
        }
        Ok(self.conn().await?.default_namespace.clone())
    }

    /// Whether `-n` was given explicitly.
    pub fn namespace_flag(&self) -> Option<&str> {
        self.namespace_flag.as_deref()
    }

    /// Maps a kube error to miniktl's, with this cluster's address.
    pub async fn kube_err(&self, e: kube::Error) -> Error {
        let server = match self.conn.get() {
            Some(c) => c.server.clone(),
            None => String::new(),
        };
        Error::from_kube(e, &server)
    }
}
