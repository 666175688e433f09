//! ServiceAccount tokens: the signed JWTs kube-apiserver issues through the
//! TokenRequest API (`serviceaccounts/<name>/token`) and accepts as bearer
//! tokens. A token names its ServiceAccount (`sub`
//! `system:serviceaccount:<ns>:<name>`, with the account's uid), may be
//! bound to a Pod, Secret or Node, and expires; it is ES256-signed (the
//! `jsonwebtoken` crate over ring) with a P-256 key kept in
//! `<cert-dir>/sa.key` (kube-apiserver's `--service-account-signing-key-file`),
//! so tokens outlive a restart. The claims follow Kubernetes' bound-token
//! layout, so tools that decode them (`kubectl create token | jwt decode`)
//! read the same fields.
//!
//! Checking a token is two steps: [`Keys::verify`] checks signature,
//! issuer, audience and time; the authenticator then checks the objects
//! it names still exist with the same uids (a token dies with its pod).
//!
//! Where minik simplifies: only PKCS#8 P-256 keys (no RSA, no legacy
//! Secret-based tokens), one issuer and one key.

use std::path::Path;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};

/// kubeadm's `--service-account-issuer`, also the default audience.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480): algorithm
/// id-ecPublicKey with the prime256v1 curve, then the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The signing key, what verifies it, and the issuer tokens carry.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// `kid`: base64url of the SHA-256 of the public key's DER, as Kubernetes computes it.
    key_id: String,
    pub issuer: String,
    /// What a token must be meant for when a request carries it
    /// (`--api-audiences`, default the issuer).
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A reference to the object a token is bound to, or to its account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ref {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Private {
    pub namespace: String,
    pub serviceaccount: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    iss: String,
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: Private,
    nbf: i64,
    sub: String,
}

/// What a TokenRequest asks for, checked and defaulted.
pub struct Request {
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub private: Private,
}

impl Keys {
    /// Loads the PKCS#8 key in `path`, making one (mode 0600) if missing.
    pub fn ensure(path: &Path) -> Result<Keys, String> {
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem()?;
                write_private(path, &pem)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                pem
            }
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        Keys::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A key that lives as long as the process (in-process test servers).
    pub fn ephemeral() -> Keys {
        Keys::from_pem(&generate_pem().expect("ring makes P-256 keys"))
            .expect("a key just made is valid")
    }

    pub fn from_pem(pem: &str) -> Result<Keys, String> {
        let der = pem_body(pem, "PRIVATE KEY")
            .ok_or("not a PKCS#8 private key (\"-----BEGIN PRIVATE KEY-----\") in PEM")?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|e| format!("not a P-256 ECDSA key: {e}"))?;
        let point = pair.public_key().as_ref();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(point);
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        Ok(Keys {
            encoding: EncodingKey::from_ec_der(&der),
            decoding: DecodingKey::from_ec_der(point),
            key_id: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()),
            issuer: DEFAULT_ISSUER.into(),
            audiences: vec![DEFAULT_ISSUER.into()],
        })
    }

    /// Signs a token for `request`, valid from `now` (Unix seconds).
    /// Returns the token and its expiry.
    pub fn issue(&self, request: &Request, now: i64) -> Result<(String, i64), String> {
        let exp = now + request.expiration_seconds;
        let claims = Claims {
            aud: request.audiences.clone(),
            exp,
            iat: now,
            iss: self.issuer.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: format!(
                "system:serviceaccount:{}:{}",
                request.private.namespace, request.private.serviceaccount.name
            ),
            kubernetes: request.private.clone(),
            nbf: now,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map(|token| (token, exp))
            .map_err(|e| e.to_string())
    }

    /// Checks signature, issuer, audience and validity time; the claims
    /// about objects are for the caller to check against the store.
    pub fn verify(&self, token: &str) -> Result<Private, String> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.validate_nbf = true;
        // Kubernetes allows a minute of clock skew.
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| e.to_string())?;
        let claims = data.claims;
        let expected = format!(
            "system:serviceaccount:{}:{}",
            claims.kubernetes.namespace, claims.kubernetes.serviceaccount.name
        );
        if claims.sub != expected {
            return Err("sub does not name the token's service account".into());
        }
        Ok(claims.kubernetes)
    }
}

/// Whether a bearer token looks like a JWT (three base64url parts), so
/// static tokens and JWTs are told apart without trying both.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn generate_pem() -> Result<String, String> {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|e| format!("making a P-256 key: {e}"))?;
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    ))
}

fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(expiration_seconds: i64) -> Request {
        Request {
            audiences: vec![DEFAULT_ISSUER.into()],
            expiration_seconds,
            private: Private {
                namespace: "default".into(),
                serviceaccount: Ref {
                    name: "default".into(),
                    uid: "sa-uid".into(),
                },
                pod: Some(Ref {
                    name: "web".into(),
                    uid: "pod-uid".into(),
                }),
                secret: None,
                node: None,
            },
        }
    }

    fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }

    #[test]
    fn a_token_verifies_with_its_key_and_no_other() {
        let keys = Keys::ephemeral();
        let (token, exp) = keys.issue(&request(3600), now()).unwrap();
        assert!(looks_like_jwt(&token));
        assert!(exp > now());
        let private = keys.verify(&token).unwrap();
        assert_eq!(private.serviceaccount.uid, "sa-uid");
        assert_eq!(private.pod.unwrap().name, "web");
        assert!(Keys::ephemeral().verify(&token).is_err());
        // A changed payload breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1].insert(3, 'A');
        assert!(keys.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn expired_or_foreign_audience_tokens_are_refused() {
        let keys = Keys::ephemeral();
        let (old, _) = keys.issue(&request(600), now() - 3600).unwrap();
        assert!(keys.verify(&old).unwrap_err().contains("Expired"));
        let mut other = request(600);
        other.audiences = vec!["vault".into()];
        let (token, _) = keys.issue(&other, now()).unwrap();
        assert!(keys.verify(&token).unwrap_err().contains("Audience"));
    }

    #[test]
    fn the_key_is_made_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pki/sa.key");
        let first = Keys::ensure(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (token, _) = first.issue(&request(600), now()).unwrap();
        assert!(Keys::ensure(&path).unwrap().verify(&token).is_ok());
        assert_eq!(first.key_id.len(), 43);
    }

    #[test]
    fn static_tokens_are_not_taken_for_jwts() {
        assert!(!looks_like_jwt("31ada4fd-adec-460c-809a-9e56ceb75269"));
        assert!(!looks_like_jwt("a.b"));
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
    }
}
