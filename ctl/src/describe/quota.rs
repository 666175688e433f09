//! `describe resourcequota` and `describe limitrange` — kubectl's
//! `ResourceQuotaDescriber` and `LimitRangeDescriber`: a quota's scopes
//! and Used/Hard per resource, a limit range's bounds per type and
//! resource. `describe namespace` prints the same tables for each of its
//! quotas and limit ranges.

use serde_json::Value;

use crate::describe::{scalar, str_at, Writer};
use crate::value::array_at;

/// kubectl's `describeQuota`.
pub fn describe_quota(q: &Value, w: &mut Writer) {
    w.line(0, &format!("Name:\t{}", minik_api::meta::name(q)));
    w.line(
        0,
        &format!("Namespace:\t{}", str_at(q, "/metadata/namespace")),
    );
    let mut scopes: Vec<&str> = array_at(q, "/spec/scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !scopes.is_empty() {
        scopes.sort();
        w.line(0, &format!("Scopes:\t{}", scopes.join(", ")));
        for scope in scopes {
            if let Some(help) = scope_help(scope) {
                w.line(0, &format!(" * {help}"));
            }
        }
    }
    quota_rows(w, 0, q, false);
}

/// kubectl's `helpTextForResourceQuotaScope`.
fn scope_help(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "Terminating" => "Matches all pods that have an active deadline. These pods have a limited lifespan on a node before being actively terminated by the system.",
        "NotTerminating" => "Matches all pods that do not have an active deadline. These pods usually include long running pods whose container command is not expected to terminate.",
        "BestEffort" => "Matches all pods that do not have resource requirements set. These pods have a best effort quality of service.",
        "NotBestEffort" => "Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.",
        _ => return None,
    })
}

/// kubectl's `describeLimitRange`.
pub fn describe_limit_range(l: &Value, w: &mut Writer) {
    w.line(0, &format!("Name:\t{}", minik_api::meta::name(l)));
    w.line(
        0,
        &format!("Namespace:\t{}", str_at(l, "/metadata/namespace")),
    );
    limit_rows(w, 0, l);
}

/// The `Resource Used Hard` table: one row per resource of `status.hard`
/// (none until the quota controller has written it; under a namespace,
/// those of `spec.hard` before then), used and hard from the status.
/// kubectl underlines `Used`/`Hard` with `----` here, `---` under a namespace.
pub fn quota_rows(w: &mut Writer, level: usize, q: &Value, in_namespace: bool) {
    let rule = if in_namespace { "---" } else { "----" };
    w.line(level, "Resource\tUsed\tHard");
    w.line(level, &format!("--------\t{rule}\t{rule}"));
    let hard = q
        .pointer("/status/hard")
        .or_else(|| in_namespace.then(|| q.pointer("/spec/hard")).flatten());
    let Some(hard) = hard.and_then(Value::as_object) else {
        return;
    };
    let mut keys: Vec<&String> = hard.keys().collect();
    keys.sort();
    let status = |list: &str, k: &str| {
        q.pointer(&format!("/status/{list}"))
            .and_then(|l| l.get(k))
            .map(|v| scalar(Some(v)))
            .unwrap_or_else(|| "0".into())
    };
    for k in keys {
        w.line(
            level,
            &format!("{k}\t{}\t{}", status("used", k), scalar(hard.get(k))),
        );
    }
}

/// The limit table: one row per type and resource, `-` where unset.
pub fn limit_rows(w: &mut Writer, level: usize, l: &Value) {
    w.line(
        level,
        "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio",
    );
    w.line(
        level,
        "----\t--------\t---\t---\t---------------\t-------------\t-----------------------",
    );
    for item in array_at(l, "/spec/limits") {
        let t = str_at(item, "/type");
        let mut names: Vec<String> = Vec::new();
        for f in [
            "min",
            "max",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            if let Some(m) = item.get(f).and_then(Value::as_object) {
                for k in m.keys() {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
        }
        names.sort();
        let get = |f: &str, k: &str| {
            item.get(f)
                .and_then(|m| m.get(k))
                .map(|v| scalar(Some(v)))
                .unwrap_or_else(|| "-".into())
        };
        for k in names {
            w.line(
                level,
                &format!(
                    "{t}\t{k}\t{}\t{}\t{}\t{}\t{}",
                    get("min", &k),
                    get("max", &k),
                    get("defaultRequest", &k),
                    get("default", &k),
                    get("maxLimitRequestRatio", &k)
                ),
            );
        }
    }
}
