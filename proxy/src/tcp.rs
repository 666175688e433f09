//! TCP frontends: accept, choose a ready endpoint, splice bytes both ways.
//!
//! In iptables mode the kernel's DNAT rules ([`crate::nat`]) take most
//! connections before they get here; this is the path for the rest, and
//! for everything in userspace mode — kube-proxy's original "userspace"
//! mode: one accepted connection, one connection to an endpoint. An endpoint
//! that refuses is skipped and the next one tried (as the userspace mode
//! did), so a pod that just died costs a retry, not a failed request.
//! With no ready endpoint the connection is reset at once — the client
//! fails fast instead of hanging, as with kube-proxy's REJECT rule.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::backends::Backends;

/// How long connecting to one endpoint may take before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How many endpoints one connection tries at most.
const MAX_TRIES: usize = 3;

/// Accepts connections on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, backends: Arc<Backends>) {
    loop {
        match listener.accept().await {
            Ok((conn, peer)) => {
                tokio::spawn(proxy(conn, peer, backends.clone()));
            }
            Err(error) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn proxy(mut conn: TcpStream, peer: SocketAddr, backends: Arc<Backends>) {
    let _ = conn.set_nodelay(true);
    let tries = backends.endpoints().len().min(MAX_TRIES);
    for _ in 0..tries {
        let Some(endpoint) = backends.pick(peer.ip()) else {
            break;
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(endpoint)).await {
            Ok(Ok(mut upstream)) => {
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                return;
            }
            Ok(Err(error)) => tracing::debug!(%endpoint, %error, "endpoint refused"),
            Err(_) => tracing::debug!(%endpoint, "endpoint timed out"),
        }
        backends.unstick(peer.ip());
    }
    reset(conn);
}

/// Closes with RST (SO_LINGER 0), so the client sees "connection reset"
/// immediately rather than an orderly but empty close.
pub fn reset(conn: TcpStream) {
    let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    drop(conn);
}
