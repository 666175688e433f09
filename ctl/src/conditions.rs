//! Reading an object's `status.conditions` — a node's or pod's `Ready`, a
//! Deployment's `Progressing` — the way `cluster up`, `rollout status` and
//! the pod picker ask about them.

use serde_json::Value;

/// The condition of this type in `status.conditions`, if any.
pub fn find<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether the condition of this type has status `True`.
pub fn is_true(obj: &Value, type_: &str) -> bool {
    find(obj, type_).is_some_and(|c| c["status"] == "True")
}
