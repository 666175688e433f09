//! Small helpers over object metadata and time: RFC 3339 timestamps as
//! Kubernetes writes them, and the "AGE" column's human durations.

use serde_json::Value;

/// Now, as Kubernetes writes `creationTimestamp`: seconds precision, UTC, `Z`.
pub fn now_rfc3339() -> String {
    format_timestamp(jiff::Timestamp::now())
}

/// Formats a timestamp with seconds precision (`2024-01-02T03:04:05Z`).
pub fn format_timestamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 timestamp; `None` if absent or malformed.
pub fn parse_timestamp(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// `metadata.<field>` as a string, if present.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace").filter(|s| !s.is_empty())
}

/// The object's labels (empty map when it has none).
pub fn labels(obj: &Value) -> serde_json::Map<String, Value> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Kubernetes' `duration.HumanDuration`: `45s`, `5m10s`, `3h`, `2d5h`, `400d`, `3y45d`.
pub fn human_duration(secs: i64) -> String {
    if secs < 0 {
        return "<invalid>".into();
    }
    let s = secs;
    if s < 60 * 2 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let rem = s % 60;
        return if rem == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rem}s")
        };
    }
    if m < 60 * 3 {
        return format!("{m}m");
    }
    let h = m / 60;
    if h < 8 {
        let rem = m % 60;
        return if rem == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rem}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    if h < 24 * 8 {
        let d = h / 24;
        let rem = h % 24;
        return if rem == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{rem}h")
        };
    }
    if h < 24 * 365 * 2 {
        return format!("{}d", h / 24);
    }
    if h < 24 * 365 * 8 {
        let y = h / (24 * 365);
        let d = (h / 24) % 365;
        return if d == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{d}d")
        };
    }
    format!("{}y", h / (24 * 365))
}

/// Age of an object from its `creationTimestamp` relative to `now`, as `kubectl get` prints it.
pub fn age(obj: &Value, now: jiff::Timestamp) -> String {
    match meta_str(obj, "creationTimestamp").and_then(parse_timestamp) {
        Some(t) => human_duration(now.as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

/// Adds `finalizer` to the object's `metadata.finalizers` unless present.
pub fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = m
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let list = list.as_array_mut().expect("made an array above");
    if !list.iter().any(|f| f.as_str() == Some(finalizer)) {
        list.push(Value::from(finalizer));
    }
}

/// The fields of `ObjectMeta` in the order Go writes them.
const OBJECT_META_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Puts an object's fields in the order kube-apiserver writes them (its Go
/// structs' order): `kind`, `apiVersion`, `metadata` (in `ObjectMeta`'s
/// order), the kind's own fields as they came, `status` last. Clients that
/// compare bytes or report positions then see what they would see from
/// Kubernetes. (minik keeps the order of the kind's own fields as written,
/// which for `spec` and most kinds is already Go's.)
pub fn go_field_order(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    order_by_rank(map, |key| match key {
        "kind" => 0,
        "apiVersion" => 1,
        "metadata" => 2,
        "status" => 4,
        _ => 3,
    });
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        order_by_rank(meta, |key| {
            OBJECT_META_ORDER
                .iter()
                .position(|k| *k == key)
                .unwrap_or(OBJECT_META_ORDER.len())
        });
    }
}

/// Orders `map`'s keys by `rank`, keys of one rank in the order they came
/// (a stable sort). Nothing moves when they are in order already, as a
/// stored object being written again is.
fn order_by_rank(map: &mut serde_json::Map<String, Value>, rank: impl Fn(&str) -> usize) {
    let ranks = map.keys().map(|k| rank(k));
    if ranks.clone().zip(ranks.skip(1)).all(|(a, b)| a <= b) {
        return;
    }
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by_key(|(k, _)| rank(k));
    map.extend(entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubernetes() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(130), "2m10s");
        assert_eq!(human_duration(60 * 30), "30m");
        assert_eq!(human_duration(3600 * 5 + 60 * 7), "5h7m");
        assert_eq!(human_duration(3600 * 30), "30h");
        assert_eq!(human_duration(3600 * 24 * 3 + 3600 * 2), "3d2h");
        assert_eq!(human_duration(3600 * 24 * 100), "100d");
    }

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(format_timestamp(t), "2024-01-02T03:04:05Z");
    }
}

#[cfg(test)]
mod field_order_tests {
    use super::*;
    use serde_json::json;

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn go_order_keeps_the_kinds_own_fields_as_they_came() {
        // Already in order: a write leaves it as it is, every time.
        let mut binding = json!({"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "b", "resourceVersion": "1", "x-unknown": 1, "uid": "u"},
            "roleRef": {}, "subjects": []});
        for _ in 0..2 {
            go_field_order(&mut binding);
            assert_eq!(
                keys(&binding),
                ["kind", "apiVersion", "metadata", "roleRef", "subjects"]
            );
            assert_eq!(
                keys(&binding["metadata"]),
                ["name", "uid", "resourceVersion", "x-unknown"]
            );
        }
        // Out of order: the envelope and metadata move, the rest keep their order.
        let mut event = json!({"status": {}, "reason": "r", "metadata": {"x-b": 1, "namespace": "n", "x-a": 2, "name": "e"},
            "message": "m", "apiVersion": "v1", "source": {}, "kind": "Event", "count": 1});
        go_field_order(&mut event);
        assert_eq!(
            keys(&event),
            [
                "kind",
                "apiVersion",
                "metadata",
                "reason",
                "message",
                "source",
                "count",
                "status"
            ]
        );
        assert_eq!(
            keys(&event["metadata"]),
            ["name", "namespace", "x-b", "x-a"]
        );
    }
}
