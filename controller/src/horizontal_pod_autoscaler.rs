//! The HorizontalPodAutoscaler controller: every sync period
//! (`--horizontal-pod-autoscaler-sync-period`, 15 s) each HPA reads its
//! target's `scale` subresource, the usage of the target's pods from
//! metrics.k8s.io, computes a replica count per metric
//! (`replica_calculator.rs`), takes the largest, normalizes it
//! (`scaling_rules.rs`) and writes it back through `scale` — so any kind
//! with a `scale` subresource can be autoscaled (Deployment, ReplicaSet,
//! StatefulSet).
//!
//! Mirrors `pkg/controller/podautoscaler/horizontal.go` (1.33): the
//! conditions AbleToScale / ScalingActive / ScalingLimited with their
//! reasons and messages, `currentMetrics`, `desiredReplicas`,
//! `lastScaleTime`, and the Events `SuccessfulRescale`, `FailedRescale`,
//! `FailedGetScale`, `FailedGetResourceMetric`,
//! `FailedGetContainerResourceMetric`, `FailedComputeMetricsReplicas`.
//!
//! Simplified: minik serves no custom or external metrics API, so Pods,
//! Object and External metrics are reported invalid (a
//! `FailedGet<Type>Metric` Event and condition saying why) and the HPA
//! acts on its other metrics; recommendation and scale-event history is in
//! memory, as in Kubernetes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{
    ContainerResourceMetricStatus, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus, MetricValueStatus,
    ResourceMetricStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ApiResource, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::runtime::Controller;
use kube::{Api, Resource, ResourceExt};
use minik_api::quantity::Quantity;
use minik_client::informer::{wait_for_cache_sync, Synced};
use serde_json::Value;

use crate::context::{drive, Built, EventRecorder, RetryBackoff};
use crate::ownership::key_of;
use crate::pod_cache::CachedPod;
use crate::replica_calculator::{Calculator, PodInfo, Proposal, Sample, Target};
use crate::scaling_rules::{Behavior, Bounds, History};
use crate::step_gate::gated;
use crate::{Context, Error};

/// The controller's name, as its Events report it.
pub const CONTROLLER_NAME: &str = "horizontal-pod-autoscaler";

struct State {
    ctx: Arc<Context>,
    pods: Store<CachedPod>,
    synced: [Synced; 2],
    recorder: EventRecorder,
    backoff: RetryBackoff,
    calculator: Calculator,
    /// Per HPA (namespace/name): recommendations and scale events.
    history: Mutex<HashMap<String, History>>,
    /// Per HPA: when it was last synced, at which generation — an HPA is
    /// processed once per sync period, not on each of its own status writes
    /// (Kubernetes' queue does this with a rate limiter of one period).
    last_sync: Mutex<HashMap<String, (Option<i64>, tokio::time::Instant)>>,
}

/// Builds the controller over the shared HPA and Pod informers.
pub fn build(ctx: &Arc<Context>) -> Built {
    // A target may be a custom resource with a scale subresource.
    crate::context::watch_crds(ctx);
    let hpas = ctx.informers.get::<HorizontalPodAutoscaler>();
    let pods = crate::pod_cache::informer(&ctx.informers);
    let settings = &ctx.settings;
    let state = Arc::new(State {
        recorder: EventRecorder::new(ctx.client.clone(), CONTROLLER_NAME, None),
        ctx: ctx.clone(),
        pods: pods.store(),
        synced: [hpas.synced(), pods.synced()],
        backoff: RetryBackoff::default(),
        calculator: Calculator {
            tolerance: settings.hpa_tolerance,
            cpu_initialization_period: settings.hpa_cpu_initialization_period,
            initial_readiness_delay: settings.hpa_initial_readiness_delay,
        },
        history: Mutex::default(),
        last_sync: Mutex::default(),
    });
    let controller = Controller::for_shared_stream(hpas.applied(), hpas.store()).run(
        gated(ctx, "horizontal pod autoscaler", hpas.store(), reconcile),
        error_policy,
        state,
    );
    drive("horizontal pod autoscaler", controller)
        .map(Ok)
        .boxed()
}

