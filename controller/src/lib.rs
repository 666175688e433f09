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
//! - [`disruption`]: PodDisruptionBudget status — how many pods may be evicted now.
//! - [`job`]: runs a Job's pods to completion (parallelism, completions,
//!   Indexed, backoff, pod failure policy, deadline, suspend), counting each
//!   finished pod once through its `batch.kubernetes.io/job-tracking` finalizer.
//! - [`cron_job`]: creates a Job at each time of a CronJob's schedule
//!   (concurrency policy, starting deadline, history limits).
//! - [`ttl_after_finished`]: deletes finished Jobs once their `ttlSecondsAfterFinished` passes.
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
//! - [`pod_control`]: expectations (pod creations/deletions a controller
//!   waits to see in its cache: ReplicaSet, DaemonSet, Job) and slow-start
//!   batches for pod creation.
//! - [`pods`]: active / Ready / available pods.
//! - [`status`]: status fields written the way Kubernetes serializes them.
//! - [`template_hash`]: the pod-template hash children are named by.

pub mod context;
pub mod cron_job;
pub mod daemon_set;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod error;
pub mod garbage_collector;
pub mod horizontal_pod_autoscaler;
pub mod job;
pub mod namespace;
pub mod node_lifecycle;
pub mod ownership;
pub mod pod_control;
pub mod pods;
pub mod replica_calculator;
pub mod replicaset;
pub mod scaling_rules;
pub mod status;
pub mod template_hash;
pub mod ttl_after_finished;

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
        disruption::build(&ctx),
        job::build(&ctx),
        cron_job::build(&ctx),
        ttl_after_finished::build(&ctx),
        horizontal_pod_autoscaler::build(&ctx),
    ];
    ctx.informers.start();
    tracing::info!(watches = ?ctx.informers.watches(), "controller-manager informers started");
    futures::future::try_join_all(controllers).await?;
    Ok(())
}
