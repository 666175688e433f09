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
    let code = minik_ctl::execute(std::env::args_os(), minik_ctl::Io::process()).await;
    std::process::exit(code);
}
