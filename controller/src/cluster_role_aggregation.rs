//! The ClusterRole aggregation controller (kube-controller-manager's
//! `clusterrole-aggregation`): a ClusterRole with an `aggregationRule` gets
//! as its `rules` the rules of every ClusterRole its selectors match, so
//! `kubectl get clusterrole view -o yaml` shows what `view` grants, and a
//! new role labelled `rbac.authorization.k8s.io/aggregate-to-view: "true"`
//! extends `view` (and through it `edit` and `admin`) within moments.
//!
//! As in Kubernetes, the aggregated role's own rules are replaced by the
//! union (in the order of the selected roles' names, duplicates dropped),
//! and aggregation through several levels settles as each write wakes the
//! roles above. The API server's authorizer resolves aggregation itself
//! too (`minik_api::rbac`), so decisions never wait for this controller.

use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use minik_api::selectors::LabelSelector;
use serde_json::json;

use crate::context::{drive, Built, RetryBackoff};
use crate::step_gate::gated;
use crate::{Context, Error};

struct State {
    ctx: Arc<Context>,
    roles: Store<ClusterRole>,
    retries: RetryBackoff,
}

/// Builds the controller over the shared ClusterRole informer.
pub fn build(ctx: &Arc<Context>) -> Built {
    let roles = ctx.informers.get::<ClusterRole>();
    let store = roles.store();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        roles: roles.store(),
        retries: RetryBackoff::default(),
    });
    drive(
        "clusterrole aggregation",
        Controller::for_shared_stream(roles.applied(), roles.store())
            // Any role's change may change what an aggregated role selects.
            .watches_shared_stream(roles.touched(), move |_| {
                store
                    .state()
                    .iter()
                    .filter(|r| r.aggregation_rule.is_some())
                    .map(|r| ObjectRef::from_obj(r.as_ref()))
                    .collect::<Vec<_>>()
            })
            .run(
                gated(ctx, "clusterrole aggregation", roles.store(), reconcile),
                error_policy,
                state,
            ),
    )
    .map(Ok)
    .boxed()
}

fn error_policy(role: Arc<ClusterRole>, error: &Error, state: Arc<State>) -> Action {
    state.retries.requeue(&*role, error)
}

/// The rules of every role `role`'s selectors match, in name order.
fn aggregated_rules(role: &ClusterRole, all: &[Arc<ClusterRole>]) -> Vec<PolicyRule> {
    let selectors: Vec<LabelSelector> = role
        .aggregation_rule
        .as_ref()
        .and_then(|a| a.cluster_role_selectors.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|s| LabelSelector::from_json(&serde_json::to_value(s).ok()?).ok())
        .collect();
    let mut selected: Vec<&Arc<ClusterRole>> = all
        .iter()
        .filter(|other| other.name_any() != role.name_any())
        .filter(|other| {
            let labels: serde_json::Map<String, serde_json::Value> = other
                .labels()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            selectors.iter().any(|s| s.matches(&labels))
        })
        .collect();
    selected.sort_by_key(|r| r.name_any());
    let mut rules: Vec<PolicyRule> = Vec::new();
    for rule in selected.iter().flat_map(|r| r.rules.iter().flatten()) {
        if !rules.contains(rule) {
            rules.push(rule.clone());
        }
    }
    rules
}

async fn reconcile(role: Arc<ClusterRole>, state: Arc<State>) -> Result<Action, Error> {
    if role.aggregation_rule.is_none() {
        return Ok(Action::await_change());
    }
    let rules = aggregated_rules(&role, &state.roles.state());
    if role.rules.clone().unwrap_or_default() == rules {
        return Ok(Action::await_change());
    }
    let api: Api<ClusterRole> = Api::all(state.ctx.client.clone());
    api.patch(
        &role.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"rules": rules})),
    )
    .await?;
    tracing::info!(role = %role.name_any(), rules = rules.len(), "aggregated ClusterRole rules");
    state.retries.forget(&role.name_any());
    Ok(Action::await_change())
}
