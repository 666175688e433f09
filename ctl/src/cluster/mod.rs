//! `miniktl cluster up|down|status`: a whole minik cluster as background
//! processes on this machine — what `kind create cluster` or `minikube
//! start` do with containers and VMs.
//!
//! `up` starts minik-apiserver, then minik-controller, minik-scheduler, one
//! minik-kubelet per node (`node-1`..`node-N`), minik-proxy and minik-dns;
//! it returns once every node is Ready and the cluster DNS answers, with
//! `<home>/kubeconfig` written for miniktl and the real kubectl. Running it
//! again is a no-op (crashed components are reported and restarted).
//! `down` stops the processes and removes what they left on the host: the
//! cluster's containers, its Docker network, the proxy's iptables rules
//! (`minik-proxy --cleanup`) and the service-CIDR route.
//! `status` reports each component's health.
//! `backup FILE` / `restore FILE` save and rebuild the store ([`backup`]).
//!
//! - [`home`]: the directory layout (`~/.minik` or `$MINIK_HOME`).
//! - [`process`]: finding binaries, spawning, liveness, stopping.
//! - [`docker`]: images (built offline by `images/build.sh` when missing),
//!   the bridge network, container/network/route cleanup.
//! - [`dns_probe`]: the one DNS query that tells DNS is up.
//!
//! `--isolated` (for tests and side-by-side clusters) adds no host route
//! and no iptables rules: the proxy serves ClusterIPs on a loopback range
//! in userspace mode, DNS and the ingress
//! listen on free loopback ports and kubelets on ephemeral ports.

pub mod backup;
pub mod dns_probe;
pub mod docker;
pub mod home;
pub mod process;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conditions;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::io::Io;
use crate::resources;
use crate::url::{encode_query, resource_path};
use home::Home;
use process::Spec;

/// Start, stop and inspect a local minik cluster.
#[derive(clap::Subcommand, Debug)]
pub enum ClusterCmd {
    /// Start a cluster (or make sure it runs) and wait until it is ready.
    Up(UpArgs),
    /// Stop the cluster and remove its containers, network, rules and route.
    Down {
        #[command(flatten)]
        home: HomeArg,
        /// Also delete the cluster's data (store, kubelet dirs, logs, kubeconfig).
        #[arg(long = "purge")]
        purge: bool,
    },
    /// Show each component's health.
    Status {
        #[command(flatten)]
        home: HomeArg,
    },
    /// Save a snapshot of the running cluster's store to FILE (etcdctl snapshot save).
    Backup {
        #[command(flatten)]
        home: HomeArg,
        file: PathBuf,
    },
    /// Replace the stopped cluster's store with the snapshot in FILE, keeping the old one aside.
    Restore {
        #[command(flatten)]
        home: HomeArg,
        file: PathBuf,
    },
}

/// `--home DIR` (else `$MINIK_HOME`, else `~/.minik`).
#[derive(clap::Args, Debug, Clone)]
pub struct HomeArg {
    #[arg(long = "home", value_name = "DIR")]
    pub home: Option<PathBuf>,
}

impl HomeArg {
    fn resolve(&self) -> Home {
        Home::new(self.home.clone().unwrap_or_else(home::default_home))
    }
}

/// Container runtime for the nodes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Sim,
}

