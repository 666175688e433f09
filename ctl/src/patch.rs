//! Client-side apply's three-way strategic merge patch: the patch that turns
//! the live object into "what the user's file says", given what the file
//! said last time (the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation).
//!
//! Mirrors apimachinery's `strategicpatch.CreateThreeWayMergePatch`:
//! - additions and changes come from comparing the live object (`current`)
//!   with the new file (`modified`); fields only the server or other actors
//!   set (defaults, status, a label added by hand) are left alone;
//! - deletions come from comparing the last-applied file (`original`) with
//!   the new one: a field the user removed from the file becomes `null`,
//!   an element removed from a merging list becomes `{key: ..., $patch: delete}`,
//!   a value removed from a merging list of scalars goes into
//!   `$deleteFromPrimitiveList/<field>`;
//! - lists merge element by element where Kubernetes' types say so
//!   (containers by name, ports by port+protocol, ...: the table in
//!   `minik_api::strategic_merge::merge_key`), with a `$setElementOrder`
//!   directive so the result keeps the file's order; other lists are
//!   replaced whole when they differ.
//!
//! Simplification: a deletion is only emitted for a field the live object
//! still has (upstream emits it regardless; the server ignores it either way).

use minik_api::strategic_merge::{merge_key, MergeStrategy};
use serde_json::{Map, Value};

type Object = Map<String, Value>;

/// The strategic merge patch from `current` to `modified` (an empty object
/// means nothing to change).
pub fn three_way(original: Option<&Value>, modified: &Value, current: &Value, kind: &str) -> Value {
    let empty = Object::new();
    let m = modified.as_object().unwrap_or(&empty);
    let o = original.and_then(Value::as_object);
    let c = current.as_object();
    let mut path = Vec::new();
    Value::Object(diff_map(o, m, c, kind, &mut path))
}

