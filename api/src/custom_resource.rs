//! Custom resources: the kinds a CustomResourceDefinition adds at run time.
//!
//! [`resources_of`] turns one Established CRD into a [`ResourceInfo`] per
//! served version, each with a [`CustomStrategy`] built from the version's
//! schema, subresources and printer columns, so the generic machinery
//! (REST, watch, discovery, Tables, scale) serves them as it serves the
//! built-in kinds — kube-apiserver's `crdHandler` does the same with its
//! per-CRD storage.
//!
//! minik simplifies: the catalogue works with `&'static ResourceInfo`, so a
//! CRD's resources are interned — built once per distinct definition and
//! kept for the life of the process (a few kilobytes each; editing a CRD's
//! schema a thousand times costs a thousand copies). Versions share storage
//! with conversion `None` (only `apiVersion` changes), and an object is
//! validated, defaulted and pruned with the storage version's schema.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::catalogue::ResourceInfo;
use crate::kinds::{DecodeError, Decoded, Errs, Obj, ScalePaths, SchemaGenerator, Strategy};
use crate::structural_schema;
use crate::tables::{self, Column};

/// One served version of a custom kind: its schema and how it is shown.
pub struct CustomStrategy {
    schema: Value,
    scale: Option<ScalePaths>,
    columns: &'static [Column],
    /// The JSONPath of each column after `Name`.
    column_paths: Vec<String>,
    storage: OnceLock<&'static ResourceInfo>,
}

impl Strategy for CustomStrategy {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        let mut object = obj.clone();
        let unknown_fields = structural_schema::prune(&self.schema, &mut object);
        Some(Ok(Decoded {
            object: Some(object),
            unknown_fields,
        }))
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        let mut v = Value::Object(std::mem::take(obj));
        structural_schema::apply_defaults(&self.schema, &mut v);
        if let Value::Object(m) = v {
            *obj = m;
        }
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        structural_schema::validate(&self.schema, obj, errs);
        crate::cel_rules::validate(&self.schema, obj, None, "", errs);
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        crate::cel_rules::validate(&self.schema, new, Some(old), "", errs);
    }
    fn columns(&self) -> &'static [Column] {
        self.columns
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut cells = vec![tables::name_cell(obj)];
        for (path, column) in self.column_paths.iter().zip(&self.columns[1..]) {
            let v = json_path(obj, path).cloned().unwrap_or(Value::Null);
            cells.push(match (column.type_, &v) {
                ("date", Value::String(s)) => match s.parse::<Timestamp>() {
                    Ok(t) => tables::duration_between(t, now).into(),
                    Err(_) => v,
                },
                ("string", Value::Number(_) | Value::Bool(_)) => v.to_string().into(),
                ("string", Value::Array(_) | Value::Object(_)) => v.to_string().into(),
                _ => v,
            });
        }
        cells
    }
    fn scale_paths(&self) -> Option<ScalePaths> {
        self.scale.clone()
    }
    fn storage_info(&self) -> Option<&'static ResourceInfo> {
        self.storage.get().copied()
    }
    fn supports_strategic_merge(&self) -> bool {
        false
    }
    fn openapi_schema(&self, _: &ResourceInfo, _: &mut SchemaGenerator) -> Option<Value> {
        Some(self.schema.clone())
    }
}

/// Reads a printer column's JSONPath (`.spec.replicas`,
/// `.status.conditions[0].type`, `.status.conditions[?(@.type=="Ready")].status`,
/// `.metadata.labels['app\.kubernetes\.io/name']`). `None` when nothing is there.
pub fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    rest = rest.strip_prefix('$').unwrap_or(rest);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (key, tail) = r.split_at(end);
            if !key.is_empty() {
                cur = cur.get(key)?;
            }
            rest = tail;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            // A filter's quoted value may hold `]`: find the closing `)]`.
            let (inner, tail) = if r.starts_with("?(") {
                let close = r.find(")]")?;
                (&r[..close + 1], &r[close + 2..])
            } else {
                (&r[..end], &r[end + 1..])
            };
            cur = if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
            {
                let (field, wanted) = filter.split_once("==")?;
                let wanted = wanted.trim().trim_matches(|c| c == '"' || c == '\'');
                cur.as_array()?.iter().find(|item| {
                    json_path(item, &format!(".{}", field.trim())).is_some_and(|v| {
                        v.as_str() == Some(wanted)
                            || (!v.is_string()
                                && serde_json::to_string(v).ok().as_deref() == Some(wanted))
                    })
                })?
            } else if let Ok(i) = inner.parse::<usize>() {
                cur.get(i)?
            } else {
                let key = inner
                    .trim_matches(|c| c == '\'' || c == '"')
                    .replace("\\.", ".");
                cur.get(&key)?
            };
            rest = tail;
        } else {
            return None;
        }
    }
    Some(cur)
}

