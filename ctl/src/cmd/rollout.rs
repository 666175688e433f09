//! `miniktl rollout status|history|undo|pause|resume|restart` for
//! Deployments and StatefulSets — kubectl rollout, with its messages.
//!
//! A Deployment's history is its ReplicaSets: each carries the pod template
//! of one revision and a `deployment.kubernetes.io/revision` annotation.
//! `undo` copies an old ReplicaSet's template (minus `pod-template-hash`)
//! back into the Deployment, which the Deployment controller then rolls
//! out as a new revision; `restart` changes a template annotation so every
//! pod is replaced; `status` watches the Deployment until the rollout is done.
//!
//! A StatefulSet's history is its ControllerRevisions (`revision`, and
//! `data`: the patch that restores its template); `undo` sends that patch
//! as kubectl does, and the controller renumbers the revision.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::conditions;
use crate::context::Ctx;
use crate::describe::workloads::{replica_sets, same_template};
use crate::describe::{pod::pod_template, Writer};
use crate::error::{Error, Result};
use crate::flags::parse_duration;
use crate::printers::tabwriter::TabWriter;
use crate::resources;

const REVISION: &str = "deployment.kubernetes.io/revision";
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// Manage the rollout of a deployment.
#[derive(clap::Subcommand, Debug)]
pub enum Rollout {
    /// Watch the rollout until it completes.
    Status {
        target: Vec<String>,
        /// Keep watching until done (false: print the current status once).
        #[arg(short = 'w', long = "watch", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
        watch: bool,
        /// Give up after this long (0: never).
        #[arg(long = "timeout", default_value = "0s")]
        timeout: String,
    },
    /// Show the revisions.
    History {
        target: Vec<String>,
        /// Show one revision's pod template.
        #[arg(long = "revision", default_value_t = 0)]
        revision: i64,
    },
    /// Roll back to the previous (or a given) revision.
    Undo {
        target: Vec<String>,
        #[arg(long = "to-revision", default_value_t = 0)]
        to_revision: i64,
    },
    /// Stop rolling out template changes.
    Pause { target: Vec<String> },
    /// Resume a paused deployment.
    Resume { target: Vec<String> },
    /// Replace every pod (a new rollout of the same template).
    Restart { target: Vec<String> },
}

fn target_name(args: &[String]) -> Result<String> {
    let (info, name) = resources::one_target(args, "rollout")?;
    if info.kind != "Deployment" {
        return Err(Error::Usage(format!(
            "rollout is supported for deployments and statefulsets in miniktl, not {}",
            info.plural
        )));
    }
    Ok(name)
}

/// The StatefulSet named by `args`, if that is what they name.
fn stateful_set_target(args: &[String]) -> Option<String> {
    let (info, name) = resources::one_target(args, "rollout").ok()?;
    (info.kind == "StatefulSet").then_some(name)
}

fn revision_of(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// kubectl's rollout status message, and whether the rollout is done.
pub fn status_message(d: &Value) -> Result<(String, bool)> {
    let name = minik_api::meta::name(d);
    let n = |p: &str| d.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    if n("/metadata/generation") > n("/status/observedGeneration") {
        return Ok((
            "Waiting for deployment spec update to be observed...".into(),
            false,
        ));
    }
    let timed_out = conditions::find(d, "Progressing")
        .is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
    if timed_out {
        return Err(Error::Usage(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        )));
    }
    let spec = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let (updated, total, available) = (
        n("/status/updatedReplicas"),
        n("/status/replicas"),
        n("/status/availableReplicas"),
    );
    Ok(if updated < spec {
        (format!("Waiting for deployment \"{name}\" rollout to finish: {updated} out of {spec} new replicas have been updated..."), false)
    } else if total > updated {
        (format!("Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...", total - updated), false)
    } else if available < updated {
        (format!("Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."), false)
    } else {
        (
            format!("deployment \"{name}\" successfully rolled out"),
            true,
        )
    })
}

