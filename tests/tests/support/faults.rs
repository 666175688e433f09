//! Helpers for the fault-injection tests: the control plane as real
//! processes (`minik-apiserver`, `minik-controller`, `minik-scheduler` and a
//! simulated `minik-kubelet`), each of which can be killed with SIGKILL and
//! started again with the same flags — a crash, not a shutdown: no
//! goodbye, open connections reset by the kernel.
//!
//! The API server listens on a fixed 127.0.0.1 port picked at start, so
//! the other components (and the test's client) find it again after it
//! restarts; its store is a temporary `--data-dir`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One of the processes of the test cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    ApiServer,
    Controller,
    Scheduler,
    Kubelet,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::ApiServer,
        Component::Controller,
        Component::Scheduler,
        Component::Kubelet,
    ];

    pub fn binary(self) -> &'static str {
        match self {
            Component::ApiServer => "minik-apiserver",
            Component::Controller => "minik-controller",
            Component::Scheduler => "minik-scheduler",
            Component::Kubelet => "minik-kubelet",
        }
    }
}

/// The four processes, killed when dropped.
pub struct ProcessCluster {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub kubeconfig: PathBuf,
    listen: String,
    nodes: usize,
    children: HashMap<Component, Child>,
    /// How many times each component has been started (names its log).
    starts: HashMap<Component, usize>,
}

/// The processes are killed; with `MINIK_FAULT_LOGS=DIR` set, their logs
/// are copied there first (the temp dir goes away).
impl Drop for ProcessCluster {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(keep) = std::env::var_os("MINIK_FAULT_LOGS") {
            let _ = std::fs::create_dir_all(&keep);
            for c in Component::ALL {
                let _ = std::fs::copy(
                    self.log_path(c),
                    PathBuf::from(&keep).join(format!("{}.log", c.binary())),
                );
            }
        }
    }
}

/// Node health settings short enough for a test, in the kubelet's and the
/// controller's flag forms: Leases renewed every second, a node unreachable
/// after 4 s without one.
pub const LEASE_RENEW_SECONDS: &str = "1";
pub const NODE_MONITOR_GRACE: &str = "4s";

impl ProcessCluster {
    /// Starts the API server, then the controller-manager, the scheduler and
    /// one simulated kubelet running `nodes` nodes (`sim-1` … `sim-N`).
    pub fn start(nodes: usize) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = minik_tests::free_port();
        let mut cluster = Self {
            kubeconfig: dir.path().join("kubeconfig"),
            url: format!("http://127.0.0.1:{port}"),
            listen: format!("127.0.0.1:{port}"),
            dir,
            nodes,
            children: HashMap::new(),
            starts: HashMap::new(),
        };
        for c in Component::ALL {
            cluster.spawn(c);
        }
        cluster
    }

    fn args(&self, c: Component) -> Vec<String> {
        let kubeconfig = self.kubeconfig.display().to_string();
        let dir = self.dir.path();
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        match c {
            Component::ApiServer => s(&[
                "--data-dir",
                &dir.join("data").display().to_string(),
                "--listen",
                &self.listen,
                "--write-kubeconfig",
                &kubeconfig,
                // Plain HTTP: the suite is about restarts, not the transport
                // (the cluster tests run every component over HTTPS).
                "--insecure-plain-http",
            ]),
            Component::Controller => s(&[
                "--kubeconfig",
                &kubeconfig,
                "--node-monitor-grace-period",
                NODE_MONITOR_GRACE,
                "--node-monitor-period",
                "500ms",
            ]),
            Component::Scheduler => s(&["--kubeconfig", &kubeconfig]),
            Component::Kubelet => s(&[
                "--kubeconfig",
                &kubeconfig,
                "--runtime",
                "sim",
                "--node-name",
                "sim",
                "--nodes",
                &self.nodes.to_string(),
                "--root-dir",
                &dir.join("kubelet").display().to_string(),
                "--listen",
                "127.0.0.1:0",
                "--lease-renew-interval",
                LEASE_RENEW_SECONDS,
                "--sim-delay",
                "0.1",
            ]),
        }
    }

    /// Starts `c` (again), its output appended to `<binary>.log`.
    pub fn spawn(&mut self, c: Component) {
        if c == Component::ApiServer {
            let _ = std::fs::remove_file(&self.kubeconfig);
        }
        let n = self.starts.entry(c).or_default();
        *n += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(c))
            .unwrap();
        let child = Command::new(super::workspace_bin(c.binary()))
            .args(self.args(c))
            .env(
                "RUST_LOG",
                std::env::var("MINIK_FAULT_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", c.binary()));
        self.children.insert(c, child);
        if c == Component::ApiServer {
            self.wait_for_kubeconfig();
        }
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self, c: Component) {
        let mut child = self.children.remove(&c).expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// How `c` ended, if it has.
    pub fn exited(&mut self, c: Component) -> Option<std::process::ExitStatus> {
        self.children.get_mut(&c)?.try_wait().ok()?
    }

    fn wait_for_kubeconfig(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(&self.kubeconfig).is_ok_and(|t| t.contains("server:")) {
            assert!(Instant::now() < deadline, "minik-apiserver did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_path(&self, c: Component) -> PathBuf {
        self.dir.path().join(format!("{}.log", c.binary()))
    }

    /// The last lines of every component's log (for failure messages).
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for c in Component::ALL {
            let text = std::fs::read_to_string(self.log_path(c)).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("---- {} ----\n", c.binary()));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}
