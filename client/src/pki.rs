//! The cluster's certificates, as kubeadm's `certs` phase makes them: one
//! CA per cluster, the API server's serving certificate (for every name a
//! client may dial it by), and a client certificate per identity — the
//! user in the Common Name, the groups as Organizations, which is how
//! kube-apiserver's x509 authenticator reads them. PEM text throughout;
//! files that hold a key are written private (0600, in a 0700 directory).
//!
//! Generated with `rcgen` (ECDSA P-256 keys, the `ring` provider that
//! rustls uses everywhere in minik). Kubernetes' defaults for lifetimes:
//! ten years for the CA, one year for what it issues. minik simplifies:
//! certificates are not rotated; a cluster older than a year is recreated.

use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// What went wrong making or reading a certificate.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate authority that issues the cluster's certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: Issued,
}

const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    // A little slack backwards, for clocks that disagree by a few minutes.
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(days);
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

impl Ca {
    /// A new self-signed CA named `common_name` (kubeadm's is `kubernetes`).
    pub fn generate(common_name: &str) -> Result<Ca, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        validity(&mut params, CA_DAYS);
        let cert = params.self_signed(&key)?;
        let pem = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        Ok(Ca {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// A CA read back from its PEM certificate and key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Ca {
            issuer,
            pem: Issued {
                cert_pem: cert_pem.to_string(),
                key_pem: key_pem.to_string(),
            },
        })
    }

    /// The CA's certificate and key.
    pub fn pem(&self) -> &Issued {
        &self.pem
    }

    /// A serving certificate for `dns_names` and `ips`.
    pub fn issue_server(
        &self,
        common_name: &str,
        dns_names: &[String],
        ips: &[IpAddr],
    ) -> Result<Issued, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.subject_alt_names = dns_names
            .iter()
            .map(|n| Ok(SanType::DnsName(n.as_str().try_into()?)))
            .chain(ips.iter().map(|ip| Ok(SanType::IpAddress(*ip))))
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate for `user` in `groups` (`O=system:masters` for
    /// the cluster admin, `system:nodes` for a kubelet).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<Issued, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(user, groups);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    /// Signs a PEM certificate request (its subject kept: CN the user, O the
    /// groups) as a client certificate valid for `seconds`: what
    /// kube-controller-manager's signer does for an approved
    /// CertificateSigningRequest of `kubernetes.io/kube-apiserver-client`.
    pub fn sign_client_request(&self, request_pem: &str, seconds: i64) -> Result<String, PkiError> {
        self.sign_request(request_pem, seconds, false)
    }

    /// Signs a PEM certificate request as a serving certificate (its
    /// subject and subject alternative names kept), valid for `seconds`:
    /// the `kubernetes.io/kubelet-serving` signer.
    pub fn sign_serving_request(
        &self,
        request_pem: &str,
        seconds: i64,
    ) -> Result<String, PkiError> {
        self.sign_request(request_pem, seconds, true)
    }

    fn sign_request(
        &self,
        request_pem: &str,
        seconds: i64,
        serving: bool,
    ) -> Result<String, PkiError> {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(request_pem)?;
        let params = &mut csr.params;
        if !serving {
            params.subject_alt_names.clear();
        }
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![if serving {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::seconds(seconds);
        Ok(csr.signed_by(&self.issuer)?.pem())
    }

    fn issue(&self, mut params: CertificateParams) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, LEAF_DAYS);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What a PEM certificate request asks to be: its CN, its O values and
/// how many subject alternative names it lists.
pub fn request_subject(request_pem: &str) -> Result<(String, Vec<String>, usize), PkiError> {
    let csr = rcgen::CertificateSigningRequestParams::from_pem(request_pem)?;
    let text = |v: &rcgen::DnValue| match v {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        rcgen::DnValue::Ia5String(s) => s.as_str().to_string(),
        _ => String::new(),
    };
    let mut common_name = String::new();
    let mut organizations = Vec::new();
    for (ty, value) in csr.params.distinguished_name.iter() {
        match ty {
            DnType::CommonName => common_name = text(value),
            DnType::OrganizationName => organizations.push(text(value)),
            _ => {}
        }
    }
    Ok((
        common_name,
        organizations,
        csr.params.subject_alt_names.len(),
    ))
}

/// The user and groups a client certificate names (CN and O), as
/// kube-apiserver's x509 authenticator reads them; `None` if it does not parse.
pub fn subject_of(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some((user, groups))
}

/// Whether a certificate is within its validity period now (`false` if it
/// does not parse). A TLS handshake checks this; a resumed session does
/// not check its certificate again (rustls carries it over as it was), so
/// a server that resumes sessions asks here.
pub fn is_current(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der).is_ok_and(|(_, cert)| cert.validity().is_valid())
}

/// Writes a file only its owner can read (0600), its directory 0700 if
/// this creates it. Written aside and renamed into place, so a reader
/// (a component waiting for its kubeconfig) never sees half of it.
pub fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |source| PkiError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
    }
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".{}.tmp", std::process::id()));
    let aside = std::path::PathBuf::from(aside);
    let _ = std::fs::remove_file(&aside);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&aside)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    drop(file);
    std::fs::rename(&aside, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_names_its_user_and_groups() {
        let ca = Ca::generate("minik-ca").unwrap();
        let issued = ca
            .issue_client("system:node:node-1", &["system:nodes"])
            .unwrap();
        let der = pem_der(&issued.cert_pem);
        assert_eq!(
            subject_of(&der),
            Some(("system:node:node-1".into(), vec!["system:nodes".into()]))
        );
        // A CA read back from its PEM issues certificates too.
        let again = Ca::from_pem(&ca.pem().cert_pem, &ca.pem().key_pem).unwrap();
        let admin = again.issue_client("admin", &["system:masters"]).unwrap();
        assert_eq!(
            subject_of(&pem_der(&admin.cert_pem)).unwrap().1,
            vec!["system:masters".to_string()]
        );
    }

    #[test]
    fn an_expired_certificate_is_not_current() {
        let ca = Ca::generate("minik-ca").unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "system:node:node-1");
        let request = params.serialize_request(&key).unwrap().pem().unwrap();
        let valid = ca.sign_client_request(&request, 3600).unwrap();
        let expired = ca.sign_client_request(&request, -60).unwrap();
        assert!(is_current(&pem_der(&valid)));
        assert!(!is_current(&pem_der(&expired)));
        assert!(!is_current(b"not a certificate"));
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}
