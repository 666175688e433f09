//! The resource-metrics pipeline of metrics-server, built in: every
//! `--metrics-resolution` (15 s) the API server scrapes each node's kubelet
//! (`GET /metrics/resource`, Prometheus text) and keeps the last two
//! samples of every node and container in memory; CPU usage is the rate
//! between them, memory the latest working set. `rest/metrics_api.rs`
//! serves them as metrics.k8s.io NodeMetrics and PodMetrics.
//!
//! Only the API server reaches the kubelets, so the scraper lives here
//! (metrics-server is a separate process behind the aggregation layer in
//! Kubernetes). A node that does not answer within the scrape timeout has
//! no metrics until it answers again; the others are unaffected.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::AppState;

/// Nodes scraped at once.
const CONCURRENT_SCRAPES: usize = 64;
/// The longest a kubelet may take to answer (never more than the resolution).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// One sample: cumulative CPU seconds and working set at a kubelet time (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub time_ms: i64,
    pub cpu_seconds: f64,
    pub memory_bytes: u64,
}

/// The two latest samples of one node or container.
#[derive(Debug, Clone, Copy)]
struct Series {
    previous: Option<Point>,
    last: Point,
    /// The container's start (s since epoch): a restart resets its counter.
    started: Option<i64>,
}

impl Series {
    fn push(old: Option<&Series>, last: Point, started: Option<i64>) -> Series {
        match old {
            // The same sample again (a kubelet answering from its cache).
            Some(o) if o.last.time_ms == last.time_ms && o.started == started => *o,
            _ => Series {
                previous: old
                    .filter(|o| o.last.time_ms < last.time_ms && o.started == started)
                    .map(|o| o.last),
                last,
                started,
            },
        }
    }

    fn usage(&self) -> Option<Usage> {
        let p = self.previous?;
        let window_ms = self.last.time_ms - p.time_ms;
        if window_ms <= 0 || self.last.cpu_seconds < p.cpu_seconds {
            return None;
        }
        let rate = (self.last.cpu_seconds - p.cpu_seconds) / (window_ms as f64 / 1000.0);
        Some(Usage {
            time_ms: self.last.time_ms,
            window_ms,
            nano_cores: (rate * 1e9).round() as i64,
            memory_bytes: self.last.memory_bytes as i64,
        })
    }
}

/// Usage over a window, as NodeMetrics and PodMetrics report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub time_ms: i64,
    pub window_ms: i64,
    pub nano_cores: i64,
    pub memory_bytes: i64,
}

/// What one node's kubelet reported.
#[derive(Debug, Default, Clone)]
struct NodeSamples {
    node: Option<Series>,
    /// (namespace, pod) → container → series.
    pods: HashMap<(String, String), HashMap<String, Series>>,
}

/// The scraped samples of every node, and the resolution they are taken at.
pub struct Scraped {
    pub resolution: Duration,
    nodes: RwLock<HashMap<String, NodeSamples>>,
}

impl Scraped {
    pub fn new(resolution: Duration) -> Self {
        Self {
            resolution,
            nodes: RwLock::default(),
        }
    }

    /// The node's usage, once it has been scraped twice.
    pub fn node(&self, name: &str) -> Option<Usage> {
        self.nodes.read().unwrap().get(name)?.node?.usage()
    }

    /// Each container's usage of pod `namespace/name` on `node`; `None`
    /// unless every container has a rate (metrics-server leaves such a pod
    /// out rather than report part of it).
    pub fn pod(&self, node: &str, namespace: &str, name: &str) -> Option<Vec<(String, Usage)>> {
        let nodes = self.nodes.read().unwrap();
        let containers = nodes
            .get(node)?
            .pods
            .get(&(namespace.to_string(), name.to_string()))?;
        let mut out = containers
            .iter()
            .map(|(c, s)| Some((c.clone(), s.usage()?)))
            .collect::<Option<Vec<_>>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Some(out)
    }

    /// Records one node's scrape (or its failure: the node's metrics go).
    fn record(&self, node: &str, parsed: Option<Parsed>) {
        let mut nodes = self.nodes.write().unwrap();
        let Some(parsed) = parsed else {
            nodes.remove(node);
            return;
        };
        let old = nodes.remove(node).unwrap_or_default();
        let mut new = NodeSamples {
            node: parsed
                .node
                .map(|p| Series::push(old.node.as_ref(), p, None)),
            pods: HashMap::new(),
        };
        for ((namespace, pod, container), point) in parsed.containers {
            let started = parsed
                .started
                .get(&(namespace.clone(), pod.clone(), container.clone()))
                .copied();
            let key = (namespace, pod);
            let previous = old.pods.get(&key).and_then(|c| c.get(&container));
            new.pods
                .entry(key)
                .or_default()
                .insert(container, Series::push(previous, point, started));
        }
        nodes.insert(node.to_string(), new);
    }

    /// Drops nodes that are gone.
    fn retain(&self, nodes: &[String]) {
        self.nodes
            .write()
            .unwrap()
            .retain(|n, _| nodes.iter().any(|m| m == n));
    }
}

/// What one `/metrics/resource` answer holds.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub node: Option<Point>,
    pub containers: HashMap<(String, String, String), Point>,
    pub started: HashMap<(String, String, String), i64>,
}

