//! Secret (core/v1): sensitive data for pods, base64 in `data`.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The Secret strategy.
pub struct Secret;

/// `secrets` in v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("", "v1", "Secret", "secrets", "secret", &Secret);

impl Strategy for Secret {
    fn field_labels(&self) -> &'static [&'static str] {
        &["type"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::Secret>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::Secret>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_secret(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_secret(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_secret_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        SECRET_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        secret_cells(obj, now)
    }
    fn quota_usage(&self, _: &Value, _: Timestamp) -> crate::quota::ResourceList {
        [(
            "secrets".to_string(),
            Quantity::from_value(1, Default::default()),
        )]
        .into()
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        resource == "secrets"
    }
}

/// `ValidateSecret`: keys, the size limit, and what each well-known type requires.
fn validate_secret(obj: &Value, errs: &mut Errs) {
    let Some(secret) = typed::<core::Secret>(obj, errs) else {
        return;
    };
    let data = secret.data.unwrap_or_default();
    let sizes = data.iter().map(|(k, v)| (k, base64_len(v.0.len())));
    let size = validate_config_keys(sizes, "data", errs) * 3 / 4;
    if size > MAX_SECRET_SIZE {
        errs.push(too_long("data", MAX_SECRET_SIZE));
    }
    let has = |k: &str| data.contains_key(k);
    let required =
        |k: &str, errs: &mut Errs| errs.push(FieldError::required(format!("data[{k}]"), ""));
    match opt_str(&secret.type_) {
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    required(k, errs);
                }
            }
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            required(".dockerconfigjson", errs)
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => required(".dockercfg", errs),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            required("username", errs);
            required("password", errs);
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => required("ssh-privatekey", errs),
        "kubernetes.io/service-account-token" => {
            let annotated = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .is_some_and(|s| !s.is_empty());
            if !annotated {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        _ => {}
    }
}

/// The type never changes; nothing does once `immutable` is set.
fn validate_secret_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (Some(n), Some(o)) = (
        typed::<core::Secret>(new, errs),
        typed::<core::Secret>(old, errs),
    ) else {
        return;
    };
    immutable(&n.type_, &o.type_, "type", errs);
    let fields = [("data", json_of(&n.data), json_of(&o.data))];
    validate_immutable_data((n.immutable, o.immutable), &fields, errs);
}

/// `SetDefaults_Secret` (type `Opaque`) and the conversion that folds the
/// write-only `stringData` into base64 `data`.
fn default_secret(secret: &mut Obj) {
    default_value(secret, "type", json!("Opaque"));
    if let Some(Value::Object(string_data)) = secret.remove("stringData") {
        if let Some(data) = child(secret, "data") {
            for (k, v) in string_data {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                data.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

/// Standard base64 with padding (what `data` of a Secret holds).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    string("Type", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    string("Data", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
    AGE,
];

fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(secret),
        text(secret, "/type").into(),
        json!(len(secret, "/data")),
        age_cell(secret, now),
    ]
}
