//! Turning an HTTP request into what the REST handlers work on: which
//! resource (`Target`), which options (`Params`), which response shape
//! (`Output`, from the Accept header), and the decoded body.
//!
//! kube-apiserver does this with its RequestInfoResolver and negotiation
//! package; minik keeps it in one small module so every handler shares it.

use std::collections::HashMap;

use minik_api::catalogue::{self, ResourceInfo};
use minik_api::tables::IncludeObject;
use minik_api::FieldError;
use serde_json::Value;

use crate::custom_resources::Served;
use crate::error::ApiError;

/// The resource a request addresses.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource as stored (what keys, defaults and validation use).
    pub info: &'static ResourceInfo,
    /// The resource as addressed by the client; differs from `info` only for
    /// versions served by conversion (see `minik_api::convert`).
    pub served: &'static ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The legacy `/watch/` path prefix was used.
    pub legacy_watch: bool,
}

impl Target {
    pub fn new(
        info: &'static ResourceInfo,
        namespace: Option<String>,
        name: Option<String>,
    ) -> Self {
        Self {
            info,
            served: info,
            namespace,
            name,
            subresource: None,
            legacy_watch: false,
        }
    }

    /// Storage key of the named object.
    pub fn key(&self) -> String {
        self.info.key(
            self.namespace.as_deref(),
            self.name.as_deref().unwrap_or(""),
        )
    }

    /// Key prefix covering the collection (one namespace, or all).
    pub fn collection_prefix(&self) -> String {
        match (&self.namespace, self.info.namespaced) {
            (Some(ns), true) => format!("{}{ns}/", self.info.key_prefix()),
            _ => self.info.key_prefix(),
        }
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The one key a list or watch can match: the named object, or the one
    /// a `metadata.name=<name>` field selector pins down (in a namespace, or
    /// of a cluster-scoped kind). kube-apiserver's storage reads such a
    /// list as a single get rather than a scan, as this lets minik.
    pub fn single_key(&self, fields: &minik_api::selectors::FieldSelector) -> Option<String> {
        if self.name.is_some() {
            return Some(self.key());
        }
        let name = fields.requires_exact_match("metadata.name")?;
        (!self.info.namespaced || self.namespace.is_some())
            .then(|| self.info.key(self.namespace.as_deref(), name))
    }
}

/// Parses `/api/v1/...` and `/apis/<group>/<version>/...` resource paths.
pub fn parse_path(served: &Served, path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found_path(path)),
    };
    if !served.serves(group, version) {
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let served: Vec<String> = served
            .group_versions()
            .iter()
            .map(|(g, v)| {
                if g.is_empty() {
                    v.to_string()
                } else {
                    format!("{g}/{v}")
                }
            })
            .collect();
        return Err(ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource: group/version {gv:?} is not served (served: {})", served.join(", ")),
        ));
    }
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    // `namespaces/<ns>/<plural>...` addresses a namespaced resource, unless
    // what follows the namespace name is a subresource of namespaces itself.
    let (namespace, rest): (Option<String>, Vec<&str>) = match rest {
        ["namespaces", ns, tail @ ..]
            if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") =>
        {
            (Some(ns.to_string()), tail.to_vec())
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(not_found_path(path)),
    };
    let info = served.lookup(group, version, plural).ok_or_else(|| {
        let served: Vec<&str> = served
            .all()
            .into_iter()
            .filter(|r| r.group == group && r.version == version)
            .map(|r| r.plural)
            .collect();
        ApiError::new(
            404,
            "NotFound",
            format!(
                "the server could not find the requested resource: {plural:?} is not served in {} (served: {})",
                if group.is_empty() { version.to_string() } else { format!("{group}/{version}") },
                served.join(", ")
            ),
        )
    })?;
    if namespace.is_some() && !info.namespaced {
        return Err(not_found_path(path));
    }
    if let Some(s) = &sub {
        if !info.has_subresource(s) {
            return Err(not_found_path(path));
        }
    }
    Ok(Target {
        info: catalogue::storage_info(info),
        served: info,
        namespace,
        name,
        subresource: sub,
        legacy_watch,
    })
}

/// kube-apiserver's 404 for a path it does not serve. Its `details` is
/// present though empty: clients tell this 404 from a missing object's by
/// the empty name (kubectl debug reads `details.name` unchecked).
fn not_found_path(path: &str) -> ApiError {
    let mut err = ApiError::new(
        404,
        "NotFound",
        format!("the server could not find the requested resource (path {path:?})"),
    );
    err.details = Some(serde_json::json!({}));
    err
}

