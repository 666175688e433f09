//! The ReplicationController controller: the ReplicaSet controller run
//! over ReplicationControllers, each seen as the ReplicaSet it converts to
//! (its label map as `matchLabels`; the status fields are the same), as
//! kube-controller-manager runs it (`pkg/controller/replication`). Pods
//! are created, adopted and released with the RC as their controller;
//! Events come from `replication-controller`.

use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{ReplicationController, ReplicationControllerStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::context::Built;
use crate::replicaset::{build_for, ReplicaOwner};
use crate::Context;

/// Two statuses with the same JSON shape (conditions included).
fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned + Default>(a: &A) -> B {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

impl ReplicaOwner for ReplicationController {
    const KIND: &'static str = "ReplicationController";
    const REPORTER: &'static str = "replication-controller";

    fn as_replica_set(&self) -> Cow<'_, ReplicaSet> {
        let spec = self.spec.clone().unwrap_or_default();
        Cow::Owned(ReplicaSet {
            metadata: self.metadata.clone(),
            spec: Some(ReplicaSetSpec {
                replicas: spec.replicas,
                min_ready_seconds: spec.min_ready_seconds,
                selector: LabelSelector {
                    match_labels: spec.selector,
                    match_expressions: None,
                },
                template: spec.template,
            }),
            status: self.status.as_ref().map(convert::<_, ReplicaSetStatus>),
        })
    }

    fn put_status(&mut self, status: ReplicaSetStatus) {
        self.status = Some(convert::<_, ReplicationControllerStatus>(&status));
    }
}

/// Builds the controller over the shared ReplicationController and Pod informers.
pub fn build(ctx: &Arc<Context>) -> Built {
    build_for::<ReplicationController>(ctx, "replicationcontroller controller")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_rc_is_the_replica_set_it_converts_to_and_back() {
        let rc: ReplicationController = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"replicas": 3, "selector": {"app": "web"},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 4,
                       "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}]},
        }))
        .unwrap();
        let rs = rc.as_replica_set();
        let spec = rs.spec.clone().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(
            spec.selector.match_labels,
            Some([("app".to_string(), "web".to_string())].into())
        );
        assert_eq!(rs.metadata.uid.as_deref(), Some("u1"));
        let status = rs.status.clone().unwrap();
        assert_eq!((status.replicas, status.ready_replicas), (2, Some(1)));
        assert_eq!(
            status.conditions.unwrap()[0].reason.as_deref(),
            Some("FailedCreate")
        );
        let mut back = rc.clone();
        back.put_status(ReplicaSetStatus {
            replicas: 3,
            available_replicas: Some(3),
            ..Default::default()
        });
        let s = back.status.unwrap();
        assert_eq!((s.replicas, s.available_replicas), (3, Some(3)));
    }
}
