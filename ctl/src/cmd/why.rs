//! `miniktl why TYPE/NAME`: why an object is the way it is, traced from the
//! objects and Events alone — what created it and what caused that, where
//! the scheduler put it and why, what happened to its containers, which
//! Services it backs. Also `kubectl why` through kubectl's plugin
//! mechanism (a `kubectl-why` link to miniktl).
//!
//! - a Pod: its owner chain (Pod ← ReplicaSet (revision, template hash) ←
//!   Deployment) with the Event each owner recorded when it acted on the
//!   next, the scheduling decision (or why it is still Pending), each
//!   container's state, restarts and their reasons, and its Services;
//! - a Deployment: its ReplicaSets by revision, and the rollout as a
//!   timeline of its scaling Events;
//! - a Service: which pods match its selector, and for each whether it
//!   is in the Endpoints and, if not, why.
//!
//! `-o json` prints the same trace as data. minik simplifies: the scheduler
//! records its reasons only in its Events (`FailedScheduling` counts nodes
//! per reason, as kube-scheduler does), not per-node scores.

use serde_json::{json, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Output;
use crate::resources;
use crate::value::{array_at, str_at};

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
        let obj = ctx.get(info, &ns, &name).await?;
        let events = namespace_events(ctx, &ns).await?;
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
        match self.output.as_deref() {
            Some("json") => ctx.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&trace).expect("JSON")
            )),
            None => ctx.print(&render(&trace)),
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
    events.sort_by_key(|e| event_time(e).to_string());
    Ok(events)
}

