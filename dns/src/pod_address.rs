//! What the DNS server keeps of a pod: its name, its IPs, and the
//! `hostname` and `subdomain` that name it under a headless Service.
//!
//! The zone needs nothing else of a pod, yet a whole decoded Pod (spec,
//! status, conditions, labels) took about 17 KB of the cache: 221 MB at
//! 10,000 pods, 622 MB at 30,000. A watch of `PodAddress` decodes each pod's JSON
//! straight into these few fields (serde skips the rest without building
//! it), so the cache holds a few hundred bytes per pod. CoreDNS, with
//! `pods verified`, caches the same few fields (its `object.Pod`: name,
//! namespace, IP, hostname, subdomain).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use minik_client::informer::null_as_default;
use serde::Deserialize;

/// The fields of a Pod the zone reads; a watch of `/api/v1/pods` decodes
/// into it directly.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodAddress {
    /// Only `name`, `namespace`, `uid` and `resourceVersion` are kept.
    #[serde(deserialize_with = "identity")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: Naming,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: Addresses,
}

/// `spec.hostname` and `spec.subdomain`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Naming {
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
}

/// `status.podIP` and `status.podIPs`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Addresses {
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(rename = "podIPs", default, deserialize_with = "null_as_default")]
    pub pod_ips: Vec<PodIp>,
}

/// One entry of `status.podIPs`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodIp {
    pub ip: String,
}

impl PodAddress {
    /// The pod's IPs, each once (`podIPs` lists `podIP` first).
    pub fn ips(&self) -> impl Iterator<Item = &str> {
        let first = self.status.pod_ip.as_deref();
        first.into_iter().chain(
            self.status
                .pod_ips
                .iter()
                .map(|p| p.ip.as_str())
                .filter(move |ip| Some(*ip) != first),
        )
    }
}

/// The object's identity, without its labels, annotations, owners and
/// managed fields.
fn identity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Identity {
        name: Option<String>,
        namespace: Option<String>,
        uid: Option<String>,
        resource_version: Option<String>,
    }
    let id = Identity::deserialize(d)?;
    Ok(ObjectMeta {
        name: id.name,
        namespace: id.namespace,
        uid: id.uid,
        resource_version: id.resource_version,
        ..ObjectMeta::default()
    })
}

// Watched and listed as a Pod (`/api/v1/pods`).
minik_client::projection_of!(PodAddress, Pod);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_the_zone_reads() {
        let pod: PodAddress = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db-1", "namespace": "shop", "uid": "u1",
                "resourceVersion": "7", "labels": {"app": "db"},
                "managedFields": [{"manager": "kubectl"}]},
            "spec": {"hostname": "db-1", "subdomain": "db",
                "containers": [{"name": "c", "image": "pg"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.8",
                "podIPs": [{"ip": "10.244.0.8"}, {"ip": "fd00::8"}]}
        }))
        .unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("db-1"));
        assert_eq!(pod.metadata.resource_version.as_deref(), Some("7"));
        assert!(pod.metadata.labels.is_none() && pod.metadata.managed_fields.is_none());
        assert_eq!(pod.spec.subdomain.as_deref(), Some("db"));
        assert_eq!(pod.ips().collect::<Vec<_>>(), ["10.244.0.8", "fd00::8"]);

        let pending: PodAddress = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}
        }))
        .unwrap();
        assert_eq!(pending.ips().count(), 0);
    }
}
