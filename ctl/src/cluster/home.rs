//! The cluster's home directory (`--home`, else `$MINIK_HOME`, else
//! `~/.minik`) and the layout inside it — minik's equivalent of kind's
//! node containers or minikube's profile directory:
//!
//! ```text
//! <home>/kubeconfig            written by `cluster up`, used by miniktl and kubectl
//! <home>/cluster.json          the cluster's record: every `up` flag, the ports they
//!                              resolved to, each component's command line; `up`
//!                              resumes it, `down` deletes it
//! <home>/data/apiserver/       the API server's store
//! <home>/data/kubelet/<node>/  each kubelet's root dir
//! <home>/logs/<component>.log  each component's stdout+stderr
//! <home>/pids/<component>.pid  each component's process id
//! ```

use std::path::{Path, PathBuf};

/// `$MINIK_HOME`, else `~/.minik`.
pub fn default_home() -> PathBuf {
    if let Some(h) = std::env::var_os("MINIK_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
        .join(".minik")
}

/// Paths inside one cluster home.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Home { root: root.into() }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("cluster.json")
    }

    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The cluster CA and the API server's certificates (`--cert-dir`).
    pub fn pki(&self) -> PathBuf {
        self.data().join("pki")
    }

    /// The kubeconfig component `id` runs with: its own identity.
    pub fn component_kubeconfig(&self, id: &str) -> PathBuf {
        self.data()
            .join("kubeconfigs")
            .join(format!("{id}.kubeconfig"))
    }

    pub fn apiserver_data(&self) -> PathBuf {
        self.data().join("apiserver")
    }

    pub fn kubelet_root(&self, node: &str) -> PathBuf {
        self.data().join("kubelet").join(node)
    }

    /// Where the local-path provisioner keeps the cluster's volumes (under
    /// `data`, so `cluster down --purge` removes them with the rest).
    pub fn local_path(&self) -> PathBuf {
        self.data().join("local-path")
    }

    /// The dashboard's access token (0600), made anew by each new cluster's `up`.
    pub fn dashboard_token(&self) -> PathBuf {
        self.root.join("dashboard-token")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn log(&self, component: &str) -> PathBuf {
        self.logs().join(format!("{component}.log"))
    }

    pub fn pids(&self) -> PathBuf {
        self.root.join("pids")
    }

    pub fn pid_file(&self, component: &str) -> PathBuf {
        self.pids().join(format!("{component}.pid"))
    }

    pub fn path(&self) -> &Path {
        &self.root
    }
}
