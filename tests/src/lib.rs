//! Cross-component tests live in `tests/`; this library holds the few
//! measuring and raw-socket helpers that both they and the benchmarks in
//! `src/bin/` use, [`browser`], the headless browser the dashboard's
//! test and benchmark drive, and [`kubectl_floor`], kubectl timed against
//! recorded answers.

pub mod browser;

pub mod etcd;

pub mod kubectl_floor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A workspace binary beside the running benchmark (`miniktl`,
/// `minik-apiserver`, …); panics with the build command if it is missing.
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let bin = exe.with_file_name(name);
    assert!(
        bin.exists(),
        "{} is missing: build the workspace binaries first (cargo build --release --workspace --bins)",
        bin.display()
    );
    bin
}

/// A loopback port for a process the test starts later (an API server,
/// etcd, chromedriver, a port-forward): free now, below the ephemeral and
/// NodePort ranges, so no `bind(0)`, outgoing connection or Service takes
/// it meanwhile (`minik_ctl::cluster::ports`, which `cluster up` uses too).
pub fn free_port() -> u16 {
    minik_ctl::cluster::ports::free_port().expect("a free loopback port")
}

/// A cluster a benchmark or test started with `miniktl cluster up --home
/// HOME`: brought down (`cluster down --purge`) however the run ends — a
/// failed `up` or a failed assertion too, which leave what was started
/// running.
pub struct ClusterDown {
    miniktl: PathBuf,
    home: PathBuf,
    done: bool,
}

impl ClusterDown {
    pub fn new(miniktl: PathBuf, home: PathBuf) -> Self {
        Self {
            miniktl,
            home,
            done: false,
        }
    }

    /// Brings the cluster down now; whether `cluster down` succeeded.
    pub fn now(mut self) -> bool {
        self.done = true;
        self.run()
    }

    fn run(&self) -> bool {
        std::process::Command::new(&self.miniktl)
            .args(["cluster", "down", "--purge", "--home"])
            .arg(&self.home)
            .env_remove("KUBECONFIG")
            .output()
            .is_ok_and(|d| d.status.success())
    }
}

impl Drop for ClusterDown {
    fn drop(&mut self) {
        if !self.done {
            self.run();
        }
    }
}

/// A benchmark's `--name VALUE` argument, or `default`.
pub fn bench_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// A process's memory in MB (or several processes', summed): resident
/// (RSS) and proportional (PSS), from `/proc/<pid>/smaps_rollup`. RSS
/// counts a page shared by several processes — the code of the one `minik`
/// executable every component runs from — once in each; PSS divides it
/// among them, so the PSS of a group of processes adds up to the memory it
/// uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss: f64,
    pub pss: f64,
}

impl Memory {
    /// The memory of the process whose `/proc` directory is `proc_dir`
    /// (zero if it is gone).
    pub fn of(proc_dir: &std::path::Path) -> Memory {
        let rollup = std::fs::read_to_string(proc_dir.join("smaps_rollup")).unwrap_or_default();
        let mb = |field: &str| {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        Memory {
            rss: mb("Rss:"),
            pss: mb("Pss:"),
        }
    }
}

impl std::ops::AddAssign for Memory {
    fn add_assign(&mut self, other: Memory) {
        self.rss += other.rss;
        self.pss += other.pss;
    }
}

/// Resident set size of this process (an in-process API server's memory).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Sends a GET over a fresh connection (with a small receive buffer if
/// given) and returns the connection unread: a client that stalls.
pub async fn send_get(
    addr: SocketAddr,
    path: &str,
    recv_buffer: Option<u32>,
) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let mut conn = socket.connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await?;
    Ok(conn)
}

/// Reads until the server closes the connection, or `None` after `within`.
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request on a fresh connection (`Connection: close`, a JSON body if
/// given), past any client's retries: the raw response, or `None` if it
/// cannot connect or no complete answer comes within `within`.
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    within: Duration,
) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: minik\r\nConnection: close\r\n");
    if let Some(body) = json_body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).await.ok()?;
    read_until_closed(&mut s, within).await
}

/// [`try_request`] that must be answered within 5 s.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&str>,
) -> String {
    try_request(addr, method, path, json_body, Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("{method} {path}: no answer within 5s"))
}

/// A raw response's status code.
pub fn status_code(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

/// A raw response's body as JSON.
pub fn body_json(response: &str) -> serde_json::Value {
    let body = response.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

/// Polls `check` every 50 ms until it returns `Some`, failing the test with
/// `what` after `timeout`. Every test's bounded wait.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
