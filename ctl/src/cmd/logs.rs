//! `miniktl logs`: print (or follow) a container's log through the API
//! server's `pods/log` subresource, which it proxies to the pod's kubelet
//! — kubectl logs. `deploy/NAME`, `rs/NAME`, `svc/NAME`, `job/NAME` pick
//! one of the object's pods (kubectl says which); `-l` prints every
//! matching pod's log (followed concurrently with `-f`).

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::Value;

use crate::cmd::delete::parse_duration;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::resources;

/// Print the logs for a container in a pod.
#[derive(clap::Args, Debug)]
pub struct Logs {
    /// POD, or TYPE/NAME (deploy/web, rs/web-abc, svc/web, job/x).
    pub target: Option<String>,
    /// The container (default: the only one, or the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// Stream new lines as they are written.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// The previous (crashed) instance's log.
    #[arg(short = 'p', long = "previous")]
    pub previous: bool,
    /// Only the last N lines (-1: all).
    #[arg(long = "tail", default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Only lines newer than this (e.g. 5s, 2m, 3h).
    #[arg(long = "since")]
    pub since: Option<String>,
    /// Prefix each line with its timestamp.
    #[arg(long = "timestamps")]
    pub timestamps: bool,
    /// Logs of every pod matching this selector.
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
    /// Every container of the pod(s).
    #[arg(long = "all-containers")]
    pub all_containers: bool,
    /// Prefix lines with [pod/NAME/CONTAINER].
    #[arg(long = "prefix")]
    pub prefix: bool,
    /// With -l -f: how many logs to follow at once.
    #[arg(long = "max-log-requests", default_value_t = 5)]
    pub max_log_requests: usize,
}

impl Logs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pods: Vec<Value> = match (&self.target, &self.selector) {
            (Some(t), None) => vec![pick_pod(ctx, &ns, t, true).await?],
            (None, Some(sel)) => {
                let list = ctx
                    .list(resources::resolve("pods")?, Some(&ns), Some(sel), None)
                    .await?;
                if list.is_empty() {
                    ctx.eprint(&format!("No resources found in {ns} namespace.\n"));
                    return Ok(());
                }
                if self.follow && list.len() > self.max_log_requests {
                    return Err(Error::Usage(format!(
                        "you are attempting to follow {} log streams, but maximum allowed concurrency is {}, use --max-log-requests to increase the limit",
                        list.len(),
                        self.max_log_requests
                    )));
                }
                list
            }
            (Some(_), Some(_)) => {
                return Err(Error::Usage(
                    "only one of a pod name and -l may be given".into(),
                ))
            }
            (None, None) => {
                return Err(Error::Usage(
                    "expected POD or TYPE/NAME (or -l SELECTOR)".into(),
                ))
            }
        };
        let by_selector = self.selector.is_some();
        let mut streams = Vec::new();
        for pod in &pods {
            let containers = self.containers_of(ctx, pod, by_selector)?;
            for c in containers {
                streams.push((minik_api::meta::name(pod).to_string(), c));
            }
        }
        let prefix = self.prefix || (by_selector && self.all_containers);
        let prefix = prefix && (streams.len() > 1 || self.prefix);
        if self.follow && streams.len() > 1 {
            let futs = streams
                .iter()
                .map(|(p, c)| self.stream(ctx, &ns, p, c, prefix));
            for r in futures::future::join_all(futs).await {
                r?;
            }
        } else {
            for (p, c) in &streams {
                self.stream(ctx, &ns, p, c, prefix).await?;
            }
        }
        Ok(())
    }

    fn containers_of(&self, ctx: &Ctx, pod: &Value, quiet: bool) -> Result<Vec<String>> {
        let names: Vec<String> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if self.all_containers {
            let mut all: Vec<String> = pod
                .pointer("/spec/initContainers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            all.extend(names);
            return Ok(all);
        }
        if let Some(c) = &self.container {
            return Ok(vec![c.clone()]);
        }
        let default = default_container(pod)
            .ok_or_else(|| Error::Usage("the pod has no containers".into()))?;
        if names.len() > 1 && !quiet {
            ctx.eprint(&format!(
                "Defaulted container \"{default}\" out of: {}\n",
                names.join(", ")
            ));
        }
        Ok(vec![default])
    }

    async fn stream(
        &self,
        ctx: &Ctx,
        ns: &str,
        pod: &str,
        container: &str,
        prefix: bool,
    ) -> Result<()> {
        let client = ctx.client().await?;
        let api: Api<Pod> = Api::namespaced(client, ns);
        let lp = LogParams {
            container: Some(container.to_string()),
            follow: self.follow,
            previous: self.previous,
            tail_lines: (self.tail >= 0).then_some(self.tail),
            since_seconds: match &self.since {
                Some(s) => parse_duration(s)?.map(|d| d.as_secs() as i64),
                None => None,
            },
            timestamps: self.timestamps,
            ..Default::default()
        };
        let stream = match api.log_stream(pod, &lp).await {
            Ok(s) => s,
            Err(e) => return Err(ctx.kube_err(e).await),
        };
        let mut lines = stream.lines();
        while let Some(line) = lines.next().await {
            let line = line.map_err(Error::Io)?;
            if prefix {
                ctx.print(&format!("[pod/{pod}/{container}] {line}\n"));
            } else {
                ctx.print(&format!("{line}\n"));
            }
        }
        Ok(())
    }
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

/// Resolves `POD` or `TYPE/NAME` to one pod, as kubectl's
/// `AttachablePodForObject` does: a workload's pods are sorted running and
/// ready first, then oldest first. `announce`: say which one (as `logs` does).
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
        let ready = p
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
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
        let rv = minik_api::meta::meta_str(&pod, "resourceVersion")
            .unwrap_or("0")
            .to_string();
        let mut stream = Box::pin(ctx.watch_object(info, Some(ns), name, rv).await?);
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