fn event_time(e: &Value) -> &str {
    [
        "/lastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .map(|p| str_at(e, p))
    .find(|s| !s.is_empty())
    .unwrap_or("")
}

/// The Events about one object (by uid, else by kind and name), as trace lines.
fn about(events: &[Value], obj: &Value) -> Vec<Value> {
    let uid = str_at(obj, "/metadata/uid");
    let (kind, name) = (str_at(obj, "/kind"), str_at(obj, "/metadata/name"));
    events
        .iter()
        .filter(|e| {
            let o = &e["involvedObject"];
            (!uid.is_empty() && str_at(o, "/uid") == uid)
                || (str_at(o, "/kind") == kind && str_at(o, "/name") == name)
        })
        .map(event_line)
        .collect()
}

fn event_line(e: &Value) -> Value {
    let count = e["count"].as_i64().unwrap_or(1);
    let source = [
        str_at(e, "/source/component"),
        str_at(e, "/reportingComponent"),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("");
    json!({
        "time": event_time(e),
        "type": str_at(e, "/type"),
        "reason": str_at(e, "/reason"),
        "message": str_at(e, "/message"),
        "source": source,
        "count": count,
    })
}

/// The object an owner reference points at, if it is still there.
async fn owner_of(ctx: &Ctx, ns: &str, obj: &Value) -> Result<Option<Value>> {
    let Some(owner) = array_at(obj, "/metadata/ownerReferences")
        .iter()
        .find(|o| o["controller"] == json!(true))
        .or_else(|| array_at(obj, "/metadata/ownerReferences").first())
    else {
        return Ok(None);
    };
    let av = str_at(owner, "/apiVersion");
    let kind = str_at(owner, "/kind");
    let Some(info) = resources::by_api_version_kind(av, kind) else {
        return Ok(Some(
            json!({"kind": kind, "metadata": {"name": str_at(owner, "/name")}}),
        ));
    };
    let found = ctx.get_opt(info, ns, str_at(owner, "/name")).await?;
    Ok(Some(found.unwrap_or_else(
        || json!({"kind": kind, "metadata": {"name": str_at(owner, "/name")}, "gone": true}),
    )))
}

async fn pod_trace(ctx: &Ctx, ns: &str, pod: &Value, events: &[Value]) -> Result<Value> {
    let name = minik_api::meta::name(pod);
    // The owner chain, with what each owner recorded about the step below it.
    let mut chain = Vec::new();
    let mut child = pod.clone();
    while let Some(owner) = owner_of(ctx, ns, &child).await? {
        let child_name = minik_api::meta::name(&child).to_string();
        let caused: Vec<Value> = about(events, &owner)
            .into_iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&child_name))
            })
            .collect();
        let annotations = &owner["metadata"]["annotations"];
        chain.push(json!({
            "kind": str_at(&owner, "/kind"),
            "name": minik_api::meta::name(&owner),
            "gone": owner["gone"] == json!(true),
            "revision": str_at(annotations, "/deployment.kubernetes.io~1revision"),
            "templateHash": str_at(&owner, "/metadata/labels/pod-template-hash"),
            "changeCause": str_at(annotations, "/kubernetes.io~1change-cause"),
            "caused": caused,
        }));
        if chain.len() > 5 || owner["gone"] == json!(true) {
            break;
        }
        child = owner;
    }
    let own = about(events, pod);
    let scheduling: Vec<Value> = own
        .iter()
        .filter(|e| matches!(e["reason"].as_str(), Some("Scheduled" | "FailedScheduling")))
        .cloned()
        .collect();
    let containers: Vec<Value> = array_at(pod, "/status/containerStatuses")
        .iter()
        .map(|c| {
            let state = c["state"].as_object().and_then(|s| s.iter().next());
            let (state, detail) = match state {
                Some((s, d)) => (s.clone(), d.clone()),
                None => (String::new(), Value::Null),
            };
            json!({
                "name": c["name"],
                "image": c["image"],
                "ready": c["ready"],
                "state": state,
                "since": str_at(&detail, "/startedAt"),
                "reason": str_at(&detail, "/reason"),
                "restarts": c["restartCount"],
                "lastTermination": c.pointer("/lastState/terminated").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let lifecycle: Vec<Value> = own
        .iter()
        .filter(|e| !matches!(e["reason"].as_str(), Some("Scheduled" | "FailedScheduling")))
        .cloned()
        .collect();
    // The Services whose selector takes this pod, and whether it is an endpoint.
    let services_info = resources::resolve("services")?;
    let endpoints_info = resources::resolve("endpoints")?;
    let labels = minik_api::meta::labels(pod);
    let ip = str_at(pod, "/status/podIP");
    let mut services = Vec::new();
    for svc in ctx.list(services_info, Some(ns), None, None).await? {
        let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object) else {
            continue;
        };
        if selector.is_empty() || !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            continue;
        }
        let svc_name = minik_api::meta::name(&svc).to_string();
        let endpoints = ctx.get_opt(endpoints_info, ns, &svc_name).await?;
        let listed = |field: &str| {
            endpoints.as_ref().is_some_and(|ep| {
                array_at(ep, "/subsets").iter().any(|s| {
                    array_at(s, &format!("/{field}"))
                        .iter()
                        .any(|a| !ip.is_empty() && str_at(a, "/ip") == ip)
                })
            })
        };
        let membership = if listed("addresses") {
            "ready endpoint"
        } else if listed("notReadyAddresses") {
            "not-ready endpoint (traffic is not sent to it)"
        } else {
            "not an endpoint yet"
        };
        services.push(json!({"name": svc_name, "clusterIP": str_at(&svc, "/spec/clusterIP"), "membership": membership}));
    }
    Ok(json!({
        "kind": "Pod",
        "name": name,
        "namespace": ns,
        "phase": str_at(pod, "/status/phase"),
        "ready": crate::conditions::is_true(pod, "Ready"),
        "node": str_at(pod, "/spec/nodeName"),
        "schedulerDecision": str_at(pod, "/metadata/annotations/scheduler.minik.io~1decision"),
        "deleting": pod.pointer("/metadata/deletionTimestamp").is_some(),
        "owners": chain,
        "scheduling": scheduling,
        "containers": containers,
        "events": lifecycle,
        "services": services,
    }))
}

async fn deployment_trace(ctx: &Ctx, ns: &str, d: &Value, events: &[Value]) -> Result<Value> {
    let rs_info = resources::resolve("replicasets")?;
    let uid = str_at(d, "/metadata/uid");
    let mut sets: Vec<Value> = ctx
        .list(rs_info, Some(ns), None, None)
        .await?
        .into_iter()
        .filter(|rs| {
            array_at(rs, "/metadata/ownerReferences")
                .iter()
                .any(|o| str_at(o, "/uid") == uid)
        })
        .map(|rs| {
            let annotations = &rs["metadata"]["annotations"];
            let images: Vec<&str> = array_at(&rs, "/spec/template/spec/containers")
                .iter()
                .map(|c| str_at(c, "/image"))
                .collect();
            json!({
                "name": minik_api::meta::name(&rs),
                "revision": str_at(annotations, "/deployment.kubernetes.io~1revision").parse::<i64>().unwrap_or(0),
                "images": images,
                "replicas": rs.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                "ready": rs.pointer("/status/readyReplicas").cloned().unwrap_or(json!(0)),
                "changeCause": str_at(annotations, "/kubernetes.io~1change-cause"),
            })
        })
        .collect();
    sets.sort_by_key(|s| s["revision"].as_i64().unwrap_or(0));
    Ok(json!({
        "kind": "Deployment",
        "name": minik_api::meta::name(d),
        "namespace": ns,
        "replicas": d.pointer("/spec/replicas").cloned().unwrap_or(json!(1)),
        "ready": d.pointer("/status/readyReplicas").cloned().unwrap_or(json!(0)),
        "updated": d.pointer("/status/updatedReplicas").cloned().unwrap_or(json!(0)),
        "replicaSets": sets,
        "timeline": about(events, d),
    }))
}

async fn service_trace(ctx: &Ctx, ns: &str, svc: &Value, events: &[Value]) -> Result<Value> {
    let selector = svc
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let pods_info = resources::resolve("pods")?;
    let endpoints_info = resources::resolve("endpoints")?;
    let name = minik_api::meta::name(svc);
    let endpoints = ctx.get_opt(endpoints_info, ns, name).await?;
    let in_endpoints = |ip: &str, field: &str| {
        endpoints.as_ref().is_some_and(|ep| {
            array_at(ep, "/subsets").iter().any(|s| {
                array_at(s, &format!("/{field}"))
                    .iter()
                    .any(|a| !ip.is_empty() && str_at(a, "/ip") == ip)
            })
        })
    };
    let mut pods = Vec::new();
    if !selector.is_empty() {
        let labels: Vec<String> = selector
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        for pod in ctx
            .list(pods_info, Some(ns), Some(&labels.join(",")), None)
            .await?
        {
            let ip = str_at(&pod, "/status/podIP");
            let why = if in_endpoints(ip, "addresses") {
                "ready: receives traffic".to_string()
            } else if pod.pointer("/metadata/deletionTimestamp").is_some() {
                "terminating: removed from the endpoints".to_string()
            } else if ip.is_empty() {
                format!("no IP yet ({})", str_at(&pod, "/status/phase"))
            } else {
                let ready = crate::conditions::find(&pod, "Ready");
                let reason = ready.map(|c| str_at(c, "/message")).unwrap_or("");
                format!(
                    "not ready{}: listed as not ready, gets no traffic",
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({reason})")
                    }
                )
            };
            pods.push(json!({"name": minik_api::meta::name(&pod), "ip": ip, "why": why}));
        }
    }
    Ok(json!({
        "kind": "Service",
        "name": name,
        "namespace": ns,
        "clusterIP": str_at(svc, "/spec/clusterIP"),
        "selector": selector,
        "pods": pods,
        "events": about(events, svc),
    }))
}

