//! Structural OpenAPI v3 schemas, as a CustomResourceDefinition declares
//! them (`spec.versions[].schema.openAPIV3Schema`): what kube-apiserver does
//! with one for each custom object it stores, in its order — prune the
//! fields the schema does not declare, fill in `default`s, then validate.
//!
//! Validation messages are kube-openapi's, converted to field errors as
//! apiextensions-apiserver converts them (`spec.replicas: Invalid value:
//! "string": spec.replicas in body must be of type integer: "string"`).
//!
//! CEL rules (`x-kubernetes-validations`) are [`crate::cel_rules`]'.
//!
//! minik simplifies: `allOf`/`anyOf`/`oneOf`/`not` are not evaluated (the
//! CRD strategy warns when a schema uses them), and formats other than
//! those in [`format_ok`] are accepted as any string.

use serde_json::{json, Map, Value};

use crate::field_error::{ErrorType, FieldError};

/// Fields every object keeps whatever its schema says.
const OBJECT_ROOT: &[&str] = &["apiVersion", "kind", "metadata"];

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == json!(true)
}

fn embedded(schema: &Value) -> bool {
    schema["x-kubernetes-embedded-resource"] == json!(true)
}

/// The schema for `key` of an object: its property, else `additionalProperties`.
fn property<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    schema
        .get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

// ---------------------------------------------------------------------------
// Pruning
// ---------------------------------------------------------------------------

/// Drops what `schema` does not declare from `obj` (the object's root, where
/// `apiVersion`, `kind` and `metadata` always stay) and returns the dropped
/// paths (`spec.replicaz`), which `fieldValidation` reports.
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut dropped = Vec::new();
    prune_at(schema, obj, "", true, &mut dropped);
    dropped.sort();
    dropped
}

fn prune_at(schema: &Value, value: &mut Value, path: &str, root: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let keep_all = preserves_unknown(schema) && schema.get("properties").is_none()
                || schema["additionalProperties"] == json!(true);
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let kept_by_shape = (root || embedded(schema)) && OBJECT_ROOT.contains(&&*key);
                match property(schema, &key) {
                    _ if kept_by_shape => {}
                    Some(sub) => {
                        if let Some(v) = map.get_mut(&key) {
                            prune_at(sub, v, &child(path, &key), false, out);
                        }
                    }
                    None if keep_all || preserves_unknown(schema) => {}
                    None => {
                        map.remove(&key);
                        out.push(child(path, &key));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(sub, item, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Defaulting
// ---------------------------------------------------------------------------

/// Fills in every `default` the schema gives for a field that is absent (or
/// null where null is not allowed), at every depth, as kube-apiserver does
/// when it decodes a custom object.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    match obj {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    let Some(default) = sub.get("default") else {
                        continue;
                    };
                    let missing = match map.get(key) {
                        None => true,
                        Some(Value::Null) => sub["nullable"] != json!(true),
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(key.clone(), default.clone());
                    }
                }
            }
            for (key, v) in map.iter_mut() {
                if let Some(sub) = property(schema, key) {
                    apply_defaults(sub, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for item in items {
                    apply_defaults(sub, item);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// JSON's name for a value's type, as kube-openapi reports it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// `field.TypeInvalid` with kube-openapi's `must be of type` detail.
fn type_error(path: &str, expected: &str, actual: &str) -> FieldError {
    FieldError::invalid(
        path,
        json!(actual),
        format!("{path} in body must be of type {expected}: \"{actual}\""),
    )
}

/// Checks `obj` against `schema`; errors are added in the order kube-openapi
/// finds them for one field (type, then the field's own rules, then its
/// children).
pub fn validate(schema: &Value, obj: &Value, errs: &mut Vec<FieldError>) {
    validate_at(schema, obj, "", true, errs);
}

fn validate_at(schema: &Value, value: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    if value.is_null() {
        if schema["nullable"] == json!(true) || schema.get("type").is_none() {
            return;
        }
        let expected = schema["type"].as_str().unwrap_or("object");
        errs.push(type_error(path, expected, "null"));
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == json!(true);
    if int_or_string {
        if !is_integer(value) && !value.is_string() {
            errs.push(type_error(path, "integer-or-string", type_name(value)));
            return;
        }
    } else if let Some(expected) = schema["type"].as_str() {
        let ok = match expected {
            "integer" => is_integer(value),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !ok {
            errs.push(type_error(path, expected, type_name(value)));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            let listed: Vec<String> = allowed
                .iter()
                .map(|a| {
                    a.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| a.to_string())
                })
                .collect();
            let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
            errs.push(FieldError::not_supported(path, value.clone(), &refs));
        }
    }
    match value {
        Value::String(s) => validate_string(schema, s, value, path, errs),
        Value::Number(_) => validate_number(schema, value, path, errs),
        Value::Array(items) => validate_array(schema, items, value, path, errs),
        Value::Object(map) => validate_object(schema, map, path, root, errs),
        _ => {}
    }
}

fn validate_string(schema: &Value, s: &str, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let chars = s.chars().count() as u64;
    if let Some(max) = schema["maxLength"].as_u64() {
        if chars > max {
            errs.push(FieldError {
                kind: ErrorType::TooLong,
                field: path.to_string(),
                value: None,
                detail: format!("may not be more than {max} bytes"),
            });
        }
    }
    if let Some(min) = schema["minLength"].as_u64() {
        if chars < min {
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should be at least {min} chars long"),
            ));
        }
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        // The CRD's validation has compiled every pattern already.
        if let Ok(re) = regex::Regex::new(pattern) {
            if !re.is_match(s) {
                errs.push(FieldError::invalid(
                    path,
                    value.clone(),
                    format!("{path} in body should match '{pattern}'"),
                ));
            }
        }
    }
    if let Some(format) = schema["format"].as_str() {
        if !format_ok(format, s) {
            errs.push(type_error(path, format, s));
        }
    }
}

/// The string formats kube-openapi checks that minik checks too.
pub fn format_ok(format: &str, s: &str) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr};
    match format {
        "date-time" | "datetime" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.parse::<jiff::civil::Date>().is_ok(),
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            let max = if ip.parse::<Ipv4Addr>().is_ok() {
                32
            } else if ip.parse::<Ipv6Addr>().is_ok() {
                128
            } else {
                return false;
            };
            bits.parse::<u8>().is_ok_and(|b| b <= max)
        }),
        "uuid" => {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            s.len() == 36 && hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        "hostname" => crate::names::is_dns1123_subdomain(s).is_empty(),
        _ => true,
    }
}

fn validate_number(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let n = value.as_f64().unwrap_or(0.0);
    let shown = |limit: &Value| limit.to_string();
    if let Some(max) = schema.get("maximum").filter(|m| m.is_number()) {
        let limit = max.as_f64().unwrap_or(f64::MAX);
        let exclusive = schema["exclusiveMaximum"] == json!(true);
        if n > limit || (exclusive && n == limit) {
            let rule = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should be {rule} {}", shown(max)),
            ));
        }
    }
    if let Some(min) = schema.get("minimum").filter(|m| m.is_number()) {
        let limit = min.as_f64().unwrap_or(f64::MIN);
        let exclusive = schema["exclusiveMinimum"] == json!(true);
        if n < limit || (exclusive && n == limit) {
            let rule = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should be {rule} {}", shown(min)),
            ));
        }
    }
    if let Some(m) = schema["multipleOf"].as_f64().filter(|m| *m > 0.0) {
        if (n / m).fract() != 0.0 {
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!(
                    "{path} in body should be a multiple of {}",
                    schema["multipleOf"]
                ),
            ));
        }
    }
}

