//! `ApiError`: every failure a handler can return, rendered as a Kubernetes
//! `Status` object with the HTTP code and `reason` kube-apiserver would use.
//!
//! Handlers return `Result<_, ApiError>`; this is the one place that decides
//! status codes and message wording (`pods "web" not found`, …).

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use minik_api::{FieldError, ResourceInfo};
use serde_json::{json, Value};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, info: &ResourceInfo, name: &str) -> Self {
        let mut d = json!({"name": name, "kind": info.plural});
        if !info.group.is_empty() {
            d["group"] = json!(info.group);
        }
        self.details = Some(d);
        self
    }

    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", info.qualified_plural()),
        )
        .with_details(info, name)
    }

    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", info.qualified_plural()),
        )
        .with_details(info, name)
    }

    /// The optimistic-concurrency failure: the client's resourceVersion is stale.
    pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                info.qualified_plural()
            ),
        )
        .with_details(info, name)
    }

    pub fn stale(info: &ResourceInfo, name: &str) -> Self {
        Self::conflict(
            info,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid, listing every broken field rule like kube-apiserver does.
    pub fn invalid(info: &ResourceInfo, name: &str, errors: &[FieldError]) -> Self {
        Self::invalid_kind(info.group, &info.qualified_kind(), info.kind, name, errors)
    }

    /// 422 Invalid for a request's options (`CreateOptions`, `ListOptions`, …):
    /// kube-apiserver validates the query as an object of group meta.k8s.io
    /// with no name, so its message reads `ListOptions.meta.k8s.io "" is invalid: …`.
    pub fn invalid_options(kind: &str, errors: &[FieldError]) -> Self {
        Self::invalid_kind(
            "meta.k8s.io",
            &format!("{kind}.meta.k8s.io"),
            kind,
            "",
            errors,
        )
    }

    /// 422 Invalid for a kind that is not a stored resource (a subresource's request type).
    pub fn invalid_kind(
        group: &str,
        qualified_kind: &str,
        kind: &str,
        name: &str,
        errors: &[FieldError],
    ) -> Self {
        let msgs: Vec<String> = errors.iter().map(FieldError::message).collect();
        let message = if msgs.len() == 1 {
            format!("{qualified_kind} \"{name}\" is invalid: {}", msgs[0])
        } else {
            format!(
                "{qualified_kind} \"{name}\" is invalid: [{}]",
                msgs.join(", ")
            )
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.message().split_once(": ").map(|x| x.1.to_string()).unwrap_or_default(), "field": e.field}))
            .collect();
        let mut err = Self::new(422, "Invalid", message);
        let mut details = json!({"name": name, "kind": kind, "causes": causes});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        err.details = Some(details);
        err
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401: credentials that name nobody (kube-apiserver says only this).
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// `<resource> "<name>" is forbidden: <why>` (an admission plugin's refusal).
    pub fn forbidden_object(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Self::forbidden(format!(
            "{} \"{name}\" is forbidden: {why}",
            info.qualified_plural()
        ))
        .with_details(info, name)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type:?})"))
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 429: the server is at its connection limit; retry after `seconds`
    /// (kube-apiserver's max-in-flight wording).
    pub fn too_many_requests(seconds: u64) -> Self {
        let mut err = Self::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        err.details = Some(json!({"retryAfterSeconds": seconds}));
        err
    }

    /// 503 for a real, transient unavailability (a kubelet that does not
    /// answer), with `Retry-After` so clients know when to try again.
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut err = Self::new(503, "ServiceUnavailable", message);
        err.details = Some(json!({"retryAfterSeconds": 1}));
        err
    }

    /// 408: the client stopped sending its request body.
    pub fn body_timeout(after: std::time::Duration) -> Self {
        Self::new(
            408,
            "Timeout",
            format!(
                "Timeout: the request body did not arrive within {}s",
                after.as_secs_f64()
            ),
        )
    }

    /// 410 Gone: the requested resourceVersion is older than the watch window.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// The `Status` object Kubernetes clients decode.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            self.status().to_string(),
        )
            .into_response();
        // Clients back off by the header; the Status carries the same number.
        let retry = self
            .details
            .as_ref()
            .and_then(|d| d.get("retryAfterSeconds"))
            .and_then(Value::as_u64);
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e.to_string())
    }
}
