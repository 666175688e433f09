//! ResourceQuota (core/v1): limits on what a namespace may consume.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The ResourceQuota strategy.
pub struct ResourceQuota;

/// `resourcequotas` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "ResourceQuota",
    "resourcequotas",
    "resourcequota",
    &ResourceQuota,
)
.short_names(&["quota"])
.subresources(&["status"]);

impl Strategy for ResourceQuota {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::ResourceQuota>(obj))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_resource_quota(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        if let Some(quota) = typed::<core::ResourceQuota>(obj, errs) {
            let hard = quota.spec.and_then(|s| s.hard);
            validate_resource_list(&json_of(&hard), "spec.hard", errs)
        }
    }
    fn columns(&self) -> &'static [Column] {
        RESOURCEQUOTA_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        resourcequota_cells(obj, now)
    }
    fn quota_usage(&self, _: &Value, _: Timestamp) -> crate::quota::ResourceList {
        [(
            "resourcequotas".to_string(),
            Quantity::from_value(1, Default::default()),
        )]
        .into()
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        resource == "resourcequotas"
    }
}

fn default_resource_quota(q: &mut Obj) {
    if let Some(hard) = existing(q, "spec").and_then(|s| existing(s, "hard")) {
        canonicalize_quantities(hard);
    }
}

const RESOURCEQUOTA_COLUMNS: &[Column] = &[
    NAME,
    AGE, // kube puts AGE second here
    string("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
    string("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
];

fn resourcequota_cells(quota: &Value, now: Timestamp) -> Vec<Value> {
    let mut names: Vec<&String> = quota
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .map(|hard| hard.keys().collect())
        .unwrap_or_default();
    names.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for name in names {
        let pointer_name = name.replace('~', "~0").replace('/', "~1");
        let used = quantity(quota, &format!("/status/used/{pointer_name}"));
        let hard = quantity(quota, &format!("/status/hard/{pointer_name}"));
        let entry = format!("{name}: {used}/{hard}");
        match name.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name_cell(quota),
        age_cell(quota, now),
        requests.join(", ").into(),
        limits.join(", ").into(),
    ]
}