fn validate_array(
    schema: &Value,
    items: &[Value],
    value: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    if let Some(max) = schema["maxItems"].as_u64() {
        if items.len() as u64 > max {
            errs.push(FieldError {
                kind: ErrorType::TooMany,
                field: path.to_string(),
                value: Some(json!(items.len())),
                detail: format!("must have at most {max} items"),
            });
        }
    }
    if let Some(min) = schema["minItems"].as_u64() {
        if (items.len() as u64) < min {
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should have at least {min} items"),
            ));
        }
    }
    match schema["x-kubernetes-list-type"].as_str() {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errs.push(FieldError::duplicate(format!("{path}[{i}]"), item.clone()));
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
                .as_array()
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key_of = |item: &Value| -> Map<String, Value> {
                keys.iter()
                    .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect()
            };
            for (i, item) in items.iter().enumerate() {
                let key = key_of(item);
                if items[..i].iter().any(|other| key_of(other) == key) {
                    errs.push(FieldError::duplicate(
                        format!("{path}[{i}]"),
                        Value::Object(key),
                    ));
                }
            }
        }
        _ => {}
    }
    if let Some(sub) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            validate_at(sub, item, &format!("{path}[{i}]"), false, errs);
        }
    }
}

fn validate_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    root: bool,
    errs: &mut Vec<FieldError>,
) {
    if let Some(required) = schema["required"].as_array() {
        for r in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                errs.push(FieldError::required(child(path, r), ""));
            }
        }
    }
    if embedded(schema) {
        for r in ["apiVersion", "kind"] {
            if map.get(r).and_then(Value::as_str).is_none_or(str::is_empty) {
                errs.push(FieldError::required(child(path, r), "must not be empty"));
            }
        }
    }
    if let Some(max) = schema["maxProperties"].as_u64() {
        if map.len() as u64 > max {
            errs.push(FieldError {
                kind: ErrorType::TooMany,
                field: path.to_string(),
                value: Some(json!(map.len())),
                detail: format!("must have at most {max} items"),
            });
        }
    }
    if let Some(min) = schema["minProperties"].as_u64() {
        if (map.len() as u64) < min {
            errs.push(FieldError::invalid(
                path,
                Value::Object(map.clone()),
                format!("{path} in body should have at least {min} properties"),
            ));
        }
    }
    for (key, v) in map {
        if (root || embedded(schema)) && OBJECT_ROOT.contains(&key.as_str()) {
            continue;
        }
        if let Some(sub) = property(schema, key) {
            validate_at(sub, v, &child(path, key), false, errs);
        }
    }
}

