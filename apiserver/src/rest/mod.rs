//! The REST surface for every kind in the catalogue: one dispatcher that
//! routes a parsed request to a verb family (`read`, `create`, `update`,
//! `patch`, `delete`, `watch`) or a subresource (`scale`, `binding`, `eviction`).
//!
//! Nothing here is written per kind: like kube-apiserver's generic registry,
//! every handler works on JSON objects described by a `ResourceInfo`.

pub mod binding;
pub mod create;
pub mod delete;
pub mod eviction;
pub mod metrics_api;
pub mod patch;
pub mod proxy;
pub mod read;
pub mod review;
pub mod scale;
pub mod server_state;
pub mod token_request;
pub mod update;
pub mod watch;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use minik_api::catalogue::ResourceInfo;
use minik_api::tables;
use serde_json::{json, Value};

use crate::commit::{Committed, Mutation, Outcome};
use crate::decode::{Decoder, FieldValidation};
use crate::error::ApiError;
use crate::request::{self, Output, Params, Target};
use crate::AppState;

/// Largest request body accepted (kube-apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How long a body may take when the router is used without the transport
/// (tests calling `router` directly); `Config::request_body_timeout` otherwise.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Everything a verb handler needs about one request.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub target: Target,
    pub params: Params,
    pub output: Output,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    /// The typed boundary for what this request writes (`fieldValidation`).
    pub decoder: Decoder,
    /// Who asks (after impersonation): reviews and escalation checks use it.
    pub user: crate::authentication::User,
}

