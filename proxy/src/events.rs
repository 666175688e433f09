//! Kubernetes Events from the proxy, each published once per object and message.
//!
//! The proxy re-syncs everything on every change, so without memory it
//! would repeat the same Warning at each sync; client-go's recorder would
//! fold repeats into a series, minik simply remembers what it has said
//! (until restart). A failed publish is logged, never fatal.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// A recorder that says each thing once.
pub struct Events {
    recorder: Recorder,
    said: HashSet<(String, String, String)>,
}

impl Events {
    /// A recorder reporting as `controller` (e.g. "service-controller").
    pub fn new(client: kube::Client, controller: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_string(),
            instance: None,
        };
        Self {
            recorder: Recorder::new(client, reporter),
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
        if self.said.contains(&key) {
            return;
        }
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        match self.recorder.publish(&event, regarding).await {
            Ok(()) => {
                self.said.insert(key);
            }
            Err(error) => tracing::warn!(%error, reason, "cannot publish event"),
        }
    }
}
