//! `miniktl top pods|nodes`: CPU and memory in use — kubectl top.
//!
//! kubectl reads the metrics.k8s.io API (metrics-server); minik has no
//! metrics-server, so miniktl reads each kubelet's stats summary
//! (`/stats/summary`, the Summary API metrics-server itself scrapes)
//! through the API server's node proxy, `/api/v1/nodes/<node>/proxy/stats/summary`.
//! When that is not available it says so and fails.

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
        #[arg(long = "no-headers")]
        no_headers: bool,
    },
}

fn millicores(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64)
        .map(|n| n / 1_000_000)
        .unwrap_or(0)
}

fn mebibytes(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64)
        .map(|n| n / (1024 * 1024))
        .unwrap_or(0)
}

async fn summaries(ctx: &Ctx) -> Result<Vec<(Value, Value)>> {
    let nodes = ctx
        .list(resources::resolve("nodes")?, None, None, None)
        .await?;
    if nodes.is_empty() {
        return Err(Error::Usage(
            "Metrics API not available: the cluster has no nodes".into(),
        ));
    }
    let mut out = Vec::new();
    for n in nodes {
        let name = minik_api::meta::name(&n).to_string();
        let path = format!("/api/v1/nodes/{name}/proxy/stats/summary");
        match ctx.raw_get(&path, "application/json").await {
            Ok(s) => out.push((n, s)),
            Err(e @ Error::ConnectionRefused { .. }) => return Err(e),
            Err(e) => {
                return Err(Error::Usage(format!(
                    "Metrics API not available: minik has no metrics-server, and reading node {name}'s kubelet stats through the API server failed (GET {path}: {})",
                    e.render()
                )))
            }
        }
    }
    Ok(out)
}

impl Top {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let mut tw = TabWriter::for_tables();
        match self {
            Top::Nodes { name, no_headers } => {
                if !no_headers {
                    tw.write_str("NAME\tCPU(cores)\tCPU(%)\tMEMORY(bytes)\tMEMORY(%)\n");
                }
                for (node, s) in summaries(ctx).await? {
                    let n = minik_api::meta::name(&node).to_string();
                    if name.as_ref().is_some_and(|w| *w != n) {
                        continue;
                    }
                    let cpu = millicores(s.pointer("/node/cpu/usageNanoCores"));
                    let mem = mebibytes(s.pointer("/node/memory/workingSetBytes"));
                    let alloc_cpu = node
                        .pointer("/status/allocatable/cpu")
                        .and_then(|v| minik_api::quantity::from_json(v).ok())
                        .map(|q| q.millis())
                        .unwrap_or(0);
                    let alloc_mem = node
                        .pointer("/status/allocatable/memory")
                        .and_then(|v| minik_api::quantity::from_json(v).ok())
                        .map(|q| q.value() / (1024 * 1024))
                        .unwrap_or(0);
                    let pct = |a: i64, b: i64| if b == 0 { 0 } else { a * 100 / b };
                    tw.write_str(&format!(
                        "{n}\t{cpu}m\t{}%\t{mem}Mi\t{}%\n",
                        pct(cpu, alloc_cpu),
                        pct(mem, alloc_mem)
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
                let wanted: Option<Vec<String>> = match selector.get() {
                    Some(sel) => Some(
                        ctx.list(
                            resources::resolve("pods")?,
                            all_ns.scope(&ns),
                            Some(sel),
                            None,
                        )
                        .await?
                        .iter()
                        .map(|p| minik_api::meta::name(p).to_string())
                        .collect(),
                    ),
                    None => None,
                };
                let mut rows: Vec<(String, String, String, i64, i64)> = Vec::new();
                for (_, s) in summaries(ctx).await? {
                    for p in array_at(&s, "/pods") {
                        let pns = p
                            .pointer("/podRef/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let pname = p
                            .pointer("/podRef/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        if !all_namespaces && pns != ns {
                            continue;
                        }
                        if name.as_ref().is_some_and(|n| *n != pname)
                            || wanted.as_ref().is_some_and(|w| !w.contains(&pname))
                        {
                            continue;
                        }
                        if containers {
                            for c in array_at(p, "/containers") {
                                rows.push((
                                    pns.clone(),
                                    pname.clone(),
                                    c.get("name")
                                        .and_then(Value::as_str)
                                        .unwrap_or("")
                                        .to_string(),
                                    millicores(c.pointer("/cpu/usageNanoCores")),
                                    mebibytes(c.pointer("/memory/workingSetBytes")),
                                ));
                            }
                        } else {
                            rows.push((
                                pns,
                                pname,
                                String::new(),
                                millicores(p.pointer("/cpu/usageNanoCores")),
                                mebibytes(p.pointer("/memory/workingSetBytes")),
                            ));
                        }
                    }
                }
                rows.sort();
                if rows.is_empty() {
                    return Err(Error::Usage(format!(
                        "Metrics not available for pods in namespace {ns}"
                    )));
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
                for (pns, pname, cname, cpu, mem) in rows {
                    let mut line = String::new();
                    if all_namespaces {
                        line.push_str(&format!("{pns}\t"));
                    }
                    line.push_str(&format!("{pname}\t"));
                    if containers {
                        line.push_str(&format!("{cname}\t"));
                    }
                    line.push_str(&format!("{cpu}m\t{mem}Mi\n"));
                    tw.write_str(&line);
                }
            }
        }
        ctx.print(&tw.flush());
        Ok(())
    }
}
