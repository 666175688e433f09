//! Step mode's gate: in step mode every reconcile waits here until the
//! instructor grants a step, and one grant releases exactly one reconcile,
//! the one that has waited longest. The instructor's side of the channel is
//! the ConfigMap `kube-system/minik-step-mode` (`minik_client::step_mode`
//! says what its keys mean); this file is the controller-manager's side.
//!
//! Kubernetes has nothing like it: a workqueue hands keys to workers as
//! fast as they come. The gate sits between kube-rs's scheduler and each
//! controller's reconcile function ([`gated`] wraps the function, so no
//! controller changes its code): kube-rs still deduplicates triggers (an
//! object waits at most once per controller, and the changes that arrive
//! while it waits make one more reconcile after it) and still keeps two
//! reconciles of one object from running at once.
//!
//! What is not held: the informers and leader election (so the caches stay
//! current and the plans shown are what would happen now), the node
//! lifecycle controller (Kubernetes' periodic `monitorNodeHealth`, not a
//! workqueue: a stopped node is still noticed), and of the garbage
//! collector only its writes are held (it is woken by every change of every
//! object, nearly always to find nothing to do). The scheduler and the
//! kubelets are other processes and run at normal speed.
//!
//! Off (no ConfigMap, or `mode: run`) the gate costs one atomic load per
//! reconcile and a look at each ConfigMap change: it reads the ConfigMap
//! from the controller-manager's shared ConfigMap informer (the root CA
//! publisher's), so it adds no watch of its own — kube-controller-manager's
//! one-watch-per-kind rule, which `lifecycle_informers` checks.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use minik_client::informer::{Informer, Synced};
use minik_client::step_mode::{self, Last, StepState, Waiting, MAX_LISTED};
use minik_client::{Change, SharedInformerFactory};
use tokio::sync::{oneshot, Notify};

use crate::Context;

/// The least time between two writes of the controller-manager's keys: a
/// burst of reconciles arriving at once is published as one patch.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// What a reconcile would do, shown while it waits.
pub struct Plan {
    /// What woke it, when the controller can tell.
    pub why: Option<String>,
    /// What it would do now, from the caches ("… wants 3 replicas, has 2: will create 1 pod").
    pub does: String,
}

impl Plan {
    /// The plan of a controller that cannot say more.
    pub fn generic(kind: &str, object: &str) -> Self {
        Self {
            why: None,
            does: format!("reconcile {kind} {object}"),
        }
    }
}

/// A reconcile asking to pass: who it is, and how to tell what it would do
/// (asked again each time the waiting list is published, so the plan
/// follows the caches while it waits).
pub struct Ticket {
    pub controller: &'static str,
    pub kind: String,
    pub object: String,
    pub plan: Box<dyn Fn() -> Plan + Send + Sync>,
}

/// A released reconcile: report its outcome with [`Step::done`].
pub struct Step {
    gate: Arc<StepGate>,
    number: u64,
    ticket: Arc<Ticket>,
    plan: String,
}

impl Step {
    /// The step ran to its end with `outcome`.
    pub fn done(self, outcome: String) {
        let last = Last {
            step: self.number,
            controller: self.ticket.controller.to_string(),
            kind: self.ticket.kind.clone(),
            object: self.ticket.object.clone(),
            plan: self.plan,
            outcome,
        };
        self.gate.shared.lock().unwrap().finished.push(last);
        self.gate.changed.notify_one();
    }
}

struct Held {
    ticket: Arc<Ticket>,
    since: Timestamp,
    /// `Some(step)`: released as that step; `None`: released because step mode ended.
    release: oneshot::Sender<Option<(u64, String)>>,
}

#[derive(Default)]
struct Shared {
    queue: VecDeque<Held>,
    finished: Vec<Last>,
}

/// The gate every controller's reconciles pass (one per controller-manager).
pub struct StepGate {
    config_maps: Informer<ConfigMap>,
    synced: Synced,
    stepping: AtomicBool,
    shared: Mutex<Shared>,
    changed: Notify,
}

impl StepGate {
    /// A gate reading the step-mode ConfigMap through the shared
    /// ConfigMap informer (started with the others).
    pub fn new(informers: &SharedInformerFactory) -> Arc<Self> {
        let config_maps = informers.get::<ConfigMap>();
        Arc::new(Self {
            synced: config_maps.synced(),
            config_maps,
            stepping: AtomicBool::new(false),
            shared: Mutex::default(),
            changed: Notify::new(),
        })
    }

