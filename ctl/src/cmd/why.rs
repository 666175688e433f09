//! `miniktl why TYPE/NAME`: why an object is the way it is, traced from the
//! objects and Events alone. This file fetches what the trace needs (the
//! object, its owners, the namespace's Events, Services, Endpoints,
//! ReplicaSets or pods); `minik_client::why` builds the trace from them
//! (shared with the dashboard's pod page) and renders it as text. Also
//! `kubectl why` through kubectl's plugin mechanism (a `kubectl-why` link
//! to miniktl). `-o json` prints the trace as data.

use minik_client::why;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Output;
use crate::resources;
use crate::value::str_at;

/// Explain why an object is the way it is (its causes, from Events and owners).
#[derive(clap::Args, Debug)]
pub struct Why {
    /// `pod/NAME`, `deployment/NAME` or `service/NAME` (or `TYPE NAME`).
    args: Vec<String>,
    #[command(flatten)]
    output: Output,
}

impl Why {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (kind, name) = match self.args.as_slice() {
            [one] if one.contains('/') => {
                let (t, n) = one.split_once('/').expect("checked");
                (t.to_string(), n.to_string())
            }
            [t, n] => (t.clone(), n.clone()),
            _ => {
                return Err(Error::Usage(
                    "usage: miniktl why TYPE/NAME (pod, deployment or service)".into(),
                ))
            }
        };
        let info = resources::resolve(&kind)?;
        let ns = ctx.namespace().await?;
        let events = namespace_events(ctx, &ns).await?;
        let obj = match ctx.get(info, &ns, &name).await {
            Ok(obj) => obj,
            // Gone: its Events outlive it for a while.
            Err(e) if e.is_not_found() => match why::gone_trace(info.kind, &ns, &name, &events) {
                Some(trace) => return self.print(ctx, &trace),
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let trace = match info.kind {
            "Pod" => pod_trace(ctx, &ns, &obj, &events).await?,
            "Deployment" => deployment_trace(ctx, &ns, &obj, &events).await?,
            "Service" => service_trace(ctx, &ns, &obj, &events).await?,
            other => {
                return Err(Error::Usage(format!(
                    "miniktl why explains pods, deployments and services, not {other}"
                )))
            }
        };
        self.print(ctx, &trace)
    }

    fn print(&self, ctx: &Ctx, trace: &Value) -> Result<()> {
        match self.output.as_deref() {
            Some("json") => ctx.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&trace).expect("JSON")
            )),
            None => ctx.print(&why::render(trace)),
            Some(other) => {
                return Err(Error::Usage(format!(
                    "unable to match a printer suitable for the output format {other:?}, allowed formats are: json"
                )))
            }
        }
        Ok(())
    }
}

/// Every core Event of the namespace, oldest first.
async fn namespace_events(ctx: &Ctx, ns: &str) -> Result<Vec<Value>> {
    let info = resources::resolve("events")?;
    let mut events = ctx.list(info, Some(ns), None, None).await?;
    why::sort_events(&mut events);
    Ok(events)
}

/// The owner chain of `obj`, nearest first, each looked up (or marked gone).
async fn owner_chain(ctx: &Ctx, ns: &str, obj: &Value) -> Result<Vec<Value>> {
    let mut chain: Vec<Value> = Vec::new();
    let mut child = obj.clone();
    while let Some(owner) = why::owner_ref(&child) {
        let found = match resources::by_api_version_kind(owner.api_version, owner.kind) {
            None => why::unknown_owner(&owner),
            Some(info) => ctx
                .get_opt(info, ns, owner.name)
                .await?
                .unwrap_or_else(|| why::gone_owner(&owner)),
        };
        chain.push(found.clone());
        if why::chain_ends(&found, chain.len()) {
            break;
        }
        child = found;
    }
    Ok(chain)
}

async fn pod_trace(ctx: &Ctx, ns: &str, pod: &Value, events: &[Value]) -> Result<Value> {
    let owners = owner_chain(ctx, ns, pod).await?;
    let services_info = resources::resolve("services")?;
    let endpoints_info = resources::resolve("endpoints")?;
    let mut services = Vec::new();
    for svc in ctx.list(services_info, Some(ns), None, None).await? {
        if !why::selects(&svc, pod) {
            continue;
        }
        let endpoints = ctx
            .get_opt(endpoints_info, ns, str_at(&svc, "/metadata/name"))
            .await?;
        services.push((svc, endpoints));
    }
    let node_name = str_at(pod, "/spec/nodeName");
    let node = if node_name.is_empty() {
        None
    } else {
        // A user allowed to read the pod may not be allowed to read Nodes.
        ctx.get_opt(resources::resolve("nodes")?, "", node_name)
            .await
            .ok()
            .flatten()
    };
    Ok(why::pod_trace(
        pod,
        &owners,
        node.as_ref(),
        &services,
        events,
    ))
}

async fn deployment_trace(ctx: &Ctx, ns: &str, d: &Value, events: &[Value]) -> Result<Value> {
    let rs_info = resources::resolve("replicasets")?;
    let sets = ctx.list(rs_info, Some(ns), None, None).await?;
    Ok(why::deployment_trace(d, &sets, events))
}

async fn service_trace(ctx: &Ctx, ns: &str, svc: &Value, events: &[Value]) -> Result<Value> {
    let pods_info = resources::resolve("pods")?;
    let endpoints_info = resources::resolve("endpoints")?;
    let endpoints = ctx
        .get_opt(endpoints_info, ns, str_at(svc, "/metadata/name"))
        .await?;
    let pods = match why::pod_selector(svc) {
        None => Vec::new(),
        Some(selector) => ctx.list(pods_info, Some(ns), Some(&selector), None).await?,
    };
    Ok(why::service_trace(svc, endpoints.as_ref(), &pods, events))
}
