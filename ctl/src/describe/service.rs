//! `describe service` — kubectl's `describeService`. Endpoints are read
//! from the core/v1 Endpoints object of the same name (kubectl 1.33 reads
//! the Service's EndpointSlices; minik's controllers write both from the
//! same pods, so the ready addresses are the same).

use serde_json::Value;

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{events, scalar, str_at, Writer};
use crate::error::Result;
use crate::printers::format_labels;
use crate::resources;
use crate::value::array_at;

pub async fn describe(ctx: &Ctx, svc: &Value, show_events: bool, w: &mut Writer) -> Result<()> {
    let ns = minik_api::meta::namespace(svc).unwrap_or("default");
    let name = minik_api::meta::name(svc);
    let endpoints = ctx
        .get_opt(resources::resolve("endpoints")?, ns, name)
        .await?;
    let spec = svc.get("spec").cloned().unwrap_or_default();
    Header::new(svc).write(w);
    let selector = spec
        .get("selector")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty());
    w.line(
        0,
        &format!(
            "Selector:\t{}",
            if selector.is_some() {
                format_labels(selector)
            } else {
                String::new()
            }
        ),
    );
    w.line(0, &format!("Type:\t{}", str_at(&spec, "/type")));
    w.optional(0, "IP Family Policy", &spec, "/ipFamilyPolicy");
    let join = |field: &str| -> String {
        spec.get(field)
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|| "<none>".into())
    };
    w.line(0, &format!("IP Families:\t{}", join("ipFamilies")));
    w.line(0, &format!("IP:\t{}", str_at(&spec, "/clusterIP")));
    w.line(0, &format!("IPs:\t{}", join("clusterIPs")));
    if spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        w.line(0, &format!("External IPs:\t{}", join("externalIPs")));
    }
    w.optional(0, "IP", &spec, "/loadBalancerIP");
    if str_at(&spec, "/type") == "LoadBalancer" {
        if let Some(ing) = svc
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            let list: Vec<String> = ing
                .iter()
                .map(|i| {
                    let ip = str_at(i, "/ip");
                    if ip.is_empty() {
                        str_at(i, "/hostname").to_string()
                    } else {
                        ip.to_string()
                    }
                })
                .collect();
            w.line(0, &format!("LoadBalancer Ingress:\t{}", list.join(", ")));
        }
    }
    for p in array_at(&spec, "/ports") {
        let pname = match str_at(p, "/name") {
            "" => "<unset>".to_string(),
            n => n.to_string(),
        };
        let proto = match str_at(p, "/protocol") {
            "" => "TCP",
            x => x,
        };
        w.line(
            0,
            &format!("Port:\t{pname}\t{}/{proto}", scalar(p.get("port"))),
        );
        w.line(
            0,
            &format!("TargetPort:\t{}/{proto}", scalar(p.get("targetPort"))),
        );
        if p.get("nodePort")
            .and_then(Value::as_i64)
            .is_some_and(|n| n != 0)
        {
            w.line(
                0,
                &format!("NodePort:\t{pname}\t{}/{proto}", scalar(p.get("nodePort"))),
            );
        }
        w.line(
            0,
            &format!(
                "Endpoints:\t{}",
                format_endpoints(endpoints.as_ref(), str_at(p, "/name"), 3)
            ),
        );
    }
    w.line(
        0,
        &format!("Session Affinity:\t{}", str_at(&spec, "/sessionAffinity")),
    );
    w.optional(
        0,
        "External Traffic Policy",
        &spec,
        "/externalTrafficPolicy",
    );
    w.optional(
        0,
        "Internal Traffic Policy",
        &spec,
        "/internalTrafficPolicy",
    );
    if let Some(n) = spec
        .get("healthCheckNodePort")
        .and_then(Value::as_i64)
        .filter(|n| *n != 0)
    {
        w.line(0, &format!("HealthCheck NodePort:\t{n}"));
    }
    if show_events {
        let evs = events::for_object(ctx, svc).await?;
        events::write(w, &evs);
    }
    Ok(())
}

/// `ip:port,ip:port + N more...` for the ready addresses serving `port_name`.
pub fn format_endpoints(ep: Option<&Value>, port_name: &str, max: usize) -> String {
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    let empty = Vec::new();
    for subset in ep
        .and_then(|e| e.get("subsets"))
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let ports = array_at(subset, "/ports");
        for port in ports.iter().filter(|p| str_at(p, "/name") == port_name) {
            for addr in array_at(subset, "/addresses") {
                count += 1;
                if list.len() < max {
                    list.push(format!(
                        "{}:{}",
                        str_at(addr, "/ip"),
                        scalar(port.get("port"))
                    ));
                }
            }
        }
    }
    if list.is_empty() {
        return "<none>".into();
    }
    let mut s = list.join(",");
    if count > max {
        s.push_str(&format!(" + {} more...", count - max));
    }
    s
}
