//! `minik-apiserver`: parses flags and runs [`minik_apiserver::run`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// minik's API server: the Kubernetes REST API over an embedded sled store.
#[derive(Parser, Debug)]
#[command(name = "minik-apiserver", version)]
struct Args {
    /// Directory holding the store (created if missing).
    #[arg(long, env = "MINIK_DATA_DIR", default_value = "minik-data")]
    data_dir: PathBuf,
    /// Address to serve the API on (plain HTTP).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Write a kubeconfig for this server to FILE once listening.
    #[arg(long, value_name = "FILE")]
    write_kubeconfig: Option<PathBuf>,
    /// How many recent changes a watch can resume from before getting 410 Gone.
    #[arg(long, default_value_t = 10_000)]
    watch_history: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = minik_apiserver::Config::new(args.data_dir, args.listen);
    config.watch_history = args.watch_history;
    let server = minik_apiserver::start(config).await?;
    if let Some(path) = &args.write_kubeconfig {
        minik_apiserver::kubeconfig::write(path, &server.url())
            .with_context(|| format!("writing kubeconfig to {}", path.display()))?;
        tracing::info!(path = %path.display(), "wrote kubeconfig");
    }
    tokio::select! {
        r = server.wait() => Ok(r?),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
