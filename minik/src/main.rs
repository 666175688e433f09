//! `minik`: every component in one executable, as busybox is many
//! commands. `minik apiserver --data-dir d` runs what `minik-apiserver
//! --data-dir d` runs, and so does `minik` started under the name
//! `minik-apiserver` (argv[0]), which is how `miniktl cluster up` starts
//! each process: `ps` shows the component's name and its flags.
//!
//! Why one executable: the cluster's processes stay separate (kill one and
//! the others carry on, as in Kubernetes), but code mapped from one file is
//! one copy in memory however many processes run it. Seven executables
//! held seven copies of tokio, hyper, rustls, serde and k8s-openapi — most
//! of a small cluster's memory (BENCHMARKS.md, issue 18). Each component's
//! own executable (`minik-apiserver`, …) is still built, for running one
//! by hand; both call the same `cli::main`.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A component's entry point: its flags as `std::env::args_os` gives them.
type Main = fn(Vec<OsString>) -> anyhow::Result<()>;

/// Every component, by the name of its own executable.
const COMPONENTS: &[(&str, Main)] = &[
    ("minik-apiserver", |a| minik_apiserver::cli::main(a)),
    ("minik-controller", |a| minik_controller::cli::main(a)),
    ("minik-scheduler", |a| minik_scheduler::cli::main(a)),
    ("minik-kubelet", |a| minik_kubelet::cli::main(a)),
    ("minik-proxy", |a| minik_proxy::cli::main(a)),
    ("minik-dns", |a| minik_dns::cli::main(a)),
    ("minik-dashboard", |a| minik_dashboard::cli::main(a)),
];

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Started as `minik-apiserver`, or as `minik apiserver`.
    let name = match find(&called) {
        Some(name) => name,
        None => {
            let Some(name) = args
                .get(1)
                .and_then(|a| find(&format!("minik-{}", a.to_string_lossy())))
            else {
                return usage(&called, args.get(1));
            };
            args.remove(0);
            args[0] = OsString::from(name);
            name
        }
    };
    name_process(name);
    let (_, main) = COMPONENTS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("found above");
    match main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // What `fn main() -> anyhow::Result<()>` prints.
            eprintln!("Error: {e:?}");
            ExitCode::FAILURE
        }
    }
}

/// The component called `name`, as its `'static` name.
fn find(name: &str) -> Option<&'static str> {
    COMPONENTS.iter().map(|(n, _)| *n).find(|n| *n == name)
}

/// Names the process after its component (`top`, `ps -o comm`, which read
/// the kernel's 15-character name, not argv[0]), as its own executable
/// would be named.
fn name_process(name: &str) {
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
    }
}

/// Says how to call `minik`: on stdout for `--help`, else on stderr with
/// what was wrong (exit status 2, as clap's usage errors).
fn usage(called: &str, given: Option<&OsString>) -> ExitCode {
    let names: Vec<&str> = COMPONENTS
        .iter()
        .map(|(n, _)| n.trim_start_matches("minik-"))
        .collect();
    let text = format!(
        "usage: {called} <component> [flags…]   (or run it as minik-<component>)\n\
         components: {}\n\
         `{called} <component> --help` lists a component's flags.",
        names.join(", ")
    );
    match given.map(|g| g.to_string_lossy()) {
        Some(g) if g == "--help" || g == "-h" || g == "help" => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Some(g) => {
            eprintln!("{called}: no component {g:?}\n{text}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{text}");
            ExitCode::from(2)
        }
    }
}
