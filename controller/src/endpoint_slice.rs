//! The EndpointSlice controller: for every Service with a selector, the
//! EndpointSlices (`discovery.k8s.io/v1`) listing the pods behind it, as
//! kube-controller-manager's `endpointslice-controller` keeps them — what
//! `kubectl describe service` shows as its endpoints.
//!
//! - Each endpoint is one pod: its address (of the Service's family), the
//!   conditions `ready` (the pod is Ready and not terminating, or the
//!   Service publishes not-ready addresses), `serving` (Ready, even while
//!   terminating) and `terminating`, its `nodeName`, the node's
//!   `topology.kubernetes.io/zone` as `zone`, a `hostname` when the pod
//!   asked for one under the Service, and a `targetRef` to the pod. Pods
//!   without an address and finished pods are left out; terminating pods
//!   stay, marked so.
//! - Ports are resolved per pod (a named `targetPort`), so pods serving the
//!   Service on different ports land in different slices; a slice holds
//!   at most [`MAX_ENDPOINTS_PER_SLICE`] endpoints. A Service with no pods
//!   keeps one empty slice (Kubernetes' placeholder).
//! - Slices are named `<service>-<random>`, labelled
//!   `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`
//!   (plus the Service's own labels), and owned by the Service, so the
//!   garbage collector removes them with it.
//!
//! Simplified on purpose: existing slices are rewritten in name order
//! rather than matched to keep churn minimal, there are no topology hints
//! or `endpoints.kubernetes.io/last-change-trigger-time`. Hand-written
//! Endpoints of Services without a selector are mirrored into slices by
//! [`crate::endpoint_slice_mirroring`]; minik-proxy and minik-dns read
//! only slices, as kube-proxy and CoreDNS do.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{stream, FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::Controller;
use kube::{Api, Resource, ResourceExt};
use minik_client::errors;
use minik_client::informer::{wait_for_cache_sync, Synced};

use crate::context::{drive, Built, RetryBackoff};
use crate::endpoints::{
    endpoint_address, find_port, key, selected_pods, service_is_ipv6, services_for_pod_change,
};
use crate::pod_cache::CachedPod;
use crate::pods::is_pod_ready;
use crate::step_gate::gated;
use crate::{Context, Error};

/// The managed-by label's value for slices this controller writes.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Which Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Who manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// Kubernetes' `maxEndpointsPerSlice` default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// The node label an endpoint's zone comes from.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Marks the slices of a headless Service.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    nodes: Store<Node>,
    slices: Store<EndpointSlice>,
    synced: [Synced; 3],
    backoff: RetryBackoff,
}

/// Builds the controller over the shared Service, Pod, Node and
/// EndpointSlice informers (the caller starts them).
pub fn build(ctx: &Arc<Context>) -> Built {
    let services = ctx.informers.get::<Service>();
    let slices = ctx.informers.get::<EndpointSlice>();
    let nodes = ctx.informers.get::<Node>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let state = Arc::new(State {
        ctx: ctx.clone(),
        pods: pods.store(),
        nodes: nodes.store(),
        slices: slices.store(),
        synced: [pods.synced(), slices.synced(), nodes.synced()],
        backoff: RetryBackoff::default(),
    });
    let service_store = services.store();
    let pod_triggers = pods
        .subscribe()
        .flat_map(move |change| stream::iter(services_for_pod_change(&service_store, change)));
    drive(
        "endpointslice",
        Controller::for_shared_stream(services.applied(), services.store())
            .reconcile_on(pod_triggers)
            // A slice edited or deleted by hand is put back.
            .watches_shared_stream(slices.touched(), |slice| {
                let service = slice.labels().get(LABEL_SERVICE_NAME)?;
                Some(ObjectRef::<Service>::new(service).within(&slice.namespace()?))
            })
            .run(
                gated(ctx, "endpointslice", services.store(), reconcile),
                error_policy,
                state,
            ),
    )
    .map(Ok)
    .boxed()
}

/// One pod as an endpoint, and the ports it serves the Service on; `None`
/// for a pod that is not an endpoint (no address, or finished).
fn endpoint(
    svc: &Service,
    pod: &CachedPod,
    nodes: &Store<Node>,
) -> Option<(Endpoint, Vec<EndpointPort>)> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    let address = endpoint_address(svc, pod)?;
    let spec = svc.spec.as_ref()?;
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let serving = is_pod_ready(pod);
    let publish = spec.publish_not_ready_addresses == Some(true);
    let zone = address
        .node_name
        .as_ref()
        .and_then(|n| nodes.get(&ObjectRef::new(n)))
        .and_then(|n| n.labels().get(ZONE_LABEL).cloned());
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(find_port(pod, p)?),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
        })
        .collect();
    let endpoint = Endpoint {
        addresses: vec![address.ip],
        conditions: Some(EndpointConditions {
            ready: Some(publish || (serving && !terminating)),
            serving: Some(publish || serving),
            terminating: Some(terminating),
        }),
        hostname: address.hostname,
        node_name: address.node_name,
        zone,
        target_ref: address.target_ref,
        ..Default::default()
    };
    Some((endpoint, ports))
}

