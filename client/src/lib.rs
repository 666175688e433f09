//! # minik-client: talking to the API server, the same way everywhere
//!
//! Every component other than the API server reaches the cluster through
//! the `kube` crate; this crate holds the two pieces they all repeat:
//! - [`connect`]: a client from `--kubeconfig FILE`, else `KUBECONFIG`,
//!   else `~/.kube/config` (kube's inference), with a read timeout, over
//!   [`http2`] where the server offers it;
//! - [`reflect`]: a reflector whose every change wakes one level-triggered
//!   sync loop (minik-proxy, minik-dns);
//! - [`errors`]: what a failed call means (`is_not_found`, `is_conflict`, …),
//!   client-go's `apierrors`;
//! - [`events`]: the one Event recorder, with client-go's correlation
//!   (spam filter, aggregation of similar events, count bumps on repeats);
//! - [`informer`]: shared informers, one watch and cache per kind per
//!   process (client-go's `SharedInformerFactory`);
//! - [`logging`]: the `tracing` set-up every binary starts with;
//! - [`kubeconfig`]: writing one (server, CA, client certificate);
//! - [`leader_election`]: Lease-based leader election (`--leader-elect`),
//!   so of several controller-managers or schedulers only one acts;
//! - [`service_endpoints`]: the endpoints behind each Service, from its
//!   EndpointSlices (what minik-proxy and minik-dns route and answer with);
//! - [`pki`]: the cluster's CA and the certificates it issues (kubeadm's
//!   `certs` phase): the API server's serving certificate and one client
//!   certificate per identity; [`tls`]: rustls configurations from them;
//! - [`why`]: why an object is the way it is, from objects and Events (the
//!   trace `miniktl why` prints and the dashboard's pod page shows);
//! - [`allocator`]: the one setting minik changes in mimalloc, every
//!   component's allocator;
//! - [`step_mode`]: step mode's control channel, the ConfigMap
//!   `kube-system/minik-step-mode` the controller-manager's gate, `miniktl
//!   step` and the dashboard share.

pub mod allocator;
pub mod errors;
pub mod events;
pub mod http2;
pub mod informer;
pub mod kubeconfig;
pub mod leader_election;
pub mod logging;
pub mod open_files;
pub mod pki;
pub mod service_endpoints;
pub mod step_mode;
pub mod tls;
pub mod why;

pub use events::EventRecorder;
pub use informer::{Change, Informer, SharedInformerFactory};
pub use logging::init_tracing;

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::Store;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How long a request may go without receiving a byte before it is
/// abandoned. kube's client has no such limit by default, so a list sent to
/// an API server that accepted the connection and then stalled would hang
/// its informer forever; with it, the watcher gets an error, backs off and
/// relists. Longer than a watch's server-side timeout (kube asks for 290 s),
/// so a quiet watch ends normally first.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(330);

/// The API client for `kubeconfig`, or for the inferred configuration.
pub async fn connect(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let mut config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    config.read_timeout.get_or_insert(READ_TIMEOUT);
    // Named as client-go names its users (`kube-controller-manager/v1.33.0
    // (linux/amd64)`), so the API server can tell components apart (its
    // `/metrics` counts watches per client).
    if let Ok(agent) = http::HeaderValue::from_str(&user_agent()) {
        config.headers.push((http::header::USER_AGENT, agent));
    }
    http2::client(config).context("building the API client")
}

/// The component's name when argv[0] does not say it: the multi-call
/// `minik` run as `minik controller` ([`name_program`]).
static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the running component (`minik-controller`) for its User-Agent,
/// where argv[0] names another executable. The first call wins.
pub fn name_program(name: &str) {
    let _ = PROGRAM.set(name.to_string());
}

/// `<component>/<version> (<os>/<arch>)` for the running component: the
/// name given to [`name_program`], else argv[0]'s file name.
fn user_agent() -> String {
    let binary = PROGRAM
        .get()
        .cloned()
        .or_else(|| {
            let arg0 = std::env::args().next()?;
            Some(
                std::path::Path::new(&arg0)
                    .file_name()?
                    .to_str()?
                    .to_string(),
            )
        })
        .unwrap_or_else(|| "minik".into());
    format!(
        "{binary}/{} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A reflector for `K`, run on `tasks`, whose every change wakes `changed`:
/// an [`Informer`] of its own (the same list/watch/relist code as the shared
/// ones) whose subscriber only pokes a level-triggered sync loop.
pub fn reflect<K>(api: Api<K>, changed: &Arc<Notify>, tasks: &mut JoinSet<()>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (informer, run) = Informer::standalone(api, kube::runtime::watcher::Config::default());
    let mut changes = informer.subscribe();
    let changed = changed.clone();
    tasks.spawn(run);
    tasks.spawn(async move {
        while changes.next().await.is_some() {
            changed.notify_one();
        }
    });
    informer.store()
}
