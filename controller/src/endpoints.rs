//! The endpoints controller: keeps, for every Service with a selector, an
//! Endpoints object of the same name listing the pods behind it — ready
//! pods under `addresses`, the others under `notReadyAddresses` — with the
//! Service's ports resolved against each pod (a named `targetPort` is looked
//! up in that pod's container ports, so pods may serve one Service on
//! different ports). This is what kube-proxy (minik-proxy) and cluster DNS
//! read to route traffic.
//!
//! Mirrors kube-controller-manager's `endpoint-controller`
//! (pkg/controller/endpoint) as of Kubernetes 1.33:
//! - pods without an IP, finished pods and (unless the Service says
//!   `publishNotReadyAddresses`) terminating pods are left out;
//! - addresses carry `nodeName` and a `targetRef` to the pod;
//! - subsets are "repacked" into canonical form: pods offering the same set
//!   of ports share one subset, addresses and ports sorted;
//! - the Endpoints carries the Service's labels plus
//!   `endpoints.kubernetes.io/managed-by: endpoint-controller` (and
//!   `service.kubernetes.io/headless` for headless Services), and the
//!   `endpoints.kubernetes.io/last-change-trigger-time` annotation;
//! - more than 1000 addresses are truncated, with the over-capacity annotation;
//! - Services without a selector (and ExternalName Services) are left
//!   alone: their Endpoints belong to the user;
//! - nothing is written when the computed Endpoints equals the stored one.
//!
//! Two kube-rs `Controller`s, both level-triggered and idempotent:
//! - the *sync* controller reconciles Services. It is also woken by pod
//!   changes (each pod mapped to the Services whose selectors match its old
//!   or new labels) and by changes to Endpoints (so a hand-edited or deleted
//!   Endpoints is put back);
//! - the *cleanup* controller reconciles Endpoints and deletes those whose
//!   Service is gone — Kubernetes does this when it sees the Service
//!   deleted, and once at startup for leftovers.
//!
//! The same pods are published as EndpointSlices by
//! [`crate::endpoint_slice`], which shares this file's pod and port rules.
//!
//! Simplified on purpose: single-stack IPv4/IPv6 only (the first of
//! the Service's IP families); no batching period between pod updates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Service, ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::Controller;
use kube::{Api, ResourceExt};
use minik_client::errors;
use minik_client::informer::{wait_for_cache_sync, Synced};

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::pod_cache::CachedPod;
use crate::pods::{is_pod_ready, ready_condition};
use crate::step_gate::gated;
use crate::{Context, Error};
use minik_client::Change;

/// The controller's name: its Events' reporter and the managed-by label value.
pub const CONTROLLER_NAME: &str = "endpoint-controller";
/// Label on every Endpoints this controller writes.
pub const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// When the pod or Service change that caused the last write happened.
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Set on Endpoints truncated to [`MAX_CAPACITY`] addresses.
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Label marking the Endpoints of a headless Service (clusterIP None).
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Endpoints used as leader-election locks have no Service and must stay.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
/// At most this many addresses per Endpoints (Kubernetes' `maxCapacity`).
pub const MAX_CAPACITY: usize = 1000;

/// State shared by the two controllers.
struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    endpoints: Store<Endpoints>,
    /// The cleanup controller's view of Services.
    services: Store<Service>,
    /// Pods and Endpoints listed once (the Service reconcile waits for it).
    pods_endpoints_synced: [Synced; 2],
    /// Services listed once (the leftover-Endpoints reconcile waits for it).
    services_synced: Synced,
    triggers: Mutex<TriggerTimes>,
    /// Services (namespace, name) this controller has synced: when one goes,
    /// its Endpoints goes too even if the user wrote it.
    synced: Mutex<HashSet<(String, String)>>,
    recorder: EventRecorder,
    backoff: RetryBackoff,
}

// ---------------------------------------------------------------------------
// Construct and run.
// ---------------------------------------------------------------------------

