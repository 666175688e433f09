//! `POST /api/action`: the classroom controls. Each is one ordinary API
//! call made with the dashboard's own credentials (or, for drain and undo,
//! the few calls kubectl itself makes), and each answer names the kubectl
//! command that does the same, so the page teaches the command line too:
//!
//! | action     | API call                                        | kubectl |
//! |------------|-------------------------------------------------|---------|
//! | `scale`    | PATCH `deployments/<name>/scale`                | `kubectl scale deployment/<name> --replicas=N` |
//! | `delete`   | DELETE `pods/<name>`                            | `kubectl delete pod <name>` |
//! | `cordon`   | PATCH node `spec.unschedulable: true` (`uncordon`: false) | `kubectl cordon <node>` |
//! | `drain`    | cordon, then an Eviction per pod on the node (not DaemonSet or mirror pods) | `kubectl drain <node> --ignore-daemonsets` |
//! | `stopNode` | PATCH node annotation `kubelet.minik.io/stopped: "true"` (`startNode`: removed) — the node's kubelet goes silent, a lost node (minik's own switch) | `kubectl annotate node <node> kubelet.minik.io/stopped=true` |
//! | `setImage` | strategic-merge PATCH of one container's image  | `kubectl set image deployment/<name> <container>=<image>` |
//! | `undo`     | the previous revision's ReplicaSet template PATCHed into the Deployment | `kubectl rollout undo deployment/<name>` |
//! | `pause`, `step`, `resume` | merge PATCHes of the step-mode ConfigMap (`crate::step`) | `miniktl controllers pause\|step\|resume` |
//!
//! The API server's answer is passed on: a refused call (a PodDisruptionBudget
//! blocking an eviction, an invalid image) comes back with its status and message.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams};
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::pod_summary::{PodSummary, MIRROR_ANNOTATION};
use crate::AppState;

/// The Node annotation that silences its kubelet (`minik_kubelet::node::STOPPED_ANNOTATION`).
const STOPPED: &str = "kubelet.minik.io/stopped";

/// Who the API server records as having made the change (managedFields).
const MANAGER: &str = "minik-dashboard";

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    Scale {
        namespace: String,
        name: String,
        replicas: i32,
    },
    Delete {
        namespace: String,
        name: String,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    Drain {
        node: String,
    },
    StopNode {
        node: String,
    },
    StartNode {
        node: String,
    },
    SetImage {
        namespace: String,
        name: String,
        container: String,
        image: String,
    },
    Undo {
        namespace: String,
        name: String,
    },
    Pause,
    Step,
    Resume,
}

impl Action {
    /// The kubectl command that does the same.
    pub fn kubectl(&self) -> String {
        match self {
            Action::Scale {
                namespace,
                name,
                replicas,
            } => format!("kubectl scale deployment/{name} --replicas={replicas} -n {namespace}"),
            Action::Delete { namespace, name } => {
                format!("kubectl delete pod {name} -n {namespace}")
            }
            Action::Cordon { node } => format!("kubectl cordon {node}"),
            Action::Uncordon { node } => format!("kubectl uncordon {node}"),
            Action::Drain { node } => format!("kubectl drain {node} --ignore-daemonsets"),
            Action::StopNode { node } => {
                format!("kubectl annotate node {node} {STOPPED}=true")
            }
            Action::StartNode { node } => format!("kubectl annotate node {node} {STOPPED}-"),
            Action::SetImage {
                namespace,
                name,
                container,
                image,
            } => format!("kubectl set image deployment/{name} {container}={image} -n {namespace}"),
            Action::Undo { namespace, name } => {
                format!("kubectl rollout undo deployment/{name} -n {namespace}")
            }
            Action::Pause => crate::step::command(Some(true)),
            Action::Resume => crate::step::command(Some(false)),
            Action::Step => crate::step::command(None),
        }
    }
}

/// Runs one action; answers `{"kubectl": …, "result": …}` or the API's refusal.
pub async fn act(State(state): State<AppState>, Json(action): Json<Action>) -> Response {
    let kubectl = action.kubectl();
    match run(&state, &action).await {
        Ok(result) => Json(json!({"kubectl": kubectl, "result": result})).into_response(),
        Err(e) => {
            let (status, message) = match &e {
                kube::Error::Api(s) => (
                    StatusCode::from_u16(s.code).unwrap_or(StatusCode::BAD_GATEWAY),
                    s.message.clone(),
                ),
                other => (StatusCode::BAD_GATEWAY, other.to_string()),
            };
            (
                status,
                Json(json!({"kubectl": kubectl, "message": message})),
            )
                .into_response()
        }
    }
}

