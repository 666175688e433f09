//! The HA control plane's load balancer (`cluster up --ha`): a TCP proxy on
//! the cluster's API address in front of the API servers, as kubeadm's HA
//! guide puts HAProxy or kube-vip in front of its control-plane nodes.
//! Every kubeconfig of the cluster names it, so when one API server dies
//! clients reconnect through it to another.
//!
//! Each new connection goes to the next API server in turn; one that does
//! not accept within a second is skipped for that connection. TLS passes
//! through untouched (the API servers share one serving certificate).
//! Where minik simplifies: no health checks beyond "accepts a connection",
//! so a hung-but-listening server still gets its share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::error::{Error, Result};

/// `miniktl cluster lb`: run the load balancer (started by `cluster up --ha`).
#[derive(clap::Args, Debug)]
pub struct LbArgs {
    /// Where clients connect.
    #[arg(long)]
    listen: SocketAddr,
    /// An API server (repeat for each).
    #[arg(long = "backend", required = true)]
    backends: Vec<SocketAddr>,
}

/// How long one API server may take to accept before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn run(args: LbArgs) -> Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Cluster(format!("cannot listen on {}: {e}", args.listen)))?;
    eprintln!(
        "load balancer on {} for {}",
        args.listen,
        args.backends
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let backends = Arc::new(args.backends);
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let (mut inbound, _) = listener.accept().await?;
        let (backends, first) = (backends.clone(), next.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            for k in 0..backends.len() {
                let backend = backends[(first + k) % backends.len()];
                let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend));
                if let Ok(Ok(mut outbound)) = connected.await {
                    let _ = outbound.set_nodelay(true);
                    let _ = inbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
            // No API server accepts: the client sees its connection closed.
        });
    }
}
