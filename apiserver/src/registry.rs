//! The object lifecycle rules every kind shares — kube-apiserver's generic
//! registry and per-kind "strategies", reduced to what minik needs:
//! what the server fills in on create, what an update may and may not
//! change, how `status` is split from the rest, when `generation` moves,
//! and how deletion proceeds (graceful for pods, held by finalizers).
//!
//! Every function here is pure (object in, object out); the REST handlers
//! run them inside a store mutation so they always see the current object.

use minik_api::catalogue::ResourceInfo;
use minik_api::{defaults, meta, validation};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::request::Target;

/// Checks `apiVersion`/`kind` in a body against the endpoint and fills them in when absent.
pub fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    let expected = info.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => obj["apiVersion"] = json!(expected),
        // A v1 and a v2 autoscaler share storage; other mismatches are errors.
        Some(v) if v == expected => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )))
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = json!(info.kind),
        Some(k) if k == info.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({}) for {}",
                info.kind,
                info.qualified_plural()
            )))
        }
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    Ok(())
}

/// Reconciles the namespace in the body with the one in the URL.
pub fn check_namespace(t: &Target, obj: &mut Value) -> Result<(), ApiError> {
    if !t.info.namespaced {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        return Ok(());
    }
    let url_ns = t.namespace.clone().ok_or_else(|| {
        ApiError::bad_request(format!(
            "{} is namespaced: the request must name a namespace",
            t.info.plural
        ))
    })?;
    match meta::namespace(obj) {
        Some(ns) if ns != url_ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            obj["metadata"]["namespace"] = json!(url_ns);
            Ok(())
        }
    }
}

/// Everything the server owns on create: identity, timestamps, generation,
/// defaults, a fresh status; then validation.
pub fn prepare_create(t: &Target, obj: &mut Value) -> Result<(), ApiError> {
    prepare_admitted_create(t, obj, |_| Ok(()))
}

/// [`prepare_create`] with the mutating admission step `admit` run between
/// defaulting and validation, where kube-apiserver runs it.
pub fn prepare_admitted_create(
    t: &Target,
    obj: &mut Value,
    admit: impl FnOnce(&mut Value) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let info = t.info;
    let m = obj["metadata"]
        .as_object_mut()
        .expect("checked by check_type");
    for owned in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        m.remove(owned);
    }
    let uid = uuid::Uuid::new_v4().to_string();
    m.insert("uid".into(), json!(uid));
    m.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
    if info.has_spec() {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    if info.strategy.system_owns_status() {
        if let Some(o) = obj.as_object_mut() {
            o.remove("status");
        }
    }
    defaults::apply(info, obj);
    info.strategy.prepare_create(obj, &uid);
    admit(obj)?;
    let errors = validation::validate_new(info, obj);
    if !errors.is_empty() {
        return Err(ApiError::invalid(info, meta::name(obj), &errors));
    }
    Ok(())
}

/// A main-resource update (PUT or PATCH): identity and status carried over
/// from the stored object, generation bumped when the spec changed.
pub fn prepare_update(t: &Target, new: &mut Value, old: &Value) -> Result<(), ApiError> {
    let info = t.info;
    check_type(info, new)?;
    check_namespace(t, new)?;
    let url_name = t.name();
    match meta::meta_str(new, "name") {
        Some(n) if n != url_name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({url_name})"
            )))
        }
        _ => new["metadata"]["name"] = json!(url_name),
    }
    if let Some(uid) = meta::meta_str(new, "uid") {
        let old_uid = meta::meta_str(old, "uid").unwrap_or("");
        if uid != old_uid {
            return Err(ApiError::conflict(
                info,
                url_name,
                &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}"),
            ));
        }
    }
    for carried in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old["metadata"].get(carried) {
            Some(v) => new["metadata"][carried] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(carried);
                }
            }
        }
    }
    if info.has_subresource("status") {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    defaults::prepare_for_update(info, new, old);
    defaults::apply(info, new);
    let errors = validation::validate_update(info, new, old);
    if !errors.is_empty() {
        return Err(ApiError::invalid(info, url_name, &errors));
    }
    // A Deployment's generation also moves with its annotations (Kubernetes'
    // deployment strategy does this for the legacy rollback annotation).
    let annotations_changed = info.strategy.annotations_follow_spec()
        && old.pointer("/metadata/annotations") != new.pointer("/metadata/annotations");
    if info.has_spec() && (spec_changed(old, new) || annotations_changed) {
        let gen = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(gen);
    }
    Ok(())
}

