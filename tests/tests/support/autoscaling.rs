//! Helpers for the metrics and autoscaling tests: the controllers an HPA
//! needs (ReplicaSet, Deployment, HorizontalPodAutoscaler) with a short
//! sync period, and `top` tables read back for comparison.

use std::sync::Arc;
use std::time::Duration;

use super::workloads::Tasks;

/// ReplicaSet, Deployment and HPA controllers against `client`, each HPA
/// synced every `sync_period`.
pub fn start_autoscaling_controllers(client: &kube::Client, sync_period: Duration) -> Tasks {
    let settings = minik_controller::Settings {
        hpa_sync_period: sync_period,
        ..Default::default()
    };
    let ctx = Arc::new(minik_controller::Context::new(client.clone(), settings));
    let builds = [
        minik_controller::replicaset::build,
        minik_controller::deployment::build,
        minik_controller::horizontal_pod_autoscaler::build,
    ];
    Tasks(vec![tokio::spawn(async move {
        minik_controller::run_only(ctx, &builds).await.unwrap()
    })])
}

/// A `top` table: the header and each row's cells.
pub fn table(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// The number in a `top` cell (`150m`, `64Mi`, `7%`), if it is one.
pub fn number(cell: &str) -> Option<i64> {
    cell.trim_end_matches(['m', '%'])
        .trim_end_matches("Mi")
        .parse()
        .ok()
}

/// Whether two `top` tables agree: the same cells, numbers within `slack`
/// (usage moves between two reads).
pub fn agree(a: &str, b: &str, slack: i64) -> bool {
    let (a, b) = (table(a), table(b));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(ra, rb)| {
            ra.len() == rb.len()
                && ra.iter().zip(rb).all(|(x, y)| {
                    x == y
                        || matches!((number(x), number(y)), (Some(p), Some(q)) if (p - q).abs() <= slack && x.chars().last() == y.chars().last())
                })
        })
}
