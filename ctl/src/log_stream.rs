//! A container's log through the API server's `pods/log` subresource
//! (which it proxies to the pod's kubelet): waiting for the container to
//! start, then printing the log line by line — `logs` and `run -i`.

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::resources;

/// Prints a container's log (as `params` select it) line by line until
/// it ends — with `follow`, until the container stops. `prefix` goes
/// before each line (`logs --prefix`'s `[pod/NAME/CONTAINER] `).
pub async fn print_log(
    ctx: &Ctx,
    ns: &str,
    pod: &str,
    params: &LogParams,
    prefix: Option<&str>,
) -> Result<()> {
    let client = ctx.client().await?;
    let api: Api<Pod> = Api::namespaced(client, ns);
    let stream = match api.log_stream(pod, params).await {
        Ok(s) => s,
        Err(e) => return Err(ctx.kube_err(e).await),
    };
    let mut lines = stream.lines();
    while let Some(line) = lines.next().await {
        let line = line.map_err(Error::Io)?;
        ctx.print(&format!("{}{line}\n", prefix.unwrap_or("")));
    }
    Ok(())
}

/// Watches a pod until its first container has started (running or
/// terminated) — `true` — or the pod failed before that — `false`.
pub async fn wait_started(ctx: &Ctx, ns: &str, name: &str) -> Result<bool> {
    let info = resources::resolve("pods")?;
    let started = |p: &Value| -> Option<bool> {
        let state = p.pointer("/status/containerStatuses/0/state");
        if state.is_some_and(|s| s.get("running").is_some() || s.get("terminated").is_some()) {
            return Some(true);
        }
        match p.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") | Some("Failed") => Some(false),
            _ => None,
        }
    };
    loop {
        let pod = ctx.get(info, ns, name).await?;
        if let Some(s) = started(&pod) {
            return Ok(s);
        }
        let mut stream = Box::pin(ctx.watch_after(info, ns, name, &pod).await?);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok((kind, obj)) if kind != "DELETED" => {
                    if let Some(s) = started(&obj) {
                        return Ok(s);
                    }
                }
                Ok(_) => return Ok(false),
                Err(_) => break,
            }
        }
    }
}
