//! `describe node` — kubectl's `describeNode`: roles, taints, its Lease,
//! conditions, addresses, capacity, system info, the pods running there
//! with their requests and limits as a share of allocatable, and events
//! (recorded with the node's uid by controllers and with its name by the
//! kubelet, so both are searched).

use serde_json::Value;

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{events, quantities, rfc1123z, since, str_at, Writer};
use crate::error::Result;
use crate::resources;
use crate::value::array_at;
use minik_api::quantity::Quantity;

pub async fn describe(ctx: &Ctx, node: &Value, show_events: bool, w: &mut Writer) -> Result<()> {
    let name = minik_api::meta::name(node);
    let lease = ctx
        .get_opt(resources::resolve("leases")?, "kube-node-lease", name)
        .await?;
    let pods: Vec<Value> = ctx
        .list(
            resources::resolve("pods")?,
            None,
            None,
            Some(&format!("spec.nodeName={name}")),
        )
        .await?
        .into_iter()
        .filter(|p| !matches!(str_at(p, "/status/phase"), "Succeeded" | "Failed"))
        .collect();
    let labels = node.pointer("/metadata/labels").and_then(Value::as_object);
    let mut roles: Vec<String> = labels
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| {
                    if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                        Some(r.to_string())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_string)
                    } else {
                        None
                    }
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    Header::cluster_scoped(node)
        .field(
            "Roles",
            if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            },
        )
        .write(w);
    w.line(
        0,
        &format!(
            "CreationTimestamp:\t{}",
            rfc1123z(minik_api::meta::meta_str(node, "creationTimestamp").unwrap_or(""))
        ),
    );
    let taints = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    w.write(0, "Taints:\t");
    if taints.is_empty() {
        w.line(0, "<none>");
    }
    for (i, t) in taints.iter().enumerate() {
        if i > 0 {
            w.write(0, "\t");
        }
        let value = str_at(t, "/value");
        let kv = if value.is_empty() {
            str_at(t, "/key").to_string()
        } else {
            format!("{}={value}", str_at(t, "/key"))
        };
        w.line(0, &format!("{kv}:{}", str_at(t, "/effect")));
    }
    let unschedulable = node
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    w.line(0, &format!("Unschedulable:\t{unschedulable}"));
    if let Some(l) = &lease {
        w.line(0, "Lease:");
        let or_unset = |s: &str| {
            if s.is_empty() {
                "<unset>".to_string()
            } else {
                s.to_string()
            }
        };
        w.line(
            1,
            &format!(
                "HolderIdentity:\t{}",
                or_unset(str_at(l, "/spec/holderIdentity"))
            ),
        );
        let t = |p: &str| {
            let s = str_at(l, p);
            if s.is_empty() {
                "<unset>".to_string()
            } else {
                rfc1123z(s)
            }
        };
        w.line(1, &format!("AcquireTime:\t{}", t("/spec/acquireTime")));
        w.line(1, &format!("RenewTime:\t{}", t("/spec/renewTime")));
    }
    if let Some(conds) = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        w.line(0, "Conditions:");
        w.line(
            1,
            "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage",
        );
        w.line(
            1,
            "----\t------\t-----------------\t------------------\t------\t-------",
        );
        for c in conds {
            w.line(
                1,
                &format!(
                    "{} \t{} \t{} \t{} \t{} \t{}",
                    str_at(c, "/type"),
                    str_at(c, "/status"),
                    rfc1123z(str_at(c, "/lastHeartbeatTime")),
                    rfc1123z(str_at(c, "/lastTransitionTime")),
                    str_at(c, "/reason"),
                    str_at(c, "/message")
                ),
            );
        }
    }
    w.line(0, "Addresses:");
    for a in array_at(node, "/status/addresses") {
        w.line(
            1,
            &format!("{}:\t{}", str_at(a, "/type"), str_at(a, "/address")),
        );
    }
    for (field, title) in [("capacity", "Capacity"), ("allocatable", "Allocatable")] {
        quantities(w, 0, title, node.pointer(&format!("/status/{field}")));
    }
    w.line(0, "System Info:");
    let info = |f: &str| str_at(node, &format!("/status/nodeInfo/{f}")).to_string();
    for (title, f) in [
        ("Machine ID", "machineID"),
        ("System UUID", "systemUUID"),
        ("Boot ID", "bootID"),
        ("Kernel Version", "kernelVersion"),
        ("OS Image", "osImage"),
        ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"),
        ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"),
        ("Kube-Proxy Version", "kubeProxyVersion"),
    ] {
        w.line(0, &format!("  {title}:\t{}", info(f)));
    }
    w.optional(0, "PodCIDR", node, "/spec/podCIDR");
    if let Some(cidrs) = node
        .pointer("/spec/podCIDRs")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        let list: Vec<&str> = cidrs.iter().filter_map(Value::as_str).collect();
        w.line(0, &format!("PodCIDRs:\t{}", list.join(",")));
    }
    w.optional(0, "ProviderID", node, "/spec/providerID");
    node_resources(w, node, &pods);
    if show_events {
        let evs = events::for_object(ctx, node).await?;
        events::write(w, &evs);
    }
    Ok(())
}

