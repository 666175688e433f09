//! Resource usage of this node's containers, as the kubelet reports it
//! (cAdvisor's part of it): one sample of every running container from the
//! runtime, CPU turned into a rate between samples, then rendered for
//! `GET /stats/summary` (the Summary API) and `GET /metrics/resource`
//! (Prometheus text with the kubelet's metric names, what metrics-server
//! scrapes).
//!
//! Simplified: the node's usage is the sum of its pods' (Kubernetes reads
//! the root cgroup, which also counts system daemons), and no filesystem,
//! network or swap figures are reported.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::context::Kubelet;
use crate::runtime::{ContainerRecord, ContainerStats, PodRef};

/// CPU rates are computed over at least this much time: samples closer
/// together than this reuse the previous rate (cAdvisor's housekeeping
/// interval plays this part in Kubernetes).
const MIN_RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// One running container's sample.
#[derive(Debug, Clone)]
pub struct Usage {
    pub pod: PodRef,
    pub container: String,
    pub started_at: Option<Timestamp>,
    pub time: Timestamp,
    pub stats: ContainerStats,
    /// CPU rate in nanocores, once two samples are far enough apart.
    pub nano_cores: Option<u64>,
}

/// The previous sample of each container, for CPU rates, and the CPU time
/// of containers that are gone: the node's counter includes it, so it
/// never goes down (as the root cgroup's does not).
#[derive(Default)]
pub struct RateCache {
    previous: Mutex<HashMap<String, Previous>>,
    retired_core_nanoseconds: std::sync::atomic::AtomicU64,
}

struct Previous {
    time: Timestamp,
    core_nanoseconds: u64,
    nano_cores: Option<u64>,
    /// The container's latest cumulative CPU time.
    latest: u64,
}

impl RateCache {
    /// The rate since this container's previous sample (the previous rate
    /// when that sample is too recent); remembers this one.
    fn rate(&self, id: &str, time: Timestamp, core_nanoseconds: u64) -> Option<u64> {
        let mut previous = self.previous.lock().unwrap();
        let Some(p) = previous.get_mut(id) else {
            previous.insert(
                id.to_string(),
                Previous {
                    time,
                    core_nanoseconds,
                    nano_cores: None,
                    latest: core_nanoseconds,
                },
            );
            return None;
        };
        p.latest = core_nanoseconds;
        let elapsed = time.duration_since(p.time);
        if elapsed.as_secs_f64() < MIN_RATE_WINDOW.as_secs_f64() {
            return p.nano_cores;
        }
        let used = core_nanoseconds.saturating_sub(p.core_nanoseconds) as f64;
        let rate = (used / elapsed.as_secs_f64()) as u64;
        *p = Previous {
            time,
            core_nanoseconds,
            nano_cores: Some(rate),
            latest: core_nanoseconds,
        };
        Some(rate)
    }

    /// Forgets containers no longer running, keeping their CPU time for the node.
    fn retain(&self, running: &[&ContainerRecord]) {
        let ids: std::collections::HashSet<&str> = running.iter().map(|r| r.id.as_str()).collect();
        self.previous.lock().unwrap().retain(|id, p| {
            let keep = ids.contains(id.as_str());
            if !keep {
                self.retired_core_nanoseconds
                    .fetch_add(p.latest, std::sync::atomic::Ordering::Relaxed);
            }
            keep
        });
    }