/// Builds both controllers over the shared Service, Endpoints and Pod
/// informers (the caller starts them).
pub fn build(ctx: &Arc<Context>) -> Built {
    let services = ctx.informers.get::<Service>();
    let endpoints = ctx.informers.get::<Endpoints>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let state = Arc::new(State {
        recorder: EventRecorder::new(ctx.client.clone(), CONTROLLER_NAME, None),
        ctx: ctx.clone(),
        pods: pods.store(),
        endpoints: endpoints.store(),
        services: services.store(),
        pods_endpoints_synced: [pods.synced(), endpoints.synced()],
        services_synced: services.synced(),
        triggers: Mutex::default(),
        synced: Mutex::default(),
        backoff: RetryBackoff::default(),
    });

    // Pod changes → the Services that selected the pod before or after.
    let service_store = services.store();
    let pod_triggers = pods
        .subscribe()
        .flat_map(move |change| stream::iter(services_for_pod_change(&service_store, change)));
    let sync = drive(
        "endpoints sync",
        Controller::for_shared_stream(services.applied(), services.store())
            .reconcile_on(pod_triggers)
            .watches_shared_stream(endpoints.touched(), |ep| {
                Some(ObjectRef::<Service>::new(&ep.name_any()).within(&ep.namespace()?))
            })
            .run(
                gated(ctx, "endpoints sync", services.store(), reconcile),
                error_policy,
                state.clone(),
            ),
    );

    let cleanup = drive(
        "endpoints cleanup",
        Controller::for_shared_stream(endpoints.applied(), endpoints.store())
            .watches_shared_stream(services.touched(), |svc| {
                Some(ObjectRef::<Endpoints>::new(&svc.name_any()).within(&svc.namespace()?))
            })
            .run(
                gated(
                    ctx,
                    "endpoints cleanup",
                    endpoints.store(),
                    reconcile_leftover,
                ),
                error_policy_leftover,
                state,
            ),
    );

    async move {
        futures::join!(sync, cleanup);
        Ok(())
    }
    .boxed()
}

/// The Services a pod change concerns: those selecting the pod now and,
/// when its labels changed, those that selected it before. Changes that
/// cannot alter any Endpoints (an annotation, a container restart count)
/// concern none.
pub(crate) fn services_for_pod_change(
    services: &Store<Service>,
    change: Change<CachedPod>,
) -> Vec<ObjectRef<Service>> {
    let pods: Vec<Arc<CachedPod>> = match change {
        Change::Added(p) | Change::Deleted(p) => vec![p],
        Change::Synced => vec![],
        Change::Updated { old, new } => {
            if old.labels() != new.labels() {
                vec![old, new]
            } else if endpoint_view(&old) != endpoint_view(&new) {
                vec![new]
            } else {
                vec![]
            }
        }
    };
    let mut refs = HashSet::new();
    for pod in pods {
        let ns = pod.namespace().unwrap_or_default();
        for svc in services.state() {
            if svc.namespace().as_deref() == Some(ns.as_str()) && selects(&svc, &pod) {
                refs.insert(ObjectRef::from_obj(&*svc));
            }
        }
    }
    refs.into_iter().collect()
}

/// Everything about a pod that the Endpoints of a Service selecting it can show.
fn endpoint_view(pod: &CachedPod) -> serde_json::Value {
    let status = pod.status.as_ref();
    serde_json::json!([
        status.and_then(|s| s.pod_ip.clone()),
        status.and_then(|s| s.pod_ips.clone()),
        status.and_then(|s| s.phase.clone()),
        is_pod_ready(pod),
        pod.metadata.deletion_timestamp.is_some(),
        pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        pod.spec.as_ref().and_then(|s| s.hostname.clone()),
        pod.spec.as_ref().and_then(|s| s.subdomain.clone()),
    ])
}

// ---------------------------------------------------------------------------
// Sync: desired Endpoints for one Service versus the stored one.
// ---------------------------------------------------------------------------