fn key(hpa: &HorizontalPodAutoscaler) -> String {
    key_of(&hpa.metadata)
}

/// One HPA's sync, at most once per sync period (sooner when its spec changes).
async fn reconcile(hpa: Arc<HorizontalPodAutoscaler>, st: Arc<State>) -> Result<Action, Error> {
    wait_for_cache_sync(&st.synced).await;
    let period = st.ctx.settings.hpa_sync_period;
    let key = key(&hpa);
    let now = tokio::time::Instant::now();
    {
        let mut last = st.last_sync.lock().unwrap();
        if let Some((generation, at)) = last.get(&key) {
            let due = *at + period;
            if *generation == hpa.metadata.generation && due > now {
                return Ok(Action::requeue(due - now));
            }
        }
        last.insert(key.clone(), (hpa.metadata.generation, now));
    }
    let mut status = hpa.status.clone().unwrap_or_default();
    let outcome = sync(&hpa, &mut status, &st).await;
    write_status(&hpa, status, &st).await?;
    st.backoff.forget(&key);
    if let Err(why) = outcome {
        tracing::debug!(hpa = %key, %why, "autoscaling did not complete");
    }
    Ok(Action::requeue(period))
}

fn error_policy(hpa: Arc<HorizontalPodAutoscaler>, err: &Error, st: Arc<State>) -> Action {
    let key = key(&hpa);
    st.last_sync.lock().unwrap().remove(&key);
    st.backoff.requeue(&*hpa, err)
}

