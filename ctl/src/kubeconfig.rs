//! The kubeconfig: which file is used, the client it describes, and the
//! file as a document for `miniktl config` to read and rewrite.
//!
//! Mirrors kubectl's loading rules: `--kubeconfig`, then `KUBECONFIG`
//! (its first entry — minik does not merge several files), then (minik's
//! addition) `$MINIK_HOME/kubeconfig` written by `miniktl cluster up`,
//! then `~/.kube/config`.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::printers::yaml;

/// The kubeconfig file that will be used, if any exists.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Ok(env) = std::env::var("KUBECONFIG") {
        if let Some(first) = env.split(':').find(|p| !p.is_empty()) {
            return Some(PathBuf::from(first));
        }
    }
    let minik = crate::cluster::home::default_home().join("kubeconfig");
    if minik.exists() {
        return Some(minik);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let kube = home.join(".kube").join("config");
    kube.exists().then_some(kube)
}

/// A connected client plus what the kubeconfig said about it.
pub struct Conn {
    pub client: kube::Client,
    /// The API server's URL (for kubectl's "connection refused" wording).
    pub server: String,
    /// The current context's namespace (`default` when it names none).
    pub default_namespace: String,
}

/// Builds a client from the kubeconfig at `path` (`None`: none was found).
pub async fn connect(path: Option<PathBuf>) -> Result<Conn> {
    let Some(path) = path else {
        return Err(Error::Kubeconfig(
            "no kubeconfig found (tried --kubeconfig, KUBECONFIG, $MINIK_HOME/kubeconfig, ~/.kube/config).\n\
             Start a cluster with `miniktl cluster up`"
                .into(),
        ));
    };
    let kc = Kubeconfig::read_from(&path).map_err(|e| {
        Error::Kubeconfig(format!("cannot read kubeconfig {}: {e}", path.display()))
    })?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Kubeconfig(format!("invalid kubeconfig {}: {e}", path.display())))?;
    // kube retries 503s with backoff for minutes; a CLI reports them at once, as kubectl does.
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config)
        .map_err(|e| Error::Client(format!("cannot build a client: {e}")))?;
    Ok(Conn {
        client,
        server,
        default_namespace,
    })
}

/// Reads the kubeconfig at `path` (`None`: none was found) as a plain
/// document — `miniktl config` edits it as YAML, keeping unknown fields.
pub fn read_document(path: Option<PathBuf>) -> Result<(PathBuf, Value)> {
    let path = path.ok_or_else(|| {
        Error::Kubeconfig("no kubeconfig found; start a cluster with `miniktl cluster up`".into())
    })?;
    let text = std::fs::read_to_string(&path).map_err(|source| Error::File {
        path: path.clone(),
        source,
    })?;
    let v: Value = serde_saphyr::from_str(&text)
        .map_err(|e| Error::Kubeconfig(format!("{}: {e}", path.display())))?;
    Ok((path, v))
}

/// Writes a kubeconfig document back.
pub fn write_document(path: &Path, v: &Value) -> Result<()> {
    std::fs::write(path, yaml::to_yaml(v)).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })
}
