//! POST of a review kind (`Backing::Review`: SelfSubjectAccessReview,
//! SelfSubjectRulesReview, SubjectAccessReview, LocalSubjectAccessReview,
//! SelfSubjectReview): the body is validated, the kind's strategy fills in
//! `status` from what this module tells it — the caller, and the RBAC
//! authorizer's answers — and the object is returned with 201, never
//! stored. Any other verb is 405, as kube-apiserver answers for a
//! create-only resource.

use axum::response::Response;
use http::{Method, StatusCode};
use k8s_openapi::api::rbac::v1::PolicyRule;
use minik_api::kinds::Reviewer;
use minik_api::rbac::{Request, UserInfo};
use serde_json::{json, Value};

use super::Ctx;
use crate::authentication::User;
use crate::authorization::{user_info, Authorizer};
use crate::error::ApiError;
use crate::registry;

struct Answers<'a> {
    user: &'a User,
    authorizer: &'a Authorizer,
}

/// The authorizer's view of a user named in a review (no credential of theirs).
fn as_user(user: &UserInfo) -> User {
    User {
        name: user.name.clone(),
        uid: String::new(),
        groups: user.groups.clone(),
    }
}

impl Reviewer for Answers<'_> {
    fn caller(&self) -> UserInfo {
        user_info(self.user)
    }
    fn caller_uid(&self) -> String {
        self.user.uid.clone()
    }
    fn allows(&self, user: &UserInfo, request: &Request) -> bool {
        self.authorizer.allows(&as_user(user), request)
    }
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        self.authorizer.rules_for(&as_user(user), namespace)
    }
}

pub async fn review(ctx: Ctx, method: &Method) -> Result<Response, ApiError> {
    let info = ctx.info();
    if *method != Method::POST || ctx.target.name.is_some() {
        return Err(ApiError::method_not_allowed(format!(
            "{} only accepts create",
            info.qualified_plural()
        )));
    }
    let mut obj = ctx.resource_body()?;
    registry::check_type(info, &mut obj)?;
    let mut errs = Vec::new();
    info.strategy.validate(info, &obj, &mut errs);
    if !errs.is_empty() {
        return Err(ApiError::invalid(info, "", &errs));
    }
    let answers = Answers {
        user: &ctx.user,
        authorizer: &ctx.state.authorizer,
    };
    info.strategy
        .review(&mut obj, ctx.target.namespace.as_deref(), &answers);
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    Ok(ctx.respond(StatusCode::CREATED, &obj))
}
