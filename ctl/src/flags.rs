//! The flags many subcommands share, declared once and pulled into each
//! command with `#[command(flatten)]` — kubectl's `genericclioptions`
//! (`-f`/`-R`, `-l` and `--all`, `-A`, `-o`, `--dry-run`) — plus the parser for
//! duration-valued flags (`--timeout`, `--since`).
//!
//! A command that needs a variation says so where it flattens the set,
//! e.g. `apply`'s `#[command(mut_arg("filename", ...))]` makes `-f`
//! required unless `-k` is given.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::io::Io;
use crate::manifest::{self, Document};
use crate::printers::Format;

/// `-f/--filename` and `-R/--recursive`: manifests to act on.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Files {
    /// Files, directories or `-` (stdin) with the manifests.
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    /// Descend into directories given with -f.
    #[arg(short = 'R', long = "recursive")]
    pub recursive: bool,
}

impl Files {
    /// Whether no `-f` was given.
    pub fn is_empty(&self) -> bool {
        self.filename.is_empty()
    }

    /// Every document of every file, in order.
    pub fn read(&self, io: &Io) -> Result<Vec<Document>> {
        manifest::read_all(io, &self.filename, self.recursive)
    }
}

/// `-i/--stdin`, `-t/--tty`, `-q/--quiet`: how miniktl is wired to a
/// container's process (`exec`, `attach`, `debug`).
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Streams {
    /// Pass stdin to the container's process.
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Only print errors.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

/// `-l/--selector`: a label selector (e.g. `app=web,tier!=db`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selector {
    /// Label selector (e.g. app=web,tier!=db).
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
}

impl Selector {
    pub fn get(&self) -> Option<&str> {
        self.selector.as_deref()
    }

    pub fn is_some(&self) -> bool {
        self.selector.is_some()
    }
}

/// `-l` or `--all`: which objects of a type to act on when no names are given.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Matching {
    #[command(flatten)]
    pub selector: Selector,
    /// Every object of the given type(s) in the namespace.
    #[arg(long = "all")]
    pub all: bool,
}

impl Matching {
    /// Whether objects may be chosen without naming them.
    pub fn any(&self) -> bool {
        self.all || self.selector.is_some()
    }
}

/// `-A/--all-namespaces`.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct AllNamespaces {
    /// Across all namespaces (ignores -n).
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
}

impl AllNamespaces {
    /// The namespace to list in: `None` (every namespace) with `-A`.
    pub fn scope<'a>(&self, namespace: &'a str) -> Option<&'a str> {
        (!self.all_namespaces).then_some(namespace)
    }
}

/// `-o/--output`: how to print (each command accepts its own subset).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Output {
    /// Output format (e.g. wide, yaml, json, name, jsonpath=TEMPLATE).
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
}

impl Output {
    pub fn as_deref(&self) -> Option<&str> {
        self.output.as_deref()
    }

    /// The printer format asked for; `None` without `-o` (the command's
    /// own message, e.g. `pod/web created`).
    pub fn format(&self) -> Result<Option<Format>> {
        self.output
            .as_deref()
            .map(|o| Format::parse(Some(o)))
            .transpose()
    }
}

/// `--dry-run[=none|client|server]`.
#[derive(clap::Args, Debug, Clone)]
pub struct DryRunFlag {
    /// none, client or server: only show what would happen.
    #[arg(long = "dry-run", default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
}

impl DryRunFlag {
    pub fn parse(&self) -> Result<DryRun> {
        DryRun::parse(&self.dry_run)
    }
}

/// What `--dry-run` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    /// Nothing is sent; the object is printed as it would be sent.
    Client,
    /// Sent with `dryRun=All`: the server validates and defaults, stores nothing.
    Server,
}

impl DryRun {
    pub fn parse(s: &str) -> Result<DryRun> {
        match s {
            "none" | "false" | "" => Ok(DryRun::None),
            "client" | "true" => Ok(DryRun::Client),
            "server" => Ok(DryRun::Server),
            other => Err(Error::Usage(format!(
                "Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."
            ))),
        }
    }

    /// What kubectl appends to its messages.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// `30s`, `2m`, `1h`, `500ms`, `0` → a duration (`None` for zero: forever).
pub fn parse_duration(s: &str) -> Result<Option<Duration>> {
    let s = s.trim();
    let bad = || Error::Usage(format!("invalid duration {s:?} (use e.g. 30s, 2m, 1h)"));
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs_f64(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0s").unwrap(), None);
        assert_eq!(
            parse_duration("30s").unwrap(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("2m").unwrap(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_duration("250ms").unwrap(),
            Some(Duration::from_millis(250))
        );
        assert!(parse_duration("soon").is_err());
    }
}
