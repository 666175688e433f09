//! Which pod and which container a command talks to: `logs`, `exec`,
//! `port-forward` accept `POD` or `TYPE/NAME` (`deploy/web`, `svc/web`)
//! and pick one of the workload's pods the way kubectl's
//! `AttachablePodForObject` does, then default the container.

use serde_json::Value;

use crate::conditions;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::resources;

/// Resolves `POD` or `TYPE/NAME` to one pod: a workload's pods are sorted
/// running and ready first, then oldest first. `announce`: say which one
/// (as `logs` does).
pub async fn pick_pod(ctx: &Ctx, ns: &str, target: &str, announce: bool) -> Result<Value> {
    let (info, name) = resources::type_and_name(target, Some("pods"))?;
    let obj = ctx.get(info, ns, &name).await?;
    if info.kind == "Pod" {
        return Ok(obj);
    }
    let selector = match info.kind {
        "Service" => obj
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        _ => obj.pointer("/spec/selector").map(|s| {
            let text = crate::describe::format_label_selector(Some(s));
            if text == "<none>" {
                String::new()
            } else {
                text
            }
        }),
    }
    .filter(|s| !s.is_empty())
    .ok_or_else(|| Error::Usage(format!("cannot find pods of {target}: it has no selector")))?;
    let mut pods = ctx
        .list(resources::resolve("pods")?, Some(ns), Some(&selector), None)
        .await?;
    if pods.is_empty() {
        return Err(Error::Usage(format!(
            "no pods found for {target} (selector {selector})"
        )));
    }
    let rank = |p: &Value| {
        let running = p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
        let ready = conditions::is_true(p, "Ready");
        (
            !running,
            !ready,
            minik_api::meta::meta_str(p, "creationTimestamp")
                .unwrap_or("")
                .to_string(),
        )
    };
    pods.sort_by_key(rank);
    if pods.len() > 1 && announce {
        ctx.eprint(&format!(
            "Found {} pods, using pod/{}\n",
            pods.len(),
            minik_api::meta::name(&pods[0])
        ));
    }
    Ok(pods.swap_remove(0))
}

/// The names of a pod's `containers` or `initContainers`, in order.
pub fn container_names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The container kubectl picks: the `kubectl.kubernetes.io/default-container`
/// annotation, else the first.
pub fn default_container(pod: &Value) -> Option<String> {
    if let Some(c) = pod
        .pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
        .and_then(Value::as_str)
    {
        return Some(c.to_string());
    }
    pod.pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `-c NAME`, else the default container — saying so on stderr, as
/// kubectl does, when the pod has several and `quiet` is not set.
pub fn choose_container(
    ctx: &Ctx,
    pod: &Value,
    explicit: Option<&str>,
    quiet: bool,
) -> Result<String> {
    if let Some(c) = explicit {
        return Ok(c.to_string());
    }
    let default =
        default_container(pod).ok_or_else(|| Error::Usage("the pod has no containers".into()))?;
    let names = container_names(pod, "containers");
    if names.len() > 1 && !quiet {
        ctx.eprint(&format!(
            "Defaulted container \"{default}\" out of: {}\n",
            names.join(", ")
        ));
    }
    Ok(default)
}
