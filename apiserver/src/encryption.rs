//! Encryption at rest, as kube-apiserver's `--encryption-provider-config`
//! does it: an `EncryptionConfiguration` names the resources to encrypt
//! (Secrets) and an ordered list of providers. The first provider encrypts
//! what is written; every provider can read what it wrote, recognised by
//! its prefix, so keys can be rotated and a store written before
//! encryption was turned on still reads (`identity` is plain text).
//!
//! The `aesgcm` provider's values are Kubernetes' own layout:
//! `k8s:enc:aesgcm:v1:<key name>:` + a random 12-byte nonce + AES-GCM
//! ciphertext and tag, with the storage key as additional authenticated
//! data (a value copied under another key does not decrypt). AES-256-GCM
//! from `ring`, the crypto rustls already brings. Only the store's bytes
//! are encrypted: the watch history in memory and `cluster backup`
//! snapshots hold Secrets in clear (a snapshot file is written 0600).
//!
//! `minik-apiserver` writes a configuration with a fresh random key in its
//! `--cert-dir` when none is given, so Secrets are encrypted by default.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use minik_api::catalogue;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

/// How values under some key prefixes are written and read.
#[derive(Default)]
pub struct Transformer {
    /// (storage key prefix, providers in order).
    rules: Vec<(String, Arc<Vec<Provider>>)>,
}

enum Provider {
    Identity,
    /// Named keys; the first encrypts, any decrypts what it wrote.
    AesGcm(Vec<(String, LessSafeKey)>),
}

/// Never prints keys.
impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefixes: Vec<&str> = self.rules.iter().map(|(p, _)| p.as_str()).collect();
        write!(f, "Transformer {{ encrypts: {prefixes:?} }}")
    }
}

/// The file's `kind` picks the variant (serde refuses any other).
#[derive(Deserialize)]
#[serde(tag = "kind")]
enum ConfigurationFile {
    EncryptionConfiguration(Configuration),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Configuration {
    api_version: String,
    resources: Vec<ResourceConfiguration>,
}

#[derive(Deserialize)]
struct ResourceConfiguration {
    resources: Vec<String>,
    providers: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct KeyConfiguration {
    name: String,
    secret: String,
}

const AESGCM_PREFIX: &str = "k8s:enc:aesgcm:v1:";

impl Transformer {
    /// Reads an `apiserver.config.k8s.io/v1` EncryptionConfiguration.
    pub fn from_file(path: &Path) -> Result<Transformer, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Transformer::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Transformer, String> {
        let ConfigurationFile::EncryptionConfiguration(config) =
            serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if config.api_version != "apiserver.config.k8s.io/v1" {
            return Err(format!(
                "want apiVersion apiserver.config.k8s.io/v1, got {}",
                config.api_version
            ));
        }
        let mut rules = Vec::new();
        for (i, r) in config.resources.iter().enumerate() {
            let providers = Arc::new(
                r.providers
                    .iter()
                    .map(provider)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("resources[{i}]: {e}"))?,
            );
            if providers.is_empty() {
                return Err(format!("resources[{i}]: no providers"));
            }
            for name in &r.resources {
                let info = catalogue::resolve(name)
                    .ok_or_else(|| format!("resources[{i}]: {name:?} is not a served resource"))?;
                let prefix = catalogue::storage_info(info).key_prefix();
                rules.push((prefix, providers.clone()));
            }
        }
        Ok(Transformer { rules })
    }

    /// A configuration that encrypts Secrets with a fresh random key.
    pub fn generate_config() -> String {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system's random source works");
        let secret = base64::engine::general_purpose::STANDARD.encode(key);
        format!(
            "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aesgcm:
      keys:
      - name: key1
        secret: {secret}
  - identity: {{}}
"
        )
    }

