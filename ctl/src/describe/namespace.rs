//! `describe namespace` — kubectl's `describeNamespace`: status,
//! conditions, then the namespace's resource quotas and limit ranges.

use serde_json::Value;

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{conditions, rfc1123z, str_at, Writer};
use crate::error::Result;
use crate::resources;

pub async fn describe(ctx: &Ctx, ns: &Value, w: &mut Writer) -> Result<()> {
    let name = minik_api::meta::name(ns);
    Header::cluster_scoped(ns).write(w);
    w.line(0, &format!("Status:\t{}", str_at(ns, "/status/phase")));
    conditions(
        w,
        ns,
        &[
            "Type\tStatus\tLastTransitionTime\tReason\tMessage",
            "----\t------\t------------------\t------\t-------",
        ],
        |c| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                str_at(c, "/type"),
                str_at(c, "/status"),
                rfc1123z(str_at(c, "/lastTransitionTime")),
                str_at(c, "/reason"),
                str_at(c, "/message")
            )
        },
    );
    let quotas = ctx
        .list(
            resources::resolve("resourcequotas")?,
            Some(name),
            None,
            None,
        )
        .await?;
    section(w, &quotas, "No resource quota.", quota);
    let limits = ctx
        .list(resources::resolve("limitranges")?, Some(name), None, None)
        .await?;
    section(w, &limits, "No LimitRange resource.", limit_range);
    Ok(())
}

/// A blank line, then one block per object, or kubectl's `none` line.
fn section(w: &mut Writer, items: &[Value], none: &str, each: fn(&mut Writer, &Value)) {
    w.line(0, "");
    if items.is_empty() {
        w.line(0, none);
    }
    for item in items {
        each(w, item);
    }
}

/// One ResourceQuota: used and hard per resource.
fn quota(w: &mut Writer, q: &Value) {
    w.line(0, "Resource Quotas");
    w.line(1, &format!("Name:\t{}", minik_api::meta::name(q)));
    super::quota::quota_rows(w, 1, q, true);
}

/// One LimitRange: its limits per type and resource.
fn limit_range(w: &mut Writer, l: &Value) {
    w.line(0, "Resource Limits");
    super::quota::limit_rows(w, 1, l);
}
