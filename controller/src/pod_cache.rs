//! What the controller-manager keeps of each pod: [`CachedPod`], the
//! fields its controllers read, decoded straight from the pod's JSON.
//!
//! A k8s-openapi `Pod` keeps every optional part of a pod inline, read or
//! not: a `Container` is 2.1 KB (three probes, lifecycle hooks, a security
//! context), a `ContainerStatus` 0.75 KB, a `Volume` 3.2 KB (thirty kinds
//! of source). Even trimmed of what no controller reads, a cached
//! Deployment pod took about 8 KB: 240 MB at 30,000 pods, half the
//! process. The one pod cache (shared by every controller, as
//! kube-controller-manager's informer factory is) holds this projection
//! instead, about 3.3 KB for that pod (`tests/pod_cache_size.rs`), with
//! the same field names and shapes as `Pod`, so the controllers read it
//! as they would a Pod and the compiler says when one wants a field that
//! is not here (add it here).
//!
//! Kept: the metadata (of the annotations, only [`KEPT_ANNOTATIONS`]);
//! node name, affinity, tolerations, hostname and subdomain; containers'
//! names, ports, resources and sidecar restart policy; volumes that name a
//! claim; the
//! status's phase, conditions, IPs, start time and containers' readiness,
//! restarts and state. Nothing cached is written back whole: the
//! controllers patch what they change (labels, owner references, a
//! condition list), preconditioned on the cached resourceVersion where
//! Kubernetes PUTs the cached pod.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ContainerPort, ContainerState, PersistentVolumeClaimVolumeSource, Pod, PodCondition,
    PodIP, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use minik_client::informer::null_as_default;
use serde::{Deserialize, Serialize};

/// The annotations a controller reads of a pod (a ReplicaSet's deletion
/// cost, an indexed Job's index and its failure count); the rest, such as
/// the scheduler's decision record, are not cached.
pub const KEPT_ANNOTATIONS: [&str; 3] = [
    crate::replicaset::POD_DELETION_COST,
    crate::job::COMPLETION_INDEX,
    crate::job::INDEX_FAILURE_COUNT,
];

/// A pod as the controller-manager caches it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct CachedPod {
    #[serde(deserialize_with = "kept_metadata")]
    pub metadata: ObjectMeta,
    pub spec: Option<CachedPodSpec>,
    pub status: Option<CachedPodStatus>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CachedPodSpec {
    pub node_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<CachedContainer>,
    pub init_containers: Option<Vec<CachedContainer>>,
    /// Only the volumes that name a claim (a StatefulSet's storage, PVC
    /// protection).
    #[serde(default, deserialize_with = "claim_volumes")]
    pub volumes: Option<Vec<CachedVolume>>,
    pub affinity: Option<Box<Affinity>>,
    pub tolerations: Option<Vec<Toleration>>,
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
}

/// A container's name, ports and resources (Endpoints' named ports, the
/// autoscaler's requests), and an init container's `restartPolicy` (a
/// sidecar).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CachedContainer {
    pub name: String,
    pub ports: Option<Vec<ContainerPort>>,
    pub resources: Option<ResourceRequirements>,
    pub restart_policy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CachedVolume {
    pub name: String,
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CachedPodStatus {
    pub phase: Option<String>,
    pub conditions: Option<Vec<PodCondition>>,
    pub container_statuses: Option<Vec<CachedContainerStatus>>,
    pub init_container_statuses: Option<Vec<CachedContainerStatus>>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pub pod_ips: Option<Vec<PodIP>>,
    pub start_time: Option<Time>,
}

/// A container's readiness, restarts and state (a Job's exit codes).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CachedContainerStatus {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ready: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub restart_count: i32,
    pub state: Option<ContainerState>,
}

impl CachedPod {
    /// The cached form of a whole pod (what the watch decodes, from a Pod
    /// already in hand: tests, and a pod a controller just created).
    pub fn of(pod: &Pod) -> CachedPod {
        serde_json::to_value(pod)
            .and_then(serde_json::from_value)
            .expect("a Pod's JSON holds every cached field")
    }
}

fn kept_metadata<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let mut meta = ObjectMeta::deserialize(d)?;
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|k, _| KEPT_ANNOTATIONS.contains(&k.as_str()));
    }
    if meta.annotations.as_ref().is_some_and(BTreeMap::is_empty) {
        meta.annotations = None;
    }
    Ok(meta)
}

