//! `miniktl cluster up|down|status`: a whole minik cluster as background
//! processes on this machine — what `kind create cluster` or `minikube
//! start` do with containers and VMs.
//!
//! `up` starts minik-apiserver, then minik-controller, minik-scheduler, one
//! minik-kubelet per node (`node-1`..`node-N`), minik-proxy and minik-dns;
//! and minik-dashboard (on 127.0.0.1, its URL with the cluster's access
//! token printed at the end: `<home>/dashboard-token`, 0600, new per cluster),
//! each as the `minik` executable under that component's name;
//! it returns once every node is Ready and the cluster DNS answers, with
//! `<home>/kubeconfig` written for miniktl and the real kubectl. A new
//! cluster gets the default StorageClass `standard` (provisioner
//! `minik.io/local-path`, `WaitForFirstConsumer`, reclaim `Delete`); its
//! volumes live in `<home>/data/local-path`, which minik-controller's
//! provisioner (`--local-path-dir`) and the kubelets share because they run
//! on this one machine.
//!
//! `<home>/cluster.json` records the cluster: every flag `up` was given
//! (with defaults filled in), the ports it resolved, and each component's
//! exact command line. While that record exists, the home *is* that
//! cluster — as a minikube profile is: `up` again resumes it exactly
//! (same runtime, nodes, isolation, ports, proxy mode), starting only the
//! components that are not running (the API server first, on its recorded
//! port) and leaving live ones alone; flags that repeat the record are
//! accepted, flags that differ are refused before anything is touched.
//! `down` stops the processes, removes what they left on the host (the
//! cluster's containers, its Docker network, the proxy's iptables rules via
//! `minik-proxy --cleanup`, the service-CIDR route) and deletes the record,
//! keeping the data (the store and the volumes' data) unless `--purge`: the next `up` starts a new cluster
//! from its own flags over the same store.
//! `status` reports the recorded settings and each component's health.
//! `backup FILE` / `restore FILE` save and rebuild the store ([`backup`]).
//!
//! - [`home`]: the directory layout (`~/.minik` or `$MINIK_HOME`).
//! - [`process`]: finding binaries, spawning, liveness, stopping.
//! - [`ports`]: the loopback ports picked for listeners before they are
//!   bound (`--isolated`, etcd, `--ha`'s API servers and load balancer, the
//!   dashboard's when 8001 is taken), where nothing else takes them.
//! - [`docker`]: images (built offline by `images/build.sh` when missing),
//!   the bridge network, container/network/route cleanup.
//! - [`dns_probe`]: the one DNS query that tells DNS is up.
//!
//! `--ha` runs an HA control plane on one machine: etcd (Debian's
//! etcd-server) holds the cluster, two API servers serve it from there
//! behind a small TCP load balancer on the API address ([`load_balancer`],
//! `miniktl cluster lb`), and two copies each of the controller-manager and
//! the scheduler run with `--leader-elect`: kill any one and the cluster
//! carries on.
//!
//! `--isolated` (for tests and side-by-side clusters) adds no host route
//! and no iptables rules: the proxy serves ClusterIPs on a loopback range
//! in userspace mode, DNS and the ingress
//! listen on free loopback ports and kubelets on ephemeral ports; the
//! ingress also at the node IP (the gateway of the cluster's own Docker
//! network) on the same ports, and DNS at the node IP's port 53, where the
//! pods of an isolated Docker cluster ask.

pub mod backup;
pub mod certificates;
pub mod dns_probe;
pub mod docker;
pub mod etcd;
pub mod home;
pub mod load_balancer;
pub mod ports;
pub mod process;

use std::collections::{BTreeMap, BTreeSet};
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
use ports::free_port;
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
    /// Run the HA control plane's load balancer (started by `up --ha`).
    #[command(hide = true)]
    Lb(load_balancer::LbArgs),
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

/// `up`'s flags. The ones that shape the cluster are `Option`s: on a home
/// with a record, only flags actually given are compared with it, so
/// `up --home H` alone resumes whatever H holds; defaults apply to a new
/// cluster only.
#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Number of nodes (kubelets) [default: 1].
    #[arg(long = "nodes", value_name = "N")]
    pub nodes: Option<usize>,
    /// Spread the nodes over N zones: node i gets the label
    /// `topology.kubernetes.io/zone=zone-<a, b, …>` (0: no zone labels) [default: 0].
    #[arg(long = "zones", value_name = "N")]
    pub zones: Option<usize>,
    /// docker: real containers; sim: a simulated runtime (no Docker needed) [default: docker].
    #[arg(long = "runtime", value_enum)]
    pub runtime: Option<Runtime>,
    /// The cluster's name (labels its containers; names its Docker network) [default: minik].
    #[arg(long = "name")]
    pub name: Option<String>,
    /// API server port on 127.0.0.1 (0: any free port) [default: 6443].
    #[arg(long = "api-port", value_name = "PORT")]
    pub api_port: Option<u16>,
    /// No host route or iptables rules; loopback ClusterIPs and free ports (side-by-side clusters, tests).
    #[arg(long = "isolated")]
    pub isolated: bool,
    /// An HA control plane: etcd, two API servers behind a load balancer,
    /// two elected copies of the controller-manager and the scheduler.
    #[arg(long = "ha")]
    pub ha: bool,
    /// Give up waiting for readiness after this many seconds.
    #[arg(long = "wait", default_value_t = 60)]
    pub wait: u64,
    /// Step mode: once the cluster is ready, every reconcile of the
    /// controller-manager waits for `miniktl step` (`miniktl controllers
    /// resume` for normal speed).
    #[arg(long = "step")]
    pub step: bool,
}

/// The settings of a new cluster: `up`'s flags with defaults filled in.
struct NewCluster {
    name: String,
    runtime: Runtime,
    nodes: usize,
    zones: usize,
    api_port: u16,
    isolated: bool,
    ha: bool,
    wait: u64,
    step: bool,
}

