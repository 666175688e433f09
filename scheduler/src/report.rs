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
//! Events go through kube-runtime's `Recorder` (events.k8s.io/v1, reporting
//! controller `default-scheduler`, instance `default-scheduler-<hostname>`).
//! client-go aggregates a repeated event (same reason *and* message) into a
//! series; kube-runtime's recorder keys only on the reason, so minik keeps
//! one recorder per pending pod and message: a repeat bumps the series
//! count, a new message makes a new Event, as on a real cluster.
//!
//! Events are written by a pool of writers off the scheduling path, so
//! writing them never slows scheduling down; they wait in a bounded queue
//! and are dropped (with a log line) when it is full, as client-go's event
//! broadcaster does. client-go's queue holds 1000 events, enough for a
//! scheduler whose client is limited to 50 requests/s; minik binds over
//! 1000 pods/s, so its queue holds 50,000 — every pod of a 10,000-pod burst
//! still gets its `Scheduled` event, a few seconds behind its binding.
//! Status patches are never dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter as EventSource};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;

/// Events waiting to be written before new ones are dropped (see the module docs).
const EVENT_QUEUE: usize = 50_000;
/// Events written at once (enough to keep up with bindings on a loaded API server).
const EVENT_WRITERS: usize = 32;
/// Status patches in flight at once.
const STATUS_WRITERS: usize = 16;
/// Longest event note the API accepts (`NoteLengthLimit`).
const NOTE_LIMIT: usize = 1024;

/// `PodScheduled=False` reason when no node fits.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// `PodScheduled=False` reason for other failures.
pub const REASON_SCHEDULER_ERROR: &str = "SchedulerError";

struct EventJob {
    reference: ObjectReference,
    uid: String,
    type_: EventType,
    reason: &'static str,
    action: &'static str,
    note: String,
}

pub struct Reporter {
    client: kube::Client,
    source: EventSource,
    events: mpsc::Sender<EventJob>,
    /// Pending pod UID → (last FailedScheduling note, the recorder that sent it).
    failures: Mutex<HashMap<String, (String, Recorder)>>,
    status_writers: Semaphore,
}

impl Reporter {
    /// Starts the event writers.
    pub fn start(client: kube::Client, reporting_instance: &str) -> Arc<Reporter> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let reporter = Arc::new(Reporter {
            client,
            source: EventSource {
                controller: "default-scheduler".to_string(),
                instance: Some(reporting_instance.to_string()),
            },
            events: tx,
            failures: Mutex::new(HashMap::new()),
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

    /// `Scheduled`: the binding succeeded.
    pub fn scheduled(&self, pod: &Pod, node: &str) {
        self.enqueue(
            pod,
            EventType::Normal,
            "Scheduled",
            "Binding",
            format!(
                "Successfully assigned {}/{} to {node}",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            ),
        );
    }

    /// `FailedScheduling` for a pod that is being deleted.
    pub fn skipped_deleting(&self, pod: &Pod) {
        self.enqueue(
            pod,
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            format!(
                "skip schedule deleting pod: {}/{}",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            ),
        );
    }

    /// `FailedScheduling` plus the PodScheduled=False condition.
    /// `still_pending` is false when the pod has meanwhile been bound
    /// elsewhere: its PodScheduled=True condition is left alone.
    pub fn failed(
        self: &Arc<Self>,
        pod: &Pod,
        reason: &'static str,
        message: String,
        still_pending: bool,
    ) {
        self.enqueue(
            pod,
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            truncate(&message),
        );
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

    /// The pod is no longer pending: forget its event series.
    pub fn forget(&self, uid: &str) {
        self.failures.lock().expect("not poisoned").remove(uid);
    }

    fn enqueue(
        &self,
        pod: &Pod,
        type_: EventType,
        reason: &'static str,
        action: &'static str,
        note: String,
    ) {
        let job = EventJob {
            reference: pod.object_ref(&()),
            uid: pod.uid().unwrap_or_default(),
            type_,
            reason,
            action,
            note,
        };
        if self.events.try_send(job).is_err() {
            tracing::warn!(pod = %pod.name_any(), reason, "event queue full; event dropped");
        }
    }

    async fn publish(&self, job: EventJob) {
        let recorder = if job.reason == "FailedScheduling" {
            let mut failures = self.failures.lock().expect("not poisoned");
            match failures.get(&job.uid) {
                Some((note, recorder)) if *note == job.note => recorder.clone(),
                _ => {
                    let recorder = Recorder::new(self.client.clone(), self.source.clone());
                    failures.insert(job.uid.clone(), (job.note.clone(), recorder.clone()));
                    recorder
                }
            }
        } else {
            Recorder::new(self.client.clone(), self.source.clone())
        };
        let event = Event {
            type_: job.type_,
            reason: job.reason.to_string(),
            note: Some(job.note),
            action: job.action.to_string(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &job.reference).await {
            tracing::warn!(reason = job.reason, error = %e, "could not write event");
        }
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

/// kube-scheduler's `truncateMessage`: at most 1024 bytes, ending in " ...".
fn truncate(message: &str) -> String {
    if message.len() <= NOTE_LIMIT {
        return message.to_string();
    }
    let mut cut = NOTE_LIMIT - " ...".len();
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ...", &message[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_like_kube_scheduler() {
        let long = "x".repeat(2000);
        let t = truncate(&long);
        assert_eq!(t.len(), NOTE_LIMIT);
        assert!(t.ends_with(" ..."));
        assert_eq!(truncate("short"), "short");
    }

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
