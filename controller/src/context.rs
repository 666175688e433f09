//! What every controller shares: the API client, the shared informers (one
//! watch per kind for the whole controller-manager), the timing settings
//! (Kubernetes' controller-manager flags, with their defaults), and
//! the Event recorder and per-object retry backoff.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use minik_api::catalogue::ResourceInfo;
use minik_api::custom_resource::resources_of;

/// Timing knobs kube-controller-manager has as flags, with its defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--node-monitor-grace-period` (40 s): a node whose Lease is older is unreachable.
    pub node_monitor_grace_period: Duration,
    /// Default `tolerationSeconds` for the not-ready/unreachable taints (300 s):
    /// how long pods stay on an unreachable node before eviction.
    pub pod_eviction_timeout: Duration,
    /// How often node health is checked (`--node-monitor-period`, 5 s).
    pub node_monitor_period: Duration,
    /// `--concurrent-replicaset-syncs` (5): ReplicaSets reconciled at once.
    pub concurrent_replicaset_syncs: u16,
    /// `--concurrent-deployment-syncs` (5): Deployments reconciled at once.
    pub concurrent_deployment_syncs: u16,
    /// `--concurrent-job-syncs` (5): Jobs reconciled at once.
    pub concurrent_job_syncs: u16,
    /// `--concurrent-cron-job-syncs` (5): CronJobs reconciled at once.
    pub concurrent_cron_job_syncs: u16,
    /// `--concurrent-ttl-after-finished-syncs` (5): finished Jobs checked at once.
    pub concurrent_ttl_after_finished_syncs: u16,
    /// The first delay before a failed Job pod is replaced (10 s, Kubernetes'
    /// `DefaultJobPodFailureBackOff`, a constant there); it doubles with
    /// each consecutive failure up to 10 minutes. A setting so tests and
    /// demos can shorten it (`--job-pod-failure-backoff`, minik's own flag).
    pub job_pod_failure_backoff: Duration,
    /// `--concurrent-daemonset-syncs` (2): DaemonSets reconciled at once.
    pub concurrent_daemonset_syncs: u16,
    /// `--concurrent-gc-syncs` (20): objects the garbage collector checks
    /// at once — per kind here, since each kind has its own monitor
    /// (Kubernetes' 20 workers serve all kinds).
    pub concurrent_gc_syncs: u16,
    /// `--resource-quota-sync-period` (5 m): how often every quota's usage
    /// is recalculated in full, besides the recalculations changes trigger.
    pub resource_quota_sync_period: Duration,
    /// Where the local-path provisioner keeps its volumes
    /// (`--local-path-dir`, minik's own flag; `cluster up` passes a directory
    /// under the cluster's home). `None`: the provisioner is off.
    pub local_path_dir: Option<std::path::PathBuf>,
    /// `--cluster-signing-cert-file` and `--cluster-signing-key-file`: the CA
    /// that signs approved CertificateSigningRequests; `None`: no signer.
    pub cluster_signing: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// The CA bundle published as `kube-root-ca.crt` in every namespace
    /// (`--root-ca-file`, or the kubeconfig's CA).
    pub root_ca: Option<String>,
    /// `--cluster-signing-duration` (1 year): the longest certificate signed.
    pub cluster_signing_duration: Duration,
    /// `--horizontal-pod-autoscaler-sync-period` (15 s): how often each HPA is synced.
    pub hpa_sync_period: Duration,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5 min).
    pub hpa_downscale_stabilization: Duration,
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub hpa_tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub hpa_cpu_initialization_period: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub hpa_initial_readiness_delay: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node_monitor_grace_period: Duration::from_secs(40),
            pod_eviction_timeout: Duration::from_secs(300),
            node_monitor_period: Duration::from_secs(5),
            concurrent_replicaset_syncs: 5,
            concurrent_deployment_syncs: 5,
            concurrent_job_syncs: 5,
            concurrent_cron_job_syncs: 5,
            concurrent_ttl_after_finished_syncs: 5,
            job_pod_failure_backoff: Duration::from_secs(10),
            concurrent_daemonset_syncs: 2,
            concurrent_gc_syncs: 20,
            resource_quota_sync_period: Duration::from_secs(300),
            local_path_dir: None,
            cluster_signing: None,
            root_ca: None,
            cluster_signing_duration: Duration::from_secs(365 * 24 * 3600),
            hpa_sync_period: Duration::from_secs(15),
            hpa_downscale_stabilization: Duration::from_secs(300),
            hpa_tolerance: 0.1,
            hpa_cpu_initialization_period: Duration::from_secs(300),
            hpa_initial_readiness_delay: Duration::from_secs(30),
        }
    }
}

/// Shared by every controller's reconcile.
pub struct Context {
    pub client: kube::Client,
    /// One informer per kind for every controller of this process
    /// (kube-controller-manager's `InformerFactory`).
    pub informers: minik_client::SharedInformerFactory,
    pub settings: Settings,
    /// Step mode's gate, which every reconcile passes (`step_gate`).
    pub step: std::sync::Arc<crate::step_gate::StepGate>,
}

impl Context {
    pub fn new(client: kube::Client, settings: Settings) -> Self {
        let informers = minik_client::SharedInformerFactory::new(client.clone())
            .reporting_as("controller-manager");
        Self {
            step: crate::step_gate::StepGate::new(&informers),
            informers,
            client,
            settings,
        }
    }
}

