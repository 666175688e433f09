//! What the dashboard keeps of a pod: what its card shows (phase,
//! readiness, node, owner, restarts, why a container is not running,
//! image, IP, requests, claims) and what the drain control decides by.
//!
//! The dashboard's pod cache used to hold whole decoded Pods, about 15 KB
//! each (k8s-openapi keeps every optional part of a spec inline), to show a
//! dozen fields: about 450 MB at 30,000 pods. A watch of `PodSummary`
//! decodes each pod's JSON straight into these fields (serde skips the rest
//! without building it). `why` on a pod or Service reads whole pods from
//! the API server when it is asked, as `miniktl why` does.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use minik_client::informer::null_as_default;
use serde::Deserialize;

/// The annotation that marks a mirror pod (the kubelet's copy of a static
/// pod), which drain leaves alone.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The fields of a Pod the dashboard reads; a watch of `/api/v1/pods`
/// decodes into it directly.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodSummary {
    /// Without labels, managed fields, and annotations other than
    /// [`MIRROR_ANNOTATION`].
    #[serde(deserialize_with = "card_metadata")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: SummarySpec,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: SummaryStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummarySpec {
    pub node_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<SummaryContainer>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes: Vec<SummaryVolume>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SummaryContainer {
    pub image: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Requests,
}

/// `resources.requests`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Requests {
    pub requests: Option<BTreeMap<String, Quantity>>,
}

/// A volume, for the claim it uses (if it is a `persistentVolumeClaim`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryVolume {
    pub persistent_volume_claim: Option<ClaimName>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimName {
    pub claim_name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub conditions: Vec<ConditionStatus>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub container_statuses: Vec<ContainerSummary>,
}

/// A condition's type and status (`Ready`, `True`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConditionStatus {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSummary {
    #[serde(default, deserialize_with = "null_as_default")]
    pub restart_count: i32,
    pub state: Option<StateReasons>,
}

/// Why a container waits or ended (`CrashLoopBackOff`, `OOMKilled`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct StateReasons {
    pub waiting: Option<Reason>,
    pub terminated: Option<Reason>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reason {
    pub reason: Option<String>,
}

impl PodSummary {
    /// Whether the Ready condition is True.
    pub fn ready(&self) -> bool {
        self.status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    }
}

fn card_metadata<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let mut meta = ObjectMeta::deserialize(d)?;
    meta.labels = None;
    meta.managed_fields = None;
    meta.annotations = meta
        .annotations
        .and_then(|mut a| a.remove_entry(MIRROR_ANNOTATION))
        .map(|(k, v)| BTreeMap::from([(k, v)]));
    Ok(meta)
}

// Watched and listed as a Pod (`/api/v1/pods`).
minik_client::projection_of!(PodSummary, Pod);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_card_shows_what_the_whole_pod_says() {
        let pod: PodSummary = serde_json::from_value(json!({
            "metadata": {
                "name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7",
                "labels": {"app": "web"},
                "annotations": {MIRROR_ANNOTATION: "abc", "scheduler.minik.io/decision": "a table"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                     "uid": "rs1", "controller": true}],
            },
            "spec": {
                "nodeName": "n1",
                "containers": [
                    {"name": "a", "image": "minik/web:v1",
                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1"}},
                     "livenessProbe": {"httpGet": {"path": "/", "port": 80}}},
                    {"name": "b", "image": "busybox", "resources": {"requests": {"cpu": "200m"}}},
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}},
                            {"name": "tmp", "emptyDir": {}}],
            },
            "status": {
                "phase": "Running", "podIP": "10.1.0.5",
                "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "restartCount": 2, "ready": true, "image": "x", "imageID": "",
                     "state": {"running": {}}},
                    {"name": "b", "restartCount": 1, "ready": false, "image": "y", "imageID": "",
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                ],
            },
        }))
        .unwrap();
        assert_eq!(
            crate::compact::pod(&pod),
            json!({
                "k": "pod", "id": "shop/web-1", "ns": "shop", "name": "web-1", "node": "n1",
                "phase": "Running", "ready": true, "deleting": false, "owner": "ReplicaSet/web",
                "restarts": 3, "trouble": "CrashLoopBackOff", "image": "minik/web:v1",
                "ip": "10.1.0.5", "cpu": 300, "mem": 64 * 1024 * 1024, "claims": ["data-web-1"],
            })
        );
        // Only the mirror annotation is kept (drain reads it), no labels.
        assert_eq!(
            pod.metadata.annotations,
            Some(BTreeMap::from([(MIRROR_ANNOTATION.into(), "abc".into())]))
        );
        assert_eq!(pod.metadata.labels, None);
    }

    #[test]
    fn explicit_nulls_read_as_unset() {
        // The API server keeps a null a manifest sent (`volumes:` and no
        // list): the pod must still decode, or it vanishes from the cache.
        let pod: PodSummary = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": null}], "volumes": null},
            "status": {"conditions": null, "containerStatuses": null},
        }))
        .unwrap();
        assert_eq!(crate::compact::pod(&pod)["image"], "x");
        let pod: PodSummary = serde_json::from_value(
            json!({"metadata": {"name": "p"}, "spec": null, "status": null}),
        )
        .unwrap();
        assert_eq!(crate::compact::pod(&pod)["phase"], "Pending");
    }

    #[test]
    fn a_new_pod_is_pending() {
        let pod: PodSummary =
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d"}})).unwrap();
        let card = crate::compact::pod(&pod);
        assert_eq!(card["phase"], "Pending");
        assert_eq!(card["ready"], false);
        assert_eq!(card["node"], "");
    }
}
