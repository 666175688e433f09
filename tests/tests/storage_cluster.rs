//! Storage on a cluster `miniktl cluster up` starts (the real component
//! binaries; run `cargo build --workspace --bins` first), sim runtime,
//! `--isolated`: the default StorageClass `standard` is there, the seed
//! tutorial's `postgres-pvc` (no class named) gets it, a pod using the
//! claim runs with the volume provisioned under the cluster's home, and
//! `cluster down --purge` removes the volumes' data with the rest.

use crate::support;

use support::cli::{down, ok};

use std::path::Path;
use std::time::{Duration, Instant};

fn kubectl(home: &Path, cache: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = support::kubectl_with(&home.join("kubeconfig"), cache, args, stdin);
    assert!(
        out.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const APP: &str = r#"
# Why PVC? Ensures data persists even if pods are rescheduled
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: postgres-pvc
spec:
  accessModes:
    - ReadWriteOnce  # Why RWO? PostgreSQL doesn't support concurrent writes
  resources:
    requests:
      storage: 10Gi
  # storageClassName: fast-ssd  # Uncomment for specific storage class
---
apiVersion: v1
kind: Pod
metadata:
  name: db
spec:
  containers:
  - name: db
    image: busybox:1.35
    volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: postgres-pvc}
"#;

#[test]
fn cluster_up_serves_the_default_class_and_purge_removes_the_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let cache = dir.path().join("cache");
    let name = format!("mks-{}", support::run_id());
    let _down = down(home_path.clone());
    let out = ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "1",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    assert!(out.contains("default StorageClass standard"), "{out}");

    let classes = kubectl(&home_path, &cache, &["get", "sc", "--no-headers"], None);
    let cells: Vec<&str> = classes.split_whitespace().collect();
    assert_eq!(
        cells[..6],
        [
            "standard",
            "(default)",
            "minik.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ],
        "{classes}"
    );

    kubectl(&home_path, &cache, &["apply", "-f", "-"], Some(APP));
    let started = Instant::now();
    let phase = loop {
        let phase = kubectl(
            &home_path,
            &cache,
            &["get", "pod", "db", "-o", "jsonpath={.status.phase}"],
            None,
        );
        if phase == "Running" || started.elapsed() > Duration::from_secs(30) {
            break phase;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(phase, "Running");
    let claim = kubectl(
        &home_path,
        &cache,
        &[
            "get",
            "pvc",
            "postgres-pvc",
            "-o",
            "jsonpath={.status.phase} {.spec.storageClassName} {.spec.volumeName}",
        ],
        None,
    );
    let parts: Vec<&str> = claim.split(' ').collect();
    assert_eq!(parts[..2], ["Bound", "standard"], "{claim}");
    let volumes = home_path.join("data/local-path");
    let made: Vec<String> = std::fs::read_dir(&volumes)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        made[0].starts_with(parts[2]) && made[0].ends_with("_default_postgres-pvc"),
        "{made:?}"
    );

    ok(&["cluster", "down", "--purge", "--home", &home]);
    assert!(
        !volumes.exists(),
        "{} removed by --purge",
        volumes.display()
    );
}
