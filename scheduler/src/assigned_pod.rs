//! What the scheduler keeps of a pod already bound to a node: what it
//! takes from the node ([`PodUsage`](crate::resources::PodUsage): requests,
//! host ports, owner, labels and required anti-affinity for its
//! neighbours' filters) and nothing else.
//!
//! The assigned-pods informer used to cache whole decoded Pods, about
//! 15 KB each (k8s-openapi keeps every optional part of a spec inline:
//! probes, security contexts, ~30 kinds of volume source), although only
//! the scheduler's own cache ever read them: about 450 MB at 30,000 pods.
//! A watch of `AssignedPod` decodes each pod's JSON straight into these
//! fields (serde skips the rest without building it), a few hundred bytes
//! to a couple of KB a pod. kube-scheduler caches whole pods; what it reads
//! of an assigned one is the same as here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, Pod, PodAffinityTerm, PodAntiAffinity, PodSpec,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use minik_client::informer::null_as_default;
use serde::Deserialize;

/// The fields of a bound Pod the scheduler reads; a watch of
/// `/api/v1/pods` decodes into it directly.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AssignedPod {
    /// Without annotations (the scheduler's own decision record is one)
    /// and managed fields.
    #[serde(deserialize_with = "without_annotations")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: AssignedSpec,
}

/// `spec.nodeName` and what the pod takes from its node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedSpec {
    pub node_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<ContainerUsage>,
    pub init_containers: Option<Vec<ContainerUsage>>,
    pub overhead: Option<BTreeMap<String, Quantity>>,
    pub affinity: Option<AntiAffinity>,
}

/// A container's requests and ports (and, for an init container, whether
/// it is a sidecar: `restartPolicy: Always`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerUsage {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Requests,
    pub ports: Option<Vec<ContainerPort>>,
    pub restart_policy: Option<String>,
}

/// `resources.requests` (limits do not take node capacity).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Requests {
    pub requests: Option<BTreeMap<String, Quantity>>,
}

/// `affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`:
/// the only affinity of a placed pod that its neighbours' filters read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AntiAffinity {
    pub pod_anti_affinity: Option<RequiredAntiAffinity>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredAntiAffinity {
    pub required_during_scheduling_ignored_during_execution: Option<Vec<PodAffinityTerm>>,
}

impl AssignedPod {
    /// A Pod holding just these fields, for the code that sizes pods
    /// (`PodUsage::of`), which pending pods (whole Pods) share.
    pub fn to_pod(&self) -> Pod {
        let container = |c: &ContainerUsage| Container {
            name: c.name.clone(),
            resources: c.resources.requests.clone().map(|r| ResourceRequirements {
                requests: Some(r),
                ..Default::default()
            }),
            ports: c.ports.clone(),
            restart_policy: c.restart_policy.clone(),
            ..Default::default()
        };
        let spec = &self.spec;
        Pod {
            metadata: self.metadata.clone(),
            spec: Some(PodSpec {
                node_name: spec.node_name.clone(),
                containers: spec.containers.iter().map(container).collect(),
                init_containers: spec
                    .init_containers
                    .as_ref()
                    .map(|cs| cs.iter().map(container).collect()),
                overhead: spec.overhead.clone(),
                affinity: spec.affinity.as_ref().map(|a| Affinity {
                    pod_anti_affinity: a.pod_anti_affinity.as_ref().map(|p| PodAntiAffinity {
                        required_during_scheduling_ignored_during_execution: p
                            .required_during_scheduling_ignored_during_execution
                            .clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        }
    }
}

fn without_annotations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let mut meta = ObjectMeta::deserialize(d)?;
    meta.annotations = None;
    meta.managed_fields = None;
    Ok(meta)
}

// Watched and listed as a Pod (`/api/v1/pods`).
minik_client::projection_of!(AssignedPod, Pod);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::PodUsage;

    /// A pod using everything `PodUsage` reads, and much it does not.
    fn full_pod() -> serde_json::Value {
        let container = |name: &str, cpu: &str, port: i32| {
            serde_json::json!({
                "name": name, "image": "minik/web:v1",
                "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": "1"}},
                "ports": [{"containerPort": 80, "hostPort": port, "hostIP": "10.0.0.1", "protocol": "UDP"},
                          {"containerPort": 81}],
                "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                "env": [{"name": "A", "value": "b"}],
            })
        };
        let mut sidecar = container("sidecar", "50m", 0);
        sidecar["restartPolicy"] = "Always".into();
        serde_json::json!({
            "metadata": {
                "name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7",
                "labels": {"app": "web"},
                "annotations": {"scheduler.minik.io/decision": "a long table"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                     "uid": "rs1", "controller": true}],
                "deletionTimestamp": "2026-01-01T00:00:00Z",
            },
            "spec": {
                "nodeName": "n1",
                "containers": [container("a", "100m", 8080), container("b", "200m", 0)],
                "initContainers": [sidecar, container("init", "900m", 0)],
                "overhead": {"cpu": "10m"},
                "affinity": {
                    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]},
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}},
                },
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"operator": "Exists"}],
            },
            "status": {"phase": "Running", "podIP": "10.1.0.5"},
        })
    }

    #[test]
    fn keeps_what_the_pod_takes_from_its_node() {
        let whole: Pod = serde_json::from_value(full_pod()).unwrap();
        let kept: AssignedPod = serde_json::from_value(full_pod()).unwrap();
        assert_eq!(PodUsage::of(&kept.to_pod()), PodUsage::of(&whole));
        // The parts the cache is keyed and judged by.
        assert_eq!(kept.spec.node_name.as_deref(), Some("n1"));
        assert_eq!(kept.metadata.uid.as_deref(), Some("u1"));
        assert_eq!(kept.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(kept.metadata.annotations, None);
    }

    #[test]
    fn explicit_nulls_read_as_unset() {
        let kept: AssignedPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "uid": "u"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": null, "ports": null}],
                     "initContainers": null, "affinity": null},
        }))
        .unwrap();
        assert_eq!(kept.spec.containers.len(), 1);
        assert_eq!(PodUsage::of(&kept.to_pod()).requests, Default::default());
    }

    #[test]
    fn a_pod_without_a_spec_decodes() {
        let kept: AssignedPod =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}})).unwrap();
        assert_eq!(kept.to_pod().spec.unwrap().containers.len(), 0);
    }
}