/// What the Service's slices should hold: (ports, endpoints) per slice.
fn desired(
    svc: &Service,
    pods: &[Arc<CachedPod>],
    nodes: &Store<Node>,
) -> Vec<(Vec<EndpointPort>, Vec<Endpoint>)> {
    // Grouped by the ports they serve (a JSON key, for a stable order).
    let mut groups: BTreeMap<String, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    for pod in pods {
        if let Some((endpoint, ports)) = endpoint(svc, pod, nodes) {
            let key = serde_json::to_string(&ports).unwrap_or_default();
            groups
                .entry(key)
                .or_insert_with(|| (ports, Vec::new()))
                .1
                .push(endpoint);
        }
    }
    let mut out = Vec::new();
    for (_, (ports, mut endpoints)) in groups {
        endpoints.sort_by(|a, b| a.addresses.cmp(&b.addresses));
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            out.push((ports.clone(), chunk.to_vec()));
        }
    }
    if out.is_empty() {
        out.push((Vec::new(), Vec::new()));
    }
    out
}

fn desired_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.labels().clone();
    labels.insert(LABEL_SERVICE_NAME.into(), svc.name_any());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    let cluster_ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
    if matches!(cluster_ip, None | Some("") | Some("None")) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

async fn reconcile(svc: Arc<Service>, st: Arc<State>) -> Result<Action, Error> {
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let Some(spec) = svc.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let Some(selector) = spec.selector.as_ref() else {
        return Ok(Action::await_change());
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Ok(Action::await_change());
    }
    wait_for_cache_sync(&st.synced).await;
    let pods = selected_pods(&st.pods, &ns, selector);
    let wanted = desired(&svc, &pods, &st.nodes);
    let address_type = match service_is_ipv6(&svc) {
        Some(true) => "IPv6",
        _ => "IPv4",
    };
    let wanted: Vec<WantedSlice> = wanted
        .into_iter()
        .map(|(ports, endpoints)| (address_type, ports, endpoints))
        .collect();
    let owner = svc.controller_owner_ref(&());
    let slices = SliceSet {
        client: &st.ctx.client,
        slices: &st.slices,
        namespace: &ns,
        service: &name,
        manager: CONTROLLER_NAME,
    };
    if !slices.write(&wanted, &desired_labels(&svc), owner).await? {
        // A namespace being deleted refuses creates; its Services go too.
        return Ok(Action::await_change());
    }
    st.backoff.forget(&key(&ns, &name));
    Ok(Action::await_change())
}

/// One slice's content: its address type, ports and endpoints.
pub(crate) type WantedSlice = (&'static str, Vec<EndpointPort>, Vec<Endpoint>);

/// The slices one controller (`manager`) keeps for one Service.
pub(crate) struct SliceSet<'a> {
    pub client: &'a kube::Client,
    pub slices: &'a Store<EndpointSlice>,
    pub namespace: &'a str,
    pub service: &'a str,
    pub manager: &'static str,
}