fn quantity_of(v: Option<&Value>) -> Quantity {
    v.and_then(|v| minik_api::quantity::from_json(v).ok())
        .unwrap_or_else(|| Quantity::from_millis(0))
}

/// A pod's effective requests and limits: the sum over containers, or the
/// largest init container's if that is bigger (as the scheduler counts).
fn pod_totals(pod: &Value, kind: &str, res: &str) -> i128 {
    let sum = |field: &str| -> Vec<i128> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| quantity_of(c.pointer(&format!("/resources/{kind}/{res}"))).nanos())
                    .collect()
            })
            .unwrap_or_default()
    };
    let main: i128 = sum("containers").iter().sum();
    let init = sum("initContainers").into_iter().max().unwrap_or(0);
    main.max(init)
}

fn fmt_quantity(nanos: i128, res: &str) -> String {
    if res == "cpu" {
        Quantity::from_nanos(nanos, minik_api::quantity::Format::DecimalSI).to_string()
    } else {
        Quantity::from_nanos(nanos, minik_api::quantity::Format::BinarySI).to_string()
    }
}

fn percent(part: i128, whole: i128) -> i64 {
    if whole == 0 {
        0
    } else {
        ((part as f64) / (whole as f64) * 100.0) as i64
    }
}

fn node_resources(w: &mut Writer, node: &Value, pods: &[Value]) {
    let alloc = node
        .pointer("/status/allocatable")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
        .or_else(|| node.pointer("/status/capacity").and_then(Value::as_object))
        .cloned()
        .unwrap_or_default();
    let total = |res: &str| quantity_of(alloc.get(res)).nanos();
    w.line(
        0,
        &format!("Non-terminated Pods:\t({} in total)", pods.len()),
    );
    w.line(
        1,
        "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge",
    );
    w.line(
        1,
        "---------\t----\t\t------------\t----------\t---------------\t-------------\t---",
    );
    for p in pods {
        let cells: Vec<String> = [
            ("requests", "cpu"),
            ("limits", "cpu"),
            ("requests", "memory"),
            ("limits", "memory"),
        ]
        .iter()
        .map(|(k, r)| {
            let v = pod_totals(p, k, r);
            format!("{} ({}%)", fmt_quantity(v, r), percent(v, total(r)))
        })
        .collect();
        w.line(
            1,
            &format!(
                "{}\t{}\t\t{}\t{}\t{}\t{}\t{}",
                minik_api::meta::namespace(p).unwrap_or(""),
                minik_api::meta::name(p),
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                since(minik_api::meta::meta_str(p, "creationTimestamp"))
            ),
        );
    }
    w.line(0, "Allocated resources:");
    w.line(
        0,
        "  (Total limits may be over 100 percent, i.e., overcommitted.)",
    );
    w.line(1, "Resource\tRequests\tLimits");
    w.line(1, "--------\t--------\t------");
    for res in ["cpu", "memory", "ephemeral-storage"] {
        let req: i128 = pods.iter().map(|p| pod_totals(p, "requests", res)).sum();
        let lim: i128 = pods.iter().map(|p| pod_totals(p, "limits", res)).sum();
        w.line(
            1,
            &format!(
                "{res}\t{} ({}%)\t{} ({}%)",
                fmt_quantity(req, res),
                percent(req, total(res)),
                fmt_quantity(lim, res),
                percent(lim, total(res))
            ),
        );
    }
    let mut huge: Vec<&String> = alloc
        .keys()
        .filter(|k| k.starts_with("hugepages-"))
        .collect();
    huge.sort();
    for h in huge {
        w.line(1, &format!("{h}\t0 (0%)\t0 (0%)"));
    }
}
