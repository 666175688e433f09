//! # minik-controller: the controller manager
//!
//! Models kube-controller-manager: every controller in one process, each a
//! level-triggered, idempotent reconcile loop over watches of the API
//! server (kube-rs `Controller`), never polling and never touching the store.
//!
//! A tour (one file per controller):
//! - [`replicaset`]: keeps `replicas` pods per ReplicaSet (create, adopt, release, delete).
//! - [`replication_controller`]: the same for ReplicationControllers.
//! - [`deployment`]: rolling updates and rollbacks through ReplicaSets.
//! - [`daemon_set`]: one pod per eligible node, placed by the scheduler;
//!   rolling updates and OnDelete through ControllerRevisions.
//! - [`stateful_set`]: pods with stable names, DNS identities and claims,
//!   created and removed in ordinal order; rolling updates with a
//!   partition and OnDelete through ControllerRevisions.
//! - [`endpoints`]: ready pod addresses behind each Service.
//! - [`endpoint_slice`]: the same pods as EndpointSlices, with their
//!   ready/serving/terminating conditions.
//! - [`endpoint_slice_mirroring`]: hand-written Endpoints of Services
//!   without a selector, mirrored into EndpointSlices.
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
//! - [`resource_quota`]: each ResourceQuota's `status.hard` and `status.used`.
//! - [`service_account`]: a `default` ServiceAccount in every namespace.
//! - [`persistent_volume`]: binds PersistentVolumeClaims to PersistentVolumes,
//!   phases, reclaim policies (Kubernetes' PV controller).
//! - [`local_path`]: the `minik.io/local-path` provisioner — hostPath volumes
//!   in a directory per claim on the chosen node (like k3s').
//! - [`volume_protection`]: lifts the pvc-/pv-protection finalizers once a
//!   claim has no pod and a volume is not bound.
//! - [`context`]: the shared `Context` (client, shared informers, settings,
//!   event recorder).
//!
//! Every controller reads the cluster through `Context::informers`, one
//! `minik_client::SharedInformerFactory` for the process: pods are watched
//! once, not once per controller. Each controller file has `build` (ask for
//! its informers, assemble the kube-rs `Controller`, drive it with
//! [`context::drive`]); [`run`] builds them all before starting the
//! informers, so every informer — and every metadata view the garbage
//! collector takes of a kind others watch in full — exists before the first
//! watch opens. [`run_only`] does the same for a chosen few (tests, benchmarks).
//! - [`error`]: the crate's one `Error` enum, returned by every reconcile.
//! - [`step_gate`]: step mode — every reconcile passes [`step_gate::gated`]
//!   and, while the instructor steps, waits for its turn.
//!
//! Helpers several controllers share, so no controller imports another:
//! - [`ownership`]: controller references, adoption and release, selectors.
//! - [`pod_control`]: expectations (pod creations/deletions a controller
//!   waits to see in its cache: ReplicaSet, DaemonSet, Job) and slow-start
//!   batches for pod creation.
//! - [`pods`]: active / Ready / available pods.
//! - [`pod_cache`]: [`pod_cache::CachedPod`], what the one pod cache keeps
//!   of each pod (the fields the controllers read).
//! - [`status`]: status fields written the way Kubernetes serializes them.
//! - [`template_hash`]: the pod-template hash children are named by.
//! - [`history`]: ControllerRevisions (DaemonSet, StatefulSet).

pub mod cli;
pub mod cluster_role_aggregation;
pub mod context;
pub mod cron_job;
pub mod csr_signing;
pub mod custom_resource_cleanup;
pub mod daemon_set;
pub mod deployment;
pub mod disruption;
pub mod endpoint_slice;
pub mod endpoint_slice_mirroring;
pub mod endpoints;
pub mod error;
pub mod garbage_collector;
pub mod history;
pub mod horizontal_pod_autoscaler;
pub mod job;
pub mod local_path;
pub mod namespace;
pub mod node_lifecycle;
pub mod ownership;
pub mod per_namespace;
pub mod persistent_volume;
pub mod pod_cache;
pub mod pod_control;
pub mod pods;
pub mod replica_calculator;
pub mod replicaset;
pub mod replication_controller;
pub mod resource_quota;
pub mod root_ca_publisher;
pub mod scaling_rules;
pub mod service_account;
pub mod stateful_set;
pub mod status;
pub mod step_gate;
pub mod template_hash;
pub mod ttl_after_finished;
pub mod volume_protection;

pub use context::{Built, Context, Settings};
pub use error::Error;

use std::sync::Arc;

use futures::FutureExt;

/// Every controller's `build`, in the order they start.
const ALL: &[fn(&Arc<Context>) -> Built] = &[
    replicaset::build,
    replication_controller::build,
    deployment::build,
    daemon_set::build,
    stateful_set::build,
    endpoints::build,
    endpoint_slice::build,
    endpoint_slice_mirroring::build,
    garbage_collector::build,
    namespace::build,
    node_lifecycle::build,
    disruption::build,
    job::build,
    cron_job::build,
    ttl_after_finished::build,
    resource_quota::build,
    persistent_volume::build,
    local_path::build,
    volume_protection::build,
    horizontal_pod_autoscaler::build,
    service_account::build,
    root_ca_publisher::build,
    custom_resource_cleanup::build,
    csr_signing::build,
    cluster_role_aggregation::build,
];

/// Runs every controller until one of them fails or the process stops.
pub async fn run(client: kube::Client, settings: Settings) -> anyhow::Result<()> {
    run_only(Arc::new(Context::new(client, settings)), ALL).await
}

/// Runs the given controllers (their `build` functions) over `ctx`'s
/// informers: all are built before the informers start, then they run until
/// one fails or the process stops.
pub async fn run_only(
    ctx: Arc<Context>,
    builds: &[fn(&Arc<Context>) -> Built],
) -> anyhow::Result<()> {
    let mut controllers: Vec<Built> = builds.iter().map(|build| build(&ctx)).collect();
    let gate = ctx.step.clone().run(ctx.client.clone());
    controllers.push(gate.map(Ok).boxed());
    ctx.informers.start();
    tracing::info!(watches = ?ctx.informers.watches(), "controller-manager informers started");
    futures::future::try_join_all(controllers).await?;
    Ok(())
}
