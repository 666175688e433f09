//! The `minik-dashboard` command line: a client from `--kubeconfig`, the
//! token from `--token-file` (made, 0600, if missing), then
//! [`crate::start`]; it prints the URL to open.
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;

/// minik's dashboard: the cluster live in a browser.
#[derive(Debug, Parser)]
#[command(name = "minik-dashboard", version)]
struct Args {
    /// Path to a kubeconfig file for the API server.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,

    /// Address to serve the page on (loopback only: the token is the only guard).
    #[arg(long, default_value = "127.0.0.1:8001")]
    listen: SocketAddr,

    /// File holding the access token; a new random one is written (0600) if it is missing.
    #[arg(long)]
    token_file: PathBuf,
}

/// Runs `minik-dashboard` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info");
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen must be a loopback address (got {}): anyone who can reach the page can change the cluster",
        args.listen
    );
    let token = read_or_make_token(&args.token_file)?;
    let client = minik_client::connect(args.kubeconfig.as_deref()).await?;
    let running = crate::start(crate::Config {
        client,
        listen: args.listen,
        token,
    })
    .await?;
    println!("minik-dashboard serving at {}", running.url);
    tracing::info!(addr = %running.addr, "minik-dashboard listening");
    running.task.await?;
    Ok(())
}

/// The token in `path`, or a new one (32 random hex digits) written there 0600.
fn read_or_make_token(path: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token = crate::auth::new_token();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{token}")?;
    Ok(token)
}