/// `reconcileAutoscaler`: fills `status`; Err says why it stopped short
/// (already reported through conditions and Events).
async fn sync(
    hpa: &HorizontalPodAutoscaler,
    status: &mut HorizontalPodAutoscalerStatus,
    st: &State,
) -> Result<(), String> {
    let reference = hpa.object_ref(&());
    let spec = hpa.spec.clone().unwrap_or_default();
    let target = &spec.scale_target_ref;
    let target_ref = format!("{}/{}", target.kind, target.name);
    let ns = hpa.namespace().unwrap_or_default();
    let scale_api = match scale_api(st, &ns, target.api_version.as_deref(), &target.kind) {
        Ok(api) => api,
        Err(e) => return Err(failed_get_scale(st, &reference, status, e).await),
    };
    let mut scale = match scale_api.get_scale(&target.name).await {
        Ok(s) => s,
        Err(e) => return Err(failed_get_scale(st, &reference, status, e.to_string()).await),
    };
    set_condition(
        status,
        "AbleToScale",
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".into(),
    );
    let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let min = spec.min_replicas.unwrap_or(1);
    let max = spec.max_replicas;
    let now = Timestamp::now();
    // kube's `recordInitialRecommendation`: an HPA first seen starts its
    // history with the current count, so a scale-down waits out the
    // stabilization window from then, not from its first low reading.
    st.history
        .lock()
        .unwrap()
        .entry(key(hpa))
        .or_default()
        .of(hpa.metadata.uid.as_deref().unwrap_or(""))
        .seed(current, now);
    let mut metric_statuses = Vec::new();
    let (desired, reason) = if current == 0 && min != 0 {
        set_condition(
            status,
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".into(),
        );
        (current, String::new())
    } else if current > max {
        (
            max,
            "Current number of replicas above Spec.MaxReplicas".to_string(),
        )
    } else if current < min {
        (
            min,
            "Current number of replicas below Spec.MinReplicas".to_string(),
        )
    } else {
        let selector = scale
            .status
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let computed = compute_replicas(st, hpa, &reference, status, current, &selector, now).await;
        let (proposal, metric_name, statuses) = match computed {
            Ok(c) => c,
            Err((statuses, err)) => {
                status.current_replicas = Some(current);
                status.current_metrics = non_empty(statuses);
                st.recorder
                    .publish(
                        &reference,
                        EventType::Warning,
                        "FailedComputeMetricsReplicas",
                        err.clone(),
                    )
                    .await;
                return Err(format!("failed to compute desired number of replicas based on listed metrics for {target_ref}: {err}"));
            }
        };
        metric_statuses = statuses;
        let reason = if proposal > current {
            format!("{metric_name} above target")
        } else if proposal < current {
            "All metrics below target".to_string()
        } else {
            String::new()
        };
        let behavior = spec
            .behavior
            .as_ref()
            .map(|b| Behavior::from_spec(b, st.ctx.settings.hpa_downscale_stabilization));
        let normalized = st
            .history
            .lock()
            .unwrap()
            .entry(key(hpa))
            .or_default()
            .normalize(
                behavior.as_ref(),
                st.ctx.settings.hpa_downscale_stabilization,
                Bounds { min, max, current },
                proposal,
                now,
            );
        let (s, r, m) = normalized.able_to_scale;
        set_condition(status, "AbleToScale", s, r, m.into());
        let (s, r, m) = normalized.scaling_limited;
        set_condition(status, "ScalingLimited", s, r, m.into());
        (normalized.replicas, reason)
    };
    let rescale = desired != current;
    if rescale {
        if let Some(s) = scale.spec.as_mut() {
            s.replicas = Some(desired);
        }
        if let Err(e) = scale_api
            .replace_scale(&target.name, &PostParams::default(), &scale)
            .await
        {
            st.recorder
                .publish(
                    &reference,
                    EventType::Warning,
                    "FailedRescale",
                    format!("New size: {desired}; reason: {reason}; error: {e}"),
                )
                .await;
            set_condition(
                status,
                "AbleToScale",
                false,
                "FailedUpdateScale",
                format!("the HPA controller was unable to update the target scale: {e}"),
            );
            status.current_replicas = Some(current);
            status.current_metrics = non_empty(metric_statuses);
            return Err(format!("failed to rescale {target_ref}: {e}"));
        }
        set_condition(
            status,
            "AbleToScale",
            true,
            "SucceededRescale",
            format!("the HPA controller was able to update the target scale to {desired}"),
        );
        st.recorder
            .publish(
                &reference,
                EventType::Normal,
                "SuccessfulRescale",
                format!("New size: {desired}; reason: {reason}"),
            )
            .await;
        let behavior = spec
            .behavior
            .as_ref()
            .map(|b| Behavior::from_spec(b, st.ctx.settings.hpa_downscale_stabilization));
        st.history
            .lock()
            .unwrap()
            .entry(key(hpa))
            .or_default()
            .record_scale(behavior.as_ref(), current, desired, now);
        status.last_scale_time = Some(Time(now));
    }
    status.current_replicas = Some(current);
    status.desired_replicas = if rescale { desired } else { current };
    status.current_metrics = non_empty(metric_statuses);
    status.observed_generation = hpa.metadata.generation;
    Ok(())
}

fn non_empty(statuses: Vec<MetricStatus>) -> Option<Vec<MetricStatus>> {
    (!statuses.is_empty()).then_some(statuses)
}

/// The target's `scale` subresource, through the catalogue's resource for its kind.
fn scale_api(
    st: &State,
    ns: &str,
    api_version: Option<&str>,
    kind: &str,
) -> Result<Api<DynamicObject>, String> {
    let api_version = api_version.unwrap_or("");
    let info = crate::context::resource_for(&st.ctx, api_version, kind)
        .filter(|i| i.has_subresource("scale"))
        .ok_or_else(|| format!("unable to determine resource for scale target reference: no matches for kind \"{kind}\" in version \"{api_version}\""))?;
    let resource = ApiResource {
        group: info.group.into(),
        version: info.version.into(),
        api_version: info.api_version(),
        kind: info.kind.into(),
        plural: info.plural.into(),
    };
    Ok(Api::namespaced_with(st.ctx.client.clone(), ns, &resource))
}

async fn failed_get_scale(
    st: &State,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    status: &mut HorizontalPodAutoscalerStatus,
    e: String,
) -> String {
    st.recorder
        .publish(reference, EventType::Warning, "FailedGetScale", e.clone())
        .await;
    set_condition(
        status,
        "AbleToScale",
        false,
        "FailedGetScale",
        format!("the HPA controller was unable to get the target's current scale: {e}"),
    );
    e
}

