//! Sending an object a command generated — `create namespace|configmap|
//! secret|deployment`, `create -f`, `run`, `expose`, `autoscale` — and
//! printing the result kubectl's way: `kind/name created` (or `exposed`,
//! `autoscaled`) with a `(dry run)` suffix, or the object in `-o`'s format.
//!
//! A generated object starts with `creationTimestamp: null` and
//! `status: {}`, as kubectl's generators make them, so
//! `--dry-run=client -o yaml` prints a manifest to start from.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::Result;
use crate::flags::DryRun;
use crate::last_applied::with_last_applied;
use crate::printers::{self, Format};

/// Creates one generated object (namespace from `-n` for namespaced kinds).
/// `verb` is what the message says happened (`created`, `exposed`, `autoscaled`).
pub async fn create_object(
    ctx: &Ctx,
    mut obj: Value,
    dry: DryRun,
    format: Option<&Format>,
    save_config: bool,
    verb: &str,
) -> Result<()> {
    let av = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let info = minik_api::catalogue::by_api_version_kind(&av, &kind)
        .expect("generators make served kinds");
    let ns = if info.namespaced {
        ctx.namespace().await?
    } else {
        String::new()
    };
    // kubectl leaves the namespace out of a client-side dry run's output.
    if info.namespaced && dry != DryRun::Client {
        obj["metadata"]["namespace"] = Value::String(ns.clone());
    }
    if save_config {
        obj = with_last_applied(&obj);
    }
    let result = match dry {
        DryRun::Client => obj,
        _ => ctx.create(info, &ns, &obj, dry == DryRun::Server).await?,
    };
    print_result(ctx, &result, dry, format, verb)
}

/// Prints what happened to one object: `kind/name VERB[ (dry run)]`, or the
/// object itself in `-o`'s format.
pub fn print_result(
    ctx: &Ctx,
    obj: &Value,
    dry: DryRun,
    format: Option<&Format>,
    verb: &str,
) -> Result<()> {
    match format {
        None => ctx.print(&format!(
            "{} {verb}{}\n",
            printers::object_name(obj),
            dry.suffix()
        )),
        Some(f) => ctx.print(&printers::print_objects(
            f,
            std::slice::from_ref(obj),
            true,
        )?),
    }
    Ok(())
}
