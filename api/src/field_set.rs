//! Sets of field paths: what one field manager owns in an object, as
//! server-side apply records it in `metadata.managedFields[].fieldsV1`.
//!
//! A path is a list of [`PathElement`]s: a field name (`f:spec`), the key
//! fields of an element of an associative list (`k:{"name":"nginx"}`), a
//! value of a set-like list (`v:"example.com/cleanup"`) or a position in a
//! list that has neither (`i:0`). A [`FieldSet`] is a trie of such paths,
//! the shape of Kubernetes' `FieldsV1` JSON: every child is an object, and
//! `".": {}` inside a child says that the child itself, not only something
//! beneath it, is in the set.
//!
//! Paths print as kube-apiserver prints them in conflict messages:
//! `.spec.template.spec.containers[name="nginx"].image`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One step of a field path. The order (fields, then keys, then values,
/// then positions) is the order `FieldsV1` lists them in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a struct or a key of a map: `f:<name>`.
    Field(String),
    /// An element of an associative list, named by its key fields, as
    /// compact JSON with the fields in name order: `k:{"name":"nginx"}`.
    Key(String),
    /// An element of a set-like list of scalars, as JSON: `v:"a"`.
    Value(String),
    /// A position in a list that is neither: `i:0`.
    Index(usize),
}

impl PathElement {
    /// The key element for a list element whose key fields are `keys`.
    pub fn key(fields: &[(&str, &Value)]) -> PathElement {
        let mut sorted: Vec<&(&str, &Value)> = fields.iter().collect();
        sorted.sort_by_key(|(name, _)| *name);
        let object: Map<String, Value> = sorted
            .into_iter()
            .map(|(name, value)| (name.to_string(), (*value).clone()))
            .collect();
        PathElement::Key(Value::Object(object).to_string())
    }

    /// The value element for an element of a set-like list.
    pub fn value(v: &Value) -> PathElement {
        PathElement::Value(v.to_string())
    }

    /// The element's `FieldsV1` key.
    fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(json) => format!("k:{json}"),
            PathElement::Value(json) => format!("v:{json}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(key: &str) -> Option<PathElement> {
        let (prefix, rest) = key.split_at_checked(2)?;
        match prefix {
            "f:" => Some(PathElement::Field(rest.to_string())),
            // Re-encoded so two spellings of one key compare equal.
            "k:" => {
                let object: Map<String, Value> = serde_json::from_str(rest).ok()?;
                let fields: Vec<(&str, &Value)> =
                    object.iter().map(|(k, v)| (k.as_str(), v)).collect();
                Some(PathElement::key(&fields))
            }
            "v:" => serde_json::from_str::<Value>(rest)
                .ok()
                .map(|v| PathElement::value(&v)),
            "i:" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }
}

impl std::fmt::Display for PathElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(json) => {
                let object: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                let parts: Vec<String> = object.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(json) => write!(f, "[={json}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A field path, printed as kube-apiserver prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FieldPath(pub Vec<PathElement>);

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// A set of field paths, as a trie: `members` are the paths that end here,
/// `children` the ones that go on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path` (the empty path is not a member of anything).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Takes `path` and everything beneath it out of the set.
    pub fn remove(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.remove(last);
                self.children.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(child) = self.children.get_mut(first) {
                    child.remove(rest);
                    if child.is_empty() {
                        self.children.remove(first);
                    }
                }
            }
        }
    }

    /// Only `path` and what is beneath it.
    pub fn only_under(&self, path: &[PathElement]) -> FieldSet {
        let mut out = FieldSet::default();
        match path {
            [] => return self.clone(),
            [last] => {
                if self.members.contains(last) {
                    out.members.insert(last.clone());
                }
                if let Some(child) = self.children.get(last) {
                    out.children.insert(last.clone(), child.clone());
                }
            }
            [first, rest @ ..] => {
                if let Some(child) = self.children.get(first) {
                    let below = child.only_under(rest);
                    if !below.is_empty() {
                        out.children.insert(first.clone(), below);
                    }
                }
            }
        }
        out
    }

