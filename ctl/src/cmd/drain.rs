//! `miniktl cordon`, `uncordon` and `drain` — kubectl's node maintenance
//! commands (one file, as kubectl keeps them in `pkg/cmd/drain`).
//!
//! `drain` cordons the node, then evicts its pods through the `eviction`
//! subresource, so PodDisruptionBudgets are honoured (a refused eviction is
//! retried every 5 s until `--timeout`), and waits for them to be gone.
//! Like kubectl it refuses, unless told otherwise, pods no controller would
//! recreate (`--force`), DaemonSet pods (`--ignore-daemonsets` skips them:
//! their controller would put them straight back) and pods with emptyDir
//! data (`--delete-emptydir-data`). Mirror pods do not exist in minik.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::parse_duration;
use crate::resources;
use crate::url::resource_path;

/// How often a refused eviction is tried again (kubectl's 5 s).
const EVICTION_RETRY: Duration = Duration::from_secs(5);

/// Mark a node as unschedulable.
#[derive(clap::Args, Debug)]
pub struct Cordon {
    /// The node.
    pub node: String,
}

/// Mark a node as schedulable.
#[derive(clap::Args, Debug)]
pub struct Uncordon {
    /// The node.
    pub node: String,
}

/// Drain a node in preparation for maintenance.
#[derive(clap::Args, Debug)]
pub struct Drain {
    /// The node.
    pub node: String,
    /// Skip DaemonSet-managed pods.
    #[arg(long)]
    pub ignore_daemonsets: bool,
    /// Delete pods with emptyDir volumes (their data is lost).
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// Also delete pods no controller manages.
    #[arg(long)]
    pub force: bool,
    /// Seconds each pod gets to terminate (-1: the pod's own).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub grace_period: i64,
    /// Give up after this long (e.g. 60s, 5m; 0: wait forever).
    #[arg(long, default_value = "0s")]
    pub timeout: String,
}

/// Sets `spec.unschedulable`, saying what changed as kubectl does.
async fn set_unschedulable(ctx: &Ctx, node: &str, unschedulable: bool) -> Result<()> {
    let info = resources::resolve("nodes")?;
    let current = ctx.get(info, "", node).await?;
    let now = current
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let verb = if unschedulable {
        "cordoned"
    } else {
        "uncordoned"
    };
    if now == unschedulable {
        ctx.print(&format!("node/{node} already {verb}\n"));
        return Ok(());
    }
    let patch =
        json!({"spec": {"unschedulable": if unschedulable { json!(true) } else { Value::Null }}});
    ctx.merge_patch(info, "", node, &patch).await?;
    ctx.print(&format!("node/{node} {verb}\n"));
    Ok(())
}

impl Cordon {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        set_unschedulable(ctx, &self.node, true).await
    }
}

impl Uncordon {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        set_unschedulable(ctx, &self.node, false).await
    }
}

/// `ns/name` of a pod.
fn pod_key(pod: &Value) -> String {
    format!(
        "{}/{}",
        minik_api::meta::namespace(pod).unwrap_or_default(),
        minik_api::meta::name(pod)
    )
}

/// The kind of the pod's controller, if it has one.
fn controller_kind(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o["controller"] == json!(true))?
        .get("kind")?
        .as_str()
}

fn finished(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

impl Drain {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let deadline = parse_duration(&self.timeout)?.map(|t| Instant::now() + t);
        set_unschedulable(ctx, &self.node, true).await?;
        let pods_info = resources::resolve("pods")?;
        let on_node = ctx
            .list(
                pods_info,
                None,
                None,
                Some(&format!("spec.nodeName={}", self.node)),
            )
            .await?;
        // kubectl's filters, in its order: DaemonSet pods, unmanaged pods,
        // pods with local storage.
        let (mut refusals, mut ignored, mut evict) = (Vec::new(), Vec::new(), Vec::new());
        for pod in on_node {
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let key = pod_key(&pod);
            match controller_kind(&pod) {
                Some("DaemonSet") if !finished(&pod) => {
                    if self.ignore_daemonsets {
                        ignored.push(key);
                    } else {
                        refusals.push(format!("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {key}"));
                    }
                    continue;
                }
                None if !finished(&pod) && !self.force => {
                    refusals.push(format!("cannot delete Pods that declare no controller (use --force to override): {key}"));
                    continue;
                }
                _ => {}
            }
            let empty_dir = pod
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .is_some_and(|v| v.iter().any(|v| v.get("emptyDir").is_some()));
            if empty_dir && !finished(&pod) && !self.delete_emptydir_data {
                refusals.push(format!("cannot delete Pods with local storage (use --delete-emptydir-data to override): {key}"));
                continue;
            }
            evict.push(pod);
        }
        if !refusals.is_empty() {
            return Err(Error::Usage(format!(
                "unable to drain node {:?} due to error: [{}], continuing command...\nThere are pending nodes to be drained:\n {}",
                self.node,
                refusals.join(", "),
                self.node
            )));
        }
        if !ignored.is_empty() {
            ctx.eprint(&format!(
                "Warning: ignoring DaemonSet-managed Pods: {}\n",
                ignored.join(", ")
            ));
        }
        for pod in &evict {
            self.evict(ctx, pod, deadline).await?;
        }
        // Gone means gone: the same name may come back with another uid.
        for pod in &evict {
            let (ns, name) = (
                minik_api::meta::namespace(pod).unwrap_or_default(),
                minik_api::meta::name(pod),
            );
            let uid = pod.pointer("/metadata/uid").cloned();
            loop {
                match ctx.get_opt(pods_info, ns, name).await? {
                    Some(p) if p.pointer("/metadata/uid").cloned() == uid => {}
                    _ => break,
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Error::Usage(format!(
                        "drain did not complete within {}: pod {name} in namespace {ns} is still there",
                        self.timeout
                    )));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            ctx.print(&format!("pod/{name} evicted\n"));
        }
        ctx.print(&format!("node/{} drained\n", self.node));
        Ok(())
    }

    /// Evicts one pod, retrying while a disruption budget refuses (429).
    async fn evict(&self, ctx: &Ctx, pod: &Value, deadline: Option<Instant>) -> Result<()> {
        let pods_info = resources::resolve("pods")?;
        let (ns, name) = (
            minik_api::meta::namespace(pod).unwrap_or_default(),
            minik_api::meta::name(pod),
        );
        let path = resource_path(pods_info, Some(ns), Some(name), Some("eviction"));
        let mut eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns}});
        if self.grace_period >= 0 {
            eviction["deleteOptions"] = json!({"gracePeriodSeconds": self.grace_period});
        }
        ctx.print(&format!("evicting pod {ns}/{name}\n"));
        loop {
            match ctx.raw_post(&path, &eviction).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(Error::Api {
                    code: 429, message, ..
                }) => {
                    ctx.eprint(&format!(
                        "error when evicting pods/{name:?} -n {ns:?} (will retry after 5s): {message}\n"
                    ));
                    if deadline.is_some_and(|d| Instant::now() + EVICTION_RETRY >= d) {
                        return Err(Error::Usage(format!(
                            "drain did not complete within {}: pod {name} in namespace {ns} could not be evicted",
                            self.timeout
                        )));
                    }
                    tokio::time::sleep(EVICTION_RETRY).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
