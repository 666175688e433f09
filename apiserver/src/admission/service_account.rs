//! The ServiceAccount admission plugin, in part: a pod that names a
//! ServiceAccount its namespace does not have is refused with 403
//! `error looking up service account <ns>/<name>: serviceaccount "<name>"
//! not found`, as in Kubernetes. (Defaulting `serviceAccountName` to
//! `default` is the pod strategy's.)
//!
//! The mutating half mounts the account's token: unless the pod or its
//! ServiceAccount sets `automountServiceAccountToken: false`, or a
//! container already mounts something at
//! `/var/run/secrets/kubernetes.io/serviceaccount`, the pod gets the
//! projected volume `kube-api-access-<random>` (a bound token the kubelet
//! requests and refreshes, the cluster CA from the `kube-root-ca.crt`
//! ConfigMap, the namespace) mounted read-only there in every container,
//! exactly as Kubernetes writes it.
//!
//! Where minik simplifies: a pod that names `default` is admitted even
//! before the ServiceAccount controller has created it (Kubernetes refuses
//! it until then, and controllers retry) — and then gets no token volume,
//! so clusters run without that controller (some tests) start pods as
//! before.

use minik_api::catalogue::{self, ResourceInfo};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::store::Store;

/// Where in every container the token, CA and namespace appear.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Mounts the ServiceAccount's token into a pod being created.
pub fn mutate(
    store: &dyn Store,
    info: &ResourceInfo,
    namespace: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let Some(spec) = info.strategy.pod_spec(obj) else {
        return Ok(());
    };
    let name = spec
        .service_account_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let Some(account) = crate::commit::read(store, &accounts().key(Some(namespace), &name))? else {
        return Ok(());
    };
    let automount = spec.automount_service_account_token.unwrap_or_else(|| {
        account
            .get("automountServiceAccountToken")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    });
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mounted = containers
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .any(|m| m.mount_path.trim_end_matches('/') == MOUNT_PATH);
    if !automount || mounted {
        return Ok(());
    }
    let taken: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.clone())
        .collect();
    let volume = loop {
        let candidate = format!(
            "kube-api-access-{}",
            minik_api::names::generate_name_suffix()
        );
        if !taken.contains(&candidate) {
            break candidate;
        }
    };
    let spec = &mut obj["spec"];
    let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    spec["volumes"] = Value::Array(
        volumes
            .into_iter()
            .chain([api_access_volume(&volume)])
            .collect(),
    );
    for list in ["initContainers", "containers"] {
        for container in spec[list].as_array_mut().into_iter().flatten() {
            let mounts = container["volumeMounts"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            container["volumeMounts"] = Value::Array(
                mounts
                    .into_iter()
                    .chain([json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH})])
                    .collect(),
            );
        }
    }
    Ok(())
}

/// The volume as Kubernetes' admission writes it (defaults filled in): a
/// token good for an hour and seven seconds (Kubernetes' marker for
/// kubelet-managed tokens), `ca.crt` and `namespace`.
fn api_access_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
}

fn accounts() -> &'static ResourceInfo {
    catalogue::lookup("", "v1", "serviceaccounts").expect("serviceaccounts are served")
}

/// Refuses a pod whose ServiceAccount does not exist.
pub fn admit(
    store: &dyn Store,
    info: &ResourceInfo,
    namespace: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let Some(spec) = info.strategy.pod_spec(obj) else {
        return Ok(());
    };
    let name = spec.service_account_name.unwrap_or_default();
    if name.is_empty() || name == "default" {
        return Ok(());
    }
    if store
        .get(&accounts().key(Some(namespace), &name))?
        .is_some()
    {
        return Ok(());
    }
    Err(super::forbidden(
        info,
        obj,
        &[format!(
            "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
        )],
    ))
}
