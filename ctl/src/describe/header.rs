//! The block every describer opens with: `Name`, `Namespace` (namespaced
//! kinds), the kind's own header fields, then `Labels` and `Annotations`
//! — one builder, so the six describers that print it cannot drift apart.

use serde_json::Value;

use crate::describe::{annotations_multiline, labels_multiline, Writer};

/// kubectl's describe header for one object.
pub struct Header<'a> {
    obj: &'a Value,
    namespace: bool,
    fields: Vec<(&'static str, String)>,
}

impl<'a> Header<'a> {
    /// `Name:` and `Namespace:` of a namespaced object.
    pub fn new(obj: &'a Value) -> Self {
        Header {
            obj,
            namespace: true,
            fields: Vec::new(),
        }
    }

    /// `Name:` only (a cluster-scoped object: Node, Namespace).
    pub fn cluster_scoped(obj: &'a Value) -> Self {
        Header {
            namespace: false,
            ..Header::new(obj)
        }
    }

    /// A field kubectl prints between the name and the labels
    /// (`Selector:`, `Priority:`, `Node:` ...).
    pub fn field(&mut self, title: &'static str, value: impl Into<String>) -> &mut Self {
        self.fields.push((title, value.into()));
        self
    }

    pub fn write(&self, w: &mut Writer) {
        w.line(0, &format!("Name:\t{}", minik_api::meta::name(self.obj)));
        if self.namespace {
            w.line(
                0,
                &format!(
                    "Namespace:\t{}",
                    minik_api::meta::namespace(self.obj).unwrap_or("")
                ),
            );
        }
        for (title, value) in &self.fields {
            w.line(0, &format!("{title}:\t{value}"));
        }
        labels_multiline(
            w,
            "Labels",
            self.obj
                .pointer("/metadata/labels")
                .and_then(Value::as_object),
        );
        annotations_multiline(
            w,
            "Annotations",
            self.obj
                .pointer("/metadata/annotations")
                .and_then(Value::as_object),
        );
    }
}
