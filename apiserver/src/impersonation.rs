//! Impersonation (`kubectl --as=… --as-group=…`): the `Impersonate-User`,
//! `Impersonate-Group` and `Impersonate-Uid` headers make a request act as
//! someone else, if the authenticated user may `impersonate` them — users,
//! groups, `serviceaccounts` (in their namespace) and `uids`, as
//! kube-apiserver's impersonation filter checks. The request then carries
//! the impersonated [`User`] on to authorization.
//!
//! A ServiceAccount is impersonated by its user name
//! (`system:serviceaccount:<namespace>:<name>`) and gets its groups
//! (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`) unless
//! groups are given; every impersonated user but `system:anonymous` is in
//! `system:authenticated`.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::authentication::{User, ANONYMOUS, AUTHENTICATED, UNAUTHENTICATED};
use crate::authorization::{Attributes, Authorizer};
use crate::error::ApiError;

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";

/// What the impersonate check is for: `impersonate` on `resource` `name`.
fn attributes(resource: &str, namespace: &str, name: &str) -> Attributes {
    Attributes {
        verb: "impersonate".into(),
        resource_request: true,
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..Attributes::default()
    }
}

/// The impersonated user the headers ask for, if the caller may act as it.
fn impersonate(
    authorizer: &Authorizer,
    caller: &User,
    req: &Request,
) -> Result<Option<User>, ApiError> {
    let headers = req.headers();
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let (users, groups, uids) = (values(USER), values(GROUP), values(UID));
    if users.is_empty() {
        if !groups.is_empty() || !uids.is_empty() {
            return Err(ApiError::new(
                500,
                "InternalError",
                "Internal error occurred: requested [{Kind: Group}] without impersonating a user",
            ));
        }
        return Ok(None);
    }
    let name = users[0].clone();
    let mut checks = Vec::new();
    let service_account = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    match service_account {
        Some((ns, sa)) => checks.push(attributes("serviceaccounts", ns, sa)),
        None => {
            let mut user = attributes("users", "", &name);
            user.api_group = String::new();
            checks.push(user);
        }
    }
    for g in &groups {
        checks.push(attributes("groups", "", g));
    }
    for u in &uids {
        let mut uid = attributes("uids", "", u);
        uid.api_group = "authentication.k8s.io".into();
        checks.push(uid);
    }
    for check in &checks {
        if !authorizer.allows(caller, check) {
            return Err(crate::authorization::forbidden(check, &caller.name));
        }
    }
    let mut impersonated_groups = groups;
    if impersonated_groups.is_empty() {
        if let Some((ns, _)) = service_account {
            impersonated_groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ];
        }
    }
    if name == ANONYMOUS {
        if !impersonated_groups.iter().any(|g| g == UNAUTHENTICATED) {
            impersonated_groups.push(UNAUTHENTICATED.into());
        }
    } else if !impersonated_groups.iter().any(|g| g == AUTHENTICATED) {
        impersonated_groups.push(AUTHENTICATED.into());
    }
    Ok(Some(User {
        name,
        uid: uids.into_iter().next().unwrap_or_default(),
        groups: impersonated_groups,
    }))
}

/// Middleware: replaces the authenticated user with the impersonated one.
pub async fn middleware(
    axum::extract::State(authorizer): axum::extract::State<Arc<Authorizer>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(caller) = req.extensions().get::<User>().cloned() else {
        return ApiError::unauthorized().into_response();
    };
    match impersonate(&authorizer, &caller, &req) {
        Ok(Some(user)) => {
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        Ok(None) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
