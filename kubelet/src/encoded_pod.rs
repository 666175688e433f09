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
//! about 1.2 KB, and inflating it again for a sync takes microseconds.
//! Pods of one owner (a ReplicaSet's, a StatefulSet's) are more alike
//! still — the same template, differing in names, uids and status — so
//! each is deflated with its owner's first pod as deflate's preset
//! dictionary (see [`Dictionaries`]): about 0.2 KB a pod. The dictionary
//! is itself kept deflated, so an owner of one pod costs what a pod alone
//! did. A real kubelet keeps its pods decoded; at 110 pods a node that
//! costs it nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

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
    /// deflated (with `dictionary`, if any).
    deflated: Arc<[u8]>,
    /// The first pod seen of this pod's owner, which the deflate refers
    /// back into.
    dictionary: Option<Arc<Dictionary>>,
}

impl EncodedPod {
    /// Keeps `pod` encoded.
    pub fn new(mut pod: Pod) -> Self {
        pod.metadata.managed_fields = None;
        let json = serde_json::to_vec(&pod).expect("a Pod always encodes");
        let dictionary = owner_uid(&pod).map(|owner| DICTIONARIES.for_owner(owner, &json));
        let preset = dictionary.as_ref().map(|d| d.json());
        let deflated = deflate(&json, preset.as_deref());
        let spec = pod.spec.as_ref();
        Self {
            node_name: spec.and_then(|s| s.node_name.clone()),
            uses: uses(&pod),
            metadata: ObjectMeta {
                name: pod.metadata.name,
                namespace: pod.metadata.namespace,
                uid: pod.metadata.uid,
                resource_version: pod.metadata.resource_version,
                annotations: usage_annotations(pod.metadata.annotations),
                deletion_timestamp: pod.metadata.deletion_timestamp,
                ..ObjectMeta::default()
            },
            deflated: deflated.into(),
            dictionary,
        }
    }

    /// The whole pod again.
    pub fn decode(&self) -> Pod {
        let json = match &self.dictionary {
            Some(d) => inflate(&self.deflated, Some(&d.json()), d.len * 5 / 4),
            None => inflate(&self.deflated, None, self.deflated.len() * 4),
        };
        serde_json::from_slice(&json).expect("encoded from a Pod")
    }
}

/// The uid of the pod's controller (or first owner), whose pods share a
/// template.
fn owner_uid(pod: &Pod) -> Option<&str> {
    let owners = pod.metadata.owner_references.as_deref()?;
    let owner = owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or(owners.first())?;
    Some(owner.uid.as_str())
}

/// An owner's dictionary: the JSON of the first of its pods seen,
/// deflated (inflated again, in microseconds, to deflate or inflate one
/// of its pods).
#[derive(Debug)]
struct Dictionary {
    deflated: Box<[u8]>,
    /// The JSON's length.
    len: usize,
}

impl Dictionary {
    fn json(&self) -> Vec<u8> {
        inflate(&self.deflated, None, self.len)
    }
}

/// Each owner's dictionary. Held weakly: the pods deflated with it hold
/// it, its bytes go with the last of them, and the owner's entry (a
/// pointer to a spent header) goes at the next sweep, whenever the map
/// has doubled since the last.
struct Dictionaries {
    by_owner: Mutex<Owners>,
}

struct Owners {
    dictionaries: HashMap<String, Weak<Dictionary>>,
    sweep_at: usize,
}

static DICTIONARIES: LazyLock<Dictionaries> = LazyLock::new(|| Dictionaries {
    by_owner: Mutex::new(Owners {
        dictionaries: HashMap::new(),
        sweep_at: 64,
    }),
});

impl Dictionaries {
    /// `owner`'s dictionary; `json` becomes it if the owner has none alive.
    fn for_owner(&self, owner: &str, json: &[u8]) -> Arc<Dictionary> {
        let mut owners = self.by_owner.lock().unwrap();
        if let Some(dictionary) = owners.dictionaries.get(owner).and_then(Weak::upgrade) {
            return dictionary;
        }
        let dictionary = Arc::new(Dictionary {
            deflated: deflate(json, None).into(),
            len: json.len(),
        });
        owners
            .dictionaries
            .insert(owner.to_string(), Arc::downgrade(&dictionary));
        if owners.dictionaries.len() >= owners.sweep_at {
            owners.dictionaries.retain(|_, d| d.strong_count() > 0);
            owners.sweep_at = (owners.dictionaries.len() * 2).max(64);
        }
        dictionary
    }
}

/// Raw deflate (no header: the bytes never leave the process) at the
/// fastest level, with `dictionary` preset.
fn deflate(json: &[u8], dictionary: Option<&[u8]>) -> Vec<u8> {
    let mut compress = Compress::new(Compression::fast(), false);
    if let Some(dictionary) = dictionary {
        compress
            .set_dictionary(dictionary)
            .expect("a raw deflate takes a dictionary before its first byte");
    }
    let mut out = Vec::with_capacity(json.len() / 2 + 64);
    loop {
        let read = compress.total_in() as usize;
        let status = compress
            .compress_vec(&json[read..], &mut out, FlushCompress::Finish)
            .expect("deflating in memory");
        match status {
            Status::StreamEnd => break,
            _ => out.reserve(out.capacity().max(64)),
        }
    }
    out
}

