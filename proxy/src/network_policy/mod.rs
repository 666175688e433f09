//! NetworkPolicy enforcement on the pod network (the part of a network
//! plugin that Kubernetes leaves to the plugin): watches NetworkPolicies,
//! Pods and Namespaces, and after any change rewrites the filter rules.
//!
//! - [`plan`]: who may reach each isolated pod, and whom it may reach. Pure.
//! - [`rules`]: the plan as iptables chains on the bridge's FORWARD path.
//!
//! It runs in minik-proxy because that is minik's one process on the host
//! that owns iptables rules; it shares the service rules' chain prefix.
//! Without iptables (`--proxy-mode userspace`, or not root) policies
//! cannot be enforced, and each one gets a Warning Event saying so rather
//! than being stored and silently ignored.

pub mod plan;
pub mod rules;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::reflector::Store;
use kube::{Api, Resource};
use minik_client::events::EventType;
use minik_client::reflect;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::events::Events;

/// How soon a failed rule write is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// The installed rules, shared by the sync loop and the proxy's drop.
pub type SharedRules = Arc<Mutex<Option<rules::Rules>>>;

/// Starts enforcing policies with chains named `<prefix>-…`, or (with no
/// prefix, or when the rules cannot be installed) reporting that they are
/// not enforced. Returns the rules, which are removed when dropped.
pub fn start(client: &kube::Client, prefix: Option<&str>, tasks: &mut JoinSet<()>) -> SharedRules {
    let installed = match prefix.map(rules::Rules::install) {
        Some(Ok(r)) => {
            tracing::info!(prefix = ?prefix, "enforcing NetworkPolicies with iptables");
            Ok(r)
        }
        Some(Err(error)) => {
            tracing::warn!(%error, "cannot install the network policy rules: NetworkPolicies are not enforced");
            Err(format!("minik-proxy cannot write iptables rules: {error}"))
        }
        None => Err("minik-proxy runs with --proxy-mode userspace, without iptables".into()),
    };
    let changed = Arc::new(Notify::new());
    let policies: Store<NetworkPolicy> = reflect(Api::all(client.clone()), &changed, tasks);
    let events = Events::new(client.clone(), "minik-proxy");
    match installed {
        Ok(r) => {
            let shared: SharedRules = Arc::new(Mutex::new(Some(r)));
            let pods: Store<Pod> = reflect(Api::all(client.clone()), &changed, tasks);
            let namespaces: Store<Namespace> = reflect(Api::all(client.clone()), &changed, tasks);
            tasks.spawn(enforce(policies, pods, namespaces, changed, shared.clone()));
            shared
        }
        Err(why) => {
            tasks.spawn(report_not_enforced(policies, changed, events, why));
            Arc::new(Mutex::new(None))
        }
    }
}

/// The sync loop: plan from the caches, write the rules, wait for a change.
async fn enforce(
    policies: Store<NetworkPolicy>,
    pods: Store<Pod>,
    namespaces: Store<Namespace>,
    changed: Arc<Notify>,
    shared: SharedRules,
) {
    let ready = futures::future::try_join3(
        policies.wait_until_ready(),
        pods.wait_until_ready(),
        namespaces.wait_until_ready(),
    )
    .await;
    if ready.is_err() {
        return;
    }
    loop {
        let (p, q, n) = (policies.state(), pods.state(), namespaces.state());
        let plan = plan::plan(
            &p.iter().map(|x| x.as_ref()).collect::<Vec<_>>(),
            &q.iter().map(|x| x.as_ref()).collect::<Vec<_>>(),
            &n.iter().map(|x| x.as_ref()).collect::<Vec<_>>(),
        );
        let written = match shared.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(r) => r.sync(&plan),
            // The proxy is stopping: its drop took the rules.
            None => return,
        };
        match written {
            Ok(()) => changed.notified().await,
            Err(error) => {
                tracing::warn!(%error, "cannot write the network policy rules; retrying");
                tokio::select! {
                    _ = changed.notified() => {}
                    _ = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}

/// Says once per policy that it is not enforced, and why.
async fn report_not_enforced(
    policies: Store<NetworkPolicy>,
    changed: Arc<Notify>,
    mut events: Events,
    why: String,
) {
    if policies.wait_until_ready().await.is_err() {
        return;
    }
    loop {
        for policy in policies.state() {
            events
                .once(
                    &policy.object_ref(&()),
                    EventType::Warning,
                    "NetworkPolicyNotEnforced",
                    format!("This NetworkPolicy is stored but not enforced: {why}"),
                )
                .await;
        }
        changed.notified().await;
    }
}