async fn run(state: &AppState, action: &Action) -> Result<String, kube::Error> {
    let client = state.model.client();
    let params_managed = params();
    match action {
        Action::Scale {
            namespace,
            name,
            replicas,
        } => {
            let api: Api<Deployment> = Api::namespaced(client, namespace);
            let patch = json!({"spec": {"replicas": replicas}});
            api.patch_scale(name, &params_managed, &Patch::Merge(&patch))
                .await?;
            Ok(format!("deployment.apps/{name} scaled"))
        }
        Action::Delete { namespace, name } => {
            let api: Api<Pod> = Api::namespaced(client, namespace);
            api.delete(name, &DeleteParams::default()).await?;
            Ok(format!("pod \"{name}\" deleted"))
        }
        Action::StopNode { node } | Action::StartNode { node } => {
            let stop = matches!(action, Action::StopNode { .. });
            let api: Api<Node> = Api::all(client);
            let value = if stop { json!("true") } else { Value::Null };
            let patch = json!({"metadata": {"annotations": {STOPPED: value}}});
            api.patch(node, &params_managed, &Patch::Merge(&patch))
                .await?;
            Ok(format!("node/{node} annotated"))
        }
        Action::Cordon { node } | Action::Uncordon { node } => {
            let cordon = matches!(action, Action::Cordon { .. });
            cordon_node(client, node, cordon, &params_managed).await?;
            Ok(format!(
                "node/{node} {}",
                if cordon { "cordoned" } else { "uncordoned" }
            ))
        }
        Action::Drain { node } => {
            cordon_node(client.clone(), node, true, &params_managed).await?;
            let mut evicted = Vec::new();
            for pod in state.model.pods.store().state() {
                if pod.spec.node_name.as_deref() != Some(node.as_str())
                    || pod.metadata.deletion_timestamp.is_some()
                    || skipped_by_drain(&pod)
                {
                    continue;
                }
                let ns = pod.namespace().unwrap_or_default();
                let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                api.evict(&pod.name_any(), &EvictParams::default()).await?;
                evicted.push(format!("pod/{}", pod.name_any()));
            }
            Ok(format!(
                "node/{node} cordoned; evicted: {}",
                if evicted.is_empty() {
                    "none".to_string()
                } else {
                    evicted.join(", ")
                }
            ))
        }
        Action::SetImage {
            namespace,
            name,
            container,
            image,
        } => {
            let api: Api<Deployment> = Api::namespaced(client, namespace);
            let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}});
            api.patch(name, &params_managed, &Patch::Strategic(&patch))
                .await?;
            Ok(format!("deployment.apps/{name} image updated"))
        }
        Action::Undo { namespace, name } => undo(state, client, namespace, name).await,
        Action::Pause => crate::step::act(client, Some(true)).await,
        Action::Resume => crate::step::act(client, Some(false)).await,
        Action::Step => crate::step::act(client, None).await,
    }
}

/// Patches recorded in managedFields as the dashboard's.
fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(MANAGER.into()),
        ..PatchParams::default()
    }
}

async fn cordon_node(
    client: kube::Client,
    node: &str,
    cordon: bool,
    params: &PatchParams,
) -> Result<(), kube::Error> {
    let api: Api<Node> = Api::all(client);
    let patch = json!({"spec": {"unschedulable": if cordon { json!(true) } else { Value::Null }}});
    api.patch(node, params, &Patch::Strategic(&patch)).await?;
    Ok(())
}

/// What `kubectl drain --ignore-daemonsets` leaves: DaemonSet pods (their
/// controller would put them straight back) and mirror pods (the kubelet's).
fn skipped_by_drain(pod: &PodSummary) -> bool {
    pod.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.kind == "DaemonSet")
        || pod.annotations().contains_key(MIRROR_ANNOTATION)
}

/// `kubectl rollout undo`: the template of the ReplicaSet with the revision
/// before the current one becomes the Deployment's template again (the
/// Deployment controller then rolls out to it, as a new revision).
async fn undo(
    state: &AppState,
    client: kube::Client,
    namespace: &str,
    name: &str,
) -> Result<String, kube::Error> {
    let api: Api<Deployment> = Api::namespaced(client, namespace);
    let d = api.get(name).await?;
    let uid = d.uid().unwrap_or_default();
    let mut sets: Vec<(i64, Value)> = state
        .model
        .replica_sets
        .store()
        .state()
        .iter()
        .filter(|rs| rs.owner_references().iter().any(|o| o.uid == uid))
        .filter_map(|rs| {
            let rev = rs
                .annotations()
                .get("deployment.kubernetes.io/revision")?
                .parse()
                .ok()?;
            let template = serde_json::to_value(rs.spec.as_ref()?.template.as_ref()?).ok()?;
            Some((rev, template))
        })
        .collect();
    sets.sort_by_key(|(rev, _)| std::cmp::Reverse(*rev));
    let Some((revision, mut template)) = sets.into_iter().nth(1) else {
        return Err(kube::Error::Api(
            kube::core::Status::failure(
                &format!("no rollout history found for deployment \"{name}\""),
                "BadRequest",
            )
            .with_code(400)
            .boxed(),
        ));
    };
    // The hash label belongs to the ReplicaSet, not to the Deployment's template.
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("pod-template-hash");
    }
    let patch = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(name, &params(), &Patch::<()>::Json(patch))
        .await?;
    Ok(format!(
        "deployment.apps/{name} rolled back (to revision {revision})"
    ))
}