/// Computes the Endpoints of `svc` from the pods it selects and writes it if
/// it differs from the stored one. Level-triggered and idempotent: it reads
/// only caches and writes only when something changed.
async fn reconcile(svc: Arc<Service>, st: Arc<State>) -> Result<Action, Error> {
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let Some(spec) = svc.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Ok(Action::await_change());
    }
    let Some(selector) = spec.selector.as_ref() else {
        // The user manages this Service's Endpoints.
        return Ok(Action::await_change());
    };
    st.synced.lock().unwrap().insert((ns.clone(), name.clone()));
    // Until both caches have been listed once, an absent pod or Endpoints
    // may only be not yet seen (Kubernetes' WaitForCacheSync).
    wait_for_cache_sync(&st.pods_endpoints_synced).await;

    let pods = selected_pods(&st.pods, &ns, selector);
    let trigger_time = st.triggers.lock().unwrap().compute(&svc, &pods);
    let subsets = desired_subsets(&svc, &pods);

    let current = st
        .endpoints
        .get(&ObjectRef::<Endpoints>::new(&name).within(&ns));
    let labels = desired_labels(&svc);
    if let Some(cur) = &current {
        let mut cur_subsets = cur.subsets.clone().unwrap_or_default();
        normalize(&mut cur_subsets);
        let over = cur.annotations().contains_key(OVER_CAPACITY);
        if cur_subsets == subsets
            && cur.labels() == &labels
            && over == (count_addresses(&subsets) > MAX_CAPACITY)
        {
            st.backoff.forget(&key(&ns, &name));
            return Ok(Action::await_change());
        }
    }

    let mut new = match &current {
        Some(cur) => (**cur).clone(),
        None => Endpoints {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            ..Default::default()
        },
    };
    let annotations = new.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match trigger_time {
        Some(t) => {
            // RFC 3339 with as many fractional digits as needed (Go's RFC3339Nano).
            annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), t.to_string());
        }
        None => {
            annotations.remove(LAST_CHANGE_TRIGGER_TIME);
        }
    }
    let (subsets, truncated) = truncate(subsets);
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    new.subsets = (!subsets.is_empty()).then_some(subsets);
    new.metadata.labels = Some(labels);

    let api: Api<Endpoints> = Api::namespaced(st.ctx.client.clone(), &ns);
    let result = match current {
        None => api.create(&PostParams::default(), &new).await.map(|_| ()),
        Some(_) => api
            .replace(&name, &PostParams::default(), &new)
            .await
            .map(|_| ()),
    };
    if let Err(e) = result {
        if errors::is_namespace_terminating(&e) {
            // Creates keep failing in a namespace being deleted: drop the Service.
            return Ok(Action::await_change());
        }
        let (reason, note) = if current_missing(&new) {
            (
                "FailedToCreateEndpoint",
                format!("Failed to create endpoint for service {ns}/{name}: {e}"),
            )
        } else {
            (
                "FailedToUpdateEndpoint",
                format!("Failed to update endpoint {ns}/{name}: {e}"),
            )
        };
        st.recorder
            .publish(&endpoints_ref(&new), EventType::Warning, reason, note)
            .await;
        return Err(e.into());
    }
    st.backoff.forget(&key(&ns, &name));
    Ok(Action::await_change())
}

fn current_missing(ep: &Endpoints) -> bool {
    ep.metadata.resource_version.is_none()
}

/// Failed syncs are retried with client-go's per-item exponential backoff.
fn error_policy(svc: Arc<Service>, err: &Error, st: Arc<State>) -> Action {
    tracing::warn!(service = %svc.name_any(), error = %err, "syncing endpoints");
    let ns = svc.namespace().unwrap_or_default();
    Action::requeue(st.backoff.next_delay(&key(&ns, &svc.name_any())))
}

pub(crate) fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

fn endpoints_ref(ep: &Endpoints) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Endpoints".into()),
        namespace: ep.namespace(),
        name: Some(ep.name_any()),
        uid: ep.uid(),
        ..Default::default()
    }
}

/// The Service's labels, plus the managed-by label and, for a headless
/// Service, the headless label.
fn desired_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.labels().clone();
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    let cluster_ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
    if matches!(cluster_ip, None | Some("") | Some("None")) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

// ---------------------------------------------------------------------------
// Cleanup: Endpoints whose Service is gone.
// ---------------------------------------------------------------------------

