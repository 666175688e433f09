//! The kinds of metrics.k8s.io/v1beta1: resource usage measured by the
//! kubelets, read-only and never stored (metrics-server's API, served by
//! minik's API server itself; see `apiserver/src/scraper.rs` and
//! `apiserver/src/rest/metrics_api.rs`).

pub mod node_metrics;
pub mod pod_metrics;

use crate::kinds::prelude::*;

/// What both metrics kinds answer: no writes, no watch, kept in memory.
pub(crate) const READ_ONLY: &[&str] = &["get", "list"];

/// The summed usage of `usage` maps (`{"cpu": "12n", "memory": "3Ki"}`):
/// CPU in millicores, memory in bytes.
pub(crate) fn usage_totals<'a>(usages: impl Iterator<Item = &'a Value>) -> (i64, i64) {
    let mut cpu = Quantity::from_millis(0);
    let mut memory = Quantity::from_millis(0);
    for u in usages {
        if let Some(q) = u.get("cpu").and_then(|v| Quantity::from_json(v).ok()) {
            cpu += q;
        }
        if let Some(q) = u.get("memory").and_then(|v| Quantity::from_json(v).ok()) {
            memory += q;
        }
    }
    (cpu.millis(), memory.value())
}

/// metrics-server's table columns: CPU in millicores, memory in Mi, the window.
pub(crate) const METRICS_COLUMNS: &[Column] = &[
    NAME,
    string("CPU", "CPU usage of the object"),
    string("Memory", "Memory usage of the object"),
    string("Window", "Window over which the usage was measured"),
];

pub(crate) fn metrics_cells(obj: &Value, usages: Vec<&Value>) -> Vec<Value> {
    let (cpu, memory) = usage_totals(usages.into_iter());
    vec![
        name_cell(obj),
        format!("{cpu}m").into(),
        format!("{}Mi", memory / (1024 * 1024)).into(),
        text(obj, "/window").into(),
    ]
}
