//! How RBAC decides, as Kubernetes' RBAC authorizer does: the rules that
//! apply to a user are those of the ClusterRoles its ClusterRoleBindings
//! name, then (for a request in a namespace) those of the Roles and
//! ClusterRoles the namespace's RoleBindings name; a request is allowed
//! when one rule matches it (`evaluation_helpers.go`). Nothing denies.
//!
//! Also escalation prevention's `Covers`: whether the rules a user holds
//! include every rule they try to grant, rule by atomic rule.
//!
//! An `aggregationRule` is resolved here, when the policy is built: an
//! aggregated ClusterRole's rules are its own plus those of every
//! ClusterRole its selectors match (Kubernetes' aggregation controller
//! writes them into the object; minik computes them on read).
//!
//! Pure functions over k8s-openapi types: the API server gathers the
//! objects (`apiserver/src/authorization.rs`).

use std::collections::HashMap;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};

use crate::selectors::LabelSelector;

/// What a request asks to do, in RBAC's terms (`authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    pub verb: String,
    pub resource_request: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// Non-resource requests: the URL path.
    pub path: String,
}

/// Who asks (`user.Info`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

fn has(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_deref()
        .unwrap_or_default()
        .iter()
        .any(|v| v == value)
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

/// `RuleAllows`.
pub fn rule_allows(rule: &PolicyRule, req: &Request) -> bool {
    let verb = rule.verbs.iter().any(|v| v == "*" || *v == req.verb);
    if !verb {
        return false;
    }
    if !req.resource_request {
        return list(&rule.non_resource_urls)
            .iter()
            .any(|url| url_matches(url, &req.path));
    }
    let group = has(&rule.api_groups, "*") || has(&rule.api_groups, &req.api_group);
    let combined = match req.subresource.as_str() {
        "" => req.resource.clone(),
        sub => format!("{}/{sub}", req.resource),
    };
    let resource = list(&rule.resources).iter().any(|r| {
        r == "*"
            || *r == combined
            || (!req.subresource.is_empty()
                && r.strip_prefix("*/") == Some(req.subresource.as_str()))
    });
    let names = list(&rule.resource_names);
    let name = names.is_empty() || names.contains(&req.name);
    group && resource && name
}

/// `NonResourceURLMatches`: exact, `*`, or a prefix ending in `*`.
fn url_matches(rule: &str, path: &str) -> bool {
    rule == "*"
        || rule == path
        || rule
            .strip_suffix('*')
            .is_some_and(|prefix| path.starts_with(prefix))
}

/// `appliesToUser`: a ServiceAccount subject without a namespace means the
/// binding's own.
pub fn applies_to(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            !namespace.is_empty()
                && user.name == format!("system:serviceaccount:{namespace}:{}", subject.name)
        }
        _ => false,
    }
}

/// Every Role, ClusterRole and binding, indexed for evaluation.
#[derive(Debug, Default)]
pub struct Policy {
    /// ClusterRole name → rules (aggregation resolved).
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    /// (namespace, Role name) → rules.
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    cluster_bindings: Vec<ClusterRoleBinding>,
    /// namespace → its RoleBindings.
    bindings: HashMap<String, Vec<RoleBinding>>,
}

impl Policy {
    pub fn new(
        roles: Vec<Role>,
        cluster_roles: Vec<ClusterRole>,
        bindings: Vec<RoleBinding>,
        cluster_bindings: Vec<ClusterRoleBinding>,
    ) -> Policy {
        let resolved = aggregate(&cluster_roles);
        let mut by_namespace: HashMap<String, Vec<RoleBinding>> = HashMap::new();
        for b in bindings {
            let ns = b.metadata.namespace.clone().unwrap_or_default();
            by_namespace.entry(ns).or_default().push(b);
        }
        Policy {
            cluster_roles: resolved,
            roles: roles
                .into_iter()
                .map(|r| {
                    let key = (
                        r.metadata.namespace.clone().unwrap_or_default(),
                        r.metadata.name.clone().unwrap_or_default(),
                    );
                    (key, r.rules.unwrap_or_default())
                })
                .collect(),
            cluster_bindings,
            bindings: by_namespace,
        }
    }

    /// The rules a role reference grants in `namespace` (`None`: no such role).
    pub fn role_rules(&self, kind: &str, name: &str, namespace: &str) -> Option<&[PolicyRule]> {
        match kind {
            "ClusterRole" => self.cluster_roles.get(name).map(Vec::as_slice),
            "Role" => self
                .roles
                .get(&(namespace.to_string(), name.to_string()))
                .map(Vec::as_slice),
            _ => None,
        }
    }

