//! Secrets at rest, with the real `minik-apiserver` started with the flags
//! `cluster up` gives it (its own certificates and encryption key in the
//! cert dir, HTTPS): a Secret's value never reaches the data directory's
//! bytes, in clear or in base64, even after it is changed (sled keeps old
//! versions in its log);
//! it reads back through kubectl after a restart; the key and the store are
//! private; and a server given another key refuses to start, saying which
//! object it cannot decrypt.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

struct ApiServer(Child);

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, extra: &[&str]) -> (ApiServer, std::process::Output) {
    let kubeconfig = dir.join("kubeconfig");
    let _ = std::fs::remove_file(&kubeconfig);
    let log = dir.join("apiserver.log");
    let mut child = Command::new(support::workspace_bin("minik-apiserver"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0", "--write-kubeconfig"])
        .arg(&kubeconfig)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("minik-apiserver starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubeconfig.exists() {
        if let Ok(Some(_)) = child.try_wait() {
            let output = std::process::Output {
                status: child.wait().unwrap(),
                stdout: Vec::new(),
                stderr: std::fs::read(&log).unwrap(),
            };
            return (ApiServer(child), output);
        }
        assert!(Instant::now() < deadline, "minik-apiserver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(0),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    (ApiServer(child), output)
}

fn kubectl(dir: &Path, args: &[&str]) -> String {
    let out = support::kubectl_with(&dir.join("kubeconfig"), &dir.join("cache"), args, None);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The files under `dir` whose bytes contain `needle`.
fn holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secret_values_never_reach_the_disk_and_read_back_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let first = format!("hunter2-{}", support::run_id());
    let second = format!("correct-horse-{}", support::run_id());
    let (server, _) = start(dir, &[]);
    kubectl(
        dir,
        &[
            "create",
            "secret",
            "generic",
            "db",
            &format!("--from-literal=password={first}"),
        ],
    );
    // A ConfigMap is not encrypted: the same search finds its value, so the
    // search itself works.
    let visible = format!("visible-{}", support::run_id());
    kubectl(
        dir,
        &[
            "create",
            "configmap",
            "plain",
            &format!("--from-literal=k={visible}"),
        ],
    );
    let patch = format!(
        r#"{{"data":{{"password":"{}"}}}}"#,
        base64::engine::general_purpose::STANDARD.encode(&second)
    );
    kubectl(dir, &["patch", "secret", "db", "-p", &patch]);
    drop(server);

    let data = dir.join("data");
    assert!(
        !holding(&data, &visible).is_empty(),
        "the ConfigMap is stored in clear"
    );
    for value in [&first, &second] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        assert_eq!(
            holding(&data, value),
            Vec::<PathBuf>::new(),
            "{value} in clear"
        );
        assert_eq!(
            holding(&data, &b64),
            Vec::<PathBuf>::new(),
            "{value} in base64"
        );
    }
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&dir.join("pki/encryption-config.yaml")), 0o600);
    assert_eq!(mode(&dir.join("pki/ca.key")), 0o600);
    assert_eq!(mode(&dir.join("kubeconfig")), 0o600);

    // The key is kept: after a restart the Secret reads back.
    let (server, _) = start(dir, &[]);
    let read = kubectl(
        dir,
        &["get", "secret", "db", "-o", "jsonpath={.data.password}"],
    );
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(read.trim())
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), second);
    drop(server);

    // Another key cannot read the store: the server says so and stops.
    let other = dir.join("other-key.yaml");
    std::fs::write(
        &other,
        minik_apiserver::encryption::Transformer::generate_config().replace("key1", "key2"),
    )
    .unwrap();
    let (_server, exited) = start(
        dir,
        &["--encryption-provider-config", other.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&exited.stderr);
    assert!(
        !exited.status.success(),
        "started with the wrong key: {stderr}"
    );
    assert!(
        stderr.contains(
            "cannot decrypt /registry/core/secrets/default/db: no aesgcm key named \"key1\" in the encryption configuration"
        ),
        "{stderr}"
    );
}
