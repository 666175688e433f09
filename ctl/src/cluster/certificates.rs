//! Each component's identity: a client certificate from the cluster CA
//! (which minik-apiserver made in `<home>/data/pki`) in a kubeconfig of its
//! own, as kubeadm writes `controller-manager.conf`, `scheduler.conf` and
//! `kubelet.conf`; and each kubelet's serving certificate, so it can serve
//! HTTPS to the API server alone. Only the admin's kubeconfig
//! (`<home>/kubeconfig`) is for people.

use minik_client::kubeconfig::Kubeconfig;
use minik_client::pki::Ca;

use super::home::Home;
use crate::error::{Error, Result};

/// The cluster CA, read back from the API server's cert dir.
fn ca(home: &Home) -> Result<Ca> {
    let read = |name: &str| {
        let path = home.pki().join(name);
        std::fs::read_to_string(&path).map_err(|source| Error::File { path, source })
    };
    Ca::from_pem(&read("ca.crt")?, &read("ca.key")?)
        .map_err(|e| Error::Cluster(format!("the cluster CA in {}: {e}", home.pki().display())))
}

/// A serving certificate for `node`'s kubelet (127.0.0.1, `localhost`, the
/// node's name), written as `<home>/data/pki/kubelet-<node>.{crt,key}`;
/// returns the flags that make the kubelet serve HTTPS to the API server only.
pub fn kubelet_tls_args(home: &Home, node: &str) -> Result<Vec<std::ffi::OsString>> {
    let issued = ca(home)?
        .issue_server(
            &format!("system:node:{node}"),
            &["localhost".to_string(), node.to_string()],
            &[std::net::Ipv4Addr::LOCALHOST.into()],
        )
        .map_err(|e| Error::Cluster(format!("a serving certificate for {node}: {e}")))?;
    let cert = home.pki().join(format!("kubelet-{node}.crt"));
    let key = home.pki().join(format!("kubelet-{node}.key"));
    for (path, pem) in [(&cert, &issued.cert_pem), (&key, &issued.key_pem)] {
        minik_client::pki::write_private(path, pem)
            .map_err(|e| Error::Cluster(format!("writing {}: {e}", path.display())))?;
    }
    Ok(vec![
        "--tls-cert-file".into(),
        cert.into_os_string(),
        "--tls-private-key-file".into(),
        key.into_os_string(),
        "--client-ca-file".into(),
        home.pki().join("ca.crt").into_os_string(),
    ])
}

/// Writes `<home>/data/kubeconfigs/<id>.kubeconfig` for `user` in `groups`.
pub fn write_kubeconfig(
    home: &Home,
    server: &str,
    id: &str,
    user: &str,
    groups: &[&str],
) -> Result<()> {
    let ca = ca(home)?;
    let issued = ca
        .issue_client(user, groups)
        .map_err(|e| Error::Cluster(format!("a certificate for {user}: {e}")))?;
    let path = home.component_kubeconfig(id);
    Kubeconfig {
        server,
        ca_pem: Some(&ca.pem().cert_pem),
        client: Some(&issued),
        user,
    }
    .write(&path)
    .map_err(|e| Error::Cluster(format!("writing {}: {e}", path.display())))
}
