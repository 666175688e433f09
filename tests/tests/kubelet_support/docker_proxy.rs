//! A Unix socket in front of the Docker engine's that can play an engine
//! outage: every connection through it is cut at once and new ones are
//! refused for a while, as a kubelet sees it when dockerd goes away (its
//! event stream breaks, its requests fail). The engine itself keeps
//! running, so a test can kill a container meanwhile through the real
//! socket, and the kubelet must find out once the engine is back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Bumped by every outage: each connection open then ends.
    outages: watch::Sender<u64>,
    /// New connections are refused until then.
    refuse_until: Mutex<Option<Instant>>,
}

impl DockerProxy {
    /// Listens on `dir`/docker.sock (removed with `dir`).
    pub fn start(dir: &Path) -> DockerProxy {
        let path = dir.join("docker.sock");
        let listener = UnixListener::bind(&path).expect("the proxy's socket");
        let shared = Arc::new(Shared {
            outages: watch::channel(0).0,
            refuse_until: Mutex::new(None),
        });
        let engine = engine_socket();
        let for_accept = shared.clone();
        let accept = tokio::spawn(async move {
            // Dropped with this task: aborting it ends every connection.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                // Watching before the check: an outage starting between
                // the two still ends this connection.
                let outages = for_accept.outages.subscribe();
                let refused = for_accept
                    .refuse_until
                    .lock()
                    .unwrap()
                    .is_some_and(|until| Instant::now() < until);
                if !refused {
                    connections.spawn(forward(client, engine.clone(), outages));
                }
                while connections.try_join_next().is_some() {}
            }
        });
        DockerProxy {
            endpoint: format!("unix://{}", path.display()),
            shared,
            accept,
        }
    }

    /// Cuts every connection now and refuses new ones for `length`.
    pub fn outage(&self, length: Duration) {
        *self.shared.refuse_until.lock().unwrap() = Some(Instant::now() + length);
        self.shared.outages.send_modify(|n| *n += 1);
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

/// Copies one connection both ways until either side closes or an outage
/// begins (checked first, so nothing more passes once it has).
async fn forward(mut client: UnixStream, engine: PathBuf, mut outages: watch::Receiver<u64>) {
    let Ok(mut server) = UnixStream::connect(&engine).await else {
        return;
    };
    tokio::select! {
        biased;
        _ = outages.changed() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}