    fn providers(&self, key: &str) -> Option<&[Provider]> {
        self.rules
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix.as_str()))
            .map(|(_, p)| p.as_slice())
    }

    /// Whether values under `key` go through a provider at all.
    pub fn transforms(&self, key: &str) -> bool {
        self.providers(key).is_some()
    }

    /// The bytes to store for `value` under `key`.
    pub fn to_storage(&self, key: &str, value: Vec<u8>) -> Vec<u8> {
        match self.providers(key).and_then(<[Provider]>::first) {
            None | Some(Provider::Identity) => value,
            Some(Provider::AesGcm(keys)) => {
                let (name, aead) = &keys[0];
                let mut nonce = [0u8; NONCE_LEN];
                SystemRandom::new()
                    .fill(&mut nonce)
                    .expect("the system's random source works");
                let mut sealed = value;
                aead.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(key.as_bytes()),
                    &mut sealed,
                )
                .expect("AES-GCM seals any length minik stores");
                let mut out = format!("{AESGCM_PREFIX}{name}:").into_bytes();
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
                out
            }
        }
    }

    /// The value stored under `key`, decrypted by the provider that wrote it.
    pub fn from_storage(&self, key: &str, stored: &[u8]) -> Result<Vec<u8>, String> {
        let Some(rest) = stored.strip_prefix(AESGCM_PREFIX.as_bytes()) else {
            // Plain text: written before encryption, or by `identity`.
            return Ok(stored.to_vec());
        };
        let colon = rest.iter().position(|b| *b == b':').ok_or("no key name")?;
        let name = String::from_utf8_lossy(&rest[..colon]);
        let aead = self
            .providers(key)
            .into_iter()
            .flatten()
            .find_map(|p| match p {
                Provider::AesGcm(keys) => keys.iter().find(|(n, _)| *n == name).map(|(_, k)| k),
                Provider::Identity => None,
            })
            .ok_or_else(|| {
                format!("no aesgcm key named {name:?} in the encryption configuration")
            })?;
        let body = &rest[colon + 1..];
        if body.len() < NONCE_LEN {
            return Err("too short".into());
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce")?;
        let mut buf = sealed.to_vec();
        let plain = aead
            .open_in_place(nonce, Aad::from(key.as_bytes()), &mut buf)
            .map_err(|_| format!("aesgcm key {name:?} does not decrypt it"))?;
        Ok(plain.to_vec())
    }
}

fn provider(config: &serde_json::Map<String, serde_json::Value>) -> Result<Provider, String> {
    let (kind, body) = config.iter().next().ok_or("an empty provider")?;
    match kind.as_str() {
        "identity" => Ok(Provider::Identity),
        "aesgcm" => {
            let keys: Vec<KeyConfiguration> =
                serde_json::from_value(body["keys"].clone()).map_err(|e| format!("aesgcm: {e}"))?;
            if keys.is_empty() {
                return Err("aesgcm: no keys".into());
            }
            let keys = keys
                .iter()
                .map(|k| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(&k.secret)
                        .map_err(|e| format!("aesgcm key {:?}: {e}", k.name))?;
                    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| {
                        format!(
                            "aesgcm key {:?}: must be 32 bytes (AES-256), got {}",
                            k.name,
                            bytes.len()
                        )
                    })?;
                    Ok((k.name.clone(), LessSafeKey::new(unbound)))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Provider::AesGcm(keys))
        }
        other => Err(format!(
            "provider {other:?} is not supported by minik (aesgcm and identity are)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "/registry/core/secrets/default/db";

    #[test]
    fn secrets_are_sealed_as_kubernetes_lays_them_out() {
        let t = Transformer::parse(&Transformer::generate_config()).unwrap();
        let stored = t.to_storage(KEY, b"{\"data\":{\"password\":\"aHVudGVyMg==\"}}".to_vec());
        assert!(stored.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
        assert!(!stored.windows(8).any(|w| w == b"aHVudGVy"));
        assert_eq!(
            t.from_storage(KEY, &stored).unwrap(),
            b"{\"data\":{\"password\":\"aHVudGVyMg==\"}}"
        );
        // The key is authenticated: the same bytes under another key do not open.
        assert!(t
            .from_storage("/registry/core/secrets/default/other", &stored)
            .is_err());
        // Plain text written before encryption still reads; other kinds are untouched.
        assert_eq!(t.from_storage(KEY, b"{}").unwrap(), b"{}");
        let cm = "/registry/core/configmaps/default/x";
        assert_eq!(t.to_storage(cm, b"{}".to_vec()), b"{}");
    }

    fn config(keys: &[(&str, u8)]) -> String {
        let keys: String = keys
            .iter()
            .map(|(name, byte)| {
                let secret = base64::engine::general_purpose::STANDARD.encode([*byte; 32]);
                format!("      - name: {name}\n        secret: {secret}\n")
            })
            .collect();
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n{keys}  - identity: {{}}\n"
        )
    }

    #[test]
    fn rotation_reads_with_any_listed_key_and_writes_with_the_first() {
        let old = Transformer::parse(&config(&[("old", 1)])).unwrap();
        let stored = old.to_storage(KEY, b"{}".to_vec());
        let rotated = Transformer::parse(&config(&[("new", 2), ("old", 1)])).unwrap();
        assert_eq!(rotated.from_storage(KEY, &stored).unwrap(), b"{}");
        assert!(rotated
            .to_storage(KEY, b"{}".to_vec())
            .starts_with(b"k8s:enc:aesgcm:v1:new:"));
        let forgot = Transformer::parse(&config(&[("new", 2)])).unwrap();
        assert_eq!(
            forgot.from_storage(KEY, &stored).unwrap_err(),
            "no aesgcm key named \"old\" in the encryption configuration"
        );
        let kms = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: {}\n";
        assert!(Transformer::parse(kms)
            .unwrap_err()
            .contains("not supported by minik"));
    }
}