/// kubectl's rollout status message for a StatefulSet, and whether the
/// rollout is done (`StatefulSetStatusViewer`).
pub fn stateful_set_status_message(s: &Value) -> Result<(String, bool)> {
    let n = |p: &str| s.pointer(p).and_then(Value::as_i64);
    let strategy = s
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if strategy != "RollingUpdate" {
        return Err(Error::Usage(
            "rollout status is only available for RollingUpdate strategy type".into(),
        ));
    }
    let observed = n("/status/observedGeneration").unwrap_or(0);
    if observed == 0 || n("/metadata/generation").unwrap_or(0) > observed {
        return Ok((
            "Waiting for statefulset spec update to be observed...".into(),
            false,
        ));
    }
    let ready = n("/status/readyReplicas").unwrap_or(0);
    let updated = n("/status/updatedReplicas").unwrap_or(0);
    if let Some(replicas) = n("/spec/replicas") {
        if ready < replicas {
            return Ok((
                format!("Waiting for {} pods to be ready...", replicas - ready),
                false,
            ));
        }
    }
    if s.pointer("/spec/updateStrategy/rollingUpdate")
        .is_some_and(|r| !r.is_null())
    {
        if let (Some(replicas), Some(partition)) = (
            n("/spec/replicas"),
            n("/spec/updateStrategy/rollingUpdate/partition"),
        ) {
            if updated < replicas - partition {
                return Ok((format!("Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...", replicas - partition), false));
            }
        }
        return Ok((
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
            true,
        ));
    }
    let text = |p: &str| {
        s.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (current, update) = (
        text("/status/currentRevision"),
        text("/status/updateRevision"),
    );
    if update != current {
        return Ok((format!("waiting for statefulset rolling update to complete {updated} pods at revision {update}..."), false));
    }
    let current_replicas = n("/status/currentReplicas").unwrap_or(0);
    Ok((
        format!(
            "statefulset rolling update complete {current_replicas} pods at revision {current}..."
        ),
        true,
    ))
}

/// The StatefulSet's ControllerRevisions by number (kubectl's
/// `controlledHistory`: matching its selector, controlled by it).
async fn stateful_set_history(ctx: &Ctx, ns: &str, sts: &Value) -> Result<BTreeMap<i64, Value>> {
    let info = resources::resolve("controllerrevisions.apps")?;
    let labels: Vec<String> = sts
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let uid = sts.pointer("/metadata/uid").cloned().unwrap_or_default();
    let mut history = BTreeMap::new();
    for rev in ctx
        .list(info, Some(ns), Some(&labels.join(",")), None)
        .await?
    {
        let controlled = rev
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r["controller"] == json!(true) && r["uid"] == uid)
            });
        if controlled {
            history.insert(rev["revision"].as_i64().unwrap_or(0), rev);
        }
    }
    Ok(history)
}

/// The template a revision restores.
fn revision_template(rev: &Value) -> Option<Value> {
    let mut t = rev.pointer("/data/spec/template")?.clone();
    t.as_object_mut()?.remove("$patch");
    Some(t)
}

impl Rollout {
    fn target(&self) -> &[String] {
        match self {
            Rollout::Status { target, .. }
            | Rollout::History { target, .. }
            | Rollout::Undo { target, .. }
            | Rollout::Pause { target }
            | Rollout::Resume { target }
            | Rollout::Restart { target } => target,
        }
    }

