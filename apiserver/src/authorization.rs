//! Authorization: may this user do this? Each request is first described
//! as kube-apiserver's `RequestInfo` describes it ([`Attributes`]: a
//! resource request's verb, API group, resource, subresource, namespace and
//! name, or a non-resource request's verb and path), then decided.
//!
//! The decision today is the first step towards RBAC: `system:anonymous`
//! may only `get` the public health and version paths (what Kubernetes'
//! `system:public-info-viewer` role grants to everyone); every
//! authenticated user may do everything (kube-apiserver's `AlwaysAllow`
//! mode). A refusal is 403 in kube-apiserver's words: `pods is forbidden:
//! User "system:anonymous" cannot list resource "pods" in API group "" in
//! the namespace "default"`.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::authentication::{User, UNAUTHENTICATED};
use crate::error::ApiError;

/// What a request asks to do (`authorizer.Attributes`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes {
    pub verb: String,
    pub resource_request: bool,
    /// Non-resource requests: the path.
    pub path: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

/// Verbs that come first in a path (`/api/v1/watch/pods`).
const SPECIAL_VERBS: [&str; 2] = ["proxy", "watch"];
/// What may follow `namespaces/<name>/` and still be the namespace's own.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];
/// Paths anyone may `get` (`system:public-info-viewer`).
const PUBLIC_PATHS: [&str; 5] = ["/healthz", "/livez", "/readyz", "/version", "/version/"];

impl Attributes {
    /// `RequestInfoFactory.NewRequestInfo`, for the API prefixes minik serves.
    pub fn of(method: &http::Method, path: &str, query: Option<&str>) -> Attributes {
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
        }
        if by_method && attrs.name.is_empty() && attrs.verb == "delete" {
            attrs.verb = "deletecollection".into();
        }
        attrs
    }

    /// `forbiddenMessage`: what the user cannot do, in kube-apiserver's words.
    fn forbidden_message(&self, user: &str) -> String {
        if !self.resource_request {
            return format!("User {user:?} cannot {} path {:?}", self.verb, self.path);
        }
        let resource = match self.subresource.as_str() {
            "" => self.resource.clone(),
            sub => format!("{}/{sub}", self.resource),
        };
        let scope = match self.namespace.as_str() {
            "" => "at the cluster scope".to_string(),
            ns => format!("in the namespace {ns:?}"),
        };
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}",
            self.verb, self.api_group
        )
    }

    /// `responsewriters.Forbidden`: 403 with the group-qualified resource and name.
    pub fn forbidden(&self, user: &str) -> ApiError {
        let why = self.forbidden_message(user);
        if !self.resource_request {
            return ApiError::forbidden(format!("forbidden: {why}"));
        }
        let qualified = match self.api_group.as_str() {
            "" => self.resource.clone(),
            group => format!("{}.{group}", self.resource),
        };
        let message = match self.name.as_str() {
            "" => format!("{qualified} is forbidden: {why}"),
            name => format!("{qualified} {name:?} is forbidden: {why}"),
        };
        let mut err = ApiError::forbidden(message);
        let mut details = json!({"kind": self.resource});
        if !self.api_group.is_empty() {
            details["group"] = json!(self.api_group);
        }
        if !self.name.is_empty() {
            details["name"] = json!(self.name);
        }
        err.details = Some(details);
        err
    }
}

/// Whether `user` may do what `attrs` describes (see the module doc).
pub fn allowed(user: &User, attrs: &Attributes) -> bool {
    if user.in_group(UNAUTHENTICATED) {
        return !attrs.resource_request
            && attrs.verb == "get"
            && PUBLIC_PATHS.contains(&attrs.path.as_str());
    }
    true
}

/// Middleware: refuses what the authenticated user may not do.
pub async fn authorize(req: Request, next: Next) -> Response {
    let Some(user) = req.extensions().get::<User>().cloned() else {
        return ApiError::unauthorized().into_response();
    };
    let attrs = Attributes::of(req.method(), req.uri().path(), req.uri().query());
    if allowed(&user, &attrs) {
        next.run(req).await
    } else {
        attrs.forbidden(&user.name).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn of(method: Method, path: &str, query: Option<&str>) -> Attributes {
        Attributes::of(&method, path, query)
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
    }

    #[test]
    fn refusals_read_like_kube_apiservers() {
        let a = of(Method::GET, "/api/v1/namespaces/default/pods", None);
        assert_eq!(
            a.forbidden("system:anonymous").message,
            "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let a = of(
            Method::GET,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
            None,
        );
        assert_eq!(
            a.forbidden("bob").message,
            "clusterroles.rbac.authorization.k8s.io \"admin\" is forbidden: User \"bob\" cannot get resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
        );
        let a = of(Method::GET, "/api", None);
        assert_eq!(
            a.forbidden("system:anonymous").message,
            "forbidden: User \"system:anonymous\" cannot get path \"/api\""
        );
        let anonymous = User::anonymous();
        assert!(allowed(&anonymous, &of(Method::GET, "/healthz", None)));
        assert!(!allowed(&anonymous, &of(Method::GET, "/api", None)));
    }
}
