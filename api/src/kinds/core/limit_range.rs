//! LimitRange (core/v1): per-container defaults and bounds in a namespace.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The LimitRange strategy.
pub struct LimitRange;

/// `limitranges` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "LimitRange",
    "limitranges",
    "limitrange",
    &LimitRange,
)
.short_names(&["limits"]);

impl Strategy for LimitRange {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::LimitRange>(obj))
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_limit_range(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_limit_range(obj, errs)
    }
    // No printer in kube-apiserver: its generic `NAME  CREATED AT` table.
    fn columns(&self) -> &'static [Column] {
        GENERIC_COLUMNS
    }
    fn cells(&self, obj: &Value, _: Timestamp) -> Vec<Value> {
        generic_cells(obj)
    }
}

fn validate_limit_range(obj: &Value, errs: &mut Errs) {
    let Some(lr) = typed::<core::LimitRange>(obj, errs) else {
        return;
    };
    for (i, item) in lr.spec.unwrap_or_default().limits.iter().enumerate() {
        let p = format!("spec.limits[{i}]");
        match item.type_.as_str() {
            "Pod" | "Container" | "PersistentVolumeClaim" => {}
            "" => errs.push(FieldError::required(format!("{p}.type"), "")),
            other => errs.push(FieldError::not_supported(
                format!("{p}.type"),
                Value::from(other),
                &["Container", "PersistentVolumeClaim", "Pod"],
            )),
        }
        let lists = [
            &item.max,
            &item.min,
            &item.default,
            &item.default_request,
            &item.max_limit_request_ratio,
        ];
        for (key, list) in LIMIT_KINDS.iter().zip(lists) {
            validate_resource_list(&json_of(list), &format!("{p}.{key}"), errs);
        }
    }
}

/// `SetDefaults_LimitRangeItem`: for `Container` items, default limits come
/// from `max`, default requests from the default limits, then from `min`.
fn default_limit_range(lr: &mut Obj) {
    let Some(spec) = existing(lr, "spec") else {
        return;
    };
    for item in each_item(spec, "limits") {
        for key in LIMIT_KINDS {
            if let Some(list) = existing(item, key) {
                canonicalize_quantities(list);
            }
        }
        if str_at(item, "type") != Some("Container") {
            continue;
        }
        let get = |item: &Obj, k: &str| {
            item.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let mut default = get(item, "default");
        for (k, v) in get(item, "max") {
            default.entry(k).or_insert(v);
        }
        let mut default_request = get(item, "defaultRequest");
        for (k, v) in default.iter().chain(get(item, "min").iter()) {
            default_request.entry(k.clone()).or_insert(v.clone());
        }
        if !default.is_empty() {
            item.insert("default".into(), Value::Object(default));
        }
        if !default_request.is_empty() {
            item.insert("defaultRequest".into(), Value::Object(default_request));
        }
    }
}

/// The resource lists of a LimitRange item.
const LIMIT_KINDS: [&str; 5] = [
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];
