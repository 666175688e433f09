//! Why an object is the way it is, traced from objects and Events alone:
//! the JSON trace `miniktl why` prints (`-o json`) and renders as text, and
//! the dashboard's pod page shows. Pure: callers fetch the objects (miniktl
//! with GETs and LISTs, the dashboard from its watch caches) and hand them
//! in, so both explain a pod in the same words.
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
//! Events are read in either shape: core/v1 (`involvedObject`, `message`,
//! `count`) or events.k8s.io/v1 (`regarding`, `note`, `deprecatedCount`).
//! The scheduler's per-node reasoning comes from the annotation minik's
//! scheduler puts on its `Scheduled` / `FailedScheduling` Events (the
//! filter table: which filter refused which node, the best nodes' scores
//! per plugin); it lives as long as the Event does.

use serde_json::{json, Map, Value};

/// How many owners up the chain a trace follows (a loop of references
/// cannot make it walk forever).
pub const MAX_OWNERS: usize = 6;

/// The string at a JSON pointer, `""` when missing.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The array at a JSON pointer, empty when missing.
fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn name(obj: &Value) -> &str {
    str_at(obj, "/metadata/name")
}

fn condition_true(obj: &Value, type_: &str) -> bool {
    array_at(obj, "/status/conditions")
        .iter()
        .any(|c| c["type"] == type_ && c["status"] == "True")
}

/// The owner an object names: its controller reference, else its first.
pub struct OwnerRef<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
}

/// The owner reference a trace follows up from `obj`, if any.
pub fn owner_ref(obj: &Value) -> Option<OwnerRef<'_>> {
    let refs = array_at(obj, "/metadata/ownerReferences");
    let owner = refs
        .iter()
        .find(|o| o["controller"] == json!(true))
        .or_else(|| refs.first())?;
    Some(OwnerRef {
        api_version: str_at(owner, "/apiVersion"),
        kind: str_at(owner, "/kind"),
        name: str_at(owner, "/name"),
    })
}

/// What stands in the chain for an owner of a kind the caller cannot look up.
pub fn unknown_owner(owner: &OwnerRef) -> Value {
    json!({"kind": owner.kind, "metadata": {"name": owner.name}})
}

/// What stands in the chain for an owner that no longer exists (the chain
/// stops there).
pub fn gone_owner(owner: &OwnerRef) -> Value {
    json!({"kind": owner.kind, "metadata": {"name": owner.name}, "gone": true})
}

/// Whether the walk up the chain stops after this owner.
pub fn chain_ends(owner: &Value, chain_len: usize) -> bool {
    chain_len >= MAX_OWNERS || owner["gone"] == json!(true)
}

/// A Service's `spec.selector` as a label selector for listing its pods
/// (`app=web,tier=front`); `None` for an empty or missing one, which
/// takes no pods.
pub fn pod_selector(service: &Value) -> Option<String> {
    let selector = service
        .pointer("/spec/selector")
        .and_then(Value::as_object)?;
    let terms: Vec<String> = selector
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(","))
}

/// Whether a Service's `spec.selector` takes an object with these labels
/// (an empty or missing selector takes none).
pub fn selects(service: &Value, obj: &Value) -> bool {
    let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object) else {
        return false;
    };
    let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// When an Event happened (its last occurrence), in either shape.
pub fn event_time(e: &Value) -> &str {
    [
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/deprecatedFirstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .map(|p| str_at(e, p))
    .find(|s| !s.is_empty())
    .unwrap_or("")
}

/// Sorts Events oldest first, as a trace reads them.
/// Within one second (the resolution of `lastTimestamp`), events.k8s.io's
/// microsecond `eventTime` orders them.
pub fn sort_events(events: &mut [Value]) {
    events.sort_by_key(|e| {
        (
            event_time(e).to_string(),
            str_at(e, "/eventTime").to_string(),
        )
    });
}

/// The object an Event is about (`involvedObject` or `regarding`).
fn regarding(e: &Value) -> &Value {
    match e.get("involvedObject") {
        Some(o) if o.is_object() => o,
        _ => &e["regarding"],
    }
}

/// Whether Event `e` is about `obj` (by uid, else by kind and name).
fn is_about(e: &Value, obj: &Value) -> bool {
    let uid = str_at(obj, "/metadata/uid");
    let o = regarding(e);
    (!uid.is_empty() && str_at(o, "/uid") == uid)
        || (str_at(o, "/kind") == str_at(obj, "/kind") && str_at(o, "/name") == name(obj))
}

/// The Events about one object, as trace lines.
fn about(events: &[Value], obj: &Value) -> Vec<Value> {
    events
        .iter()
        .filter(|e| is_about(e, obj))
        .map(event_line)
        .collect()
}

fn first_of<'a>(e: &'a Value, pointers: &[&str]) -> &'a str {
    pointers
        .iter()
        .map(|p| str_at(e, p))
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

