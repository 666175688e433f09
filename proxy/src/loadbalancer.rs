//! LoadBalancer status, the k3s ServiceLB way.
//!
//! In a cloud, the service controller asks the provider for a load
//! balancer and writes its address into `status.loadBalancer.ingress`.
//! k3s's ServiceLB instead opens the service port on the nodes and reports
//! the node IPs; minik does the same with the proxy's LoadBalancer
//! frontends: once every port of the service is listening on the host, the
//! status says `[{ip: <node ip>}]` and `kubectl get svc` shows it as
//! EXTERNAL-IP; while a port cannot be bound (in use, or claimed by an
//! older service) the status stays empty (`<pending>`) and a Warning
//! `SyncLoadBalancerFailed` event says why. A service that stops being a
//! LoadBalancer has the status cleared. Level-triggered: only differences
//! are written.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::Resource;
use serde_json::json;

use crate::events::Events;
use crate::plan::{FrontendKind, PortPlan};
use crate::proxier::{Failure, Proxier};

/// Brings each service's `status.loadBalancer` in line with what is served.
pub async fn sync(
    client: &kube::Client,
    events: &mut Events,
    services: &[std::sync::Arc<Service>],
    plans: &[PortPlan],
    proxier: &Proxier,
    failures: &[Failure],
    ip: IpAddr,
) {
    for svc in services {
        let (Some(ns), Some(name)) = (
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
        ) else {
            continue;
        };
        let is_lb = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
        let current: Vec<String> = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|i| i.iter().filter_map(|x| x.ip.clone()).collect())
            .unwrap_or_default();
        let mine = |p: &&PortPlan| p.key.namespace == ns && p.key.service == name;
        let lb_frontends: Vec<_> = plans
            .iter()
            .filter(mine)
            .flat_map(|p| p.frontends.iter().map(move |f| (p, f)))
            .filter(|(_, f)| f.kind == FrontendKind::LoadBalancer)
            .collect();
        let served =
            !lb_frontends.is_empty() && lb_frontends.iter().all(|(p, f)| proxier.serves(&p.key, f));
        let desired: Vec<String> = if is_lb && served {
            vec![ip.to_string()]
        } else {
            Vec::new()
        };
        let reference = svc.object_ref(&());
        if is_lb && !served {
            for f in failures
                .iter()
                .filter(|f| f.key.namespace == ns && f.key.service == name)
                .filter(|f| f.frontend.kind == FrontendKind::LoadBalancer)
            {
                let note = format!("Error syncing load balancer: {}", f.reason);
                events
                    .once(
                        &reference,
                        EventType::Warning,
                        "SyncLoadBalancerFailed",
                        note,
                    )
                    .await;
            }
        }
        if current == desired {
            continue;
        }
        let ingress = if desired.is_empty() {
            serde_json::Value::Null
        } else {
            json!(desired
                .iter()
                .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
                .collect::<Vec<_>>())
        };
        let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
        let api: Api<Service> = Api::namespaced(client.clone(), ns);
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) if !desired.is_empty() => {
                let note = "Ensured load balancer".to_string();
                events
                    .once(&reference, EventType::Normal, "EnsuredLoadBalancer", note)
                    .await;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, service = %format!("{ns}/{name}"), "cannot update load balancer status")
            }
        }
    }
}
