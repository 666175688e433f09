//! Benchmark of pods at scale, end to end (issue 18): a simulated cluster
//! from `miniktl cluster up --runtime sim --nodes N`, then D Deployments of
//! R replicas applied at once, timed until every pod is Running (one watch
//! counts them). Prints, in the same run: the control plane's memory at
//! 100 pods (one small Deployment first), the pods/s end to end, how long
//! the real `kubectl get pods -A` takes at that size (in pages, as kubectl
//! asks by default, and whole with `--chunk-size=0`; then both against the
//! same answers served from memory, the floor for any API server: see
//! `kubectl_floor`), and each component's memory at the end: proportional
//! (PSS, the measure that adds up across processes sharing the `minik`
//! executable's code) beside resident (RSS).
//!
//! `cargo build --release --bin minik --bin miniktl --bin bench-pods && target/release/bench-pods [--nodes 1000] [--deployments 10] [--replicas 1000] [--timeout 600] [--settle 0]`
//!
//! Also prints the requests each pod cost during the burst, by client, verb
//! and resource, from the API server's `apiserver_request_total`.
//!
//! `--settle S` waits S seconds once all is measured and prints each
//! component's memory again: what a component keeps once the burst's work
//! is done, apart from what it held while finishing it.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use minik_tests::{bench_arg, kubectl_floor, sibling_binary, ClusterDown, Memory};
use serde_json::json;

/// Memory (PSS and RSS, MB) of each minik process started from `home`.
fn memory(home: &Path) -> Vec<(String, Memory)> {
    per_process(home, Memory::of)
}

/// CPU seconds (user + system) each minik process started from `home` has
/// used so far: the difference across the burst says where the time went.
fn cpu_seconds(home: &Path) -> Vec<(String, f64)> {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    per_process(home, |dir| {
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th of the whole line.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (tick(11) + tick(12)) / ticks
    })
}

/// `measure` of each minik process started from `home`, by the name it
/// runs under (argv[0]: `minik-apiserver`, …; summed when a component runs
/// more than once), sorted by name.
fn per_process<T: std::ops::AddAssign + Copy>(
    home: &Path,
    measure: impl Fn(&Path) -> T,
) -> Vec<(String, T)> {
    let mut out = Vec::new();
    let home = home.display().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = entry.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let Some(exe) = cmdline.split(' ').next() else {
            continue;
        };
        let name = exe.rsplit('/').next().unwrap_or("").to_string();
        if !name.starts_with("minik-") || !cmdline.contains(&home) {
            continue;
        }
        let value = measure(&dir);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v += value,
            None => out.push((name, value)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn print_memory(when: &str, home: &Path) {
    let m = memory(home);
    let mut control = Memory::default();
    // Issue 18's "control plane": API server, controller-manager,
    // scheduler, proxy and DNS; the dashboard came later.
    let mut core = Memory::default();
    for (n, mem) in m.iter().filter(|(n, _)| n != "minik-kubelet") {
        control += *mem;
        if n != "minik-dashboard" {
            core += *mem;
        }
    }
    let parts: Vec<String> = m
        .iter()
        .map(|(n, mem)| format!("{n} {:.0}/{:.0} MB", mem.pss, mem.rss))
        .collect();
    println!(
        "memory    {when}: control plane (all but the kubelet) {:.0} MB proportional (PSS), {:.0} MB resident (RSS); without the dashboard {:.0} MB PSS; each PSS/RSS: {}",
        control.pss,
        control.rss,
        core.pss,
        parts.join(", ")
    );
}

/// The API server's request counters: `(client, verb, resource[/sub], code)` → count.
async fn request_counts(
    client: &kube::Client,
) -> anyhow::Result<BTreeMap<(String, String, String, String), f64>> {
    let req = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(req).await?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split("\",")
                .find_map(|l| l.strip_prefix(name)?.strip_prefix("=\""))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let resource = match label("subresource").as_str() {
            "" => label("resource"),
            sub => format!("{}/{sub}", label("resource")),
        };
        let key = (label("client"), label("verb"), resource, label("code"));
        *out.entry(key).or_default() += value.trim().parse::<f64>().unwrap_or(0.0);
    }
    Ok(out)
}

/// Prints the requests made between two `request_counts`, per pod: the
/// writes by client, verb and resource (non-2xx answers apart), then the
/// reads in all.
fn print_requests(
    before: &BTreeMap<(String, String, String, String), f64>,
    after: &BTreeMap<(String, String, String, String), f64>,
    pods: usize,
) {
    let mut writes: BTreeMap<String, f64> = BTreeMap::new();
    let (mut written, mut reads) = (0.0, 0.0);
    for (key @ (client, verb, resource, code), n) in after {
        let n = n - before.get(key).copied().unwrap_or(0.0);
        if n <= 0.0 {
            continue;
        }
        match verb.as_str() {
            "GET" | "LIST" | "WATCH" => {
                reads += n;
                continue;
            }
            "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION" => {}
            _ => continue,
        }
        written += n;
        let failed = if code.starts_with('2') {
            String::new()
        } else {
            format!(" ({code})")
        };
        *writes
            .entry(format!("{client} {verb} {resource}{failed}"))
            .or_default() += n;
    }
    let pods = pods.max(1) as f64;
    let mut rows: Vec<_> = writes.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rows: Vec<String> = rows
        .iter()
        .map(|(k, n)| format!("{k} {:.2}", n / pods))
        .collect();
    println!(
        "requests  per pod during the burst: {:.2} writes ({}); {:.2} reads",
        written / pods,
        rows.join(", "),
        reads / pods
    );
}

fn deployment(name: &str, replicas: usize) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "minik/web:v1",
                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]},
            },
        },
    }))
    .expect("a Deployment")
}

