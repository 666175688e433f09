//! Step mode's control channel: the ConfigMap `kube-system/minik-step-mode`,
//! what its keys mean, and the merge patches each side writes. The
//! controller-manager's gate (`minik_controller::step_gate`), `miniktl
//! controllers|step` and the dashboard all read and write it here, so the
//! channel is an ordinary API object: no private port, RBAC and
//! `kubectl get cm -n kube-system minik-step-mode -o yaml` apply as usual.
//!
//! Keys, each written by one side only (merge patches, so neither side's
//! write can undo the other's):
//! - the instructor's: `mode` (`run` | `step`) and `granted` (how many
//!   steps were ever granted: monotonic, so a grant is never lost or
//!   counted twice);
//! - the controller-manager's: `taken` (how many granted steps have run to
//!   the end), `waiting` (a JSON array of [`Waiting`], oldest first, at most
//!   [`MAX_LISTED`]), `waiting-count` (all that wait) and `last` (a JSON
//!   [`Last`]: the last step run and its outcome).
//!
//! No ConfigMap, or `mode: run`: the controllers run at normal speed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "minik-step-mode";
/// The most waiting reconciles listed in `waiting` (the count says how many wait).
pub const MAX_LISTED: usize = 50;

/// One reconcile held by the gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// The controller's name (`replicaset controller`).
    pub controller: String,
    /// The kind of object it reconciles.
    pub kind: String,
    /// `namespace/name`, or `name` for a cluster-scoped object.
    pub object: String,
    /// When it started waiting (RFC 3339).
    pub since: String,
    /// What woke it, when the controller can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What the reconcile would do if it ran now, from the controller's caches.
    pub plan: String,
}

/// The last step run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Last {
    /// Which step this was (equals `taken` once it finished).
    pub step: u64,
    pub controller: String,
    pub kind: String,
    pub object: String,
    /// What it was about to do when it was released.
    pub plan: String,
    /// `ok`, `ok, requeue in 5s`, or `error: …`.
    pub outcome: String,
}

/// What the ConfigMap says, read leniently (a missing or unparsable key is its default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepState {
    /// `mode: step`.
    pub stepping: bool,
    pub granted: u64,
    pub taken: u64,
    pub waiting: Vec<Waiting>,
    pub waiting_count: u64,
    pub last: Option<Last>,
}

impl StepState {
    /// The state a ConfigMap holds (`None`: no ConfigMap, normal speed).
    pub fn from_config_map(cm: Option<&ConfigMap>) -> Self {
        let Some(data) = cm.and_then(|cm| cm.data.as_ref()) else {
            return Self::default();
        };
        Self::from_data(data)
    }

    /// The state in a ConfigMap's `data`.
    pub fn from_data(data: &BTreeMap<String, String>) -> Self {
        let number = |key: &str| {
            data.get(key)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        let waiting: Vec<Waiting> = data
            .get("waiting")
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        Self {
            stepping: data.get("mode").map(|m| m.trim()) == Some("step"),
            granted: number("granted"),
            taken: number("taken"),
            waiting_count: data
                .get("waiting-count")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(waiting.len() as u64),
            waiting,
            last: data.get("last").and_then(|v| serde_json::from_str(v).ok()),
        }
    }

    /// Granted steps not yet taken.
    pub fn pending(&self) -> u64 {
        self.granted.saturating_sub(self.taken)
    }
}

/// A new ConfigMap in step (or run) mode: what `miniktl cluster up --step`
/// and `miniktl controllers pause` create when there is none.
pub fn new_config_map(stepping: bool) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {"mode": mode_word(stepping), "granted": "0"},
    }))
    .expect("a ConfigMap")
}

/// The instructor's merge patch turning step mode on or off.
pub fn mode_patch(stepping: bool) -> Value {
    json!({"data": {"mode": mode_word(stepping)}})
}

/// The instructor's merge patch granting steps up to `granted`, conditional
/// on `resource_version` (two instructors granting at once: one gets 409
/// and re-reads, so no grant is lost).
pub fn grant_patch(granted: u64, resource_version: &str) -> Value {
    json!({
        "metadata": {"resourceVersion": resource_version},
        "data": {"granted": granted.to_string()},
    })
}