impl Ctx {
    pub fn info(&self) -> &'static ResourceInfo {
        self.target.info
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
    }

    pub fn body_object(&self) -> Result<Value, ApiError> {
        request::decode_body(&self.body, self.content_type())
    }

    /// The body as an object of the addressed resource, converted to its storage form.
    pub fn resource_body(&self) -> Result<Value, ApiError> {
        let mut obj = self.body_object()?;
        let served = self.target.served;
        check_envelope(served, &obj)?;
        if std::ptr::eq(served, self.target.info) {
            return Ok(obj);
        }
        crate::registry::check_type(served, &mut obj)?;
        Ok(minik_api::convert::to_storage(served, obj))
    }

    /// Allocates a new Service's ClusterIP and NodePorts (422 on a conflict).
    pub fn allocate_service(&self, svc: &mut Value) -> Result<(), ApiError> {
        allocate_service(&self.state, self.info(), svc, &Value::Null)
    }

    /// A stored object in the form of the addressed version.
    pub fn served(&self, obj: &Value) -> Value {
        minik_api::convert::from_storage(self.target.served, obj.clone())
    }

    /// Reads the current object straight from the store.
    pub fn read(&self, key: &str) -> Result<Option<Value>, ApiError> {
        crate::commit::read(&*self.state.store, key)
    }

    /// The stored object at `key`, decoded only as far as `T` reads it.
    pub fn read_as<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ApiError> {
        crate::commit::read_as(&*self.state.store, key)
    }

    /// Whether an object is stored at `key` (read, not decoded).
    pub fn exists(&self, key: &str) -> Result<bool, ApiError> {
        Ok(self.state.store.get(key)?.is_some())
    }

    /// Runs a mutation through the writer, or only evaluates it for `dryRun=All`.
    pub async fn mutate(&self, key: String, mutation: Mutation) -> Result<Committed, ApiError> {
        if self.params.dry_run() {
            let current = self.read(&key)?;
            let existed = current.is_some();
            return Ok(match mutation(current.clone())? {
                Outcome::Put(v) => Committed {
                    object: Arc::new(v),
                    event_type: Some(if existed {
                        crate::hub::EventType::Modified
                    } else {
                        crate::hub::EventType::Added
                    }),
                    json: None,
                },
                Outcome::Unchanged(v) => Committed {
                    object: Arc::new(v),
                    event_type: None,
                    json: None,
                },
                Outcome::Delete => Committed {
                    object: Arc::new(current.unwrap_or(Value::Null)),
                    event_type: Some(crate::hub::EventType::Deleted),
                    json: None,
                },
            });
        }
        self.state.writer.mutate(key, mutation).await
    }

    /// Fails unless the target namespace exists and is not terminating.
    pub fn require_namespace(&self) -> Result<(), ApiError> {
        let Some(ns) = self
            .target
            .namespace
            .as_deref()
            .filter(|_| self.info().namespaced)
        else {
            return Ok(());
        };
        let ns_info =
            minik_api::catalogue::lookup("", "v1", "namespaces").expect("namespaces are served");
        match self.read(&ns_info.key(None, ns))? {
            None => Err(ApiError::not_found(ns_info, ns)),
            Some(n)
                if n.pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null()) =>
            {
                let mut err = ApiError::new(
                    403,
                    "Forbidden",
                    format!("{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", self.info().qualified_plural(), self.target.name()),
                );
                // Controllers recognise this case by its cause, as in Kubernetes.
                err.details = Some(json!({
                    "name": self.target.name(),
                    "kind": self.info().plural,
                    "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}],
                }));
                Err(err)
            }
            Some(_) => Ok(()),
        }
    }

    /// Answers a write with the object it stored: its stored bytes as they
    /// are when the client asked for the object in its storage version (a
    /// write's usual answer), else rendered as [`Self::respond`] does.
    pub fn respond_committed(&self, code: StatusCode, committed: &Committed) -> Response {
        let as_stored = std::ptr::eq(
            minik_api::catalogue::storage_info(self.target.served),
            self.target.served,
        );
        match &committed.json {
            Some(json) if as_stored && matches!(self.output, Output::Object) => {
                let response = (
                    code,
                    [(http::header::CONTENT_TYPE, "application/json")],
                    json.clone(),
                )
                    .into_response();
                self.with_warnings(response)
            }
            _ => self.respond(code, &committed.object),
        }
    }

    /// Renders one object in the negotiated shape.
    pub fn respond(&self, code: StatusCode, obj: &Value) -> Response {
        use std::borrow::Cow;
        // Served as stored (most kinds, and every write's answer): no copy.
        let served = self.target.served;
        let obj: Cow<'_, Value> =
            if std::ptr::eq(minik_api::catalogue::storage_info(served), served) {
                Cow::Borrowed(obj)
            } else {
                Cow::Owned(self.served(obj))
            };
        let obj = &*obj;
        let body: Cow<'_, Value> = match self.output {
            Output::Object => Cow::Borrowed(obj),
            Output::Table(include) => Cow::Owned(tables::table(
                self.info(),
                std::slice::from_ref(obj),
                jiff::Timestamp::now(),
                include,
                obj.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                None,
            )),
            Output::Metadata => Cow::Owned(partial_metadata(obj)),
        };
        self.with_warnings(json_response(code, &body))
    }

    /// `response` with the request's warnings (admission's, unknown fields).
    fn with_warnings(&self, mut response: Response) -> Response {
        for warning in self.decoder.warning_headers() {
            if let Ok(v) = http::HeaderValue::from_str(&warning) {
                response.headers_mut().append(http::header::WARNING, v);
            }
        }
        response
    }
}

/// What kube-apiserver's decoder refuses before anything else looks at a
/// body: an object whose `apiVersion`/`kind` are not strings, or whose
/// `metadata` is not an object (400, in Go's words). Later steps read the
/// name from `metadata`, so this must come first.
fn check_envelope(served: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    fn go_type(v: &Value) -> &'static str {
        match v {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Null => "null",
        }
    }
    let Some(map) = obj.as_object() else {
        return Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            go_type(obj)
        )));
    };
    for field in ["apiVersion", "kind"] {
        if let Some(v) = map.get(field).filter(|v| !v.is_string() && !v.is_null()) {
            return Err(ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go struct field .{field} of type string",
                go_type(v)
            )));
        }
    }
    if let Some(v) = map
        .get("metadata")
        .filter(|v| !v.is_object() && !v.is_null())
    {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {} into Go struct field {kind}.metadata of type v1.ObjectMeta",
            go_type(v),
            kind = served.kind,
            version = served.version,
        )));
    }
    Ok(())
}

