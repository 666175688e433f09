//! The `minik-apiserver` command line: its flags, and [`crate::start`]
//! from them until the server stops (or `--restore-snapshot` done
//! instead).
//!
//! [`main`] is called by the component's own executable (`src/main.rs`)
//! and by the multi-call `minik` executable that `miniktl cluster up` runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::authentication::Authenticator;
use crate::certificates;
use crate::encryption::Transformer;
use crate::transport::TlsFiles;
use anyhow::Context;
use clap::Parser;
use minik_client::kubeconfig::Kubeconfig;
use std::sync::Arc;

/// minik's API server: the Kubernetes REST API over an embedded sled store.
#[derive(Parser, Debug)]
#[command(name = "minik-apiserver", version)]
struct Args {
    /// Directory holding the store (created if missing).
    #[arg(long, env = "MINIK_DATA_DIR", default_value = "minik-data")]
    data_dir: PathBuf,
    /// Where the cluster is kept: `sled` (in --data-dir, this server only)
    /// or `etcd://host:port[,host:port]` (shared: several API servers may
    /// serve one cluster from it).
    #[arg(long, env = "MINIK_STORE", default_value = "sled")]
    store: String,
    /// Prepended to every key in etcd (several clusters can share one etcd).
    #[arg(long, default_value = "")]
    etcd_prefix: String,
    /// Address to serve the API on (HTTPS).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Write the cluster admin's kubeconfig (CA, admin client certificate;
    /// mode 0600) to FILE once listening. Needs the certificates made in
    /// --cert-dir (not --tls-cert-file).
    #[arg(long, value_name = "FILE")]
    write_kubeconfig: Option<PathBuf>,
    /// Where the CA, serving and admin certificates are made when no
    /// --tls-cert-file is given (kube-apiserver's self-signed certificates);
    /// default `<data-dir>/../pki`.
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Extra names and addresses for the self-made serving certificate.
    #[arg(long = "tls-san", value_name = "NAME")]
    tls_sans: Vec<String>,
    /// The serving certificate (PEM); with --tls-private-key-file and --client-ca-file.
    #[arg(long, value_name = "FILE", requires_all = ["tls_private_key_file", "client_ca_file"])]
    tls_cert_file: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    tls_private_key_file: Option<PathBuf>,
    /// The CA client certificates must be signed by (x509 authentication).
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    client_ca_file: Option<PathBuf>,
    /// How Secrets are encrypted at rest (an apiserver.config.k8s.io/v1
    /// EncryptionConfiguration: aesgcm and identity providers); default
    /// `<cert-dir>/encryption-config.yaml`, made with a random key if missing.
    #[arg(long, value_name = "FILE")]
    encryption_provider_config: Option<PathBuf>,
    /// The P-256 PKCS#8 key ServiceAccount tokens are signed and checked
    /// with; default `<cert-dir>/sa.key`, made if missing.
    #[arg(long, value_name = "FILE")]
    service_account_signing_key_file: Option<PathBuf>,
    /// The `iss` of the tokens issued, also the audience a token must be
    /// meant for to be accepted here.
    #[arg(long, value_name = "URL", default_value = crate::service_account_token::DEFAULT_ISSUER)]
    service_account_issuer: String,
    /// Static bearer tokens, one `token,user,uid[,"group1,group2"]` per line.
    #[arg(long, value_name = "FILE")]
    token_auth_file: Option<PathBuf>,
    /// The client certificate (PEM) the API server shows the kubelets; with
    /// --kubelet-client-key and --kubelet-certificate-authority. Default:
    /// one made in --cert-dir (none with --insecure-plain-http: plain HTTP
    /// to the kubelets too).
    #[arg(long, value_name = "FILE", requires_all = ["kubelet_client_key", "kubelet_certificate_authority"])]
    kubelet_client_certificate: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "kubelet_client_certificate")]
    kubelet_client_key: Option<PathBuf>,
    /// The CA the kubelets' serving certificates are checked against.
    #[arg(long, value_name = "FILE", requires = "kubelet_client_certificate")]
    kubelet_certificate_authority: Option<PathBuf>,
    /// Serve plain HTTP, where every caller acts as the cluster admin: for
    /// debugging on loopback only (kube-apiserver's old insecure port).
    #[arg(long)]
    insecure_plain_http: bool,
    /// Range ClusterIPs are allocated from (the cluster DNS uses its .10 address).
    #[arg(long, default_value = "10.96.0.0/16")]
    service_cluster_ip_range: crate::allocator::Cidr,
    /// Range NodePorts are allocated from, as FIRST-LAST.
    #[arg(long, default_value = "30000-32767", value_parser = parse_port_range)]
    service_node_port_range: std::ops::RangeInclusive<u16>,
    /// How many recent changes a watch can resume from before getting 410 Gone.
    #[arg(long, default_value_t = 10_000)]
    watch_history: usize,
    /// Connections served at once, watches included; more are answered 429.
    /// Keep it well below the process's file descriptor limit.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Start even if the store is damaged, keeping what is intact and saying what was lost.
    #[arg(long)]
    recover: bool,
    /// Replace the (stopped) store in --data-dir with this snapshot, keeping the old one aside, then exit.
    #[arg(long, value_name = "FILE")]
    restore_snapshot: Option<PathBuf>,
    /// The most bytes of encoded changes kept for watches to resume from.
    #[arg(long, default_value_t = 64 << 20)]
    watch_history_bytes: usize,
    /// How long Events are kept after their last write, as a Go duration
    /// (`1h`, `30m`, `90s`); 0 keeps them forever.
    #[arg(long, default_value = "1h", value_parser = minik_api::duration::parse_go_duration)]
    event_ttl: Duration,
    /// How often every kubelet's resource metrics are scraped for
    /// metrics.k8s.io, as a Go duration (metrics-server's default, 15s).
    #[arg(long, default_value = "15s", value_parser = parse_resolution)]
    metrics_resolution: Duration,
}

