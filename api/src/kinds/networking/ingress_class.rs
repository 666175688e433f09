//! IngressClass (networking.k8s.io/v1): which controller serves an Ingress.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::networking::v1 as networking;

/// The IngressClass strategy.
pub struct IngressClass;

/// `ingressclasses` in networking.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "networking.k8s.io",
    "v1",
    "IngressClass",
    "ingressclasses",
    "ingressclass",
    &IngressClass,
)
.cluster_scoped();

impl Strategy for IngressClass {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::networking::v1::IngressClass>(
            obj,
        ))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::networking::v1::IngressClass>(
            g,
        ))
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_ingress_class(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_ingress_class_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        INGRESSCLASS_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        ingressclass_cells(obj, now)
    }
}

fn validate_ingress_class(obj: &Value, errs: &mut Errs) {
    let Some(ic) = typed::<networking::IngressClass>(obj, errs) else {
        return;
    };
    if ic
        .spec
        .and_then(|s| s.controller)
        .unwrap_or_default()
        .is_empty()
    {
        errs.push(FieldError::required("spec.controller", ""));
    }
}

/// The controller of a class never changes.
fn validate_ingress_class_update(new: &Value, old: &Value, errs: &mut Errs) {
    let controller = |obj: &Value, errs: &mut Errs| {
        typed::<networking::IngressClass>(obj, errs).map(|ic| ic.spec.and_then(|s| s.controller))
    };
    if let (Some(new), Some(old)) = (controller(new, errs), controller(old, errs)) {
        immutable(&new, &old, "spec.controller", errs);
    }
}

const INGRESSCLASS_COLUMNS: &[Column] = &[
    NAME,
    string(
        "Controller",
        "Controller that is responsible for handling this class",
    ),
    string(
        "Parameters",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

fn ingressclass_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match class.pointer("/spec/parameters").filter(|p| !p.is_null()) {
        None => "<none>".to_string(),
        Some(p) => {
            let kind = match p.get("apiGroup").and_then(Value::as_str) {
                Some(group) => format!("{}.{group}", text(p, "/kind")),
                None => text(p, "/kind").to_string(),
            };
            format!("{kind}/{}", text(p, "/name"))
        }
    };
    vec![
        name_cell(class),
        text(class, "/spec/controller").into(),
        parameters.into(),
        age_cell(class, now),
    ]
}
