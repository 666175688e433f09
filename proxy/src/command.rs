//! Running the system tools the proxy drives (`ip`, `iptables`,
//! `iptables-save`, `iptables-restore`): one place that spawns them,
//! feeds their input and turns a failure into its stderr.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// How long to wait for the xtables lock held by another program.
const LOCK_WAIT_SECS: &str = "5";

/// Runs `iptables -w 5 args`.
pub fn iptables(args: &[&str]) -> Result<String, String> {
    run("iptables", &[&["-w", LOCK_WAIT_SECS], args].concat(), None)
}

/// Feeds `input` to `iptables-restore --noflush` (one transaction; the
/// chains it declares are flushed, the others left alone).
pub fn restore(input: &str) -> Result<String, String> {
    run(
        "iptables-restore",
        &["-w", LOCK_WAIT_SECS, "--noflush"],
        Some(input),
    )
}

/// Runs `program args`, with `stdin` as its input if given; its stdout,
/// or why it failed.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
