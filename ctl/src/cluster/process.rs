//! The cluster's component processes: finding their binaries, starting them
//! in the background (own session, output to `<home>/logs`, pid to
//! `<home>/pids`), telling whether they still run, and stopping them
//! (SIGTERM, then SIGKILL after a grace period) — what kind or minikube do
//! with containers and VMs, minik does with plain processes.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::home::Home;
use crate::error::{Error, Result};

/// The executable every component runs from: `minik`, multi-call (its
/// `src/main.rs` says why). Each component is started as `minik` under the
/// component's own name (argv[0] `minik-apiserver`, …), which is what `ps`
/// shows and [`alive`] looks for.
pub const MINIK: &str = "minik";

/// Where a binary is: `$MINIK_BIN_DIR`, next to miniktl's own executable,
/// then `$PATH`.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("MINIK_BIN_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(d) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(d);
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The `minik` executable, or an error saying where it was looked for.
pub fn find_minik() -> Result<PathBuf> {
    find_binary(MINIK).ok_or_else(|| {
        let here = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|p| p.display().to_string()))
            .unwrap_or_default();
        Error::Cluster(format!(
            "{MINIK}, the executable every component runs from, is missing (looked in $MINIK_BIN_DIR, {here} and $PATH).\n\
             Build it with `cargo build --workspace --bins` (or --release) and run miniktl from the same target directory."
        ))
    })
}

/// One component to run: its file stem in logs/pids, binary and arguments.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub binary: PathBuf,
    /// The name the process is started under (argv[0]) when `binary` runs
    /// several components: `minik-apiserver` for `minik`. None: the
    /// binary's own path (etcd, miniktl's load balancer).
    pub arg0: Option<String>,
    pub args: Vec<OsString>,
}

impl Spec {
    /// Component `name` (`minik-apiserver`, …): `minik` under that name.
    pub fn component(id: impl Into<String>, minik: &Path, name: &str, args: Vec<OsString>) -> Spec {
        Spec {
            id: id.into(),
            binary: minik.to_path_buf(),
            arg0: Some(name.into()),
            args,
        }
    }

    /// The binary, under its argv[0]; no arguments yet.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        if let Some(arg0) = &self.arg0 {
            cmd.arg0(arg0);
        }
        cmd
    }
}

/// Starts a component detached from miniktl (its own session), appending
/// its output to `<home>/logs/<id>.log`; writes `<home>/pids/<id>.pid`.
pub fn spawn(home: &Home, spec: &Spec) -> Result<u32> {
    std::fs::create_dir_all(home.logs())?;
    std::fs::create_dir_all(home.pids())?;
    let log_path = home.log(&spec.id);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| Error::File {
            path: log_path.clone(),
            source,
        })?;
    let log2 = log.try_clone()?;
    let mut cmd = spec.command();
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .env_remove("KUBECONFIG");
    // SAFETY: setsid is async-signal-safe; it detaches the child from
    // miniktl's terminal so Ctrl-C on miniktl does not stop the cluster.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::Cluster(format!("cannot start {}: {e}", spec.binary.display())))?;
    let pid = child.id();
    std::fs::write(home.pid_file(&spec.id), format!("{pid}\n"))?;
    Ok(pid)
}