/// A CRD's condition `kind` has status `True`.
pub fn condition_true(crd: &Value, kind: &str) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == json!(kind) && c["status"] == json!("True"))
        })
}

/// The served resources of an Established CRD, preferred version first,
/// each knowing its storage version's resource, each interned.
/// Empty for a CRD that is not Established.
pub fn resources_of(crd: &Value) -> Vec<&'static ResourceInfo> {
    if !condition_true(crd, "Established") {
        return Vec::new();
    }
    let names = crd
        .pointer("/status/acceptedNames")
        .filter(|n| n.get("plural").is_some())
        .unwrap_or(&crd["spec"]["names"]);
    let key = json!({"spec": crd["spec"], "names": names}).to_string();
    static INTERNED: OnceLock<Mutex<HashMap<String, Vec<&'static ResourceInfo>>>> = OnceLock::new();
    let mut interned = INTERNED.get_or_init(Default::default).lock().unwrap();
    if let Some(infos) = interned.get(&key) {
        return infos.clone();
    }
    let infos = build(&crd["spec"], names);
    interned.insert(key, infos.clone());
    infos
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_strings(v: &Value) -> &'static [&'static str] {
    let list: Vec<&'static str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(leak).collect())
        .unwrap_or_default();
    Box::leak(list.into_boxed_slice())
}

fn build(spec: &Value, names: &Value) -> Vec<&'static ResourceInfo> {
    let group = leak(spec["group"].as_str().unwrap_or_default());
    let kind = leak(names["kind"].as_str().unwrap_or_default());
    let plural = leak(names["plural"].as_str().unwrap_or_default());
    let singular = leak(names["singular"].as_str().unwrap_or_default());
    let short_names = leak_strings(&names["shortNames"]);
    let categories = leak_strings(&names["categories"]);
    let namespaced = spec["scope"] != json!("Cluster");
    let mut versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["served"] == json!(true)).collect())
        .unwrap_or_default();
    // Discovery lists the preferred version first (Kubernetes' version priority).
    versions.sort_by(|a, b| {
        version_priority(a["name"].as_str().unwrap_or(""))
            .cmp(&version_priority(b["name"].as_str().unwrap_or("")))
    });
    let mut infos: Vec<&'static ResourceInfo> = Vec::new();
    let mut strategies: Vec<&'static CustomStrategy> = Vec::new();
    let mut storage = None;
    for v in versions {
        let subs = &v["subresources"];
        let subresources: &'static [&'static str] =
            match (subs.get("status").is_some(), subs.get("scale").is_some()) {
                (true, true) => &["status", "scale"],
                (true, false) => &["status"],
                (false, true) => &["scale"],
                (false, false) => &[],
            };
        let scale = subs.get("scale").map(|s| ScalePaths {
            spec_replicas: s["specReplicasPath"]
                .as_str()
                .unwrap_or(".spec.replicas")
                .into(),
            status_replicas: s["statusReplicasPath"]
                .as_str()
                .unwrap_or(".status.replicas")
                .into(),
            label_selector: s["labelSelectorPath"].as_str().map(str::to_string),
        });
        let (columns, column_paths) = printer_columns(v);
        let strategy: &'static CustomStrategy = Box::leak(Box::new(CustomStrategy {
            schema: v
                .pointer("/schema/openAPIV3Schema")
                .cloned()
                .unwrap_or_else(
                    || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                ),
            scale,
            columns,
            column_paths,
            storage: OnceLock::new(),
        }));
        let mut info = ResourceInfo::new(
            group,
            leak(v["name"].as_str().unwrap_or_default()),
            kind,
            plural,
            singular,
            strategy,
        )
        .short_names(short_names)
        .categories(categories)
        .subresources(subresources);
        if !namespaced {
            info = info.cluster_scoped();
        }
        let info: &'static ResourceInfo = Box::leak(Box::new(info));
        if v["storage"] == json!(true) {
            storage = Some(info);
        }
        strategies.push(strategy);
        infos.push(info);
    }
    // A storage version that is not served still names where objects live.
    if let Some(storage) = storage.or(infos.first().copied()) {
        for s in strategies {
            let _ = s.storage.set(storage);
        }
    }
    infos
}

