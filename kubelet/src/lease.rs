//! The node's heartbeat: a Lease in `kube-node-lease` named after the node,
//! renewed every `lease_renew_interval` (10 s), as kubelet's node lease
//! controller does. The node lifecycle controller watches these leases and
//! marks the node NotReady when renewals stop.
//!
//! The Lease is owned by the Node (ownerReference), so deleting the Node
//! deletes its Lease. Renewal is a timer by nature, not a poll of anything.

use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use minik_client::errors;
use serde_json::json;

use crate::context::Kubelet;
use crate::Error;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";

fn micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The Lease's spec as this kubelet renews it now.
fn spec(k: &Kubelet) -> serde_json::Value {
    json!({
        "holderIdentity": k.node_name,
        "leaseDurationSeconds": k.config.lease_duration_seconds,
        "renewTime": micro_time(jiff::Timestamp::now()),
    })
}

/// The Lease's ownerReferences: its Node (uid `owner`).
fn owned_by(k: &Kubelet, owner: &str) -> serde_json::Value {
    json!([{"apiVersion": "v1", "kind": "Node", "name": k.node_name, "uid": owner}])
}

/// Renews the Lease once (and makes the Node its owner, given `owner`).
async fn patch(k: &Kubelet, owner: Option<&str>) -> Result<(), kube::Error> {
    let api: Api<Lease> = Api::namespaced(k.client.clone(), LEASE_NAMESPACE);
    let mut patch = json!({"spec": spec(k)});
    if let Some(uid) = owner {
        patch["metadata"] = json!({"ownerReferences": owned_by(k, uid)});
    }
    api.patch(&k.node_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
}

/// Renews the Lease once, creating it (owned by the Node) if it is gone.
pub async fn renew(k: &Kubelet) -> Result<(), Error> {
    match patch(k, None).await {
        Ok(()) => Ok(()),
        Err(e) if errors::is_not_found(&e) => {
            let nodes: Api<Node> = Api::all(k.client.clone());
            let owner = nodes
                .get_opt(&k.node_name)
                .await?
                .and_then(|n| n.metadata.uid);
            create(k, owner).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates the Lease (owned by the Node with uid `owner`) as a node
/// starts — one request for a new node instead of a failed renewal, a
/// read of the Node and a create — or renews the one a previous run left,
/// making the Node its owner as kubelet does. A Lease that vanishes
/// between the two is an error for the caller's next try, not a loop.
pub async fn create(k: &Kubelet, owner: Option<String>) -> Result<(), Error> {
    let api: Api<Lease> = Api::namespaced(k.client.clone(), LEASE_NAMESPACE);
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": k.node_name, "namespace": LEASE_NAMESPACE},
        "spec": spec(k),
    });
    if let Some(uid) = &owner {
        lease["metadata"]["ownerReferences"] = owned_by(k, uid);
    }
    let lease: Lease = serde_json::from_value(lease).expect("valid Lease");
    match api.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(e) if errors::is_already_exists(&e) => Ok(patch(k, owner.as_deref()).await?),
        Err(e) => Err(e.into()),
    }
}

/// Renews the Lease forever, the first time one interval after it was
/// created.
pub async fn run(k: Arc<Kubelet>) {
    let every = k.config.lease_renew_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticker.tick().await;
        if *k.stopped.borrow() {
            continue;
        }
        if let Err(e) = Box::pin(renew(&k)).await {
            tracing::warn!(node = %k.node_name, error = %e, "cannot renew node lease");
        }
    }
}