    /// Visits the rules that apply to `user` in `namespace` (cluster-wide
    /// ones first) until `visit` returns false: `VisitRulesFor`.
    fn visit(&self, user: &UserInfo, namespace: &str, visit: &mut dyn FnMut(&PolicyRule) -> bool) {
        for b in &self.cluster_bindings {
            let subjects = b.subjects.as_deref().unwrap_or_default();
            if !subjects.iter().any(|s| applies_to(s, user, "")) {
                continue;
            }
            for rule in self
                .role_rules("ClusterRole", &b.role_ref.name, "")
                .unwrap_or_default()
            {
                if !visit(rule) {
                    return;
                }
            }
        }
        if namespace.is_empty() {
            return;
        }
        for b in self.bindings.get(namespace).into_iter().flatten() {
            let subjects = b.subjects.as_deref().unwrap_or_default();
            if !subjects.iter().any(|s| applies_to(s, user, namespace)) {
                continue;
            }
            let rules = self.role_rules(&b.role_ref.kind, &b.role_ref.name, namespace);
            for rule in rules.unwrap_or_default() {
                if !visit(rule) {
                    return;
                }
            }
        }
    }

    /// Whether a rule that applies to `user` allows `req`.
    pub fn allows(&self, user: &UserInfo, req: &Request) -> bool {
        let mut allowed = false;
        self.visit(user, &req.namespace, &mut |rule| {
            allowed = rule_allows(rule, req);
            !allowed
        });
        allowed
    }

    /// Every rule that applies to `user` in `namespace` (`RulesFor`).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        let mut rules = Vec::new();
        self.visit(user, namespace, &mut |rule| {
            rules.push(rule.clone());
            true
        });
        rules
    }
}

/// Every ClusterRole's rules with aggregation resolved: an aggregated role
/// gets the (resolved) rules of each role its selectors match, so `admin`
/// includes `edit`, which includes `view`. Repeated until nothing changes,
/// as the aggregation controller's writes settle.
fn aggregate(cluster_roles: &[ClusterRole]) -> HashMap<String, Vec<PolicyRule>> {
    let name = |r: &ClusterRole| r.metadata.name.clone().unwrap_or_default();
    let mut resolved: HashMap<String, Vec<PolicyRule>> = cluster_roles
        .iter()
        .map(|r| (name(r), r.rules.clone().unwrap_or_default()))
        .collect();
    // Which roles each aggregated role selects.
    let mut selects: Vec<(String, Vec<String>)> = Vec::new();
    for role in cluster_roles {
        let selectors = role
            .aggregation_rule
            .as_ref()
            .and_then(|a| a.cluster_role_selectors.clone())
            .unwrap_or_default();
        if selectors.is_empty() {
            continue;
        }
        let mut members = Vec::new();
        for selector in selectors {
            let json = serde_json::to_value(&selector).unwrap_or_default();
            let Ok(selector) = LabelSelector::from_json(&json) else {
                continue;
            };
            for other in cluster_roles {
                let labels: serde_json::Map<String, serde_json::Value> = other
                    .metadata
                    .labels
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone().into()))
                    .collect();
                if name(other) != name(role) && selector.matches(&labels) {
                    members.push(name(other));
                }
            }
        }
        selects.push((name(role), members));
    }
    for _ in 0..=selects.len() {
        let mut changed = false;
        for (role, members) in &selects {
            let mut rules = cluster_roles
                .iter()
                .find(|r| name(r) == *role)
                .and_then(|r| r.rules.clone())
                .unwrap_or_default();
            for m in members {
                for rule in resolved.get(m).into_iter().flatten() {
                    if !rules.contains(rule) {
                        rules.push(rule.clone());
                    }
                }
            }
            if resolved.get(role) != Some(&rules) {
                resolved.insert(role.clone(), rules);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    resolved
}

/// `Covers`: the atomic rules of `requested` that no rule of `owner` covers.
pub fn uncovered(owner: &[PolicyRule], requested: &[PolicyRule]) -> Vec<PolicyRule> {
    requested
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect()
}

/// `BreakdownRule`: one rule per group, resource, verb (and name), or per
/// URL and verb.
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    let one = |v: &str| Some(vec![v.to_string()]);
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let names = list(&rule.resource_names);
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..Default::default()
                };
                if names.is_empty() {
                    out.push(base);
                } else {
                    out.extend(names.iter().map(|n| PolicyRule {
                        resource_names: one(n),
                        ..base.clone()
                    }));
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..Default::default()
            });
        }
    }
    out
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| set.contains(w))
}

