//! A Unix socket in front of the Docker engine's that can break the event
//! streams passing through it (`GET …/events`) and refuse new ones for a
//! while: what a kubelet sees when its stream from dockerd drops. Every
//! other request passes untouched, so the kubelet can still inspect,
//! start and kill containers meanwhile.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub struct DockerProxy {
    /// `unix://<dir>/docker.sock`, for a kubelet's `--docker-endpoint`.
    pub endpoint: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    /// Bumped by every cut: each connection carrying an event stream ends.
    cuts: watch::Sender<u64>,
    /// New event streams are refused until then.
    refuse_until: Mutex<Option<Instant>>,
    /// Event-stream requests let through so far.
    opened: Mutex<usize>,
}

impl DockerProxy {
    /// Listens on `dir`/docker.sock (removed with `dir`).
    pub fn start(dir: &Path) -> DockerProxy {
        let path = dir.join("docker.sock");
        let listener = UnixListener::bind(&path).expect("the proxy's socket");
        let shared = Arc::new(Shared {
            cuts: watch::channel(0).0,
            refuse_until: Mutex::new(None),
            opened: Mutex::new(0),
        });
        let engine = engine_socket();
        let for_accept = shared.clone();
        let accept = tokio::spawn(async move {
            // Dropped with this task: aborting it ends every connection.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(forward(client, engine.clone(), for_accept.clone()));
                while connections.try_join_next().is_some() {}
            }
        });
        DockerProxy {
            endpoint: format!("unix://{}", path.display()),
            shared,
            accept,
        }
    }

    /// Ends every event stream now and refuses new ones for `hold`.
    pub fn cut_events(&self, hold: Duration) {
        *self.shared.refuse_until.lock().unwrap() = Some(Instant::now() + hold);
        self.shared.cuts.send_modify(|n| *n += 1);
    }

    /// Event streams opened through the proxy so far.
    pub fn events_opened(&self) -> usize {
        *self.shared.opened.lock().unwrap()
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The engine's socket: `DOCKER_HOST` when it is a Unix one.
fn engine_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// Whether a chunk the client sent starts an event-stream request.
fn is_events_request(chunk: &[u8]) -> bool {
    String::from_utf8_lossy(chunk).lines().any(|line| {
        line.strip_prefix("GET ")
            .and_then(|rest| rest.split([' ', '?']).next())
            .is_some_and(|path| path.ends_with("/events"))
    })
}

/// Copies one connection both ways until either side closes, or until a
/// cut when it carries an event stream.
async fn forward(client: UnixStream, engine: PathBuf, shared: Arc<Shared>) {
    let Ok(server) = UnixStream::connect(&engine).await else {
        return;
    };
    let mut cuts = shared.cuts.subscribe();
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    // The cut count when this connection's event stream opened (MAX: none).
    let events_since = AtomicU64::new(u64::MAX);
    let upstream = async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = from_client.read(&mut buf).await?;
            if n == 0 {
                return to_server.shutdown().await;
            }
            if is_events_request(&buf[..n]) {
                let refused = shared
                    .refuse_until
                    .lock()
                    .unwrap()
                    .is_some_and(|until| Instant::now() < until);
                if refused {
                    return Err(std::io::ErrorKind::ConnectionRefused.into());
                }
                *shared.opened.lock().unwrap() += 1;
                events_since.store(*shared.cuts.borrow(), Ordering::Relaxed);
            }
            to_server.write_all(&buf[..n]).await?;
        }
    };
    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
    let cut = async {
        loop {
            if cuts.changed().await.is_err() {
                return std::future::pending().await;
            }
            let since = events_since.load(Ordering::Relaxed);
            if since != u64::MAX && *cuts.borrow() > since {
                return;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::try_join!(upstream, downstream) } => {}
        _ = cut => {}
    }
}
