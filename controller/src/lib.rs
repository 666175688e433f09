//! # minik-controller: the controller manager
//!
//! Models kube-controller-manager: every controller in one process, each a
//! level-triggered, idempotent reconcile loop over watches of the API
//! server (kube-rs `Controller`), never polling and never touching the store.
//!
//! A tour (one file per controller):
//! - [`replicaset`]: keeps `replicas` pods per ReplicaSet (create, adopt, release, delete).
//! - [`deployment`]: rolling updates and rollbacks through ReplicaSets.
//! - [`daemon_set`]: one pod per eligible node, placed by the scheduler;
//!   rolling updates and OnDelete through ControllerRevisions.
//! - [`endpoints`]: ready pod addresses behind each Service.
//! - [`garbage_collector`]: ownerReferences → cascading deletion (Background/Foreground/Orphan).
//! - [`namespace`]: empties a Terminating namespace, then removes it.
//! - [`node_lifecycle`]: marks nodes whose Lease stops unreachable and evicts their pods.
//! - [`context`]: the shared `Context` (client, shared informers, settings,
//!   event recorder).
//!
//! Every controller reads the cluster through `Context::informers`, one
//! `minik_client::SharedInformerFactory` for the process: pods are watched
//! once, not once per controller. Each controller file has `build` (ask for
//! its informers, assemble the kube-rs `Controller`) and `run` (build, start
//! the informers, run); [`run`] builds them all before starting the
//! informers, so every informer — and every metadata view the garbage
//! collector takes of a kind others watch in full — exists before the first
//! watch opens.
//! - [`error`]: the crate's one `Error` enum, returned by every reconcile.
//!
//! Helpers several controllers share, so no controller imports another:
//! - [`ownership`]: controller references, adoption and release, selectors.
//! - [`pod_control`]: expectations and slow-start batches for pod creation/deletion.
//! - [`pods`]: active / Ready / available pods.
//! - [`status`]: status fields written the way Kubernetes serializes them.
//! - [`template_hash`]: the pod-template hash children are named by.

pub mod context;
pub mod daemon_set;
pub mod deployment;
pub mod endpoints;
pub mod error;
pub mod garbage_collector;
pub mod namespace;
pub mod node_lifecycle;
pub mod ownership;
pub mod pod_control;
pub mod pods;
pub mod replicaset;
pub mod status;
pub mod template_hash;

pub use context::{Context, Settings};
pub use error::Error;

use std::sync::Arc;

/// Runs every controller until one of them fails or the process stops.
pub async fn run(client: kube::Client, settings: Settings) -> anyhow::Result<()> {
    let ctx = Arc::new(Context::new(client, settings));
    let controllers = [
        replicaset::build(&ctx),
        deployment::build(&ctx),
        daemon_set::build(&ctx),
        endpoints::build(&ctx),
        garbage_collector::build(&ctx),
        namespace::build(&ctx),
        node_lifecycle::build(&ctx),
    ];
    ctx.informers.start();
    tracing::info!(watches = ?ctx.informers.watches(), "controller-manager informers started");
    futures::future::try_join_all(controllers).await?;
    Ok(())
}
