//! Authorization: may this user do this? Each request is first described
//! as kube-apiserver's `RequestInfo` describes it ([`attributes`]: a
//! resource request's verb, API group, resource, subresource, namespace and
//! name, or a non-resource request's verb and path), then decided.
//!
//! The decision is kube-apiserver's `--authorization-mode=RBAC`: members
//! of `system:masters` may do anything (its privileged group); everyone
//! else what the Roles and ClusterRoles bound to them allow
//! (`minik_api::rbac`). The policy — every role and binding — is held in
//! memory and rebuilt from the store when one of them changes (the hub
//! counts changes under the RBAC prefix), so a decision reads no store.
//! The bootstrap roles (`bootstrap_policy.rs`) give anonymous callers the
//! health and version paths and every authenticated user discovery.
//! A refusal is 403 in kube-apiserver's words: `pods is forbidden: User
//! "system:anonymous" cannot list resource "pods" in API group "" in the
//! namespace "default"`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::rbac::v1::PolicyRule;
use minik_api::catalogue;
use minik_api::kinds::Grant;
use minik_api::rbac::{Policy, UserInfo};
use serde_json::json;

use crate::authentication::{User, MASTERS};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::node_authorizer::{node_of, Decision, NodeGraph};
use crate::store::Store;

/// What a request asks to do (`authorizer.Attributes`): the request RBAC
/// evaluates.
pub use minik_api::rbac::Request as Attributes;

/// Verbs that come first in a path (`/api/v1/watch/pods`).
const SPECIAL_VERBS: [&str; 2] = ["proxy", "watch"];
/// What may follow `namespaces/<name>/` and still be the namespace's own.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];
/// Where RBAC's objects are stored (every key of the group).
const RBAC_PREFIX: &str = "/registry/rbac.authorization.k8s.io/";

/// `RequestInfoFactory.NewRequestInfo`, for the API prefixes minik serves.
pub fn attributes(method: &http::Method, path: &str, query: Option<&str>) -> Attributes {
    let non_resource = || Attributes {
        verb: method.as_str().to_lowercase(),
        path: path.to_string(),
        ..Attributes::default()
    };
    let mut parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() < 3 {
        return non_resource();
    }
    let mut attrs = Attributes {
        resource_request: true,
        path: path.to_string(),
        ..Attributes::default()
    };
    match parts[0] {
        "api" => parts.drain(..1),
        "apis" if parts.len() >= 4 => {
            attrs.api_group = parts[1].to_string();
            parts.drain(..2)
        }
        _ => return non_resource(),
    };
    parts.remove(0); // the version
    let by_method = if SPECIAL_VERBS.contains(&parts[0]) {
        if parts.len() < 2 {
            return non_resource();
        }
        attrs.verb = parts.remove(0).to_string();
        false
    } else {
        attrs.verb = match *method {
            http::Method::POST => "create",
            http::Method::GET | http::Method::HEAD => "get",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE => "delete",
            _ => "",
        }
        .to_string();
        true
    };
    if parts[0] == "namespaces" {
        if let Some(ns) = parts.get(1) {
            attrs.namespace = ns.to_string();
            if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
                parts.drain(..2);
            }
        }
    }
    if parts.len() >= 3 && attrs.verb != "proxy" {
        attrs.subresource = parts[2].to_string();
    }
    if parts.len() >= 2 {
        attrs.name = parts[1].to_string();
    }
    attrs.resource = parts[0].to_string();
    let params = crate::request::Params::parse(query);
    if by_method && attrs.name.is_empty() && attrs.verb == "get" {
        attrs.verb = if params.flag("watch") {
            "watch"
        } else {
            "list"
        }
        .into();
        // A list or watch of one object by name is about that object
        // (`RequiresExactMatch("metadata.name")`), so resourceNames and the
        // Node authorizer can judge it.
        if let Some(name) = params.get("fieldSelector").and_then(exact_name) {
            attrs.name = name;
        }
    }
    if by_method && attrs.name.is_empty() && attrs.verb == "delete" {
        attrs.verb = "deletecollection".into();
    }
    attrs
}

