//! ClusterRoleBinding (rbac.authorization.k8s.io/v1): grants a ClusterRole
//! to users, groups and ServiceAccounts across the cluster.
//!
//! Its strategy: served resource, typed form, subject defaulting,
//! validation (the roleRef never changes) and table columns (see
//! [`crate::kinds::Strategy`]).

use crate::kinds::{prelude::*, Grant};
use k8s_openapi::api::rbac::v1 as rbac;

/// The ClusterRoleBinding strategy.
pub struct ClusterRoleBinding;

/// `clusterrolebindings` in rbac.authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    super::GROUP,
    "v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
    "clusterrolebinding",
    &ClusterRoleBinding,
)
.cluster_scoped();

impl Strategy for ClusterRoleBinding {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<rbac::ClusterRoleBinding>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<rbac::ClusterRoleBinding>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn grants(&self, obj: &Value) -> Option<Grant> {
        let binding: rbac::ClusterRoleBinding = serde_json::from_value(obj.clone()).ok()?;
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
        if let Some(b) = typed::<rbac::ClusterRoleBinding>(obj, errs) {
            let subjects = b.subjects.as_deref().unwrap_or_default();
            super::validate_binding(&b.role_ref, subjects, &["ClusterRole"], false, errs);
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
