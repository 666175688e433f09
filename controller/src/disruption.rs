//! The disruption controller: keeps every PodDisruptionBudget's status —
//! how many of its pods are healthy, how many must be, and so how many may
//! be evicted now (`disruptionsAllowed`), which the API server's
//! `pods/eviction` handler spends (`apiserver/src/rest/eviction.rs`).
//!
//! Mirrors kube-controller-manager's `disruption` controller
//! (pkg/controller/disruption) as of Kubernetes 1.33:
//! - the PDB's pods are those of its namespace its selector matches; an
//!   empty selector matches none (policy/v1);
//! - `minAvailable: N` needs N healthy pods out of the pods that exist;
//!   `minAvailable: P%` and `maxUnavailable` are taken against the pods
//!   that *should* exist, the replicas of the pods' controllers
//!   (Deployment through its ReplicaSet, ReplicaSet, StatefulSet), each
//!   counted once; a pod without a controller then fails the sync and the
//!   budget allows nothing (`SyncFailed`);
//! - a pod is healthy when Ready, not being deleted and not recorded in
//!   `disruptedPods` (evicted but not yet seen deleting). An entry there
//!   expires after two minutes if the pod was never deleted;
//! - status: `currentHealthy`, `desiredHealthy`, `expectedPods`,
//!   `disruptionsAllowed` (never negative), `disruptedPods`,
//!   `observedGeneration` and the `DisruptionAllowed` condition
//!   (`SufficientPods` / `InsufficientPods` / `SyncFailed`); written only
//!   when it changes, with the stored resourceVersion, so an eviction that
//!   spent a disruption in between is never overwritten.
//!
//! Simplified: controllers other than Deployment, ReplicaSet and
//! StatefulSet (ReplicationControllers, custom resources with a scale
//! subresource) are not looked up; their pods fail the sync as pods
//! without a known controller do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{stream, FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::Controller;
use kube::{Api, Resource, ResourceExt};
use minik_client::informer::{wait_for_cache_sync, Synced};
use minik_client::Change;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::{controller_of, labels_of, selector};
use crate::pod_cache::CachedPod;
use crate::pods::is_pod_ready;
use crate::step_gate::gated;
use crate::{Context, Error};

/// The controller's name, as its Events report it.
pub const CONTROLLER_NAME: &str = "controllermanager";
/// How long an evicted pod may stay undeleted before it counts again
/// (Kubernetes' `DeletionTimeout`).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    replica_sets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    synced: [Synced; 5],
    recorder: EventRecorder,
    backoff: RetryBackoff,
}

/// Builds the controller over the shared PDB, Pod, ReplicaSet, Deployment
/// and StatefulSet informers (the caller starts them).
pub fn build(ctx: &Arc<Context>) -> Built {
    let budgets = ctx.informers.get::<PodDisruptionBudget>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let replica_sets = ctx.informers.get::<ReplicaSet>();
    let deployments = ctx.informers.get::<Deployment>();
    let stateful_sets = ctx.informers.get::<StatefulSet>();
    let state = Arc::new(State {
        recorder: EventRecorder::new(ctx.client.clone(), CONTROLLER_NAME, None),
        ctx: ctx.clone(),
        pods: pods.store(),
        replica_sets: replica_sets.store(),
        deployments: deployments.store(),
        stateful_sets: stateful_sets.store(),
        synced: [
            budgets.synced(),
            pods.synced(),
            replica_sets.synced(),
            deployments.synced(),
            stateful_sets.synced(),
        ],
        backoff: RetryBackoff::default(),
    });
    let budget_store = budgets.store();
    let pod_triggers = pods
        .subscribe()
        .flat_map(move |change| stream::iter(budgets_for_pod_change(&budget_store, change)));
    drive(
        "disruption sync",
        Controller::for_shared_stream(budgets.applied(), budgets.store())
            .reconcile_on(pod_triggers)
            .run(
                gated(ctx, "disruption sync", budgets.store(), reconcile),
                error_policy,
                state,
            ),
    )
    .map(Ok)
    .boxed()
}

/// The budgets a pod change concerns: those selecting the pod before or after.
fn budgets_for_pod_change(
    budgets: &Store<PodDisruptionBudget>,
    change: Change<CachedPod>,
) -> Vec<ObjectRef<PodDisruptionBudget>> {
    let pods = match change {
        Change::Added(p) | Change::Deleted(p) => vec![p],
        Change::Updated { old, new } => vec![old, new],
        Change::Synced => vec![],
    };
    let mut refs = HashSet::new();
    for pod in pods {
        for pdb in budgets.state() {
            if pdb.namespace() == pod.namespace() && selects(&pdb, &pod) {
                refs.insert(ObjectRef::from_obj(&*pdb));
            }
        }
    }
    refs.into_iter().collect()
}

/// Whether the budget's selector matches the pod (an empty one matches nothing).
fn selects(pdb: &PodDisruptionBudget, pod: &CachedPod) -> bool {
    let Some(s) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    selector(s).is_ok_and(|s| !s.is_empty() && s.matches(&labels_of(&pod.metadata)))
}