    /// The subcommands for a StatefulSet (kubectl's StatefulSet viewers and
    /// rollbacker).
    async fn run_stateful_set(self, ctx: &Ctx, name: String) -> Result<()> {
        let info = resources::resolve("statefulsets.apps")?;
        let ns = ctx.namespace().await?;
        match self {
            Rollout::Status { watch, timeout, .. } => {
                let deadline = parse_duration(&timeout)?;
                let work = follow(ctx, info, &ns, &name, watch, stateful_set_status_message);
                match deadline {
                    Some(d) => tokio::time::timeout(d, work).await.map_err(|_| {
                        Error::Timeout("timed out waiting for the condition".into())
                    })?,
                    None => work.await,
                }
            }
            Rollout::History { revision, .. } => {
                let sts = ctx.get(info, &ns, &name).await?;
                let history = stateful_set_history(ctx, &ns, &sts).await?;
                let templates = history
                    .iter()
                    .map(|(r, rev)| (*r, (rev.clone(), revision_template(rev))))
                    .collect();
                print_history(
                    ctx,
                    &format!("statefulset.apps/{name}"),
                    &templates,
                    revision,
                )
            }
            Rollout::Undo { to_revision, .. } => {
                let sts = ctx.get(info, &ns, &name).await?;
                let history = stateful_set_history(ctx, &ns, &sts).await?;
                if to_revision == 0 && history.len() <= 1 {
                    return Err(Error::Usage("no last revision to roll back to".into()));
                }
                let revision = match to_revision {
                    0 => *history.keys().nth_back(1).expect("two revisions"),
                    r => r,
                };
                let rev = history.get(&revision).ok_or_else(|| {
                    Error::Usage(format!(
                        "unable to find specified revision {revision} in history"
                    ))
                })?;
                if revision_template(rev).as_ref() == sts.pointer("/spec/template") {
                    ctx.print(&format!("statefulset.apps/{name} skipped rollback (current template already matches revision {revision})\n"));
                    return Ok(());
                }
                let data = rev.get("data").cloned().unwrap_or_default();
                if let Err(e) = ctx.patch(info, &ns, &name, &data, false).await {
                    return Err(Error::Usage(format!(
                        "failed restoring revision {revision}: {}",
                        e.render()
                    )));
                }
                ctx.print(&format!("statefulset.apps/{name} rolled back\n"));
                Ok(())
            }
            Rollout::Pause { .. } | Rollout::Resume { .. } => {
                let verb = if matches!(self, Rollout::Pause { .. }) {
                    "pausing"
                } else {
                    "resuming"
                };
                Err(Error::Usage(format!(
                    "statefulsets.apps \"{name}\" {verb} is not supported"
                )))
            }
            Rollout::Restart { .. } => {
                let now = minik_api::meta::now_rfc3339();
                let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
                ctx.patch(info, &ns, &name, &patch, false).await?;
                ctx.print(&format!("statefulset.apps/{name} restarted\n"));
                Ok(())
            }
        }
    }

    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if let Some(name) = stateful_set_target(self.target()) {
            return self.run_stateful_set(ctx, name).await;
        }
        let info = resources::resolve("deployments.apps")?;
        let ns = ctx.namespace().await?;
        match self {
            Rollout::Status {
                target,
                watch,
                timeout,
            } => {
                let name = target_name(&target)?;
                let deadline = parse_duration(&timeout)?;
                let work = follow(ctx, info, &ns, &name, watch, status_message);
                match deadline {
                    Some(d) => tokio::time::timeout(d, work).await.map_err(|_| {
                        Error::Timeout("timed out waiting for the condition".into())
                    })?,
                    None => work.await,
                }
            }
            Rollout::History { target, revision } => {
                let name = target_name(&target)?;
                let d = ctx.get(info, &ns, &name).await?;
                let (old, new_rs, all_old) = replica_sets(ctx, &d).await?;
                drop(old);
                let mut history: BTreeMap<i64, Value> = BTreeMap::new();
                for rs in all_old.into_iter().chain(new_rs) {
                    let r = revision_of(&rs);
                    if r > 0 {
                        history.insert(r, rs);
                    }
                }
                let templates = history
                    .iter()
                    .map(|(r, rs)| (*r, (rs.clone(), rs.pointer("/spec/template").cloned())))
                    .collect();
                print_history(
                    ctx,
                    &format!("deployment.apps/{name}"),
                    &templates,
                    revision,
                )
            }
            Rollout::Undo {
                target,
                to_revision,
            } => {
                let name = target_name(&target)?;
                let d = ctx.get(info, &ns, &name).await?;
                if d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
                    return Err(Error::Usage(
                        "you cannot rollback a paused deployment; resume it first with 'miniktl rollout resume' and try again".into(),
                    ));
                }
                let (_, new_rs, all_old) = replica_sets(ctx, &d).await?;
                let mut history: BTreeMap<i64, Value> = BTreeMap::new();
                for rs in all_old.into_iter().chain(new_rs) {
                    history.insert(revision_of(&rs), rs);
                }
                let revision = if to_revision == 0 {
                    let revs: Vec<i64> = history.keys().copied().filter(|r| *r > 0).collect();
                    if revs.len() < 2 {
                        return Err(Error::Usage(
                            "no rollout history found for deployment \"".to_string() + &name + "\"",
                        ));
                    }
                    revs[revs.len() - 2]
                } else {
                    to_revision
                };
                let rs = history.get(&revision).ok_or_else(|| {
                    Error::Usage(format!(
                        "unable to find specified revision {revision} in history"
                    ))
                })?;
                let template = d.pointer("/spec/template").cloned().unwrap_or_default();
                if same_template(rs.pointer("/spec/template"), &template) {
                    ctx.print(&format!("deployment.apps/{name} skipped rollback (current template already matches revision {revision})\n"));
                    return Ok(());
                }
                let mut restored = rs.pointer("/spec/template").cloned().unwrap_or_default();
                if let Some(l) = restored
                    .pointer_mut("/metadata/labels")
                    .and_then(Value::as_object_mut)
                {
                    l.remove("pod-template-hash");
                }
                // Deployment annotations: keep the controller's own, take the rest from the ReplicaSet.
                const SKIP: &[&str] = &[
                    "kubectl.kubernetes.io/last-applied-configuration",
                    REVISION,
                    "deployment.kubernetes.io/revision-history",
                    "deployment.kubernetes.io/desired-replicas",
                    "deployment.kubernetes.io/max-replicas",
                    "deprecated.deployment.rollback.to",
                ];
                let mut annotations = serde_json::Map::new();
                if let Some(a) = d
                    .pointer("/metadata/annotations")
                    .and_then(Value::as_object)
                {
                    for (k, v) in a {
                        if SKIP.contains(&k.as_str()) {
                            annotations.insert(k.clone(), v.clone());
                        }
                    }
                }
                if let Some(a) = rs
                    .pointer("/metadata/annotations")
                    .and_then(Value::as_object)
                {
                    for (k, v) in a {
                        if !SKIP.contains(&k.as_str()) {
                            annotations.insert(k.clone(), v.clone());
                        }
                    }
                }
                let patch: json_patch::Patch = serde_json::from_value(json!([
                    {"op": "replace", "path": "/spec/template", "value": restored},
                    {"op": "replace", "path": "/metadata/annotations", "value": annotations}
                ]))
                .expect("valid JSON patch");
                let api = ctx.api(info, Some(&ns)).await?;
                if let Err(e) = api
                    .patch(
                        &name,
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::<()>::Json(patch),
                    )
                    .await
                {
                    return Err(Error::Usage(format!(
                        "failed restoring revision {revision}: {}",
                        ctx.kube_err(e).await.render()
                    )));
                }
                ctx.print(&format!("deployment.apps/{name} rolled back\n"));
                Ok(())
            }
            Rollout::Pause { target } | Rollout::Resume { target } if target.is_empty() => Err(
                Error::Usage("expected TYPE/NAME (e.g. deployment/web)".into()),
            ),
            Rollout::Pause { target } => {
                set_paused(ctx, info, &ns, &target_name(&target)?, true).await
            }
            Rollout::Resume { target } => {
                set_paused(ctx, info, &ns, &target_name(&target)?, false).await
            }
            Rollout::Restart { target } => {
                let name = target_name(&target)?;
                let d = ctx.get(info, &ns, &name).await?;
                if d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
                    return Err(Error::Usage(format!("deployments.apps \"{name}\" can't restart paused deployment (run rollout resume first)")));
                }
                let now = minik_api::meta::now_rfc3339();
                let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
                ctx.patch(info, &ns, &name, &patch, false).await?;
                ctx.print(&format!("deployment.apps/{name} restarted\n"));
                Ok(())
            }
        }
    }
}

