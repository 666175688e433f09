//! CertificateSigningRequest (certificates.k8s.io/v1): a request for a
//! certificate from the cluster CA — how a new user gets one: a key, a
//! CSR, `kubectl certificate approve`, then the signed certificate in
//! `status.certificate`.
//!
//! Its strategy: typed form, validation, the requester stamped from the
//! authenticated user on create (`spec.username`, `groups`, `uid`: the API
//! server's, never the client's), the `approval` subresource (only
//! `Approved`/`Denied` conditions change there), `status` (the signer's
//! certificate and `Failed` condition), and the table. The signer lives
//! in minik-controller (`csr_signing.rs`).

use crate::kinds::prelude::*;
use crate::rbac::UserInfo;
use k8s_openapi::api::certificates::v1 as certificates;

/// The CertificateSigningRequest strategy.
pub struct CertificateSigningRequest;

/// `certificatesigningrequests` in certificates.k8s.io/v1 (cluster-scoped).
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "certificates.k8s.io",
    "v1",
    "CertificateSigningRequest",
    "certificatesigningrequests",
    "certificatesigningrequest",
    &CertificateSigningRequest,
)
.cluster_scoped()
.short_names(&["csr"])
.subresources(&["status", "approval"]);

const COLUMNS: &[Column] = &[
    NAME,
    col("Age", "date", CREATED_DESC),
    string("SignerName", "Name of the signer that the request is for"),
    string("Requestor", "Name of the user who created the request"),
    string(
        "RequestedDuration",
        "The requested duration of the issued certificate",
    ),
    string("Condition", "The conditions of the request"),
];

impl Strategy for CertificateSigningRequest {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<certificates::CertificateSigningRequest>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<certificates::CertificateSigningRequest>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn stamp_requester(&self, obj: &mut Value, user: &UserInfo, uid: &str) {
        obj["spec"]["username"] = json!(user.name);
        obj["spec"]["groups"] = json!(user.groups);
        if uid.is_empty() {
            if let Some(spec) = obj["spec"].as_object_mut() {
                spec.remove("uid");
            }
        } else {
            obj["spec"]["uid"] = json!(uid);
        }
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        let Some(csr) = typed::<certificates::CertificateSigningRequest>(obj, errs) else {
            return;
        };
        let spec = &csr.spec;
        let pem = String::from_utf8_lossy(&spec.request.0);
        if spec.request.0.is_empty() {
            errs.push(FieldError::required("spec.request", ""));
        } else if !pem.contains("-----BEGIN CERTIFICATE REQUEST-----") {
            errs.push(FieldError::invalid(
                "spec.request",
                json!("<request>"),
                "PEM block type must be CERTIFICATE REQUEST",
            ));
        }
        if spec.signer_name.is_empty() {
            errs.push(FieldError::required("spec.signerName", ""));
        } else if !spec.signer_name.contains('/') {
            errs.push(FieldError::invalid(
                "spec.signerName",
                json!(spec.signer_name),
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            ));
        }
        if let Some(seconds) = spec.expiration_seconds {
            if seconds < 600 {
                errs.push(FieldError::invalid(
                    "spec.expirationSeconds",
                    json!(seconds),
                    "may not specify a duration less than 600 seconds (10 minutes)",
                ));
            }
        }
        let supported = [
            "signing",
            "digital signature",
            "content commitment",
            "key encipherment",
            "key agreement",
            "data encipherment",
            "cert sign",
            "crl sign",
            "encipher only",
            "decipher only",
            "any",
            "server auth",
            "client auth",
            "code signing",
            "email protection",
            "s/mime",
            "ipsec end system",
            "ipsec tunnel",
            "ipsec user",
            "timestamping",
            "ocsp signing",
            "microsoft sgc",
            "netscape sgc",
        ];
        for (i, u) in spec.usages.iter().flatten().enumerate() {
            if !supported.contains(&u.as_str()) {
                errs.push(FieldError::not_supported(
                    format!("spec.usages[{i}]"),
                    json!(u),
                    &supported,
                ));
            }
        }
    }
    fn validate_approval(&self, new: &Value, old: &Value, errs: &mut Errs) {
        if has_condition(new, "Approved") && has_condition(new, "Denied") {
            errs.push(FieldError::invalid(
                "status.conditions",
                json!("Denied"),
                "Approved and Denied conditions are mutually exclusive",
            ));
        }
        for kind in ["Approved", "Denied"] {
            if has_condition(old, kind) && !has_condition(new, kind) {
                errs.push(FieldError::forbidden(
                    "status.conditions",
                    format!("updates may not remove a condition of type {kind:?}"),
                ));
            }
        }
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        // The request itself never changes; only its status does.
        immutable_field(new.get("spec"), old.get("spec"), "spec", errs);
    }
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let duration = obj
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .map(meta::human_duration)
            .unwrap_or_else(|| "<none>".into());
        vec![
            name_cell(obj),
            age_cell(obj, now),
            text(obj, "/spec/signerName").into(),
            text(obj, "/spec/username").into(),
            duration.into(),
            condition_cell(obj).into(),
        ]
    }
}

/// kubectl's CONDITION column: `Pending`, `Approved,Issued`, `Denied`, `Failed`.
fn condition_cell(obj: &Value) -> String {
    let mut shown: Vec<&str> = items(&obj["status"], "conditions")
        .iter()
        .filter(|c| c["status"] == json!("True") || c.get("status").is_none())
        .filter_map(|c| c["type"].as_str())
        .collect();
    if obj
        .pointer("/status/certificate")
        .is_some_and(|c| c.as_str().is_some_and(|s| !s.is_empty()))
    {
        shown.push("Issued");
    }
    if shown.is_empty() {
        "Pending".into()
    } else {
        shown.join(",")
    }
}

/// The conditions of `obj` whose status is True, by type.
pub fn has_condition(obj: &Value, kind: &str) -> bool {
    items(&obj["status"], "conditions")
        .iter()
        .any(|c| c["type"] == json!(kind) && c["status"] != json!("False"))
}