/// The name a field selector requires (`metadata.name=x` or `==x`), if it
/// is the selector's only requirement on `metadata.name` and a valid path
/// segment.
fn exact_name(selector: &str) -> Option<String> {
    let mut names = selector.split(',').filter_map(|term| {
        let term = term.trim();
        term.strip_prefix("metadata.name==")
            .or_else(|| term.strip_prefix("metadata.name="))
    });
    let name = names.next()?;
    let valid = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%']);
    (names.next().is_none() && valid).then(|| name.to_string())
}

/// `forbiddenMessage`: what the user cannot do, in kube-apiserver's words.
fn forbidden_message(attrs: &Attributes, user: &str) -> String {
    if !attrs.resource_request {
        return format!("User {user:?} cannot {} path {:?}", attrs.verb, attrs.path);
    }
    let resource = match attrs.subresource.as_str() {
        "" => attrs.resource.clone(),
        sub => format!("{}/{sub}", attrs.resource),
    };
    let scope = match attrs.namespace.as_str() {
        "" => "at the cluster scope".to_string(),
        ns => format!("in the namespace {ns:?}"),
    };
    format!(
        "User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}",
        attrs.verb, attrs.api_group
    )
}

/// `responsewriters.Forbidden`: 403 with the group-qualified resource and name.
pub fn forbidden(attrs: &Attributes, user: &str) -> ApiError {
    refused(attrs, forbidden_message(attrs, user))
}

/// A refusal with the authorizer's reason appended, or (`restricted`) in
/// the words of an admission plugin.
fn forbidden_because(attrs: &Attributes, user: &str, decision: &Decision) -> ApiError {
    match decision {
        Decision::Deny(reason) => refused(
            attrs,
            format!("{}: {reason}", forbidden_message(attrs, user)),
        ),
        Decision::Restricted(reason) => refused(attrs, reason.clone()),
        _ => forbidden(attrs, user),
    }
}

fn refused(attrs: &Attributes, why: String) -> ApiError {
    if !attrs.resource_request {
        return ApiError::forbidden(format!("forbidden: {why}"));
    }
    let qualified = match attrs.api_group.as_str() {
        "" => attrs.resource.clone(),
        group => format!("{}.{group}", attrs.resource),
    };
    let message = match attrs.name.as_str() {
        "" => format!("{qualified} is forbidden: {why}"),
        name => format!("{qualified} {name:?} is forbidden: {why}"),
    };
    let mut err = ApiError::forbidden(message);
    let mut details = json!({"kind": attrs.resource});
    if !attrs.api_group.is_empty() {
        details["group"] = json!(attrs.api_group);
    }
    if !attrs.name.is_empty() {
        details["name"] = json!(attrs.name);
    }
    err.details = Some(details);
    err
}

/// The RBAC authorizer over an in-memory copy of the policy.
pub struct Authorizer {
    store: Arc<dyn Store>,
    /// The Node authorizer's graph, asked first for kubelets.
    nodes: Arc<NodeGraph>,
    /// Bumped by the hub whenever a role or binding changes.
    generation: Arc<AtomicU64>,
    cached: RwLock<Option<(u64, Arc<Policy>)>>,
}

impl Authorizer {
    /// Needs a runtime: the Node authorizer follows the hub in a task.
    pub fn new(store: Arc<dyn Store>, hub: &Arc<Hub>) -> Authorizer {
        Authorizer {
            nodes: NodeGraph::start(store.clone(), hub),
            store,
            generation: hub.generation(RBAC_PREFIX),
            cached: RwLock::new(None),
        }
    }

