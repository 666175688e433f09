//! What controllers ask about a pod: is it active (counts toward a
//! workload), Ready, available (Ready for `minReadySeconds`) — Kubernetes'
//! `controller.IsPodActive` and `podutil.IsPodReady`/`IsPodAvailable`.

use k8s_openapi::api::core::v1::PodCondition;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::pod_cache::CachedPod;

/// Not terminal and not being deleted (`controller.IsPodActive`).
pub fn is_pod_active(p: &CachedPod) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && p.metadata.deletion_timestamp.is_none()
}

/// The pod's Ready condition is True.
pub fn is_pod_ready(p: &CachedPod) -> bool {
    ready_condition(p).is_some_and(|c| c.status == "True")
}

/// When the pod last turned Ready, if it is Ready.
pub fn ready_since(p: &CachedPod) -> Option<Timestamp> {
    ready_condition(p)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// The pod's Ready condition, whatever its status.
pub fn ready_condition(p: &CachedPod) -> Option<&PodCondition> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// Ready for at least `min_ready_seconds` (`podutil.IsPodAvailable`).
pub fn is_pod_available(p: &CachedPod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(p) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(p)
        .is_some_and(|since| since + SignedDuration::from_secs(min_ready_seconds.into()) < now)
}
