//! `minik`: every component in one executable, as busybox is many
//! commands. `minik apiserver --data-dir d` runs what `minik-apiserver
//! --data-dir d` runs, and so does `minik` started under the name
//! `minik-apiserver` (argv[0]), which is how `miniktl cluster up` starts
//! each process: `ps` shows the component's name and its flags.
//!
//! Why one executable: the cluster's processes stay separate (kill one and
//! the others carry on, as in Kubernetes), but code mapped from one file is
//! one copy in memory however many processes run it. Seven executables
//! held seven copies of tokio, hyper, rustls, serde and k8s-openapi — about
//! half of a small cluster's memory (BENCHMARKS.md, "Pods at scale" step
//! 18). Each component's own executable (`minik-apiserver`, …) is still
//! built, for running one by hand; both call the same `cli::main`.

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
    minik_client::allocator::return_freed_memory_at_once();
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Started as `minik-apiserver`, or as `minik apiserver`: then the
    // component sees `minik-apiserver` as its program name (clap's usage
    // and errors), and so does its API client (the User-Agent, which the
    // API server's metrics count by).
    let (name, main) = match find(&called) {
        Some(found) => found,
        None => {
            let given = args.get(1).map(|a| a.to_string_lossy().into_owned());
            let Some(found) = given.as_deref().and_then(|g| find(&format!("minik-{g}"))) else {
                return usage(&called, given.as_deref());
            };
            args.remove(0);
            args[0] = OsString::from(found.0);
            found
        }
    };
    name_process(name);
    minik_client::name_program(name);
    match main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // What `fn main() -> anyhow::Result<()>` prints.
            eprintln!("Error: {e:?}");
            ExitCode::FAILURE
        }
    }
}

/// The component called `name` (`minik-apiserver`), and its entry point.
fn find(name: &str) -> Option<(&'static str, Main)> {
    COMPONENTS.iter().copied().find(|(n, _)| *n == name)
}

/// Names the process after its component (`top`, `ps -o comm`, which read
/// the kernel's 15-character name, not argv[0]), as its own executable
/// would be named.
fn name_process(name: &str) {
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
    // bytes; `comm` is 16 zeroed bytes of which at most the first 15 are
    // written, so it always ends in NUL.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
    }
}

/// Says how to call `minik`: on stdout for `--help` (and its version for
/// `--version`), else on stderr with what was wrong, exit status 2 as
/// clap's usage errors.
fn usage(called: &str, given: Option<&str>) -> ExitCode {
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
    match given {
        Some("--help" | "-h" | "help") => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Some("--version" | "-V") => {
            println!("minik {}", env!("CARGO_PKG_VERSION"));
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
