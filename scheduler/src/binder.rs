//! Binding: telling the API server which node a pod goes to.
//!
//! Mirrors kube-scheduler's DefaultBinder plugin: `POST
//! /api/v1/namespaces/<ns>/pods/<name>/binding` with a `Binding` whose
//! target is the Node. The API server sets `spec.nodeName` and the
//! PodScheduled=True condition, and refuses a pod that is already bound or
//! being deleted. Bindings run concurrently (each on its own task, as
//! kube-scheduler's binding cycle runs in its own goroutine) while the
//! scheduling loop moves on to the next pod, so the loop never waits on the
//! network; a semaphore in the loop bounds how many are in flight.

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

/// Binds `namespace/name` (with UID `uid`, so a pod recreated under the
/// same name is not bound by mistake) to `node`.
/// The pod annotation that says why the scheduler chose its node (minik's
/// own: `miniktl why` shows it).
pub const DECISION: &str = "scheduler.minik.io/decision";

pub async fn bind(
    client: kube::Client,
    namespace: &str,
    name: &str,
    uid: &str,
    node: &str,
    why: &str,
) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            uid: Some(uid.to_string()),
            // Copied onto the pod by the API server, as Binding annotations are.
            annotations: Some([(DECISION.to_string(), why.to_string())].into()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Node".to_string()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    };
    // The reply is a `Status` with code 201; nothing in it is needed.
    let _: serde_json::Value = pods
        .create_subresource("binding", name, &PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// The message kube-scheduler reports for a failed binding.
pub fn failure_message(err: &kube::Error) -> String {
    let cause = minik_client::errors::message(err);
    format!("running Bind plugin \"DefaultBinder\": {cause}")
}