    /// Waits, in step mode, until a step is granted to this reconcile
    /// (`Some`), or returns at once (`None`) at normal speed. `ticket` is
    /// only built when the reconcile has to wait.
    pub async fn pass(self: &Arc<Self>, ticket: impl FnOnce() -> Ticket) -> Option<Step> {
        if !self.synced.is_synced() {
            // Until the ConfigMap has been looked for, the mode is unknown.
            self.synced.wait().await;
        }
        if !self.stepping.load(Ordering::Acquire) {
            return None;
        }
        let ticket = Arc::new(ticket());
        let (release, released) = oneshot::channel();
        {
            let mut shared = self.shared.lock().unwrap();
            // Checked again under the lock: a switch to `run` drains the
            // queue under it, so nothing is queued after the drain.
            if !self.stepping.load(Ordering::Acquire) {
                return None;
            }
            shared.queue.push_back(Held {
                ticket: ticket.clone(),
                since: Timestamp::now(),
                release,
            });
        }
        self.changed.notify_one();
        let (number, plan) = released.await.ok().flatten()?;
        Some(Step {
            gate: self.clone(),
            number,
            ticket,
            plan,
        })
    }

    /// Follows the ConfigMap, releases a waiting reconcile per granted step,
    /// and publishes what waits. Runs as long as the controller-manager.
    pub async fn run(self: Arc<Self>, client: kube::Client) {
        let api: Api<ConfigMap> = Api::namespaced(client, step_mode::NAMESPACE);
        let mut changes = self.config_maps.subscribe().boxed();
        self.synced.wait().await;
        let mut state = self.current();
        // Steps released so far (`taken` counts the finished ones); a
        // restarted controller-manager continues from what it had taken.
        let mut released = state.as_ref().map_or(0, |s| s.taken);
        let mut taken = released;
        let mut dirty = true;
        // The last step run, written with every publication.
        let mut last: Option<Last> = None;
        let mut last_publish = tokio::time::Instant::now() - PUBLISH_EVERY;
        loop {
            let stepping = state.as_ref().is_some_and(|s| s.stepping);
            self.stepping.store(stepping, Ordering::Release);
            {
                let mut shared = self.shared.lock().unwrap();
                if !stepping && !shared.queue.is_empty() {
                    for held in shared.queue.drain(..) {
                        let _ = held.release.send(None);
                    }
                    dirty = true;
                }
                let granted = state.as_ref().map_or(0, |s| s.granted);
                while stepping && granted > released {
                    let Some(held) = shared.queue.pop_front() else {
                        break;
                    };
                    // A reconcile dropped while waiting (shutdown) takes no step.
                    if held.release.is_closed() {
                        continue;
                    }
                    let plan = (held.ticket.plan)().does;
                    if held.release.send(Some((released + 1, plan))).is_ok() {
                        released += 1;
                    }
                    dirty = true;
                }
                shared.queue.retain(|held| !held.release.is_closed());
            }
            let publish_at = last_publish + PUBLISH_EVERY;
            tokio::select! {
                change = changes.next() => {
                    let Some(change) = change else { return };
                    let ours = |cm: &ConfigMap| {
                        cm.metadata.name.as_deref() == Some(step_mode::NAME)
                            && cm.metadata.namespace.as_deref() == Some(step_mode::NAMESPACE)
                    };
                    let concerns_us = match &change {
                        Change::Added(cm) | Change::Deleted(cm) => ours(cm),
                        Change::Updated { new, .. } => ours(new),
                        Change::Synced => true,
                    };
                    if !concerns_us {
                        continue;
                    }
                    let before = state.as_ref().map(|s| (s.stepping, s.granted));
                    state = match change {
                        Change::Deleted(_) => None,
                        _ => self.current(),
                    };
                    // A ConfigMap made anew starts its own count.
                    if let (None, Some(new)) = (before, &state) {
                        (released, taken) = (new.taken, new.taken);
                    }
                    // Only the instructor's keys call for a new publication
                    // (our own writes come back here too).
                    dirty |= before != state.as_ref().map(|s| (s.stepping, s.granted));
                }
                _ = self.changed.notified() => dirty = true,
                _ = tokio::time::sleep_until(publish_at), if dirty && state.is_some() => {
                    dirty = false;
                    last_publish = tokio::time::Instant::now();
                    let (waiting, count, finished) = self.snapshot();
                    taken += finished.len() as u64;
                    if let Some(l) = finished.into_iter().last() {
                        last = Some(l);
                    }
                    let patch = step_mode::progress_patch(taken, &waiting, count, last.as_ref());
                    if let Err(error) = api
                        .patch(step_mode::NAME, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        // Deleted meanwhile (back to normal speed), or the
                        // API server is away: try again in a second.
                        tracing::debug!(%error, "step mode: publishing the waiting list failed");
                        dirty = true;
                        last_publish += Duration::from_secs(1);
                    }
                }
            }
        }
    }

    /// The ConfigMap's state, if there is one in kube-system.
    fn current(&self) -> Option<StepState> {
        let cm = self
            .config_maps
            .store()
            .get(&ObjectRef::new(step_mode::NAME).within(step_mode::NAMESPACE))?;
        Some(StepState::from_config_map(Some(&cm)))
    }