/// One metric's outcome: its proposal and name, or why it is invalid
/// (the condition's reason and the error).
type MetricOutcome = Result<(Proposal, String, MetricStatus), (&'static str, String)>;

/// `computeReplicasForMetrics`: the largest proposal of the valid
/// metrics; an error when every metric is invalid, or some are and the
/// others would scale down.
async fn compute_replicas(
    st: &State,
    hpa: &HorizontalPodAutoscaler,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    status: &mut HorizontalPodAutoscalerStatus,
    current: i32,
    selector: &str,
    now: Timestamp,
) -> Result<(i32, String, Vec<MetricStatus>), (Vec<MetricStatus>, String)> {
    if selector.is_empty() {
        st.recorder
            .publish(
                reference,
                EventType::Warning,
                "SelectorRequired",
                "selector is required".into(),
            )
            .await;
        set_condition(
            status,
            "ScalingActive",
            false,
            "InvalidSelector",
            "the HPA target's scale is missing a selector".into(),
        );
        return Err((Vec::new(), "selector is required".into()));
    }
    let parsed = match minik_api::selectors::LabelSelector::parse(selector) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "couldn't convert selector into a corresponding internal selector object: {e}"
            );
            st.recorder
                .publish(
                    reference,
                    EventType::Warning,
                    "InvalidSelector",
                    msg.clone(),
                )
                .await;
            set_condition(
                status,
                "ScalingActive",
                false,
                "InvalidSelector",
                msg.clone(),
            );
            return Err((Vec::new(), msg));
        }
    };
    let ns = hpa.namespace().unwrap_or_default();
    let pods: Vec<Arc<CachedPod>> = st
        .pods
        .state()
        .into_iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(ns.as_str())
                && parsed.matches(&crate::ownership::labels_of(&p.metadata))
        })
        .collect();
    let metrics = pod_metrics(st, &ns, selector).await;
    let specs = hpa
        .spec
        .as_ref()
        .and_then(|s| s.metrics.clone())
        .unwrap_or_default();
    let mut statuses = Vec::new();
    let mut best: Option<(i32, String)> = None;
    let mut invalid: Vec<(&'static str, String)> = Vec::new();
    for spec in &specs {
        match compute_metric(st, spec, current, &pods, &metrics, now) {
            Ok((proposal, name, metric_status)) => {
                statuses.push(metric_status);
                if best.as_ref().is_none_or(|(r, _)| proposal.replicas > *r) {
                    best = Some((proposal.replicas, name));
                }
            }
            Err((reason, err)) => {
                statuses.push(MetricStatus {
                    type_: String::new(),
                    ..Default::default()
                });
                st.recorder
                    .publish(reference, EventType::Warning, reason, err.clone())
                    .await;
                set_condition(
                    status,
                    "ScalingActive",
                    false,
                    reason,
                    format!("the HPA was unable to compute the replica count: {err}"),
                );
                invalid.push((reason, err));
            }
        }
    }
    let replicas = best.as_ref().map_or(0, |b| b.0);
    if !invalid.is_empty() && (invalid.len() >= specs.len() || replicas < current) {
        let (reason, first) = &invalid[0];
        set_condition(
            status,
            "ScalingActive",
            false,
            reason,
            format!("the HPA was unable to compute the replica count: {first}"),
        );
        return Err((
            statuses,
            format!(
                "invalid metrics ({} invalid out of {}), first error is: {first}",
                invalid.len(),
                specs.len()
            ),
        ));
    }
    let (replicas, name) = best.unwrap_or((current, String::new()));
    set_condition(
        status,
        "ScalingActive",
        true,
        "ValidMetricFound",
        format!("the HPA was able to successfully calculate a replica count from {name}"),
    );
    Ok((replicas, name, statuses))
}

/// Each pod's containers' usage from metrics.k8s.io: pod → container → (cpu milli, memory milli-bytes), time, window.
type PodUsage = HashMap<String, (HashMap<String, (i64, i64)>, Timestamp, Duration)>;

