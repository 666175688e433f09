//! ServiceAccount (core/v1): an identity for processes in pods.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

/// The ServiceAccount strategy.
pub struct ServiceAccount;

/// `serviceaccounts` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "ServiceAccount",
    "serviceaccounts",
    "serviceaccount",
    &ServiceAccount,
)
.short_names(&["sa"])
.subresources(&["token"]);

impl Strategy for ServiceAccount {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::ServiceAccount>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::ServiceAccount>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn columns(&self) -> &'static [Column] {
        SA_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        sa_cells(obj, now)
    }
}

const SA_COLUMNS: &[Column] = &[
    NAME,
    string("Secrets", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"),
    AGE,
];

fn sa_cells(sa: &Value, now: Timestamp) -> Vec<Value> {
    vec![name_cell(sa), json!(len(sa, "/secrets")), age_cell(sa, now)]
}
