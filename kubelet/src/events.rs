//! Events the kubelet records about pods, through the shared recorder
//! (`minik_client::events`: events.k8s.io/v1, client-go's correlation) with
//! Kubernetes' reporter name "kubelet" and the node name as the instance, so
//! `kubectl describe pod` shows them under "From: kubelet".
//!
//! Reasons and wording are the kubelet's (Pulling, Pulled, Created, Started,
//! Killing, Unhealthy, BackOff, Failed, FailedMount …). Publishing happens
//! in the background: a slow API server never holds up a pod's sync.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use minik_client::events::{EventRecorder, EventType};

/// Records events about one pod (or one of its containers).
#[derive(Clone)]
pub struct PodEvents {
    recorder: EventRecorder,
    reference: ObjectReference,
}

impl PodEvents {
    /// Events about `pod`, written by the node's `recorder`.
    pub fn new(recorder: &EventRecorder, pod: &impl Resource<DynamicType = ()>) -> Self {
        Self {
            recorder: recorder.clone(),
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
        self.recorder
            .spawn_publish(self.reference.clone(), type_, reason.to_string(), note);
    }
}

/// `spec.containers{name}` or `spec.initContainers{name}`.
/// `spec.ephemeralContainers{name}`.
pub fn ephemeral_field_path(name: &str) -> String {
    format!("spec.ephemeralContainers{{{name}}}")
}

pub fn field_path(init: bool, name: &str) -> String {
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}
