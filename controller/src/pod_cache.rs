//! What the controller-manager keeps of each pod: the pod without the
//! parts no controller here reads.
//!
//! A decoded Pod is about 18 KB, a quarter of it the volumes (each volume
//! holds its thirty kinds of source inline; every pod has at least the
//! projected service account token). The controllers read only the
//! volumes that name claims (PVC protection, a StatefulSet's storage),
//! and of a container its name, image, ports and resources (Endpoints,
//! quota, the autoscaler), never its command, environment, mounts, probes
//! or hooks. So the one pod cache (`SharedInformerFactory::pods`, shared
//! by every controller) drops the rest as each pod arrives, as
//! kube-controller-manager drops managedFields. Nothing the cache holds
//! is written back whole: the StatefulSet controller patches labels, and
//! the node lifecycle controller PUTs status only (the API server keeps
//! the stored spec).

use k8s_openapi::api::core::v1::{Container, Pod};

/// Trims `pod` to what the controllers read (the informer's transform).
pub fn trim(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    if let Some(volumes) = spec.volumes.as_mut() {
        volumes.retain(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
        volumes.shrink_to_fit();
    }
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    containers.for_each(trim_container);
}

fn trim_container(c: &mut Container) {
    c.command = None;
    c.args = None;
    c.env = None;
    c.env_from = None;
    c.volume_mounts = None;
    c.volume_devices = None;
    c.liveness_probe = None;
    c.readiness_probe = None;
    c.startup_probe = None;
    c.lifecycle = None;
    c.security_context = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_claims_ports_and_resources() {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db-0", "labels": {"app": "db"}},
            "spec": {
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
            },
            "status": {"phase": "Running", "podIP": "10.0.0.9"},
        }))
        .unwrap();
        let status = pod.status.clone();
        trim(&mut pod);
        let spec = pod.spec.as_ref().unwrap();
        let names: Vec<&str> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["data", "scratch"]);
        let c = &spec.containers[0];
        assert_eq!(
            (c.name.as_str(), c.image.as_deref()),
            ("db", Some("postgres:16"))
        );
        assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 5432);
        assert!(c.resources.as_ref().unwrap().requests.is_some());
        assert!(c.command.is_none() && c.env.is_none() && c.readiness_probe.is_none());
        assert_eq!(pod.status, status, "status is kept whole");
        assert_eq!(pod.metadata.labels.as_ref().unwrap()["app"], "db");
    }
}