/// An `approval` update (CertificateSigningRequests): the stored object with
/// only `status.conditions` replaced, checked by the kind's approval rules.
pub fn prepare_approval_update(t: &Target, body: &Value, old: &Value) -> Result<Value, ApiError> {
    let mut new = old.clone();
    match body.pointer("/status/conditions") {
        Some(c) => new["status"]["conditions"] = c.clone(),
        None => {
            if let Some(s) = new.get_mut("status").and_then(Value::as_object_mut) {
                s.remove("conditions");
            }
        }
    }
    let mut errors = Vec::new();
    t.info.strategy.validate_approval(&new, old, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(t.info, t.name(), &errors));
    }
    Ok(new)
}

/// An `ephemeralcontainers` update (`kubectl debug`): the stored pod with
/// only `spec.ephemeralContainers` taken from the body, checked by the
/// kind's create rules and its ephemeral-container rules.
pub fn prepare_ephemeral_update(t: &Target, body: &Value, old: &Value) -> Result<Value, ApiError> {
    let mut new = old.clone();
    match body.pointer("/spec/ephemeralContainers") {
        Some(c) => new["spec"]["ephemeralContainers"] = c.clone(),
        None => {
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("ephemeralContainers");
            }
        }
    }
    let mut errors = validation::validate_create(t.info, &new);
    t.info.strategy.validate_ephemeral(&new, old, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(t.info, t.name(), &errors));
    }
    Ok(new)
}

/// A status-subresource update: the stored object with only `status` replaced
/// (and, for Deployments, `metadata.annotations`, as Kubernetes allows).
pub fn prepare_status_update(t: &Target, body: &Value, old: &Value) -> Result<Value, ApiError> {
    let mut new = old.clone();
    match body.get("status") {
        Some(s) => new["status"] = s.clone(),
        None => {
            if let Some(o) = new.as_object_mut() {
                o.remove("status");
            }
        }
    }
    // Kubernetes' deploymentStatusStrategy resets only spec and labels: the
    // Deployment controller records `deployment.kubernetes.io/revision`
    // through deployments/status, so annotations come from the body.
    if t.info.strategy.annotations_follow_spec() {
        match body.pointer("/metadata/annotations") {
            Some(a) => new["metadata"]["annotations"] = a.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove("annotations");
                }
            }
        }
    }
    // Nodes and namespaces report conditions/phase here; nothing else may change.
    let errors = validation::validate_update(t.info, &new, old);
    if !errors.is_empty() {
        return Err(ApiError::invalid(t.info, t.name(), &errors));
    }
    Ok(new)
}

/// Everything except metadata and status differs?
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            o.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// Whether two versions of an object are the same write (ignoring resourceVersion).
/// Compared in place: every write asks, and copying both objects to drop
/// one field was a measurable share of the API server's CPU.
pub fn same_object(a: &Value, b: &Value) -> bool {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return a == b;
    };
    // Map equality ignores order, as serde_json's does.
    let same_entries =
        |a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>, skip: &str| {
            let counted =
                |m: &serde_json::Map<String, Value>| m.len() - usize::from(m.contains_key(skip));
            counted(a) == counted(b)
                && a.iter()
                    .filter(|(k, _)| k.as_str() != skip)
                    .all(|(k, v)| b.get(k) == Some(v))
        };
    let meta_same = match (a.get("metadata"), b.get("metadata")) {
        (Some(Value::Object(ma)), Some(Value::Object(mb))) => {
            same_entries(ma, mb, "resourceVersion")
        }
        (ma, mb) => ma == mb,
    };
    meta_same && same_entries(a, b, "metadata")
}

/// An object being deleted whose last finalizer is gone (and, for a pod,
/// whose graceful period was confirmed) is removed from the store.
pub fn ready_to_remove(info: &ResourceInfo, obj: &Value) -> bool {
    let deleting = obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    let finalizers = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let spec_finalizers = obj
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
        && info.strategy.has_spec_finalizers();
    let grace = obj
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    deleting && !finalizers && !spec_finalizers && grace == 0
}

/// DeleteOptions, from the body or the query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

