//! Running the system tools the proxy drives (`ip`, `iptables`,
//! `iptables-save`, `iptables-restore`): one place that spawns them,
//! feeds their input and turns a failure into its stderr.

use std::collections::BTreeSet;
use std::fmt::Write as _;
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

/// Removes from `table` every copy of each `(built-in chain, rule)` jump
/// (a crashed run may have left one per start), then every chain `owns`
/// claims, in one `iptables-restore` transaction; returns whether there
/// was anything to remove. The proxy's service and network policy rules
/// are both cleaned up this way.
pub fn remove_chains(
    table: &str,
    jumps: &[(&str, Vec<String>)],
    owns: impl Fn(&str) -> bool,
) -> Result<bool, String> {
    let mut removed = false;
    for (builtin, rule) in jumps {
        let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
        while iptables(&[&["-t", table, "-C", builtin], &rule[..]].concat()).is_ok() {
            iptables(&[&["-t", table, "-D", builtin], &rule[..]].concat())?;
            removed = true;
        }
    }
    let saved = run("iptables-save", &["-t", table], None)?;
    let existing: BTreeSet<&str> = saved
        .lines()
        .filter_map(|l| l.strip_prefix(':')?.split_whitespace().next())
        .filter(|c| owns(c))
        .collect();
    if !existing.is_empty() {
        let mut input = format!("*{table}\n");
        for c in &existing {
            let _ = writeln!(input, ":{c} - [0:0]");
        }
        for c in &existing {
            let _ = writeln!(input, "-X {c}");
        }
        input.push_str("COMMIT\n");
        restore(&input)?;
        removed = true;
    }
    Ok(removed)
}