/// Deletes an Endpoints whose Service no longer exists, if this controller
/// wrote it (the managed-by label) or saw its Service. Level-triggered: it
/// runs on every change to the Endpoints or to a Service of that name.
async fn reconcile_leftover(ep: Arc<Endpoints>, st: Arc<State>) -> Result<Action, Error> {
    st.services_synced.wait().await;
    if ep.annotations().contains_key(LEADER_ANNOTATION) {
        return Ok(Action::await_change());
    }
    let ns = ep.namespace().unwrap_or_default();
    let name = ep.name_any();
    if st
        .services
        .get(&ObjectRef::<Service>::new(&name).within(&ns))
        .is_some()
    {
        return Ok(Action::await_change());
    }
    let ours = ep.labels().get(LABEL_MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME);
    let synced = st
        .synced
        .lock()
        .unwrap()
        .contains(&(ns.clone(), name.clone()));
    if !ours && !synced {
        return Ok(Action::await_change());
    }
    // The cache may lag behind a Service created a moment ago: ask the API server.
    let services: Api<Service> = Api::namespaced(st.ctx.client.clone(), &ns);
    if services.get_opt(&name).await?.is_some() {
        return Ok(Action::await_change());
    }
    let api: Api<Endpoints> = Api::namespaced(st.ctx.client.clone(), &ns);
    let params = DeleteParams {
        preconditions: ep.uid().map(|uid| kube::api::Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {}
        Err(e) if errors::is_superseded(&e) => {}
        Err(e) => return Err(e.into()),
    }
    st.synced
        .lock()
        .unwrap()
        .remove(&(ns.clone(), name.clone()));
    st.triggers.lock().unwrap().forget(&ns, &name);
    Ok(Action::await_change())
}

fn error_policy_leftover(ep: Arc<Endpoints>, err: &Error, _st: Arc<State>) -> Action {
    tracing::warn!(endpoints = %ep.name_any(), error = %err, "deleting leftover endpoints");
    Action::requeue(Duration::from_secs(1))
}

// ---------------------------------------------------------------------------
// Computing subsets.
// ---------------------------------------------------------------------------

/// Whether the Service's selector selects the pod.
pub(crate) fn selects(svc: &Service, pod: &CachedPod) -> bool {
    match svc.spec.as_ref().and_then(|s| s.selector.as_ref()) {
        Some(sel) => matches(sel, pod),
        None => false,
    }
}

/// A Service selector is a plain equality map; an empty one selects every pod.
/// The pods of namespace `ns` a Service's selector picks (what both the
/// Endpoints and the EndpointSlices of the Service list).
pub(crate) fn selected_pods(
    pods: &Store<CachedPod>,
    ns: &str,
    selector: &BTreeMap<String, String>,
) -> Vec<Arc<CachedPod>> {
    pods.state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns) && matches(selector, p))
        .collect()
}

fn matches(selector: &BTreeMap<String, String>, pod: &CachedPod) -> bool {
    let labels = pod.labels();
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `ShouldPodBeInEndpoints`: not finished, has an IP, and not terminating
/// unless the Service publishes not-ready addresses.
fn should_be_in_endpoints(pod: &CachedPod, include_terminating: bool) -> bool {
    let status = pod.status.as_ref();
    if matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return false;
    }
    let has_ip = status.is_some_and(|s| {
        s.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty())
            || s.pod_ips.as_ref().is_some_and(|ips| !ips.is_empty())
    });
    has_ip && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

/// The Service's IP family: its first `ipFamilies` entry, else its ClusterIP's.
pub(crate) fn service_is_ipv6(svc: &Service) -> Option<bool> {
    let spec = svc.spec.as_ref()?;
    if let Some(f) = spec.ip_families.as_ref().and_then(|f| f.first()) {
        return Some(f == "IPv6");
    }
    match spec.cluster_ip.as_deref() {
        Some(ip) if !ip.is_empty() && ip != "None" => Some(ip.contains(':')),
        _ => None,
    }
}

