//! NodeMetrics (metrics.k8s.io/v1beta1): one node's CPU and memory in use,
//! as metrics-server serves it. Read-only: the API server builds these from
//! what it scrapes from the kubelets; nothing is stored.

use super::{metrics_cells, METRICS_COLUMNS, READ_ONLY};
use crate::kinds::{prelude::*, Backing};

/// The NodeMetrics strategy.
pub struct NodeMetrics;

/// `nodes` in metrics.k8s.io/v1beta1 (cluster-scoped).
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "metrics.k8s.io",
    "v1beta1",
    "NodeMetrics",
    "nodes",
    "",
    &NodeMetrics,
)
.cluster_scoped();

impl Strategy for NodeMetrics {
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
        metrics_cells(obj, obj.get("usage").into_iter().collect())
    }
}
