//! Helpers for the `miniktl_*` tests: run miniktl in-process (the same
//! `minik_ctl::execute` the binary runs) with captured output, and compare
//! its output with the real kubectl's for the same command.
//!
//! Included by each miniktl test file with `#[path]`, so the shared
//! `support/mod.rs` stays untouched.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use minik_ctl::io::{Input, Io, Out};

/// What one miniktl run printed and returned.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    /// Panics (with both streams) unless the command succeeded.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "miniktl failed: stdout:\n{}\nstderr:\n{}",
            self.out, self.err
        );
        self.out
    }
}

/// Runs `miniktl --kubeconfig <kubeconfig> <args>` in this process.
pub async fn miniktl(kubeconfig: &Path, args: &[&str]) -> Run {
    miniktl_with_stdin(kubeconfig, args, "").await
}

/// Like [`miniktl`], with `stdin` as standard input.
pub async fn miniktl_with_stdin(kubeconfig: &Path, args: &[&str], stdin: &str) -> Run {
    let (out, out_buf) = Out::buffer();
    let (err, err_buf) = Out::buffer();
    let io = Io {
        out,
        err,
        stdin: Input::Bytes(Arc::new(stdin.as_bytes().to_vec())),
    };
    let mut argv: Vec<String> = vec![
        "miniktl".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    let code = minik_ctl::execute(argv, io).await;
    let out = String::from_utf8_lossy(&out_buf.lock().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err_buf.lock().unwrap()).into_owned();
    Run { code, out, err }
}

/// Runs miniktl without `--kubeconfig` (for `cluster` commands and errors).
pub async fn miniktl_bare(args: &[&str]) -> Run {
    let (out, out_buf) = Out::buffer();
    let (err, err_buf) = Out::buffer();
    let io = Io {
        out,
        err,
        stdin: Input::Bytes(Arc::new(Vec::new())),
    };
    let mut argv: Vec<String> = vec!["miniktl".into()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let code = minik_ctl::execute(argv, io).await;
    let out = String::from_utf8_lossy(&out_buf.lock().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err_buf.lock().unwrap()).into_owned();
    Run { code, out, err }
}

/// Line-by-line diff for failure messages.
pub fn diff(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::new();
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (
            al.get(i).copied().unwrap_or("<missing>"),
            bl.get(i).copied().unwrap_or("<missing>"),
        );
        if x != y {
            out.push_str(&format!(
                "line {}:\n  kubectl: {x:?}\n  miniktl: {y:?}\n",
                i + 1
            ));
        }
    }
    out
}
