//! Conversion between served versions that share storage.
//!
//! Kubernetes stores one object per name and converts it to whichever
//! version a client asks for. minik has two such pairs:
//! - core/v1 `Event` (stored) and events.k8s.io/v1 `Event` (served): the
//!   same fields under newer names (`involvedObject` → `regarding`,
//!   `message` → `note`, `count` → `deprecatedCount`, …). Controllers record
//!   events.k8s.io Events; `kubectl get events` and `describe` read core ones.
//! - autoscaling/v2 `HorizontalPodAutoscaler` (stored) and autoscaling/v1
//!   (served): v1's `targetCPUUtilizationPercentage` is v2's CPU
//!   `Utilization` metric. Simplified: v2-only metrics are not carried
//!   through a v1 round trip (Kubernetes keeps them in annotations).

use serde_json::{json, Map, Value};

use crate::catalogue::{storage_info, ResourceInfo};

/// core/v1 field ↔ events.k8s.io/v1 field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// Converts an object in `served`'s form to its storage form.
pub fn to_storage(served: &'static ResourceInfo, obj: Value) -> Value {
    let storage = storage_info(served);
    if std::ptr::eq(storage, served) || !obj.is_object() {
        return obj;
    }
    let mut obj = obj;
    match served.kind {
        "Event" => {
            rename_fields(
                &mut obj,
                EVENT_FIELDS.iter().map(|(core, new)| (*new, *core)),
            );
            fill_core_event_times(&mut obj);
        }
        "HorizontalPodAutoscaler" => hpa_v1_to_v2(&mut obj),
        _ => {}
    }
    obj["apiVersion"] = json!(storage.api_version());
    obj["kind"] = json!(storage.kind);
    obj
}

/// Converts a stored object to `served`'s form.
pub fn from_storage(served: &'static ResourceInfo, obj: Value) -> Value {
    let storage = storage_info(served);
    if std::ptr::eq(storage, served) || !obj.is_object() {
        return obj;
    }
    let mut obj = obj;
    match served.kind {
        "Event" => rename_fields(
            &mut obj,
            EVENT_FIELDS.iter().map(|(core, new)| (*core, *new)),
        ),
        "HorizontalPodAutoscaler" => hpa_v2_to_v1(&mut obj),
        _ => {}
    }
    obj["apiVersion"] = json!(served.api_version());
    obj["kind"] = json!(served.kind);
    obj
}

/// New-style events carry `eventTime` and `series`; core readers sort and
/// print by `firstTimestamp`/`lastTimestamp`/`count` (`kubectl get events
/// --sort-by=.lastTimestamp`), so those are filled in when absent.
fn fill_core_event_times(obj: &mut Value) {
    let seconds = |v: &Value| -> Option<Value> {
        let t: jiff::Timestamp = v.as_str()?.parse().ok()?;
        Some(json!(crate::meta::format_timestamp(t)))
    };
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let first = map.get("eventTime").and_then(seconds);
    let last = map
        .get("series")
        .and_then(|s| s.get("lastObservedTime"))
        .and_then(seconds)
        .or_else(|| first.clone());
    let count = map
        .get("series")
        .and_then(|s| s.get("count"))
        .cloned()
        .unwrap_or(json!(1));
    for (field, value) in [
        ("firstTimestamp", first),
        ("lastTimestamp", last),
        ("count", Some(count)),
    ] {
        if let Some(v) = value {
            if map.get(field).is_none_or(Value::is_null) {
                map.insert(field.to_string(), v);
            }
        }
    }
}

fn rename_fields<'a>(obj: &mut Value, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for (from, to) in pairs {
        if let Some(v) = map.remove(from) {
            map.insert(to.to_string(), v);
        }
    }
}

fn hpa_v1_to_v2(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(target) = spec.remove("targetCPUUtilizationPercentage") {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]),
        );
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(current) = status.remove("currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}]),
            );
        }
    }
}

fn cpu_utilization(metrics: Option<&Value>, field: &str) -> Option<Value> {
    metrics?.as_array()?.iter().find_map(|m| {
        let r = m.get("resource")?;
        (m["type"] == "Resource" && r["name"] == "cpu")
            .then(|| r.get(field)?.get("averageUtilization").cloned())?
    })
}

fn hpa_v2_to_v1(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let target = cpu_utilization(spec.get("metrics"), "target");
        spec.remove("metrics");
        spec.remove("behavior");
        if let Some(t) = target {
            spec.insert("targetCPUUtilizationPercentage".into(), t);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let current = cpu_utilization(status.get("currentMetrics"), "current");
        let kept: Map<String, Value> = status
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "observedGeneration" | "lastScaleTime" | "currentReplicas" | "desiredReplicas"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        *status = kept;
        if let Some(c) = current {
            status.insert("currentCPUUtilizationPercentage".into(), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::lookup;

    #[test]
    fn events_round_trip_between_versions() {
        let served = lookup("events.k8s.io", "v1", "events").unwrap();
        let new_style = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "web"}, "note": "Started container", "reason": "Started",
            "reportingController": "kubelet", "eventTime": "2024-01-01T00:00:00.000000Z"});
        let stored = to_storage(served, new_style.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "web");
        assert_eq!(stored["message"], "Started container");
        assert_eq!(stored["reportingComponent"], "kubelet");
        // Core readers get the timestamps and count they sort and print by.
        assert_eq!(stored["firstTimestamp"], "2024-01-01T00:00:00Z");
        assert_eq!(stored["lastTimestamp"], "2024-01-01T00:00:00Z");
        assert_eq!(stored["count"], 1);
        let back = from_storage(served, stored);
        for field in [
            "regarding",
            "note",
            "reason",
            "reportingController",
            "eventTime",
        ] {
            assert_eq!(back[field], new_style[field], "{field}");
        }
    }

    #[test]
    fn hpa_v1_target_is_a_v2_cpu_metric() {
        let v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let obj = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                     "targetCPUUtilizationPercentage": 50}});
        let stored = to_storage(v1, obj.clone());
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        assert_eq!(from_storage(v1, stored), obj);
    }

    #[test]
    fn storage_versions_pass_through() {
        let pods = lookup("", "v1", "pods").unwrap();
        let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(to_storage(pods, p.clone()), p);
    }
}