fn event_line(e: &Value) -> Value {
    let count = e["count"]
        .as_i64()
        .or_else(|| e["deprecatedCount"].as_i64())
        .unwrap_or(1);
    json!({
        "time": event_time(e),
        "type": str_at(e, "/type"),
        "reason": str_at(e, "/reason"),
        "message": first_of(e, &["/message", "/note"]),
        "source": first_of(e, &[
            "/source/component",
            "/reportingComponent",
            "/deprecatedSource/component",
            "/reportingController",
        ]),
        "count": count,
    })
}

/// Event reasons that say why a pod is being deleted.
const DELETION_REASONS: [&str; 3] = ["TaintManagerEviction", "Evicted", "Preempted"];

/// The state of the node a pod is on: Ready, since when and why, taints.
fn node_state(node: &Value) -> Value {
    let ready = array_at(node, "/status/conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap_or(Value::Null);
    let taints: Vec<String> = array_at(node, "/spec/taints")
        .iter()
        .map(|t| {
            let value = str_at(t, "/value");
            let value = if value.is_empty() {
                String::new()
            } else {
                format!("={value}")
            };
            format!("{}{value}:{}", str_at(t, "/key"), str_at(t, "/effect"))
        })
        .collect();
    json!({
        "name": name(node),
        "ready": str_at(&ready, "/status"),
        "reason": str_at(&ready, "/reason"),
        "message": str_at(&ready, "/message"),
        "since": str_at(&ready, "/lastTransitionTime"),
        "unschedulable": node.pointer("/spec/unschedulable") == Some(&json!(true)),
        "taints": taints,
    })
}

/// A Pod's trace. `owners` is its owner chain, nearest first (from
/// [`owner_ref`], looked up, [`gone_owner`] when missing, ended by
/// [`chain_ends`]); `node` the Node it is on, if known; `services` the
/// namespace's Services each with its Endpoints, if any; `events` the
/// namespace's Events, oldest first.
pub fn pod_trace(
    pod: &Value,
    owners: &[Value],
    node: Option<&Value>,
    services: &[(Value, Option<Value>)],
    events: &[Value],
) -> Value {
    // The owner chain, with what each owner recorded about the step below it.
    let mut chain = Vec::new();
    let mut child = pod;
    for owner in owners {
        let child_name = name(child);
        let caused: Vec<Value> = about(events, owner)
            .into_iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(child_name))
            })
            .collect();
        let annotations = &owner["metadata"]["annotations"];
        chain.push(json!({
            "kind": str_at(owner, "/kind"),
            "name": name(owner),
            "gone": owner["gone"] == json!(true),
            "revision": str_at(annotations, "/deployment.kubernetes.io~1revision"),
            "templateHash": str_at(owner, "/metadata/labels/pod-template-hash"),
            "changeCause": str_at(annotations, "/kubernetes.io~1change-cause"),
            "caused": caused,
        }));
        child = owner;
    }
    let own = about(events, pod);
    let filter_table = filter_table(events, pod);
    let is_scheduling =
        |e: &Value| matches!(e["reason"].as_str(), Some("Scheduled" | "FailedScheduling"));
    let scheduling: Vec<Value> = own.iter().filter(|e| is_scheduling(e)).cloned().collect();
    let is_deletion =
        |e: &Value| DELETION_REASONS.contains(&e["reason"].as_str().unwrap_or_default());
    let lifecycle: Vec<Value> = own
        .iter()
        .filter(|e| !is_scheduling(e) && !is_deletion(e))
        .cloned()
        .collect();
    let deletion = match pod.pointer("/metadata/deletionTimestamp") {
        None => Value::Null,
        Some(at) => json!({
            "requested": at,
            "gracePeriodSeconds": pod.pointer("/metadata/deletionGracePeriodSeconds"),
            "conditions": array_at(pod, "/status/conditions")
                .iter()
                .filter(|c| c["type"] == "DisruptionTarget" && c["status"] == "True")
                .map(|c| json!({"type": c["type"], "reason": c["reason"], "message": c["message"]}))
                .collect::<Vec<_>>(),
            "events": own.iter().filter(|e| is_deletion(e)).cloned().collect::<Vec<_>>(),
        }),
    };
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
    // The Services whose selector takes this pod, and whether it is an endpoint.
    let ip = str_at(pod, "/status/podIP");
    let services: Vec<Value> = services
        .iter()
        .filter(|(svc, _)| selects(svc, pod))
        .map(|(svc, endpoints)| {
            let membership = if listed(endpoints.as_ref(), ip, "addresses") {
                "ready endpoint"
            } else if listed(endpoints.as_ref(), ip, "notReadyAddresses") {
                "not-ready endpoint (traffic is not sent to it)"
            } else {
                "not an endpoint yet"
            };
            json!({"name": name(svc), "clusterIP": str_at(svc, "/spec/clusterIP"), "membership": membership})
        })
        .collect();
    json!({
        "kind": "Pod",
        "name": name(pod),
        "namespace": str_at(pod, "/metadata/namespace"),
        "phase": str_at(pod, "/status/phase"),
        "ready": condition_true(pod, "Ready"),
        "readySince": array_at(pod, "/status/conditions")
            .iter()
            .find(|c| c["type"] == "Ready" && c["status"] == "True")
            .map_or("", |c| str_at(c, "/lastTransitionTime")),
        "node": str_at(pod, "/spec/nodeName"),
        "schedulerDecision": str_at(pod, "/metadata/annotations/scheduler.minik.io~1decision"),
        "deleting": pod.pointer("/metadata/deletionTimestamp").is_some(),
        "deletion": deletion,
        "nodeState": node.map(node_state),
        "owners": chain,
        "scheduling": scheduling,
        "filterTable": filter_table,
        "containers": containers,
        "events": lifecycle,
        "services": services,
    })
}

