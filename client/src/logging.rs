//! Logging set-up shared by every component binary: `tracing` to stderr,
//! filtered by `RUST_LOG` when set, else by the component's default.

/// Installs the global `tracing` subscriber. `default_filter` applies when
/// `RUST_LOG` is unset or invalid (e.g. `"info"`, `"info,kube=warn"`).
/// Logs go to stderr so a component's stdout stays free for its output.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
