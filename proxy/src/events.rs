//! Kubernetes Events from the proxy, each published once per object and message.
//!
//! The proxy re-syncs everything on every change, so it would repeat the
//! same Warning at each sync; the shared recorder (`minik_client::events`)
//! would count each repeat on one Event, but what the proxy reports is a
//! state it reached ("EnsuredLoadBalancer"), not something that happened
//! again, so it remembers what it has said (until restart) and says it once.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::ObjectReference;
use minik_client::events::{EventRecorder, EventType};

/// A recorder that says each thing once.
pub struct Events {
    recorder: EventRecorder,
    said: HashSet<(String, String, String)>,
}

impl Events {
    /// A recorder reporting as `controller` (e.g. "service-controller").
    pub fn new(client: kube::Client, controller: &str) -> Self {
        Self {
            recorder: EventRecorder::new(client, controller, None),
            said: HashSet::new(),
        }
    }

    /// Publishes the event unless it was already published for this object.
    pub async fn once(
        &mut self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let key = (
            regarding.uid.clone().unwrap_or_default(),
            reason.to_string(),
            note.clone(),
        );
        if self.said.insert(key) {
            self.recorder.publish(regarding, type_, reason, note).await;
        }
    }
}
