//! What a failed API call means: client-go's `apierrors.IsNotFound`,
//! `IsConflict`, `IsAlreadyExists`, `IsGone`, … over `kube::Error`.
//!
//! Components decide what to do about an error through these, never by
//! matching codes inline, so the rule for "the object is already gone"
//! lives in one place. The reason-or-code rules are kube-core's own
//! (`Status::is_not_found`, …); this module lifts them to `kube::Error`.

use kube::core::Status;

/// The API server's `Status` for a failed request, if it answered at all.
fn status(e: &kube::Error) -> Option<&Status> {
    match e {
        kube::Error::Api(s) => Some(s),
        _ => None,
    }
}

fn has_code(e: &kube::Error, code: u16) -> bool {
    status(e).is_some_and(|s| s.code == code)
}

/// 404 Not Found: the object (or its namespace) does not exist.
pub fn is_not_found(e: &kube::Error) -> bool {
    status(e).is_some_and(Status::is_not_found)
}

/// 409 Conflict from a write based on an out-of-date object (a stale
/// `resourceVersion` or uid precondition).
pub fn is_conflict(e: &kube::Error) -> bool {
    // kube-apiserver answers both "already exists" and "conflict" with 409;
    // the reason tells them apart.
    status(e).is_some_and(Status::is_conflict)
}

/// 409 AlreadyExists: a create found an object of that name.
pub fn is_already_exists(e: &kube::Error) -> bool {
    status(e).is_some_and(Status::is_already_exists)
}

/// A write that lost a race: the object changed (any 409) or went away
/// (404) meanwhile. Level-triggered callers drop such a write: the watch
/// brings the new state, which decides what to do next.
pub fn is_superseded(e: &kube::Error) -> bool {
    has_code(e, 404) || has_code(e, 409)
}

/// 410 Gone: a watch or list continued from a `resourceVersion` the API
/// server no longer remembers; the caller must relist.
pub fn is_gone(e: &kube::Error) -> bool {
    has_code(e, 410)
}

/// Worth trying again later: the API server could not be reached or the
/// connection broke (a transport error), or it answered 429 Too Many
/// Requests or a 5xx (client-go's `IsTooManyRequests`, `IsServerTimeout`,
/// `IsInternalError`, …). Any other answer — 401, 403, 422 — is final for
/// that request: trying it again would get the same.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// 403 Forbidden because the namespace is being deleted: new objects are
/// refused there until it is gone.
pub fn is_namespace_terminating(e: &kube::Error) -> bool {
    has_cause(e, "NamespaceTerminating")
        || status(e).is_some_and(|s| s.code == 403 && s.message.contains("being terminated"))
}

/// The `Status` lists `cause` among its details' causes.
pub fn has_cause(e: &kube::Error, cause: &str) -> bool {
    status(e).is_some_and(|s| {
        s.details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == cause))
    })
}

/// The API server's message for a failed request (what client-go's
/// `err.Error()` prints), or the transport error.
pub fn message(e: &kube::Error) -> String {
    match status(e) {
        Some(s) if !s.message.is_empty() => s.message.clone(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: format!("{reason} message"),
            ..Default::default()
        }))
    }

    #[test]
    fn classifies_by_code_and_reason() {
        assert!(is_not_found(&api(404, "NotFound")));
        assert!(is_conflict(&api(409, "Conflict")));
        assert!(!is_conflict(&api(409, "AlreadyExists")));
        assert!(is_already_exists(&api(409, "AlreadyExists")));
        assert!(is_superseded(&api(409, "AlreadyExists")));
        assert!(is_superseded(&api(404, "NotFound")));
        assert!(is_gone(&api(410, "Expired")));
        assert_eq!(message(&api(404, "NotFound")), "NotFound message");
    }

    #[test]
    fn transient_is_unreachable_throttled_or_a_server_error() {
        let unreachable = kube::Error::Service("connection refused".into());
        assert!(is_transient(&unreachable));
        assert!(is_transient(&api(429, "TooManyRequests")));
        assert!(is_transient(&api(500, "InternalError")));
        assert!(is_transient(&api(503, "ServiceUnavailable")));
        assert!(!is_transient(&api(403, "Forbidden")));
        assert!(!is_transient(&api(422, "Invalid")));
        assert!(!is_transient(&api(401, "Unauthorized")));
    }
}
