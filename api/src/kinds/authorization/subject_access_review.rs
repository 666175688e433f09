//! SubjectAccessReview (authorization.k8s.io/v1): "may this user …?" for
//! any user and groups named in the spec (what webhooks and
//! `kubectl auth can-i --as` ask through). Create only; never stored.

use crate::kinds::{prelude::*, Backing, Reviewer};
use k8s_openapi::api::authorization::v1 as authz;

/// The SubjectAccessReview strategy.
pub struct SubjectAccessReview;

/// `subjectaccessreviews` in authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "authorization.k8s.io",
    "v1",
    "SubjectAccessReview",
    "subjectaccessreviews",
    "",
    &SubjectAccessReview,
)
.cluster_scoped();

impl Strategy for SubjectAccessReview {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<authz::SubjectAccessReview>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<authz::SubjectAccessReview>(g))
    }
    fn backing(&self) -> Backing {
        Backing::Review
    }
    fn verbs(&self) -> &'static [&'static str] {
        &["create"]
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        super::validate_attributes(obj, errs);
        super::validate_subject(obj, errs);
    }
    fn review(&self, obj: &mut Value, _: Option<&str>, reviewer: &dyn Reviewer) {
        let user = super::spec_user(obj);
        super::answer(obj, &user, reviewer)
    }
}