/// Kubernetes' version priority as a sort key (smaller first): GA before
/// beta before alpha, higher major then higher minor first, then any other
/// name alphabetically (`v2`, `v1`, `v1beta2`, `v1beta1`, `v1alpha1`, `foo`).
pub fn version_priority(name: &str) -> (u8, i64, i64, String) {
    let parsed = name.strip_prefix('v').and_then(|rest| {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: i64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((0, major, 0));
        }
        for (level, word) in [(1u8, "beta"), (2, "alpha")] {
            if let Some(n) = tail.strip_prefix(word) {
                return Some((level, major, n.parse().ok()?));
            }
        }
        None
    });
    match parsed {
        Some((level, major, minor)) => (level, -major, -minor, String::new()),
        None => (3, 0, 0, name.to_string()),
    }
}

/// The Table columns of one version: `Name`, then its
/// `additionalPrinterColumns` (kube's default is one `Age` column).
fn printer_columns(version: &Value) -> (&'static [Column], Vec<String>) {
    let declared = version["additionalPrinterColumns"].as_array();
    let default =
        vec![json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})];
    let declared = declared.filter(|d| !d.is_empty()).unwrap_or(&default);
    let mut columns = vec![tables::NAME];
    let mut paths = Vec::new();
    for c in declared {
        columns.push(Column {
            name: leak(c["name"].as_str().unwrap_or_default()),
            type_: leak(c["type"].as_str().unwrap_or("string")),
            format: leak(c["format"].as_str().unwrap_or_default()),
            description: leak(c["description"].as_str().unwrap_or_default()),
            priority: c["priority"].as_i64().unwrap_or(0) as i32,
        });
        paths.push(c["jsonPath"].as_str().unwrap_or_default().to_string());
    }
    (Box::leak(columns.into_boxed_slice()), paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_kubernetes_priority() {
        let mut v = vec!["v1alpha1", "foo", "v1", "v1beta2", "v2", "v1beta1", "v10"];
        v.sort_by_key(|n| version_priority(n));
        assert_eq!(
            v,
            vec!["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
    }

    #[test]
    fn json_paths_of_printer_columns() {
        let obj = json!({
            "spec": {"replicas": 3},
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "status": {"conditions": [{"type": "Progressing", "status": "True"}, {"type": "Ready", "status": "False"}]}
        });
        assert_eq!(json_path(&obj, ".spec.replicas"), Some(&json!(3)));
        assert_eq!(
            json_path(&obj, ".status.conditions[1].type"),
            Some(&json!("Ready"))
        );
        assert_eq!(
            json_path(&obj, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(&json!("False"))
        );
        assert_eq!(
            json_path(&obj, ".metadata.labels['app\\.kubernetes\\.io/name']"),
            Some(&json!("web"))
        );
        assert_eq!(json_path(&obj, ".spec.missing"), None);
    }

    #[test]
    fn an_established_crd_serves_its_versions_storage_first() {
        let crd = json!({
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "websites", "singular": "website", "kind": "Website", "shortNames": ["ws"]},
                "versions": [
                    {"name": "v1alpha1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}}
                ]
            },
            "status": {"conditions": [{"type": "Established", "status": "True"}]}
        });
        let infos = resources_of(&crd);
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].version, "v1");
        assert!(std::ptr::eq(
            infos[0].strategy.storage_info().unwrap(),
            infos[0]
        ));
        assert_eq!(infos[0].subresources, &["status", "scale"]);
        assert!(std::ptr::eq(
            infos[1].strategy.storage_info().unwrap(),
            infos[0]
        ));
        assert_eq!(infos[1].short_names, &["ws"]);
        // Interned: the same definition gives the same resources.
        assert!(std::ptr::eq(resources_of(&crd)[0], infos[0]));
        let mut pending = crd.clone();
        pending["status"]["conditions"][0]["status"] = json!("False");
        assert!(resources_of(&pending).is_empty());
    }
}
