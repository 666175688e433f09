//! Authentication: who a request is from, as kube-apiserver's union of
//! authenticators decides it, tried in its order:
//! 1. x509 client certificates: a certificate the cluster CA signed names
//!    the user in its Common Name and the groups in its Organizations
//!    (`O=system:masters` is the cluster admin). The TLS handshake checks
//!    the signature (`transport.rs`); this module reads the name.
//! 2. Bearer tokens from `--token-auth-file` (kube-apiserver's static token
//!    file: `token,user,uid,"group1,group2"` per line). A token that is
//!    not known is 401 Unauthorized, never anonymous.
//! 3. ServiceAccount tokens (`service_account_token.rs`): a JWT bearer
//!    token signed with the cluster's key whose ServiceAccount (and the
//!    Pod, Secret or Node it is bound to) still exists with the uid it
//!    names is `system:serviceaccount:<ns>:<name>` in
//!    `system:serviceaccounts` and `system:serviceaccounts:<ns>`.
//! 4. Nobody: `system:anonymous` in `system:unauthenticated`, which the
//!    authorizer lets reach only the health and version endpoints.
//!
//! Every authenticated user is also in `system:authenticated`, as in
//! Kubernetes. The plain-HTTP listener (`--insecure-plain-http`, off by
//! default; tests start in-process servers that way) has no way to tell
//! who is calling, so, like kube-apiserver's old insecure port, everything
//! arriving there acts as the cluster admin: it is for loopback debugging
//! only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::service_account_token::{self, Keys, Private};
use crate::store::Store;

/// The identity a request was authenticated as (`user.Info`).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

pub const ANONYMOUS: &str = "system:anonymous";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const AUTHENTICATED: &str = "system:authenticated";
pub const MASTERS: &str = "system:masters";

impl User {
    fn authenticated(name: &str, uid: &str, groups: Vec<String>) -> User {
        let mut groups = groups;
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        User {
            name: name.into(),
            uid: uid.into(),
            groups,
        }
    }

    pub fn anonymous() -> User {
        User {
            name: ANONYMOUS.into(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED.into()],
        }
    }

    /// Who the plain-HTTP listener's callers act as.
    fn insecure_admin() -> User {
        User::authenticated("system:admin", "", vec![MASTERS.into()])
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What the connection a request came on says about its caller; attached
/// to every request by `transport.rs`.
#[derive(Debug, Clone)]
pub enum Peer {
    /// Plain HTTP: cannot authenticate (see the module doc).
    Insecure,
    /// TLS, with the user of the verified client certificate, if one was sent.
    Tls(Option<User>),
}

impl Peer {
    /// The peer of a TLS connection whose client sent `certificate` (DER),
    /// already verified against the client CA by the handshake.
    pub fn from_certificate(certificate: Option<&[u8]>) -> Peer {
        let user = certificate
            .and_then(minik_client::pki::subject_of)
            .map(|(name, groups)| User::authenticated(&name, "", groups));
        Peer::Tls(user)
    }
}

/// The static tokens (`--token-auth-file`) and, once the server has a
/// store, what checks ServiceAccount tokens.
#[derive(Default, Clone)]
pub struct Authenticator {
    tokens: HashMap<String, User>,
    service_accounts: Option<(Arc<Keys>, Arc<dyn Store>)>,
}

/// Never prints the tokens themselves.
impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Authenticator {{ {} static token(s) }}",
            self.tokens.len()
        )
    }
}

impl Authenticator {
    /// Reads a token file: `token,user,uid[,"group1,group2"]` per line.
    pub fn from_token_file(path: &Path) -> Result<Authenticator, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Authenticator::parse_tokens(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse_tokens(text: &str) -> Result<Authenticator, String> {
        let mut tokens = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(format!(
                    "line {}: want token,user,uid[,\"groups\"], got {} field(s)",
                    i + 1,
                    fields.len()
                ));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            tokens.insert(
                fields[0].clone(),
                User::authenticated(&fields[1], &fields[2], groups),
            );
        }
        Ok(Authenticator {
            tokens,
            service_accounts: None,
        })
    }