impl DeleteOptions {
    pub fn from_request(
        body: Option<&Value>,
        params: &crate::request::Params,
    ) -> Result<Self, ApiError> {
        let mut o = DeleteOptions {
            grace_period_seconds: params.i64("gracePeriodSeconds")?,
            propagation_policy: params.get("propagationPolicy").map(str::to_string),
            ..Default::default()
        };
        if params.get("orphanDependents") == Some("true") && o.propagation_policy.is_none() {
            o.propagation_policy = Some("Orphan".into());
        }
        if let Some(b) = body {
            if let Some(g) = b.get("gracePeriodSeconds").and_then(Value::as_i64) {
                o.grace_period_seconds = Some(g);
            }
            if let Some(p) = b.get("propagationPolicy").and_then(Value::as_str) {
                o.propagation_policy = Some(p.to_string());
            }
            if b.get("orphanDependents").and_then(Value::as_bool) == Some(true)
                && o.propagation_policy.is_none()
            {
                o.propagation_policy = Some("Orphan".into());
            }
            o.precondition_uid = b
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.precondition_resource_version = b
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(p) = &o.propagation_policy {
            if !matches!(p.as_str(), "Background" | "Foreground" | "Orphan") {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy {p:?} is not supported: use Background, Foreground or Orphan"
                )));
            }
        }
        Ok(o)
    }
}

/// What a DELETE does to the current object: remove it now, or mark it
/// (deletionTimestamp, finalizers) and leave its removal to whoever owns the
/// next step — the kubelet for a running pod, the garbage collector for
/// `orphan`/`foregroundDeletion`, the namespace controller for a namespace.
pub enum DeleteStep {
    Remove,
    Mark(Value),
    AlreadyMarked(Value),
}

pub fn delete_step(
    info: &ResourceInfo,
    mut obj: Value,
    opts: &DeleteOptions,
) -> Result<DeleteStep, ApiError> {
    let name = meta::name(&obj).to_string();
    if let Some(uid) = &opts.precondition_uid {
        let actual = meta::meta_str(&obj, "uid").unwrap_or("");
        if uid != actual {
            return Err(ApiError::conflict(
                info,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version {
        let actual = meta::meta_str(&obj, "resourceVersion").unwrap_or("");
        if rv != actual {
            return Err(ApiError::conflict(
                info,
                &name,
                &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"),
            ));
        }
    }
    let graceful = info
        .strategy
        .deletion_grace_seconds(&obj, opts.grace_period_seconds);
    let grace = graceful.unwrap_or(0);
    let deleting = obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting {
        // A second delete may only shorten a pod's grace period.
        let current = obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if graceful.is_some() && grace < current {
            set_deletion(&mut obj, grace);
            if ready_to_remove(info, &obj) {
                return Ok(DeleteStep::Remove);
            }
            return Ok(DeleteStep::Mark(obj));
        }
        return Ok(DeleteStep::AlreadyMarked(obj));
    }
    let finalizer = match opts.propagation_policy.as_deref() {
        Some("Orphan") => Some("orphan"),
        Some("Foreground") => Some("foregroundDeletion"),
        _ => None,
    };
    if let Some(f) = finalizer {
        let list = obj["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !list.iter().any(|x| x == f) {
            let mut list = list;
            list.push(json!(f));
            obj["metadata"]["finalizers"] = json!(list);
        }
    }
    set_deletion(&mut obj, grace);
    info.strategy.mark_deleting(&mut obj);
    if ready_to_remove(info, &obj) {
        Ok(DeleteStep::Remove)
    } else {
        Ok(DeleteStep::Mark(obj))
    }
}

fn set_deletion(obj: &mut Value, grace: i64) {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
    obj["metadata"]["deletionTimestamp"] = json!(meta::format_timestamp(at));
    obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_object_ignores_only_the_resource_version() {
        let a = json!({"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"x": 1}});
        let moved = json!({"metadata": {"resourceVersion": "9", "name": "p"}, "spec": {"x": 1}, "kind": "Pod"});
        assert!(same_object(&a, &moved));
        let no_rv = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}});
        assert!(same_object(&a, &no_rv) && same_object(&no_rv, &a));
        for differs in [
            json!({"kind": "Pod", "metadata": {"name": "q", "resourceVersion": "1"}, "spec": {"x": 1}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"x": 2}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1", "labels": {}}, "spec": {"x": 1}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"x": 1}, "status": {}}),
            json!({"kind": "Pod", "spec": {"x": 1}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1"}}),
        ] {
            assert!(!same_object(&a, &differs), "{differs}");
            assert!(!same_object(&differs, &a), "{differs}");
        }
        assert!(same_object(&json!(null), &json!(null)));
    }
}
