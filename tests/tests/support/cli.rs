//! The built `miniktl` binary for tests that drive `miniktl cluster up`:
//! run it, insist it succeeds, and stop the cluster even when a test fails.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs the built `miniktl` binary (so it finds the component binaries next to it).
pub fn miniktl(args: &[&str]) -> Output {
    Command::new(super::workspace_bin("miniktl"))
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("miniktl runs")
}

/// [`miniktl`], failing the test unless it succeeds; its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = miniktl(args);
    assert!(
        o.status.success(),
        "miniktl {} failed:\nstdout: {}\nstderr: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A guard that stops the cluster at this home (`cluster down --purge`)
/// when dropped, even when a test fails half-way.
pub fn down(home: PathBuf) -> minik_tests::ClusterDown {
    minik_tests::ClusterDown::new(super::workspace_bin("miniktl"), home)
}
