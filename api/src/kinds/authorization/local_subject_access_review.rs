//! LocalSubjectAccessReview (authorization.k8s.io/v1): a
//! SubjectAccessReview confined to one namespace (what a namespace admin
//! may ask). Create only; never stored.

use crate::kinds::{prelude::*, Backing, Reviewer};
use k8s_openapi::api::authorization::v1 as authz;

/// The LocalSubjectAccessReview strategy.
pub struct LocalSubjectAccessReview;

/// `localsubjectaccessreviews` in authorization.k8s.io/v1 (namespaced).
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "authorization.k8s.io",
    "v1",
    "LocalSubjectAccessReview",
    "localsubjectaccessreviews",
    "",
    &LocalSubjectAccessReview,
);

impl Strategy for LocalSubjectAccessReview {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<authz::LocalSubjectAccessReview>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<authz::LocalSubjectAccessReview>(g))
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
        if obj
            .pointer("/spec/nonResourceAttributes")
            .is_some_and(|v| !v.is_null())
        {
            errs.push(FieldError::invalid(
                "spec.nonResourceAttributes",
                obj.pointer("/spec/nonResourceAttributes")
                    .cloned()
                    .unwrap_or(Value::Null),
                "disallowed on this kind of request",
            ));
        }
    }
    fn review(&self, obj: &mut Value, namespace: Option<&str>, reviewer: &dyn Reviewer) {
        // The namespace is the URL's (`LocalSubjectAccessReview` is namespaced).
        if let Some(ns) = namespace {
            obj["spec"]["resourceAttributes"]["namespace"] = json!(ns);
        }
        let user = super::spec_user(obj);
        super::answer(obj, &user, reviewer)
    }
}