/// `HH:MM:SS` of an RFC 3339 time, for timelines.
fn clock(t: &str) -> &str {
    t.get(11..19).unwrap_or(t)
}

fn event_text(e: &Value) -> String {
    let count = e["count"].as_i64().unwrap_or(1);
    let times = if count > 1 {
        format!(" (x{count})")
    } else {
        String::new()
    };
    format!(
        "{} {} {}: {}{times}",
        clock(str_at(e, "/time")),
        str_at(e, "/source"),
        str_at(e, "/reason"),
        str_at(e, "/message")
    )
}

/// The trace as text for a terminal.
fn render(t: &Value) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    match str_at(t, "/kind") {
        "Pod" => {
            let ready = if t["ready"] == json!(true) {
                "ready"
            } else {
                "not ready"
            };
            let node = str_at(t, "/node");
            line(format!(
                "Pod {}/{}: {}, {ready}{}{}",
                str_at(t, "/namespace"),
                str_at(t, "/name"),
                str_at(t, "/phase"),
                if node.is_empty() {
                    String::new()
                } else {
                    format!(", on {node}")
                },
                if t["deleting"] == json!(true) {
                    ", being deleted"
                } else {
                    ""
                }
            ));
            line(String::new());
            line("Why it exists:".into());
            let owners = array_at(t, "/owners");
            if owners.is_empty() {
                line(
                    "  created directly: no controller owns it, so nothing recreates it if it goes"
                        .into(),
                );
            }
            let mut below = format!("Pod {}", str_at(t, "/name"));
            for o in owners {
                let mut what = format!("{} {}", str_at(o, "/kind"), str_at(o, "/name"));
                if !str_at(o, "/revision").is_empty() {
                    what.push_str(&format!(" (revision {}", str_at(o, "/revision")));
                    if !str_at(o, "/templateHash").is_empty() {
                        what.push_str(&format!(", template hash {}", str_at(o, "/templateHash")));
                    }
                    what.push(')');
                }
                if o["gone"] == json!(true) {
                    what.push_str(" — gone");
                }
                line(format!("  {below} ← {what}"));
                for e in array_at(o, "/caused") {
                    line(format!("      {}", event_text(e)));
                }
                if !str_at(o, "/changeCause").is_empty() {
                    line(format!("      change-cause: {}", str_at(o, "/changeCause")));
                }
                below = what;
            }
            line(String::new());
            let node = str_at(t, "/node");
            line(if node.is_empty() {
                "Why it has no node yet:".into()
            } else {
                format!("Why it is on {node}:")
            });
            let scheduling = array_at(t, "/scheduling");
            if scheduling.is_empty() {
                line(if node.is_empty() {
                    "  the scheduler has not looked at it yet".into()
                } else {
                    "  its spec named the node (no scheduling decision)".into()
                });
            }
            for e in scheduling {
                line(format!("  {}", event_text(e)));
            }
            if !str_at(t, "/schedulerDecision").is_empty() {
                line(format!(
                    "  the scheduler's choice: {}",
                    str_at(t, "/schedulerDecision")
                ));
            }
            line(String::new());
            line("Its containers:".into());
            for c in array_at(t, "/containers") {
                let mut s = format!(
                    "  {} ({}): {}",
                    str_at(c, "/name"),
                    str_at(c, "/image"),
                    str_at(c, "/state")
                );
                if !str_at(c, "/reason").is_empty() {
                    s.push_str(&format!(" ({})", str_at(c, "/reason")));
                }
                if !str_at(c, "/since").is_empty() {
                    s.push_str(&format!(" since {}", clock(str_at(c, "/since"))));
                }
                s.push_str(if c["ready"] == json!(true) {
                    ", ready"
                } else {
                    ", not ready"
                });
                let restarts = c["restarts"].as_i64().unwrap_or(0);
                s.push_str(&format!(
                    ", {restarts} restart{}",
                    if restarts == 1 { "" } else { "s" }
                ));
                line(s);
                let last = &c["lastTermination"];
                if !last.is_null() {
                    line(format!(
                        "    last ended: {} (exit code {}) at {}",
                        str_at(last, "/reason"),
                        last["exitCode"],
                        clock(str_at(last, "/finishedAt"))
                    ));
                }
            }
            for e in array_at(t, "/events") {
                line(format!("  {}", event_text(e)));
            }
            line(String::new());
            line("Services it backs:".into());
            let services = array_at(t, "/services");
            if services.is_empty() {
                line("  none: no Service's selector matches its labels".into());
            }
            for s in services {
                line(format!(
                    "  {} ({}): {}",
                    str_at(s, "/name"),
                    str_at(s, "/clusterIP"),
                    str_at(s, "/membership")
                ));
            }
        }
        "Deployment" => {
            line(format!(
                "Deployment {}/{}: {} wanted, {} up to date, {} ready",
                str_at(t, "/namespace"),
                str_at(t, "/name"),
                t["replicas"],
                t["updated"],
                t["ready"]
            ));
            line(String::new());
            line("Its ReplicaSets, by revision:".into());
            for rs in array_at(t, "/replicaSets") {
                let images: Vec<&str> = array_at(rs, "/images")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let mut s = format!(
                    "  revision {}: {} ({}) {}/{} ready",
                    rs["revision"],
                    str_at(rs, "/name"),
                    images.join(", "),
                    rs["ready"],
                    rs["replicas"]
                );
                if !str_at(rs, "/changeCause").is_empty() {
                    s.push_str(&format!(" — {}", str_at(rs, "/changeCause")));
                }
                line(s);
            }
            line(String::new());
            line("The rollout, as it happened:".into());
            for e in array_at(t, "/timeline") {
                line(format!("  {}", event_text(e)));
            }
        }
        _ => {
            line(format!(
                "Service {}/{} ({}), selector {}",
                str_at(t, "/namespace"),
                str_at(t, "/name"),
                str_at(t, "/clusterIP"),
                t["selector"]
            ));
            line(String::new());
            line("Pods its selector matches:".into());
            let pods = array_at(t, "/pods");
            if pods.is_empty() {
                line("  none: no pod has all of the selector's labels, so the Service has no endpoints".into());
            }
            for p in pods {
                line(format!(
                    "  {} ({}): {}",
                    str_at(p, "/name"),
                    str_at(p, "/ip"),
                    str_at(p, "/why")
                ));
            }
            for e in array_at(t, "/events") {
                line(format!("  {}", event_text(e)));
            }
        }
    }
    out
}
