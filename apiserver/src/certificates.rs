//! The API server's own certificates when none are given, as
//! kube-apiserver makes self-signed ones in `--cert-dir`: a cluster CA
//! (`ca.crt`, `ca.key`, kept across restarts: every kubeconfig trusts it),
//! a serving certificate for every name a client dials (`apiserver.crt`)
//! and the cluster admin's client certificate (`admin.crt`, `O=system:masters`).
//! The serving, admin and kubelet-client certificates (what the API server
//! shows the kubelets) are issued afresh at each start.
//! `miniktl cluster up` issues its components' certificates from the same CA.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use minik_client::pki::{self, Ca, Issued, PkiError};

use crate::transport::TlsFiles;

/// The names the `kubernetes` Service is reached by from a pod.
const SERVICE_NAMES: [&str; 4] = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// What `--cert-dir` holds once [`ensure`] ran.
pub struct SelfSigned {
    pub ca: Ca,
    pub serving: Issued,
    pub admin: Issued,
    /// What the API server shows the kubelets (`apiserver-kubelet-client`).
    pub kubelet_client: Issued,
}

impl SelfSigned {
    /// The API server's side of its connections to the kubelets, whose
    /// serving certificates the same CA signs (`miniktl cluster up`).
    pub fn kubelet_files(&self) -> TlsFiles {
        TlsFiles {
            cert_pem: self.kubelet_client.cert_pem.clone(),
            key_pem: self.kubelet_client.key_pem.clone(),
            ca_pem: self.ca.pem().cert_pem.clone(),
        }
    }

    pub fn tls_files(&self) -> TlsFiles {
        TlsFiles {
            cert_pem: self.serving.cert_pem.clone(),
            key_pem: self.serving.key_pem.clone(),
            ca_pem: self.ca.pem().cert_pem.clone(),
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

pub fn ca_cert(dir: &Path) -> PathBuf {
    dir.join("ca.crt")
}

pub fn ca_key(dir: &Path) -> PathBuf {
    dir.join("ca.key")
}

/// Loads the CA in `dir` (making it the first time), then issues the
/// serving certificate for `listen`, loopback, the `kubernetes` Service's
/// ClusterIP and names, and `extra_names`; and the admin's certificate.
pub fn ensure(
    dir: &Path,
    listen: SocketAddr,
    service_ip: IpAddr,
    extra_names: &[String],
) -> Result<SelfSigned, PkiError> {
    let ca = match (read(&ca_cert(dir)), read(&ca_key(dir))) {
        (Some(cert), Some(key)) => Ca::from_pem(&cert, &key)?,
        _ => {
            let ca = Ca::generate("minik-ca")?;
            pki::write_private(&ca_key(dir), &ca.pem().key_pem)?;
            pki::write_private(&ca_cert(dir), &ca.pem().cert_pem)?;
            ca
        }
    };
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), service_ip];
    if !listen.ip().is_unspecified() && !ips.contains(&listen.ip()) {
        ips.push(listen.ip());
    }
    let mut names: Vec<String> = ["localhost"]
        .iter()
        .chain(SERVICE_NAMES.iter())
        .map(|n| n.to_string())
        .collect();
    for extra in extra_names {
        match extra.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => names.push(extra.clone()),
        }
    }
    let serving = ca.issue_server("kube-apiserver", &names, &ips)?;
    pki::write_private(&dir.join("apiserver.crt"), &serving.cert_pem)?;
    pki::write_private(&dir.join("apiserver.key"), &serving.key_pem)?;
    let admin = ca.issue_client("kubernetes-admin", &["system:masters"])?;
    pki::write_private(&dir.join("admin.crt"), &admin.cert_pem)?;
    pki::write_private(&dir.join("admin.key"), &admin.key_pem)?;
    let kubelet_client = ca.issue_client("kube-apiserver-kubelet-client", &["system:masters"])?;
    Ok(SelfSigned {
        ca,
        serving,
        admin,
        kubelet_client,
    })
}
