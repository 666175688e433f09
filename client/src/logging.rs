//! Logging set-up shared by every component binary: `tracing` to stderr,
//! filtered by `RUST_LOG` when set, else by the component's default.
//!
//! Under `miniktl cluster up` a component's stderr is its log file
//! (`<home>/logs/<id>.log`). So that a cluster left running for days does
//! not fill the disk, the writer caps that file the way logrotate's
//! `copytruncate` does: once it passes [`MAX_LOG_BYTES`] (or
//! `MINIK_LOG_MAX_BYTES`), its contents move to `<file>.1` (replacing the
//! previous one) and the file is truncated in place. Every writer of the
//! file (panics too) keeps appending to the same, now short, file, since
//! `miniktl` opens it in append mode. A terminal or pipe is left alone.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A log file's size at which it is rotated, unless `MINIK_LOG_MAX_BYTES` says otherwise.
pub const MAX_LOG_BYTES: u64 = 16 << 20;

/// Installs the global `tracing` subscriber. `default_filter` applies when
/// `RUST_LOG` is unset or invalid (e.g. `"info"`, `"info,kube=warn"`).
/// Logs go to stderr so a component's stdout stays free for its output.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let max = std::env::var("MINIK_LOG_MAX_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_LOG_BYTES);
    let cap = CappedLog::for_stderr(max);
    let writer = move || CappedStderr(cap.clone());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .init();
}

/// The log file behind stderr and its size limit; `None` when stderr is not a file.
#[derive(Clone)]
struct CappedLog(Option<std::sync::Arc<Cap>>);

struct Cap {
    path: PathBuf,
    max: u64,
    /// Bytes written since the size was last checked.
    since_check: AtomicU64,
    /// Bytes between checks: [`CHECK_EVERY`], or less for a small cap, so
    /// the file overshoots the cap by at most an eighth.
    check_every: u64,
}

/// How often (in bytes written) the file's real size is looked at, at most.
const CHECK_EVERY: u64 = 64 << 10;

impl CappedLog {
    fn for_stderr(max: u64) -> Self {
        let path = std::fs::read_link("/proc/self/fd/2").ok();
        let is_file = std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| m.is_file());
        Self(path.filter(|_| is_file && max > 0).map(|path| {
            std::sync::Arc::new(Cap {
                path,
                max,
                since_check: AtomicU64::new(0),
                check_every: CHECK_EVERY.min(max / 8).max(1),
            })
        }))
    }

    fn wrote(&self, n: usize) {
        let Some(cap) = &self.0 else {
            return;
        };
        if cap.since_check.fetch_add(n as u64, Ordering::Relaxed) + (n as u64) < cap.check_every {
            return;
        }
        cap.since_check.store(0, Ordering::Relaxed);
        let size = std::fs::metadata(&cap.path).map_or(0, |m| m.len());
        if size > cap.max {
            rotate(&cap.path);
        }
    }
}

/// `copytruncate`: the file's contents to `<file>.1`, then the file emptied.
fn rotate(path: &std::path::Path) {
    let mut old = path.as_os_str().to_owned();
    old.push(".1");
    if std::fs::copy(path, &old).is_ok() {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
            let _ = f.set_len(0);
        }
    }
}

/// One log line's writer: stderr, then the size check.
struct CappedStderr(CappedLog);

impl Write for CappedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = std::io::stderr().write(buf)?;
        self.0.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_one_old_file_and_empties_the_log() {
        let dir = tempfile_dir();
        let path = dir.join("c.log");
        std::fs::write(&path, vec![b'x'; 1000]).unwrap();
        let cap = CappedLog(Some(std::sync::Arc::new(Cap {
            path: path.clone(),
            max: 500,
            since_check: AtomicU64::new(0),
            check_every: 100,
        })));
        cap.wrote(10); // below check_every: not looked at yet
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1000);
        cap.wrote(100);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(std::fs::metadata(dir.join("c.log.1")).unwrap().len(), 1000);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("minik-logging-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
