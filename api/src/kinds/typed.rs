//! The typed boundary: an object is decoded into its kind's Go-equivalent
//! type (the k8s-openapi struct) as kube-apiserver decodes a body into its
//! Go struct, so that `"replicas": "three"` is refused with Kubernetes'
//! words instead of being stored, and fields the type does not declare are
//! found for `fieldValidation` (Ignore / Warn / Strict) to act on.
//!
//! minik keeps working on the JSON it was given (the decode is a check, not
//! a rewrite): the stored object keeps the client's spelling of every known
//! field, and only unknown fields are dropped, as Kubernetes drops them.
//! Simplified on purpose: a type error names the kind where Go names the
//! innermost struct (`Deployment.spec.replicas`, Go: `DeploymentSpec.spec.replicas`);
//! duplicate JSON keys are not detected (the JSON parser keeps the last).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::field_error::FieldError;

/// Why an object could not be decoded into its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A field holds a value of the wrong type: Go's `json: cannot unmarshal …`.
    Type(String),
}

/// The outcome of a successful decode: the object without the fields its
/// type does not declare (`None`: there were none, the object stands as
/// given), and the paths of those fields
/// (`spec.template.spec.containers[0].imagePullPolice`).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub object: Option<Value>,
    pub unknown_fields: Vec<String>,
}

/// The OpenAPI schema of `T` as a `$ref` into `g`'s definitions (k8s-openapi
/// names each type as Kubernetes' OpenAPI does: `io.k8s.api.apps.v1.Deployment`).
pub fn schema_of<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> Value {
    serde_json::to_value(g.subschema_for::<T>()).unwrap_or(Value::Null)
}

/// Decodes `obj` as `T` and reports what `T` leaves out. Used by the kind
/// files' [`super::Strategy::decode`].
pub fn decode_as<T: DeserializeOwned + Serialize>(obj: &Value) -> Result<Decoded, DecodeError> {
    let typed: T = serde_path_to_error::deserialize(obj).map_err(|e| {
        let path = e.path().to_string();
        DecodeError::Type(match base64_error(obj, e.path(), e.inner()) {
            Some(byte) => format!("illegal base64 data at input byte {byte}"),
            None => go_message(&path, e.inner()),
        })
    })?;
    let round_trip = serde_json::to_value(&typed).expect("k8s-openapi types serialize");
    // Almost every object has no unknown field: look before copying.
    if !has_unknown(obj, &round_trip) {
        return Ok(Decoded {
            object: None,
            unknown_fields: Vec::new(),
        });
    }
    let mut object = obj.clone();
    let mut unknown_fields = Vec::new();
    drop_unknown(&mut object, &round_trip, "", &mut unknown_fields);
    Ok(Decoded {
        object: Some(object),
        unknown_fields,
    })
}

/// The typed form of an object about to be validated. Validation runs on
/// objects that passed [`decode_as`] at the boundary (and defaulting, which
/// writes only well-typed values), so this does not fail for type reasons;
/// should it fail anyway, the failure is reported as a field error on the
/// object rather than a panic.
pub fn typed<T: DeserializeOwned>(obj: &Value, errs: &mut Vec<FieldError>) -> Option<T> {
    match serde_path_to_error::deserialize(obj) {
        Ok(t) => Some(t),
        Err(e) => {
            errs.push(FieldError::invalid(
                e.path().to_string(),
                Value::Null,
                go_message(&e.path().to_string(), e.inner()),
            ));
            None
        }
    }
}

/// Whether `obj` holds a non-null value at `pointer` (`/spec/selector`).
/// k8s-openapi gives a required field its default when it is absent, where
/// Go's pointer stays nil: where Kubernetes tells absent from empty (an
/// apps/v1 `spec.selector`), the kind file asks the JSON.
pub fn is_present(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer).is_some_and(|v| !v.is_null())
}

/// Whether `given` holds a non-null field absent from `known`: what
/// [`drop_unknown`] would remove, found without copying or naming paths.
fn has_unknown(given: &Value, known: &Value) -> bool {
    match (given, known) {
        (Value::Object(g), Value::Object(k)) => g.iter().any(|(key, value)| match k.get(key) {
            Some(known_child) => has_unknown(value, known_child),
            None => !value.is_null(),
        }),
        (Value::Array(g), Value::Array(k)) if g.len() == k.len() => g
            .iter()
            .zip(k)
            .any(|(item, known_item)| has_unknown(item, known_item)),
        _ => false,
    }
}

/// Removes from `given` every non-null field absent from `known` (the typed
/// round trip), recording its path.
fn drop_unknown(given: &mut Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (given, known) {
        (Value::Object(g), Value::Object(k)) => {
            g.retain(|key, value| {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(known_child) => {
                        drop_unknown(value, known_child, &child, out);
                        true
                    }
                    // An explicit null is "unset", which every type accepts.
                    None if value.is_null() => true,
                    None => {
                        out.push(child);
                        false
                    }
                }
            });
        }
        (Value::Array(g), Value::Array(k)) if g.len() == k.len() => {
            for (i, (item, known_item)) in g.iter_mut().zip(k).enumerate() {
                drop_unknown(item, known_item, &format!("{path}[{i}]"), out);
            }
        }
        // Free-form values (labels, RawExtension, FieldsV1) come back whole.
        _ => {}
    }
}

