//! The shape of a kind's fields as server-side apply needs it: which objects
//! are structs (named fields) and which are maps (free keys, like labels),
//! which structs and maps are atomic (owned and replaced whole), and how
//! each list is merged — atomic, a set of scalars, or an associative list
//! keyed by some of its elements' fields.
//!
//! The source is the kind's OpenAPI schema, the one `/openapi/v3` serves:
//! for built-in kinds the k8s-openapi types' schemas, for custom kinds the
//! CRD's, whose `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
//! `x-kubernetes-map-type` say it directly. The built-in schemas carry no
//! such markers (k8s-openapi leaves them out), so for built-in kinds the
//! list types come from the strategic-merge table
//! ([`strategic_merge::merge_key`]) — a list that merges by key there is an
//! associative list here, with the protocol as a second key for ports, as
//! in Kubernetes — and the atomic structs and maps from a short list of the
//! types marked `+structType=atomic` / `+mapType=atomic` in `k8s.io/api`.
//! Where the schema says nothing (`x-kubernetes-preserve-unknown-fields`),
//! objects are maps and lists are atomic, as structured-merge-diff deduces.

use serde_json::{Map, Value};

use crate::strategic_merge::{self, MergeStrategy};

/// How a list's elements are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value: owned and replaced whole.
    Atomic,
    /// A set of scalars: each value is owned on its own.
    Set,
    /// An associative list: elements are named by these fields.
    Map(Vec<String>),
}

/// A kind's schema: its root and the definitions its `$ref`s name.
pub struct KindSchema {
    kind: String,
    root: Value,
    definitions: Map<String, Value>,
    /// Built-in kinds take list types from the strategic-merge table.
    builtin: bool,
}

/// The k8s.io/api types marked `+structType=atomic`, by the last part of
/// their schema name.
const ATOMIC_STRUCTS: &[&str] = &[
    "LabelSelector",
    "OwnerReference",
    "ObjectReference",
    "LocalObjectReference",
    "TypedLocalObjectReference",
    "ConfigMapKeySelector",
    "SecretKeySelector",
    "ObjectFieldSelector",
    "ResourceFieldSelector",
    "NodeSelector",
    "NodeSelectorTerm",
    "TopologySelectorTerm",
];

/// Maps marked `+mapType=atomic`: (the struct holding them, the field).
const ATOMIC_MAPS: &[(&str, &str)] = &[
    ("io.k8s.api.core.v1.ServiceSpec", "selector"),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
];

const REF_PREFIX: &str = "#/components/schemas/";

impl KindSchema {
    /// The schema of a served kind, from what its strategy publishes.
    pub fn of(info: &crate::ResourceInfo) -> KindSchema {
        let mut g = schemars::generate::SchemaSettings::openapi3().into_generator();
        match info.strategy.openapi_schema(info, &mut g) {
            Some(root) if root.get("$ref").is_some() => {
                KindSchema::builtin(info.kind, root, g.take_definitions(true))
            }
            Some(root) => {
                let object_meta = crate::kinds::typed::schema_of::<
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                >(&mut g);
                KindSchema::custom(info.kind, root, object_meta, g.take_definitions(true))
            }
            None => KindSchema::unknown(info.kind),
        }
    }

    /// A built-in kind's schema: `root` is the `$ref` its strategy returns,
    /// `definitions` the generator's.
    pub fn builtin(kind: &str, root: Value, definitions: Map<String, Value>) -> KindSchema {
        KindSchema {
            kind: kind.to_string(),
            root,
            definitions,
            builtin: true,
        }
    }

    /// A custom kind's schema (the CRD's), with `metadata` described by
    /// ObjectMeta's schema (`object_meta`, a `$ref` into `definitions`).
    pub fn custom(
        kind: &str,
        mut root: Value,
        object_meta: Value,
        definitions: Map<String, Value>,
    ) -> KindSchema {
        if !root.get("properties").is_some_and(Value::is_object) {
            root["properties"] = Value::Object(Map::new());
        }
        root["properties"]["metadata"] = object_meta;
        KindSchema {
            kind: kind.to_string(),
            root,
            definitions,
            builtin: false,
        }
    }

    /// A schema that says nothing: every object a map, every list atomic.
    pub fn unknown(kind: &str) -> KindSchema {
        KindSchema {
            kind: kind.to_string(),
            root: Value::Null,
            definitions: Map::new(),
            builtin: false,
        }
    }

