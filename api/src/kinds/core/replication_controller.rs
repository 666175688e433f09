//! ReplicationController (core/v1): the ReplicaSet's predecessor, still
//! served by Kubernetes and still in tutorials (the guestbook) and in
//! kubectl's default `apply --prune` allowlist. Its selector is a plain
//! label map; the controller is the ReplicaSet controller's (as in
//! Kubernetes, which runs it through a conversion).
//!
//! Its strategy: served resource, typed form, defaulting
//! (`SetDefaults_ReplicationController`: the selector and labels from the
//! template's labels, one replica), validation
//! (`ValidateReplicationControllerSpec`), status and scale subresources,
//! kubectl's columns.

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The ReplicationController strategy.
pub struct ReplicationController;

/// `replicationcontrollers` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "ReplicationController",
    "replicationcontrollers",
    "replicationcontroller",
    &ReplicationController,
)
.short_names(&["rc"])
.categories(&["all"])
.subresources(&["status", "scale"]);

impl Strategy for ReplicationController {
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj.pointer("/spec/template").unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(template, "spec.template")
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["status.replicas"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<core::ReplicationController>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<core::ReplicationController>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_rc(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_rc(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        RC_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let (names, images) = container_cells(obj, "/spec/template/spec/containers");
        vec![
            name_cell(obj),
            json!(desired_replicas(obj)),
            json!(int(obj, "/status/replicas")),
            json!(int(obj, "/status/readyReplicas")),
            age_cell(obj, now),
            names.into(),
            images.into(),
            go_label_map(obj.pointer("/spec/selector")).into(),
        ]
    }
}

/// `labels.FormatLabels`-style `a=b,c=d` of a plain selector map.
fn go_label_map(selector: Option<&Value>) -> String {
    let Some(Value::Object(map)) = selector else {
        return "<none>".into();
    };
    if map.is_empty() {
        return "<none>".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `SetDefaults_ReplicationController`: an empty selector (and empty
/// labels) take the template's labels; one replica.
fn default_rc(rc: &mut Obj) {
    let template_labels = rc
        .get("spec")
        .and_then(|s| s.pointer("/template/metadata/labels"))
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(labels) = template_labels {
        if let Some(spec) = child(rc, "spec") {
            if spec
                .get("selector")
                .is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty()))
            {
                spec.insert("selector".into(), labels.clone());
            }
        }
        let meta = rc
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(meta) = meta {
            if meta
                .get("labels")
                .is_none_or(|l| l.as_object().is_none_or(|m| m.is_empty()))
            {
                meta.insert("labels".into(), labels);
            }
        }
    }
    if let Some(spec) = child(rc, "spec") {
        default_value(spec, "replicas", json!(1));
        if let Some(t) = child(spec, "template") {
            default_pod_template(t, true);
        }
    }
}

/// `ValidateReplicationControllerSpec` and `ValidatePodTemplateSpecForRC`.
fn validate_rc(obj: &Value, errs: &mut Errs) {
    let Some(rc) = typed::<core::ReplicationController>(obj, errs) else {
        return;
    };
    let spec = rc.spec.unwrap_or_default();
    non_negative(spec.replicas, "spec.replicas", errs);
    non_negative(spec.min_ready_seconds, "spec.minReadySeconds", errs);
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        errs.push(FieldError::required("spec.selector", ""));
    }
    let Some(template) = spec.template else {
        errs.push(FieldError::required("spec.template", ""));
        return;
    };
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if !selector.is_empty() && selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
        errs.push(invalid_shown(
            "spec.template.metadata.labels",
            &go_string_map(Some(&json!(labels))),
            "selector does not match template labels",
        ));
    }
    // The pod template, restart policy and deadline rules (the selector
    // match is checked above, in the RC's own words).
    validate_replica_template(&template, None, "ReplicationController", errs);
}

const RC_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
    col("Current", "integer", "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
    col("Ready", "integer", "The number of ready replicas for this replication controller."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];
