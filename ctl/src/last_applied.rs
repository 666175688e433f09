//! The `kubectl.kubernetes.io/last-applied-configuration` annotation:
//! client-side apply's memory of what the file said last time, the
//! "original" of its three-way merge (`crate::patch`). Written by `apply`
//! and `create --save-config`, read back by `apply`, hidden by `describe`.
//! [`apply_object`] is client-side apply of one object, shared by `apply`
//! and `diff`.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::Result;
use crate::flags::DryRun;
use crate::manifest::Document;
use crate::objects::{prepare, with_origin};
use crate::patch::three_way;
use crate::printers::json;

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The object as kubectl's `GetModifiedConfiguration(annotate=false)`
/// leaves it: no last-applied annotation, but an annotations map (empty if
/// need be), so the three-way merge does not delete the live ones.
pub fn without_last_applied(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(meta) = out.as_object_mut().map(|m| {
        m.entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()))
    }) {
        if let Some(meta) = meta.as_object_mut() {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(a) = annotations.as_object_mut() {
                a.remove(LAST_APPLIED);
            }
        }
    }
    out
}

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

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Client-side apply of one manifest object (`apply`; `diff` with a
/// server dry run): create it, or send the three-way patch between its
/// last-applied configuration, the file and the live object. `annotate`:
/// record the file as the new last-applied configuration (`diff` does
/// not, as kubectl diff does not).
pub async fn apply_object(
    ctx: &Ctx,
    doc: &Document,
    dry: DryRun,
    annotate: bool,
) -> Result<(Outcome, serde_json::Value)> {
    let (info, ns, obj) = prepare(ctx, doc).await?;
    let name = minik_api::meta::name(&obj).to_string();
    let modified = if annotate {
        with_last_applied(&obj)
    } else {
        without_last_applied(&obj)
    };
    let current = ctx.get_opt(info, &ns, &name).await?;
    let Some(current) = current else {
        if dry == DryRun::Client {
            return Ok((Outcome::Created, modified));
        }
        let created = ctx
            .create(info, &ns, &modified, dry == DryRun::Server)
            .await
            .map_err(|e| with_origin(e, &format!("error when creating \"{}\": ", doc.origin)))?;
        return Ok((Outcome::Created, created));
    };
    let original = last_applied(&current);
    if original.is_none() {
        ctx.eprint(&format!(
            "Warning: resource {}/{name} is missing the {LAST_APPLIED} annotation which is required by miniktl apply. \
             miniktl apply should only be used on resources created declaratively by either miniktl create --save-config or miniktl apply. \
             The missing annotation will be patched automatically.\n",
            info.plural
        ));
    }
    if dry == DryRun::Client {
        // kubectl computes no patch for a client-side dry run: always "configured".
        return Ok((Outcome::Configured, current));
    }
    let patch = three_way(original.as_ref(), &modified, &current, info.kind);
    if patch.as_object().is_some_and(|m| m.is_empty()) {
        return Ok((Outcome::Unchanged, current));
    }
    let patched = ctx
        .patch(info, &ns, &name, &patch, dry == DryRun::Server)
        .await
        .map_err(|e| with_origin(e, &format!("error when patching \"{}\": ", doc.origin)))?;
    Ok((Outcome::Configured, patched))
}
