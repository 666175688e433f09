//! Namespace (core/v1): a scope for names; deleted in two steps (Terminating, then finalized).
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The Namespace strategy.
pub struct Namespace;

/// `namespaces` in v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("", "v1", "Namespace", "namespaces", "namespace", &Namespace)
        .cluster_scoped()
        .short_names(&["ns"])
        .subresources(&["status", "finalize"]);

impl Strategy for Namespace {
    fn field_labels(&self) -> &'static [&'static str] {
        &["status.phase"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::Namespace>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::Namespace>(g))
    }
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }
    fn verbs(&self) -> &'static [&'static str] {
        &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ]
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_namespace(obj)
    }
    fn prepare_update(&self, new: &mut Value, old: &Value) {
        keep_spec_finalizers(new, old)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_namespace(obj, errs)
    }
    fn mark_deleting(&self, obj: &mut Value) {
        obj["status"]["phase"] = json!("Terminating")
    }
    fn has_spec_finalizers(&self) -> bool {
        true
    }
    fn columns(&self) -> &'static [Column] {
        NAMESPACE_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        namespace_cells(obj, now)
    }
}

/// `ValidateNamespace`: the name (a DNS label) is checked with the metadata;
/// `spec.finalizers` must be standard or fully qualified names.
fn validate_namespace(obj: &Value, errs: &mut Errs) {
    let Some(ns) = typed::<core::Namespace>(obj, errs) else {
        return;
    };
    let finalizers = ns.spec.and_then(|s| s.finalizers).unwrap_or_default();
    for (i, f) in finalizers.iter().enumerate() {
        let f = f.as_str();
        let p = format!("spec.finalizers[{i}]");
        let msgs = names::is_qualified_name(f);
        if !msgs.is_empty() {
            for msg in msgs {
                errs.push(FieldError::invalid(p.clone(), Value::from(f), msg));
            }
        } else if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                p,
                Value::from(f),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

/// `SetDefaults_Namespace`/`SetDefaults_NamespaceStatus` and the namespace
/// strategy's `kubernetes` finalizer.
fn default_namespace(ns: &mut Obj) {
    let name = ns
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let deleting = ns
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|v| !v.is_null());
    if !name.is_empty() {
        if let Some(labels) = child(ns, "metadata").and_then(|m| child(m, "labels")) {
            labels.insert(NAMESPACE_NAME_LABEL.into(), json!(name));
        }
    }
    // Only before deletion starts: once the namespace controller has
    // finalized it, the list must stay empty.
    if !deleting {
        if let Some(spec) = child(ns, "spec") {
            default_value(spec, "finalizers", json!(["kubernetes"]));
        }
    }
    if let Some(status) = child(ns, "status") {
        default_value(status, "phase", json!("Active"));
    }
}

const NAMESPACE_COLUMNS: &[Column] = &[NAME, string("Status", "The status of the namespace"), AGE];

fn namespace_cells(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_cell(ns),
        text(ns, "/status/phase").into(),
        age_cell(ns, now),
    ]
}

/// `spec.finalizers` belong to the namespace controller (through `finalize`):
/// an update keeps the stored ones, as the namespace strategy does.
fn keep_spec_finalizers(new: &mut Value, old: &Value) {
    let old_finalizers = old.pointer("/spec/finalizers").cloned();
    if let Some(spec) = new.as_object_mut().and_then(|n| child(n, "spec")) {
        match old_finalizers {
            Some(f) => {
                spec.insert("finalizers".into(), f);
            }
            None => {
                spec.remove("finalizers");
            }
        }
    }
}