fn diff_map(
    original: Option<&Object>,
    modified: &Object,
    current: Option<&Object>,
    kind: &str,
    path: &mut Vec<String>,
) -> Object {
    let mut patch = Object::new();
    for (k, mv) in modified {
        let cv = current.and_then(|c| c.get(k));
        let ov = original.and_then(|o| o.get(k));
        path.push(k.clone());
        match mv {
            Value::Object(mm) => match cv {
                Some(Value::Object(cm)) => {
                    let sub = diff_map(ov.and_then(Value::as_object), mm, Some(cm), kind, path);
                    if !sub.is_empty() {
                        patch.insert(k.clone(), Value::Object(sub));
                    }
                }
                _ => {
                    if cv != Some(mv) {
                        patch.insert(k.clone(), mv.clone());
                    }
                }
            },
            Value::Array(ma) => {
                let strategy = {
                    let p: Vec<&str> = path.iter().map(String::as_str).collect();
                    merge_key(kind, &p)
                };
                let ca = cv.and_then(Value::as_array);
                let oa = ov.and_then(Value::as_array);
                match (strategy, ca) {
                    (Some(MergeStrategy::Union), Some(ca)) => {
                        let added: Vec<Value> =
                            ma.iter().filter(|v| !ca.contains(v)).cloned().collect();
                        let removed: Vec<Value> = oa
                            .map(|oa| {
                                oa.iter()
                                    .filter(|v| !ma.contains(v) && ca.contains(v))
                                    .cloned()
                                    .collect()
                            })
                            .unwrap_or_default();
                        if !added.is_empty() {
                            patch.insert(k.clone(), Value::Array(added));
                        }
                        if !removed.is_empty() {
                            patch.insert(
                                format!("$deleteFromPrimitiveList/{k}"),
                                Value::Array(removed),
                            );
                        }
                    }
                    (
                        Some(
                            s @ (MergeStrategy::ByKey(key) | MergeStrategy::ByPortAndProtocol(key)),
                        ),
                        Some(ca),
                    ) if ma.iter().all(|e| e.get(key).is_some())
                        && ca.iter().all(Value::is_object) =>
                    {
                        let with_protocol = matches!(s, MergeStrategy::ByPortAndProtocol(_));
                        if let Some(items) =
                            diff_merge_list(oa, ma, ca, key, with_protocol, kind, path)
                        {
                            let order: Vec<Value> =
                                ma.iter().map(|e| identity(e, key, with_protocol)).collect();
                            patch.insert(format!("$setElementOrder/{k}"), Value::Array(order));
                            patch.insert(k.clone(), Value::Array(items));
                        }
                    }
                    _ => {
                        if cv != Some(mv) {
                            patch.insert(k.clone(), mv.clone());
                        }
                    }
                }
            }
            scalar => {
                if cv != Some(scalar) {
                    patch.insert(k.clone(), scalar.clone());
                }
            }
        }
        path.pop();
    }
    if let (Some(o), Some(c)) = (original, current) {
        for k in o.keys() {
            if !modified.contains_key(k) && c.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    patch
}

/// `{key: value}` (plus `protocol` for port lists) naming one list element.
fn identity(e: &Value, key: &str, with_protocol: bool) -> Value {
    let mut m = Object::new();
    m.insert(key.to_string(), e.get(key).cloned().unwrap_or(Value::Null));
    if with_protocol {
        if let Some(p) = e.get("protocol") {
            m.insert("protocol".into(), p.clone());
        }
    }
    Value::Object(m)
}

fn same_element(a: &Value, b: &Value, key: &str, with_protocol: bool) -> bool {
    if a.get(key) != b.get(key) {
        return false;
    }
    if !with_protocol {
        return true;
    }
    let proto = |v: &Value| {
        v.get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_string()
    };
    proto(a) == proto(b)
}

/// The patch list for a merging list of objects, or `None` if nothing changes.
#[allow(clippy::too_many_arguments)]
fn diff_merge_list(
    original: Option<&Vec<Value>>,
    modified: &[Value],
    current: &[Value],
    key: &str,
    with_protocol: bool,
    kind: &str,
    path: &mut Vec<String>,
) -> Option<Vec<Value>> {
    let mut items = Vec::new();
    for me in modified {
        let ce = current
            .iter()
            .find(|c| same_element(c, me, key, with_protocol));
        let oe = original.and_then(|o| o.iter().find(|x| same_element(x, me, key, with_protocol)));
        match ce {
            None => items.push(me.clone()),
            Some(ce) => {
                let empty = Object::new();
                let sub = diff_map(
                    oe.and_then(Value::as_object),
                    me.as_object().unwrap_or(&empty),
                    ce.as_object(),
                    kind,
                    path,
                );
                if !sub.is_empty() {
                    let mut element = identity(me, key, with_protocol)
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    element.extend(sub);
                    items.push(Value::Object(element));
                }
            }
        }
    }
    if let Some(original) = original {
        for oe in original {
            let still_wanted = modified
                .iter()
                .any(|m| same_element(m, oe, key, with_protocol));
            let still_there = current
                .iter()
                .any(|c| same_element(c, oe, key, with_protocol));
            if !still_wanted && still_there {
                let mut element = identity(oe, key, with_protocol)
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                element.insert("$patch".into(), Value::String("delete".into()));
                items.push(Value::Object(element));
            }
        }
    }
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(image: &str, env: Value, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": labels},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": image, "env": env}]}}}})
    }

    #[test]
    fn unchanged_file_gives_an_empty_patch() {
        let d = deploy(
            "v1",
            json!([{"name": "A", "value": "1"}]),
            json!({"app": "web"}),
        );
        let mut live = d.clone();
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        live["status"] = json!({"replicas": 2});
        assert_eq!(three_way(Some(&d), &d, &live, "Deployment"), json!({}));
    }

    #[test]
    fn removed_fields_are_removed_and_changes_merge_by_key() {
        let old = deploy(
            "v1",
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
            json!({"app": "web", "tier": "x"}),
        );
        let new = deploy(
            "v2",
            json!([{"name": "A", "value": "1"}]),
            json!({"app": "web"}),
        );
        let mut live = old.clone();
        live["metadata"]["labels"]["added-by-hand"] = json!("yes");
        let p = three_way(Some(&old), &new, &live, "Deployment");
        assert_eq!(
            p,
            json!({
                "metadata": {"labels": {"tier": null}},
                "spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "web"}],
                    "containers": [{"name": "web", "image": "v2",
                        "$setElementOrder/env": [{"name": "A"}],
                        "env": [{"name": "B", "$patch": "delete"}]}]
                }}}
            })
        );
        // The server's strategic merge turns it into the new file (plus what others added).
        let merged = minik_api::strategic_merge::apply(&live, &p, "Deployment").unwrap();
        assert_eq!(
            merged["metadata"]["labels"],
            json!({"app": "web", "added-by-hand": "yes"})
        );
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}])
        );
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"][0]["image"],
            "v2"
        );
    }

    #[test]
    fn ports_match_on_port_and_protocol() {
        let svc = |ports: Value| json!({"kind": "Service", "spec": {"ports": ports}});
        let old = svc(json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]));
        let new = svc(json!([{"port": 53, "protocol": "UDP"}]));
        let p = three_way(Some(&old), &new, &old, "Service");
        assert_eq!(
            p["spec"]["ports"],
            json!([{"port": 53, "protocol": "TCP", "$patch": "delete"}])
        );
    }
}
