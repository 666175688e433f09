//! Events the kubelet records about pods, through kube's `Recorder`
//! (events.k8s.io/v1) with Kubernetes' reporter name "kubelet" and the
//! node name as the instance, so `kubectl describe pod` shows them under
//! "From: kubelet".
//!
//! Reasons and wording are the kubelet's (Pulling, Pulled, Created, Started,
//! Killing, Unhealthy, BackOff, Failed, FailedMount …). Publishing happens
//! in the background: a slow API server never holds up a pod's sync.

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Resource;

/// Records events about one pod (or one of its containers).
#[derive(Clone)]
pub struct PodEvents {
    recorder: Recorder,
    reference: ObjectReference,
}

impl PodEvents {
    pub fn new(client: kube::Client, node: &str, pod: &Pod) -> Self {
        let reporter = Reporter {
            controller: "kubelet".into(),
            instance: Some(node.to_string()),
        };
        Self {
            recorder: Recorder::new(client, reporter),
            reference: pod.object_ref(&()),
        }
    }

    /// Events about a container point at `spec.containers{name}`, as kubelet's do.
    pub fn container(&self, field: &str) -> Self {
        let mut reference = self.reference.clone();
        reference.field_path = Some(field.to_string());
        Self {
            recorder: self.recorder.clone(),
            reference,
        }
    }

    pub fn normal(&self, reason: &str, note: impl Into<String>) {
        self.publish(EventType::Normal, reason, note.into());
    }

    pub fn warning(&self, reason: &str, note: impl Into<String>) {
        self.publish(EventType::Warning, reason, note.into());
    }

    fn publish(&self, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        let (recorder, reference) = (self.recorder.clone(), self.reference.clone());
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &reference).await {
                tracing::debug!(error = %e, reason = event.reason, "cannot record event");
            }
        });
    }
}

/// `spec.containers{name}` or `spec.initContainers{name}`.
pub fn field_path(init: bool, name: &str) -> String {
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}