/// Query parameters shared by the verbs (Kubernetes' ListOptions,
/// DeleteOptions, CreateOptions, PatchOptions, …).
#[derive(Debug, Default, Clone)]
pub struct Params {
    map: HashMap<String, Vec<String>>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.entry(decode(k)).or_default().push(decode(v));
        }
        Self { map }
    }

    /// Adds `value` to `key`'s values (options that came in a body).
    pub fn add(&mut self, key: &str, value: String) {
        self.map.entry(key.to_string()).or_default().push(value);
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1"))
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid {key} {s:?}: must be a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    pub fn i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid {key} {s:?}: must be an integer"))
                })
            })
            .transpose()
    }

    /// `dryRun=All`: validate and answer, but write nothing.
    pub fn dry_run(&self) -> bool {
        self.map
            .get("dryRun")
            .is_some_and(|v| v.iter().any(|s| s == "All"))
    }

    /// Every `dryRun` value must be `All` (case matters: `dryRun=all` is
    /// refused, not taken as a real write). kube-apiserver validates the
    /// options as an object (`CreateOptions`, …), hence 422 Invalid.
    pub fn check_dry_run(&self, options_kind: &str) -> Result<(), ApiError> {
        let errors: Vec<FieldError> = self
            .map
            .get("dryRun")
            .into_iter()
            .flatten()
            .filter(|v| v.as_str() != "All")
            .map(|v| FieldError::not_supported("dryRun", Value::from(v.as_str()), &["All"]))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_options(options_kind, &errors))
        }
    }

    /// `resourceVersion` on a read must be one of minik's revisions (a
    /// number): anything else is the client's mistake, 400. (kube-apiserver
    /// answers the same words; its code is 500 on some paths, which is
    /// being corrected upstream to 400.)
    pub fn check_resource_version(&self) -> Result<(), ApiError> {
        match self.get("resourceVersion") {
            Some(rv) if rv.parse::<u64>().is_err() => Err(ApiError::bad_request(format!(
                "resourceVersion: Invalid value: {rv:?}: strconv.ParseUint: parsing {rv:?}: invalid syntax"
            ))),
            _ => Ok(()),
        }
    }

    /// `resourceVersionMatch` on a list, checked as kube-apiserver's
    /// `ValidateListOptions` does (422 on `ListOptions`).
    pub fn check_list_options(&self) -> Result<(), ApiError> {
        let Some(m) = self.get("resourceVersionMatch") else {
            return Ok(());
        };
        let field = "resourceVersionMatch";
        let mut errors = Vec::new();
        if self.get("resourceVersion").is_none() {
            errors.push(FieldError::forbidden(
                field,
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if self.get("continue").is_some() {
            errors.push(FieldError::forbidden(
                field,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != "Exact" && m != "NotOlderThan" {
            errors.push(FieldError::not_supported(
                field,
                Value::from(m),
                &["Exact", "NotOlderThan", ""],
            ));
        }
        if m == "Exact" && self.get("resourceVersion") == Some("0") {
            errors.push(FieldError::forbidden(
                field,
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_options("ListOptions", &errors))
        }
    }

    pub fn label_selector(&self) -> Result<minik_api::selectors::LabelSelector, ApiError> {
        minik_api::selectors::LabelSelector::parse(self.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    pub fn field_selector(&self) -> Result<minik_api::selectors::FieldSelector, ApiError> {
        minik_api::selectors::FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// The field selector, refusing fields the resource cannot be selected
    /// by, as kube-apiserver's field label conversion does (400).
    pub fn check_field_selector(&self, info: &ResourceInfo) -> Result<(), ApiError> {
        let selector = self.field_selector()?;
        let supported = info.strategy.field_labels();
        for r in selector.requirements() {
            let common =
                r.field == "metadata.name" || (info.namespaced && r.field == "metadata.namespace");
            if !common && !supported.contains(&r.field.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    r.field
                )));
            }
        }
        Ok(())
    }
}

/// Reads a request body of at most `limit` bytes within `timeout`:
/// - a declared `Content-Length` over the limit is 413 at once, before any
///   of it is read (a client announcing 2 GiB is not waited for);
/// - a body that grows past the limit (chunked) is 413;
/// - a body that stops arriving is 408 after `timeout`;
/// - a body cut short or badly framed is 400: the input is malformed, not
///   too large.
pub async fn read_body(
    headers: &http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    let collect = http_body_util::Limited::new(body, limit).collect();
    match tokio::time::timeout(timeout, collect).await {
        Err(_) => Err(ApiError::body_timeout(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(limit)),
        Ok(Err(e)) => {
            // hyper's own words, with their causes ("end of file before
            // message length reached").
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            Err(ApiError::bad_request(format!(
                "error reading the request body: {message}"
            )))
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The response shape a client asked for in its Accept header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output {
    /// The objects themselves (JSON).
    Object,
    /// A meta.k8s.io/v1 Table, as `kubectl get` asks for.
    Table(IncludeObject),
    /// PartialObjectMetadata(List), as metadata-only clients ask for.
    Metadata,
}

pub fn negotiate(accept: Option<&str>, params: &Params) -> Output {
    let accept = accept.unwrap_or("");
    // The first acceptable media type wins, as in kube-apiserver.
    for part in accept.split(',') {
        let part = part.trim();
        if part.contains("as=Table") {
            let include = params
                .get("includeObject")
                .and_then(IncludeObject::parse)
                .unwrap_or_default();
            return Output::Table(include);
        }
        if part.contains("as=PartialObjectMetadata") {
            return Output::Metadata;
        }
        if part.starts_with("application/json") || part.starts_with("*/*") || part.is_empty() {
            return Output::Object;
        }
    }
    Output::Object
}

/// Decodes a request body as JSON, YAML or Kubernetes protobuf (what
/// kubectl's typed clients send) into an object.
pub fn decode_body(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; expected an object",
        ));
    }
    let ct = content_type.split(';').next().unwrap_or("").trim();
    // A body in no format the server reads is 415, as in kube-apiserver
    // (`*/*` and a missing type are read as JSON, as clients mean them).
    let known = ct.is_empty()
        || ct == "*/*"
        || ct.ends_with("json")
        || ct.ends_with("yaml")
        || ct == minik_api::protobuf::CONTENT_TYPE;
    if !known {
        return Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {ct:?})")));
    }
    if ct == minik_api::protobuf::CONTENT_TYPE {
        minik_api::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding protobuf body: {e}")))
    } else if ct.ends_with("yaml") {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("the YAML body is not valid UTF-8"))?;
        serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")))
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))
    }
}