fn claim_volumes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<CachedVolume>>, D::Error> {
    let volumes = Option::<Vec<CachedVolume>>::deserialize(d)?;
    Ok(volumes.map(|vs| {
        vs.into_iter()
            .filter(|v| v.persistent_volume_claim.is_some())
            .collect()
    }))
}

// Watched and listed as a Pod (`/api/v1/pods`).
minik_client::projection_of!(CachedPod, Pod);

/// The controller-manager's one pod informer.
pub fn informer(
    informers: &minik_client::SharedInformerFactory,
) -> minik_client::Informer<CachedPod> {
    informers.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_pod() -> serde_json::Value {
        serde_json::json!({
            "metadata": {
                "name": "db-0", "namespace": "prod", "labels": {"app": "db"},
                "annotations": {
                    "controller.kubernetes.io/pod-deletion-cost": "5",
                    "scheduler.minik.io/decision": "a long record of the scheduler's filters",
                },
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "name": "db", "uid": "u1", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "spec": {
                "nodeName": "node-1",
                "hostname": "db-0", "subdomain": "db",
                "volumes": [
                    {"name": "kube-api-access", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                    {"name": "conf", "configMap": {"name": "db"}},
                ],
                "containers": [{
                    "name": "db", "image": "postgres:16",
                    "command": ["postgres"], "env": [{"name": "A", "value": "b"}],
                    "ports": [{"containerPort": 5432, "name": "pg"}],
                    "resources": {"requests": {"cpu": "100m"}},
                    "readinessProbe": {"tcpSocket": {"port": 5432}},
                    "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}],
                }],
                "tolerations": [{"key": "node.kubernetes.io/unreachable",
                    "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                "restartPolicy": "Always",
            },
            "status": {
                "phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}],
                "hostIP": "172.18.0.2",
                "conditions": [{"type": "Ready", "status": "True",
                    "lastTransitionTime": "2026-12-06T10:00:00Z"}],
                "containerStatuses": [{"name": "db", "ready": true, "restartCount": 2,
                    "image": "postgres:16", "imageID": "sha256:1", "containerID": "minik://1",
                    "state": {"running": {"startedAt": "2026-12-06T10:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 1}}}],
                "startTime": "2026-12-06T09:59:58Z",
            },
        })
    }

    #[test]
    fn keeps_what_the_controllers_read() {
        let pod: CachedPod = serde_json::from_value(full_pod()).unwrap();
        let meta = &pod.metadata;
        assert_eq!(meta.labels.as_ref().unwrap()["app"], "db");
        assert_eq!(
            meta.owner_references.as_ref().unwrap()[0].kind,
            "StatefulSet"
        );
        let annotations: Vec<&str> = meta
            .annotations
            .iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(annotations, ["controller.kubernetes.io/pod-deletion-cost"]);
        assert!(meta.managed_fields.is_none());

        let spec = pod.spec.as_ref().unwrap();
        let volumes: Vec<&str> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(volumes, ["data"]);
        let c = &spec.containers[0];
        assert_eq!(c.name, "db");
        assert_eq!(c.ports.as_ref().unwrap()[0].name.as_deref(), Some("pg"));
        assert!(c.resources.as_ref().unwrap().requests.is_some());
        assert_eq!(spec.node_name.as_deref(), Some("node-1"));
        assert_eq!(
            spec.tolerations.as_ref().unwrap()[0].toleration_seconds,
            Some(300)
        );
        assert_eq!(
            (spec.hostname.as_deref(), spec.subdomain.as_deref()),
            (Some("db-0"), Some("db"))
        );

        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, "10.0.0.9");
        assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.9"));
        assert!(status.start_time.is_some());
        let cs = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!((cs.ready, cs.restart_count), (true, 2));
        assert!(cs.state.as_ref().unwrap().running.is_some());
    }

    #[test]
    fn a_pod_in_hand_caches_as_the_watch_decodes_it() {
        let pod: Pod = serde_json::from_value(full_pod()).unwrap();
        let watched: CachedPod = serde_json::from_value(full_pod()).unwrap();
        assert_eq!(CachedPod::of(&pod), watched);
    }

    #[test]
    fn explicit_nulls_read_as_unset() {
        let pod: CachedPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "annotations": null},
            "spec": {"containers": null, "volumes": null},
            "status": {"containerStatuses": [{"name": "c", "ready": null, "restartCount": null}]},
        }))
        .unwrap();
        assert!(pod.spec.unwrap().containers.is_empty());
        assert_eq!(
            pod.status.unwrap().container_statuses.unwrap()[0].restart_count,
            0
        );
    }
}
