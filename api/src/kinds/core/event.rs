//! Event (core/v1, and events.k8s.io/v1 from the same storage): what happened to an object.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

/// The Event strategy.
pub struct Event;

/// `events` in v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("", "v1", "Event", "events", "event", &Event).short_names(&["ev"]);

/// `events` in events.k8s.io/v1: the same objects as core/v1 Events, in a newer shape.
pub const EVENTS_K8S_IO: ResourceInfo = RESOURCE.served_as("events.k8s.io", "v1");

impl Strategy for Event {
    fn field_labels(&self) -> &'static [&'static str] {
        // core/v1's names and events.k8s.io's, both served from one storage.
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reportingController",
            "deprecatedSource",
        ]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(match obj["apiVersion"].as_str() {
            Some("events.k8s.io/v1") => decode_as::<k8s_openapi::api::events::v1::Event>(obj),
            _ => decode_as::<k8s_openapi::api::core::v1::Event>(obj),
        })
    }
    fn openapi_schema(&self, info: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(match info.group {
            "events.k8s.io" => schema_of::<k8s_openapi::api::events::v1::Event>(g),
            _ => schema_of::<k8s_openapi::api::core::v1::Event>(g),
        })
    }
    fn has_spec(&self) -> bool {
        false
    }
    fn columns(&self) -> &'static [Column] {
        EVENT_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        event_cells(obj, now)
    }
}

const EVENT_COLUMNS: &[Column] = &[
    string("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    string("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    string("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    string("Object", "The object that this event is about."),
    wide("Subobject", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object."),
    wide("Source", "The component reporting this event. Should be a short machine understandable string."),
    string("Message", "A human-readable description of the status of this operation."),
    wide("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
    wide("Count", "The number of times this event has occurred."),
    Column { name: "Name", type_: "string", format: "name", description: NAME_DESC, priority: 1 },
];

/// An Event's printed fields under either API version's field names.
struct EventFields<'a> {
    first_timestamp: &'a str,
    last_timestamp: &'a str,
    count: i64,
    regarding: Option<&'a Value>,
    message: &'a str,
    component: &'a str,
    host: &'a str,
}

impl<'a> EventFields<'a> {
    fn of(event: &'a Value) -> EventFields<'a> {
        if text(event, "/apiVersion") == "events.k8s.io/v1" {
            EventFields {
                first_timestamp: text(event, "/deprecatedFirstTimestamp"),
                last_timestamp: text(event, "/deprecatedLastTimestamp"),
                count: int(event, "/deprecatedCount"),
                regarding: event.get("regarding"),
                message: text(event, "/note"),
                component: first_nonempty(&[
                    text(event, "/deprecatedSource/component"),
                    text(event, "/reportingController"),
                ]),
                host: first_nonempty(&[
                    text(event, "/deprecatedSource/host"),
                    text(event, "/reportingInstance"),
                ]),
            }
        } else {
            EventFields {
                first_timestamp: text(event, "/firstTimestamp"),
                last_timestamp: text(event, "/lastTimestamp"),
                count: int(event, "/count"),
                regarding: event.get("involvedObject"),
                message: text(event, "/message"),
                component: first_nonempty(&[
                    text(event, "/source/component"),
                    text(event, "/reportingComponent"),
                ]),
                host: first_nonempty(&[
                    text(event, "/source/host"),
                    text(event, "/reportingInstance"),
                ]),
            }
        }
    }
}

fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let fields = EventFields::of(event);
    let first_seen = match fields.first_timestamp {
        "" => since(text(event, "/eventTime"), now),
        t => since(t, now),
    };
    let mut last_seen = match fields.last_timestamp {
        "" => first_seen.clone(),
        t => since(t, now),
    };
    let mut count = fields.count;
    if present(event, "/series") {
        last_seen = since(text(event, "/series/lastObservedTime"), now);
        count = int(event, "/series/count");
    } else if count == 0 {
        count = 1; // singleton events of the new API carry no count
    }
    let regarding = fields.regarding.unwrap_or(&Value::Null);
    let kind = text(regarding, "/kind").to_lowercase();
    let target = match text(regarding, "/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let source = match fields.host {
        "" => fields.component.to_string(),
        host => format!("{}, {host}", fields.component),
    };
    vec![
        last_seen.into(),
        text(event, "/type").into(),
        text(event, "/reason").into(),
        target.into(),
        text(regarding, "/fieldPath").into(),
        source.into(),
        fields.message.trim().into(),
        first_seen.into(),
        json!(count),
        name_cell(event),
    ]
}