/// `rollout history` as kubectl prints it: the revisions with their
/// change causes, or (`revision` > 0) one revision's pod template.
/// `history`: revision → (the object carrying it, its template).
fn print_history(
    ctx: &Ctx,
    object: &str,
    history: &BTreeMap<i64, (Value, Option<Value>)>,
    revision: i64,
) -> Result<()> {
    if revision > 0 {
        let (_, template) = history
            .get(&revision)
            .ok_or_else(|| Error::Usage("unable to find the specified revision".to_string()))?;
        // kubectl prints this template with its tabs unaligned.
        let mut w = Writer::raw();
        pod_template(&mut w, template.as_ref());
        ctx.print(&format!(
            "{object} with revision #{revision}\n{}\n",
            w.finish()
        ));
        return Ok(());
    }
    let mut tw = TabWriter::new(0, 2, false);
    tw.write_str("REVISION\tCHANGE-CAUSE\n");
    for (r, (obj, _)) in history {
        let cause = obj
            .pointer(&format!(
                "/metadata/annotations/{}",
                CHANGE_CAUSE.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("<none>");
        tw.write_str(&format!("{r}\t{cause}\n"));
    }
    ctx.print(&format!("{object} \n{}\n", tw.flush()));
    Ok(())
}

/// Prints `message`'s verdict on the object, then (with `watch`) on each
/// change, until it says the rollout is done.
async fn follow(
    ctx: &Ctx,
    info: &minik_api::ResourceInfo,
    ns: &str,
    name: &str,
    watch: bool,
    message: fn(&Value) -> Result<(String, bool)>,
) -> Result<()> {
    let mut last = String::new();
    loop {
        let obj = ctx.get(info, ns, name).await?;
        let (msg, done) = message(&obj)?;
        if msg != last {
            ctx.print(&format!("{msg}\n"));
            last = msg.clone();
        }
        if done || !watch {
            return Ok(());
        }
        let mut stream = Box::pin(ctx.watch_after(info, ns, name, &obj).await?);
        while let Some(ev) = stream.next().await {
            let Ok((kind, obj)) = ev else { break };
            if kind == "DELETED" {
                return Err(Error::Usage(format!(
                    "{} \"{name}\" was deleted",
                    info.singular
                )));
            }
            let (msg, done) = message(&obj)?;
            if msg != last {
                ctx.print(&format!("{msg}\n"));
                last = msg;
            }
            if done {
                return Ok(());
            }
        }
    }
}

async fn set_paused(
    ctx: &Ctx,
    info: &minik_api::ResourceInfo,
    ns: &str,
    name: &str,
    pause: bool,
) -> Result<()> {
    let d = ctx.get(info, ns, name).await?;
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    if paused == pause {
        return Err(Error::Usage(format!(
            "deployments.apps \"{name}\" {}",
            if pause {
                "is already paused"
            } else {
                "is not paused"
            }
        )));
    }
    ctx.patch(info, ns, name, &json!({"spec": {"paused": pause}}), false)
        .await?;
    ctx.print(&format!(
        "deployment.apps/{name} {}\n",
        if pause { "paused" } else { "resumed" }
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_follow_kubectl() {
        let d = |g: i64, og: i64, spec: i64, upd: i64, tot: i64, avail: i64| {
            json!({"metadata": {"name": "web", "generation": g}, "spec": {"replicas": spec},
                   "status": {"observedGeneration": og, "updatedReplicas": upd, "replicas": tot, "availableReplicas": avail}})
        };
        for (deploy, want) in [
            (d(2, 1, 3, 3, 3, 3), "Waiting for deployment spec update to be observed..."),
            (d(2, 2, 3, 1, 4, 3), "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated..."),
            (d(2, 2, 3, 3, 4, 3), "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination..."),
            (d(2, 2, 3, 3, 3, 2), "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available..."),
        ] {
            assert_eq!(status_message(&deploy).unwrap().0, want);
        }
        assert_eq!(
            status_message(&d(2, 2, 3, 3, 3, 3)).unwrap(),
            ("deployment \"web\" successfully rolled out".into(), true)
        );
    }

    #[test]
    fn stateful_set_messages_follow_kubectl() {
        let s = |g: i64, og: i64, ready: i64, updated: i64, partition: Value| {
            json!({"metadata": {"generation": g},
                   "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": partition}},
                   "status": {"observedGeneration": og, "readyReplicas": ready, "updatedReplicas": updated,
                              "currentRevision": "web-a", "updateRevision": "web-b", "currentReplicas": 2}})
        };
        let msg = |v: Value| stateful_set_status_message(&v).unwrap();
        assert_eq!(
            msg(s(2, 1, 3, 3, json!({"partition": 0}))).0,
            "Waiting for statefulset spec update to be observed..."
        );
        assert_eq!(
            msg(s(1, 1, 1, 3, json!({"partition": 0}))).0,
            "Waiting for 2 pods to be ready..."
        );
        assert_eq!(
            msg(s(1, 1, 3, 0, json!({"partition": 2}))).0,
            "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated..."
        );
        assert_eq!(
            msg(s(1, 1, 3, 1, json!({"partition": 2}))),
            (
                "partitioned roll out complete: 1 new pods have been updated...".into(),
                true
            )
        );
        assert_eq!(
            msg(s(1, 1, 3, 1, Value::Null)).0,
            "waiting for statefulset rolling update to complete 1 pods at revision web-b..."
        );
        let mut on_delete = s(1, 1, 3, 3, Value::Null);
        on_delete["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        assert!(stateful_set_status_message(&on_delete).is_err());
    }
}
