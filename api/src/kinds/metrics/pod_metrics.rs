//! PodMetrics (metrics.k8s.io/v1beta1): the CPU and memory each container
//! of a pod uses, as metrics-server serves it. Read-only: the API server
//! builds these from what it scrapes from the kubelets; nothing is stored.

use super::{metrics_cells, METRICS_COLUMNS, READ_ONLY};
use crate::kinds::{prelude::*, Backing};

/// The PodMetrics strategy.
pub struct PodMetrics;

/// `pods` in metrics.k8s.io/v1beta1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "metrics.k8s.io",
    "v1beta1",
    "PodMetrics",
    "pods",
    "",
    &PodMetrics,
);

impl Strategy for PodMetrics {
    fn backing(&self) -> Backing {
        Backing::ResourceMetrics
    }
    fn verbs(&self) -> &'static [&'static str] {
        READ_ONLY
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn columns(&self) -> &'static [Column] {
        METRICS_COLUMNS
    }
    fn cells(&self, obj: &Value, _: Timestamp) -> Vec<Value> {
        let usages = items_at(obj, "/containers")
            .iter()
            .filter_map(|c| c.get("usage"))
            .collect();
        metrics_cells(obj, usages)
    }
}
