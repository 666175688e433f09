//! Reading fields of the untyped JSON objects miniktl handles. A missing
//! field reads as empty (`""`, `[]`), as kubectl's unstructured accessors
//! read it, so callers print `<none>` or nothing instead of failing.

use serde_json::Value;

/// The string at a JSON pointer (`/spec/nodeName`), `""` when missing.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The array at a JSON pointer (`/status/conditions`), empty when missing.
pub fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
