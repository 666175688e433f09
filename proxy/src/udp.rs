//! UDP frontends: per-client sessions to a chosen endpoint.
//!
//! What conntrack does for kube-proxy's UDP DNAT, done in user space: the
//! first datagram from a client address picks an endpoint and opens a
//! socket connected to it; replies come back through the frontend socket,
//! so the client sees them from the service address. A session ends after
//! `idle` without traffic, or as soon as its endpoint stops being ready
//! (kube-proxy likewise flushes conntrack entries of removed UDP
//! endpoints). With no ready endpoint a datagram is dropped: user space
//! cannot send the ICMP "port unreachable" that kube-proxy's REJECT does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::AbortHandle;

use crate::backends::Backends;

struct Session {
    endpoint: SocketAddr,
    upstream: Arc<UdpSocket>,
    task: AbortHandle,
}

type Sessions = Arc<Mutex<HashMap<SocketAddr, Session>>>;

/// Relays datagrams on `socket` until the task is aborted.
pub async fn serve(socket: UdpSocket, backends: Arc<Backends>, idle: Duration) {
    let socket = Arc::new(socket);
    let sessions: Sessions = Arc::default();
    // Sessions end with the frontend (the relay tasks are aborted on drop).
    let _guard = SessionsGuard(sessions.clone());
    let mut buf = vec![0u8; 65536];
    loop {
        let (len, client) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%error, "udp receive failed");
                continue;
            }
        };
        let upstream = {
            let mut map = sessions.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&client) {
                Some(s) if backends.contains(&s.endpoint) => Some(s.upstream.clone()),
                _ => {
                    if let Some(old) = map.remove(&client) {
                        old.task.abort();
                    }
                    None
                }
            }
        };
        let upstream = match upstream {
            Some(u) => u,
            None => {
                let Some(endpoint) = backends.pick(client.ip()) else {
                    continue;
                };
                match open(endpoint).await {
                    Ok(u) => {
                        let task = tokio::spawn(relay_replies(
                            u.clone(),
                            socket.clone(),
                            client,
                            sessions.clone(),
                            idle,
                        ))
                        .abort_handle();
                        let session = Session {
                            endpoint,
                            upstream: u.clone(),
                            task,
                        };
                        sessions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(client, session);
                        u
                    }
                    Err(error) => {
                        tracing::debug!(%endpoint, %error, "cannot reach udp endpoint");
                        continue;
                    }
                }
            }
        };
        let _ = upstream.send(&buf[..len]).await;
    }
}

async fn open(endpoint: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
    let any: SocketAddr = if endpoint.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any).await?;
    socket.connect(endpoint).await?;
    Ok(Arc::new(socket))
}

/// Sends the endpoint's replies back to `client` until the session idles out.
async fn relay_replies(
    upstream: Arc<UdpSocket>,
    frontend: Arc<UdpSocket>,
    client: SocketAddr,
    sessions: Sessions,
    idle: Duration,
) {
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok(len)) = tokio::time::timeout(idle, upstream.recv(&mut buf)).await {
        let _ = frontend.send_to(&buf[..len], client).await;
    }
    let mut map = sessions.lock().unwrap_or_else(|e| e.into_inner());
    if map
        .get(&client)
        .is_some_and(|s| Arc::ptr_eq(&s.upstream, &upstream))
    {
        map.remove(&client);
    }
}

struct SessionsGuard(Sessions);

impl Drop for SessionsGuard {
    fn drop(&mut self) {
        for (_, s) in self.0.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            s.task.abort();
        }
    }
}