    /// What waits (oldest first, plans asked now), how many, and the steps finished since last asked.
    fn snapshot(&self) -> (Vec<Waiting>, usize, Vec<Last>) {
        let (tickets, count, finished) = {
            let mut shared = self.shared.lock().unwrap();
            let tickets: Vec<(Arc<Ticket>, Timestamp)> = shared
                .queue
                .iter()
                .take(MAX_LISTED)
                .map(|h| (h.ticket.clone(), h.since))
                .collect();
            let finished = std::mem::take(&mut shared.finished);
            (tickets, shared.queue.len(), finished)
        };
        let waiting = tickets
            .into_iter()
            .map(|(ticket, since)| {
                let plan = (ticket.plan)();
                Waiting {
                    controller: ticket.controller.to_string(),
                    kind: ticket.kind.clone(),
                    object: ticket.object.clone(),
                    since: since
                        .round(k8s_openapi::jiff::Unit::Second)
                        .unwrap_or(since)
                        .to_string(),
                    why: plan.why,
                    plan: plan.does,
                }
            })
            .collect();
        (waiting, count, finished)
    }
}

/// How a reconcile ended, as `last.outcome` says it.
fn outcome<E: std::fmt::Display>(result: &Result<Action, E>) -> String {
    match result {
        Ok(action) => {
            let text = format!("{action:?}");
            // kube's Action prints `Action { requeue_after: Some(5s) }`.
            let after = text.split("Some(").nth(1).and_then(|t| t.split(')').next());
            match after.map(|a| (a, a.strip_suffix('s').and_then(|n| n.parse::<f64>().ok()))) {
                Some((_, Some(secs))) => format!("ok, requeue in {}s", secs.round()),
                Some((after, None)) => format!("ok, requeue in {after}"),
                None => "ok".into(),
            }
        }
        Err(e) => format!("error: {e}"),
    }
}

/// `ns/name`, or `name` for a cluster-scoped object.
pub fn object_key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    let name = meta.name.clone().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name,
    }
}

/// A controller's reconcile function behind the gate, with the generic plan.
/// What every controller passes to kube-rs's `Controller::run`.
pub fn gated<K, S, E, F, Fut>(
    ctx: &Context,
    controller: &'static str,
    store: Store<K>,
    reconcile: F,
) -> impl FnMut(Arc<K>, Arc<S>) -> BoxFuture<'static, Result<Action, E>>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: Send + Sync + 'static,
    E: std::fmt::Display + Send + 'static,
    F: Fn(Arc<K>, Arc<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    fn generic<K: Resource<DynamicType = ()>, S>(obj: &K, _: &S) -> Plan {
        Plan::generic(&K::kind(&()), &object_key(obj.meta()))
    }
    gated_with_plan(ctx, controller, store, generic::<K, S>, reconcile)
}

/// [`gated`], with a controller's own `plan`: what it would do now, read
/// from the same caches its reconcile reads.
pub fn gated_with_plan<K, S, E, F, Fut>(
    ctx: &Context,
    controller: &'static str,
    store: Store<K>,
    plan: fn(&K, &S) -> Plan,
    reconcile: F,
) -> impl FnMut(Arc<K>, Arc<S>) -> BoxFuture<'static, Result<Action, E>>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: Send + Sync + 'static,
    E: std::fmt::Display + Send + 'static,
    F: Fn(Arc<K>, Arc<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    let gate = ctx.step.clone();
    let reconcile = Arc::new(reconcile);
    move |obj: Arc<K>, state: Arc<S>| {
        let (gate, store, reconcile) = (gate.clone(), store.clone(), reconcile.clone());
        async move {
            let at = ObjectRef::from_obj(&*obj);
            let step = gate
                .pass(|| {
                    let (store, at, obj, state) =
                        (store.clone(), at.clone(), obj.clone(), state.clone());
                    Ticket {
                        controller,
                        kind: K::kind(&()).into_owned(),
                        object: object_key(obj.meta()),
                        plan: Box::new(move || {
                            let now = store.get(&at).unwrap_or_else(|| obj.clone());
                            plan(&now, &state)
                        }),
                    }
                })
                .await;
            let Some(step) = step else {
                return reconcile(obj, state).await;
            };
            // It may have waited long: reconcile what the cache holds now.
            let obj = store.get(&at).unwrap_or(obj);
            let result = reconcile(obj, state).await;
            step.done(outcome(&result));
            result
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_plainly() {
        let ok: Result<Action, String> = Ok(Action::await_change());
        assert_eq!(outcome(&ok), "ok");
        let later: Result<Action, String> = Ok(Action::requeue(Duration::from_millis(600_452)));
        assert_eq!(outcome(&later), "ok, requeue in 600s");
        let failed: Result<Action, String> = Err("conflict".into());
        assert_eq!(outcome(&failed), "error: conflict");
    }
}
