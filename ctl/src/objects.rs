//! Manifest objects on their way to the API server: a document's kind
//! resolved against the catalogue ([`resource_of`]), its namespace filled
//! in and checked against `-n` ([`prepare`]), and kubectl's
//! `error when creating "file": ...` wording ([`with_origin`]).
//! `apply`, `create -f`, `delete -f`, `describe -f` and `get -f` all start
//! from here, so a manifest means the same object to each of them.

use minik_api::ResourceInfo;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::manifest::Document;
use crate::resources;

/// The served resource of a document's `apiVersion` and `kind`; `context`
/// says which object in the error (`name: "x" ... from "file"`).
pub fn resource_of(doc: &Document, context: &str) -> Result<&'static ResourceInfo> {
    let av = doc
        .object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = doc.object.get("kind").and_then(Value::as_str).unwrap_or("");
    resources::by_api_version_kind(av, kind)
        .ok_or_else(|| resources::unknown_kind(kind, av, context))
}

/// Resolves a manifest's kind and namespace; returns the object with its
/// namespace filled in (namespaced kinds), as kubectl sends it.
pub async fn prepare(ctx: &Ctx, doc: &Document) -> Result<(&'static ResourceInfo, String, Value)> {
    let mut obj = doc.object.clone();
    let name = minik_api::meta::name(&obj).to_string();
    let info = resource_of(
        doc,
        &format!(
            "name: \"{name}\" namespace: \"{}\" from \"{}\"",
            minik_api::meta::namespace(&obj).unwrap_or(""),
            doc.origin
        ),
    )?;
    if name.is_empty() && obj.pointer("/metadata/generateName").is_none() {
        return Err(Error::Usage(format!(
            "error when retrieving current configuration of {} from \"{}\" (document {}): resource name may not be empty",
            info.kind, doc.origin, doc.index
        )));
    }
    let mut ns = String::new();
    if info.namespaced {
        let doc_ns = minik_api::meta::namespace(&obj)
            .map(str::to_string)
            .filter(|s| !s.is_empty());
        if let (Some(flag), Some(d)) = (ctx.namespace_flag(), &doc_ns) {
            if flag != d {
                return Err(Error::Usage(format!(
                    "the namespace from the provided object \"{d}\" does not match the namespace \"{flag}\". You must pass '--namespace={d}' to perform this operation."
                )));
            }
        }
        ns = match doc_ns {
            Some(d) => d,
            None => ctx.namespace().await?,
        };
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
    }
    Ok((info, ns, obj))
}

/// Prefixes an API error's message (kubectl's `error when creating "f":`);
/// validation errors stay as they are, printed kubectl's way.
pub fn with_origin(e: Error, prefix: &str) -> Error {
    match e {
        Error::Api {
            code,
            reason,
            message,
        } if reason != "Invalid" => Error::Api {
            code,
            reason,
            message: format!("{prefix}{message}"),
        },
        other => other,
    }
}