/// serde's error in the words of Go's `encoding/json`:
/// `json: cannot unmarshal string into Go struct field .spec.replicas of type int32`.
fn go_message(path: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json: `invalid type: string "three", expected i32` or
    // `invalid value: integer `1099511627776`, expected i32`.
    let text = text.split(" at line ").next().unwrap_or(&text);
    let Some((found, expected)) = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "))
    else {
        return format!("json: {text} (at {path})");
    };
    let go_found = if found.starts_with("string") {
        "string".to_string()
    } else if let Some(n) = found
        .strip_prefix("integer `")
        .or_else(|| found.strip_prefix("floating point `"))
    {
        format!("number {}", n.trim_end_matches('`'))
    } else if found.starts_with("boolean") {
        "bool".to_string()
    } else if found == "map" {
        "object".to_string()
    } else if found == "sequence" {
        "array".to_string()
    } else {
        found.to_string()
    };
    let go_type = match expected {
        "i32" => "int32",
        "i64" => "int64",
        "u32" => "uint32",
        "u64" => "uint64",
        "f64" => "float64",
        "a boolean" => "bool",
        "a string" => "string",
        "a sequence" => "[]interface {}",
        "a map" => "map[string]string",
        other => other.strip_prefix("struct ").unwrap_or(other),
    };
    let field = if path == "." {
        String::new()
    } else {
        format!(".{path}")
    };
    format!("json: cannot unmarshal {go_found} into Go struct field {field} of type {go_type}")
}

/// For a field of `[]byte` (Secret data) that is not base64, the input
/// byte Go's decoder names in `illegal base64 data at input byte N`: the
/// first byte outside the alphabet, or the start of an incomplete last
/// quantum. `None` for any other error.
fn base64_error(
    obj: &Value,
    path: &serde_path_to_error::Path,
    e: &serde_json::Error,
) -> Option<usize> {
    let text = e.to_string();
    let base64 = [
        "Invalid symbol",
        "Invalid last symbol",
        "Invalid input length",
        "Invalid padding",
    ];
    if !base64.iter().any(|p| text.starts_with(p)) {
        return None;
    }
    let mut value = obj;
    for segment in path.iter() {
        value = match segment {
            serde_path_to_error::Segment::Map { key } => value.get(key)?,
            serde_path_to_error::Segment::Seq { index } => value.get(index)?,
            _ => return None,
        };
    }
    let data = value.as_str()?.as_bytes();
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    Some(
        data.iter()
            .position(|b| !alphabet(b))
            .unwrap_or(data.len() - data.len() % 4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec})
    }

    #[test]
    fn wrong_types_are_refused_in_go_words() {
        let cases = [
            (json!("three"), "cannot unmarshal string into Go struct field .spec.replicas of type int32"),
            (json!(1.5), "cannot unmarshal number 1.5 into Go struct field .spec.replicas of type int32"),
            (json!(1u64 << 40), "cannot unmarshal number 1099511627776 into Go struct field .spec.replicas of type int32"),
        ];
        for (replicas, want) in cases {
            let obj = deployment(json!({"replicas": replicas, "selector": {}, "template": {}}));
            match decode_as::<Deployment>(&obj) {
                Err(DecodeError::Type(msg)) => assert!(msg.ends_with(want), "{msg}"),
                other => panic!("{replicas}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_base64_is_worded_as_go_words_it() {
        use k8s_openapi::api::core::v1::Secret;
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                            "data": {"tls.crt": "LS0tLS1CRUdJTi..."}});
        match decode_as::<Secret>(&secret) {
            Err(DecodeError::Type(msg)) => assert_eq!(msg, "illegal base64 data at input byte 14"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_fields_are_found_and_dropped() {
        let obj = deployment(json!({
            "replicas": 2,
            "lables": {"a": "b"},
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePullPolice": "Always"}]}},
            "paused": null,
        }));
        let d = decode_as::<Deployment>(&obj).unwrap();
        assert_eq!(
            d.unknown_fields,
            [
                "spec.lables",
                "spec.template.spec.containers[0].imagePullPolice"
            ]
        );
        let object = d.object.unwrap();
        assert!(object["spec"].get("lables").is_none());
        assert_eq!(object["spec"]["replicas"], 2);
        assert_eq!(object["spec"]["selector"]["matchLabels"]["app"], "x");
        // An explicit null is "unset": not unknown, and nothing to drop.
        let clean = deployment(json!({
            "replicas": 2,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
            "paused": null,
        }));
        let d = decode_as::<Deployment>(&clean).unwrap();
        assert!(d.unknown_fields.is_empty() && d.object.is_none(), "{d:?}");
    }
}
