//! RoleBinding (rbac.authorization.k8s.io/v1): grants a Role, or a
//! ClusterRole's rules, to users, groups and ServiceAccounts within one
//! namespace.
//!
//! Its strategy: served resource, typed form, subject defaulting,
//! validation (the roleRef never changes) and table columns (see
//! [`crate::kinds::Strategy`]).

use crate::kinds::{prelude::*, Grant};
use k8s_openapi::api::rbac::v1 as rbac;

/// The RoleBinding strategy.
pub struct RoleBinding;

/// `rolebindings` in rbac.authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    super::GROUP,
    "v1",
    "RoleBinding",
    "rolebindings",
    "rolebinding",
    &RoleBinding,
);

impl Strategy for RoleBinding {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<rbac::RoleBinding>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<rbac::RoleBinding>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn grants(&self, obj: &Value) -> Option<Grant> {
        let binding: rbac::RoleBinding = serde_json::from_value(obj.clone()).ok()?;
        Some(Grant::Role {
            namespace: binding.metadata.namespace.unwrap_or_default(),
            resource: super::role_resource(&binding.role_ref.kind),
            kind: binding.role_ref.kind,
            name: binding.role_ref.name,
        })
    }
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        super::default_subjects(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        if let Some(b) = typed::<rbac::RoleBinding>(obj, errs) {
            let subjects = b.subjects.as_deref().unwrap_or_default();
            super::validate_binding(&b.role_ref, subjects, &["Role", "ClusterRole"], true, errs);
        }
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        super::validate_binding_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        super::BINDING_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        super::binding_cells(obj, now)
    }
}