impl UpArgs {
    fn new_cluster(self) -> NewCluster {
        NewCluster {
            name: self.name.unwrap_or_else(|| "minik".into()),
            runtime: self.runtime.unwrap_or(Runtime::Docker),
            nodes: self.nodes.unwrap_or(1),
            zones: self.zones.unwrap_or(0),
            api_port: self.api_port.unwrap_or(6443),
            isolated: self.isolated,
            ha: self.ha,
            wait: self.wait,
            step: self.step,
        }
    }
}

/// How a cluster was started, kept in `<home>/cluster.json` until `down`.
/// It holds every flag of `up` but `--wait` (how long one invocation
/// waits, not a property of the cluster), and what those flags resolved
/// to: the API server's address, the DNS address, the proxy's mode and
/// loopback range (in its recorded arguments).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    name: String,
    runtime: Runtime,
    nodes: usize,
    /// `--zones` (0 for records written before it existed).
    #[serde(default)]
    zones: usize,
    isolated: bool,
    /// `--ha` (false for records written before it existed).
    #[serde(default)]
    ha: bool,
    /// `--api-port` as given (0: any free port); the port it got is in
    /// `server` and in the API server's recorded `--listen`. Defaults to 0
    /// for records written before it was recorded.
    #[serde(default)]
    api_port: u16,
    network: String,
    /// Whether `up` created the Docker network (so `down` removes it).
    created_network: bool,
    server: String,
    dns: SocketAddr,
    components: Vec<StoredSpec>,
}