impl Runtime {
    fn flag(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Sim => "sim",
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Number of nodes (kubelets).
    #[arg(long = "nodes", default_value_t = 1)]
    pub nodes: usize,
    /// docker: real containers; sim: a simulated runtime (no Docker needed).
    #[arg(long = "runtime", value_enum, default_value = "docker")]
    pub runtime: Runtime,
    /// The cluster's name (labels its containers; names its Docker network).
    #[arg(long = "name", default_value = "minik")]
    pub name: String,
    /// API server port on 127.0.0.1 (0: any free port).
    #[arg(long = "api-port", default_value_t = 6443)]
    pub api_port: u16,
    /// No host route or iptables rules; loopback ClusterIPs and free ports (side-by-side clusters, tests).
    #[arg(long = "isolated")]
    pub isolated: bool,
    /// Give up waiting for readiness after this many seconds.
    #[arg(long = "wait", default_value_t = 60)]
    pub wait: u64,
}

/// How a cluster was started, kept in `<home>/cluster.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    name: String,
    runtime: Runtime,
    nodes: usize,
    isolated: bool,
    network: String,
    /// Whether `up` created the Docker network (so `down` removes it).
    created_network: bool,
    server: String,
    dns: SocketAddr,
    components: Vec<StoredSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSpec {
    id: String,
    binary: PathBuf,
    args: Vec<String>,
}

impl StoredSpec {
    fn spec(&self) -> Spec {
        Spec {
            id: self.id.clone(),
            binary: self.binary.clone(),
            args: self.args.iter().map(OsString::from).collect(),
        }
    }
    fn binary_name(&self) -> String {
        self.binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn load_state(home: &Home) -> Option<State> {
    serde_json::from_str(&std::fs::read_to_string(home.state_file()).ok()?).ok()
}

fn save_state(home: &Home, state: &State) -> Result<()> {
    std::fs::write(
        home.state_file(),
        serde_json::to_string_pretty(state).expect("state serializes"),
    )?;
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl ClusterCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            ClusterCmd::Up(args) => up(ctx, args).await,
            ClusterCmd::Down { home, purge } => down(ctx, &home.resolve(), purge).await,
            ClusterCmd::Status { home } => status(ctx, &home.resolve()).await,
            ClusterCmd::Backup { home, file } => backup::backup(ctx, &home, &file).await,
            ClusterCmd::Restore { home, file } => backup::restore(ctx, &home, &file).await,
        }
    }
}

/// A context talking to the cluster in `home`, printing to `ctx`'s streams.
fn cluster_ctx(ctx: &Ctx, home: &Home) -> Ctx {
    let io: Io = ctx.io.clone();
    Ctx::new(io, Some(home.kubeconfig()), None)
}

async fn up(ctx: &Ctx, args: UpArgs) -> Result<()> {
    let start = Instant::now();
    let home = args.home.resolve();
    if args.nodes == 0 {
        return Err(Error::Usage("--nodes must be at least 1".into()));
    }
    if let Some(state) = load_state(&home) {
        if running(&state, &home, "apiserver") {
            return ensure_running(ctx, &home, state, args.wait).await;
        }
        // Left over from a stopped or crashed cluster: stop what remains, start again.
        for c in &state.components {
            if let Some(pid) = process::read_pid(&home, &c.id) {
                process::stop(pid, &c.binary_name(), Duration::from_secs(3));
            }
        }
    }
    let binaries: BTreeMap<&str, PathBuf> = process::find_all()?.into_iter().collect();
    for d in [home.data(), home.logs(), home.pids()] {
        std::fs::create_dir_all(&d).map_err(|source| Error::File {
            path: d.clone(),
            source,
        })?;
    }
    ctx.print(&format!(
        "Starting minik cluster \"{}\" in {} ({} node{}, {} runtime)\n",
        args.name,
        home.path().display(),
        args.nodes,
        if args.nodes == 1 { "" } else { "s" },
        args.runtime.flag()
    ));
    let mut node_ip: Option<String> = None;
    let mut created_network = false;
    let network = args.name.clone();
    if args.runtime == Runtime::Docker {
        if !docker::available().await {
            return Err(Error::Cluster(
                "the Docker engine is not answering (is dockerd running?). Start it, or use `miniktl cluster up --runtime sim`".into(),
            ));
        }
        let missing = docker::missing_images().await?;
        if missing.is_empty() {
            ctx.print(
                " ✓ images present (minik/pause:3.10, busybox, minik/web:v1, minik/web:v2)\n",
            );
        } else {
            ctx.print(&format!(
                " • building missing images offline: {}\n",
                missing.join(", ")
            ));
            docker::build_images().await?;
            ctx.print(" ✓ images built (images/build.sh)\n");
        }
        let subnet = (!args.isolated).then_some("10.244.0.0/16");
        let (gw, created) = docker::ensure_network(&network, &args.name, subnet).await?;
        created_network = created;
        ctx.print(&format!(" ✓ Docker network {network} (node IP {gw})\n"));
        node_ip = Some(gw);
    }
    // The API server first: everything else needs its kubeconfig.
    let _ = std::fs::remove_file(home.kubeconfig());
    let api_spec = Spec {
        id: "apiserver".into(),
        binary: binaries["minik-apiserver"].clone(),
        args: vec![
            "--data-dir".into(),
            home.apiserver_data().into_os_string(),
            "--listen".into(),
            format!("127.0.0.1:{}", args.api_port).into(),
            "--write-kubeconfig".into(),
            home.kubeconfig().into_os_string(),
        ],
    };
    let api_pid = process::spawn(&home, &api_spec)?;
    let server = wait_for_apiserver(&home, api_pid, Duration::from_secs(args.wait)).await?;
    ctx.print(&format!(" ✓ minik-apiserver serving at {server}\n"));
    let kubeconfig: OsString = home.kubeconfig().into_os_string();
    let dns = if args.isolated {
        SocketAddr::from(([127, 0, 0, 1], free_port()?))
    } else {
        SocketAddr::from(([127, 0, 0, 1], 10053))
    };
    let mut specs: Vec<Spec> = vec![
        Spec {
            id: "controller".into(),
            binary: binaries["minik-controller"].clone(),
            args: vec!["--kubeconfig".into(), kubeconfig.clone()],
        },
        Spec {
            id: "scheduler".into(),
            binary: binaries["minik-scheduler"].clone(),
            args: vec!["--kubeconfig".into(), kubeconfig.clone()],
        },
    ];
    for i in 1..=args.nodes {
        let node = format!("node-{i}");
        let listen = if args.isolated {
            "127.0.0.1:0".to_string()
        } else {
            format!("127.0.0.1:{}", 10250 + i - 1)
        };
        let mut a: Vec<OsString> = vec![
            "--kubeconfig".into(),
            kubeconfig.clone(),
            "--node-name".into(),
            node.clone().into(),
            "--runtime".into(),
            args.runtime.flag().into(),
            "--root-dir".into(),
            home.kubelet_root(&node).into_os_string(),
            "--cluster-name".into(),
            args.name.clone().into(),
            "--network".into(),
            network.clone().into(),
            "--listen".into(),
            listen.into(),
        ];
        if args.isolated {
            a.push("--network-subnet".into());
            a.push("".into());
        }
        specs.push(Spec {
            id: format!("kubelet-{node}"),
            binary: binaries["minik-kubelet"].clone(),
            args: a,
        });
    }
    let mut proxy_args: Vec<OsString> = vec!["--kubeconfig".into(), kubeconfig.clone()];
    if let Some(ip) = &node_ip {
        proxy_args.push("--node-ip".into());
        proxy_args.push(ip.into());
    }
    if args.isolated {
        let second: u8 = 100 + (rand::random::<u8>() % 100);
        proxy_args.extend([
            "--no-route".into(),
            "--proxy-mode".into(),
            "userspace".into(),
            "--cluster-ip-loopback".into(),
            format!("127.{second}.0.0").into(),
            "--ingress-listen".into(),
            format!("127.0.0.1:{}", free_port()?).into(),
        ]);
    }
    specs.push(Spec {
        id: "proxy".into(),
        binary: binaries["minik-proxy"].clone(),
        args: proxy_args,
    });
    let mut dns_args: Vec<OsString> = vec!["--kubeconfig".into(), kubeconfig.clone()];
    if !args.isolated {
        dns_args.extend(["--listen".into(), "10.96.0.10:53".into()]);
    }
    dns_args.extend(["--listen".into(), dns.to_string().into()]);
    specs.push(Spec {
        id: "dns".into(),
        binary: binaries["minik-dns"].clone(),
        args: dns_args,
    });
    let mut state = State {
        name: args.name.clone(),
        runtime: args.runtime,
        nodes: args.nodes,
        isolated: args.isolated,
        network,
        created_network,
        server: server.clone(),
        dns,
        components: std::iter::once(&api_spec)
            .chain(specs.iter())
            .map(|s| StoredSpec {
                id: s.id.clone(),
                binary: s.binary.clone(),
                args: s
                    .args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            })
            .collect(),
    };
    save_state(&home, &state)?;
    for s in &specs {
        process::spawn(&home, s)?;
    }
    ctx.print(&format!(
        " ✓ started minik-controller, minik-scheduler, {} minik-kubelet{}, minik-proxy, minik-dns\n",
        args.nodes,
        if args.nodes == 1 { "" } else { "s" }
    ));
    wait_ready(ctx, &home, &state, Duration::from_secs(args.wait)).await?;
    state.server = server.clone();
    save_state(&home, &state)?;
    ctx.print(&format!(
        "Cluster \"{}\" is ready in {:.1}s. kubeconfig: {}\n\n\
         Try:\n  miniktl get nodes\n  miniktl create deployment web --image=minik/web:v1 --replicas=3\n  miniktl expose deployment web --port=80\n  miniktl apply -f examples/rolling-update/   (see examples/README.md)\n\
         For the real kubectl:  export KUBECONFIG={}\n\
         Stop it with:  miniktl cluster down   (--purge also deletes its data)\n",
        args.name,
        start.elapsed().as_secs_f64(),
        home.kubeconfig().display(),
        home.kubeconfig().display()
    ));
    Ok(())
}

fn running(state: &State, home: &Home, id: &str) -> bool {
    state
        .components
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| {
            process::read_pid(home, &c.id).map(|pid| process::alive(pid, &c.binary_name()))
        })
        .unwrap_or(false)
}

