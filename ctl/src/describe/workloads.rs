//! `describe deployment` and `describe replicaset` — kubectl's
//! `describeDeployment` (with its old and new ReplicaSets) and
//! `describeReplicaSet` (with its pods' phases).

use serde_json::Value;

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{
    conditions, controlled_by, events, format_label_selector, is_controlled_by, pod::pod_template,
    rfc1123z, scalar, str_at, Writer,
};
use crate::error::Result;
use crate::resources;

fn num(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The deployment's ReplicaSets: (old ones with replicas, the new one).
pub async fn replica_sets(
    ctx: &Ctx,
    deploy: &Value,
) -> Result<(Vec<Value>, Option<Value>, Vec<Value>)> {
    let info = resources::resolve("replicasets.apps")?;
    let ns = minik_api::meta::namespace(deploy).unwrap_or("default");
    let uid = minik_api::meta::meta_str(deploy, "uid").unwrap_or("");
    let all = ctx.list(info, Some(ns), None, None).await?;
    let owned: Vec<Value> = all
        .into_iter()
        .filter(|rs| is_controlled_by(rs, uid))
        .collect();
    let template = deploy
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_default();
    let mut new_rs = None;
    let mut old = Vec::new();
    let mut all_old = Vec::new();
    let mut sorted = owned;
    sorted.sort_by_key(|rs| {
        minik_api::meta::meta_str(rs, "creationTimestamp")
            .unwrap_or("")
            .to_string()
    });
    for rs in sorted {
        if new_rs.is_none() && same_template(rs.pointer("/spec/template"), &template) {
            new_rs = Some(rs);
        } else {
            if num(&rs, "/spec/replicas") != 0 {
                old.push(rs.clone());
            }
            all_old.push(rs);
        }
    }
    Ok((old, new_rs, all_old))
}

/// Pod templates equal, ignoring the `pod-template-hash` label the controller adds.
pub fn same_template(a: Option<&Value>, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(l) = v
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            l.remove("pod-template-hash");
        }
        v
    };
    a.map(strip) == Some(strip(b))
}

fn rs_list(rss: &[Value]) -> String {
    let parts: Vec<String> = rss
        .iter()
        .map(|rs| {
            format!(
                "{} ({}/{} replicas created)",
                minik_api::meta::name(rs),
                num(rs, "/status/replicas"),
                num(rs, "/spec/replicas")
            )
        })
        .collect();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(", ")
    }
}

pub async fn describe_deployment(
    ctx: &Ctx,
    d: &Value,
    show_events: bool,
    w: &mut Writer,
) -> Result<()> {
    Header::new(d)
        .field(
            "CreationTimestamp",
            rfc1123z(minik_api::meta::meta_str(d, "creationTimestamp").unwrap_or("")),
        )
        .write(w);
    w.line(
        0,
        &format!(
            "Selector:\t{}",
            format_label_selector(d.pointer("/spec/selector"))
        ),
    );
    w.line(
        0,
        &format!(
            "Replicas:\t{} desired | {} updated | {} total | {} available | {} unavailable",
            num(d, "/spec/replicas"),
            num(d, "/status/updatedReplicas"),
            num(d, "/status/replicas"),
            num(d, "/status/availableReplicas"),
            num(d, "/status/unavailableReplicas")
        ),
    );
    w.line(
        0,
        &format!("StrategyType:\t{}", str_at(d, "/spec/strategy/type")),
    );
    w.line(
        0,
        &format!("MinReadySeconds:\t{}", num(d, "/spec/minReadySeconds")),
    );
    if let Some(ru) = d
        .pointer("/spec/strategy/rollingUpdate")
        .filter(|v| v.is_object())
    {
        w.line(
            0,
            &format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge",
                scalar(ru.get("maxUnavailable")),
                scalar(ru.get("maxSurge"))
            ),
        );
    }
    pod_template(w, d.pointer("/spec/template"));
    workload_conditions(w, d);
    // kubectl lists every old ReplicaSet here, scaled down or not.
    let (_, new_rs, old) = replica_sets(ctx, d).await?;
    if !old.is_empty() || new_rs.is_some() {
        w.line(0, &format!("OldReplicaSets:\t{}", rs_list(&old)));
        let new_list: Vec<Value> = new_rs.into_iter().collect();
        w.line(0, &format!("NewReplicaSet:\t{}", rs_list(&new_list)));
    }
    if show_events {
        let evs = events::for_object(ctx, d).await?;
        events::write(w, &evs);
    }
    Ok(())
}

/// Deployment and ReplicaSet conditions: type, status, reason.
fn workload_conditions(w: &mut Writer, obj: &Value) {
    conditions(
        w,
        obj,
        &["Type\tStatus\tReason", "----\t------\t------"],
        |c| {
            format!(
                "{} \t{}\t{}",
                str_at(c, "/type"),
                str_at(c, "/status"),
                str_at(c, "/reason")
            )
        },
    );
}

pub async fn describe_replicaset(
    ctx: &Ctx,
    rs: &Value,
    show_events: bool,
    w: &mut Writer,
) -> Result<()> {
    let pods_info = resources::resolve("pods")?;
    let ns = minik_api::meta::namespace(rs).unwrap_or("default");
    let uid = minik_api::meta::meta_str(rs, "uid").unwrap_or("");
    let pods = ctx.list(pods_info, Some(ns), None, None).await;
    Header::new(rs)
        .field(
            "Selector",
            format_label_selector(rs.pointer("/spec/selector")),
        )
        .write(w);
    if let Some(c) = controlled_by(rs) {
        w.line(0, &format!("Controlled By:\t{c}"));
    }
    w.line(
        0,
        &format!(
            "Replicas:\t{} current / {} desired",
            num(rs, "/status/replicas"),
            num(rs, "/spec/replicas")
        ),
    );
    match pods {
        Err(e) => w.line(
            0,
            &format!("Pods Status:\terror in fetching pods: {}", e.render()),
        ),
        Ok(pods) => {
            let (mut running, mut waiting, mut succeeded, mut failed) = (0, 0, 0, 0);
            for p in pods.iter().filter(|p| is_controlled_by(p, uid)) {
                match str_at(p, "/status/phase") {
                    "Running" => running += 1,
                    "Pending" => waiting += 1,
                    "Succeeded" => succeeded += 1,
                    "Failed" => failed += 1,
                    _ => {}
                }
            }
            w.line(0, &format!("Pods Status:\t{running} Running / {waiting} Waiting / {succeeded} Succeeded / {failed} Failed"));
        }
    }
    pod_template(w, rs.pointer("/spec/template"));
    workload_conditions(w, rs);
    if show_events {
        let evs = events::for_object(ctx, rs).await?;
        events::write(w, &evs);
    }
    Ok(())
}