/// The controller-manager's merge patch: what it has taken, what waits, what ran last.
pub fn progress_patch(
    taken: u64,
    waiting: &[Waiting],
    waiting_count: usize,
    last: Option<&Last>,
) -> Value {
    let mut data = json!({
        "taken": taken.to_string(),
        "waiting": serde_json::to_string(waiting).expect("JSON"),
        "waiting-count": waiting_count.to_string(),
    });
    if let Some(last) = last {
        data["last"] = Value::String(serde_json::to_string(last).expect("JSON"));
    }
    json!({"data": data})
}

/// The ConfigMap's state and resourceVersion (`None`: there is none).
pub async fn read(client: &kube::Client) -> Result<Option<(StepState, String)>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    Ok(api.get_opt(NAME).await?.map(|cm| {
        let rv = cm.metadata.resource_version.clone().unwrap_or_default();
        (StepState::from_config_map(Some(&cm)), rv)
    }))
}

/// Turns step mode on (creating the ConfigMap if there is none) or off
/// (no ConfigMap: nothing to turn off).
pub async fn set_mode(client: &kube::Client, stepping: bool) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let patch = mode_patch(stepping);
    match api
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if crate::errors::is_not_found(&e) && stepping => {
            match api
                .create(&PostParams::default(), &new_config_map(true))
                .await
            {
                // Someone else created it meanwhile: patch theirs.
                Err(e) if crate::errors::is_already_exists(&e) => api
                    .patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ()),
                other => other.map(|_| ()),
            }
        }
        Err(e) if crate::errors::is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Grants `n` more steps; returns the new `granted` (the step count to
/// wait for in `taken`), or `None` if step mode is off. Conditional on the
/// resourceVersion read, retried on conflict: a grant is never lost.
pub async fn grant(client: &kube::Client, n: u64) -> Result<Option<u64>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let mut attempts = 0;
    loop {
        let Some((state, rv)) = read(client).await? else {
            return Ok(None);
        };
        if !state.stepping {
            return Ok(None);
        }
        let granted = state.granted + n;
        match api
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(&grant_patch(granted, &rv)),
            )
            .await
        {
            Ok(_) => return Ok(Some(granted)),
            Err(e) if crate::errors::is_conflict(&e) && attempts < 10 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Waits (at most `timeout`) until `taken` reaches `step`; returns the state then.
pub async fn wait_taken(
    client: &kube::Client,
    step: u64,
    timeout: std::time::Duration,
) -> Result<Option<StepState>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let reached = move |cm: Option<&ConfigMap>| StepState::from_config_map(cm).taken >= step;
    match tokio::time::timeout(timeout, await_condition(api, NAME, reached)).await {
        Ok(Ok(cm)) => Ok(Some(StepState::from_config_map(cm.as_ref()))),
        Ok(Err(e)) => Err(kube::Error::Service(Box::new(e))),
        Err(_) => Ok(None),
    }
}

fn mode_word(stepping: bool) -> &'static str {
    if stepping {
        "step"
    } else {
        "run"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_reads_what_both_sides_wrote() {
        let mut cm = new_config_map(true);
        let mine = progress_patch(
            2,
            &[Waiting {
                controller: "replicaset controller".into(),
                kind: "ReplicaSet".into(),
                object: "default/web-1".into(),
                since: "2026-01-01T00:00:00Z".into(),
                why: None,
                plan: "will create 3 pods".into(),
            }],
            7,
            None,
        );
        let data = cm.data.get_or_insert_with(Default::default);
        for (k, v) in mine["data"].as_object().unwrap() {
            data.insert(k.clone(), v.as_str().unwrap().into());
        }
        data.insert("granted".into(), "3".into());
        let state = StepState::from_config_map(Some(&cm));
        assert!(state.stepping);
        assert_eq!((state.granted, state.taken, state.pending()), (3, 2, 1));
        assert_eq!(state.waiting_count, 7);
        assert_eq!(state.waiting[0].plan, "will create 3 pods");
        assert_eq!(StepState::from_config_map(None), StepState::default());
    }
}
