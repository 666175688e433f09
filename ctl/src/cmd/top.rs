//! `miniktl top pods|nodes`: CPU and memory in use — kubectl top.
//!
//! Reads the metrics.k8s.io API (NodeMetrics, PodMetrics), which the API
//! server fills by scraping every kubelet (`apiserver/src/scraper.rs`),
//! and prints what `kubectl top` prints: CPU in millicores, memory in Mi,
//! and for nodes the share of allocatable. A node whose kubelet does not
//! answer has no NodeMetrics; it is shown as `<unknown>` and the others
//! are reported as usual.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{AllNamespaces, Selector};
use crate::printers::tabwriter::TabWriter;
use crate::resources;
use crate::value::array_at;

/// Display resource (CPU/memory) usage.
#[derive(clap::Subcommand, Debug)]
pub enum Top {
    /// Usage of pods.
    #[command(alias = "pod", alias = "po")]
    Pods {
        /// Only this pod.
        name: Option<String>,
        #[command(flatten)]
        all_ns: AllNamespaces,
        #[command(flatten)]
        selector: Selector,
        /// One line per container.
        #[arg(long = "containers")]
        containers: bool,
        #[arg(long = "no-headers")]
        no_headers: bool,
    },
    /// Usage of nodes.
    #[command(alias = "node", alias = "no")]
    Nodes {
        name: Option<String>,
        #[command(flatten)]
        selector: Selector,
        #[arg(long = "no-headers")]
        no_headers: bool,
    },
}

fn metrics_info(plural: &str) -> &'static minik_api::catalogue::ResourceInfo {
    minik_api::catalogue::lookup("metrics.k8s.io", "v1beta1", plural)
        .expect("metrics.k8s.io is in the catalogue")
}

/// (millicores, bytes) of a `usage` map.
fn usage(u: Option<&Value>) -> (i64, i64) {
    usage_sum(u.into_iter())
}

/// (millicores, bytes) of several `usage` maps summed exactly first, as
/// kubectl sums a pod's containers before rounding up to millicores.
fn usage_sum<'a>(usages: impl Iterator<Item = &'a Value>) -> (i64, i64) {
    use minik_api::quantity::Quantity;
    let (mut cpu, mut memory) = (Quantity::from_millis(0), Quantity::from_millis(0));
    for u in usages {
        let q = |k: &str| {
            u.get(k)
                .and_then(|v| minik_api::quantity::from_json(v).ok())
        };
        cpu += q("cpu").unwrap_or(Quantity::from_millis(0));
        memory += q("memory").unwrap_or(Quantity::from_millis(0));
    }
    (cpu.millis(), memory.value())
}

fn not_available(e: Error) -> Error {
    match e {
        e @ Error::ConnectionRefused { .. } => e,
        e => Error::Usage(format!("Metrics API not available ({})", e.render())),
    }
}

impl Top {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let mut tw = TabWriter::for_tables();
        match self {
            Top::Nodes {
                name,
                selector,
                no_headers,
            } => {
                let metrics = ctx
                    .list(metrics_info("nodes"), None, selector.get(), None)
                    .await
                    .map_err(not_available)?;
                let nodes = ctx
                    .list(resources::resolve("nodes")?, None, selector.get(), None)
                    .await?;
                let nodes: Vec<Value> = nodes
                    .into_iter()
                    .filter(|n| name.as_ref().is_none_or(|w| w == minik_api::meta::name(n)))
                    .collect();
                if nodes.is_empty() {
                    return Err(match name {
                        Some(n) => Error::Usage(format!("nodes \"{n}\" not found")),
                        // kubectl's words when there is nothing to show.
                        None => Error::Usage("metrics not available yet".into()),
                    });
                }
                if !no_headers {
                    tw.write_str("NAME\tCPU(cores)\tCPU(%)\tMEMORY(bytes)\tMEMORY(%)\n");
                }
                for node in &nodes {
                    let n = minik_api::meta::name(node);
                    let Some(m) = metrics.iter().find(|m| minik_api::meta::name(m) == n) else {
                        tw.write_str(&format!(
                            "{n}\t<unknown>\t<unknown>\t<unknown>\t<unknown>\n"
                        ));
                        continue;
                    };
                    let (cpu, mem) = usage(m.get("usage"));
                    let allocatable = |k: &str| {
                        node.pointer(&format!("/status/allocatable/{k}"))
                            .and_then(|v| minik_api::quantity::from_json(v).ok())
                    };
                    let pct = |used: f64, of: Option<f64>| match of {
                        Some(of) if of > 0.0 => (used / of * 100.0) as i64,
                        _ => 0,
                    };
                    tw.write_str(&format!(
                        "{n}\t{cpu}m\t{}%\t{}Mi\t{}%\n",
                        pct(cpu as f64, allocatable("cpu").map(|q| q.millis() as f64)),
                        mem / (1024 * 1024),
                        pct(mem as f64, allocatable("memory").map(|q| q.value() as f64)),
                    ));
                }
            }
            Top::Pods {
                name,
                all_ns,
                selector,
                containers,
                no_headers,
            } => {
                let all_namespaces = all_ns.all_namespaces;
                let ns = ctx.namespace().await?;
                let info = metrics_info("pods");
                let metrics = match &name {
                    Some(n) => match ctx.get(info, &ns, n).await {
                        Ok(m) => vec![m],
                        Err(e) if e.is_not_found() => {
                            return Err(Error::Usage(format!(
                                "Metrics not available for pod {ns}/{n}"
                            )))
                        }
                        Err(e) => return Err(not_available(e)),
                    },
                    None => ctx
                        .list(info, all_ns.scope(&ns), selector.get(), None)
                        .await
                        .map_err(not_available)?,
                };
                if metrics.is_empty() {
                    // As kubectl: a note on stderr, and success.
                    ctx.eprint(&if all_namespaces {
                        "No resources found\n".to_string()
                    } else {
                        format!("No resources found in {ns} namespace.\n")
                    });
                    return Ok(());
                }
                if !no_headers {
                    let mut h = String::new();
                    if all_namespaces {
                        h.push_str("NAMESPACE\t");
                    }
                    h.push_str(if containers { "POD\tNAME\t" } else { "NAME\t" });
                    h.push_str("CPU(cores)\tMEMORY(bytes)\n");
                    tw.write_str(&h);
                }
                for m in &metrics {
                    let prefix = if all_namespaces {
                        format!("{}\t", minik_api::meta::namespace(m).unwrap_or(""))
                    } else {
                        String::new()
                    };
                    let pod = minik_api::meta::name(m);
                    let list = array_at(m, "/containers");
                    if containers {
                        for c in list {
                            let (cpu, mem) = usage(c.get("usage"));
                            let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
                            tw.write_str(&format!(
                                "{prefix}{pod}\t{cname}\t{cpu}m\t{}Mi\n",
                                mem / (1024 * 1024)
                            ));
                        }
                    } else {
                        let (cpu, mem) = usage_sum(list.iter().filter_map(|c| c.get("usage")));
                        tw.write_str(&format!(
                            "{prefix}{pod}\t{cpu}m\t{}Mi\n",
                            mem / (1024 * 1024)
                        ));
                    }
                }
            }
        }
        ctx.print(&tw.flush());
        Ok(())
    }
}
