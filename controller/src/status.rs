//! How controllers write status fields so they read like Kubernetes' own:
//! `omitempty` counts and second-precision `metav1.Time`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A count Kubernetes serializes with `omitempty`: absent when zero, so
/// status reads (`kubectl get -o yaml`) the same as on a real cluster.
pub fn omit_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// `t` as a `metav1.Time`, which has second precision.
pub fn second_precision(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}