    /// The current policy, rebuilt if a role or binding changed since.
    pub fn policy(&self) -> Arc<Policy> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, policy)) = &*self.cached.read().unwrap() {
            if *g == generation {
                return policy.clone();
            }
        }
        let policy = Arc::new(self.load());
        *self.cached.write().unwrap() = Some((generation, policy.clone()));
        policy
    }

    fn load(&self) -> Policy {
        fn all<T: serde::de::DeserializeOwned>(store: &dyn Store, plural: &str) -> Vec<T> {
            let info = catalogue::lookup("rbac.authorization.k8s.io", "v1", plural)
                .expect("RBAC is served");
            let mut out = Vec::new();
            let scanned = store.scan(&info.key_prefix(), None, &mut |_, bytes| {
                if let Ok(v) = serde_json::from_slice(bytes) {
                    out.push(v);
                }
                true
            });
            if let Err(e) = scanned {
                tracing::error!(error = %e, plural, "reading the RBAC policy");
            }
            out
        }
        let store = &*self.store;
        Policy::new(
            all(store, "roles"),
            all(store, "clusterroles"),
            all(store, "rolebindings"),
            all(store, "clusterrolebindings"),
        )
    }

    /// Whether `user` may do what `attrs` describes.
    pub fn allows(&self, user: &User, attrs: &Attributes) -> bool {
        self.decide(user, attrs) == Decision::Allow
    }

    /// `system:masters`, then the Node authorizer, then RBAC (kube-apiserver's
    /// `--authorization-mode=Node,RBAC`): allowed, or refused and why.
    fn decide(&self, user: &User, attrs: &Attributes) -> Decision {
        if user.in_group(MASTERS) {
            return Decision::Allow;
        }
        match self.nodes.decide(user, attrs) {
            Decision::NoOpinion if self.policy().allows(&user_info(user), attrs) => Decision::Allow,
            Decision::NoOpinion => Decision::Deny(String::new()),
            decided => decided,
        }
    }

    /// The rules that apply to `user` in `namespace` (all of them for a
    /// member of `system:masters`).
    pub fn rules_for(&self, user: &User, namespace: &str) -> Vec<PolicyRule> {
        if user.in_group(MASTERS) {
            return serde_json::from_value(json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ]))
            .expect("valid rules");
        }
        self.policy().rules_for(&user_info(user), namespace)
    }
}

/// RBAC's escalation prevention, for a Role, ClusterRole or binding about
/// to be stored: a user may grant only what they hold, unless they may
/// `escalate` (roles) or `bind` (the role a binding names), or are in
/// `system:masters`.
pub fn confirm_no_escalation(
    authorizer: &Authorizer,
    user: &User,
    info: &catalogue::ResourceInfo,
    obj: &serde_json::Value,
) -> Result<(), ApiError> {
    let Some(grant) = info.strategy.grants(obj) else {
        return Ok(());
    };
    if user.in_group(MASTERS) {
        return Ok(());
    }
    let name = minik_api::meta::name(obj);
    let allowed = |verb: &str, resource: &str, namespace: &str, name: &str| {
        let attrs = Attributes {
            verb: verb.into(),
            resource_request: true,
            api_group: "rbac.authorization.k8s.io".into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Attributes::default()
        };
        authorizer.allows(user, &attrs)
    };
    let (namespace, rules) = match grant {
        Grant::Rules { namespace, rules } => {
            if allowed("escalate", info.plural, &namespace, name) {
                return Ok(());
            }
            (namespace, rules)
        }
        Grant::Role {
            namespace,
            kind,
            name: role,
            resource,
        } => {
            if allowed("bind", resource, &namespace, &role) {
                return Ok(());
            }
            let policy = authorizer.policy();
            let Some(rules) = policy.role_rules(&kind, &role, &namespace) else {
                let role_info = catalogue::lookup("rbac.authorization.k8s.io", "v1", resource)
                    .expect("RBAC is served");
                return Err(ApiError::not_found(role_info, &role));
            };
            (namespace, rules.to_vec())
        }
    };
    let missing = minik_api::rbac::uncovered(&authorizer.rules_for(user, &namespace), &rules);
    if missing.is_empty() {
        return Ok(());
    }
    let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
    let held: Vec<String> = missing.iter().map(minik_api::rbac::compact).collect();
    Err(ApiError::forbidden_object(
        info,
        name,
        &format!(
            "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            groups.join(" "),
            held.join("\n")
        ),
    ))
}

