//! What a kubelet keeps of each pod bound to its nodes between syncs: the
//! pod's JSON, deflated, and the few fields it routes and looks pods up by.
//!
//! A decoded k8s-openapi Pod is about 18 KB (every optional part of a spec
//! — each volume's thirty kinds of source, each container's probes and
//! security context — is inline, mostly empty), its JSON without
//! managedFields about 3 KB. A process simulating 1,000 nodes holds every
//! pod of the cluster: 30,000 decoded pods were over half a gigabyte. The
//! watch decodes each pod into a whole `Pod` as before (so a pod that does
//! not decode is still skipped, and the bytes kept are exactly what a Pod
//! re-encodes to), keeps it encoded, and a worker decodes it again only
//! when it syncs. The JSON is kept deflated (at the fastest level): a
//! pod's JSON is mostly the same keys again, 2.8 KB of it deflates to
//! about 1.2 KB, and inflating it again for a sync takes microseconds. A
//! real kubelet keeps its pods decoded; at 110 pods a node that costs it
//! nothing.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use crate::runtime::{SIM_CPU_ANNOTATION, SIM_MEMORY_ANNOTATION};

/// A ConfigMap, Secret or PersistentVolumeClaim a pod reads, as (kind, name).
pub type Use = (&'static str, String);

/// A pod as the kubelet's watch keeps it.
#[derive(Clone, Debug)]
pub struct EncodedPod {
    /// Name, namespace, uid, resourceVersion, deletion timestamp, and of
    /// the annotations only the simulated runtime's usage
    /// (`sim.minik.io/cpu`, `sim.minik.io/memory`, read between syncs);
    /// nothing else. Other annotations (the scheduler's decision is a
    /// line of text) would cost a map per pod for nothing.
    pub metadata: ObjectMeta,
    /// `spec.nodeName`: which node's worker gets it.
    pub node_name: Option<String>,
    /// What wakes the pod's worker when it changes.
    pub uses: Arc<HashSet<Use>>,
    /// The pod without managedFields, as `serde_json` encodes a `Pod`,
    /// deflated.
    deflated: Arc<[u8]>,
}

impl EncodedPod {
    /// Keeps `pod` encoded.
    pub fn new(mut pod: Pod) -> Self {
        pod.metadata.managed_fields = None;
        let json = serde_json::to_vec(&pod).expect("a Pod always encodes");
        let spec = pod.spec.as_ref();
        Self {
            node_name: spec.and_then(|s| s.node_name.clone()),
            uses: Arc::new(uses(&pod)),
            metadata: ObjectMeta {
                name: pod.metadata.name,
                namespace: pod.metadata.namespace,
                uid: pod.metadata.uid,
                resource_version: pod.metadata.resource_version,
                annotations: usage_annotations(pod.metadata.annotations),
                deletion_timestamp: pod.metadata.deletion_timestamp,
                ..ObjectMeta::default()
            },
            deflated: deflate(&json).into(),
        }
    }

    /// The whole pod again.
    pub fn decode(&self) -> Pod {
        let mut json = Vec::with_capacity(self.deflated.len() * 3);
        flate2::read::DeflateDecoder::new(&self.deflated[..])
            .read_to_end(&mut json)
            .expect("deflated here");
        serde_json::from_slice(&json).expect("encoded from a Pod")
    }
}

fn deflate(json: &[u8]) -> Vec<u8> {
    let out = Vec::with_capacity(json.len() / 2);
    let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    encoder.write_all(json).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

impl<'de> Deserialize<'de> for EncodedPod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Pod::deserialize(d).map(Self::new)
    }
}

// Watched and listed as a Pod (`/api/v1/pods`).
minik_client::projection_of!(EncodedPod, Pod);