    /// The same, also accepting ServiceAccount tokens signed by `keys`
    /// whose objects are in `store`.
    pub fn with_service_accounts(&self, keys: Arc<Keys>, store: Arc<dyn Store>) -> Authenticator {
        Authenticator {
            tokens: self.tokens.clone(),
            service_accounts: Some((keys, store)),
        }
    }

    /// The request's user, or 401 for credentials that name nobody.
    fn authenticate(&self, peer: &Peer, req: &Request) -> Result<User, ApiError> {
        match peer {
            Peer::Insecure => Ok(User::insecure_admin()),
            Peer::Tls(Some(user)) => Ok(user.clone()),
            Peer::Tls(None) => match bearer_token(req) {
                Some(token) => self.token_user(token).ok_or_else(ApiError::unauthorized),
                None => Ok(User::anonymous()),
            },
        }
    }

    fn token_user(&self, token: &str) -> Option<User> {
        if let Some(user) = self.tokens.get(token) {
            return Some(user.clone());
        }
        let (keys, store) = self.service_accounts.as_ref()?;
        if !service_account_token::looks_like_jwt(token) {
            return None;
        }
        let private = keys
            .verify(token)
            .map_err(|e| tracing::debug!(error = %e, "service account token refused"))
            .ok()?;
        if let Err(e) = still_bound(&**store, &private) {
            tracing::debug!(error = %e, "service account token refused");
            return None;
        }
        let ns = &private.namespace;
        Some(User::authenticated(
            &format!("system:serviceaccount:{ns}:{}", private.serviceaccount.name),
            &private.serviceaccount.uid,
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
        ))
    }
}

/// A token outlives nothing it names: its ServiceAccount, and the Pod,
/// Secret or Node it is bound to, must exist with the same uid (a pod
/// being deleted still counts, as its containers run until they stop).
fn still_bound(store: &dyn Store, private: &Private) -> Result<(), String> {
    use minik_api::catalogue;
    let ns = private.namespace.as_str();
    let named = [
        ("serviceaccounts", Some(ns), Some(&private.serviceaccount)),
        ("pods", Some(ns), private.pod.as_ref()),
        ("secrets", Some(ns), private.secret.as_ref()),
        // A pod-bound token names the pod's node only for information.
        (
            "nodes",
            None,
            private.node.as_ref().filter(|_| private.pod.is_none()),
        ),
    ];
    for (plural, namespace, object) in named {
        let Some(object) = object else { continue };
        let info = catalogue::lookup("", "v1", plural).expect("core kinds are served");
        let stored = crate::commit::read(store, &info.key(namespace, &object.name))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{plural} {:?} not found", object.name))?;
        if minik_api::meta::meta_str(&stored, "uid") != Some(object.uid.as_str()) {
            return Err(format!("{plural} {:?} has another uid", object.name));
        }
    }
    Ok(())
}

fn bearer_token(req: &Request) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// One CSV line, with double-quoted fields that may hold commas.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().expect("never empty").push(c),
        }
    }
    fields
}

/// Middleware: attaches the caller's [`User`] to the request, or answers 401.
pub async fn authenticate(
    axum::extract::State(authenticator): axum::extract::State<Arc<Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<Peer>()
        .cloned()
        .unwrap_or(Peer::Tls(None));
    match authenticator.authenticate(&peer, &req) {
        Ok(user) => {
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kube_apiservers_token_file_format() {
        let auth = Authenticator::parse_tokens(
            "# comment\nt0k3n,alice,1001,\"dev,ops\"\nother,bob,1002\n",
        )
        .unwrap();
        assert_eq!(
            auth.tokens["t0k3n"],
            User {
                name: "alice".into(),
                uid: "1001".into(),
                groups: vec!["dev".into(), "ops".into(), AUTHENTICATED.into()],
            }
        );
        assert_eq!(auth.tokens["other"].groups, vec![AUTHENTICATED.to_string()]);
        assert!(Authenticator::parse_tokens("only,two\n").is_err());
    }
}