pub fn user_info(user: &User) -> UserInfo {
    UserInfo {
        name: user.name.clone(),
        groups: user.groups.clone(),
    }
}

/// Middleware: refuses what the authenticated user may not do.
pub async fn authorize(
    axum::extract::State(authorizer): axum::extract::State<Arc<Authorizer>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(user) = req.extensions().get::<User>().cloned() else {
        return ApiError::unauthorized().into_response();
    };
    let attrs = attributes(req.method(), req.uri().path(), req.uri().query());
    let mut decision = authorizer.decide(&user, &attrs);
    if decision != Decision::Allow && node_of(&user).is_some() {
        // The kubelet may know of its new pod before the graph does.
        authorizer.nodes.catch_up().await;
        decision = authorizer.decide(&user, &attrs);
    }
    let allowed = decision == Decision::Allow;
    // What each identity does, for writing least-privilege roles
    // (`RUST_LOG=minik_apiserver::authorization=debug`).
    tracing::debug!(
        user = %user.name,
        verb = %attrs.verb,
        group = %attrs.api_group,
        resource = %attrs.resource,
        subresource = %attrs.subresource,
        namespace = %attrs.namespace,
        path = %attrs.path,
        allowed,
        "authorize"
    );
    match decision {
        Decision::Allow => next.run(req).await,
        Decision::Deny(reason) if reason.is_empty() => {
            forbidden(&attrs, &user.name).into_response()
        }
        refusal => forbidden_because(&attrs, &user.name, &refusal).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn of(method: Method, path: &str, query: Option<&str>) -> Attributes {
        attributes(&method, path, query)
    }

    #[test]
    fn describes_requests_as_request_info_does() {
        let a = of(Method::GET, "/api/v1/namespaces/default/pods", None);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.namespace.as_str(),
                a.name.as_str()
            ),
            ("list", "pods", "default", "")
        );
        let a = of(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            Some("watch=1"),
        );
        assert_eq!(a.verb, "watch");
        let a = of(
            Method::GET,
            "/api/v1/watch/namespaces/default/pods/web",
            None,
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "web"));
        let a = of(
            Method::POST,
            "/api/v1/namespaces/default/pods/web/exec",
            None,
        );
        assert_eq!(
            (a.verb.as_str(), a.subresource.as_str()),
            ("create", "exec")
        );
        let a = of(
            Method::DELETE,
            "/apis/apps/v1/namespaces/x/deployments",
            None,
        );
        assert_eq!(
            (a.verb.as_str(), a.api_group.as_str()),
            ("deletecollection", "apps")
        );
        let a = of(Method::PUT, "/api/v1/namespaces/x/finalize", None);
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.subresource.as_str()),
            ("namespaces", "x", "finalize")
        );
        let a = of(Method::GET, "/apis/apps/v1", None);
        assert!(!a.resource_request);
        let a = of(
            Method::GET,
            "/api/v1/namespaces/x/secrets",
            Some("fieldSelector=metadata.name%3Ddb&watch=true"),
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "db"));
        let a = of(
            Method::GET,
            "/api/v1/namespaces/x/secrets",
            Some("fieldSelector=metadata.name!%3Ddb"),
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("list", ""));
    }

    #[test]
    fn refusals_read_like_kube_apiservers() {
        let a = of(Method::GET, "/api/v1/namespaces/default/pods", None);
        assert_eq!(
            forbidden(&a, "system:anonymous").message,
            "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let a = of(
            Method::GET,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
            None,
        );
        assert_eq!(
            forbidden(&a, "bob").message,
            "clusterroles.rbac.authorization.k8s.io \"admin\" is forbidden: User \"bob\" cannot get resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
        );
        let a = of(Method::GET, "/api", None);
        assert_eq!(
            forbidden(&a, "system:anonymous").message,
            "forbidden: User \"system:anonymous\" cannot get path \"/api\""
        );
    }
}
