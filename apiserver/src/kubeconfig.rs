//! Writing a kubeconfig that points `kubectl` and `kube::Client` at this
//! API server (plain HTTP, no credentials yet: see `transport.rs`).

use std::path::Path;

/// The kubeconfig text for a server at `server` (e.g. `http://127.0.0.1:6443`).
pub fn render(server: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: minik
  cluster:
    server: {server}
contexts:
- name: minik
  context:
    cluster: minik
    user: minik
    namespace: default
current-context: minik
users:
- name: minik
  user: {{}}
"
    )
}

pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(server))
}