async fn reconcile(pdb: Arc<PodDisruptionBudget>, st: Arc<State>) -> Result<Action, Error> {
    wait_for_cache_sync(&st.synced).await;
    let ns = pdb.namespace().unwrap_or_default();
    let now = Timestamp::now();
    let pods: Vec<Arc<CachedPod>> = st
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && selects(&pdb, p))
        .collect();
    let reference = pdb.object_ref(&());
    if pods.is_empty() {
        st.recorder
            .publish(
                &reference,
                EventType::Normal,
                "NoPods",
                "No matching pods found".into(),
            )
            .await;
    }
    let (status, requeue) = match expected_and_desired(&pdb, &pods, &st).await {
        Ok((expected, desired)) => {
            let (disrupted, requeue) = live_disruptions(&pdb, &pods, now);
            let healthy = pods
                .iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && !disrupted.contains_key(&p.name_any())
                        && is_pod_ready(p)
                })
                .count() as i32;
            let status = computed_status(&pdb, expected, desired, healthy, disrupted, now);
            (status, requeue)
        }
        Err(why) => {
            st.recorder
                .publish(
                    &reference,
                    EventType::Warning,
                    "CalculateExpectedPodCountFailed",
                    why.clone(),
                )
                .await;
            (failed_status(&pdb, &why, now), None)
        }
    };
    write_status(&pdb, status, &st).await?;
    st.backoff.forget(&format!("{ns}/{}", pdb.name_any()));
    Ok(match requeue {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

fn error_policy(pdb: Arc<PodDisruptionBudget>, err: &Error, st: Arc<State>) -> Action {
    if !err.is_conflict() {
        tracing::warn!(pdb = %pdb.name_any(), error = %err, "syncing disruption budget");
    }
    let key = format!("{}/{}", pdb.namespace().unwrap_or_default(), pdb.name_any());
    Action::requeue(st.backoff.next_delay(&key))
}

/// The pods that should exist and how many of them must be healthy
/// (`getExpectedPodCount`); an error message when it cannot be told.
async fn expected_and_desired(
    pdb: &PodDisruptionBudget,
    pods: &[Arc<CachedPod>],
    st: &State,
) -> Result<(i32, i32), String> {
    let spec = pdb.spec.clone().unwrap_or_default();
    if let Some(max) = &spec.max_unavailable {
        let expected = expected_scale(pods, st).await?;
        let max = scaled(max, expected, true)?;
        return Ok((expected, (expected - max).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((pods.len() as i32, *n)),
        Some(min @ IntOrString::String(_)) => {
            let expected = expected_scale(pods, st).await?;
            Ok((expected, scaled(min, expected, true)?))
        }
        None => Ok((pods.len() as i32, 0)),
    }
}

/// An int-or-percent against `total` (`GetScaledValueFromIntOrPercent`).
fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let product = pct * i64::from(total);
            let value = if round_up {
                (product + 99) / 100
            } else {
                product / 100
            };
            Ok(value as i32)
        }
    }
}

/// The replicas the pods' controllers want, each controller counted once
/// (`getExpectedScale`).
async fn expected_scale(pods: &[Arc<CachedPod>], st: &State) -> Result<i32, String> {
    let mut scales: HashMap<String, i32> = HashMap::new();
    for pod in pods {
        let ns = pod.namespace().unwrap_or_default();
        let Some(owner) = controller_of(&pod.metadata) else {
            return Err(format!(
                "found no controller ref for pod {:?}",
                pod.name_any()
            ));
        };
        if scales.contains_key(&owner.uid) {
            continue;
        }
        let found = match owner.kind.as_str() {
            "ReplicaSet" => {
                let rs = st
                    .replica_sets
                    .get(&ObjectRef::new(&owner.name).within(&ns))
                    .filter(|rs| rs.uid().as_deref() == Some(owner.uid.as_str()));
                match rs {
                    // A Deployment's ReplicaSet: the Deployment's replicas count.
                    Some(rs) => {
                        match controller_of(&rs.metadata).filter(|o| o.kind == "Deployment") {
                            Some(d) => st
                                .deployments
                                .get(&ObjectRef::new(&d.name).within(&ns))
                                .filter(|dep| dep.uid().as_deref() == Some(d.uid.as_str()))
                                .map(|dep| {
                                    (
                                        d.uid.clone(),
                                        dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                                    )
                                }),
                            None => Some((
                                owner.uid.clone(),
                                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                            )),
                        }
                    }
                    None => None,
                }
            }
            "StatefulSet" => st
                .stateful_sets
                .get(&ObjectRef::new(&owner.name).within(&ns))
                .filter(|ss| ss.uid().as_deref() == Some(owner.uid.as_str()))
                .map(|ss| {
                    (
                        owner.uid.clone(),
                        ss.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    )
                }),
            _ => None,
        };
        match found {
            Some((uid, replicas)) => {
                scales.insert(uid.clone(), replicas);
                // The pod's own owner maps to the same scale (a Deployment's
                // several ReplicaSets count once, under the Deployment).
                scales.entry(owner.uid.clone()).or_insert(0);
            }
            None => return Err(format!("found no controllers for pod {:?}", pod.name_any())),
        }
    }
    Ok(scales.values().sum())
}

/// `status.disruptedPods` without the pods already being deleted and the
/// entries past [`DELETION_TIMEOUT`]; and when the next entry expires.
fn live_disruptions(
    pdb: &PodDisruptionBudget,
    pods: &[Arc<CachedPod>],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Duration>) {
    let recorded = pdb
        .status
        .as_ref()
        .and_then(|s| s.disrupted_pods.clone())
        .unwrap_or_default();
    let by_name: HashMap<String, &Arc<CachedPod>> =
        pods.iter().map(|p| (p.name_any(), p)).collect();
    let timeout = SignedDuration::try_from(DELETION_TIMEOUT).expect("small");
    let mut live = BTreeMap::new();
    let mut next: Option<Duration> = None;
    for (name, at) in recorded {
        let Some(pod) = by_name.get(&name) else {
            continue;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let expires = at.0 + timeout;
        if expires < now {
            tracing::info!(pod = %name, "evicted pod was not deleted in time; counting it again");
            continue;
        }
        let left = Duration::try_from(expires.duration_since(now)).unwrap_or_default();
        next = Some(next.map_or(left, |n| n.min(left)));
        live.insert(name, at);
    }
    (live, next)
}

fn computed_status(
    pdb: &PodDisruptionBudget,
    expected: i32,
    desired: i32,
    healthy: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let allowed = (healthy - desired).max(0);
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: desired,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: pdb.metadata.generation,
        conditions: Some(condition(pdb, status, reason, "", now)),
    }
}

/// What a failed sync leaves: nothing may be evicted (`failSafe`).
fn failed_status(
    pdb: &PodDisruptionBudget,
    why: &str,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut status = pdb.status.clone().unwrap_or_default();
    status.disruptions_allowed = 0;
    status.observed_generation = pdb.metadata.generation;
    status.conditions = Some(condition(pdb, "False", "SyncFailed", why, now));
    status
}

/// The `DisruptionAllowed` condition, keeping its transition time while
/// its status stays the same.
fn condition(
    pdb: &PodDisruptionBudget,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Vec<Condition> {
    let previous = pdb
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "DisruptionAllowed"));
    let since = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => crate::status::second_precision(now),
    };
    let mut conditions: Vec<Condition> = pdb
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "DisruptionAllowed")
        .collect();
    conditions.push(Condition {
        type_: "DisruptionAllowed".into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: pdb.metadata.generation,
        last_transition_time: since,
    });
    conditions
}

