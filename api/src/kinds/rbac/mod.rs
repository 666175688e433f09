//! The kinds of rbac.authorization.k8s.io/v1: Roles and ClusterRoles (sets
//! of rules), RoleBindings and ClusterRoleBindings (who holds them). What
//! they share is here: rule and subject validation (Kubernetes'
//! `pkg/apis/rbac/validation`), subject defaulting and the binding table.
//! How rules are evaluated is `crate::rbac`.

pub mod cluster_role;
pub mod cluster_role_binding;
pub mod role;
pub mod role_binding;

use crate::kinds::prelude::*;
use k8s_openapi::api::rbac::v1 as rbac;

pub const GROUP: &str = "rbac.authorization.k8s.io";

/// `ValidatePolicyRule`.
fn validate_rules(rules: &[rbac::PolicyRule], namespaced: bool, errs: &mut Errs) {
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if rule.verbs.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
        if !urls.is_empty() {
            if namespaced {
                errs.push(FieldError::invalid(
                    format!("{path}.nonResourceURLs"),
                    json!(urls),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let has = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
            if has(&rule.api_groups) || has(&rule.resources) || has(&rule.resource_names) {
                errs.push(FieldError::invalid(
                    format!("{path}.nonResourceURLs"),
                    json!(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if rule.api_groups.as_ref().is_none_or(Vec::is_empty) {
            errs.push(FieldError::required(
                format!("{path}.apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if rule.resources.as_ref().is_none_or(Vec::is_empty) {
            errs.push(FieldError::required(
                format!("{path}.resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

/// `ValidateRoleBinding`'s roleRef and subjects; `kinds` are the role kinds
/// it may name (a ClusterRoleBinding only `ClusterRole`).
fn validate_binding(
    role_ref: &rbac::RoleRef,
    subjects: &[rbac::Subject],
    kinds: &[&str],
    namespaced: bool,
    errs: &mut Errs,
) {
    if role_ref.api_group != GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            json!(role_ref.api_group),
            &[GROUP],
        ));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(
            "roleRef.kind",
            json!(role_ref.kind),
            kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in NameRule::PathSegment.check(&role_ref.name, false) {
            errs.push(FieldError::invalid(
                "roleRef.name",
                json!(role_ref.name),
                msg,
            ));
        }
    }
    for (i, s) in subjects.iter().enumerate() {
        let path = format!("subjects[{i}]");
        if s.name.is_empty() {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        }
        let api_group = s.api_group.as_deref().unwrap_or("");
        match s.kind.as_str() {
            "ServiceAccount" => {
                if !s.name.is_empty() {
                    for msg in NameRule::Subdomain.check(&s.name, false) {
                        errs.push(FieldError::invalid(
                            format!("{path}.name"),
                            json!(s.name),
                            msg,
                        ));
                    }
                }
                if !api_group.is_empty() {
                    errs.push(FieldError::not_supported(
                        format!("{path}.apiGroup"),
                        json!(api_group),
                        &[""],
                    ));
                }
                if !namespaced && s.namespace.as_deref().unwrap_or("").is_empty() {
                    errs.push(FieldError::required(format!("{path}.namespace"), ""));
                }
            }
            "User" | "Group" => {
                if api_group != GROUP {
                    errs.push(FieldError::not_supported(
                        format!("{path}.apiGroup"),
                        json!(api_group),
                        &[GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                format!("{path}.kind"),
                json!(other),
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

/// The resource a roleRef's kind names.
fn role_resource(kind: &str) -> &'static str {
    match kind {
        "Role" => "roles",
        _ => "clusterroles",
    }
}

/// `SetDefaults_Subject`: a User or Group subject's apiGroup is RBAC's.
fn default_subjects(obj: &mut Obj) {
    if let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) {
        for s in subjects {
            let is_user_or_group = matches!(
                s.get("kind").and_then(Value::as_str),
                Some("User" | "Group")
            );
            let unset = s
                .get("apiGroup")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
            if is_user_or_group && unset {
                s["apiGroup"] = json!(GROUP);
            }
        }
    }
}

/// A binding's roleRef never changes (delete and recreate the binding).
fn validate_binding_update(new: &Value, old: &Value, errs: &mut Errs) {
    if new.get("roleRef") != old.get("roleRef") {
        errs.push(FieldError::invalid(
            "roleRef",
            new.get("roleRef").cloned().unwrap_or(Value::Null),
            "cannot change roleRef",
        ));
    }
}

const BINDING_COLUMNS: &[Column] = &[
    NAME,
    string("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable."),
    AGE,
    wide("Users", "Users in the roleBinding"),
    wide("Groups", "Groups in the roleBinding"),
    wide("ServiceAccounts", "ServiceAccounts in the roleBinding"),
];

/// `printRoleBinding`: `Role/pod-reader`, then the subjects by kind.
fn binding_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let by_kind = |kind: &str| -> String {
        items_at(obj, "/subjects")
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| match (kind, text(s, "/namespace")) {
                ("ServiceAccount", ns) if !ns.is_empty() => format!("{ns}/{}", text(s, "/name")),
                _ => text(s, "/name").to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        name_cell(obj),
        json!(format!(
            "{}/{}",
            text(obj, "/roleRef/kind"),
            text(obj, "/roleRef/name")
        )),
        age_cell(obj, now),
        json!(by_kind("User")),
        json!(by_kind("Group")),
        json!(by_kind("ServiceAccount")),
    ]
}