/// PodMetrics of the selected pods; `Err` when the metrics API fails.
async fn pod_metrics(st: &State, ns: &str, selector: &str) -> Result<PodUsage, String> {
    let resource = ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(st.ctx.client.clone(), ns, &resource);
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| format!("unable to fetch metrics from resource metrics API: {e}"))?;
    let milli = |v: Option<&Value>| {
        v.and_then(|v| Quantity::from_json(v).ok())
            .map_or(0, |q| (q.nanos() / 1_000_000) as i64)
    };
    let mut out = PodUsage::new();
    for item in list.items {
        let time = item
            .data
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(minik_api::meta::parse_timestamp)
            .unwrap_or_else(Timestamp::now);
        let window = item
            .data
            .get("window")
            .and_then(Value::as_str)
            .and_then(|w| minik_api::duration::parse_go_duration(w).ok())
            .unwrap_or_default();
        let containers = item
            .data
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                (
                    name,
                    (
                        milli(c.pointer("/usage/cpu")),
                        milli(c.pointer("/usage/memory")),
                    ),
                )
            })
            .collect();
        out.insert(item.name_any(), (containers, time, window));
    }
    Ok(out)
}

/// One metric's proposal (`computeReplicasForMetric`).
fn compute_metric(
    st: &State,
    spec: &MetricSpec,
    current: i32,
    pods: &[Arc<CachedPod>],
    metrics: &Result<PodUsage, String>,
    now: Timestamp,
) -> MetricOutcome {
    let unsupported = |reason: &'static str, what: &str| {
        Err((reason, format!("failed to get {what} metric value: minik serves no custom or external metrics API (custom.metrics.k8s.io, external.metrics.k8s.io), so {} metrics are not supported", spec.type_)))
    };
    let (resource, container, target, reason, kind) = match spec.type_.as_str() {
        "Resource" => {
            let Some(r) = &spec.resource else {
                return Err((
                    "InvalidMetricSourceType",
                    "Resource metric without resource".into(),
                ));
            };
            (
                r.name.clone(),
                None,
                r.target.clone(),
                "FailedGetResourceMetric",
                "resource",
            )
        }
        "ContainerResource" => {
            let Some(r) = &spec.container_resource else {
                return Err((
                    "InvalidMetricSourceType",
                    "ContainerResource metric without containerResource".into(),
                ));
            };
            (
                r.name.clone(),
                Some(r.container.clone()),
                r.target.clone(),
                "FailedGetContainerResourceMetric",
                "container",
            )
        }
        "Pods" => return unsupported("FailedGetPodsMetric", "pods"),
        "Object" => return unsupported("FailedGetObjectMetric", "object"),
        "External" => return unsupported("FailedGetExternalMetric", "external"),
        other => {
            return Err((
                "InvalidMetricSourceType",
                format!("unknown metric source type \"{other}\""),
            ))
        }
    };
    let wrap = |e: String| {
        (
            reason,
            format!("failed to get {resource} {kind} metric value: {e}"),
        )
    };
    let goal = match (target.type_.as_str(), target.average_utilization, &target.average_value) {
        ("Utilization", Some(u), _) => Target::Utilization(u),
        ("AverageValue", _, Some(v)) => Target::AverageValue(
            Quantity::parse(&v.0).map_or(0, |q| (q.nanos() / 1_000_000) as i64),
        ),
        _ => return Err(wrap(format!("invalid resource metric source: neither a utilization target nor a value target was set for {resource}"))),
    };
    let what = match goal {
        Target::Utilization(_) => "utilization",
        Target::AverageValue(_) => "usage",
    };
    let metrics = metrics.as_ref().map_err(|e| {
        wrap(format!(
            "failed to get {resource} {what}: unable to get metrics for resource {resource}: {e}"
        ))
    })?;
    if metrics.is_empty() {
        return Err(wrap(format!("failed to get {resource} {what}: unable to get metrics for resource {resource}: no metrics returned from resource metrics API")));
    }
    let infos: Vec<PodInfo> = pods
        .iter()
        .map(|p| pod_info(p, &resource, container.as_deref(), metrics))
        .collect();
    let proposal = st
        .calculator
        .replicas(current, goal, resource == "cpu", &infos, now)
        .map_err(|e| wrap(format!("failed to get {resource} {what}: {e}")))?;
    let value = MetricValueStatus {
        average_utilization: proposal.utilization,
        average_value: Some(K8sQuantity(
            Quantity::from_millis(proposal.average_milli).to_string(),
        )),
        value: None,
    };
    let (name, status) = match container {
        None => (
            format!(
                "{resource} resource{}",
                if proposal.utilization.is_some() {
                    " utilization (percentage of request)"
                } else {
                    ""
                }
            ),
            MetricStatus {
                type_: "Resource".into(),
                resource: Some(ResourceMetricStatus {
                    name: resource.clone(),
                    current: value,
                }),
                ..Default::default()
            },
        ),
        Some(c) => (
            format!(
                "{resource} container resource{}",
                if proposal.utilization.is_some() {
                    " utilization (percentage of request)"
                } else {
                    ""
                }
            ),
            MetricStatus {
                type_: "ContainerResource".into(),
                container_resource: Some(ContainerResourceMetricStatus {
                    name: resource.clone(),
                    container: c,
                    current: value,
                }),
                ..Default::default()
            },
        ),
    };
    Ok((proposal, name, status))
}