/// The simulated runtime's usage annotations of `annotations`, if any.
fn usage_annotations(
    annotations: Option<BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let usage: BTreeMap<String, String> = annotations?
        .into_iter()
        .filter(|(k, _)| k == SIM_CPU_ANNOTATION || k == SIM_MEMORY_ANNOTATION)
        .collect();
    (!usage.is_empty()).then_some(usage)
}

/// The ConfigMaps, Secrets and PersistentVolumeClaims a pod reads (volumes, env, envFrom).
fn uses(pod: &Pod) -> HashSet<Use> {
    let mut out = HashSet::new();
    let Some(spec) = &pod.spec else { return out };
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            out.insert(("ConfigMap", cm.name.clone()));
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            out.insert(("Secret", s));
        }
        if let Some(c) = &v.persistent_volume_claim {
            out.insert(("PersistentVolumeClaim", c.claim_name.clone()));
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &source.config_map {
                out.insert(("ConfigMap", cm.name.clone()));
            }
            if let Some(s) = &source.secret {
                out.insert(("Secret", s.name.clone()));
            }
        }
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.config_map_ref {
                out.insert(("ConfigMap", r.name.clone()));
            }
            if let Some(r) = &e.secret_ref {
                out.insert(("Secret", r.name.clone()));
            }
        }
        for e in c.env.iter().flatten() {
            let from = e.value_from.as_ref();
            if let Some(r) = from.and_then(|f| f.config_map_key_ref.as_ref()) {
                out.insert(("ConfigMap", r.name.clone()));
            }
            if let Some(r) = from.and_then(|f| f.secret_key_ref.as_ref()) {
                out.insert(("Secret", r.name.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                "resourceVersion": "7", "labels": {"app": "web"},
                "annotations": {"sim.minik.io/cpu": "100m",
                    "scheduler.minik.io/decision": "node-3 scored 100"},
                "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "spec": {
                "nodeName": "node-3",
                "volumes": [
                    {"name": "conf", "configMap": {"name": "web-conf"}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                    {"name": "empty", "emptyDir": null},
                ],
                "containers": [{
                    "name": "app", "image": "nginx:1",
                    "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
                    "readinessProbe": {"httpGet": {"port": 80, "path": "/"}, "periodSeconds": 2},
                }],
            },
            "status": {"phase": "Running", "podIP": "10.0.0.3"},
        })
    }

    #[test]
    fn decodes_back_to_the_pod_without_managed_fields() {
        let encoded: EncodedPod = serde_json::from_value(pod()).unwrap();
        let mut want: Pod = serde_json::from_value(pod()).unwrap();
        want.metadata.managed_fields = None;
        assert_eq!(encoded.decode(), want);
        let json = serde_json::to_vec(&want).unwrap();
        assert!(
            encoded.deflated.len() < json.len(),
            "kept deflated: {} of {} bytes",
            encoded.deflated.len(),
            json.len()
        );
        assert_eq!(encoded.node_name.as_deref(), Some("node-3"));
        assert_eq!(encoded.metadata.uid.as_deref(), Some("u1"));
        let usage = [("sim.minik.io/cpu".to_string(), "100m".to_string())];
        assert_eq!(
            encoded.metadata.annotations,
            Some(usage.into()),
            "the simulated runtime reads its usage annotations between syncs; the others are not kept"
        );
        assert!(encoded.metadata.labels.is_none());
    }

    #[test]
    fn knows_what_the_pod_reads() {
        let encoded: EncodedPod = serde_json::from_value(pod()).unwrap();
        let want: HashSet<Use> = [
            ("ConfigMap", "web-conf".to_string()),
            ("PersistentVolumeClaim", "web-data".to_string()),
            ("Secret", "db".to_string()),
        ]
        .into();
        assert_eq!(*encoded.uses, want);
    }

    #[test]
    fn a_pod_that_is_not_a_pod_is_refused() {
        let mut bad = pod();
        bad["spec"]["containers"] = serde_json::json!("not a list");
        assert!(serde_json::from_value::<EncodedPod>(bad).is_err());
    }
}