    /// The paths beneath `element`, as a set of their own.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    pub fn is_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// The elements directly here: members and parents of deeper paths.
    pub fn elements(&self) -> BTreeSet<&PathElement> {
        self.members.iter().chain(self.children.keys()).collect()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (element, theirs) in &other.children {
            let merged = match out.children.get(element) {
                Some(ours) => ours.union(theirs),
                None => theirs.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(element, ours)| match other.children.get(element) {
                Some(theirs) => (element.clone(), ours.difference(theirs)),
                None => (element.clone(), ours.clone()),
            })
            .filter(|(_, set)| !set.is_empty())
            .collect();
        FieldSet { members, children }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(element, ours)| {
                let theirs = other.children.get(element)?;
                let both = ours.intersection(theirs);
                (!both.is_empty()).then(|| (element.clone(), both))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Every path in the set, in `FieldsV1` order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<FieldPath>) {
        for element in self.elements() {
            prefix.push(element.clone());
            if self.members.contains(element) {
                out.push(FieldPath(prefix.clone()));
            }
            if let Some(child) = self.children.get(element) {
                child.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// The set as `FieldsV1` JSON.
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for element in self.elements() {
            let mut entry = Map::new();
            let child = self.children.get(element).filter(|c| !c.is_empty());
            if let Some(child) = child {
                if self.members.contains(element) {
                    entry.insert(".".into(), Value::Object(Map::new()));
                }
                if let Value::Object(inner) = child.to_fields_v1() {
                    entry.extend(inner);
                }
            }
            if child.is_some() || self.members.contains(element) {
                out.insert(element.encode(), Value::Object(entry));
            }
        }
        Value::Object(out)
    }

    /// Reads `FieldsV1` JSON; `None` if it is not that shape.
    pub fn from_fields_v1(v: &Value) -> Option<FieldSet> {
        let mut set = FieldSet::default();
        for (key, inner) in v.as_object()? {
            let element = PathElement::decode(key)?;
            let inner_map = inner.as_object()?;
            if inner_map.is_empty() || inner_map.contains_key(".") {
                set.members.insert(element.clone());
            }
            let mut rest = inner_map.clone();
            rest.remove(".");
            if !rest.is_empty() {
                let child = FieldSet::from_fields_v1(&Value::Object(rest))?;
                set.children.insert(element, child);
            }
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    #[test]
    fn fields_v1_round_trips_with_self_markers() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}},
            },
        });
        let set = FieldSet::from_fields_v1(&v).unwrap();
        assert!(set.contains(&[f("metadata"), f("labels")]));
        assert!(set.contains(&[f("metadata"), f("labels"), f("app")]));
        assert!(!set.contains(&[f("metadata")]));
        assert_eq!(set.to_fields_v1(), v);
        let names: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                ".metadata.labels",
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"nginx\"]",
                ".spec.template.spec.containers[name=\"nginx\"].image",
                ".spec.template.spec.containers[name=\"nginx\"].name",
            ]
        );
    }

    #[test]
    fn keys_are_canonical_and_print_like_kube_apiserver() {
        let port = PathElement::key(&[("protocol", &json!("TCP")), ("containerPort", &json!(80))]);
        assert_eq!(port.encode(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(port.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
        let spelled = PathElement::decode(r#"k:{"protocol":"TCP","containerPort":80}"#).unwrap();
        assert_eq!(spelled, port);
        assert_eq!(PathElement::value(&json!("a")).to_string(), r#"[="a"]"#);
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::default();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::default();
        b.insert(&[f("spec"), f("replicas")]);
        b.insert(&[f("metadata"), f("labels"), f("x")]);
        assert_eq!(a.intersection(&b).paths().len(), 1);
        assert_eq!(a.difference(&b).paths()[0].to_string(), ".spec.paused");
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(a.difference(&a).is_empty());
    }
}
