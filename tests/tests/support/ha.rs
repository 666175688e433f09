//! An HA control plane as real processes: one etcd, two `minik-apiserver`s
//! on it (plain HTTP on fixed loopback ports, so a restarted one comes
//! back where it was), and any number of other components, each pointed at
//! one of the API servers, each killable with SIGKILL. Logs go to files in
//! the cluster's temp dir; everything is killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minik_tests::etcd::Etcd;

pub struct HaCluster {
    pub etcd: Etcd,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT` of each API server.
    pub apiservers: Vec<String>,
    /// Running processes by name (`apiserver-0`, `controller-1`, …).
    children: Vec<(String, Child)>,
}

impl HaCluster {
    /// etcd and `n` API servers on it. `None` outside CI without etcd.
    pub fn start(n: usize) -> Option<Self> {
        let etcd = Etcd::start()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let apiservers = (0..n)
            .map(|_| {
                let port = minik_tests::free_port();
                format!("127.0.0.1:{port}")
            })
            .collect();
        let mut cluster = Self {
            etcd,
            dir,
            apiservers,
            children: Vec::new(),
        };
        for i in 0..n {
            cluster.start_apiserver(i);
        }
        Some(cluster)
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.apiservers[i])
    }

    /// A kubeconfig naming API server `i`.
    pub fn kubeconfig(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("kubeconfig-{i}"))
    }

    pub async fn client(&self, i: usize) -> kube::Client {
        kube::Client::try_from(kube::Config::new(self.url(i).parse().unwrap())).unwrap()
    }

    /// Starts (or restarts) API server `i` and waits until it answers.
    pub fn start_apiserver(&mut self, i: usize) {
        let kubeconfig = self.kubeconfig(i);
        let _ = std::fs::remove_file(&kubeconfig);
        let data_dir = self.dir.path().join(format!("apiserver-{i}"));
        let args = [
            "--store".to_string(),
            self.etcd.store_url(),
            "--etcd-prefix".into(),
            "/ha".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--listen".into(),
            self.apiservers[i].clone(),
            "--write-kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--insecure-plain-http".into(),
        ];
        self.spawn(&format!("apiserver-{i}"), "minik-apiserver", &args);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&kubeconfig).is_ok_and(|t| t.contains("server:")) {
            assert!(
                Instant::now() < deadline,
                "minik-apiserver {i} did not start:\n{}",
                self.log(&format!("apiserver-{i}"))
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts `binary` as `name` with `args`, its output in `<name>.log`.
    pub fn spawn(&mut self, name: &str, binary: &str, args: &[String]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .unwrap();
        let child = Command::new(super::workspace_bin(binary))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        self.children.push((name.to_string(), child));
    }

    /// SIGKILL `name`, then reap it.
    pub fn kill9(&mut self, name: &str) {
        let at = self
            .children
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not running"));
        let (_, mut child) = self.children.remove(at);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Whether `name` is still running (not exited).
    pub fn running(&mut self, name: &str) -> bool {
        self.children
            .iter_mut()
            .find(|(n, _)| n == name)
            .is_some_and(|(_, c)| c.try_wait().ok().flatten().is_none())
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Every process's last lines, for failure messages.
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            let text = self.log(name);
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("---- {name} ----\n"));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for HaCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
