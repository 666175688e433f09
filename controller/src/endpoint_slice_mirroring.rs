//! The EndpointSlice mirroring controller: Endpoints written by hand for a
//! Service without a selector (an outside database, say) are mirrored into
//! EndpointSlices, as kube-controller-manager's
//! `endpointslicemirroring-controller` does, so minik-proxy and minik-dns —
//! which, like kube-proxy and CoreDNS, read only EndpointSlices — route to
//! them.
//!
//! - Mirrored: Endpoints whose Service exists and has no selector, unless
//!   labelled `endpointslice.kubernetes.io/skip-mirror: "true"` (the API
//!   server's own `kubernetes` Endpoints are, it writes their slice itself).
//! - Each subset becomes one slice per address family: `addresses` as ready
//!   endpoints, `notReadyAddresses` as not ready, with their hostname,
//!   node and target; the subset's ports. Slices carry the Endpoints'
//!   labels plus `kubernetes.io/service-name` and
//!   `endpointslice.kubernetes.io/managed-by`, and are owned by the
//!   Endpoints, so they go with it.
//! - A Service given a selector, or Endpoints deleted or labelled to skip,
//!   lose their mirrored slices.
//!
//! Simplified: a subset of more than 1000 addresses is not cut down
//! (upstream's `maxEndpointsPerSubset`), and existing slices are rewritten
//! in name order rather than matched.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::Controller;
use kube::{Resource, ResourceExt};
use minik_client::informer::{wait_for_cache_sync, Synced};

use crate::context::{drive, Built, RetryBackoff};
use crate::endpoint_slice::{SliceSet, WantedSlice, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use crate::endpoints::key;
use crate::step_gate::gated;
use crate::{Context, Error};

/// The managed-by label's value for mirrored slices.
pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
/// Endpoints labelled so are not mirrored.
pub const LABEL_SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";

struct State {
    ctx: Arc<Context>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    synced: [Synced; 2],
    backoff: RetryBackoff,
}

/// Builds the controller over the shared Endpoints, Service and
/// EndpointSlice informers (the caller starts them).
pub fn build(ctx: &Arc<Context>) -> Built {
    let endpoints = ctx.informers.get::<Endpoints>();
    let services = ctx.informers.get::<Service>();
    let slices = ctx.informers.get::<EndpointSlice>();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        services: services.store(),
        slices: slices.store(),
        synced: [services.synced(), slices.synced()],
        backoff: RetryBackoff::default(),
    });
    drive(
        "endpointslicemirroring",
        Controller::for_shared_stream(endpoints.applied(), endpoints.store())
            // A Service gaining or losing its selector changes what is mirrored.
            .watches_shared_stream(services.touched(), |svc| {
                Some(ObjectRef::<Endpoints>::new(&svc.name_any()).within(&svc.namespace()?))
            })
            .watches_shared_stream(slices.touched(), |slice| {
                if slice.labels().get(LABEL_MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME)
                {
                    return None;
                }
                let service = slice.labels().get(LABEL_SERVICE_NAME)?;
                Some(ObjectRef::<Endpoints>::new(service).within(&slice.namespace()?))
            })
            .run(
                gated(ctx, "endpointslicemirroring", endpoints.store(), reconcile),
                error_policy,
                state,
            ),
    )
    .map(Ok)
    .boxed()
}

/// Whether `endpoints` should be mirrored, given its Service.
fn mirrored(endpoints: &Endpoints, service: Option<&Service>) -> bool {
    let skip = endpoints
        .labels()
        .get(LABEL_SKIP_MIRROR)
        .map(String::as_str)
        == Some("true");
    let selectorless = service
        .and_then(|s| s.spec.as_ref())
        .is_some_and(|spec| spec.selector.as_ref().is_none_or(BTreeMap::is_empty));
    !skip && selectorless && endpoints.metadata.deletion_timestamp.is_none()
}

