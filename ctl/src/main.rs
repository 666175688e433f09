//! `miniktl`: parses the command line and runs it (see the crate docs).

#[tokio::main]
async fn main() {
    if std::env::var_os("MINIKTL_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("MINIKTL_LOG").unwrap_or_default(),
            ))
            .with_writer(std::io::stderr)
            .init();
    }
    // Run as `kubectl-why` (kubectl's plugin mechanism: `kubectl why ...`), be `miniktl why ...`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if invoked == "kubectl-why" {
        args.insert(1, "why".into());
    }
    let code = minik_ctl::execute(args, minik_ctl::Io::process()).await;
    std::process::exit(code);
}
