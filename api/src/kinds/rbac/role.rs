//! Role (rbac.authorization.k8s.io/v1): rules that grant access within one
//! namespace.
//!
//! Its strategy: served resource, typed form, validation (see
//! [`crate::kinds::Strategy`]); its table is Name / Created At, as kubectl prints roles.

use crate::kinds::{prelude::*, Grant};
use k8s_openapi::api::rbac::v1 as rbac;

/// The Role strategy.
pub struct Role;

/// `roles` in rbac.authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new(super::GROUP, "v1", "Role", "roles", "role", &Role);

impl Strategy for Role {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<rbac::Role>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<rbac::Role>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn grants(&self, obj: &Value) -> Option<Grant> {
        let role: rbac::Role = serde_json::from_value(obj.clone()).ok()?;
        Some(Grant::Rules {
            namespace: role.metadata.namespace.unwrap_or_default(),
            rules: role.rules.unwrap_or_default(),
        })
    }
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }
    fn columns(&self) -> &'static [Column] {
        GENERIC_COLUMNS
    }
    fn cells(&self, obj: &Value, _: Timestamp) -> Vec<Value> {
        generic_cells(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        if let Some(role) = typed::<rbac::Role>(obj, errs) {
            super::validate_rules(role.rules.as_deref().unwrap_or_default(), true, errs);
        }
    }
}