/// What the calculator needs of one pod for `resource` (one container's, or all of them).
fn pod_info(
    pod: &CachedPod,
    resource: &str,
    container: Option<&str>,
    metrics: &PodUsage,
) -> PodInfo {
    let name = pod.name_any();
    let status = pod.status.as_ref();
    let ready = crate::pods::ready_condition(pod).map(|c| {
        (
            c.status == "True",
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        )
    });
    let mut request = Ok(0i64);
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        if container.is_some_and(|n| n != c.name) {
            continue;
        }
        let asked = c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource));
        request = match (request, asked) {
            (Ok(sum), Some(q)) => {
                Ok(sum + Quantity::parse(&q.0).map_or(0, |q| (q.nanos() / 1_000_000) as i64))
            }
            (Ok(_), None) => Err(format!(
                "missing request for {resource} in container {} of Pod {name}",
                c.name
            )),
            (e, _) => e,
        };
    }
    let sample = metrics.get(&name).and_then(|(containers, time, window)| {
        let pick = |(cpu, memory): &(i64, i64)| if resource == "cpu" { *cpu } else { *memory };
        let milli = match container {
            Some(c) => pick(containers.get(c)?),
            None => containers.values().map(pick).sum(),
        };
        Some(Sample {
            milli,
            timestamp: *time,
            window: *window,
        })
    });
    PodInfo {
        name,
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        ready,
        start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        request,
        sample,
    }
}

/// `setCondition`: the transition time moves only when the status changes.
fn set_condition(
    status: &mut HorizontalPodAutoscalerStatus,
    type_: &str,
    value: bool,
    reason: &str,
    message: String,
) {
    let value = if value { "True" } else { "False" };
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let now = Time(Timestamp::now());
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != value {
                c.last_transition_time = Some(now);
            }
            c.status = value.into();
            c.reason = Some(reason.into());
            c.message = Some(message);
        }
        None => conditions.push(HorizontalPodAutoscalerCondition {
            type_: type_.into(),
            status: value.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_transition_time: Some(now),
        }),
    }
}

/// Writes the status when it changed (`updateStatusIfNeeded`).
async fn write_status(
    hpa: &HorizontalPodAutoscaler,
    status: HorizontalPodAutoscalerStatus,
    st: &State,
) -> Result<(), Error> {
    if hpa.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<HorizontalPodAutoscaler> =
        Api::namespaced(st.ctx.client.clone(), &hpa.namespace().unwrap_or_default());
    let mut updated = hpa.clone();
    updated.status = Some(status);
    api.replace_status(&hpa.name_any(), &PostParams::default(), &updated)
        .await?;
    Ok(())
}