/// `podToEndpointAddressForService`: the pod's IP of the Service's family
/// (any, for a headless Service without families), its node and a reference to it.
pub(crate) fn endpoint_address(svc: &Service, pod: &CachedPod) -> Option<EndpointAddress> {
    let status = pod.status.as_ref()?;
    let mut ips: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .collect();
    if ips.is_empty() {
        ips.extend(status.pod_ip.clone());
    }
    let ip = match service_is_ipv6(svc) {
        Some(v6) => ips.into_iter().find(|ip| ip.contains(':') == v6)?,
        None => ips.into_iter().next()?,
    };
    let spec = pod.spec.as_ref();
    let node_name = spec
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    // `ShouldSetHostname`: the pod asked for a hostname under this Service's subdomain.
    let hostname = spec.and_then(|s| {
        let sub = s.subdomain.as_deref()?;
        let host = s.hostname.clone().filter(|h| !h.is_empty())?;
        (sub == svc.name_any() && pod.namespace() == svc.namespace()).then_some(host)
    });
    Some(EndpointAddress {
        ip,
        hostname,
        node_name,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
    })
}

/// `podutil.FindPort`: a numeric targetPort as is; a named one looked up
/// among the pod's container ports (and its sidecars') of the same protocol.
pub(crate) fn find_port(pod: &CachedPod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match port.target_port.as_ref() {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// One pod's address offering one port (or no port: a headless Service without ports).
struct Offer {
    address: EndpointAddress,
    ready: bool,
    port: Option<EndpointPort>,
}

/// The Service's subsets in canonical (repacked, sorted) form.
fn desired_subsets(svc: &Service, pods: &[Arc<CachedPod>]) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses == Some(true);
    let ports = spec.ports.unwrap_or_default();
    let mut offers = Vec::new();
    for pod in pods {
        if !should_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(address) = endpoint_address(svc, pod) else {
            continue;
        };
        let ready = publish_not_ready || is_pod_ready(pod);
        if ports.is_empty() {
            // A headless Service may have no ports; any other gets no endpoints.
            if spec.cluster_ip.as_deref() == Some("None") {
                offers.push(Offer {
                    address,
                    ready,
                    port: None,
                });
            }
            continue;
        }
        for sp in &ports {
            let Some(number) = find_port(pod, sp) else {
                tracing::debug!(pod = %pod.name_any(), port = ?sp.name, "no suitable port");
                continue;
            };
            offers.push(Offer {
                address: address.clone(),
                ready,
                port: Some(EndpointPort {
                    name: sp.name.clone(),
                    port: number,
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                }),
            });
        }
    }
    repack(offers)
}

/// Identity of an address: IP plus the pod's uid (two pods may share an IP over time).
type AddressKey = (String, String);
/// A port, as an orderable key: name, number, protocol, appProtocol.
type PortKey = (String, i32, String, String);

fn address_key(a: &EndpointAddress) -> AddressKey {
    let uid = a
        .target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_default();
    (a.ip.clone(), uid)
}

/// `RepackSubsets`: every port is offered by a set of addresses; ports
/// offered by exactly the same addresses (with the same readiness) share a
/// subset. An address counts as ready for a port if any offer says so.
fn repack(offers: Vec<Offer>) -> Vec<EndpointSubset> {
    let mut addresses: HashMap<AddressKey, EndpointAddress> = HashMap::new();
    let mut ports: BTreeMap<Option<PortKey>, Option<EndpointPort>> = BTreeMap::new();
    let mut offered: BTreeMap<Option<PortKey>, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for offer in offers {
        let akey = address_key(&offer.address);
        addresses.entry(akey.clone()).or_insert(offer.address);
        let pkey = offer.port.as_ref().map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port,
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        });
        ports.insert(pkey.clone(), offer.port);
        let ready = offered
            .entry(pkey)
            .or_default()
            .entry(akey)
            .or_insert(false);
        *ready |= offer.ready;
    }
    // Group ports by the exact set of (address, readiness) that offers them.
    let mut groups: BTreeMap<Vec<(AddressKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (pkey, addrs) in offered {
        let set: Vec<(AddressKey, bool)> = addrs.into_iter().collect();
        let entry = groups.entry(set).or_default();
        if let Some(Some(port)) = ports.remove(&pkey) {
            entry.push(port);
        }
    }
    let mut subsets: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(set, ports)| {
            let (ready, not_ready): (Vec<_>, Vec<_>) = set.into_iter().partition(|(_, r)| *r);
            let collect = |v: Vec<(AddressKey, bool)>| {
                let list: Vec<EndpointAddress> =
                    v.into_iter().map(|(k, _)| addresses[&k].clone()).collect();
                (!list.is_empty()).then_some(list)
            };
            EndpointSubset {
                addresses: collect(ready),
                not_ready_addresses: collect(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    normalize(&mut subsets);
    subsets
}

/// Canonical order (`SortSubsets`): addresses by IP then pod uid, ports by
/// name/number/protocol, subsets by their first address. Empty lists become
/// absent, and a pod's resourceVersion in a targetRef is ignored, so stored
/// and computed subsets compare equal when they mean the same.
fn normalize(subsets: &mut Vec<EndpointSubset>) {
    let sort_addrs = |list: &mut Option<Vec<EndpointAddress>>| {
        if let Some(v) = list.as_mut() {
            for a in v.iter_mut() {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
            }
            v.sort_by_key(address_key);
        }
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
    };
    for s in subsets.iter_mut() {
        sort_addrs(&mut s.addresses);
        sort_addrs(&mut s.not_ready_addresses);
        if let Some(p) = s.ports.as_mut() {
            p.sort_by(|a, b| (&a.name, a.port, &a.protocol).cmp(&(&b.name, b.port, &b.protocol)));
        }
        if s.ports.as_ref().is_some_and(Vec::is_empty) {
            s.ports = None;
        }
    }
    subsets.retain(|s| s.addresses.is_some() || s.not_ready_addresses.is_some());
    subsets.sort_by_key(|s| {
        let first = s
            .addresses
            .iter()
            .chain(s.not_ready_addresses.iter())
            .flatten()
            .map(address_key)
            .next();
        let ports: Vec<i32> = s.ports.iter().flatten().map(|p| p.port).collect();
        (first, ports)
    });
}

fn count_addresses(subsets: &[EndpointSubset]) -> usize {
    subsets
        .iter()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum()
}

/// `truncateEndpoints`: past [`MAX_CAPACITY`] addresses, keep ready ones
/// first, each subset keeping its share (rounded up) of what fits.
fn truncate(mut subsets: Vec<EndpointSubset>) -> (Vec<EndpointSubset>, bool) {
    let total_ready: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let total_not_ready: usize = subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return (subsets, false);
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, num_total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    for s in subsets.iter_mut() {
        let list = if truncate_ready {
            &mut s.addresses
        } else {
            &mut s.not_ready_addresses
        };
        let in_subset = list.as_ref().map_or(0, Vec::len);
        let share = (in_subset * max).div_ceil(num_total).min(can_be_added);
        if let Some(v) = list.as_mut() {
            v.truncate(share);
            can_be_added -= v.len();
        }
        if truncate_ready {
            s.not_ready_addresses = None;
        }
    }
    (subsets, true)
}

// ---------------------------------------------------------------------------
// The last-change-trigger-time annotation.
// ---------------------------------------------------------------------------

/// Kubernetes' `TriggerTimeTracker`: for each Service, the trigger times
/// (Ready condition transitions) of its pods at the last sync. A sync's
/// trigger time is the earliest change not yet reflected — or the Service's
/// creation time the first time it is synced.
#[derive(Default)]
struct TriggerTimes {
    services: HashMap<(String, String), ServiceTriggers>,
}

#[derive(Default)]
struct ServiceTriggers {
    pods: HashMap<String, Timestamp>,
    service: Option<Timestamp>,
}

impl TriggerTimes {
    fn compute(&mut self, svc: &Service, pods: &[Arc<CachedPod>]) -> Option<Timestamp> {
        let key = (svc.namespace().unwrap_or_default(), svc.name_any());
        let was_known = self.services.contains_key(&key);
        let state = self.services.entry(key).or_default();
        let mut min_changed: Option<Timestamp> = None;
        let mut pod_times = HashMap::new();
        for pod in pods {
            let Some(t) = ready_condition(pod).and_then(|c| c.last_transition_time.as_ref()) else {
                continue;
            };
            let t = t.0;
            if state.pods.get(&pod.name_any()).is_none_or(|last| t > *last) {
                min_changed = Some(min_changed.map_or(t, |m| m.min(t)));
            }
            pod_times.insert(pod.name_any(), t);
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|Time(t)| *t);
        if let Some(c) = created {
            if state.service.is_none_or(|last| c > last) {
                min_changed = Some(min_changed.map_or(c, |m| m.min(c)));
            }
        }
        state.pods = pod_times;
        state.service = created;
        if was_known {
            min_changed
        } else {
            created
        }
    }

    fn forget(&mut self, ns: &str, name: &str) {
        self.services.remove(&(ns.to_string(), name.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, Pod, PodSpec, PodStatus, ServiceSpec,
    };

    fn pod(name: &str, ip: &str, ready: bool, port_name: &str, port: i32) -> Arc<CachedPod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.spec = Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![ContainerPort {
                    name: Some(port_name.into()),
                    container_port: port,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        });
        p.status = Some(PodStatus {
            pod_ip: Some(ip.into()),
            phase: Some("Running".into()),
            conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(CachedPod::of(&p))
    }

    fn service(target: IntOrString) -> Service {
        let mut s = Service::default();
        s.metadata.name = Some("web".into());
        s.metadata.namespace = Some("default".into());
        s.spec = Some(ServiceSpec {
            cluster_ip: Some("10.96.0.20".into()),
            selector: Some([("app".to_string(), "web".to_string())].into()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                target_port: Some(target),
                ..Default::default()
            }]),
            ..Default::default()
        });
        s
    }

    #[test]
    fn named_target_ports_split_pods_into_subsets() {
        let svc = service(IntOrString::String("web".into()));
        let pods = vec![
            pod("a", "10.0.0.2", true, "web", 8080),
            pod("b", "10.0.0.1", false, "web", 8080),
            pod("c", "10.0.0.3", true, "web", 9090),
            pod("d", "10.0.0.4", true, "other", 9090),
        ];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(subsets.len(), 2, "{subsets:#?}");
        let first = &subsets[0];
        assert_eq!(first.ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(first.addresses.as_ref().unwrap()[0].ip, "10.0.0.2");
        assert_eq!(
            first.not_ready_addresses.as_ref().unwrap()[0].ip,
            "10.0.0.1"
        );
        let second = &subsets[1];
        assert_eq!(second.ports.as_ref().unwrap()[0].port, 9090);
        assert_eq!(second.addresses.as_ref().unwrap()[0].ip, "10.0.0.3");
        assert!(second.not_ready_addresses.is_none());
    }

    #[test]
    fn publish_not_ready_addresses_lists_every_pod_with_an_ip_as_ready() {
        let mut svc = service(IntOrString::Int(8080));
        svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let mut terminating = (*pod("t", "10.0.0.3", true, "web", 8080)).clone();
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        let mut finished = (*pod("f", "10.0.0.4", false, "web", 8080)).clone();
        finished.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let pods = vec![
            pod("a", "10.0.0.1", false, "web", 8080),
            Arc::new(terminating.clone()),
            Arc::new(finished),
        ];
        let subsets = desired_subsets(&svc, &pods);
        let ips: Vec<&str> = subsets[0]
            .addresses
            .iter()
            .flatten()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.3"]);
        assert!(subsets[0].not_ready_addresses.is_none());
        // Without it, the terminating pod is left out and the unready one is not ready.
        svc.spec.as_mut().unwrap().publish_not_ready_addresses = None;
        let subsets = desired_subsets(&svc, &pods);
        assert!(subsets[0].addresses.is_none());
        assert_eq!(
            subsets[0].not_ready_addresses.as_ref().unwrap()[0].ip,
            "10.0.0.1"
        );
        assert_eq!(subsets[0].not_ready_addresses.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn truncation_keeps_ready_addresses_first() {
        let addr = |i: usize| EndpointAddress {
            ip: format!("10.1.{}.{}", i / 256, i % 256),
            ..Default::default()
        };
        let subsets = vec![EndpointSubset {
            addresses: Some((0..900).map(addr).collect()),
            not_ready_addresses: Some((900..1200).map(addr).collect()),
            ports: None,
        }];
        let (out, truncated) = truncate(subsets);
        assert!(truncated);
        assert_eq!(out[0].addresses.as_ref().unwrap().len(), 900);
        assert_eq!(out[0].not_ready_addresses.as_ref().unwrap().len(), 100);
    }
}