/// Waits until `want` pods (of those whose name starts with one of
/// `prefixes`) are Running, or `timeout` passes; returns how many were.
async fn running(pods: &Api<Pod>, prefixes: &[String], want: usize, timeout: Duration) -> usize {
    let mut seen: HashSet<String> = HashSet::new();
    let stream = watcher(pods.clone(), watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let deadline = tokio::time::Instant::now() + timeout;
    while seen.len() < want {
        let next = tokio::time::timeout_at(deadline, stream.try_next()).await;
        let Ok(Ok(Some(event))) = next else { break };
        let mut note = |p: &Pod| {
            let name = p.metadata.name.clone().unwrap_or_default();
            if !prefixes.iter().any(|x| name.starts_with(x.as_str())) {
                return;
            }
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            if phase == Some("Running") {
                seen.insert(name);
            } else {
                seen.remove(&name);
            }
        };
        match event {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => note(&p),
            watcher::Event::Delete(p) => {
                seen.remove(&p.metadata.name.clone().unwrap_or_default());
            }
            _ => {}
        }
    }
    seen.len()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let nodes = bench_arg("--nodes", "1000");
    let deployments: usize = bench_arg("--deployments", "10").parse()?;
    let replicas: usize = bench_arg("--replicas", "1000").parse()?;
    let timeout = Duration::from_secs(bench_arg("--timeout", "600").parse()?);
    let settle = Duration::from_secs(bench_arg("--settle", "0").parse()?);
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    let name = format!("bench-pods-{}", std::process::id());
    let miniktl = sibling_binary("miniktl");

    let started = Instant::now();
    let up = Command::new(&miniktl)
        .args([
            "cluster",
            "up",
            "--runtime",
            "sim",
            "--nodes",
            &nodes,
            "--isolated",
        ])
        .args([
            "--api-port",
            "0",
            "--home",
            &home.display().to_string(),
            "--name",
            &name,
        ])
        .stdin(Stdio::null())
        .output()?;
    let down = ClusterDown::new(miniktl.clone(), home.clone());
    anyhow::ensure!(
        up.status.success(),
        "cluster up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    println!(
        "cluster   {nodes} simulated nodes Ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let kubeconfig = home.join("kubeconfig");
    let result = run(&kubeconfig, &home, deployments, replicas, timeout).await;
    if result.is_ok() && !settle.is_zero() {
        tokio::time::sleep(settle).await;
        print_memory(&format!("after {} s idle", settle.as_secs()), &home);
    }
    anyhow::ensure!(down.now(), "cluster down failed");
    result
}

async fn run(
    kubeconfig: &Path,
    home: &Path,
    deployments: usize,
    replicas: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // 100 pods first: the small-cluster memory figure.
    api.create(&PostParams::default(), &deployment("small", 100))
        .await?;
    let got = running(&pods, &["small-".into()], 100, timeout).await;
    anyhow::ensure!(got == 100, "only {got} of the 100 small pods ran");
    tokio::time::sleep(Duration::from_secs(2)).await;
    print_memory("at 100 pods", home);

    let total = deployments * replicas;
    let names: Vec<String> = (0..deployments).map(|i| format!("load-{i}")).collect();
    let requests_before = request_counts(&client).await?;
    let cpu_before = cpu_seconds(home);
    let started = Instant::now();
    futures::stream::iter(names.iter())
        .map(|n| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &deployment(n, replicas))
                    .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let prefixes: Vec<String> = names.iter().map(|n| format!("{n}-")).collect();
    let got = running(&pods, &prefixes, total, timeout).await;
    let took = started.elapsed().as_secs_f64();
    println!(
        "pods      {deployments} Deployments x {replicas}: {got}/{total} Running after {took:.1} s = {:.0} pods/s end to end (target: 30,000 in < 60 s, >= 500 pods/s)",
        got as f64 / took
    );
    let cpu: Vec<String> = cpu_seconds(home)
        .into_iter()
        .map(|(name, after)| {
            let before = cpu_before
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0.0, |(_, v)| *v);
            format!("{name} {:.1} s", after - before)
        })
        .collect();
    print_requests(&requests_before, &request_counts(&client).await?, total);
    println!(
        "cpu       during the burst ({took:.1} s wall, 2 cores here): {}",
        cpu.join(", ")
    );

    let paged = kubectl_floor::run_kubectl(kubeconfig, None, &[]).await?;
    println!(
        "kubectl   get pods -A: {} rows in {:.2} s (target < 2 s)",
        paged.rows,
        paged.took.as_secs_f64()
    );
    print_memory(&format!("at {} pods", got + 100), home);
    anyhow::ensure!(got == total, "not every pod ran within {timeout:?}");
    // Where kubectl's time goes: the whole list in one answer, and both
    // ways again with the server's answers replayed from memory.
    let whole = kubectl_floor::run_kubectl(kubeconfig, None, &["--chunk-size=0"]).await?;
    let answers = kubectl_floor::record(&client).await?;
    let paged_alone = kubectl_floor::time_kubectl(answers.clone(), &[]).await?;
    let whole_alone = kubectl_floor::time_kubectl(answers, &["--chunk-size=0"]).await?;
    println!(
        "kubectl   get pods -A --chunk-size=0: {} rows in {:.2} s; the same answers served from memory on loopback (no server time): pages of 500 {:.2} s ({} requests held back over 50 ms by client-go's rate limit), --chunk-size=0 {:.2} s",
        whole.rows,
        whole.took.as_secs_f64(),
        paged_alone.took.as_secs_f64(),
        paged_alone.throttled,
        whole_alone.took.as_secs_f64()
    );
    anyhow::ensure!(
        whole.rows == paged.rows
            && paged_alone.rows == paged.rows
            && whole_alone.rows == paged.rows,
        "kubectl listed {}, {}, {} and {} rows",
        paged.rows,
        whole.rows,
        paged_alone.rows,
        whole_alone.rows
    );
    Ok(())
}