/// Reads the kubelet's resource metrics (Prometheus text format: `name{labels} value timestamp`).
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut node = (None, None, 0i64);
    let mut cpu: HashMap<(String, String, String), (f64, i64)> = HashMap::new();
    let mut memory: HashMap<(String, String, String), (u64, i64)> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let Some(close) = line[open..].find('}').map(|c| open + c) else {
                    continue;
                };
                (&line[..open], &line[open + 1..close], &line[close + 1..])
            }
            None => match line.split_once(' ') {
                Some((n, r)) => (n, "", r),
                None => continue,
            },
        };
        let mut fields = rest.split_whitespace();
        let Some(value) = fields.next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let time = fields
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0);
        let label = |key: &str| {
            labels.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        let container_key = || Some((label("namespace")?, label("pod")?, label("container")?));
        match name {
            "node_cpu_usage_seconds_total" => node = (Some(value), node.1, time),
            "node_memory_working_set_bytes" => {
                node = (node.0, Some(value as u64), node.2.max(time))
            }
            "container_cpu_usage_seconds_total" => {
                if let Some(k) = container_key() {
                    cpu.insert(k, (value, time));
                }
            }
            "container_memory_working_set_bytes" => {
                if let Some(k) = container_key() {
                    memory.insert(k, (value as u64, time));
                }
            }
            "container_start_time_seconds" => {
                if let Some(k) = container_key() {
                    out.started.insert(k, value as i64);
                }
            }
            _ => {}
        }
    }
    if let (Some(cpu_seconds), Some(memory_bytes)) = (node.0, node.1) {
        out.node = Some(Point {
            time_ms: node.2,
            cpu_seconds,
            memory_bytes,
        });
    }
    for (key, (cpu_seconds, time_ms)) in cpu {
        let memory_bytes = memory.get(&key).map_or(0, |m| m.0);
        out.containers.insert(
            key,
            Point {
                time_ms,
                cpu_seconds,
                memory_bytes,
            },
        );
    }
    out
}

/// Scrapes every node once per resolution until the server stops.
pub async fn run(state: Arc<AppState>) {
    let resolution = state
        .resource_metrics
        .resolution
        .max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(resolution);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        scrape_all(&state).await;
    }
}

/// One round: every node with a kubelet port, `CONCURRENT_SCRAPES` at a time.
pub async fn scrape_all(state: &Arc<AppState>) {
    let nodes = node_names(state);
    state.resource_metrics.retain(&nodes);
    let timeout = state.resource_metrics.resolution.min(SCRAPE_TIMEOUT);
    futures::stream::iter(nodes)
        .map(|node| async move {
            let parsed = tokio::time::timeout(timeout, scrape(state, &node))
                .await
                .ok()
                .flatten();
            state.resource_metrics.record(&node, parsed);
        })
        .buffer_unordered(CONCURRENT_SCRAPES)
        .collect::<()>()
        .await;
}

fn node_names(state: &AppState) -> Vec<String> {
    let nodes = minik_api::catalogue::lookup("", "v1", "nodes").expect("nodes are served");
    let mut names = Vec::new();
    let _ = state
        .store
        .scan(&nodes.key_prefix(), None, &mut |_, bytes| {
            if let Ok(node) = serde_json::from_slice::<Value>(bytes) {
                names.push(minik_api::meta::name(&node).to_string());
            }
            true
        });
    names
}

async fn scrape(state: &AppState, node: &str) -> Option<Parsed> {
    let response = crate::rest::proxy::node_proxy(state, node, "/metrics/resource", None)
        .await
        .map_err(|e| tracing::debug!(node, error = ?e.status(), "metrics scrape failed"))
        .ok()?;
    if !response.status().is_success() {
        tracing::debug!(node, status = %response.status(), "metrics scrape failed");
        return None;
    }
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some(parse(std::str::from_utf8(&body).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="web",namespace="default",pod="web-1"} 2.5 1700000010000
container_memory_working_set_bytes{container="web",namespace="default",pod="web-1"} 1048576 1700000010000
container_start_time_seconds{container="web",namespace="default",pod="web-1"} 1699990000 1700000010000
node_cpu_usage_seconds_total 7.5 1700000010000
node_memory_working_set_bytes 4194304 1700000010000
resource_scrape_error 0
"#;

    #[test]
    fn parses_the_kubelets_resource_metrics() {
        let p = parse(TEXT);
        let key = ("default".into(), "web-1".into(), "web".into());
        assert_eq!(
            p.containers[&key],
            Point {
                time_ms: 1_700_000_010_000,
                cpu_seconds: 2.5,
                memory_bytes: 1 << 20
            }
        );
        assert_eq!(p.started[&key], 1_699_990_000);
        assert_eq!(p.node.unwrap().cpu_seconds, 7.5);
    }

    #[test]
    fn cpu_is_the_rate_between_two_scrapes_and_a_restart_resets_it() {
        let s = Scraped::new(Duration::from_secs(15));
        s.record("n1", Some(parse(TEXT)));
        assert_eq!(
            s.pod("n1", "default", "web-1"),
            None,
            "one sample has no rate"
        );
        let later = TEXT
            .replace("1700000010000", "1700000020000")
            .replace(" 2.5 ", " 3.0 ")
            .replace(" 7.5 ", " 9.5 ");
        s.record("n1", Some(parse(&later)));
        let pod = s.pod("n1", "default", "web-1").unwrap();
        assert_eq!(pod[0].1.nano_cores, 50_000_000, "0.5 s of CPU over 10 s");
        assert_eq!(pod[0].1.window_ms, 10_000);
        assert_eq!(s.node("n1").unwrap().nano_cores, 200_000_000);
        let restarted = later
            .replace("1700000020000", "1700000030000")
            .replace("1699990000", "1700000025");
        s.record("n1", Some(parse(&restarted)));
        assert_eq!(s.pod("n1", "default", "web-1"), None);
        s.record("n1", None);
        assert_eq!(
            s.node("n1"),
            None,
            "a node that stops answering has no metrics"
        );
    }
}