/// The pid recorded for a component, if any.
pub fn read_pid(home: &Home, id: &str) -> Option<u32> {
    std::fs::read_to_string(home.pid_file(id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Waits (at most `timeout`) until `pid` has finished exiting. A killed
/// process's command line empties (so [`alive`] says no) before the kernel
/// closes its files, and a multi-threaded one's main thread shows as a
/// zombie while its other threads are still exiting (a store flusher in
/// the middle of an fsync): a component restarted in either moment finds
/// its old self still holding its locks (the API server's store).
pub fn wait_exited(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        if finished(stat.as_deref()) {
            reap(pid);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process whose `/proc/<pid>/stat` reads `stat` (None: no such
/// process) has finished exiting: gone, or a zombie with no thread left
/// but its main one — its files, and the locks on them, closed.
fn finished(stat: Option<&str>) -> bool {
    let Some(stat) = stat else { return true };
    let fields = stat_fields(stat);
    let threads: u64 = fields.get(17).and_then(|n| n.parse().ok()).unwrap_or(1);
    exited(&fields) && threads <= 1
}

/// The fields of a `/proc/<pid>/stat` line after the parenthesised command
/// name (which may itself hold spaces and parentheses): the state is the
/// first, num_threads the eighteenth (proc(5) fields 3 and 20).
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// Whether those fields say the (main thread of the) process has exited:
/// a zombie, dead, or unreadable.
fn exited(fields: &[&str]) -> bool {
    matches!(fields.first(), Some(&"Z") | Some(&"X") | None)
}

/// Whether `pid` is a live (not zombie) process running `binary`.
pub fn alive(pid: u32, binary: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    if exited(&stat_fields(&stat)) {
        reap(pid);
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(binary))
        .unwrap_or(false)
}

/// Collects an exited child's status if it was started by this process.
fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: non-blocking waitpid; ECHILD for processes that are not ours.
    unsafe {
        libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
    }
}

/// Stops a process: SIGTERM, then SIGKILL after `grace`. Bounded wait.
pub fn stop(pid: u32, binary: &str, grace: Duration) {
    if !alive(pid, binary) {
        return;
    }
    // SAFETY: signals a process we verified runs our binary.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < grace {
        if !alive(pid, binary) {
            // Stopped means its files are closed: whatever starts next on
            // the same data must not find the old locks.
            wait_exited(pid, Duration::from_secs(5));
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    wait_exited(pid, Duration::from_secs(5));
}

/// The last lines of a component's log (for crash reports), without a
/// Rust backtrace that would hide the error itself.
pub fn log_tail(home: &Home, id: &str, lines: usize) -> String {
    let text = std::fs::read_to_string(home.log(id)).unwrap_or_default();
    let text = match text.find("Stack backtrace:") {
        Some(i) => &text[..i],
        None => &text,
    };
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/proc/<pid>/stat` line in the kernel's layout: pid, (comm),
    /// state, then fields 4.. with num_threads (field 20) as given.
    fn stat(comm: &str, state: char, threads: u32) -> String {
        let mut rest: Vec<String> = (4..=52).map(|f| (f * 7).to_string()).collect();
        rest[20 - 4] = threads.to_string();
        format!("4242 ({comm}) {state} {}\n", rest.join(" "))
    }

    #[test]
    fn a_zombie_main_thread_has_not_finished_while_other_threads_exit() {
        assert!(finished(None), "gone");
        assert!(finished(Some(&stat("minik-apiserver", 'Z', 1))));
        assert!(finished(Some(&stat("minik-apiserver", 'X', 1))));
        // The main thread is a zombie; a flusher thread still holds the files.
        assert!(!finished(Some(&stat("minik-apiserver", 'Z', 3))));
        assert!(!finished(Some(&stat("minik-apiserver", 'R', 1))));
        assert!(!finished(Some(&stat("minik-apiserver", 'D', 1))));
        // A command name may itself hold ") Z ".
        assert!(!finished(Some(&stat("a) Z (b", 'S', 1))));
    }

    #[test]
    fn wait_exited_returns_once_a_killed_process_is_gone() {
        let spawning = crate::cluster::ports::SPAWNING.lock();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        drop(spawning);
        let pid = child.id();
        assert!(!finished(
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .as_deref()
        ));
        child.kill().unwrap();
        wait_exited(pid, Duration::from_secs(5));
        // Reaped by wait_exited (a child of this process): nothing left.
        assert!(std::fs::read_to_string(format!("/proc/{pid}/stat")).is_err());
        // std's own wait then finds no child; it must not hang.
        let _ = child.try_wait();
    }
}
