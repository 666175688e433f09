//! What the scheduler tells people: Events, and the pod's PodScheduled
//! condition when it cannot be placed.
//!
//! Mirrors kube-scheduler's reporting:
//! - `Normal Scheduled` "Successfully assigned <ns>/<pod> to <node>"
//!   (action `Binding`) after a successful binding;
//! - `Warning FailedScheduling` with the FitError text (action
//!   `Scheduling`), plus a `pods/<name>/status` strategic-merge PATCH
//!   setting PodScheduled=False with reason `Unschedulable` (no node fits)
//!   or `SchedulerError` (e.g. a failed binding) and the same message —
//!   only when that condition actually changes, as `updatePod` does;
//! - `Warning FailedScheduling` "skip schedule deleting pod: <ns>/<pod>".
//!
//! `Scheduled` and the no-fit `FailedScheduling` carry the attempt's
//! [`crate::decision_table`] (which filter refused which node, the best
//! nodes' scores) as an annotation on the Event — minik's addition.
//!
//! Events go through the shared recorder (`minik_client::events`:
//! events.k8s.io/v1, reporting controller `default-scheduler`, instance
//! `default-scheduler-<hostname>`), with client-go's correlation: a repeated
//! event (same reason *and* message) bumps the count of one Event, a new
//! message makes a new Event, as on a real cluster.
//!
//! Events are written by a pool of writers off the scheduling path, so
//! writing them never slows scheduling down; they wait in a bounded queue
//! and are dropped (with a log line) when it is full, as client-go's event
//! broadcaster does. client-go's queue holds 1000 events, enough for a
//! scheduler whose client is limited to 50 requests/s; minik binds over
//! 1000 pods/s, so its queue holds 50,000 — every pod of a 10,000-pod burst
//! still gets its `Scheduled` event, a few seconds behind its binding.
//! Status patches are never dropped.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use minik_client::events::{truncate, EventRecorder, EventType};
use serde_json::json;

use crate::decision_table::ANNOTATION;
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;

/// Events waiting to be written before new ones are dropped (see the module docs).
const EVENT_QUEUE: usize = 50_000;
/// Events written at once (enough to keep up with bindings on a loaded API server).
const EVENT_WRITERS: usize = 32;
/// Status patches in flight at once.
const STATUS_WRITERS: usize = 16;

/// `PodScheduled=False` reason when no node fits.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// `PodScheduled=False` reason for other failures.
pub const REASON_SCHEDULER_ERROR: &str = "SchedulerError";

struct EventJob {
    reference: ObjectReference,
    /// The other object of the decision (the Node of a binding).
    related: Option<ObjectReference>,
    type_: EventType,
    reason: &'static str,
    action: &'static str,
    note: String,
    /// The decision table (JSON), carried as the Event's annotation.
    table: Option<String>,
    /// When it happened (it is written later, from the queue).
    at: k8s_openapi::jiff::Timestamp,
}

impl EventJob {
    /// An Event about `pod` happening now, naming no other object and
    /// carrying no table.
    fn new(
        pod: &Pod,
        type_: EventType,
        reason: &'static str,
        action: &'static str,
        note: String,
    ) -> EventJob {
        EventJob {
            reference: pod.object_ref(&()),
            related: None,
            type_,
            reason,
            action,
            note,
            table: None,
            at: k8s_openapi::jiff::Timestamp::now(),
        }
    }
}

pub struct Reporter {
    client: kube::Client,
    recorder: EventRecorder,
    events: mpsc::Sender<EventJob>,
    status_writers: Semaphore,
}