pub fn partial_metadata(obj: &Value) -> Value {
    let metadata = obj.get("metadata").cloned();
    minik_api::tables::partial_object_metadata(metadata.unwrap_or_else(|| json!({})))
}

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A `Status` of success, as kube-apiserver answers some deletes.
pub fn success_status(info: &ResourceInfo, obj: &Value) -> Value {
    let mut details = json!({"name": minik_api::meta::name(obj), "kind": info.plural, "uid": minik_api::meta::meta_str(obj, "uid").unwrap_or("")});
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// The `201 Success` Status a subresource POST that makes no object
/// answers with (`binding`, `eviction`).
pub fn created_status() -> Response {
    json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

/// Puts `condition` into the pod's `status.conditions`, replacing one of
/// the same type (what the binding and eviction subresources write).
pub fn set_pod_condition(pod: &mut Value, condition: Value) {
    let mut conditions: Vec<Value> = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions.retain(|c| c["type"] != condition["type"]);
    conditions.push(condition);
    pod["status"]["conditions"] = json!(conditions);
}

/// The fallback handler: every resource path lands here.
/// Each request for a resource is counted once answered (a watch once its
/// stream starts), by its labels and status code (`GET /metrics`).
///
/// Every answer about a deprecated kind, errors included, carries its
/// deprecation `Warning` (kube-apiserver adds it to each route of a kind
/// whose type says `APILifecycleDeprecated`: ComponentStatus, Endpoints).
pub async fn dispatch(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let mut labels = None;
    let mut deprecation = None;
    let mut response = match handle(state.clone(), req, &mut labels, &mut deprecation).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if let Some(labels) = labels {
        state.requests.record(labels, response.status().as_u16());
    }
    if let Some(warning) = deprecation {
        if let Ok(v) = http::HeaderValue::from_str(&crate::decode::warning_header(warning)) {
            response.headers_mut().append(http::header::WARNING, v);
        }
    }
    response
}

/// Serves one request; `labels` gets its metric labels once its target is
/// known, `deprecation` its kind's deprecation warning.
async fn handle(
    state: Arc<AppState>,
    req: Request,
    labels: &mut Option<crate::metrics::RequestKey>,
    deprecation: &mut Option<&'static str>,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    // `nodes/<name>/proxy/<path>`: the kubelet's own endpoints (stats for `top`).
    if let Some(rest) = parts.uri.path().strip_prefix("/api/v1/nodes/") {
        if let Some((node, path)) = rest.split_once("/proxy") {
            if parts.method == Method::GET && !node.contains('/') {
                return proxy::node_proxy(&state, node, path, parts.uri.query()).await;
            }
        }
    }
    let target = request::parse_path(&state.served(), parts.uri.path())?;
    *deprecation = target.served.strategy.deprecation();
    let params = Params::parse(parts.uri.query());
    let accept = parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let output = request::negotiate(accept, &params);
    let is_watch = target.legacy_watch || params.flag("watch");
    let method = parts.method.clone();
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let apply = header(http::header::CONTENT_TYPE)
        .is_some_and(|t| t.starts_with("application/apply-patch"));
    *labels = Some(crate::metrics::RequestKey::new(
        &target,
        &method,
        is_watch,
        apply,
        header(http::header::USER_AGENT),
    ));
    check_options(&method, &target, &params, is_watch)?;
    let body_timeout = parts
        .extensions
        .get::<crate::transport::BodyTimeout>()
        .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
    let body = request::read_body(&parts.headers, Body::new(body), MAX_BODY, body_timeout).await?;
    // Options are checked only where they apply, as kube-apiserver does.
    let field_validation = match method {
        Method::POST | Method::PUT | Method::PATCH => FieldValidation::from_params(&params)?,
        _ => FieldValidation::Warn,
    };
    let ctx = Ctx {
        state,
        target,
        params,
        output,
        headers: parts.headers,
        body,
        decoder: Decoder::new(field_validation),
        user: parts
            .extensions
            .get::<crate::authentication::User>()
            .cloned()
            .unwrap_or_else(crate::authentication::User::anonymous),
    };
    match ctx.info().strategy.backing() {
        minik_api::kinds::Backing::ResourceMetrics => {
            return metrics_api::serve(ctx, &method, is_watch).await
        }
        minik_api::kinds::Backing::Review => return review::review(ctx, &method).await,
        minik_api::kinds::Backing::ServerState => {
            return server_state::serve(ctx, &method, is_watch).await
        }
        minik_api::kinds::Backing::Store => {}
    }
    let named = ctx.target.name.is_some();
    if method == Method::GET && is_watch && ctx.target.subresource.is_none() {
        let user_agent = ctx
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let guard = ctx.state.watches.open(&ctx.target, user_agent);
        return Ok(crate::metrics::counted(watch::watch(ctx).await?, guard));
    }
    match (method, named, ctx.target.subresource.clone().as_deref()) {
        (Method::GET, false, None) => read::list(ctx).await,
        (Method::GET, true, None | Some("status" | "approval" | "ephemeralcontainers")) => {
            read::get(ctx).await
        }
        (Method::POST, false, None) => create::create(ctx).await,
        (
            Method::PUT,
            true,
            None | Some("status" | "finalize" | "approval" | "ephemeralcontainers"),
        ) => update::update(ctx).await,
        (Method::PATCH, true, None | Some("status" | "ephemeralcontainers")) => {
            patch::patch(ctx).await
        }
        (Method::DELETE, true, None) => delete::delete(ctx).await,
        (Method::DELETE, false, None) => delete::delete_collection(ctx).await,
        (Method::GET | Method::PUT | Method::PATCH, true, Some("scale")) => scale::scale(ctx).await,
        (Method::POST, true, Some("binding")) => binding::bind(ctx).await,
        (Method::POST, true, Some("eviction")) => eviction::evict(ctx).await,
        (Method::POST, true, Some("token")) => token_request::create(ctx).await,
        (
            m @ (Method::GET | Method::POST),
            true,
            Some(sub @ ("log" | "exec" | "attach" | "portforward")),
        ) => proxy::proxy(ctx, m, sub, parts.uri.query(), parts.extensions).await,
        (m, _, sub) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m} {}{})",
            ctx.info().qualified_plural(),
            sub.map(|s| format!("/{s}")).unwrap_or_default()
        ))),
    }
}

