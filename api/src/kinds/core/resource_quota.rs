//! ResourceQuota (core/v1): limits on what a namespace may consume.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The ResourceQuota strategy.
pub struct ResourceQuota;

/// `resourcequotas` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "ResourceQuota",
    "resourcequotas",
    "resourcequota",
    &ResourceQuota,
)
.short_names(&["quota"])
.subresources(&["status"]);

impl Strategy for ResourceQuota {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::ResourceQuota>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::ResourceQuota>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_resource_quota(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        if let Some(quota) = typed::<core::ResourceQuota>(obj, errs) {
            let spec = quota.spec.unwrap_or_default();
            validate_resource_list(&json_of(&spec.hard), "spec.hard", errs);
            validate_scopes(&spec, errs);
        }
    }
    fn columns(&self) -> &'static [Column] {
        RESOURCEQUOTA_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        resourcequota_cells(obj, now)
    }
    fn quota_usage(&self, _: &Value, _: Timestamp) -> crate::quota::ResourceList {
        [(
            "resourcequotas".to_string(),
            Quantity::from_value(1, Default::default()),
        )]
        .into()
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        resource == "resourcequotas"
    }
}

fn default_resource_quota(q: &mut Obj) {
    if let Some(hard) = existing(q, "spec").and_then(|s| existing(s, "hard")) {
        canonicalize_quantities(hard);
    }
}

const RESOURCEQUOTA_COLUMNS: &[Column] = &[
    NAME,
    AGE, // kube puts AGE second here
    string("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
    string("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
];

fn resourcequota_cells(quota: &Value, now: Timestamp) -> Vec<Value> {
    let mut names: Vec<&String> = quota
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .map(|hard| hard.keys().collect())
        .unwrap_or_default();
    names.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for name in names {
        let pointer_name = name.replace('~', "~0").replace('/', "~1");
        let used = quantity(quota, &format!("/status/used/{pointer_name}"));
        let hard = quantity(quota, &format!("/status/hard/{pointer_name}"));
        let entry = format!("{name}: {used}/{hard}");
        match name.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name_cell(quota),
        age_cell(quota, now),
        requests.join(", ").into(),
        limits.join(", ").into(),
    ]
}

/// Every scope Kubernetes knows (`IsStandardResourceQuotaScope`).
const SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

/// `IsStandardQuotaResourceName`: the names a scope is checked against.
const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];

/// `IsResourceQuotaScopeValidForResource`: what each scope can limit.
fn scope_fits(scope: &str, resource: &str) -> bool {
    // `pods` and the compute resources a pod must state.
    let compute = resource == "pods" || super::pod::MUST_SPECIFY.contains(&resource);
    match scope {
        "BestEffort" | "CrossNamespacePodAffinity" => resource == "pods",
        "Terminating" | "NotTerminating" | "NotBestEffort" | "PriorityClass" => compute,
        _ => true,
    }
}

/// `validateResourceQuotaScopes` and `validateScopeSelector`: known scopes,
/// each fit for every standard resource the quota limits, no contradicting
/// pair, and selector operators that suit the scope. A quota with a scope
/// minik did not know would otherwise limit nothing, silently.
fn validate_scopes(spec: &core::ResourceQuotaSpec, errs: &mut Errs) {
    let hard: Vec<&String> = spec
        .hard
        .iter()
        .flat_map(|h| h.keys())
        .filter(|k| STANDARD_QUOTA_RESOURCES.contains(&k.as_str()))
        .collect();
    let conflicting = |names: &BTreeSet<&str>| {
        (names.contains("BestEffort") && names.contains("NotBestEffort"))
            || (names.contains("Terminating") && names.contains("NotTerminating"))
    };
    let scopes = spec.scopes.clone().unwrap_or_default();
    let value = json!(scopes);
    for scope in &scopes {
        if !SCOPES.contains(&scope.as_str()) {
            errs.push(FieldError::invalid(
                "spec.scopes",
                value.clone(),
                "unsupported scope",
            ));
        }
        for k in &hard {
            if !scope_fits(scope, k) {
                errs.push(FieldError::invalid(
                    "spec.scopes",
                    value.clone(),
                    "unsupported scope applied to resource",
                ));
            }
        }
    }
    if conflicting(&scopes.iter().map(String::as_str).collect()) {
        errs.push(FieldError::invalid(
            "spec.scopes",
            value,
            "conflicting scopes",
        ));
    }
    let Some(selector) = &spec.scope_selector else {
        return;
    };
    let p = "spec.scopeSelector.matchExpressions";
    let exprs = selector.match_expressions.clone().unwrap_or_default();
    let selector_value = json!({ "matchExpressions": exprs });
    for req in &exprs {
        if !SCOPES.contains(&req.scope_name.as_str()) {
            errs.push(FieldError::invalid(
                format!("{p}.scopeName"),
                json!(req.scope_name),
                "unsupported scope",
            ));
        }
        for k in &hard {
            if !scope_fits(&req.scope_name, k) {
                errs.push(FieldError::invalid(
                    p,
                    selector_value.clone(),
                    "unsupported scope applied to resource",
                ));
            }
        }
        if req.scope_name != "PriorityClass" && req.operator != "Exists" {
            errs.push(FieldError::invalid(
                format!("{p}.operator"),
                json!(req.operator),
                "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        let values = req.values.clone().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                format!("{p}.values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::invalid(
                format!("{p}.values"),
                json!(values),
                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                format!("{p}.operator"),
                json!(other),
                "not a valid selector operator",
            )),
        }
    }
    if conflicting(&exprs.iter().map(|r| r.scope_name.as_str()).collect()) {
        errs.push(FieldError::invalid(p, selector_value, "conflicting scopes"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: Value) -> Vec<String> {
        let mut errs = Errs::new();
        let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": spec});
        ResourceQuota.validate(&RESOURCE, &quota, &mut errs);
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn scopes_are_known_fit_their_resources_and_do_not_conflict() {
        assert!(
            errors(json!({"hard": {"pods": "2"}, "scopes": ["BestEffort", "NotTerminating"]}))
                .is_empty()
        );
        assert_eq!(
            errors(json!({"hard": {"pods": "2"}, "scopes": ["Sometimes"]})),
            vec![r#"spec.scopes: Invalid value: ["Sometimes"]: unsupported scope"#]
        );
        assert_eq!(
            errors(json!({"hard": {"services": "2"}, "scopes": ["BestEffort"]})),
            vec![
                r#"spec.scopes: Invalid value: ["BestEffort"]: unsupported scope applied to resource"#
            ]
        );
        assert_eq!(
            errors(json!({"hard": {"pods": "2"}, "scopes": ["Terminating", "NotTerminating"]})),
            vec![
                r#"spec.scopes: Invalid value: ["Terminating","NotTerminating"]: conflicting scopes"#
            ]
        );
        assert!(errors(
            json!({"hard": {"pods": "2"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}})
        )
        .is_empty());
        assert_eq!(
            errors(json!({"hard": {"pods": "2"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In"}]}})),
            vec!["spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"]
        );
    }
}
