//! ConfigMap (core/v1): configuration data for pods.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The ConfigMap strategy.
pub struct ConfigMap;

/// `configmaps` in v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("", "v1", "ConfigMap", "configmaps", "configmap", &ConfigMap)
        .short_names(&["cm"]);

impl Strategy for ConfigMap {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::ConfigMap>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::ConfigMap>(g))
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_config_map(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_config_map_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        CONFIGMAP_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        configmap_cells(obj, now)
    }
    fn quota_usage(&self, _: &Value, _: Timestamp) -> crate::quota::ResourceList {
        [(
            "configmaps".to_string(),
            Quantity::from_value(1, Default::default()),
        )]
        .into()
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        resource == "configmaps"
    }
}

/// `ValidateConfigMap`.
fn validate_config_map(obj: &Value, errs: &mut Errs) {
    let Some(cm) = typed::<core::ConfigMap>(obj, errs) else {
        return;
    };
    let (data, binary) = (
        cm.data.unwrap_or_default(),
        cm.binary_data.unwrap_or_default(),
    );
    let mut size = validate_config_keys(data.iter().map(|(k, v)| (k, v.len())), "data", errs);
    for key in data.keys().filter(|k| binary.contains_key(*k)) {
        errs.push(FieldError::invalid(
            format!("data[{key}]"),
            Value::from(key.as_str()),
            "duplicate of key present in binaryData",
        ));
    }
    // binaryData holds base64: count decoded bytes.
    let binary_sizes = binary.iter().map(|(k, v)| (k, base64_len(v.0.len())));
    size += validate_config_keys(binary_sizes, "binaryData", errs) * 3 / 4;
    if size > MAX_SECRET_SIZE {
        errs.push(too_long("", MAX_SECRET_SIZE));
    }
}

fn validate_config_map_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (Some(n), Some(o)) = (
        typed::<core::ConfigMap>(new, errs),
        typed::<core::ConfigMap>(old, errs),
    ) else {
        return;
    };
    let fields = [
        ("data", json_of(&n.data), json_of(&o.data)),
        (
            "binaryData",
            json_of(&n.binary_data),
            json_of(&o.binary_data),
        ),
    ];
    validate_immutable_data((n.immutable, o.immutable), &fields, errs);
}

const CONFIGMAP_COLUMNS: &[Column] = &[
    NAME,
    string("Data", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
    AGE,
];

fn configmap_cells(cm: &Value, now: Timestamp) -> Vec<Value> {
    let data = len(cm, "/data") + len(cm, "/binaryData");
    vec![name_cell(cm), json!(data), age_cell(cm, now)]
}
