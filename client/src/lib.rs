//! # minik-client: talking to the API server, the same way everywhere
//!
//! Every component other than the API server reaches the cluster through
//! the `kube` crate; this crate holds the two pieces they all repeat:
//! - [`connect`]: a client from `--kubeconfig FILE`, else `KUBECONFIG`,
//!   else `~/.kube/config` (kube's inference);
//! - [`reflect`]: a reflector whose every change wakes one level-triggered
//!   sync loop (minik-proxy, minik-dns);
//! - [`errors`]: what a failed call means (`is_not_found`, `is_conflict`, …),
//!   client-go's `apierrors`;
//! - [`events`]: the one Event recorder, with client-go's correlation
//!   (spam filter, aggregation of similar events, count bumps on repeats);
//! - [`informer`]: shared informers, one watch and cache per kind per
//!   process (client-go's `SharedInformerFactory`);
//! - [`logging`]: the `tracing` set-up every binary starts with.

pub mod errors;
pub mod events;
pub mod informer;
pub mod logging;

pub use events::EventRecorder;
pub use informer::{Change, Informer, SharedInformerFactory};
pub use logging::init_tracing;

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// The API client for `kubeconfig`, or for the inferred configuration.
pub async fn connect(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    kube::Client::try_from(config).context("building the API client")
}

/// A reflector for `K`, run on `tasks`, whose every change wakes `changed`.
/// Watch failures are logged and retried with kube's default backoff.
pub fn reflect<K>(api: Api<K>, changed: &Arc<Notify>, tasks: &mut JoinSet<()>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let changed = changed.clone();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tasks.spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))
                | Ok(watcher::Event::InitDone) => changed.notify_one(),
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Err(error) => {
                    let kind = K::kind(&Default::default()).to_string();
                    tracing::warn!(%error, %kind, "watch failed; retrying");
                }
            }
        }
    });
    store
}
