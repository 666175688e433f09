//! The kinds of authorization.k8s.io/v1: questions to the authorizer
//! (`kubectl auth can-i`). Each is create-only and answered in `status`;
//! what they share — reading `resourceAttributes` / `nonResourceAttributes`
//! into an RBAC request, and validating them — is here.

pub mod local_subject_access_review;
pub mod self_subject_access_review;
pub mod self_subject_rules_review;
pub mod subject_access_review;

use crate::kinds::{prelude::*, Reviewer};
use crate::rbac::{Request, UserInfo};

/// `ValidateSubjectAccessReviewSpec`: exactly one kind of attributes.
fn validate_attributes(obj: &Value, errs: &mut Errs) {
    let resource = obj
        .pointer("/spec/resourceAttributes")
        .is_some_and(|v| !v.is_null());
    let non_resource = obj
        .pointer("/spec/nonResourceAttributes")
        .is_some_and(|v| !v.is_null());
    if resource == non_resource {
        errs.push(FieldError::invalid(
            "spec.resourceAttributes",
            obj.pointer("/spec/resourceAttributes")
                .cloned()
                .unwrap_or(Value::Null),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
}

/// The request an access review asks about.
fn request(obj: &Value) -> Request {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if obj
        .pointer("/spec/nonResourceAttributes")
        .is_some_and(|v| !v.is_null())
    {
        return Request {
            verb: s("/spec/nonResourceAttributes/verb"),
            path: s("/spec/nonResourceAttributes/path"),
            ..Request::default()
        };
    }
    let a = "/spec/resourceAttributes";
    Request {
        verb: s(&format!("{a}/verb")),
        resource_request: true,
        api_group: s(&format!("{a}/group")),
        resource: s(&format!("{a}/resource")),
        subresource: s(&format!("{a}/subresource")),
        namespace: s(&format!("{a}/namespace")),
        name: s(&format!("{a}/name")),
        path: String::new(),
    }
}

/// Fills `status.allowed` for `user`.
fn answer(obj: &mut Value, user: &UserInfo, reviewer: &dyn Reviewer) {
    let allowed = reviewer.allows(user, &request(obj));
    obj["status"] = json!({"allowed": allowed});
}

/// The user a SubjectAccessReview names in its spec.
fn spec_user(obj: &Value) -> UserInfo {
    UserInfo {
        name: obj
            .pointer("/spec/user")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        groups: obj
            .pointer("/spec/groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn validate_subject(obj: &Value, errs: &mut Errs) {
    let user = spec_user(obj);
    if user.name.is_empty() && user.groups.is_empty() {
        errs.push(FieldError::invalid(
            "spec.user",
            json!(""),
            "at least one of user or group must be specified",
        ));
    }
}