impl State {
    /// How the proxy serves Services, which follows from `--isolated`.
    fn proxy_mode(&self) -> &'static str {
        if self.isolated {
            "userspace, no host route or iptables rules"
        } else {
            "iptables"
        }
    }

    /// The `up` flags that recreate this cluster.
    fn flags(&self) -> String {
        format!(
            "--name {} --runtime {} --nodes {}{}{}{} --api-port {}",
            self.name,
            self.runtime.flag(),
            self.nodes,
            if self.zones > 0 {
                format!(" --zones {}", self.zones)
            } else {
                String::new()
            },
            if self.isolated { " --isolated" } else { "" },
            if self.ha { " --ha" } else { "" },
            self.api_port
        )
    }

    /// The port the API server got (for `--api-port` given as that port).
    fn server_port(&self) -> Option<u16> {
        self.server.rsplit_once(':')?.1.parse().ok()
    }

    /// Refuses flags that differ from the record: silently resuming a
    /// different cluster than asked for (or silently ignoring the flags)
    /// would both surprise; the user decides with `down`.
    fn check_flags(&self, home: &Home, args: &UpArgs) -> Result<()> {
        let mut differ: Vec<String> = Vec::new();
        if args.name.as_ref().is_some_and(|n| *n != self.name) {
            differ.push(format!("--name {}", self.name));
        }
        if args.runtime.is_some_and(|r| r != self.runtime) {
            differ.push(format!("--runtime {}", self.runtime.flag()));
        }
        if args.nodes.is_some_and(|n| n != self.nodes) {
            differ.push(format!("--nodes {}", self.nodes));
        }
        if args.zones.is_some_and(|z| z != self.zones) {
            differ.push(format!("--zones {}", self.zones));
        }
        if args
            .api_port
            .is_some_and(|p| p != self.api_port && Some(p) != self.server_port())
        {
            differ.push(format!("--api-port {}", self.api_port));
        }
        // `--isolated` and `--ha` cannot be negated, so only their presence can differ.
        let mut without = String::new();
        if args.isolated && !self.isolated {
            without = "without --isolated".into();
        }
        if args.ha && !self.ha {
            without = if without.is_empty() {
                "without --ha".into()
            } else {
                format!("{without} or --ha")
            };
        }
        if differ.is_empty() && without.is_empty() {
            return Ok(());
        }
        let with = if differ.is_empty() {
            String::new()
        } else {
            format!("with {}", differ.join(" "))
        };
        let and = if with.is_empty() || without.is_empty() {
            ""
        } else {
            " and "
        };
        Err(Error::Usage(format!(
            "this cluster was created {with}{and}{without} (recorded in {}); run `miniktl cluster down --home {}` first to start a different one",
            home.state_file().display(),
            home.path().display()
        )))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSpec {
    id: String,
    binary: PathBuf,
    /// Absent in records from before `minik` ran every component, when
    /// each had its own binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arg0: Option<String>,
    args: Vec<String>,
}

impl From<&Spec> for StoredSpec {
    fn from(s: &Spec) -> Self {
        StoredSpec {
            id: s.id.clone(),
            binary: s.binary.clone(),
            arg0: s.arg0.clone(),
            args: s
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        }
    }
}

impl StoredSpec {
    fn spec(&self) -> Spec {
        Spec {
            id: self.id.clone(),
            binary: self.binary.clone(),
            arg0: self.arg0.clone(),
            args: self.args.iter().map(OsString::from).collect(),
        }
    }
    /// What the process is called: its argv[0] (`minik-apiserver`), or
    /// its binary's file name (`etcd`).
    fn binary_name(&self) -> String {
        match &self.arg0 {
            Some(arg0) => arg0.clone(),
            None => self
                .binary
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// The record, if there is one. An unreadable record is an error, not "no
/// cluster": starting a default cluster over it is how a 3-node cluster
/// once came back as a 1-node one.
fn load_state(home: &Home) -> Result<Option<State>> {
    let path = home.state_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::File { path, source }),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Cluster(format!(
            "cannot read {}: {e}. Stop its processes (pids in {}) and run `miniktl cluster down --purge --home {}` to start over",
            path.display(),
            home.pids().display(),
            home.path().display()
        ))
    })
}

fn save_state(home: &Home, state: &State) -> Result<()> {
    std::fs::write(
        home.state_file(),
        serde_json::to_string_pretty(state).expect("state serializes"),
    )?;
    Ok(())
}

/// Writes a file only its owner may read (a kubeconfig with a client key).
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// A new random access token for the dashboard, written 0600 (the old
/// file is removed first: a file that exists keeps its mode when rewritten).
fn write_dashboard_token(home: &Home) -> Result<()> {
    let path = home.dashboard_token();
    let bytes: [u8; 16] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let _ = std::fs::remove_file(&path);
    write_private(&path, &format!("{token}\n"))
}

/// The URL to open the dashboard at: its recorded address and the token.
fn dashboard_url(home: &Home, state: &State) -> Option<String> {
    let c = state.components.iter().find(|c| c.id == "dashboard")?;
    let listen = c.args.iter().skip_while(|a| *a != "--listen").nth(1)?;
    let token = std::fs::read_to_string(home.dashboard_token()).ok()?;
    Some(format!("http://{listen}/?token={}", token.trim()))
}

impl ClusterCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            ClusterCmd::Up(args) => up(ctx, args).await,
            ClusterCmd::Down { home, purge } => down(ctx, &home.resolve(), purge).await,
            ClusterCmd::Status { home } => status(ctx, &home.resolve()).await,
            ClusterCmd::Lb(args) => load_balancer::run(args).await,
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
    if args.nodes == Some(0) {
        return Err(Error::Usage("--nodes must be at least 1".into()));
    }
    if let Some(state) = load_state(&home)? {
        state.check_flags(&home, &args)?;
        let step = args.step;
        let wait = Duration::from_secs(args.wait);
        resume(ctx, &home, state, args.wait).await?;
        if step {
            enable_step_mode(ctx, &home, wait).await?;
        }
        return Ok(());
    }
    let args = args.new_cluster();
    let minik = process::find_minik()?;
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
    // `--ha`: etcd before the API servers, which keep the cluster in it.
    let mut control_plane: Vec<Spec> = Vec::new();
    let mut store_args: Vec<OsString> = Vec::new();
    if args.ha {
        let etcd = etcd::spec(&home, free_port()?, free_port()?)?;
        let pid = process::spawn(&home, &etcd)?;
        let addr = etcd::client_address(&StoredSpec::from(&etcd).args).expect("recorded");
        etcd::wait_healthy(&home, pid, &addr, Duration::from_secs(args.wait)).await?;
        ctx.print(&format!(" ✓ etcd serving at http://{addr}\n"));
        store_args = vec!["--store".into(), format!("etcd://{addr}").into()];
        control_plane.push(etcd);
    }
    // Room for every node's connections besides the control plane's. Over
    // HTTP/2 a kubelet process holds one, however many nodes it simulates;
    // a client that speaks only HTTP/1.1 holds one per watch and per
    // request in flight, and before minik's components spoke HTTP/2 a
    // 1,000-node burst filled a limit of 3 per node and the scheduler and
    // controllers were turned away at connect. 6 per node stays as headroom.
    let max_connections = (6 * args.nodes + 512).max(512).to_string();
    let api_spec = |id: &str, listen: &str, kubeconfig: PathBuf, data: PathBuf| {
        Spec::component(
            id,
            &minik,
            "minik-apiserver",
            [
                vec![
                    "--data-dir".into(),
                    data.into_os_string(),
                    "--listen".into(),
                    listen.into(),
                    "--write-kubeconfig".into(),
                    kubeconfig.into_os_string(),
                    "--cert-dir".into(),
                    home.pki().into_os_string(),
                    "--max-connections".into(),
                    max_connections.clone().into(),
                ],
                store_args.clone(),
            ]
            .concat(),
        )
    };
    let server = if args.ha {
        // Two API servers on free ports, each writing a kubeconfig of its
        // own; the cluster's kubeconfig names the load balancer in front.
        let mut backends = Vec::new();
        for (id, data) in [
            ("apiserver", home.apiserver_data()),
            ("apiserver-2", home.data().join("apiserver-2")),
        ] {
            let direct = home.component_kubeconfig(id);
            if let Some(dir) = direct.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let listen = format!("127.0.0.1:{}", free_port()?);
            let spec = api_spec(id, &listen, direct.clone(), data);
            let pid = process::spawn(&home, &spec)?;
            let at =
                wait_for_apiserver(&home, id, pid, &direct, Duration::from_secs(args.wait)).await?;
            ctx.print(&format!(
                " ✓ minik-apiserver ({id}) serving at {at} from etcd\n"
            ));
            backends.push(listen);
            control_plane.push(spec);
        }
        let port = match args.api_port {
            0 => free_port()?,
            p => p,
        };
        let listen = format!("127.0.0.1:{port}");
        let lb = Spec {
            id: "lb".into(),
            binary: std::env::current_exe()?,
            arg0: None,
            args: [
                "cluster",
                "lb",
                "--listen",
                &listen,
                "--backend",
                &backends[0],
                "--backend",
                &backends[1],
            ]
            .iter()
            .map(OsString::from)
            .collect(),
        };
        let pid = process::spawn(&home, &lb)?;
        control_plane.push(lb);
        let server = format!("https://{listen}");
        let admin = std::fs::read_to_string(home.component_kubeconfig("apiserver"))?;
        let through_lb: String = admin
            .lines()
            .map(|l| match l.trim().strip_prefix("server: ") {
                Some(direct) => l.replace(direct, &server),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        write_private(&home.kubeconfig(), &through_lb)?;
        let deadline = Instant::now() + Duration::from_secs(args.wait);
        while !healthy(&home.kubeconfig()).await {
            if !process::alive(pid, "miniktl") || Instant::now() > deadline {
                return Err(Error::Cluster(format!(
                    "the load balancer at {listen} does not reach the API servers; its log:\n{}",
                    indent(&process::log_tail(&home, "lb", 10))
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ctx.print(&format!(" ✓ load balancer at {server} in front of both\n"));
        server
    } else {
        let spec = api_spec(
            "apiserver",
            &format!("127.0.0.1:{}", args.api_port),
            home.kubeconfig(),
            home.apiserver_data(),
        );
        let api_pid = process::spawn(&home, &spec)?;
        let server = wait_for_apiserver(
            &home,
            "apiserver",
            api_pid,
            &home.kubeconfig(),
            Duration::from_secs(args.wait),
        )
        .await?;
        // Recorded with the port it got (not `--api-port 0`): a restarted API
        // server must listen where every component's kubeconfig points.
        control_plane.push(api_spec(
            "apiserver",
            server_address(&server),
            home.kubeconfig(),
            home.apiserver_data(),
        ));
        ctx.print(&format!(" ✓ minik-apiserver serving at {server}\n"));
        server
    };
    create_default_storage_class(ctx, &home).await?;
    ctx.print(" ✓ default StorageClass standard (minik.io/local-path)\n");
    if !args.isolated {
        create_dns_service(ctx, &home).await;
    }
    let kubeconfig = |id: &str| -> Result<OsString> {
        let (user, groups) = identity(id);
        certificates::write_kubeconfig(&home, &server, id, &user, &groups)?;
        Ok(home.component_kubeconfig(id).into_os_string())
    };
    let dns = if args.isolated {
        SocketAddr::from(([127, 0, 0, 1], free_port()?))
    } else {
        SocketAddr::from(([127, 0, 0, 1], 10053))
    };
    // An isolated cluster has no 10.96.0.10 (no route to it): its pods ask
    // the DNS at the node IP instead, the gateway of the cluster's own
    // Docker network, so side-by-side clusters never share it and no query
    // leaves the machine.
    // (Port 53 needs root or CAP_NET_BIND_SERVICE, and a host DNS server on
    // 0.0.0.0:53 would hold it: checked here, said if not possible.)
    let pod_dns: Option<String> = node_ip.clone().filter(|_| args.isolated).filter(|ip| {
        match std::net::UdpSocket::bind(format!("{ip}:53")) {
            Ok(_) => true,
            Err(e) => {
                ctx.print(&format!(
                    " • pods' cluster DNS at {ip}:53 cannot be bound ({e}): in this isolated cluster pods resolve no cluster names\n"
                ));
                false
            }
        }
    });
    let mut specs: Vec<Spec> = vec![
        Spec::component(
            "controller",
            &minik,
            "minik-controller",
            vec![
                "--kubeconfig".into(),
                kubeconfig("controller")?,
                "--local-path-dir".into(),
                home.local_path().into_os_string(),
                "--cluster-signing-cert-file".into(),
                home.pki().join("ca.crt").into_os_string(),
                "--cluster-signing-key-file".into(),
                home.pki().join("ca.key").into_os_string(),
            ],
        ),
        Spec::component(
            "scheduler",
            &minik,
            "minik-scheduler",
            vec!["--kubeconfig".into(), kubeconfig("scheduler")?],
        ),
    ];
    if args.ha {
        // Two copies of each, of which only the Lease holder acts.
        for s in &mut specs {
            s.args.push("--leader-elect".into());
        }
        let copies: Vec<Spec> = specs
            .iter()
            .map(|s| Spec {
                id: format!("{}-2", s.id),
                ..s.clone()
            })
            .collect();
        specs.extend(copies);
    }
    if one_sim_kubelet(&args) {
        // One process for every simulated node (`node-1` … `node-N`), as
        // kwok runs its fake nodes: a process per node costs ~18 MB.
        let listen = if args.isolated {
            "127.0.0.1:0".to_string()
        } else {
            "127.0.0.1:10250".to_string()
        };
        let mut a: Vec<OsString> = vec![
            "--kubeconfig".into(),
            kubeconfig(SIM_KUBELET)?,
            "--node-name".into(),
            "node".into(),
            "--nodes".into(),
            args.nodes.to_string().into(),
            "--runtime".into(),
            args.runtime.flag().into(),
            "--root-dir".into(),
            home.kubelet_root("nodes").into_os_string(),
            "--cluster-name".into(),
            args.name.clone().into(),
            "--network".into(),
            network.clone().into(),
            "--listen".into(),
            listen.into(),
        ];
        if let Some(ip) = &pod_dns {
            a.extend(["--cluster-dns".into(), ip.into()]);
        }
        a.extend(certificates::kubelet_tls_args(&home, "nodes")?);
        specs.push(Spec::component(SIM_KUBELET, &minik, "minik-kubelet", a));
    }
    for i in (1..=args.nodes).filter(|_| !one_sim_kubelet(&args)) {
        let node = format!("node-{i}");
        let listen = if args.isolated {
            "127.0.0.1:0".to_string()
        } else {
            format!("127.0.0.1:{}", 10250 + i - 1)
        };
        let mut a: Vec<OsString> = vec![
            "--kubeconfig".into(),
            kubeconfig(&format!("kubelet-{node}"))?,
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
        if let Some(ip) = &pod_dns {
            a.extend(["--cluster-dns".into(), ip.into()]);
        }
        a.extend(certificates::kubelet_tls_args(&home, &node)?);
        if let Some(zone) = zone_of(i, args.zones) {
            a.push("--node-labels".into());
            a.push(format!("topology.kubernetes.io/zone={zone}").into());
        }
        specs.push(Spec::component(
            format!("kubelet-{node}"),
            &minik,
            "minik-kubelet",
            a,
        ));
    }
    let mut proxy_args: Vec<OsString> = vec!["--kubeconfig".into(), kubeconfig("proxy")?];
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
            "--ingress-tls-listen".into(),
            format!("127.0.0.1:{}", free_port()?).into(),
        ]);
    }
    specs.push(Spec::component("proxy", &minik, "minik-proxy", proxy_args));
    let mut dns_args: Vec<OsString> = vec!["--kubeconfig".into(), kubeconfig("dns")?];
    if !args.isolated {
        dns_args.extend(["--listen".into(), format!("{CLUSTER_DNS_IP}:53").into()]);
    }
    if let Some(ip) = &pod_dns {
        dns_args.extend(["--listen".into(), format!("{ip}:53").into()]);
    }
    dns_args.extend(["--listen".into(), dns.to_string().into()]);
    specs.push(Spec::component("dns", &minik, "minik-dns", dns_args));
    write_dashboard_token(&home)?;
    let dashboard_port = if args.isolated {
        free_port()?
    } else {
        // kubectl proxy's port when it is free: a URL students can remember.
        std::net::TcpListener::bind("127.0.0.1:8001")
            .map(|_| 8001)
            .or_else(|_| free_port())?
    };
    specs.push(Spec::component(
        "dashboard",
        &minik,
        "minik-dashboard",
        vec![
            // The cluster admin's credentials: the controls scale, delete and
            // drain; only holders of the token reach them.
            "--kubeconfig".into(),
            home.kubeconfig().into_os_string(),
            "--listen".into(),
            format!("127.0.0.1:{dashboard_port}").into(),
            "--token-file".into(),
            home.dashboard_token().into_os_string(),
        ],
    ));
    let mut state = State {
        name: args.name.clone(),
        runtime: args.runtime,
        nodes: args.nodes,
        zones: args.zones,
        isolated: args.isolated,
        ha: args.ha,
        api_port: args.api_port,
        network,
        created_network,
        server: server.clone(),
        dns,
        components: control_plane
            .iter()
            .chain(specs.iter())
            .map(StoredSpec::from)
            .collect(),
    };
    save_state(&home, &state)?;
    for s in &specs {
        process::spawn(&home, s)?;
    }
    ctx.print(&format!(
        " ✓ started minik-controller, minik-scheduler{}, {} minik-kubelet{}, minik-proxy, minik-dns, minik-dashboard\n",
        if args.ha { " (two of each, leader-elected)" } else { "" },
        args.nodes,
        if args.nodes == 1 { "" } else { "s" }
    ));
    wait_ready(ctx, &home, &state, Duration::from_secs(args.wait)).await?;
    state.server = server.clone();
    save_state(&home, &state)?;
    if args.step {
        enable_step_mode(ctx, &home, Duration::from_secs(args.wait)).await?;
    }
    ctx.print(&format!(
        "Cluster \"{}\" is ready in {:.1}s. kubeconfig: {}\n\n\
         Try:\n  miniktl get nodes\n  miniktl create deployment web --image=minik/web:v1 --replicas=3\n  miniktl expose deployment web --port=80\n  miniktl apply -f examples/rolling-update/   (see examples/README.md)\n\
         For the real kubectl:  export KUBECONFIG={}\n\
         Dashboard:  {}\n\
         Stop it with:  miniktl cluster down   (--purge also deletes its data)\n",
        args.name,
        start.elapsed().as_secs_f64(),
        home.kubeconfig().display(),
        home.kubeconfig().display(),
        dashboard_url(&home, &state).unwrap_or_else(|| "not started".into())
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

/// `up` on a home with a record: bring back exactly the recorded cluster.
///
/// Components still running are left alone, as a kubelet restarts only the
/// static pod that died, or `minikube start` resumes a profile: they
/// reconnect to a restarted API server by themselves (their watches
/// relist), and restarting them would restart every node's pod workers for
/// nothing. Dead ones start again from their recorded command lines — the
/// API server first, on its recorded port, since every other component's
/// kubeconfig points there.
async fn resume(ctx: &Ctx, home: &Home, mut state: State, wait: u64) -> Result<()> {
    if state.runtime == Runtime::Docker {
        if !docker::available().await {
            return Err(Error::Cluster(format!(
                "the Docker engine is not answering (is dockerd running?); cluster \"{}\" in {} uses --runtime docker",
                state.name,
                home.path().display()
            )));
        }
        // Docker may have lost the network (a daemon reset); kubelets need it.
        let subnet = (!state.isolated).then_some("10.244.0.0/16");
        let (_, created) = docker::ensure_network(&state.network, &state.name, subnet).await?;
        if created {
            state.created_network = true;
            save_state(home, &state)?;
        }
    }
    let mut restarted = Vec::new();
    for c in &state.components {
        if running(&state, home, &c.id) {
            continue;
        }
        ctx.print(&format!(
            " ! {} ({}) had exited; last log lines:\n{}\n   restarting it\n",
            c.id,
            c.binary_name(),
            indent(&process::log_tail(home, &c.id, 5))
        ));
        if let Some(old) = process::read_pid(home, &c.id) {
            process::wait_exited(old, Duration::from_secs(5));
        }
        let pid = process::spawn(home, &c.spec())?;
        if c.id == "etcd" {
            let addr = etcd::client_address(&c.args).unwrap_or_default();
            etcd::wait_healthy(home, pid, &addr, Duration::from_secs(wait)).await?;
        }
        if c.id == "apiserver" && !state.ha {
            let server = wait_for_apiserver(
                home,
                "apiserver",
                pid,
                &home.kubeconfig(),
                Duration::from_secs(wait),
            )
            .await?;
            if server != state.server {
                // Not the cluster the others point at: leave nothing half-started.
                process::stop(pid, &c.binary_name(), Duration::from_secs(3));
                return Err(Error::Cluster(format!(
                    "minik-apiserver came back at {server}, not at the recorded {}",
                    state.server
                )));
            }
            ctx.print(&format!(" ✓ minik-apiserver serving at {server}\n"));
        }
        restarted.push(c.id.clone());
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
    if let Some(url) = dashboard_url(home, &state) {
        ctx.print(&format!("Dashboard: {url}\n"));
    }
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("     {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits for API server `id`'s kubeconfig and `/healthz`; fails early if it exits.
async fn wait_for_apiserver(
    home: &Home,
    id: &str,
    pid: u32,
    kubeconfig: &std::path::Path,
    timeout: Duration,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if !process::alive(pid, "minik-apiserver") {
            return Err(Error::Cluster(format!(
                "minik-apiserver exited during startup; last log lines:\n{}\n(full log: {})",
                indent(&process::log_tail(home, id, 10)),
                home.log(id).display()
            )));
        }
        if let Ok(text) = std::fs::read_to_string(kubeconfig) {
            if let Some(server) = text.lines().find_map(|l| l.trim().strip_prefix("server: ")) {
                if healthy(kubeconfig).await {
                    return Ok(server.to_string());
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

/// `GET /healthz` answers `ok`, through an admin's kubeconfig (HTTPS).
async fn healthy(kubeconfig: &std::path::Path) -> bool {
    let Ok(conn) = crate::kubeconfig::connect(Some(kubeconfig.to_path_buf())).await else {
        return false;
    };
    let request = http::Request::get("/healthz").body(Vec::new());
    match request {
        Ok(request) => conn
            .client
            .request_text(request)
            .await
            .is_ok_and(|body| body.trim() == "ok"),
        Err(_) => false,
    }
}

/// `https://127.0.0.1:6443` → `127.0.0.1:6443`.
fn server_address(server: &str) -> &str {
    server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
}

/// Who component `id` is (`user.Info`): the names Kubernetes' components
/// authenticate as, so RBAC's bootstrap bindings fit them.
/// The id of the one kubelet process that runs many simulated nodes.
const SIM_KUBELET: &str = "kubelet-nodes";
/// Simulated clusters with more nodes than this run them all in one kubelet
/// process; smaller ones keep a process per node, so that one node can be
/// stopped (`kill` its kubelet) to show a node failure.
const SIM_NODES_PER_PROCESS: usize = 10;

/// Whether `up` starts one kubelet process for all the (simulated) nodes:
/// more than [`SIM_NODES_PER_PROCESS`] of them and no zones (zone labels
/// are given per kubelet process).
fn one_sim_kubelet(args: &NewCluster) -> bool {
    args.runtime == Runtime::Sim && args.nodes > SIM_NODES_PER_PROCESS && args.zones == 0
}

fn identity(id: &str) -> (String, Vec<&'static str>) {
    match id {
        "controller" => ("system:kube-controller-manager".into(), vec![]),
        "scheduler" => ("system:kube-scheduler".into(), vec![]),
        "proxy" => ("system:kube-proxy".into(), vec![]),
        "dns" => (
            "system:serviceaccount:kube-system:coredns".into(),
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
            ],
        ),
        // One process for many simulated nodes is no one node: the Node
        // authorizer would judge it as a node named "nodes". It gets a role
        // of its own (`system:minik:simulated-nodes`).
        SIM_KUBELET => ("system:minik:simulated-nodes".into(), vec!["system:nodes"]),
        kubelet => {
            let node = kubelet.trim_start_matches("kubelet-");
            (format!("system:node:{node}"), vec!["system:nodes"])
        }
    }
}

/// Tracks `node` in `waiting` (the wanted nodes not Ready yet).
fn note_ready<'a>(waiting: &mut BTreeSet<&'a str>, wanted: &BTreeSet<&'a str>, node: &Value) {
    let Some(&name) = wanted.get(minik_api::meta::name(node)) else {
        return;
    };
    if conditions::is_true(node, "Ready") {
        waiting.remove(name);
    } else {
        waiting.insert(name);
    }
}

/// "nodes Ready: node-1, node-2, node-3", or for many nodes their count
/// and range rather than a thousand names.
fn nodes_ready_line(wanted: &[String]) -> String {
    match wanted {
        [one] => format!("node Ready: {one}"),
        [first, .., last] if wanted.len() > 5 => {
            format!("{} nodes Ready: {first} … {last}", wanted.len())
        }
        _ => format!("nodes Ready: {}", wanted.join(", ")),
    }
}

/// Every node Ready (watched), then DNS answering; a component that exits
/// meanwhile is reported with its log.
async fn wait_ready(ctx: &Ctx, home: &Home, state: &State, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let api = cluster_ctx(ctx, home);
    let info = resources::resolve("nodes")?;
    let wanted: Vec<String> = (1..=state.nodes).map(|i| format!("node-{i}")).collect();
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
    // The wanted nodes not Ready yet: each change is one lookup, not a
    // pass over every node (a thousand simulated nodes change thousands of
    // times while they register).
    let all: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut waiting = all.clone();
    let nodes_ready = async {
        loop {
            let list = api
                .raw_get(&resource_path(info, None, None, None), "application/json")
                .await?;
            for n in list
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                note_ready(&mut waiting, &all, n);
            }
            if waiting.is_empty() {
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
                note_ready(&mut waiting, &all, &n);
                if waiting.is_empty() {
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
    ctx.print(&format!(" ✓ {}\n", nodes_ready_line(&wanted)));
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

/// Stops the cluster, cleans the host, and deletes the record: afterwards
/// the home holds no cluster, only (without `--purge`) its data, which the
/// next `up` — with whatever flags it is given — starts from. Nodes of the
/// old cluster that the new one does not run stay in the store and go
/// NotReady, as a removed machine's Node does in Kubernetes.
async fn down(ctx: &Ctx, home: &Home, purge: bool) -> Result<()> {
    let state = match load_state(home) {
        Ok(state) => state,
        // An unreadable record names no processes to stop; --purge still
        // clears the home so that a new cluster can start.
        Err(e) if !purge => return Err(e),
        Err(_) => None,
    };
    let Some(state) = state else {
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
            let cleanup = tokio::process::Command::from(proxy.spec().command())
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
    // The dashboard's token opens nothing now; the next cluster gets its own.
    let _ = std::fs::remove_file(home.dashboard_token());
    if purge {
        remove_data(home)?;
        ctx.print(&format!(
            "Deleted the cluster's data in {}.\n",
            home.path().display()
        ));
    }
    Ok(())
}

/// The cluster's default StorageClass (unless the store has one called
/// `standard` already), as minikube's `standard` and k3s'
/// `local-path`: volumes made on the pod's node by minik-controller's
/// local-path provisioner once the pod is scheduled, deleted with their claim.
/// `up --step`: step mode on once the controller-manager has done its own
/// start-up work (the `default` ServiceAccount, the `kube-root-ca.crt`
/// ConfigMap in `default`, each the sign of a start-up controller's first
/// pass over the namespaces; the others start with them), so the instructor's first step is
/// about the class's objects, not about the cluster's bootstrap. Gives up
/// waiting after `timeout` and pauses anyway (those reconciles then wait
/// their turn like any other).
async fn enable_step_mode(ctx: &Ctx, home: &Home, timeout: Duration) -> Result<()> {
    let api = cluster_ctx(ctx, home);
    let deadline = Instant::now() + timeout;
    let settled = [
        ("serviceaccounts", "default", "default"),
        ("configmaps", "default", "kube-root-ca.crt"),
    ];
    for (resource, ns, name) in settled {
        let info = resources::resolve(resource)?;
        while api.get_opt(info, ns, name).await?.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let client = api.client().await?;
    if let Err(e) = minik_client::step_mode::set_mode(&client, true).await {
        return Err(api.kube_err(e).await);
    }
    ctx.print(
        " ✓ step mode: each reconcile waits for `miniktl step` \
         (`miniktl controllers resume` for normal speed)\n",
    );
    Ok(())
}

async fn create_default_storage_class(ctx: &Ctx, home: &Home) -> Result<()> {
    let api = cluster_ctx(ctx, home);
    let info = resources::resolve("storageclasses")?;
    let class = serde_json::json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "minik.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    });
    std::fs::create_dir_all(home.local_path()).map_err(|source| Error::File {
        path: home.local_path(),
        source,
    })?;
    // A new cluster over a kept store (`down` without `--purge`) has it
    // already, perhaps edited: leave it as it is.
    if api.get_opt(info, "", "standard").await?.is_none() {
        api.create(info, "", &class, false).await?;
    }
    Ok(())
}

/// The cluster DNS's ClusterIP, where minik-dns listens (kubelets' `--cluster-dns`).
const CLUSTER_DNS_IP: &str = "10.96.0.10";

/// `kube-system/kube-dns`, the Service every cluster has for its DNS (as
/// kubeadm's CoreDNS add-on makes it, with its labels, so `kubectl
/// cluster-info` lists it). minik-dns runs on the host, not in pods: the
/// Service has no selector and no endpoints, and is labelled for another
/// proxy so minik-proxy leaves 10.96.0.10 to minik-dns, which answers there.
/// Best effort: a store kept from an older cluster may hold the IP.
async fn create_dns_service(ctx: &Ctx, home: &Home) {
    let api = cluster_ctx(ctx, home);
    let Ok(info) = resources::resolve("services") else {
        return;
    };
    let service = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "minik-dns",
                "service.kubernetes.io/service-proxy-name": "minik-dns",
            },
        },
        "spec": {
            "clusterIP": CLUSTER_DNS_IP,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
        },
    });
    let created = match api.get_opt(info, "kube-system", "kube-dns").await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => api
            .create(info, "kube-system", &service, false)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match created {
        Ok(()) => ctx.print(&format!(
            " ✓ Service kube-system/kube-dns at {CLUSTER_DNS_IP}\n"
        )),
        Err(e) => ctx.print(&format!(" • no kube-dns Service: {e}\n")),
    }
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
    let Some(state) = load_state(home)? else {
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
        } else if (c.id == "apiserver" && !state.ha) || c.id == "lb" {
            format!("running, serving {}", state.server)
        } else if c.id.starts_with("apiserver") {
            "running, behind the load balancer".to_string()
        } else if c.id == SIM_KUBELET {
            let ready = nodes.values().filter(|r| **r).count();
            if ready < state.nodes {
                healthy = false;
            }
            format!("running, {ready}/{} nodes Ready", state.nodes)
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
        } else if c.id == "dashboard" {
            format!(
                "running, {}",
                dashboard_url(home, &state).unwrap_or_default()
            )
        } else {
            "running".to_string()
        };
        tw.write_str(&format!(
            "{}\t{}\t{detail}\n",
            c.binary_name()
                + &match c.id.strip_prefix("kubelet") {
                    Some(n) => format!(" ({})", n.trim_start_matches('-')),
                    // Several copies of one binary: say which.
                    None if state.ha => format!(" ({})", c.id),
                    None => String::new(),
                },
            pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
        ));
    }
    ctx.print(&format!(
        "Cluster \"{}\" in {} ({} runtime, {} node{})\n\
         Recorded in {}: {}\n\
         API server {}, DNS {}, proxy {}\n{}",
        state.name,
        home.path().display(),
        state.runtime.flag(),
        state.nodes,
        if state.nodes == 1 { "" } else { "s" },
        home.state_file().display(),
        state.flags(),
        state.server,
        state.dns,
        state.proxy_mode(),
        tw.flush()
    ));
    if !healthy {
        return Err(Error::Cluster(
            "some components are not healthy; `miniktl cluster up` restarts exited ones".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        up: UpArgs,
    }

    /// A component recorded before `minik` ran every component (no
    /// `arg0`) is still known by its own executable's name — what
    /// `status`, `down` and the liveness checks look for — and restarts
    /// from that executable; a new record keeps its argv[0].
    #[test]
    fn records_without_arg0_name_the_component_by_its_executable() {
        let old: StoredSpec = serde_json::from_value(serde_json::json!({
            "id": "scheduler",
            "binary": "/opt/minik/minik-scheduler",
            "args": ["--kubeconfig", "k"],
        }))
        .unwrap();
        assert_eq!(old.binary_name(), "minik-scheduler");
        let spec = old.spec();
        assert_eq!(spec.arg0, None);
        assert_eq!(spec.command().get_program(), "/opt/minik/minik-scheduler");

        let new = StoredSpec::from(&Spec::component(
            "scheduler",
            std::path::Path::new("/opt/minik/minik"),
            "minik-scheduler",
            vec!["--kubeconfig".into(), "k".into()],
        ));
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!(json["arg0"], "minik-scheduler");
        let back: StoredSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back.binary_name(), "minik-scheduler");
        assert_eq!(back.spec().arg0.as_deref(), Some("minik-scheduler"));
        assert_eq!(back.spec().args, ["--kubeconfig", "k"]);
    }

    #[test]
    fn readiness_is_tracked_per_node_and_many_nodes_are_summed_up() {
        let names = |n: usize| (1..=n).map(|i| format!("node-{i}")).collect::<Vec<_>>();
        let wanted = names(3);
        let all: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
        let mut waiting = all.clone();
        let node = |name: &str, ready: &str| {
            serde_json::json!({"metadata": {"name": name},
                "status": {"conditions": [{"type": "Ready", "status": ready}]}})
        };
        note_ready(&mut waiting, &all, &node("node-2", "True"));
        note_ready(&mut waiting, &all, &node("other", "True"));
        assert_eq!(waiting, BTreeSet::from(["node-1", "node-3"]));
        note_ready(&mut waiting, &all, &node("node-2", "False"));
        assert!(
            waiting.contains("node-2"),
            "a node that turns NotReady is waited for again"
        );
        assert_eq!(nodes_ready_line(&names(1)), "node Ready: node-1");
        assert_eq!(
            nodes_ready_line(&wanted),
            "nodes Ready: node-1, node-2, node-3"
        );
        assert_eq!(
            nodes_ready_line(&names(1000)),
            "1000 nodes Ready: node-1 … node-1000"
        );
    }

    fn up_args(flags: &[&str]) -> UpArgs {
        Cli::parse_from(std::iter::once("up").chain(flags.iter().copied())).up
    }

    fn recorded() -> State {
        State {
            name: "lab".into(),
            runtime: Runtime::Sim,
            nodes: 3,
            zones: 0,
            isolated: true,
            ha: false,
            api_port: 0,
            network: "lab".into(),
            created_network: false,
            server: "http://127.0.0.1:41234".into(),
            dns: "127.0.0.1:5353".parse().unwrap(),
            components: Vec::new(),
        }
    }

    #[test]
    fn flags_that_repeat_the_record_or_are_absent_are_accepted() {
        let home = Home::new("/h");
        let state = recorded();
        for flags in [
            &[][..],
            &[
                "--nodes",
                "3",
                "--runtime",
                "sim",
                "--isolated",
                "--name",
                "lab",
            ],
            &["--api-port", "0"],
            // The port an `--api-port 0` cluster got is its port too.
            &["--api-port", "41234"],
            &["--wait", "5"],
        ] {
            state.check_flags(&home, &up_args(flags)).unwrap();
        }
    }

    #[test]
    fn flags_that_differ_are_refused_naming_the_record_and_down() {
        let home = Home::new("/h");
        let state = recorded();
        let refuse = |flags: &[&str]| {
            state
                .check_flags(&home, &up_args(flags))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refuse(&["--nodes", "1"]),
            "this cluster was created with --nodes 3 (recorded in /h/cluster.json); \
             run `miniktl cluster down --home /h` first to start a different one"
        );
        assert!(refuse(&["--runtime", "docker", "--api-port", "6443"])
            .starts_with("this cluster was created with --runtime sim --api-port 0 ("));
        assert!(
            refuse(&["--name", "other"]).starts_with("this cluster was created with --name lab (")
        );
        let mut shared = recorded();
        shared.isolated = false;
        let err = shared
            .check_flags(&home, &up_args(&["--isolated", "--nodes", "2"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("this cluster was created with --nodes 3 and without --isolated ("),
            "{err}"
        );
        let err = shared
            .check_flags(&home, &up_args(&["--isolated", "--ha"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("this cluster was created without --isolated or --ha ("),
            "{err}"
        );
    }

    #[test]
    fn a_new_cluster_takes_the_documented_defaults() {
        let c = up_args(&[]).new_cluster();
        assert_eq!(
            (c.name.as_str(), c.runtime, c.nodes, c.api_port, c.isolated),
            ("minik", Runtime::Docker, 1, 6443, false)
        );
    }

    #[test]
    fn the_record_reads_back_and_older_records_still_load() {
        let dir = std::env::temp_dir().join(format!("minik-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let home = Home::new(&dir);
        assert!(load_state(&home).unwrap().is_none());
        save_state(&home, &recorded()).unwrap();
        let back = load_state(&home).unwrap().unwrap();
        assert_eq!(
            back.flags(),
            "--name lab --runtime sim --nodes 3 --isolated --api-port 0"
        );
        // Written before `api_port` was recorded.
        let mut old: Value = serde_json::to_value(recorded()).unwrap();
        old.as_object_mut().unwrap().remove("api_port");
        std::fs::write(home.state_file(), old.to_string()).unwrap();
        assert_eq!(load_state(&home).unwrap().unwrap().api_port, 0);
        // Unreadable is an error, never "no cluster here".
        std::fs::write(home.state_file(), "{").unwrap();
        let err = load_state(&home).unwrap_err().to_string();
        assert!(
            err.contains("cannot read") && err.contains("down --purge"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The zone of node `i` (from 1) in a cluster of `zones` zones, round
/// robin: `zone-a`, `zone-b`, … (`None` without zones).
fn zone_of(i: usize, zones: usize) -> Option<String> {
    (zones > 0).then(|| {
        let n = (i - 1) % zones;
        let letter = (b'a' + (n % 26) as u8) as char;
        if n < 26 {
            format!("zone-{letter}")
        } else {
            format!("zone-{letter}{}", n / 26)
        }
    })
}

#[cfg(test)]
mod zone_tests {
    use super::zone_of;

    #[test]
    fn nodes_take_zones_round_robin() {
        assert_eq!(zone_of(1, 0), None);
        let zones: Vec<_> = (1..=5).map(|i| zone_of(i, 2).unwrap()).collect();
        assert_eq!(zones, ["zone-a", "zone-b", "zone-a", "zone-b", "zone-a"]);
        assert_eq!(zone_of(3, 3).as_deref(), Some("zone-c"));
    }
}
