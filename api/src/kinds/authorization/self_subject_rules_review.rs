//! SelfSubjectRulesReview (authorization.k8s.io/v1): every rule the caller
//! holds in a namespace (`kubectl auth can-i --list`). Create only; never
//! stored.

use crate::kinds::{prelude::*, Backing, Reviewer};
use k8s_openapi::api::authorization::v1 as authz;

/// The SelfSubjectRulesReview strategy.
pub struct SelfSubjectRulesReview;

/// `selfsubjectrulesreviews` in authorization.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "authorization.k8s.io",
    "v1",
    "SelfSubjectRulesReview",
    "selfsubjectrulesreviews",
    "",
    &SelfSubjectRulesReview,
)
.cluster_scoped();

impl Strategy for SelfSubjectRulesReview {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<authz::SelfSubjectRulesReview>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<authz::SelfSubjectRulesReview>(g))
    }
    fn backing(&self) -> Backing {
        Backing::Review
    }
    fn verbs(&self) -> &'static [&'static str] {
        &["create"]
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        if obj
            .pointer("/spec/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            errs.push(FieldError::required(
                "spec.namespace",
                "no namespace on request",
            ));
        }
    }
    fn review(&self, obj: &mut Value, _: Option<&str>, reviewer: &dyn Reviewer) {
        let namespace = obj
            .pointer("/spec/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let rules = reviewer.rules_for(&reviewer.caller(), namespace);
        let mut resource_rules = Vec::new();
        let mut non_resource_rules = Vec::new();
        for r in rules {
            if r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                non_resource_rules
                    .push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
            } else {
                let mut rule =
                    json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
                if let Some(names) = r.resource_names.filter(|n| !n.is_empty()) {
                    rule["resourceNames"] = json!(names);
                }
                resource_rules.push(rule);
            }
        }
        obj["status"] = json!({
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": false,
        });
    }
}