    /// CPU time of this node's containers that are gone.
    pub fn retired_core_nanoseconds(&self) -> u64 {
        self.retired_core_nanoseconds
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Samples every running app container of the node (concurrently; a
/// container whose sample fails — it just exited — is left out).
pub async fn collect(k: &Kubelet) -> Result<Vec<Usage>, crate::Error> {
    let records = k.runtime.list_all().await?;
    let running: Vec<&ContainerRecord> = records
        .iter()
        .filter(|r| r.running() && !r.sandbox)
        .collect();
    k.rates.retain(&running);
    let annotations: HashMap<String, std::collections::BTreeMap<String, String>> = k
        .workers
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(uid, w)| Some((uid.clone(), w.pod()?.metadata.annotations.clone()?)))
        .collect();
    let none = Default::default();
    let asked: Vec<(&str, &std::collections::BTreeMap<String, String>)> = running
        .iter()
        .map(|r| (r.id.as_str(), annotations.get(&r.pod.uid).unwrap_or(&none)))
        .collect();
    let samples = k.runtime.stats_all(&asked).await;
    Ok(running
        .iter()
        .zip(samples)
        .filter_map(|(r, stats)| {
            let stats = stats.ok()?;
            let time = stats.time;
            Some(Usage {
                pod: r.pod.clone(),
                container: r.name.clone(),
                started_at: r.started_at,
                time,
                nano_cores: k.rates.rate(&r.id, time, stats.cpu_usage_core_nanoseconds),
                stats,
            })
        })
        .collect())
}

/// Sums of several containers' samples (a pod's, the node's).
#[derive(Default)]
struct Total {
    core_nanoseconds: u64,
    nano_cores: Option<u64>,
    usage_bytes: u64,
    working_set_bytes: u64,
    time: Option<Timestamp>,
}

impl Total {
    fn add(&mut self, u: &Usage) {
        self.core_nanoseconds += u.stats.cpu_usage_core_nanoseconds;
        self.usage_bytes += u.stats.memory_usage_bytes;
        self.working_set_bytes += u.stats.memory_working_set_bytes;
        self.nano_cores = match (self.nano_cores, u.nano_cores) {
            (Some(a), Some(b)) => Some(a + b),
            (None, b) if self.time.is_none() => b,
            _ => None,
        };
        self.time = Some(self.time.map_or(u.time, |t| t.max(u.time)));
    }

    fn json(&self, fallback: Timestamp) -> (Value, Value) {
        let time = minik_api::meta::format_timestamp(self.time.unwrap_or(fallback));
        let mut cpu = json!({"time": time, "usageCoreNanoSeconds": self.core_nanoseconds});
        if let Some(n) = self.nano_cores {
            cpu["usageNanoCores"] = json!(n);
        }
        let memory = json!({"time": time, "usageBytes": self.usage_bytes, "workingSetBytes": self.working_set_bytes});
        (cpu, memory)
    }
}

/// Samples grouped by pod, in the order first seen.
fn by_pod(usages: &[Usage]) -> Vec<(&PodRef, Vec<&Usage>)> {
    let mut pods: Vec<(&PodRef, Vec<&Usage>)> = Vec::new();
    for u in usages {
        match pods.iter_mut().find(|(p, _)| p.uid == u.pod.uid) {
            Some((_, list)) => list.push(u),
            None => pods.push((&u.pod, vec![u])),
        }
    }
    pods
}

/// The Summary API document (`/stats/summary`): node, pods, containers.
/// `retired` is the CPU time of containers that are gone (the node's counter keeps it).
pub fn summary(node_name: &str, usages: &[Usage], retired: u64) -> Value {
    let now = Timestamp::now();
    let mut node = Total {
        core_nanoseconds: retired,
        ..Default::default()
    };
    let pods: Vec<Value> = by_pod(usages)
        .into_iter()
        .map(|(pod, list)| {
            let mut total = Total::default();
            let containers: Vec<Value> = list
                .iter()
                .map(|u| {
                    total.add(u);
                    node.add(u);
                    let mut one = Total::default();
                    one.add(u);
                    let (cpu, memory) = one.json(now);
                    json!({
                        "name": u.container,
                        "startTime": u.started_at.map(minik_api::meta::format_timestamp),
                        "cpu": cpu, "memory": memory,
                    })
                })
                .collect();
            let (cpu, memory) = total.json(now);
            json!({
                "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "containers": containers, "cpu": cpu, "memory": memory,
            })
        })
        .collect();
    let (cpu, memory) = node.json(now);
    json!({
        "node": {"nodeName": node_name, "cpu": cpu, "memory": memory},
        "pods": pods,
    })
}

/// Prometheus text for `/metrics/resource`, with the kubelet's metric
/// names, help texts and millisecond timestamps (`retired` as for [`summary`]).
pub fn resource_metrics(usages: &[Usage], retired: u64) -> String {
    let mut out = String::new();
    let ms = |t: Timestamp| t.as_millisecond();
    let seconds = |ns: u64| ns as f64 / 1e9;
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64, i64)>| {
        let _ = writeln!(out, "# HELP {name} [STABLE] {help}\n# TYPE {name} {kind}");
        for (labels, value, time) in samples {
            let _ = writeln!(out, "{name}{labels} {value} {time}");
        }
    };
    let container_labels = |u: &Usage| {
        format!(
            "{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}}",
            u.container, u.pod.namespace, u.pod.name
        )
    };
    family(
        "container_cpu_usage_seconds_total",
        "counter",
        "Cumulative cpu time consumed by the container in core-seconds",
        usages
            .iter()
            .map(|u| {
                let v = seconds(u.stats.cpu_usage_core_nanoseconds);
                (container_labels(u), v, ms(u.time))
            })
            .collect(),
    );
    family(
        "container_memory_working_set_bytes",
        "gauge",
        "Current working set of the container in bytes",
        usages
            .iter()
            .map(|u| {
                let v = u.stats.memory_working_set_bytes as f64;
                (container_labels(u), v, ms(u.time))
            })
            .collect(),
    );
    family(
        "container_start_time_seconds",
        "gauge",
        "Start time of the container since unix epoch in seconds",
        usages
            .iter()
            .filter_map(|u| {
                let start = u.started_at?;
                Some((container_labels(u), start.as_second() as f64, ms(u.time)))
            })
            .collect(),
    );
    let mut node = Total {
        core_nanoseconds: retired,
        ..Default::default()
    };
    let pods: Vec<(String, Total)> = by_pod(usages)
        .into_iter()
        .map(|(pod, list)| {
            let mut total = Total::default();
            for u in list {
                total.add(u);
                node.add(u);
            }
            let labels = format!("{{namespace=\"{}\",pod=\"{}\"}}", pod.namespace, pod.name);
            (labels, total)
        })
        .collect();
    let now = Timestamp::now();
    let time = |t: &Total| ms(t.time.unwrap_or(now));
    family(
        "node_cpu_usage_seconds_total",
        "counter",
        "Cumulative cpu time consumed by the node in core-seconds",
        vec![(String::new(), seconds(node.core_nanoseconds), time(&node))],
    );
    family(
        "node_memory_working_set_bytes",
        "gauge",
        "Current working set of the node in bytes",
        vec![(String::new(), node.working_set_bytes as f64, time(&node))],
    );
    family(
        "pod_cpu_usage_seconds_total",
        "counter",
        "Cumulative cpu time consumed by the pod in core-seconds",
        pods.iter()
            .map(|(l, t)| (l.clone(), seconds(t.core_nanoseconds), time(t)))
            .collect(),
    );
    family(
        "pod_memory_working_set_bytes",
        "gauge",
        "Current working set of the pod in bytes",
        pods.iter()
            .map(|(l, t)| (l.clone(), t.working_set_bytes as f64, time(t)))
            .collect(),
    );
    let _ = writeln!(
        out,
        "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0"
    );
    out
}
