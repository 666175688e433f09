//! The `kubectl.kubernetes.io/last-applied-configuration` annotation:
//! client-side apply's memory of what the file said last time, the
//! "original" of its three-way merge (`crate::patch`). Written by `apply`
//! and `create --save-config`, read back by `apply`, hidden by `describe`.

use serde_json::Value;

use crate::printers::json;

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The object with the last-applied annotation holding its own content
/// (kubectl's `GetModifiedConfiguration(annotate=true)`).
pub fn with_last_applied(obj: &Value) -> Value {
    let mut without = obj.clone();
    let meta = without.as_object_mut().map(|m| {
        m.entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()))
    });
    if let Some(Value::Object(meta)) = meta {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(a) = annotations {
            a.remove(LAST_APPLIED);
        } else {
            *annotations = Value::Object(Default::default());
        }
    }
    let text = format!("{}\n", json::to_compact(&without));
    let mut modified = without;
    if let Some(a) = modified
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED.into(), Value::String(text));
    }
    modified
}

/// What a live object's annotation says was last applied (`None` when it
/// was created imperatively, or the annotation is not JSON).
pub fn last_applied(live: &Value) -> Option<Value> {
    live.pointer(&format!(
        "/metadata/annotations/{}",
        LAST_APPLIED.replace('/', "~1")
    ))
    .and_then(Value::as_str)
    .and_then(|s| serde_json::from_str(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_applied_matches_kubectl_shape() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "<b>"}});
        let m = with_last_applied(&obj);
        assert_eq!(
            m["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"\\u003cb\\u003e\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"c\",\"namespace\":\"default\"}}\n"
        );
        assert_eq!(last_applied(&m), Some(obj_without_annotation(&m)));
    }

    fn obj_without_annotation(m: &Value) -> Value {
        let mut o = m.clone();
        o["metadata"]["annotations"] = json!({});
        o
    }
}