    pub fn root(&self) -> Shape<'_> {
        Shape::new(self, self.root_node(), None, Vec::new())
    }

    fn root_node(&self) -> Option<&Value> {
        (!self.root.is_null()).then_some(&self.root)
    }

    /// Follows `$ref` (also inside a one-element `allOf`) to the schema it
    /// names, returning it with its definition name.
    fn resolve<'s>(&'s self, mut node: &'s Value) -> (&'s Value, Option<&'s str>) {
        let mut name = None;
        for _ in 0..8 {
            let reference = node.get("$ref").or_else(|| {
                node.get("allOf")
                    .and_then(Value::as_array)
                    .filter(|all| all.len() == 1)
                    .and_then(|all| all[0].get("$ref"))
            });
            let Some(target) = reference
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            else {
                break;
            };
            match self.definitions.get_key_value(target) {
                Some((key, def)) => {
                    name = Some(key.as_str());
                    node = def;
                }
                None => break,
            }
        }
        (node, name)
    }
}

/// A place in a kind's schema, reached from the root by field names.
#[derive(Clone)]
pub struct Shape<'s> {
    schema: &'s KindSchema,
    /// The schema here, `$ref`s followed; `None` where nothing is known.
    node: Option<&'s Value>,
    /// The definition the node came from (`io.k8s.api.core.v1.PodSpec`).
    name: Option<&'s str>,
    /// The field names from the root (list positions left out), which is
    /// how the strategic-merge table names places.
    path: Vec<&'s str>,
}

impl<'s> Shape<'s> {
    fn new(
        schema: &'s KindSchema,
        node: Option<&'s Value>,
        name: Option<&'s str>,
        path: Vec<&'s str>,
    ) -> Shape<'s> {
        match node {
            Some(n) => {
                let (node, resolved) = schema.resolve(n);
                Shape {
                    schema,
                    node: Some(node),
                    name: resolved.or(name),
                    path,
                }
            }
            None => Shape {
                schema,
                node: None,
                name,
                path,
            },
        }
    }

    fn properties(&self) -> Option<&'s Map<String, Value>> {
        self.node?.get("properties")?.as_object()
    }

    /// Whether `field` is a declared field of this struct (rather than a
    /// key of a map).
    pub fn is_struct_field(&self, field: &str) -> bool {
        self.properties().is_some_and(|p| p.contains_key(field))
    }

    /// The shape of `field` of this object (a struct field or a map value).
    pub fn field(&self, field: &'s str) -> Shape<'s> {
        let mut path = self.path.clone();
        path.push(field);
        let declared = self.properties().and_then(|p| p.get(field));
        let node = declared.or_else(|| {
            self.node?
                .get("additionalProperties")
                .filter(|a| a.is_object())
        });
        let mut shape = Shape::new(self.schema, node, None, path);
        if declared.is_some()
            && ATOMIC_MAPS
                .iter()
                .any(|(parent, name)| Some(*parent) == self.name && *name == field)
        {
            shape.name = Some("atomic-map");
        }
        shape
    }

    /// Whether this object is owned and replaced as one value.
    pub fn is_atomic(&self) -> bool {
        if self.name == Some("atomic-map") {
            return true;
        }
        if let Some(node) = self.node {
            let marker = node
                .get("x-kubernetes-map-type")
                .or_else(|| node.get("x-kubernetes-struct-type"));
            if marker.and_then(Value::as_str) == Some("atomic") {
                return true;
            }
        }
        self.name
            .and_then(|n| n.rsplit('.').next())
            .is_some_and(|last| ATOMIC_STRUCTS.contains(&last))
    }

    /// How the list here is merged.
    pub fn list_type(&self) -> ListType {
        if self.schema.builtin {
            return match strategic_merge::merge_key(&self.schema.kind, &self.path) {
                Some(MergeStrategy::ByKey(key)) => ListType::Map(vec![key.to_string()]),
                Some(MergeStrategy::ByPortAndProtocol(key)) => {
                    ListType::Map(vec![key.to_string(), "protocol".to_string()])
                }
                Some(MergeStrategy::Union) => ListType::Set,
                None => ListType::Atomic,
            };
        }
        let Some(node) = self.node else {
            return ListType::Atomic;
        };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                node.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    /// The shape of this list's elements.
    pub fn item(&self) -> Shape<'s> {
        let node = self.node.and_then(|n| n.get("items"));
        Shape::new(self.schema, node, None, self.path.clone())
    }

    /// A key field's default when an element leaves it out (the protocol
    /// of a port is `TCP`, as its schema's default says).
    pub fn key_default(&self, key: &str) -> Option<Value> {
        if let Some(default) = self
            .item()
            .properties()
            .and_then(|p| p.get(key))
            .and_then(|k| k.get("default"))
        {
            return Some(default.clone());
        }
        (self.schema.builtin && key == "protocol").then(|| Value::String("TCP".into()))
    }
}