fn parse_resolution(s: &str) -> Result<Duration, String> {
    match minik_api::duration::parse_go_duration(s)? {
        d if d.is_zero() => Err("must be greater than 0".into()),
        d => Ok(d),
    }
}

/// Runs `minik-apiserver` with `args`, the first being the program's name
/// (as `std::env::args_os` gives them).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    run(Args::parse_from(args))
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    minik_client::open_files::raise_open_files_limit();
    minik_client::init_tracing("info");
    let cert_dir = args.cert_dir.clone().unwrap_or_else(|| {
        let parent = args.data_dir.parent().unwrap_or(std::path::Path::new("."));
        parent.join("pki")
    });
    let encryption = encryption(&args, &cert_dir)?;
    if let Some(file) = &args.restore_snapshot {
        return restore(file, &args.data_dir, encryption);
    }
    let mut config = crate::Config::new(args.data_dir, args.listen);
    config.watch_history = args.watch_history;
    config.watch_history_bytes = args.watch_history_bytes;
    config.event_ttl = args.event_ttl;
    config.metrics_resolution = args.metrics_resolution;
    config.service_cidr = args.service_cluster_ip_range;
    config.node_ports = args.service_node_port_range;
    config.max_connections = args.max_connections;
    config.recover = args.recover;
    config.etcd = match args.store.as_str() {
        "sled" => None,
        spec => Some(
            crate::etcd_store::EtcdConfig::parse(spec, &args.etcd_prefix)
                .map_err(|e| anyhow::anyhow!("--store: {e}"))?,
        ),
    };
    config.encryption = encryption;
    if let Some(file) = &args.token_auth_file {
        let tokens = Authenticator::from_token_file(file).map_err(anyhow::Error::msg)?;
        config.authenticator = std::sync::Arc::new(tokens);
    }
    let sa_key = args
        .service_account_signing_key_file
        .clone()
        .unwrap_or_else(|| cert_dir.join("sa.key"));
    let mut keys =
        crate::service_account_token::Keys::ensure(&sa_key).map_err(anyhow::Error::msg)?;
    keys.issuer = args.service_account_issuer.clone();
    keys.audiences = vec![args.service_account_issuer.clone()];
    config.service_account_keys = Some(Arc::new(keys));
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let mut self_signed = None;
    if args.insecure_plain_http {
        tracing::warn!("serving plain HTTP: every caller acts as the cluster admin");
    } else if let (Some(cert), Some(key), Some(ca)) = (
        &args.tls_cert_file,
        &args.tls_private_key_file,
        &args.client_ca_file,
    ) {
        config.tls = Some(TlsFiles {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            ca_pem: read(ca)?,
        });
    } else {
        let dir = &cert_dir;
        let made = certificates::ensure(
            dir,
            config.listen,
            config.service_cidr.nth(1).into(),
            &args.tls_sans,
        )
        .with_context(|| format!("making certificates in {}", dir.display()))?;
        config.tls = Some(made.tls_files());
        config.kubelet_tls = Some(made.kubelet_files());
        self_signed = Some(made);
    }
    // Given explicitly, these replace the self-made kubelet client.
    if let (Some(cert), Some(key), Some(ca)) = (
        &args.kubelet_client_certificate,
        &args.kubelet_client_key,
        &args.kubelet_certificate_authority,
    ) {
        config.kubelet_tls = Some(TlsFiles {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            ca_pem: read(ca)?,
        });
    }
    let server = crate::start(config).await?;
    if let Some(path) = &args.write_kubeconfig {
        let url = server.url();
        let kubeconfig = match &self_signed {
            Some(made) => Kubeconfig {
                server: &url,
                ca_pem: Some(&made.ca.pem().cert_pem),
                client: Some(&made.admin),
                user: "kubernetes-admin",
            },
            None if args.insecure_plain_http => Kubeconfig {
                server: &url,
                ca_pem: None,
                client: None,
                user: "minik",
            },
            None => anyhow::bail!(
                "--write-kubeconfig needs the certificates minik-apiserver makes itself \
                 (leave out --tls-cert-file), or --insecure-plain-http"
            ),
        };
        kubeconfig
            .write(path)
            .with_context(|| format!("writing kubeconfig to {}", path.display()))?;
        tracing::info!(path = %path.display(), "wrote kubeconfig");
    }
    tokio::select! {
        r = server.wait() => Ok(r?),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// The encryption configuration: `--encryption-provider-config`, else the
/// one in `cert_dir` (written with a fresh random key the first time).
fn encryption(args: &Args, cert_dir: &std::path::Path) -> anyhow::Result<Arc<Transformer>> {
    let path = match &args.encryption_provider_config {
        Some(path) => path.clone(),
        None => {
            let path = cert_dir.join("encryption-config.yaml");
            if !path.exists() {
                minik_client::pki::write_private(&path, &Transformer::generate_config())?;
            }
            path
        }
    };
    Ok(Arc::new(
        Transformer::from_file(&path).map_err(anyhow::Error::msg)?,
    ))
}

/// `--restore-snapshot FILE`: etcd's `snapshot restore`, then exit.
fn restore(
    file: &std::path::Path,
    data_dir: &std::path::Path,
    encryption: Arc<Transformer>,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let snapshot = crate::store::Snapshot::decode(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!("{}", snapshot.restore(data_dir, encryption)?);
    Ok(())
}

fn parse_port_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?} is not a range like 30000-32767"))?;
    let a: u16 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a port"))?;
    let b: u16 = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?} is not a port"))?;
    if a > b {
        return Err(format!("{s:?}: the first port must not exceed the last"));
    }
    Ok(a..=b)
}