// ---------------------------------------------------------------------------
// Checking a schema itself (the CRD's validation)
// ---------------------------------------------------------------------------

/// What kube-apiserver refuses in a CRD's schema (the part of its
/// structural-schema rules minik checks), at `path`.
pub fn check_schema(schema: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    let Some(map) = schema.as_object() else {
        errs.push(FieldError::invalid(
            path,
            schema.clone(),
            "must be an object",
        ));
        return;
    };
    crate::cel_rules::check_rules(schema, path, errs);
    let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
    if root && ty != "object" {
        if ty.is_empty() {
            errs.push(FieldError::required(
                child(path, "type"),
                "must not be empty at the root",
            ));
        } else {
            errs.push(FieldError::invalid(
                child(path, "type"),
                json!(ty),
                "must be object at the root",
            ));
        }
    }
    let allowed_types = [
        "", "object", "array", "string", "integer", "number", "boolean",
    ];
    if !allowed_types.contains(&ty) {
        errs.push(FieldError::not_supported(
            child(path, "type"),
            json!(ty),
            &allowed_types[1..],
        ));
    }
    let special = preserves_unknown(schema)
        || map.get("x-kubernetes-int-or-string") == Some(&json!(true))
        || embedded(schema);
    if ty.is_empty() && !root && !special {
        errs.push(FieldError::required(
            child(path, "type"),
            "must not be empty for specified object fields",
        ));
    }
    if ty == "array" && !map.contains_key("items") {
        errs.push(FieldError::required(
            child(path, "items"),
            "must be specified",
        ));
    }
    if map.get("uniqueItems") == Some(&json!(true)) {
        errs.push(FieldError::forbidden(
            child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(p) = map.get("pattern").and_then(Value::as_str) {
        if regex::Regex::new(p).is_err() {
            errs.push(FieldError::invalid(
                child(path, "pattern"),
                json!(p),
                "must be a valid regular expression",
            ));
        }
    }
    if map.contains_key("properties")
        && map
            .get("additionalProperties")
            .is_some_and(|a| a != &json!(false))
    {
        errs.push(FieldError::forbidden(
            child(path, "additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            check_schema(sub, &format!("{path}.properties[{k}]"), false, errs);
        }
    }
    if let Some(items) = map.get("items") {
        check_schema(items, &child(path, "items"), false, errs);
    }
    if let Some(extra) = map.get("additionalProperties").filter(|a| a.is_object()) {
        check_schema(extra, &child(path, "additionalProperties"), false, errs);
    }
}

/// Keywords minik stores but does not evaluate, anywhere in `schema`.
pub fn unevaluated_keywords(schema: &Value, out: &mut std::collections::BTreeSet<&'static str>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    for k in ["allOf", "anyOf", "oneOf", "not"] {
        if map.contains_key(k) {
            out.insert(k);
        }
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for sub in props.values() {
            unevaluated_keywords(sub, out);
        }
    }
    for k in ["items", "additionalProperties"] {
        if let Some(sub) = map.get(k) {
            unevaluated_keywords(sub, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "minLength": 1},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "size": {"type": "string", "enum": ["small", "large"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn prunes_undeclared_fields_and_keeps_preserved_ones() {
        let mut obj = json!({
            "apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "a"},
            "spec": {"image": "nginx", "replicaz": 3, "labels": {"a": "b"}, "free": {"any": {"thing": 1}}},
            "extra": true
        });
        let dropped = prune(&schema(), &mut obj);
        assert_eq!(
            dropped,
            vec!["extra".to_string(), "spec.replicaz".to_string()]
        );
        assert_eq!(obj["spec"]["free"]["any"]["thing"], json!(1));
        assert_eq!(obj["spec"]["labels"]["a"], json!("b"));
        assert_eq!(obj["metadata"]["name"], json!("a"));
    }

    #[test]
    fn defaults_absent_fields() {
        let mut obj = json!({"spec": {"image": "nginx"}});
        apply_defaults(&schema(), &mut obj);
        assert_eq!(obj["spec"]["replicas"], json!(1));
    }

    #[test]
    fn validation_messages_read_like_kube_apiservers() {
        let obj = json!({"spec": {"replicas": "three", "size": "huge", "port": true, "tags": ["a", "a"], "image": ""}});
        let mut errs = Vec::new();
        validate(&schema(), &obj, &mut errs);
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert!(msgs.contains(&"spec.image: Invalid value: \"\": spec.image in body should be at least 1 chars long".to_string()), "{msgs:?}");
        assert!(msgs.contains(&"spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"".to_string()), "{msgs:?}");
        assert!(
            msgs.contains(
                &"spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\""
                    .to_string()
            ),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"spec.tags[1]: Duplicate value: \"a\"".to_string()),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("spec.port: Invalid value: \"boolean\"")),
            "{msgs:?}"
        );
        let mut errs = Vec::new();
        validate(&schema(), &json!({"spec": {"replicas": 11}}), &mut errs);
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.image: Required value".to_string(),
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10".to_string()
            ]
        );
    }
}