/// Inflates what [`deflate`] made with the same `dictionary`; `expected`
/// sizes the buffer.
fn inflate(deflated: &[u8], dictionary: Option<&[u8]>, expected: usize) -> Vec<u8> {
    let mut decompress = Decompress::new(false);
    if let Some(dictionary) = dictionary {
        decompress
            .set_dictionary(dictionary)
            .expect("a raw inflate takes a dictionary before its first byte");
    }
    let mut out = Vec::with_capacity(expected + 256);
    loop {
        let read = decompress.total_in() as usize;
        let status = decompress
            .decompress_vec(&deflated[read..], &mut out, FlushDecompress::Finish)
            .expect("deflated here");
        let input_left = (decompress.total_in() as usize) < deflated.len();
        match status {
            Status::StreamEnd => break,
            _ if !input_left && out.len() < out.capacity() => {
                panic!("deflated here, but it ends early")
            }
            _ => out.reserve(out.capacity()),
        }
    }
    out
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

/// The ConfigMaps, Secrets and PersistentVolumeClaims a pod reads (volumes,
/// env, envFrom). Most pods read none, and share one empty set.
fn uses(pod: &Pod) -> Arc<HashSet<Use>> {
    static NONE: LazyLock<Arc<HashSet<Use>>> = LazyLock::new(Arc::default);
    let found = reads(pod);
    if found.is_empty() {
        NONE.clone()
    } else {
        Arc::new(found)
    }
}

fn reads(pod: &Pod) -> HashSet<Use> {
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

    /// A pod of ReplicaSet `rs` as a simulated cluster serves it.
    fn replica(rs: &str, name: &str, node: &str, ip: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "generateName": "web-7d9f8b6c5d-", "namespace": "default",
                "uid": format!("uid-{name}"), "resourceVersion": "4242",
                "creationTimestamp": "2026-12-06T22:10:00Z",
                "labels": {"app": "web", "pod-template-hash": "7d9f8b6c5d"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-7d9f8b6c5d", "uid": rs, "controller": true, "blockOwnerDeletion": true}]},
            "spec": {
                "nodeName": node, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler", "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                    "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log",
                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                    "volumeMounts": [{"name": "kube-api-access-x1", "readOnly": true,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
                "volumes": [{"name": "kube-api-access-x1", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            },
            "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.1", "qosClass": "Burstable",
                "startTime": "2026-12-06T22:10:01Z",
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "busybox",
                    "imageID": "sha256:4f2b5c1a", "containerID": format!("minik://sim-{name}"),
                    "started": true, "state": {"running": {"startedAt": "2026-12-06T22:10:02Z"}}}]},
        })
    }

    #[test]
    fn pods_of_one_owner_deflate_against_the_first() {
        let first: EncodedPod = serde_json::from_value(replica(
            "rs-1",
            "web-7d9f8b6c5d-aaaaa",
            "node-1",
            "10.128.1.2",
        ))
        .unwrap();
        let second_json = replica("rs-1", "web-7d9f8b6c5d-bbbbb", "node-7", "10.128.7.9");
        let second: EncodedPod = serde_json::from_value(second_json.clone()).unwrap();
        let alone = deflate(&serde_json::to_vec(&second.decode()).unwrap(), None);
        let dictionary = first.dictionary.as_ref().unwrap();
        assert!(
            dictionary.deflated.len() + first.deflated.len() < alone.len() + 128,
            "an owner's first pod costs about what it did alone: {} + {} bytes, alone {}",
            dictionary.deflated.len(),
            first.deflated.len(),
            alone.len()
        );
        assert!(
            second.deflated.len() * 2 < alone.len(),
            "with its owner's dictionary {} bytes, alone {} bytes",
            second.deflated.len(),
            alone.len()
        );
        assert!(Arc::ptr_eq(
            first.dictionary.as_ref().unwrap(),
            second.dictionary.as_ref().unwrap()
        ));
        assert_eq!(
            second.decode(),
            serde_json::from_value::<Pod>(second_json).unwrap()
        );
        assert_eq!(
            first.decode().metadata.name.as_deref(),
            Some("web-7d9f8b6c5d-aaaaa")
        );
    }

    #[test]
    fn a_dictionary_lives_while_a_pod_uses_it() {
        let json = replica("rs-2", "web-7d9f8b6c5d-ccccc", "node-2", "10.128.2.2");
        let first: EncodedPod = serde_json::from_value(json.clone()).unwrap();
        let dictionary = Arc::downgrade(first.dictionary.as_ref().unwrap());
        let kept = first.clone();
        drop(first);
        assert!(dictionary.upgrade().is_some(), "a clone still uses it");
        assert_eq!(kept.decode(), serde_json::from_value::<Pod>(json).unwrap());
        drop(kept);
        assert!(dictionary.upgrade().is_none(), "no pod of rs-2 is left");
        // The owner's next pod starts a new dictionary.
        let next: EncodedPod = serde_json::from_value(replica(
            "rs-2",
            "web-7d9f8b6c5d-ddddd",
            "node-3",
            "10.128.3.3",
        ))
        .unwrap();
        assert!(next.dictionary.is_some());
        assert_eq!(
            next.decode().metadata.name.as_deref(),
            Some("web-7d9f8b6c5d-ddddd")
        );
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