/// `ruleCovers` for one atomic rule.
fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = owner.verbs.iter().any(|v| v == "*") || has_all(&owner.verbs, &sub.verbs);
    let groups =
        has(&owner.api_groups, "*") || has_all(list(&owner.api_groups), list(&sub.api_groups));
    let resources = list(&sub.resources).iter().all(|r| {
        has(&owner.resources, "*")
            || has(&owner.resources, r)
            || r.split_once('/')
                .is_some_and(|(_, sub)| has(&owner.resources, &format!("*/{sub}")))
    });
    let urls = list(&sub.non_resource_urls).iter().all(|u| {
        list(&owner.non_resource_urls)
            .iter()
            .any(|o| url_matches(o, u))
    });
    let names = list(&owner.resource_names).is_empty()
        || (!list(&sub.resource_names).is_empty()
            && has_all(list(&owner.resource_names), list(&sub.resource_names)));
    verbs && groups && resources && urls && names
}

/// `CompactString`: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`.
pub fn compact(rule: &PolicyRule) -> String {
    let quoted = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", items.join(" "))
    };
    let mut parts = Vec::new();
    for (name, values) in [
        ("APIGroups", list(&rule.api_groups)),
        ("Resources", list(&rule.resources)),
        ("ResourceNames", list(&rule.resource_names)),
        ("NonResourceURLs", list(&rule.non_resource_urls)),
        ("Verbs", rule.verbs.as_slice()),
    ] {
        if !values.is_empty() {
            parts.push(format!("{name}:{}", quoted(values)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    fn req(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Request {
        Request {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_and_names() {
        let pods =
            rule(json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}));
        assert!(rule_allows(
            &pods,
            &req("list", "", "pods", "", "default", "")
        ));
        assert!(!rule_allows(
            &pods,
            &req("delete", "", "pods", "", "default", "x")
        ));
        assert!(!rule_allows(
            &pods,
            &req("get", "", "pods", "log", "default", "x")
        ));
        let logs = rule(json!({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}));
        assert!(rule_allows(
            &logs,
            &req("get", "", "pods", "log", "default", "x")
        ));
        let named = rule(
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["*"]}),
        );
        assert!(rule_allows(
            &named,
            &req("patch", "apps", "deployments", "", "d", "web")
        ));
        assert!(!rule_allows(
            &named,
            &req("patch", "apps", "deployments", "", "d", "db")
        ));
        let health = rule(json!({"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]}));
        let path = |p: &str| Request {
            verb: "get".into(),
            path: p.into(),
            ..Default::default()
        };
        assert!(rule_allows(&health, &path("/healthz")));
        assert!(rule_allows(&health, &path("/apis/apps/v1")));
        assert!(!rule_allows(&health, &path("/api")));
    }

    #[test]
    fn bindings_grant_roles_to_users_groups_and_service_accounts() {
        let role: Role = serde_json::from_value(json!({
            "metadata": {"name": "pod-reader", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
        }))
        .unwrap();
        let view: ClusterRole = serde_json::from_value(json!({
            "metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"aggregate-to-view": "true"}}]}
        }))
        .unwrap();
        let extra: ClusterRole = serde_json::from_value(json!({
            "metadata": {"name": "view-widgets", "labels": {"aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]
        }))
        .unwrap();
        let binding: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "b", "namespace": "shop"},
            "subjects": [{"kind": "ServiceAccount", "name": "api"}, {"kind": "Group", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"}
        }))
        .unwrap();
        let cluster: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "c"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"}
        }))
        .unwrap();
        let policy = Policy::new(vec![role], vec![view, extra], vec![binding], vec![cluster]);
        let sa = UserInfo {
            name: "system:serviceaccount:shop:api".into(),
            groups: vec![],
        };
        assert!(policy.allows(&sa, &req("list", "", "pods", "", "shop", "")));
        assert!(!policy.allows(&sa, &req("list", "", "pods", "", "other", "")));
        let dev = UserInfo {
            name: "bob".into(),
            groups: vec!["dev".into()],
        };
        assert!(policy.allows(&dev, &req("get", "", "pods", "", "shop", "web")));
        let alice = UserInfo {
            name: "alice".into(),
            groups: vec![],
        };
        assert!(policy.allows(
            &alice,
            &req("get", "example.com", "widgets", "", "any", "w")
        ));
        assert!(!policy.allows(&alice, &req("get", "", "pods", "", "shop", "w")));
    }

    #[test]
    fn covers_finds_what_a_user_does_not_hold() {
        let owner = vec![rule(
            json!({"apiGroups": [""], "resources": ["pods", "*/log"], "verbs": ["get", "list"]}),
        )];
        let wanted = vec![rule(
            json!({"apiGroups": [""], "resources": ["pods", "pods/log", "secrets"], "verbs": ["get", "delete"]}),
        )];
        let missing: Vec<String> = uncovered(&owner, &wanted).iter().map(compact).collect();
        assert_eq!(
            missing,
            vec![
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}"#,
                r#"{APIGroups:[""], Resources:["pods/log"], Verbs:["delete"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["delete"]}"#,
            ]
        );
        let admin = vec![rule(
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
        )];
        assert!(uncovered(&admin, &wanted).is_empty());
    }
}
