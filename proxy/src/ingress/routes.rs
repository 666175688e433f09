//! The Ingress routing table: host and path → backend service port.
//!
//! Built, as a pure function, from every Ingress this controller serves,
//! following the networking.k8s.io/v1 rules with ingress-nginx's
//! precedence (it turns each host into an nginx `server` and each path
//! into a `location`):
//! 1. Host: an exact host beats a wildcard (`*.example.com` matches one
//!    label only); rules without a host serve requests whose host matches
//!    no rule. Hosts are not merged: once a host is chosen, only its paths count.
//! 2. Path: `Exact` beats `Prefix`; the longest `Prefix` wins; `Prefix`
//!    matches whole path elements (`/foo` matches `/foo` and `/foo/bar`,
//!    not `/foobar`); `ImplementationSpecific` is treated as `Prefix`.
//! 3. Nothing matched: the `defaultBackend` (of the oldest Ingress that
//!    has one), else 404.
//!    When two Ingresses define the same host and path, the older wins.
//!
//! `nginx.ingress.kubernetes.io/rewrite-target` is honoured for literal
//! targets: the matched prefix is replaced (`/users` → `/` sends
//! `/users/42` to `/42`), as ingress-nginx did before capture groups.

use std::collections::HashMap;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

/// The annotation that rewrites the matched path.
pub const REWRITE_TARGET: &str = "nginx.ingress.kubernetes.io/rewrite-target";

/// A service port referenced by an Ingress backend.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackendPort {
    Number(i32),
    Name(String),
}

/// Where a matched request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub service: String,
    pub port: BackendPort,
    /// The rewrite target, if the Ingress asks for one.
    pub rewrite: Option<String>,
}

/// A routing decision: the target and the path to send upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub target: Target,
    pub path: String,
}

#[derive(Default, Debug)]
struct Server {
    exact: HashMap<String, Target>,
    /// (normalized prefix, target), longest first.
    prefixes: Vec<(String, Target)>,
}

/// All routes of the Ingresses this controller serves.
#[derive(Default, Debug)]
pub struct RouteTable {
    hosts: HashMap<String, Server>,
    /// (suffix such as `.example.com`, server), longest suffix first.
    wildcards: Vec<(String, Server)>,
    any_host: Server,
    default_backend: Option<Target>,
}

impl RouteTable {
    /// Builds the table; `ingresses` must be oldest first (older rules win).
    pub fn build(ingresses: &[&Ingress]) -> RouteTable {
        let mut table = RouteTable::default();
        for ing in ingresses {
            let Some(ns) = ing.metadata.namespace.as_deref() else {
                continue;
            };
            let Some(spec) = &ing.spec else { continue };
            let rewrite = ing
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REWRITE_TARGET))
                .filter(|t| literal_rewrite(t))
                .cloned();
            if table.default_backend.is_none() {
                table.default_backend = spec
                    .default_backend
                    .as_ref()
                    .and_then(|b| target(ns, b, None));
            }
            for rule in spec.rules.iter().flatten() {
                let host = rule.host.as_deref().unwrap_or("").to_ascii_lowercase();
                let server = if host.is_empty() {
                    &mut table.any_host
                } else if let Some(suffix) = host.strip_prefix('*') {
                    match table.wildcards.iter_mut().position(|(s, _)| s == suffix) {
                        Some(i) => &mut table.wildcards[i].1,
                        None => {
                            table
                                .wildcards
                                .push((suffix.to_string(), Server::default()));
                            &mut table.wildcards.last_mut().expect("just pushed").1
                        }
                    }
                } else {
                    table.hosts.entry(host).or_default()
                };
                for path in rule.http.iter().flat_map(|h| &h.paths) {
                    let Some(t) = target(ns, &path.backend, rewrite.clone()) else {
                        continue;
                    };
                    let p = path.path.as_deref().unwrap_or("/");
                    if path.path_type == "Exact" {
                        server.exact.entry(p.to_string()).or_insert(t);
                    } else {
                        let prefix = normalize_prefix(p);
                        if !server.prefixes.iter().any(|(q, _)| *q == prefix) {
                            server.prefixes.push((prefix, t));
                        }
                    }
                }
            }
        }
        let servers = table
            .hosts
            .values_mut()
            .chain(table.wildcards.iter_mut().map(|(_, s)| s))
            .chain(std::iter::once(&mut table.any_host));
        for server in servers {
            server
                .prefixes
                .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        }
        table
            .wildcards
            .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        table
    }

    /// Every target the table can route to.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        let servers = self
            .hosts
            .values()
            .chain(self.wildcards.iter().map(|(_, s)| s))
            .chain(std::iter::once(&self.any_host));
        servers
            .flat_map(|s| s.exact.values().chain(s.prefixes.iter().map(|(_, t)| t)))
            .chain(self.default_backend.as_ref())
    }

    /// Routes a request for `host` (port already stripped) and `path`.
    pub fn route(&self, host: &str, path: &str) -> Option<Route> {
        let host = host.to_ascii_lowercase();
        let server = self
            .hosts
            .get(&host)
            .or_else(|| {
                self.wildcards.iter().find_map(|(suffix, server)| {
                    let label = host.strip_suffix(suffix.as_str())?;
                    (!label.is_empty() && !label.contains('.')).then_some(server)
                })
            })
            .unwrap_or(&self.any_host);
        if let Some(t) = server.exact.get(path) {
            let path = t.rewrite.clone().unwrap_or_else(|| path.to_string());
            return Some(Route {
                target: t.clone(),
                path,
            });
        }
        for (prefix, t) in &server.prefixes {
            if let Some(rest) = prefix_match(prefix, path) {
                let path = match &t.rewrite {
                    Some(to) => join(to, rest),
                    None => path.to_string(),
                };
                return Some(Route {
                    target: t.clone(),
                    path,
                });
            }
        }
        self.default_backend.as_ref().map(|t| Route {
            target: t.clone(),
            path: path.to_string(),
        })
    }
}