impl Reporter {
    /// Starts the event writers.
    pub fn start(client: kube::Client, reporting_instance: &str) -> Arc<Reporter> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let reporter = Arc::new(Reporter {
            recorder: EventRecorder::new(
                client.clone(),
                "default-scheduler",
                Some(reporting_instance),
            ),
            client,
            events: tx,
            status_writers: Semaphore::new(STATUS_WRITERS),
        });
        let writer = Arc::downgrade(&reporter);
        tokio::spawn(
            ReceiverStream::new(rx).for_each_concurrent(EVENT_WRITERS, move |job| {
                let writer = writer.clone();
                async move {
                    if let Some(reporter) = writer.upgrade() {
                        reporter.publish(job).await;
                    }
                }
            }),
        );
        reporter
    }

    /// `Scheduled`: the binding succeeded; `table` is the decision's
    /// [`crate::decision_table`] as JSON.
    pub fn scheduled(
        &self,
        pod: &Pod,
        node: &str,
        table: String,
        decided: k8s_openapi::jiff::Timestamp,
    ) {
        let note = format!(
            "Successfully assigned {}/{} to {node}",
            pod.namespace().unwrap_or_default(),
            pod.name_any()
        );
        self.enqueue(EventJob {
            related: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.to_string()),
                ..Default::default()
            }),
            table: Some(table),
            at: decided,
            ..EventJob::new(pod, EventType::Normal, "Scheduled", "Binding", note)
        });
    }

    /// `FailedScheduling` for a pod that is being deleted.
    pub fn skipped_deleting(&self, pod: &Pod) {
        let note = format!(
            "skip schedule deleting pod: {}/{}",
            pod.namespace().unwrap_or_default(),
            pod.name_any()
        );
        self.enqueue(EventJob::new(
            pod,
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            note,
        ));
    }

    /// `FailedScheduling` plus the PodScheduled=False condition.
    /// `still_pending` is false when the pod has meanwhile been bound
    /// elsewhere: its PodScheduled=True condition is left alone. `table`:
    /// which filter refused which node, when filters ran.
    pub fn failed(
        self: &Arc<Self>,
        pod: &Pod,
        reason: &'static str,
        message: String,
        still_pending: bool,
        table: Option<String>,
    ) {
        self.enqueue(EventJob {
            table,
            ..EventJob::new(
                pod,
                EventType::Warning,
                "FailedScheduling",
                "Scheduling",
                truncate(message.clone()),
            )
        });
        if still_pending && condition_differs(pod, reason, &message) {
            let this = Arc::clone(self);
            let (namespace, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
            tokio::spawn(async move {
                let _permit = this.status_writers.acquire().await;
                let pods: Api<Pod> = Api::namespaced(this.client.clone(), &namespace);
                let patch = json!({"status": {"conditions": [{
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": null,
                    "lastTransitionTime": minik_api::meta::now_rfc3339(),
                }]}});
                if let Err(e) = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                {
                    tracing::warn!(pod = %format!("{namespace}/{name}"), error = %e, "could not update the PodScheduled condition");
                }
            });
        }
    }

    fn enqueue(&self, job: EventJob) {
        if let Err(e) = self.events.try_send(job) {
            let job = e.into_inner();
            let pod = job.reference.name.unwrap_or_default();
            tracing::warn!(%pod, reason = job.reason, "event queue full; event dropped");
        }
    }

    async fn publish(&self, job: EventJob) {
        let annotations = job
            .table
            .map(|t| [(ANNOTATION.to_string(), t)].into())
            .unwrap_or_default();
        self.recorder
            .publish_at(
                &job.reference,
                job.related.as_ref(),
                job.type_,
                job.reason,
                job.action,
                job.note,
                annotations,
                job.at,
            )
            .await;
    }
}

/// Whether PodScheduled would change (kube's `UpdatePodCondition` check).
fn condition_differs(pod: &Pod, reason: &str, message: &str) -> bool {
    let current = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
    !current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_patch_only_when_it_changes() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
            "status": {"conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/1 nodes are available"}]}}))
        .unwrap();
        assert!(!condition_differs(
            &pod,
            REASON_UNSCHEDULABLE,
            "0/1 nodes are available"
        ));
        assert!(condition_differs(
            &pod,
            REASON_UNSCHEDULABLE,
            "0/2 nodes are available"
        ));
        assert!(condition_differs(
            &Pod::default(),
            REASON_UNSCHEDULABLE,
            "x"
        ));
    }
}