/// Query options kube-apiserver refuses before doing anything: `dryRun`
/// other than `All` on writes, a resourceVersion that is not one, a bad
/// `resourceVersionMatch`, a field the resource cannot be selected by.
fn check_options(
    method: &Method,
    target: &Target,
    params: &Params,
    is_watch: bool,
) -> Result<(), ApiError> {
    let collection = target.name.is_none();
    match *method {
        Method::POST => params.check_dry_run("CreateOptions"),
        Method::PUT => params.check_dry_run("UpdateOptions"),
        Method::PATCH => params.check_dry_run("PatchOptions"),
        Method::DELETE => {
            params.check_dry_run("DeleteOptions")?;
            if collection {
                params.check_field_selector(target.served)?;
            }
            Ok(())
        }
        Method::GET => {
            params.check_resource_version()?;
            if collection || is_watch {
                params.check_field_selector(target.served)?;
            }
            if collection && !is_watch {
                params.check_list_options()?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Brings a Service's allocations from `old` to what `new` needs; frees
/// what it no longer holds. Runs inside the store mutation, so allocations
/// follow the order in which updates are stored.
pub fn allocate_service(
    state: &AppState,
    info: &ResourceInfo,
    new: &mut Value,
    old: &Value,
) -> Result<(), ApiError> {
    if !info.strategy.allocates_service_addresses() {
        return Ok(());
    }
    state
        .services
        .reallocate(new, old)
        .map_err(|(field, value, detail)| {
            ApiError::invalid(
                info,
                minik_api::meta::name(new),
                &[minik_api::FieldError::invalid(field, value, detail)],
            )
        })?;
    if !old.is_null() {
        state.services.release_dropped(new, old);
    }
    Ok(())
}

/// The ordinary end of an update or patch: remove an object whose deletion
/// just completed, skip a write that changes nothing, or store the new object.
pub fn finish_update(info: &ResourceInfo, new: Value, old: &Value) -> Outcome {
    if crate::registry::ready_to_remove(info, &new) {
        Outcome::Delete
    } else if crate::registry::same_object(&new, old) {
        Outcome::Unchanged(old.clone())
    } else {
        Outcome::Put(new)
    }
}

/// The stored object's resourceVersion must match the client's, if it sent one.
pub fn check_resource_version(
    info: &ResourceInfo,
    name: &str,
    sent: &Value,
    current: &Value,
) -> Result<(), ApiError> {
    let sent_rv = sent
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if sent_rv.is_empty() {
        return Ok(());
    }
    let current_rv = current
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if sent_rv != current_rv {
        return Err(ApiError::stale(info, name));
    }
    Ok(())
}
