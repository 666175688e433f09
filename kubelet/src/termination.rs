//! Termination messages (`terminationMessagePath`,
//! `terminationMessagePolicy`): each container instance gets an empty host
//! file bind-mounted at its path (`/dev/termination-log` by default), where
//! it may write why it stopped; once it is dead the kubelet reads the file
//! into `state.terminated.message` — or, with `FallbackToLogsOnError`, an
//! empty file and a non-zero exit, the tail of its log. Kubernetes' limits:
//! the file's last 4 KiB; the log's last 80 lines, at most 2 KiB.
//!
//! Docker pods only: the simulated runtime runs no process to write one.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::runtime::{ContainerRecord, LogOptions, Runtime};

/// Where a container's message goes when its spec names no path.
pub const DEFAULT_PATH: &str = "/dev/termination-log";
/// `kubecontainer.MaxContainerTerminationMessageLength`.
const MAX_MESSAGE_BYTES: u64 = 4096;
/// `MaxContainerTerminationMessageLogLines` and `…LogLength`.
const MAX_LOG_LINES: i64 = 80;
const MAX_LOG_BYTES: usize = 2048;

/// The host file of one container instance (instances differ by restart count).
pub fn host_file(pod_dir: &Path, container: &str, restart_count: i32) -> PathBuf {
    pod_dir
        .join("containers")
        .join(container)
        .join(restart_count.to_string())
}

/// Creates the instance's empty file, writable by whichever user the
/// container runs as (0666, as Kubernetes makes it); returns its bind mount.
pub fn prepare(pod_dir: &Path, c: &Container, restart_count: i32) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let file = host_file(pod_dir, &c.name, restart_count);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, b"")?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))?;
    let path = c
        .termination_message_path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PATH);
    Ok(format!("{}:{path}", file.display()))
}

/// Fills in the `message` of each dead container of `pod` in `records`.
pub async fn fill(
    runtime: &dyn Runtime,
    pod: &Pod,
    pod_dir: &Path,
    records: &mut [ContainerRecord],
) {
    let spec = pod.spec.as_ref();
    let containers = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers));
    let policies: Vec<(&str, bool)> = containers
        .map(|c| {
            let fallback = c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError");
            (c.name.as_str(), fallback)
        })
        .collect();
    for r in records.iter_mut().filter(|r| !r.sandbox && r.dead()) {
        let Some(&(_, fallback)) = policies.iter().find(|(name, _)| *name == r.name) else {
            continue;
        };
        let mut message = read_tail(&host_file(pod_dir, &r.name, r.restart_count));
        if message.is_empty() && fallback && r.exit_code != 0 {
            message = log_tail(runtime, &r.id).await;
        }
        r.message = message;
    }
}

/// The file's last 4 KiB, as text ("" when there is none).
fn read_tail(file: &Path) -> String {
    let Ok(mut f) = std::fs::File::open(file) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_MESSAGE_BYTES && f.seek(SeekFrom::Start(len - MAX_MESSAGE_BYTES)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = f.take(MAX_MESSAGE_BYTES).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The log's last 80 lines, cut to its last 2 KiB.
async fn log_tail(runtime: &dyn Runtime, id: &str) -> String {
    let options = LogOptions {
        follow: false,
        tail_lines: Some(MAX_LOG_LINES),
        since: None,
        timestamps: false,
    };
    let Ok(mut stream) = runtime.logs(id, &options).await else {
        return String::new();
    };
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(&chunk);
    }
    let start = bytes.len().saturating_sub(MAX_LOG_BYTES);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_from_its_end_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let file = host_file(dir.path(), "c", 2);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        assert_eq!(read_tail(&file), "", "no file, no message");
        std::fs::write(&file, "bye\n").unwrap();
        assert_eq!(read_tail(&file), "bye\n");
        let long = format!("{}END", "x".repeat(5000));
        std::fs::write(&file, &long).unwrap();
        let read = read_tail(&file);
        assert_eq!(read.len(), 4096);
        assert!(read.ends_with("xEND"));
    }

    #[test]
    fn each_instance_gets_its_own_writable_file_at_the_spec_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut c = Container {
            name: "app".into(),
            ..Default::default()
        };
        let bind = prepare(dir.path(), &c, 0).unwrap();
        let file = host_file(dir.path(), "app", 0);
        assert_eq!(bind, format!("{}:/dev/termination-log", file.display()));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666);
        c.termination_message_path = Some("/tmp/why".into());
        let bind = prepare(dir.path(), &c, 1).unwrap();
        assert!(bind.ends_with("/containers/app/1:/tmp/why"), "{bind}");
    }
}