impl SliceSet<'_> {
    /// Brings the slices to `wanted`: existing ones are rewritten in name
    /// order (replaced when their immutable address type differs), missing
    /// ones created as `<service>-<random>`, surplus ones deleted. `false`
    /// when the namespace is being deleted and refuses creates.
    pub async fn write(
        &self,
        wanted: &[WantedSlice],
        labels: &BTreeMap<String, String>,
        owner: Option<OwnerReference>,
    ) -> Result<bool, Error> {
        let mut existing: Vec<Arc<EndpointSlice>> = self
            .slices
            .state()
            .into_iter()
            .filter(|s| {
                s.namespace().as_deref() == Some(self.namespace)
                    && s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(self.service)
                    && s.labels().get(LABEL_MANAGED_BY).map(String::as_str) == Some(self.manager)
            })
            .collect();
        existing.sort_by_key(|s| s.name_any());
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), self.namespace);
        for (i, (address_type, ports, endpoints)) in wanted.iter().enumerate() {
            let mut slice = EndpointSlice {
                metadata: ObjectMeta {
                    generate_name: Some(format!("{}-", self.service)),
                    namespace: Some(self.namespace.to_string()),
                    labels: Some(labels.clone()),
                    owner_references: owner.clone().map(|o| vec![o]),
                    ..Default::default()
                },
                address_type: address_type.to_string(),
                endpoints: endpoints.clone(),
                ports: (!ports.is_empty()).then(|| ports.clone()),
            };
            let result = match existing.get(i) {
                Some(current) if current.address_type == slice.address_type => {
                    if current.endpoints == slice.endpoints
                        && current.ports == slice.ports
                        && current.labels() == labels
                    {
                        continue;
                    }
                    slice.metadata = current.metadata.clone();
                    slice.metadata.labels = Some(labels.clone());
                    api.replace(&current.name_any(), &PostParams::default(), &slice)
                        .await
                        .map(|_| ())
                }
                Some(current) => {
                    // The address type is immutable: replace the slice.
                    delete_slice(&api, current).await?;
                    api.create(&PostParams::default(), &slice).await.map(|_| ())
                }
                None => api.create(&PostParams::default(), &slice).await.map(|_| ()),
            };
            match result {
                Ok(()) => {}
                Err(e) if errors::is_namespace_terminating(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        for surplus in existing.iter().skip(wanted.len()) {
            delete_slice(&api, surplus).await?;
        }
        Ok(true)
    }
}

/// Deletes a slice this controller saw (a uid precondition, so a newer one
/// of the same name is safe); gone already is fine.
async fn delete_slice(api: &Api<EndpointSlice>, slice: &EndpointSlice) -> Result<(), Error> {
    let params = DeleteParams {
        preconditions: slice
            .meta()
            .uid
            .clone()
            .map(|uid| kube::api::Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
        ..Default::default()
    };
    match api.delete(&slice.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(e) if errors::is_superseded(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Failed syncs are retried with client-go's per-item exponential backoff.
fn error_policy(svc: Arc<Service>, err: &Error, st: Arc<State>) -> Action {
    tracing::warn!(service = %svc.name_any(), error = %err, "syncing endpoint slices");
    let ns = svc.namespace().unwrap_or_default();
    Action::requeue(st.backoff.next_delay(&key(&ns, &svc.name_any())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ip: &str, ready: bool, port_name: &str, port: i32) -> Arc<CachedPod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"namespace": "shop", "name": name, "uid": format!("uid-{name}")},
                "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i",
                    "ports": [{"name": port_name, "containerPort": port}]}]},
                "status": {"phase": "Running", "podIP": ip, "conditions": [
                    {"type": "Ready", "status": if ready { "True" } else { "False" }}]},
            }))
            .unwrap(),
        )
    }

    fn service() -> Service {
        serde_json::from_value(json!({
            "metadata": {"namespace": "shop", "name": "web"},
            "spec": {"clusterIP": "10.96.0.9", "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        }))
        .unwrap()
    }

    fn no_nodes() -> Store<Node> {
        kube::runtime::reflector::store::<Node>().0
    }

    /// A slice as (its port numbers, its endpoints' (address, ready)).
    type Summary = (Vec<i32>, Vec<(String, bool)>);

    #[test]
    fn pods_serving_on_different_ports_land_in_different_slices() {
        let pods = [
            pod("a", "10.0.0.2", true, "http", 8080),
            pod("b", "10.0.0.1", false, "http", 8080),
            pod("c", "10.0.0.3", true, "http", 9090),
            pod("d", "10.0.0.4", true, "other", 1),
        ];
        let slices = desired(&service(), &pods, &no_nodes());
        let summary: Vec<Summary> = slices
            .iter()
            .map(|(ports, endpoints)| {
                (
                    ports.iter().filter_map(|p| p.port).collect(),
                    endpoints
                        .iter()
                        .map(|e| {
                            let ready = e.conditions.as_ref().and_then(|c| c.ready);
                            (e.addresses[0].clone(), ready.unwrap())
                        })
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                // d has no port named http: it serves no port of the Service.
                (vec![], vec![("10.0.0.4".into(), true)]),
                (
                    vec![8080],
                    vec![("10.0.0.1".into(), false), ("10.0.0.2".into(), true)]
                ),
                (vec![9090], vec![("10.0.0.3".into(), true)]),
            ]
        );
    }

    #[test]
    fn a_terminating_pod_stays_marked_and_no_pods_leave_a_placeholder() {
        let mut p = (*pod("a", "10.0.0.2", true, "http", 8080)).clone();
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ));
        let slices = desired(&service(), &[Arc::new(p)], &no_nodes());
        let conditions = slices[0].1[0].conditions.clone().unwrap();
        assert_eq!(
            (conditions.ready, conditions.serving, conditions.terminating),
            (Some(false), Some(true), Some(true))
        );
        assert_eq!(desired(&service(), &[], &no_nodes()), [(vec![], vec![])]);
    }
}
