//! Each component's identity: a client certificate from the cluster CA
//! (which minik-apiserver made in `<home>/data/pki`) in a kubeconfig of its
//! own, as kubeadm writes `controller-manager.conf`, `scheduler.conf` and
//! `kubelet.conf`. Only the admin's kubeconfig (`<home>/kubeconfig`) is for
//! people.

use minik_client::kubeconfig::Kubeconfig;
use minik_client::pki::Ca;

use super::home::Home;
use crate::error::{Error, Result};

/// Writes `<home>/data/kubeconfigs/<id>.kubeconfig` for `user` in `groups`.
pub fn write_kubeconfig(
    home: &Home,
    server: &str,
    id: &str,
    user: &str,
    groups: &[&str],
) -> Result<()> {
    let read = |name: &str| {
        let path = home.pki().join(name);
        std::fs::read_to_string(&path).map_err(|source| Error::File { path, source })
    };
    let ca = Ca::from_pem(&read("ca.crt")?, &read("ca.key")?)
        .map_err(|e| Error::Cluster(format!("the cluster CA in {}: {e}", home.pki().display())))?;
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
