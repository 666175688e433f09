//! What exists from the first start, as in every cluster: the namespaces
//! `default`, `kube-system`, `kube-public` and `kube-node-lease`, and the
//! `kubernetes` Service (the first address of the service range, port 443)
//! with Endpoints pointing at this API server. minik serves plain HTTP on
//! that port: the name and number match Kubernetes, TLS does not (yet).

use minik_api::catalogue;
use serde_json::json;

use std::net::SocketAddr;

use serde_json::Value;

use crate::allocator::ServiceAllocator;
use crate::commit::{Outcome, Writer};
use crate::error::ApiError;
use crate::registry;
use crate::request::Target;
use crate::store::Store;
use crate::AppState;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Runs a bootstrap step again when it lost a race with another API server
/// starting on the same etcd (a 409 from a compare-and-swap).
pub async fn retry_races<F, Fut>(step: F) -> Result<(), ApiError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut attempts = 0;
    loop {
        match step().await {
            Err(e) if e.code == 409 && attempts < 5 => attempts += 1,
            result => return result,
        }
    }
}

pub async fn ensure_namespaces(writer: &Writer) -> Result<(), ApiError> {
    let info = catalogue::lookup("", "v1", "namespaces").expect("namespaces are served");
    for ns in SYSTEM_NAMESPACES {
        let target = Target::new(info, None, Some(ns.to_string()));
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        registry::prepare_create(&target, &mut obj)?;
        writer
            .mutate(
                target.key(),
                Box::new(move |current| {
                    Ok(match current {
                        Some(existing) => Outcome::Unchanged(existing),
                        None => Outcome::Put(obj),
                    })
                }),
            )
            .await?;
    }
    Ok(())
}

/// Marks the ClusterIPs and NodePorts of stored Services as taken.
pub fn load_service_allocations(
    store: &dyn Store,
    services: &ServiceAllocator,
) -> Result<(), ApiError> {
    let info = catalogue::lookup("", "v1", "services").expect("services are served");
    store.scan(&info.key_prefix(), None, &mut |_, bytes| {
        if let Ok(svc) = serde_json::from_slice::<Value>(bytes) {
            services.load(&svc);
        }
        true
    })?;
    Ok(())
}

/// Creates (or refreshes) `default/kubernetes` and its Endpoints.
pub async fn ensure_kubernetes_service(state: &AppState, addr: SocketAddr) -> Result<(), ApiError> {
    let svc_info = catalogue::lookup("", "v1", "services").expect("services are served");
    let target = Target::new(svc_info, Some("default".into()), Some("kubernetes".into()));
    if state.store.get(&target.key())?.is_none() {
        let mut svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": state.services.cidr.nth(1).to_string(),
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": addr.port()}]},
        });
        registry::prepare_create(&target, &mut svc)?;
        state
            .services
            .allocate(&mut svc)
            .map_err(|(_, _, detail)| ApiError::internal(detail))?;
        state
            .writer
            .mutate(
                target.key(),
                Box::new(move |current| {
                    Ok(current.map(Outcome::Unchanged).unwrap_or(Outcome::Put(svc)))
                }),
            )
            .await?;
    }
    let ep_info = catalogue::lookup("", "v1", "endpoints").expect("endpoints are served");
    let ep_target = Target::new(ep_info, Some("default".into()), Some("kubernetes".into()));
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let subsets = json!([{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": addr.port(), "protocol": "TCP"}]}]);
    let mut fresh = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": subsets.clone()});
    registry::prepare_create(&ep_target, &mut fresh)?;
    state
        .writer
        .mutate(
            ep_target.key(),
            Box::new(move |current| {
                Ok(match current {
                    Some(existing) if existing["subsets"] == subsets => {
                        Outcome::Unchanged(existing)
                    }
                    Some(mut existing) => {
                        existing["subsets"] = subsets;
                        Outcome::Put(existing)
                    }
                    None => Outcome::Put(fresh),
                })
            }),
        )
        .await?;
    // The same address as kube-apiserver's EndpointSlice `kubernetes`
    // (what `kubectl describe service kubernetes` reads).
    let slice_info = catalogue::lookup("discovery.k8s.io", "v1", "endpointslices")
        .expect("endpointslices are served");
    let slice_target = Target::new(
        slice_info,
        Some("default".into()),
        Some("kubernetes".into()),
    );
    let endpoints = json!([{"addresses": [ip], "conditions": {"ready": true}}]);
    let ports = json!([{"name": "https", "port": addr.port(), "protocol": "TCP"}]);
    let mut fresh = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4", "endpoints": endpoints.clone(), "ports": ports.clone()});
    registry::prepare_create(&slice_target, &mut fresh)?;
    state
        .writer
        .mutate(
            slice_target.key(),
            Box::new(move |current| {
                Ok(match current {
                    Some(existing)
                        if existing["endpoints"] == endpoints && existing["ports"] == ports =>
                    {
                        Outcome::Unchanged(existing)
                    }
                    Some(mut existing) => {
                        existing["endpoints"] = endpoints;
                        existing["ports"] = ports;
                        Outcome::Put(existing)
                    }
                    None => Outcome::Put(fresh),
                })
            }),
        )
        .await?;
    Ok(())
}