/// Whether a rewrite target is literal (capture groups need regex paths,
/// which minik does not implement).
pub fn literal_rewrite(target: &str) -> bool {
    target.starts_with('/') && !target.contains('$')
}

fn target(ns: &str, backend: &IngressBackend, rewrite: Option<String>) -> Option<Target> {
    let svc = backend.service.as_ref()?;
    let port = svc.port.as_ref()?;
    let port = match (port.number, &port.name) {
        (Some(n), _) if n > 0 => BackendPort::Number(n),
        (_, Some(name)) if !name.is_empty() => BackendPort::Name(name.clone()),
        _ => return None,
    };
    Some(Target {
        namespace: ns.to_string(),
        service: svc.name.clone(),
        port,
        rewrite,
    })
}

/// `/foo/` → `/foo`; `/` stays `/`.
fn normalize_prefix(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// If `prefix` matches `path` element-wise, the rest of the path after it.
fn prefix_match<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The rewrite target followed by what came after the matched prefix.
fn join(to: &str, rest: &str) -> String {
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        to.to_string()
    } else if to.ends_with('/') {
        format!("{to}{rest}")
    } else {
        format!("{to}/{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ing(v: serde_json::Value) -> Ingress {
        serde_json::from_value(v).unwrap()
    }

    fn path(p: &str, ty: &str, svc: &str) -> serde_json::Value {
        json!({"path": p, "pathType": ty, "backend": {"service": {"name": svc, "port": {"number": 80}}}})
    }

    fn svc_of(table: &RouteTable, host: &str, p: &str) -> Option<String> {
        table.route(host, p).map(|r| r.target.service)
    }

    #[test]
    fn ingress_nginx_precedence() {
        let a = ing(json!({
            "metadata": {"name": "a", "namespace": "default"},
            "spec": {"rules": [
                {"host": "shop.test", "http": {"paths": [
                    path("/", "Prefix", "front"),
                    path("/api", "Prefix", "api"),
                    path("/api/users", "ImplementationSpecific", "users"),
                    path("/api/exact", "Exact", "exact"),
                ]}},
                {"host": "*.shop.test", "http": {"paths": [path("/", "Prefix", "wild")]}},
                {"http": {"paths": [path("/any", "Prefix", "anyhost")]}},
            ]}
        }));
        let t = RouteTable::build(&[&a]);
        assert_eq!(svc_of(&t, "shop.test", "/"), Some("front".into()));
        assert_eq!(svc_of(&t, "SHOP.test", "/api"), Some("api".into()));
        assert_eq!(svc_of(&t, "shop.test", "/api/"), Some("api".into()));
        assert_eq!(svc_of(&t, "shop.test", "/apiary"), Some("front".into()));
        assert_eq!(
            svc_of(&t, "shop.test", "/api/users/7"),
            Some("users".into())
        );
        assert_eq!(svc_of(&t, "shop.test", "/api/exact"), Some("exact".into()));
        assert_eq!(svc_of(&t, "shop.test", "/api/exact/1"), Some("api".into()));
        assert_eq!(svc_of(&t, "eu.shop.test", "/x"), Some("wild".into()));
        // A wildcard matches exactly one label.
        assert_eq!(svc_of(&t, "a.eu.shop.test", "/any"), Some("anyhost".into()));
        assert_eq!(svc_of(&t, "other.test", "/any/1"), Some("anyhost".into()));
        assert_eq!(
            svc_of(&t, "other.test", "/"),
            None,
            "404 without a default backend"
        );
        // A matched host does not fall back to host-less rules.
        assert_eq!(svc_of(&t, "eu.shop.test", "/any"), Some("wild".into()));
    }

    #[test]
    fn default_backend_and_older_ingress_win() {
        let old = ing(json!({
            "metadata": {"name": "old", "namespace": "default"},
            "spec": {"defaultBackend": {"service": {"name": "fallback", "port": {"name": "http"}}},
                "rules": [{"host": "a.test", "http": {"paths": [path("/", "Prefix", "old")]}}]}
        }));
        let new = ing(json!({
            "metadata": {"name": "new", "namespace": "default"},
            "spec": {"rules": [{"host": "a.test", "http": {"paths": [path("/", "Prefix", "new")]}}]}
        }));
        let t = RouteTable::build(&[&old, &new]);
        assert_eq!(svc_of(&t, "a.test", "/x"), Some("old".into()));
        let r = t.route("b.test", "/x").unwrap();
        assert_eq!(r.target.service, "fallback");
        assert_eq!(r.target.port, BackendPort::Name("http".into()));
    }

    #[test]
    fn rewrite_target_replaces_the_matched_prefix() {
        let a = ing(json!({
            "metadata": {"name": "a", "namespace": "default",
                "annotations": {REWRITE_TARGET: "/"}},
            "spec": {"rules": [{"http": {"paths": [path("/users", "Prefix", "users")]}}]}
        }));
        let t = RouteTable::build(&[&a]);
        assert_eq!(t.route("x", "/users/123").unwrap().path, "/123");
        assert_eq!(t.route("x", "/users").unwrap().path, "/");
        assert_eq!(t.route("x", "/users/").unwrap().path, "/");
        assert!(t.route("x", "/usersx").is_none());
        assert_eq!(join("/v2", "/a/b"), "/v2/a/b");
        assert!(!literal_rewrite("/$2"));
    }
}
