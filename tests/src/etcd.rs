//! A throwaway etcd for tests and benchmarks: Debian's `etcd` binary
//! (package etcd-server) on free loopback ports with its data in a
//! temporary directory, killed when dropped — and, through
//! `PR_SET_PDEATHSIG`, when the test process dies without dropping it.
//! The signal follows the *thread* that spawned etcd, so a keeper thread
//! of its own spawns it and lives as long as the handle (a test's worker
//! thread may end before the etcd it started is done with).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Etcd {
    /// Dropping it tells the keeper thread to stop etcd.
    stop: Option<mpsc::Sender<()>>,
    keeper: Option<std::thread::JoinHandle<()>>,
    /// `127.0.0.1:PORT` of the client endpoint.
    pub client_addr: String,
    pub dir: tempfile::TempDir,
}

/// The etcd binary, or a loud failure when it is missing under CI.
fn binary() -> Option<PathBuf> {
    let found = ["/usr/bin/etcd", "/usr/local/bin/etcd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("etcd is not installed (Debian: apt-get install etcd-server); CI=true needs it");
    }
    found
}

/// Whether etcd is installed (panics under CI=true when it is not).
pub fn available() -> bool {
    binary().is_some()
}

impl Etcd {
    /// Starts a one-member etcd and waits until it answers. `None` only
    /// outside CI when etcd is not installed.
    pub fn start() -> Option<Self> {
        let bin = binary()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let (client, peer) = (crate::free_port(), crate::free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("etcd log");
        let mut cmd = Command::new(bin);
        cmd.args(["--name", "minik-test"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("minik-test={peer_url}")])
            // Tests write quickly and briefly: no periodic snapshots to disk.
            .args(["--snapshot-count", "100000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let (started_tx, started_rx) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel::<()>();
        let keeper = std::thread::Builder::new()
            .name("etcd-keeper".into())
            .spawn(move || {
                let mut child = match cmd.spawn() {
                    Ok(c) => c,
                    Err(e) => return drop(started_tx.send(Err(e))),
                };
                let _ = started_tx.send(Ok(()));
                let _ = stop_rx.recv();
                let _ = child.kill();
                let _ = child.wait();
            })
            .expect("keeper thread");
        started_rx
            .recv()
            .expect("keeper answers")
            .expect("etcd starts");
        let etcd = Self {
            stop: Some(stop),
            keeper: Some(keeper),
            client_addr: format!("127.0.0.1:{client}"),
            dir,
        };
        etcd.wait_ready(Duration::from_secs(20));
        Some(etcd)
    }

    /// `etcd://127.0.0.1:PORT`, what `minik-apiserver --store` takes.
    pub fn store_url(&self) -> String {
        format!("etcd://{}", self.client_addr)
    }

    /// Polls `/health` (bounded) until etcd reports healthy.
    fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(&self.client_addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!(
                    "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.client_addr
                );
                let mut out = String::new();
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_to_string(&mut out).is_ok()
                    && out.contains("\"health\":\"true\"")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        panic!("etcd did not become healthy within {within:?}; its log:\n{log}");
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(k) = self.keeper.take() {
            let _ = k.join();
        }
    }
}
