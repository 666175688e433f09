//! `serviceaccounts/<name>/token`: the TokenRequest API (kube-apiserver's
//! `TokenREST`), what `kubectl create token` and the kubelet's projected
//! `serviceAccountToken` volumes call. The POSTed
//! `authentication.k8s.io/v1` TokenRequest asks for audiences (default:
//! the API server's), a lifetime (default 1 h, at least 10 min) and
//! optionally an object to bind the token to (a Pod, Secret or Node, by
//! name and uid); the answer is the same TokenRequest with
//! `status.token` and `status.expirationTimestamp`. Nothing is stored: a
//! token is valid while its signature, time and named objects are
//! (`authentication.rs`).
//!
//! A token bound to a scheduled Pod also names the Pod's node, as
//! Kubernetes' do.

use axum::response::Response;
use http::StatusCode;
use minik_api::catalogue;
use minik_api::field_error::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_response, Ctx};
use crate::error::ApiError;
use crate::service_account_token::{Private, Ref, Request};

/// The body's kind: not a stored kind, the subresource's request type.
const TOKEN_REQUEST: &str = "TokenRequest";

/// Kubernetes' bounds on `spec.expirationSeconds`.
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;
const DEFAULT_EXPIRATION: i64 = 3600;

pub async fn create(ctx: Ctx) -> Result<Response, ApiError> {
    let mut body = ctx.body_object()?;
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if kind != TOKEN_REQUEST {
            return Err(ApiError::bad_request(format!(
                "not a TokenRequest object: {kind}"
            )));
        }
    }
    let namespace = ctx.target.namespace.clone().unwrap_or_default();
    let name = ctx.target.name().to_string();
    let account: Bound = ctx
        .read_as(&ctx.target.key())?
        .ok_or_else(|| ApiError::not_found(ctx.info(), &name))?;
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let expiration = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.expirationSeconds: must be an integer"))?,
    };
    let mut errors = Vec::new();
    if expiration < MIN_EXPIRATION {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            json!(expiration),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > MAX_EXPIRATION {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            json!(expiration),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let mut audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = ctx.state.service_account_keys.audiences.clone();
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_kind(
            "authentication.k8s.io",
            "TokenRequest.authentication.k8s.io",
            "TokenRequest",
            &name,
            &errors,
        ));
    }
    let mut private = Private {
        namespace: namespace.clone(),
        serviceaccount: Ref {
            name: name.clone(),
            uid: account.uid(),
        },
        pod: None,
        secret: None,
        node: None,
    };
    if let Some(bound) = spec.get("boundObjectRef").filter(|v| !v.is_null()) {
        bind(&ctx, &namespace, &name, bound, &mut private)?;
    }
    let now = jiff::Timestamp::now().as_second();
    let request = Request {
        audiences: audiences.clone(),
        expiration_seconds: expiration,
        private,
    };
    let (token, exp) = ctx
        .state
        .service_account_keys
        .issue(&request, now)
        .map_err(ApiError::internal)?;
    let expires = jiff::Timestamp::from_second(exp)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    body["apiVersion"] = json!("authentication.k8s.io/v1");
    body["kind"] = json!("TokenRequest");
    body["metadata"] = json!({
        "name": name,
        "namespace": namespace,
        "creationTimestamp": jiff::Timestamp::from_second(now)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default(),
    });
    body["spec"] = spec;
    body["spec"]["audiences"] = json!(audiences);
    body["spec"]["expirationSeconds"] = json!(expiration);
    body["status"] = json!({"token": token, "expirationTimestamp": expires});
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Checks the object the token is to be bound to and names it in the claims.
fn bind(
    ctx: &Ctx,
    namespace: &str,
    account: &str,
    bound: &Value,
    private: &mut Private,
) -> Result<(), ApiError> {
    let kind = bound.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = bound
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let object = bound.get("name").and_then(Value::as_str).unwrap_or("");
    let plural = match (api_version, kind) {
        ("v1", "Pod") => "pods",
        ("v1", "Secret") => "secrets",
        ("v1", "Node") => "nodes",
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount \"{account}\" to object of kind \"{api_version}, Kind={kind}\""
            )))
        }
    };
    let info = catalogue::lookup("", "v1", plural).expect("core kinds are served");
    let scope = (plural != "nodes").then_some(namespace);
    let stored: Bound = ctx
        .read_as(&info.key(scope, object))?
        .ok_or_else(|| ApiError::not_found(info, object))?;
    let found = stored.uid();
    if let Some(wanted) = bound.get("uid").and_then(Value::as_str) {
        if !wanted.is_empty() && wanted != found {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {kind} \"{object}\": the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
    }
    let reference = Ref {
        name: object.to_string(),
        uid: found,
    };
    match plural {
        "pods" => {
            let pod_account = stored
                .spec
                .service_account_name
                .as_deref()
                .unwrap_or("default");
            if pod_account != account {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount \"{account}\" to pod running with different serviceaccount name."
                )));
            }
            if let Some(node) = stored.spec.node_name.as_deref() {
                let nodes = catalogue::lookup("", "v1", "nodes").expect("served");
                if let Some(n) = ctx.read_as::<Bound>(&nodes.key(None, node))? {
                    private.node = Some(Ref {
                        name: node.to_string(),
                        uid: n.uid(),
                    });
                }
            }
            private.pod = Some(reference);
        }
        "secrets" => private.secret = Some(reference),
        _ => private.node = Some(reference),
    }
    Ok(())
}

/// What a token reads of the objects it names (the account, the object it
/// is bound to, a pod's node): their uids, and a pod's account and node.
/// Decoded alone, the rest of each object skipped: every pod's kubelet
/// asks for a token, and a pod or Node decoded whole was most of the cost.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Bound {
    metadata: BoundMeta,
    spec: BoundSpec,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BoundMeta {
    uid: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct BoundSpec {
    service_account_name: Option<String>,
    node_name: Option<String>,
}

impl Bound {
    fn uid(&self) -> String {
        self.metadata.uid.clone().unwrap_or_default()
    }
}
