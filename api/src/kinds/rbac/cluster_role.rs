//! ClusterRole (rbac.authorization.k8s.io/v1): rules that grant access
//! across the cluster (or, through a RoleBinding, in one namespace), to
//! non-resource URLs too; or an `aggregationRule` whose selected
//! ClusterRoles' rules it gathers.
//!
//! Its strategy: served resource, typed form, validation (see
//! [`crate::kinds::Strategy`]); its table is Name / Created At, as kubectl prints roles.

use crate::kinds::{prelude::*, Grant};
use k8s_openapi::api::rbac::v1 as rbac;

/// The ClusterRole strategy.
pub struct ClusterRole;

/// `clusterroles` in rbac.authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    super::GROUP,
    "v1",
    "ClusterRole",
    "clusterroles",
    "clusterrole",
    &ClusterRole,
)
.cluster_scoped();

impl Strategy for ClusterRole {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<rbac::ClusterRole>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<rbac::ClusterRole>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn grants(&self, obj: &Value) -> Option<Grant> {
        let role: rbac::ClusterRole = serde_json::from_value(obj.clone()).ok()?;
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
        let Some(role) = typed::<rbac::ClusterRole>(obj, errs) else {
            return;
        };
        super::validate_rules(role.rules.as_deref().unwrap_or_default(), false, errs);
        if let Some(rule) = &role.aggregation_rule {
            let selectors = rule.cluster_role_selectors.as_deref().unwrap_or_default();
            if selectors.is_empty() {
                errs.push(FieldError::required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                ));
            }
        }
    }
}