/// Records Events with client-go's correlation rules (one recorder for
/// every minik component: `minik_client::events`).
pub use minik_client::EventRecorder;

/// Per-object retry delays after failed reconciles: client-go's default
/// controller rate limiter (5 ms, doubling per consecutive failure, capped
/// at 1000 s), forgotten after a success.
#[derive(Default)]
pub struct RetryBackoff {
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl RetryBackoff {
    /// The delay before retrying `key` after one more failure.
    pub fn next_delay(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap();
        let n = failures.entry(key.to_string()).or_insert(0);
        let delay = Duration::from_millis(5)
            .saturating_mul(1u32 << (*n).min(20))
            .min(Duration::from_secs(1000));
        *n += 1;
        delay
    }

    /// A failed sync of `obj`: logged (a conflict only at debug level — a
    /// write based on a cache one step behind, which the retry fixes) and
    /// retried after the next delay. What a controller's `error_policy` says.
    pub fn requeue<K: kube::Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        error: &crate::Error,
    ) -> kube::runtime::controller::Action {
        let kind = K::kind(&());
        let key = &crate::ownership::key_of(obj.meta());
        let kind = kind.as_ref();
        if error.is_conflict() {
            tracing::debug!(kind, object = %key, %error, "sync conflicted, will retry");
        } else {
            tracing::info!(kind, object = %key, %error, "sync failed, will retry");
        }
        kube::runtime::controller::Action::requeue(self.next_delay(key))
    }

    /// `key` reconciled successfully: its next failure starts at 5 ms again.
    pub fn forget(&self, key: &str) {
        self.failures.lock().unwrap().remove(key);
    }
}

/// A controller assembled over the shared informers: what each
/// controller file's `build` returns (the caller starts the informers).
pub type Built = futures::future::BoxFuture<'static, anyhow::Result<()>>;

/// Drives a kube-rs controller's results until its trigger streams end. A
/// failed reconcile has already been handled by its `error_policy` (logged
/// and requeued), so here it is only traced, under the controller's `name`.
pub fn drive<T, E: std::fmt::Display>(
    name: &'static str,
    results: impl futures::Stream<Item = Result<T, E>> + Send + 'static,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    use futures::StreamExt;
    results.for_each(move |result| {
        if let Err(error) = result {
            tracing::debug!(controller = name, %error, "reconcile failed");
        }
        std::future::ready(())
    })
}

/// Every kind the API server stores, once per storage (two served versions
/// of one kind share their objects), with the `ApiResource` that reaches it:
/// what the garbage collector, namespace and quota controllers walk. As
/// Kubernetes' controllers find them through discovery, only resources that
/// can be listed, watched and deleted (not metrics.k8s.io's read-only ones).
pub fn stored_kinds() -> Vec<(
    &'static minik_api::catalogue::ResourceInfo,
    kube::api::ApiResource,
)> {
    let mut seen = std::collections::HashSet::new();
    minik_api::catalogue::all()
        .iter()
        .filter(|info| {
            let verbs = info.strategy.verbs();
            ["list", "watch", "delete"]
                .iter()
                .all(|v| verbs.contains(v))
        })
        .filter(|info| seen.insert(info.key_prefix()))
        .map(|info| (info, api_resource(info)))
        .collect()
}

/// Asks for the shared CRD informer at build time, so that it starts with
/// the others (controllers that reach custom kinds call it in `build`).
pub fn watch_crds(ctx: &Context) {
    let _ = ctx.informers.get::<CustomResourceDefinition>();
}

/// The CustomResourceDefinitions this process knows of (the shared informer).
pub fn crds(ctx: &Context) -> Vec<serde_json::Value> {
    ctx.informers
        .get::<CustomResourceDefinition>()
        .store()
        .state()
        .iter()
        .filter_map(|crd| serde_json::to_value(&**crd).ok())
        .collect()
}

/// The storage resource of each Established CRD: what [`stored_kinds`] is
/// for the built-in kinds, found through the CRD informer as Kubernetes'
/// controllers find custom kinds through discovery.
pub fn custom_kinds(ctx: &Context) -> Vec<(&'static ResourceInfo, kube::api::ApiResource)> {
    crds(ctx)
        .iter()
        .filter_map(|crd| resources_of(crd).first().copied())
        .map(|info| {
            let storage = minik_api::catalogue::storage_info(info);
            (storage, api_resource(storage))
        })
        .collect()
}

/// The resource for an object's `apiVersion` and `kind`: a built-in one,
/// or one a CRD serves.
pub fn resource_for(ctx: &Context, api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    minik_api::catalogue::by_api_version_kind(api_version, kind).or_else(|| {
        crds(ctx).iter().find_map(|crd| {
            resources_of(crd)
                .into_iter()
                .find(|r| r.api_version() == api_version && r.kind == kind)
        })
    })
}

/// The `ApiResource` a dynamic client reaches `info`'s objects with.
pub fn api_resource(info: &minik_api::catalogue::ResourceInfo) -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: info.group.into(),
        version: info.version.into(),
        api_version: info.api_version(),
        kind: info.kind.into(),
        plural: info.plural.into(),
    }
}