/// `up` on a running cluster: report (and restart) crashed components,
/// then check readiness.
async fn ensure_running(ctx: &Ctx, home: &Home, state: State, wait: u64) -> Result<()> {
    let mut restarted = Vec::new();
    for c in &state.components {
        if !running(&state, home, &c.id) {
            ctx.print(&format!(
                " ! {} ({}) had exited; last log lines:\n{}\n   restarting it\n",
                c.id,
                c.binary_name(),
                indent(&process::log_tail(home, &c.id, 5))
            ));
            process::spawn(home, &c.spec())?;
            restarted.push(c.id.clone());
        }
    }
    wait_ready(ctx, home, &state, Duration::from_secs(wait)).await?;
    if restarted.is_empty() {
        ctx.print(&format!(
            "Cluster \"{}\" is already running ({}); nothing to do. kubeconfig: {}\n",
            state.name,
            home.path().display(),
            home.kubeconfig().display()
        ));
    } else {
        ctx.print(&format!(
            "Cluster \"{}\" is running again (restarted: {}).\n",
            state.name,
            restarted.join(", ")
        ));
    }
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("     {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits for the API server's kubeconfig and `/healthz`; fails early if it exits.
async fn wait_for_apiserver(home: &Home, pid: u32, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if !process::alive(pid, "minik-apiserver") {
            return Err(Error::Cluster(format!(
                "minik-apiserver exited during startup; last log lines:\n{}\n(full log: {})",
                indent(&process::log_tail(home, "apiserver", 10)),
                home.log("apiserver").display()
            )));
        }
        if let Ok(text) = std::fs::read_to_string(home.kubeconfig()) {
            if let Some(server) = text.lines().find_map(|l| l.trim().strip_prefix("server: ")) {
                let addr = server.trim_start_matches("http://").to_string();
                if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").await;
                    let mut buf = Vec::new();
                    let _ = s.read_to_end(&mut buf).await;
                    if String::from_utf8_lossy(&buf).contains("200") {
                        return Ok(server.to_string());
                    }
                }
            }
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout(
                "minik-apiserver did not become healthy in time".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every node Ready (watched), then DNS answering; a component that exits
/// meanwhile is reported with its log.
async fn wait_ready(ctx: &Ctx, home: &Home, state: &State, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let api = cluster_ctx(ctx, home);
    let info = resources::resolve("nodes")?;
    let wanted: Vec<String> = (1..=state.nodes).map(|i| format!("node-{i}")).collect();
    let is_ready = |n: &Value| conditions::is_true(n, "Ready");
    let crashed = |state: &State| -> Option<String> {
        state
            .components
            .iter()
            .find(|c| !running(state, home, &c.id))
            .map(|c| {
                format!(
                    "{} ({}) exited; last log lines:\n{}\n(full log: {})",
                    c.id,
                    c.binary_name(),
                    indent(&process::log_tail(home, &c.id, 10)),
                    home.log(&c.id).display()
                )
            })
    };
    let mut ready: BTreeMap<String, bool> = BTreeMap::new();
    let nodes_ready = async {
        loop {
            let list = api
                .raw_get(&resource_path(info, None, None, None), "application/json")
                .await?;
            for n in list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                ready.insert(minik_api::meta::name(&n).to_string(), is_ready(&n));
            }
            if wanted.iter().all(|w| ready.get(w) == Some(&true)) {
                return Ok::<(), Error>(());
            }
            let rv = list
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("0")
                .to_string();
            let path = format!(
                "{}{}",
                resource_path(info, None, None, None),
                encode_query(&[("watch", "1".into()), ("resourceVersion", rv)])
            );
            let mut stream = Box::pin(api.raw_watch(&path, "application/json").await?);
            while let Some(ev) = stream.next().await {
                let Ok((_, n)) = ev else { break };
                ready.insert(minik_api::meta::name(&n).to_string(), is_ready(&n));
                if wanted.iter().all(|w| ready.get(w) == Some(&true)) {
                    return Ok(());
                }
            }
        }
    };
    tokio::pin!(nodes_ready);
    let mut check = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            r = &mut nodes_ready => { r?; break; }
            _ = check.tick() => {
                if let Some(c) = crashed(state) {
                    return Err(Error::Cluster(c));
                }
                if Instant::now() > deadline {
                    return Err(Error::Timeout(format!(
                        "nodes not Ready after {}s (see {}/kubelet-node-*.log)",
                        timeout.as_secs(),
                        home.logs().display()
                    )));
                }
            }
        }
    }
    ctx.print(&format!(
        " ✓ node{} Ready: {}\n",
        if wanted.len() == 1 { "" } else { "s" },
        wanted.join(", ")
    ));
    loop {
        if let Some(ip) =
            dns_probe::query_a(state.dns, dns_probe::PROBE_NAME, Duration::from_millis(200)).await
        {
            ctx.print(&format!(
                " ✓ DNS answers: {} → {ip}\n",
                dns_probe::PROBE_NAME
            ));
            break;
        }
        if let Some(c) = crashed(state) {
            return Err(Error::Cluster(c));
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout(format!(
                "the cluster DNS at {} did not answer for {} in time (see {})",
                state.dns,
                dns_probe::PROBE_NAME,
                home.log("dns").display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(c) = crashed(state) {
        return Err(Error::Cluster(c));
    }
    Ok(())
}

async fn down(ctx: &Ctx, home: &Home, purge: bool) -> Result<()> {
    let Some(state) = load_state(home) else {
        if purge && home.path().exists() {
            remove_data(home)?;
            ctx.print(&format!(
                "No cluster state in {}; removed its data.\n",
                home.path().display()
            ));
            return Ok(());
        }
        ctx.print(&format!(
            "No minik cluster in {} (nothing to stop).\n",
            home.path().display()
        ));
        return Ok(());
    };
    // Stop in reverse start order: the API server last.
    let mut stopped = Vec::new();
    for c in state.components.iter().rev() {
        if let Some(pid) = process::read_pid(home, &c.id) {
            if process::alive(pid, &c.binary_name()) {
                let (pid, bin) = (pid, c.binary_name());
                tokio::task::spawn_blocking(move || {
                    process::stop(pid, &bin, Duration::from_secs(5))
                })
                .await
                .map_err(|e| Error::Cluster(e.to_string()))?;
                stopped.push(c.id.clone());
            }
            let _ = std::fs::remove_file(home.pid_file(&c.id));
        }
    }
    ctx.print(&format!(
        "Stopped {} component(s) of cluster \"{}\".\n",
        stopped.len(),
        state.name
    ));
    if state.runtime == Runtime::Docker && docker::available().await {
        let n = docker::remove_containers(&state.name).await?;
        ctx.print(&format!(
            "Removed {n} container(s) labelled minik.cluster={}.\n",
            state.name
        ));
        if docker::remove_network(&state.network).await {
            ctx.print(&format!("Removed Docker network {}.\n", state.network));
        }
    }
    if !state.isolated {
        if let Some(proxy) = state.components.iter().find(|c| c.id == "proxy") {
            let cleanup = tokio::process::Command::new(&proxy.binary)
                .arg("--cleanup")
                .stdin(std::process::Stdio::null())
                .output()
                .await;
            if cleanup.is_ok_and(|o| o.status.success() && !o.stdout.is_empty()) {
                ctx.print("Removed the proxy's iptables rules.\n");
            }
        }
    }
    if !state.isolated && docker::remove_service_route().await {
        ctx.print(&format!(
            "Removed the local route for {}.\n",
            docker::SERVICE_CIDR
        ));
    }
    let _ = std::fs::remove_file(home.state_file());
    if purge {
        remove_data(home)?;
        ctx.print(&format!(
            "Deleted the cluster's data in {}.\n",
            home.path().display()
        ));
    }
    Ok(())
}

fn remove_data(home: &Home) -> Result<()> {
    for p in [home.data(), home.logs(), home.pids()] {
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|source| Error::File {
                path: p.clone(),
                source,
            })?;
        }
    }
    for f in [home.kubeconfig(), home.state_file()] {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

async fn status(ctx: &Ctx, home: &Home) -> Result<()> {
    let Some(state) = load_state(home) else {
        return Err(Error::Cluster(format!(
            "no minik cluster in {}. Start one with `miniktl cluster up`",
            home.path().display()
        )));
    };
    let api = cluster_ctx(ctx, home);
    let nodes: BTreeMap<String, bool> = match api
        .list(resources::resolve("nodes")?, None, None, None)
        .await
    {
        Ok(list) => list
            .iter()
            .map(|n| {
                let ready = conditions::is_true(n, "Ready");
                (minik_api::meta::name(n).to_string(), ready)
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    let mut tw = crate::printers::tabwriter::TabWriter::for_tables();
    tw.write_str("COMPONENT\tPID\tSTATUS\n");
    let mut healthy = true;
    for c in &state.components {
        let pid = process::read_pid(home, &c.id);
        let alive = pid.is_some_and(|p| process::alive(p, &c.binary_name()));
        let detail = if !alive {
            healthy = false;
            format!("exited (see {})", home.log(&c.id).display())
        } else if c.id == "apiserver" {
            format!("running, serving {}", state.server)
        } else if let Some(node) = c.id.strip_prefix("kubelet-") {
            match nodes.get(node) {
                Some(true) => format!("running, {node} Ready"),
                Some(false) => {
                    healthy = false;
                    format!("running, {node} NotReady")
                }
                None => {
                    healthy = false;
                    format!("running, {node} not registered")
                }
            }
        } else if c.id == "dns" {
            match dns_probe::query_a(state.dns, dns_probe::PROBE_NAME, Duration::from_millis(500))
                .await
            {
                Some(ip) => format!("running, answers {} → {ip}", dns_probe::PROBE_NAME),
                None => {
                    healthy = false;
                    format!("running, not answering on {}", state.dns)
                }
            }
        } else {
            "running".to_string()
        };
        tw.write_str(&format!(
            "{}\t{}\t{detail}\n",
            c.binary_name()
                + &c.id
                    .strip_prefix("kubelet")
                    .map(|n| format!(" ({})", n.trim_start_matches('-')))
                    .unwrap_or_default(),
            pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
        ));
    }
    ctx.print(&format!(
        "Cluster \"{}\" in {} ({} runtime, {} node{})\n{}",
        state.name,
        home.path().display(),
        state.runtime.flag(),
        state.nodes,
        if state.nodes == 1 { "" } else { "s" },
        tw.flush()
    ));
    if !healthy {
        return Err(Error::Cluster(
            "some components are not healthy; `miniktl cluster up` restarts exited ones".into(),
        ));
    }
    Ok(())
}
