//! `miniktl apply -f`: declarative create-or-update — kubectl's client-side apply.
//!
//! For each object in the files: resolve its kind, fill in the namespace,
//! record the file's content in the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation, then create the object if it is new, or send the three-way
//! strategic merge patch (`crate::patch`) between last-applied, the file
//! and the live object. An empty patch prints `unchanged`, so applying the
//! same file twice changes nothing; fields removed from the file are
//! removed from the object. Server-side apply (`--server-side`) is left out.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::manifest::{self, Document};
use crate::patch::three_way;
use crate::printers::{self, json, Format};
use crate::resources;

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Apply a configuration to resources from files or stdin.
#[derive(clap::Args, Debug)]
pub struct Apply {
    /// Files, directories or `-` (stdin) with the manifests.
    #[arg(short = 'f', long = "filename", required_unless_present = "kustomize")]
    pub filename: Vec<String>,
    /// A kustomization directory: not supported by miniktl (says so).
    #[arg(short = 'k', long = "kustomize")]
    pub kustomize: Option<String>,
    /// Descend into directories.
    #[arg(short = 'R', long = "recursive")]
    pub recursive: bool,
    /// none, client or server: only show what would happen.
    #[arg(long = "dry-run", default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
    /// Output format: name, yaml or json (default: a message per object).
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// Accepted for kubectl compatibility (validation is the server's).
    #[arg(long = "validate", num_args = 0..=1, default_missing_value = "true", hide = true)]
    pub validate: Option<String>,
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

impl Apply {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if let Some(k) = &self.kustomize {
            return Err(Error::Usage(format!(
                "kustomize (-k {k}) is not supported by miniktl; render it with `kubectl kustomize {k} > out.yaml` and apply that file with -f"
            )));
        }
        let dry = DryRun::parse(&self.dry_run)?;
        let format = match self.output.as_deref() {
            None => None,
            Some(o) => Some(Format::parse(Some(o))?),
        };
        let docs = manifest::read_all(&ctx.io, &self.filename, self.recursive)?;
        let mut failures = 0;
        let mut results = Vec::new();
        for doc in docs {
            match apply_one(ctx, &doc, dry).await {
                Ok((outcome, obj)) => {
                    match &format {
                        None => ctx.print(&format!(
                            "{} {}{}\n",
                            printers::object_name(&obj),
                            outcome.word(),
                            dry.suffix()
                        )),
                        Some(Format::Name) => {
                            ctx.print(&format!("{}\n", printers::object_name(&obj)))
                        }
                        Some(_) => {}
                    }
                    results.push(obj);
                }
                Err(e) => {
                    failures += 1;
                    ctx.eprint(&format!("{}\n", e.render()));
                }
            }
        }
        if let Some(f) = &format {
            if !matches!(f, Format::Name) && !results.is_empty() {
                let single = results.len() == 1;
                ctx.print(&printers::print_objects(f, &results, single)?);
            }
        }
        if failures > 0 {
            return Err(Error::Reported(failures));
        }
        Ok(())
    }
}

/// `--dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    pub fn parse(s: &str) -> Result<DryRun> {
        match s {
            "none" | "false" | "" => Ok(DryRun::None),
            "client" | "true" => Ok(DryRun::Client),
            "server" => Ok(DryRun::Server),
            other => Err(Error::Usage(format!(
                "Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."
            ))),
        }
    }

    /// What kubectl appends to its messages.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// Resolves a manifest's kind and namespace; returns the object with its
/// namespace filled in (namespaced kinds), as kubectl sends it.
pub async fn prepare(
    ctx: &Ctx,
    doc: &Document,
) -> Result<(&'static minik_api::ResourceInfo, String, Value)> {
    let av = doc
        .object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = doc.object.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut obj = doc.object.clone();
    let name = minik_api::meta::name(&obj).to_string();
    let info = minik_api::catalogue::by_api_version_kind(av, kind).ok_or_else(|| {
        resources::unknown_kind(
            kind,
            av,
            &format!(
                "name: \"{name}\" namespace: \"{}\" from \"{}\"",
                minik_api::meta::namespace(&obj).unwrap_or(""),
                doc.origin
            ),
        )
    })?;
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

async fn apply_one(ctx: &Ctx, doc: &Document, dry: DryRun) -> Result<(Outcome, Value)> {
    let (info, ns, obj) = prepare(ctx, doc).await?;
    let name = minik_api::meta::name(&obj).to_string();
    let modified = with_last_applied(&obj);
    let current = ctx.get_opt(info, &ns, &name).await?;
    let Some(current) = current else {
        if dry == DryRun::Client {
            return Ok((Outcome::Created, modified));
        }
        let created = ctx
            .create(info, &ns, &modified, dry == DryRun::Server)
            .await
            .map_err(|e| context(e, &format!("error when creating \"{}\": ", doc.origin)))?;
        return Ok((Outcome::Created, created));
    };
    let original: Option<Value> = current
        .pointer(&format!(
            "/metadata/annotations/{}",
            LAST_APPLIED.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok());
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
        .map_err(|e| context(e, &format!("error when patching \"{}\": ", doc.origin)))?;
    Ok((Outcome::Configured, patched))
}

/// Prefixes an API error's message (kubectl's `error when creating "f":`);
/// validation errors stay as they are, printed kubectl's way.
pub fn context(e: Error, prefix: &str) -> Error {
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
    }
}
