//! # minik-controller: the controller manager
//!
//! Models kube-controller-manager: every controller in one process, each a
//! level-triggered, idempotent reconcile loop over watches of the API
//! server (kube-rs `Controller`), never polling and never touching the store.
//!
//! A tour (one file per controller):
//! - [`replicaset`]: keeps `replicas` pods per ReplicaSet (create, adopt, release, delete).
//! - [`deployment`]: rolling updates and rollbacks through ReplicaSets.
//! - [`endpoints`]: ready pod addresses behind each Service.
//! - [`garbage_collector`]: ownerReferences → cascading deletion (Background/Foreground/Orphan).
//! - [`namespace`]: empties a Terminating namespace, then removes it.
//! - [`node_lifecycle`]: marks nodes whose Lease stops unreachable and evicts their pods.
//! - [`context`]: the shared `Context` (client, settings, event recorder).
//! - [`error`]: the crate's one `Error` enum, returned by every reconcile.
//! - [`informer`]: added/updated/deleted changes from a watch (old state, deletions missed by a relist).

pub mod context;
pub mod deployment;
pub mod endpoints;
pub mod error;
pub mod garbage_collector;
pub mod informer;
pub mod namespace;
pub mod node_lifecycle;
pub mod replicaset;

pub use context::{Context, Settings};
pub use error::Error;

use std::sync::Arc;

/// Runs every controller until one of them fails or the process stops.
pub async fn run(client: kube::Client, settings: Settings) -> anyhow::Result<()> {
    let ctx = Arc::new(Context::new(client, settings));
    tokio::try_join!(
        replicaset::run(ctx.clone()),
        deployment::run(ctx.clone()),
        endpoints::run(ctx.clone()),
        garbage_collector::run(ctx.clone()),
        namespace::run(ctx.clone()),
        node_lifecycle::run(ctx.clone()),
    )?;
    Ok(())
}
