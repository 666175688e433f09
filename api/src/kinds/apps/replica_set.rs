//! ReplicaSet (apps/v1): keeps a number of identical pods running.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::apps::v1 as apps;

/// The ReplicaSet strategy.
pub struct ReplicaSet;

/// `replicasets` in apps/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    "replicaset",
    &ReplicaSet,
)
.short_names(&["rs"])
.categories(&["all"])
.subresources(&["status", "scale"]);

impl Strategy for ReplicaSet {
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj.pointer("/spec/template").unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(template, "spec.template")
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["status.replicas"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::ReplicaSet>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::apps::v1::ReplicaSet>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_replica_set(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_replica_set(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        immutable_spec_selector(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        REPLICASET_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        replicaset_cells(obj, now)
    }
}

fn validate_replica_set(obj: &Value, errs: &mut Errs) {
    let Some(rs) = typed::<apps::ReplicaSet>(obj, errs) else {
        return;
    };
    let spec = rs.spec.unwrap_or_default();
    non_negative(spec.replicas, "spec.replicas", errs);
    non_negative(spec.min_ready_seconds, "spec.minReadySeconds", errs);
    let selector = is_present(obj, "/spec/selector").then_some(&spec.selector);
    let selector = validate_workload_selector(selector, "deployment", errs);
    let template = spec.template.unwrap_or_default();
    validate_replica_template(&template, selector.as_ref(), "ReplicaSet", errs);
}

/// `SetDefaults_ReplicaSet`.
fn default_replica_set(rs: &mut Obj) {
    let Some(spec) = child(rs, "spec") else {
        return;
    };
    default_value(spec, "replicas", json!(1));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
}

const REPLICASET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    col("Current", "integer", "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    col("Ready", "integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

fn replicaset_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(rs, "/spec/template/spec/containers");
    vec![
        name_cell(rs),
        json!(desired_replicas(rs)),
        json!(int(rs, "/status/replicas")),
        json!(int(rs, "/status/readyReplicas")),
        age_cell(rs, now),
        names.into(),
        images.into(),
        format_label_selector(rs.pointer("/spec/selector")).into(),
    ]
}
