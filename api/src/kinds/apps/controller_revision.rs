//! ControllerRevision (apps/v1): an immutable snapshot of a DaemonSet's (or
//! StatefulSet's) pod template, numbered by `revision`; what `kubectl
//! rollout history|undo daemonset/x` reads and restores.
//!
//! Its strategy: served resource, typed form, validation, lifecycle rules
//! and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

/// The ControllerRevision strategy.
pub struct ControllerRevision;

/// `controllerrevisions` in apps/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apps",
    "v1",
    "ControllerRevision",
    "controllerrevisions",
    "controllerrevision",
    &ControllerRevision,
);

impl Strategy for ControllerRevision {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::ControllerRevision>(
            obj,
        ))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::apps::v1::ControllerRevision>(
            g,
        ))
    }
    /// No spec: `data` and `revision` sit at the top level.
    fn has_spec(&self) -> bool {
        false
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        if let Some(cr) = typed::<k8s_openapi::api::apps::v1::ControllerRevision>(obj, errs) {
            non_negative(Some(cr.revision), "revision", errs);
        }
    }
    /// `data` never changes; only `revision` may (a rollback renumbers the
    /// revision it returns to).
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        immutable_field(new.get("data"), old.get("data"), "data", errs)
    }
    fn columns(&self) -> &'static [Column] {
        REVISION_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        revision_cells(obj, now)
    }
}

const REVISION_COLUMNS: &[Column] = &[
    NAME,
    string(
        "Controller",
        "The controller (kind.group/name) that owns this revision.",
    ),
    col(
        "Revision",
        "integer",
        "Revision indicates the revision of the state represented by Data.",
    ),
    AGE,
];

/// `CONTROLLER` reads like kubectl's: `daemonset.apps/fluentd`.
fn revision_cells(rev: &Value, now: Timestamp) -> Vec<Value> {
    let owner = items_at(rev, "/metadata/ownerReferences")
        .iter()
        .find(|r| r["controller"] == json!(true))
        .map(|r| {
            let group = text(r, "/apiVersion").split('/').next().unwrap_or("");
            let kind = text(r, "/kind").to_lowercase();
            let name = text(r, "/name");
            match text(r, "/apiVersion").contains('/') {
                true => format!("{kind}.{group}/{name}"),
                false => format!("{kind}/{name}"),
            }
        })
        .unwrap_or_else(|| "<none>".into());
    vec![
        name_cell(rev),
        owner.into(),
        json!(int(rev, "/revision")),
        age_cell(rev, now),
    ]
}
