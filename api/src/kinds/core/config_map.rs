//! ConfigMap (core/v1): configuration data for pods.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

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
    fn has_spec(&self) -> bool {
        false
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_config_map(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_immutable_data(new, old, &["data", "binaryData"], errs)
    }
    fn columns(&self) -> &'static [Column] {
        CONFIGMAP_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        configmap_cells(obj, now)
    }
}

/// `ValidateConfigMap`.
fn validate_config_map(cm: &Value, errs: &mut Errs) {
    let mut size = validate_config_keys(cm, "data", errs);
    for key in map_of(cm, "data").into_iter().flatten().map(|(k, _)| k) {
        if map_of(cm, "binaryData").is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                format!("data[{key}]"),
                Value::from(key.as_str()),
                "duplicate of key present in binaryData",
            ));
        }
    }
    // binaryData holds base64: count decoded bytes.
    size += validate_config_keys(cm, "binaryData", errs) * 3 / 4;
    if size > MAX_SECRET_SIZE {
        errs.push(too_long("", MAX_SECRET_SIZE));
    }
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