/// Writes the status if it changed, against the cached resourceVersion.
async fn write_status(
    pdb: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
    st: &State,
) -> Result<(), Error> {
    if pdb.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut updated = pdb.clone();
    updated.status = Some(status);
    let api: Api<PodDisruptionBudget> =
        Api::namespaced(st.ctx.client.clone(), &pdb.namespace().unwrap_or_default());
    api.replace_status(&pdb.name_any(), &PostParams::default(), &updated)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3, true), Ok(2));
        assert_eq!(scaled(&IntOrString::String("34%".into()), 3, true), Ok(2));
        assert_eq!(scaled(&IntOrString::String("100%".into()), 5, true), Ok(5));
        assert_eq!(scaled(&IntOrString::Int(2), 5, true), Ok(2));
        assert!(scaled(&IntOrString::String("x".into()), 5, true).is_err());
    }

    fn pod(name: &str, deleting: bool) -> Arc<CachedPod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        if deleting {
            p.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        }
        Arc::new(CachedPod::of(&p))
    }

    #[test]
    fn disrupted_pods_expire_or_go_when_deleting() {
        let now = Timestamp::now();
        let pdb = PodDisruptionBudget {
            status: Some(PodDisruptionBudgetStatus {
                disrupted_pods: Some(BTreeMap::from([
                    (
                        "fresh".to_string(),
                        Time(now - SignedDuration::from_secs(10)),
                    ),
                    (
                        "old".to_string(),
                        Time(now - SignedDuration::from_secs(300)),
                    ),
                    ("deleting".to_string(), Time(now)),
                    ("gone".to_string(), Time(now)),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pods = [
            pod("fresh", false),
            pod("old", false),
            pod("deleting", true),
        ];
        let (live, next) = live_disruptions(&pdb, &pods, now);
        assert_eq!(live.keys().collect::<Vec<_>>(), ["fresh"]);
        let next = next.unwrap();
        assert!(
            next > Duration::from_secs(100) && next <= Duration::from_secs(110),
            "{next:?}"
        );
    }

    #[test]
    fn allowed_is_healthy_minus_desired_never_negative() {
        let pdb = PodDisruptionBudget::default();
        let now = Timestamp::now();
        let s = computed_status(&pdb, 3, 2, 3, BTreeMap::new(), now);
        assert_eq!(s.disruptions_allowed, 1);
        assert_eq!(s.conditions.as_ref().unwrap()[0].reason, "SufficientPods");
        let s = computed_status(&pdb, 3, 2, 1, BTreeMap::new(), now);
        assert_eq!(s.disruptions_allowed, 0);
        assert_eq!(s.conditions.as_ref().unwrap()[0].status, "False");
    }
}