/// The slices mirroring `endpoints`: (address type, ports, endpoints) per
/// subset and family.
fn desired(endpoints: &Endpoints) -> Vec<WantedSlice> {
    let mut out = Vec::new();
    for subset in endpoints.subsets.iter().flatten() {
        let ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: p.name.clone(),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let listed = subset.addresses.iter().flatten().map(|a| (a, true)).chain(
            subset
                .not_ready_addresses
                .iter()
                .flatten()
                .map(|a| (a, false)),
        );
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (address, ready) in listed {
            let Ok(ip) = address.ip.parse::<IpAddr>() else {
                continue;
            };
            let endpoint = endpoint(address, ready);
            if ip.is_ipv6() {
                v6.push(endpoint);
            } else {
                v4.push(endpoint);
            }
        }
        for (family, list) in [("IPv4", v4), ("IPv6", v6)] {
            if !list.is_empty() {
                out.push((family, ports.clone(), list));
            }
        }
    }
    out
}

fn endpoint(address: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![address.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(ready),
            terminating: Some(false),
        }),
        hostname: address.hostname.clone(),
        node_name: address.node_name.clone(),
        target_ref: address.target_ref.clone(),
        ..Default::default()
    }
}

async fn reconcile(endpoints: Arc<Endpoints>, st: Arc<State>) -> Result<Action, Error> {
    let ns = endpoints.namespace().unwrap_or_default();
    let name = endpoints.name_any();
    wait_for_cache_sync(&st.synced).await;
    let service = st
        .services
        .get(&ObjectRef::<Service>::new(&name).within(&ns));
    let wanted = if mirrored(&endpoints, service.as_deref()) {
        desired(&endpoints)
    } else {
        Vec::new()
    };
    let mut labels = endpoints.labels().clone();
    labels.insert(LABEL_SERVICE_NAME.into(), name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    let slices = SliceSet {
        client: &st.ctx.client,
        slices: &st.slices,
        namespace: &ns,
        service: &name,
        manager: CONTROLLER_NAME,
    };
    let owner = endpoints.controller_owner_ref(&());
    if !slices.write(&wanted, &labels, owner).await? {
        return Ok(Action::await_change());
    }
    st.backoff.forget(&key(&ns, &name));
    Ok(Action::await_change())
}

fn error_policy(endpoints: Arc<Endpoints>, err: &Error, st: Arc<State>) -> Action {
    tracing::warn!(endpoints = %endpoints.name_any(), error = %err, "mirroring endpoint slices");
    let ns = endpoints.namespace().unwrap_or_default();
    Action::requeue(st.backoff.next_delay(&key(&ns, &endpoints.name_any())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoints(labels: serde_json::Value) -> Endpoints {
        serde_json::from_value(json!({
            "metadata": {"namespace": "shop", "name": "db", "labels": labels},
            "subsets": [{
                "addresses": [{"ip": "192.0.2.10", "hostname": "primary"}, {"ip": "2001:db8::1"}],
                "notReadyAddresses": [{"ip": "192.0.2.11"}],
                "ports": [{"name": "pg", "port": 5432}],
            }],
        }))
        .unwrap()
    }

    fn service(selector: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"namespace": "shop", "name": "db"},
            "spec": {"ports": [{"name": "pg", "port": 5432}], "selector": selector},
        }))
        .unwrap()
    }

    #[test]
    fn only_selectorless_services_endpoints_are_mirrored() {
        let e = endpoints(json!({}));
        assert!(mirrored(&e, Some(&service(json!(null)))));
        assert!(!mirrored(&e, Some(&service(json!({"app": "db"})))));
        assert!(!mirrored(&e, None));
        let skipped = endpoints(json!({LABEL_SKIP_MIRROR: "true"}));
        assert!(!mirrored(&skipped, Some(&service(json!(null)))));
    }

    #[test]
    fn a_subset_becomes_a_slice_per_family_with_readiness() {
        let slices = desired(&endpoints(json!({})));
        assert_eq!(slices.len(), 2);
        let (family, ports, list) = &slices[0];
        assert_eq!(*family, "IPv4");
        assert_eq!(ports[0].port, Some(5432));
        assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
        let ready: Vec<(String, Option<bool>)> = list
            .iter()
            .map(|e| (e.addresses[0].clone(), e.conditions.as_ref().unwrap().ready))
            .collect();
        assert_eq!(
            ready,
            [
                ("192.0.2.10".into(), Some(true)),
                ("192.0.2.11".into(), Some(false))
            ]
        );
        assert_eq!(list[0].hostname.as_deref(), Some("primary"));
        assert_eq!(slices[1].0, "IPv6");
    }
}
