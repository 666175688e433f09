//! SelfSubjectAccessReview (authorization.k8s.io/v1): "may I …?" for the
//! caller (`kubectl auth can-i`). Create only; never stored.

use crate::kinds::{prelude::*, Backing, Reviewer};
use k8s_openapi::api::authorization::v1 as authz;

/// The SelfSubjectAccessReview strategy.
pub struct SelfSubjectAccessReview;

/// `selfsubjectaccessreviews` in authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "authorization.k8s.io",
    "v1",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    "",
    &SelfSubjectAccessReview,
)
.cluster_scoped();

impl Strategy for SelfSubjectAccessReview {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<authz::SelfSubjectAccessReview>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<authz::SelfSubjectAccessReview>(g))
    }
    fn backing(&self) -> Backing {
        Backing::Review
    }
    fn verbs(&self) -> &'static [&'static str] {
        &["create"]
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        super::validate_attributes(obj, errs)
    }
    fn review(&self, obj: &mut Value, _: Option<&str>, reviewer: &dyn Reviewer) {
        let user = reviewer.caller();
        super::answer(obj, &user, reviewer)
    }
}