/// The newest scheduling attempt's filter table for `pod` (from its
/// scheduling Events' annotation), `null` when there is none.
fn filter_table(events: &[Value], pod: &Value) -> Value {
    events
        .iter()
        .rev()
        .filter(|e| is_about(e, pod))
        .filter_map(|e| {
            let table = str_at(e, "/metadata/annotations/scheduler.minik.io~1filter-table");
            serde_json::from_str(table).ok()
        })
        .next()
        .unwrap_or(Value::Null)
}

/// The filter table as lines: what each filter refused, then the best
/// nodes' scores per plugin as columns.
fn render_filter_table(t: &Value, line: &mut dyn FnMut(String)) {
    let count = |p: &str| t.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let (nodes, filtered, feasible) = (count("/nodes"), count("/filtered"), count("/feasible"));
    if let Some(pre) = t["preFilter"].as_str() {
        line(format!("  before any filter, on all {nodes} nodes: {pre}"));
        return;
    }
    line(format!(
        "  filters, run on {filtered} of {nodes} nodes: {feasible} passed, {} refused",
        filtered - feasible.min(filtered)
    ));
    let refused = array_at(t, "/refused");
    for r in refused {
        let reasons: Vec<&str> = array_at(r, "/reasons")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        line(format!(
            "    {}: refused by {}: {}",
            str_at(r, "/node"),
            str_at(r, "/filter"),
            reasons.join(", ")
        ));
    }
    let by: Vec<(String, u64)> = t["refusedBy"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let total: u64 = by.iter().map(|(_, n)| n).sum();
    if total > refused.len() as u64 {
        let per: Vec<String> = by.iter().map(|(f, n)| format!("{f} {n}")).collect();
        line(format!(
            "    … {} more refused (by filter: {})",
            total - refused.len() as u64,
            per.join(", ")
        ));
    }
    let scores = array_at(t, "/scores");
    if scores.is_empty() {
        return;
    }
    line(format!(
        "  scores of the best {} of {feasible} feasible nodes (each plugin 0–100, × its weight):",
        scores.len()
    ));
    let plugins: Vec<(&str, i64)> = array_at(t, "/weights")
        .iter()
        .map(|w| (str_at(w, "/plugin"), w["weight"].as_i64().unwrap_or(0)))
        .collect();
    let mut header = vec!["NODE".to_string(), "TOTAL".to_string()];
    header.extend(plugins.iter().map(|(p, w)| format!("{p}×{w}")));
    let mut rows = vec![header];
    for s in scores {
        let mut row = vec![str_at(s, "/node").to_string(), s["total"].to_string()];
        row.extend(plugins.iter().map(|(p, _)| s["plugins"][*p].to_string()));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        line(format!("    {}", cells.join("  ").trim_end()));
    }
}

/// The trace of an object that no longer exists: what the Events still
/// say about it (they outlive it until the event TTL), its own and those
/// of other objects naming it (the ReplicaSet's "Deleted pod: …"), oldest
/// first. `None` when no Event mentions it either.
pub fn gone_trace(kind: &str, namespace: &str, obj_name: &str, events: &[Value]) -> Option<Value> {
    let lines: Vec<Value> = events
        .iter()
        .filter(|e| {
            let o = regarding(e);
            let own = str_at(o, "/kind") == kind && str_at(o, "/name") == obj_name;
            let naming = first_of(e, &["/message", "/note"])
                .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.'))
                .any(|word| word == obj_name);
            own || naming
        })
        .map(|e| {
            let mut line = event_line(e);
            let o = regarding(e);
            line["about"] = json!(format!("{} {}", str_at(o, "/kind"), str_at(o, "/name")));
            line
        })
        .collect();
    (!lines.is_empty()).then(|| {
        json!({"kind": kind, "gone": true, "name": obj_name, "namespace": namespace, "events": lines})
    })
}

/// Whether `ip` is among the Endpoints' `field` (`addresses`, `notReadyAddresses`).
fn listed(endpoints: Option<&Value>, ip: &str, field: &str) -> bool {
    endpoints.is_some_and(|ep| {
        array_at(ep, "/subsets").iter().any(|s| {
            array_at(s, &format!("/{field}"))
                .iter()
                .any(|a| !ip.is_empty() && str_at(a, "/ip") == ip)
        })
    })
}

/// A Deployment's trace from the namespace's ReplicaSets (those it owns
/// are picked here) and Events.
pub fn deployment_trace(d: &Value, replica_sets: &[Value], events: &[Value]) -> Value {
    let uid = str_at(d, "/metadata/uid");
    let mut sets: Vec<Value> = replica_sets
        .iter()
        .filter(|rs| {
            array_at(rs, "/metadata/ownerReferences")
                .iter()
                .any(|o| str_at(o, "/uid") == uid)
        })
        .map(|rs| {
            let annotations = &rs["metadata"]["annotations"];
            let images: Vec<&str> = array_at(rs, "/spec/template/spec/containers")
                .iter()
                .map(|c| str_at(c, "/image"))
                .collect();
            json!({
                "name": name(rs),
                "revision": str_at(annotations, "/deployment.kubernetes.io~1revision").parse::<i64>().unwrap_or(0),
                "images": images,
                "replicas": rs.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                "ready": rs.pointer("/status/readyReplicas").cloned().unwrap_or(json!(0)),
                "changeCause": str_at(annotations, "/kubernetes.io~1change-cause"),
            })
        })
        .collect();
    sets.sort_by_key(|s| s["revision"].as_i64().unwrap_or(0));
    json!({
        "kind": "Deployment",
        "name": name(d),
        "namespace": str_at(d, "/metadata/namespace"),
        "replicas": d.pointer("/spec/replicas").cloned().unwrap_or(json!(1)),
        "ready": d.pointer("/status/readyReplicas").cloned().unwrap_or(json!(0)),
        "updated": d.pointer("/status/updatedReplicas").cloned().unwrap_or(json!(0)),
        "replicaSets": sets,
        "timeline": about(events, d),
    })
}

/// A Service's trace: `pods` are those its selector matches.
pub fn service_trace(
    svc: &Value,
    endpoints: Option<&Value>,
    pods: &[Value],
    events: &[Value],
) -> Value {
    let selector: Map<String, Value> = svc
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let pods: Vec<Value> = if selector.is_empty() {
        Vec::new()
    } else {
        pods.iter()
            .map(|pod| {
                let ip = str_at(pod, "/status/podIP");
                let why = if listed(endpoints, ip, "addresses") {
                    "ready: receives traffic".to_string()
                } else if pod.pointer("/metadata/deletionTimestamp").is_some() {
                    "terminating: removed from the endpoints".to_string()
                } else if ip.is_empty() {
                    format!("no IP yet ({})", str_at(pod, "/status/phase"))
                } else {
                    let reason = array_at(pod, "/status/conditions")
                        .iter()
                        .find(|c| c["type"] == "Ready")
                        .map(|c| str_at(c, "/message"))
                        .unwrap_or("");
                    format!(
                        "not ready{}: listed as not ready, gets no traffic",
                        if reason.is_empty() {
                            String::new()
                        } else {
                            format!(" ({reason})")
                        }
                    )
                };
                json!({"name": name(pod), "ip": ip, "why": why})
            })
            .collect()
    };
    json!({
        "kind": "Service",
        "name": name(svc),
        "namespace": str_at(svc, "/metadata/namespace"),
        "clusterIP": str_at(svc, "/spec/clusterIP"),
        "selector": selector,
        "pods": pods,
        "events": about(events, svc),
    })
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
pub fn render(t: &Value) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    if t["gone"] == json!(true) {
        line(format!(
            "{} {}/{}: gone (no such object now)",
            str_at(t, "/kind"),
            str_at(t, "/namespace"),
            str_at(t, "/name")
        ));
        line(String::new());
        line(
            "What the Events still say about it (they expire after the API server's event TTL):"
                .into(),
        );
        for e in array_at(t, "/events") {
            line(format!(
                "  {}   [about {}]",
                event_text(e),
                str_at(e, "/about")
            ));
        }
        return out;
    }
    match str_at(t, "/kind") {
        "Pod" => {
            let ready = match (t["ready"] == json!(true), str_at(t, "/readySince")) {
                (true, "") => "ready".to_string(),
                (true, since) => format!("ready since {}", clock(since)),
                (false, _) => "not ready".to_string(),
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
            if t["filterTable"].is_object() {
                render_filter_table(&t["filterTable"], &mut line);
            }
            let state = &t["nodeState"];
            if state.is_object() {
                let mut s = format!(
                    "  {} now: Ready={}",
                    str_at(state, "/name"),
                    str_at(state, "/ready")
                );
                if !str_at(state, "/since").is_empty() {
                    s.push_str(&format!(" since {}", clock(str_at(state, "/since"))));
                }
                if str_at(state, "/ready") != "True" && !str_at(state, "/reason").is_empty() {
                    s.push_str(&format!(
                        " ({}: {})",
                        str_at(state, "/reason"),
                        str_at(state, "/message")
                    ));
                }
                if state["unschedulable"] == json!(true) {
                    s.push_str(", cordoned");
                }
                let taints: Vec<&str> = array_at(state, "/taints")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                if !taints.is_empty() {
                    s.push_str(&format!("; taints: {}", taints.join(", ")));
                }
                line(s);
            }
            let deletion = &t["deletion"];
            if deletion.is_object() {
                line(String::new());
                line("Why it is being deleted:".into());
                let grace = match deletion["gracePeriodSeconds"].as_i64() {
                    Some(g) => format!(" ({g} s)"),
                    None => String::new(),
                };
                line(format!(
                    "  graceful deletion: its grace period{grace} ends at {}",
                    clock(str_at(deletion, "/requested"))
                ));
                if state.is_object() && str_at(state, "/ready") != "True" {
                    line(format!(
                        "  {} is not Ready, so no kubelet confirms the containers stopped: the pod stays until the node returns, the Node is deleted, or `kubectl delete pod {} --force`",
                        str_at(state, "/name"),
                        str_at(t, "/name")
                    ));
                }
                for c in array_at(deletion, "/conditions") {
                    line(format!(
                        "  {} ({}): {}",
                        str_at(c, "/type"),
                        str_at(c, "/reason"),
                        str_at(c, "/message")
                    ));
                }
                let causes = array_at(deletion, "/events");
                for e in causes {
                    line(format!("  {}", event_text(e)));
                }
                if causes.is_empty() && array_at(deletion, "/conditions").is_empty() {
                    line("  no component recorded a cause: it was deleted through the API (kubectl delete, or an owner's garbage collection)".into());
                }
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
