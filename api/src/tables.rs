//! Server-side `Table` printing: what `kubectl get` shows.
//!
//! Owns the `meta.k8s.io/v1` `Table` document and the column and cell helpers
//! the kinds share; each kind's columns and cells are in its file under
//! `kinds/` ([`crate::kinds::Strategy::columns`]). The Table is what the
//! API server returns when a client asks for `application/json;as=Table;v=v1;g=meta.k8s.io`. It mirrors
//! kube-apiserver's printers (`pkg/printers/internalversion/printers.go`,
//! written from their observable behaviour, not copied), the generic
//! `rest.defaultTableConvertor` (kinds without a printer, e.g. LimitRange:
//! `NAME  CREATED AT`) and the CRD convertor's default `NAME  AGE` for kinds
//! this module does not know.
//!
//! Like kube-apiserver, the server always prints the *wide* cells; columns
//! with `priority: 1` are the ones `kubectl` hides unless `-o wide`. Integer
//! cells are JSON numbers exactly where kube puts integers (even under a
//! column typed `string`, as kube does for Deployment's UP-TO-DATE).
//!
//! Quantities (PV capacity, quota usage, HPA targets) are printed as stored;
//! kube prints them in canonical form, which is the same for the usual
//! spellings (`1Gi`, `500m`, `10`).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::catalogue::ResourceInfo;
use crate::meta;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// One `columnDefinitions` entry of a `meta.k8s.io/v1` Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `boolean`, `date`.
    pub type_: &'static str,
    /// `name` for the object-name column, otherwise empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: shown by `kubectl get -o wide` only.
    pub priority: i32,
}

impl Column {
    /// The column as it appears in `columnDefinitions`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The `includeObject` query parameter of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No `object` in the rows.
    None,
    /// A `PartialObjectMetadata` per row (kube's default).
    #[default]
    Metadata,
    /// The full object per row.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter's value (`None`, `Metadata`, `Object`);
    /// an empty value means the default, anything else is `None` (invalid).
    pub fn parse(value: &str) -> Option<IncludeObject> {
        match value {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// Column definitions for `info`'s kind.
pub fn columns(info: &ResourceInfo) -> Vec<Column> {
    info.strategy.columns().to_vec()
}

/// The cells of one row: one value per column of [`columns`] (wide included).
pub fn cells(info: &ResourceInfo, obj: &Value, now: Timestamp) -> Vec<Value> {
    info.strategy.cells(obj, now)
}

/// A complete `meta.k8s.io/v1` Table for `objects` of one kind.
///
/// `resource_version` is the list's (or, for a single GET, the object's)
/// resourceVersion; `continue_token` the list's continue token, if any.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    now: Timestamp,
    include_object: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    table_of(
        info,
        objects.to_vec(),
        now,
        include_object,
        resource_version,
        continue_token,
    )
}

/// [`table`] of objects it may take apart: each row takes its object's
/// metadata (or the object) rather than copying it — a page of a list is
/// hundreds of objects.
pub fn table_of(
    info: &ResourceInfo,
    objects: Vec<Value>,
    now: Timestamp,
    include_object: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let column_definitions: Vec<Value> = columns(info).iter().map(Column::to_json).collect();
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|obj| table_row(info, obj, now, include_object))
        .collect();
    object_of([
        ("kind", "Table".into()),
        ("apiVersion", "meta.k8s.io/v1".into()),
        ("metadata", list_metadata(resource_version, continue_token)),
        ("columnDefinitions", Value::Array(column_definitions)),
        ("rows", Value::Array(rows)),
    ])
}

/// A list's (or a Table's) `metadata`: its resourceVersion and continue
/// token, each where there is one.
pub fn list_metadata(resource_version: &str, continue_token: Option<&str>) -> Value {
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".into(), token.into());
    }
    Value::Object(metadata)
}

/// A JSON object of `fields`, in order, moved in. `json!` copies what it
/// interpolates (it serialises each value into a new one): a list's page
/// built with it was copied whole, every object's metadata and
/// managedFields included — half the time of a 30,000-row Table.
pub fn object_of<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// `obj` as a `PartialObjectMetadata`: its metadata taken out (what a
/// Table row and a metadata-only list carry of each object).
pub fn partial_metadata_of(mut obj: Value) -> Value {
    let metadata = obj.get_mut("metadata").map(Value::take);
    partial_object_metadata(metadata.unwrap_or_else(|| Value::Object(Map::new())))
}

/// A `PartialObjectMetadata` of `metadata`.
pub fn partial_object_metadata(metadata: Value) -> Value {
    object_of([
        ("kind", "PartialObjectMetadata".into()),
        ("apiVersion", "meta.k8s.io/v1".into()),
        ("metadata", metadata),
    ])
}

pub(crate) fn table_row(
    info: &ResourceInfo,
    obj: Value,
    now: Timestamp,
    include_object: IncludeObject,
) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells(info, &obj, now)));
    if let Some(conditions) = info.strategy.row_conditions(&obj) {
        row.insert("conditions".into(), conditions);
    }
    match include_object {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row.insert("object".into(), partial_metadata_of(obj));
        }
        IncludeObject::Object => {
            row.insert("object".into(), obj);
        }
    }
    Value::Object(row)
}

// ---------------------------------------------------------------------------
// Column helpers and shared descriptions (from the API's field docs)
// ---------------------------------------------------------------------------

pub(crate) const fn col(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

pub(crate) const fn wide(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_: "string",
        format: "",
        description,
        priority: 1,
    }
}

pub(crate) const fn string(name: &'static str, description: &'static str) -> Column {
    col(name, "string", description)
}

pub(crate) const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const CREATED_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
pub(crate) const CONTAINERS_DESC: &str = "Names of each container in the template.";
pub(crate) const IMAGES_DESC: &str = "Images referenced by each container in the template.";

pub(crate) const JOB_SELECTOR_DESC: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

pub(crate) const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: NAME_DESC,
    priority: 0,
};
pub(crate) const AGE: Column = string("Age", CREATED_DESC);
pub(crate) const CONTAINERS: Column = wide("Containers", CONTAINERS_DESC);
pub(crate) const IMAGES: Column = wide("Images", IMAGES_DESC);

/// Kinds served without a printer (LimitRange): kube's generic convertor.
pub(crate) const GENERIC_COLUMNS: &[Column] = &[NAME, col("Created At", "date", CREATED_DESC)];
/// Kinds this module does not know: the CRD convertor's default columns.
pub(crate) const UNKNOWN_COLUMNS: &[Column] = &[NAME, col("Age", "date", CREATED_DESC)];

pub(crate) fn generic_cells(obj: &Value) -> Vec<Value> {
    let created = meta::meta_str(obj, "creationTimestamp")
        .and_then(meta::parse_timestamp)
        .map(meta::format_timestamp)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![name_cell(obj), created.into()]
}

// ---------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Namespace, ConfigMap, Secret, ServiceAccount, Lease
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Service and Endpoints
// ---------------------------------------------------------------------------

/// Load-balancer ingress points (IP, else hostname), sorted and de-duplicated.
pub(crate) fn load_balancer_ingress(obj: &Value) -> Vec<String> {
    let set: BTreeSet<String> = items_at(obj, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| first_nonempty(&[text(i, "/ip"), text(i, "/hostname")]).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    set.into_iter().collect()
}

// ---------------------------------------------------------------------------
// Event (core/v1 and events.k8s.io/v1 share one printer, as in kube)
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// PersistentVolume, PersistentVolumeClaim, ResourceQuota
// ---------------------------------------------------------------------------

/// `RWO,ROX,RWX,RWOP`, in that fixed order, each at most once.
pub(crate) fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The beta storage-class annotation wins over `spec.storageClassName`.
pub(crate) fn storage_class(obj: &Value) -> &str {
    obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
        .unwrap_or_else(|| text(obj, "/spec/storageClassName"))
}

pub(crate) fn terminating_or<'a>(obj: &Value, phase: &'a str) -> &'a str {
    if present(obj, "/metadata/deletionTimestamp") {
        "Terminating"
    } else {
        phase
    }
}

// ---------------------------------------------------------------------------
// Workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob
// ---------------------------------------------------------------------------

/// `spec.replicas`, defaulting to 1 as the apps/v1 defaults do.
pub(crate) fn desired_replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// CONTAINERS and IMAGES: the template's containers, comma-separated.
pub(crate) fn container_cells(obj: &Value, pointer: &str) -> (String, String) {
    let containers = items_at(obj, pointer);
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

// ---------------------------------------------------------------------------
// Networking: Ingress, IngressClass, NetworkPolicy
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// HorizontalPodAutoscaler
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Label formatting (apimachinery's labels.FormatLabels / FormatLabelSelector)
// ---------------------------------------------------------------------------

/// A label map as `a=1,b=2` (sorted by key), `<none>` when empty.
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A LabelSelector as a selector string, `<none>` when it selects by nothing,
/// `<error>` when malformed.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector(selector) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// A LabelSelector as kube's `selector.String()`: requirements sorted by key,
/// `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. `None` when malformed.
pub(crate) fn label_selector(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Some(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            requirements.push((
                key.clone(),
                format!("{key}={}", value.as_str().unwrap_or("")),
            ));
        }
    }
    for expression in items_at(selector, "/matchExpressions") {
        let key = text(expression, "/key");
        let mut values: Vec<&str> = items_at(expression, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort();
        let requirement = match text(expression, "/operator") {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return None,
        };
        requirements.push((key.to_string(), requirement));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        requirements
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

// ---------------------------------------------------------------------------
// Small accessors over JSON objects
// ---------------------------------------------------------------------------

/// The string at `pointer`, or `""`.
pub(crate) fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at `pointer`, or 0.
pub(crate) fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at `pointer`, or false.
pub(crate) fn flag(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Whether `pointer` names a non-null value (a set pointer field in Go terms).
pub(crate) fn present(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer).is_some_and(|v| !v.is_null())
}

/// The array at `pointer`, or an empty slice.
pub(crate) fn items_at<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of the map or array at `pointer`.
pub(crate) fn len(obj: &Value, pointer: &str) -> usize {
    match obj.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// The timestamp at `pointer`, if set and well-formed.
pub(crate) fn timestamp(obj: &Value, pointer: &str) -> Option<Timestamp> {
    meta::parse_timestamp(text(obj, pointer))
}

/// A quantity as printed: the stored string (numbers accepted), `0` when unset.
pub(crate) fn quantity(obj: &Value, pointer: &str) -> String {
    quantity_at(obj, pointer).unwrap_or_else(|| "0".into())
}

pub(crate) fn quantity_at(obj: &Value, pointer: &str) -> Option<String> {
    match obj.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn first_nonempty<'a>(candidates: &[&'a str]) -> &'a str {
    candidates
        .iter()
        .copied()
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

pub(crate) fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

pub(crate) fn or_unset(s: &str) -> &str {
    if s.is_empty() {
        "<unset>"
    } else {
        s
    }
}

pub(crate) fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "<unknown>"
    } else {
        s
    }
}

pub(crate) fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Status of the first condition of `type_` (kube's isPodInitializedConditionTrue).
pub(crate) fn first_condition_true(pod: &Value, type_: &str) -> bool {
    items_at(pod, "/status/conditions")
        .iter()
        .find(|c| text(c, "/type") == type_)
        .is_some_and(|c| text(c, "/status") == "True")
}

/// Whether any condition of `type_` is True (kube's hasPodReadyCondition).
pub(crate) fn any_condition_true(pod: &Value, type_: &str) -> bool {
    items_at(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == type_ && text(c, "/status") == "True")
}

pub(crate) fn name_cell(obj: &Value) -> Value {
    meta::name(obj).into()
}

pub(crate) fn age_cell(obj: &Value, now: Timestamp) -> Value {
    meta::age(obj, now).into()
}

/// Human duration from `from` to `to`, as Go's `duration.HumanDuration`
/// (which rounds a second of clock skew to `0s`).
pub(crate) fn duration_between(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.duration_since(from).as_secs();
    meta::human_duration(if seconds == -1 { 0 } else { seconds })
}

/// Human duration since an RFC 3339 time; `<unknown>` when unset.
pub(crate) fn since(time: &str, now: Timestamp) -> String {
    match meta::parse_timestamp(time) {
        Some(t) => duration_between(t, now),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Strategy;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn names(kind: &str) -> Vec<&'static str> {
        columns(info(kind)).iter().map(|c| c.name).collect()
    }

    #[test]
    fn a_table_is_what_json_would_build_in_the_same_order() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7",
                "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": {"phase": "Running"}});
        let table = table_of(
            info("Pod"),
            vec![pod.clone()],
            now(),
            IncludeObject::Metadata,
            "42",
            Some("next"),
        );
        let rows = json!([{
            "cells": cells(info("Pod"), &pod, now()),
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": pod["metadata"]},
        }]);
        let want = json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": "42", "continue": "next"},
            "columnDefinitions": columns(info("Pod")).iter().map(Column::to_json).collect::<Vec<_>>(),
            "rows": rows,
        });
        // Compared as text: the same keys in the same order.
        assert_eq!(table.to_string(), want.to_string());
    }

    /// The storage resource of a kind.
    fn info(kind: &str) -> &'static ResourceInfo {
        crate::catalogue::all()
            .iter()
            .find(|r| r.kind == kind)
            .unwrap()
    }

    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })
    }

    fn pod_status_of(p: &Value) -> String {
        cells(info("Pod"), p, now())[2]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn pod_columns_match_kube() {
        assert_eq!(
            names("Pod"),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        let cols = columns(info("Pod"));
        assert_eq!(cols[0].format, "name");
        assert!(cols[..5].iter().all(|c| c.priority == 0));
        assert!(cols[5..].iter().all(|c| c.priority == 1));
    }

    #[test]
    fn running_pod() {
        let p = pod(json!({
            "phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}],
        }));
        let c = cells(info("Pod"), &p, now());
        assert_eq!(
            c,
            vec![
                json!("web"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("60m"),
                json!("10.1.0.5"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
    }

    #[test]
    fn pending_pod_without_statuses() {
        let c = cells(info("Pod"), &pod(json!({"phase": "Pending"})), now());
        assert_eq!(c[1], "0/1");
        assert_eq!(c[2], "Pending");
        assert_eq!(c[5], "<none>");
    }

    #[test]
    fn waiting_reasons_win() {
        for reason in [
            "CrashLoopBackOff",
            "ErrImagePull",
            "ContainerCreating",
            "ImagePullBackOff",
        ] {
            let p = pod(json!({
                "phase": "Pending",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                       "state": {"waiting": {"reason": reason}}}],
            }));
            assert_eq!(pod_status_of(&p), reason);
        }
    }

    #[test]
    fn terminated_reasons() {
        let terminated = |t: Value| {
            pod(json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": t}}]}))
        };
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 0, "reason": "Completed"}))),
            "Completed"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 1, "reason": "Error"}))),
            "Error"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 137, "reason": "OOMKilled"}))),
            "OOMKilled"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 3}))),
            "ExitCode:3"
        );
        assert_eq!(
            pod_status_of(&terminated(json!({"exitCode": 0, "signal": 9}))),
            "Signal:9"
        );
    }

    #[test]
    fn succeeded_pod_is_completed_and_marked() {
        let p = pod(json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}));
        assert_eq!(pod_status_of(&p), "Completed");
        let t = table(info("Pod"), &[p], now(), IncludeObject::None, "1", None);
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
    }

    #[test]
    fn completed_with_a_running_container_is_running_or_not_ready() {
        let status = |ready: &str| {
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": ready}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                    {"name": "b", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})
        };
        let mut p = pod(status("True"));
        p["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
        assert_eq!(pod_status_of(&p), "Running");
        assert_eq!(cells(info("Pod"), &p, now())[1], "1/2");
        p["status"] = status("False");
        assert_eq!(pod_status_of(&p), "NotReady");
    }

    fn init_pod(init_statuses: Value) -> Value {
        let mut p = pod(
            json!({"phase": "Pending", "initContainerStatuses": init_statuses,
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        p["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
        p
    }

    #[test]
    fn init_container_progress() {
        let done = json!({"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let running = json!({"name": "i2", "restartCount": 0, "state": {"running": {}}});
        assert_eq!(
            pod_status_of(&init_pod(json!([done.clone(), running]))),
            "Init:1/2"
        );
        let waiting = json!({"name": "i1", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}});
        assert_eq!(pod_status_of(&init_pod(json!([waiting]))), "Init:0/2");
    }

    #[test]
    fn init_container_failures() {
        let failed = json!({"name": "i1", "restartCount": 2,
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}}});
        let p = init_pod(json!([failed]));
        assert_eq!(pod_status_of(&p), "Init:Error");
        // Restarts of init containers count while initializing.
        assert_eq!(cells(info("Pod"), &p, now())[3], "2 (2m ago)");

        let crash = json!({"name": "i1", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}});
        assert_eq!(
            pod_status_of(&init_pod(json!([crash]))),
            "Init:CrashLoopBackOff"
        );

        let exit =
            json!({"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 4}}});
        assert_eq!(pod_status_of(&init_pod(json!([exit]))), "Init:ExitCode:4");
    }

    #[test]
    fn sidecar_init_containers_count_as_containers() {
        let mut p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 1,
                                       "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        let c = cells(info("Pod"), &p, now());
        assert_eq!(c[1], "2/2");
        assert_eq!(c[2], "Running");
        assert_eq!(c[3], "1"); // no lastState: no "(ago)"
    }

    #[test]
    fn restarts_show_time_since_last_restart() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 3, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}}}]}));
        assert_eq!(cells(info("Pod"), &p, now())[3], "3 (2m ago)");
    }

    #[test]
    fn terminating_pods() {
        let mut p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["metadata"]["deletionTimestamp"] = json!("2024-05-01T12:00:30Z");
        assert_eq!(pod_status_of(&p), "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_status_of(&p), "Unknown");
        // A finished pod being deleted keeps its final status.
        let mut done = pod(json!({"phase": "Failed", "reason": "Evicted"}));
        done["metadata"]["deletionTimestamp"] = json!("2024-05-01T12:00:30Z");
        assert_eq!(pod_status_of(&done), "Evicted");
    }

    #[test]
    fn scheduling_gated_and_wide_cells() {
        let mut p = pod(json!({"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                           {"type": "example.com/gate", "status": "True"}],
            "nominatedNodeName": "n2"}));
        p["spec"]["nodeName"] = json!("n1");
        p["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/gate"}, {"conditionType": "other"}]);
        let c = cells(info("Pod"), &p, now());
        assert_eq!(c[2], "SchedulingGated");
        assert_eq!(c[6], "n1");
        assert_eq!(c[7], "n2");
        assert_eq!(c[8], "1/2");
    }

    fn service(spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:59:00Z"},
               "spec": spec, "status": status})
    }

    #[test]
    fn service_ports_and_ips() {
        let svc = service(
            json!({"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                   "selector": {"tier": "web", "app": "shop"},
                   "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"},
                             {"port": 53, "protocol": "UDP"}]}),
            json!({}),
        );
        assert_eq!(
            names("Service"),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(
            cells(info("Service"), &svc, now()),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30001/TCP,443/TCP,53/UDP"),
                json!("60s"),
                json!("app=shop,tier=web"),
            ]
        );
    }

    #[test]
    fn service_external_ip_column() {
        let ext = |spec: Value, status: Value| {
            cells(info("Service"), &service(spec, status), now())[3].clone()
        };
        assert_eq!(ext(json!({"type": "ClusterIP"}), json!({})), "<none>");
        assert_eq!(
            ext(
                json!({"type": "ClusterIP", "externalIPs": ["1.2.3.4", "5.6.7.8"]}),
                json!({})
            ),
            "1.2.3.4,5.6.7.8"
        );
        assert_eq!(
            ext(json!({"type": "LoadBalancer"}), json!({"loadBalancer": {}})),
            "<pending>"
        );
        assert_eq!(
            ext(
                json!({"type": "LoadBalancer"}),
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.3"}, {"ip": "172.18.0.2"}, {"hostname": "lb.example"}]}})
            ),
            "172.18.0.2,172.18.0.3,lb.example"
        );
        assert_eq!(
            ext(
                json!({"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]}),
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}})
            ),
            "172.18.0.2,9.9.9.9"
        );
        assert_eq!(
            ext(
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({})
            ),
            "db.example.com"
        );
        let headless = service(
            json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}),
            json!({}),
        );
        let c = cells(info("Service"), &headless, now());
        assert_eq!(c[2], "None");
        assert_eq!(c[4], "<none>");
        assert_eq!(c[6], "<none>");
    }

    #[test]
    fn endpoints_truncate_like_kube() {
        let ep = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            cells(info("Endpoints"), &ep, now())[1],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 4 more..."
        );
        let small = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}, {"addresses": [{"ip": "10.0.0.9"}]}]});
        assert_eq!(
            cells(info("Endpoints"), &small, now())[1],
            "[fd00::1]:80,10.0.0.9"
        );
        assert_eq!(
            cells(
                info("Endpoints"),
                &json!({"metadata": {"name": "x"}}),
                now()
            )[1],
            "<none>"
        );
    }

    fn deployment(replicas: Option<i64>, status: Value) -> Value {
        let mut spec = json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}});
        if let Some(r) = replicas {
            spec["replicas"] = json!(r);
        }
        json!({"metadata": {"name": "web", "creationTimestamp": "2024-04-30T12:00:00Z"}, "spec": spec, "status": status})
    }

    #[test]
    fn deployment_ready_column() {
        assert_eq!(
            names("Deployment"),
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let d = deployment(
            Some(3),
            json!({"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}),
        );
        assert_eq!(
            cells(info("Deployment"), &d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("24h"),
                json!("app,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web"),
            ]
        );
        // A new deployment has no status yet; replicas default to 1.
        let fresh = deployment(None, json!({}));
        let c = cells(info("Deployment"), &fresh, now());
        assert_eq!(
            (c[1].clone(), c[2].clone(), c[3].clone()),
            (json!("0/1"), json!(0), json!(0))
        );
    }

    #[test]
    fn workload_columns() {
        assert_eq!(
            names("ReplicaSet"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            names("StatefulSet"),
            ["Name", "Ready", "Age", "Containers", "Images"]
        );
        assert_eq!(
            names("DaemonSet"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            names("Job"),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            names("CronJob"),
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let rs = json!({"metadata": {"name": "web-abc"}, "spec": {"replicas": 2,
            "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "canary", "operator": "DoesNotExist"}]}},
            "status": {"replicas": 2, "readyReplicas": 1}});
        let c = cells(info("ReplicaSet"), &rs, now());
        assert_eq!(&c[1..4], &[json!(2), json!(2), json!(1)]);
        assert_eq!(c[7], "app=web,!canary,tier in (a,b)");
    }

    #[test]
    fn job_and_cronjob_cells() {
        let job = json!({"metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:50:00Z"},
            "spec": {"completions": 1, "parallelism": 1, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
            "status": {"succeeded": 1, "startTime": "2024-05-01T11:50:00Z", "completionTime": "2024-05-01T11:50:42Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        let c = cells(info("Job"), &job, now());
        assert_eq!(
            &c[1..5],
            &[json!("Complete"), json!("1/1"), json!("42s"), json!("10m")]
        );
        assert_eq!(c[7], "<none>");

        let cj = json!({"metadata": {"name": "tick", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"schedule": "*/5 * * * *", "suspend": false},
            "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2024-05-01T11:55:00Z"}});
        let c = cells(info("CronJob"), &cj, now());
        assert_eq!(
            &c[1..7],
            &[
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("5m"),
                json!("60m")
            ]
        );
    }

    fn node(labels: Value, conditions: Value, unschedulable: bool) -> Value {
        json!({"metadata": {"name": "n1", "labels": labels, "creationTimestamp": "2024-04-01T12:00:00Z"},
               "spec": {"unschedulable": unschedulable},
               "status": {"conditions": conditions,
                          "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "n1"}],
                          "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                       "kernelVersion": "6.1.0", "containerRuntimeVersion": "docker://24.0.0"}}})
    }

    #[test]
    fn node_status_and_roles() {
        let ready = json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]);
        let n = node(
            json!({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master",
                            "node-role.kubernetes.io/": "", "kubernetes.io/hostname": "n1"}),
            ready.clone(),
            false,
        );
        assert_eq!(
            cells(info("Node"), &n, now()),
            vec![
                json!("n1"),
                json!("Ready"),
                json!("control-plane,master"),
                json!("30d"),
                json!("v1.32.0"),
                json!("172.18.0.2"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.1.0"),
                json!("docker://24.0.0"),
            ]
        );
        let cordoned = node(json!({}), ready, true);
        let c = cells(info("Node"), &cordoned, now());
        assert_eq!(c[1], "Ready,SchedulingDisabled");
        assert_eq!(c[2], "<none>");
        let not_ready = node(
            json!({}),
            json!([{"type": "Ready", "status": "Unknown"}]),
            false,
        );
        assert_eq!(cells(info("Node"), &not_ready, now())[1], "NotReady");
        let fresh = node(json!({}), json!([]), true);
        assert_eq!(
            cells(info("Node"), &fresh, now())[1],
            "Unknown,SchedulingDisabled"
        );
        assert_eq!(
            names("Node"),
            [
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
    }

    #[test]
    fn events_print_like_kube() {
        assert_eq!(columns(info("Event"))[0].name, "Last Seen");
        assert_eq!(columns(info("Event"))[9].format, "name");
        let ev = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "message": "Successfully pulled image \"nginx\"\n", "type": "Normal",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-05-01T11:50:00Z", "lastTimestamp": "2024-05-01T11:59:00Z", "count": 4});
        assert_eq!(
            cells(info("Event"), &ev, now()),
            vec![
                json!("60s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web"),
                json!("spec.containers{app}"),
                json!("kubelet, n1"),
                json!("Successfully pulled image \"nginx\""),
                json!("10m"),
                json!(4),
                json!("web.17a"),
            ]
        );
        let new_api = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "eventTime": "2024-05-01T11:59:30.123456Z", "regarding": {"kind": "Node", "name": "n1"},
            "note": "ok", "reason": "Started", "type": "Normal", "reportingController": "minik-kubelet"});
        let c = cells(info("Event"), &new_api, now());
        assert_eq!(
            &c[..9],
            &[
                json!("29s"),
                json!("Normal"),
                json!("Started"),
                json!("node/n1"),
                json!(""),
                json!("minik-kubelet"),
                json!("ok"),
                json!("29s"),
                json!(1)
            ]
        );
    }

    #[test]
    fn storage_and_quota_cells() {
        let pv = json!({"metadata": {"name": "pv1", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                     "claimRef": {"namespace": "default", "name": "data"}},
            "status": {"phase": "Bound"}});
        assert_eq!(
            cells(info("PersistentVolume"), &pv, now()),
            vec![
                json!("pv1"),
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("standard"),
                json!("<unset>"),
                json!(""),
                json!("60m"),
                json!("<unset>"),
            ]
        );
        let pending = json!({"metadata": {"name": "data"}, "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}});
        let c = cells(info("PersistentVolumeClaim"), &pending, now());
        assert_eq!(
            &c[1..6],
            &[
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("standard")
            ]
        );

        let quota = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"pods": "10", "limits.memory": "2Gi", "requests.cpu": "1", "limits.cpu": "2"},
            "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"}}});
        assert_eq!(names("ResourceQuota"), ["Name", "Age", "Request", "Limit"]);
        let c = cells(info("ResourceQuota"), &quota, now());
        assert_eq!(c[2], "pods: 3/10, requests.cpu: 500m/1");
        assert_eq!(c[3], "limits.cpu: 1/2, limits.memory: 0/2Gi");
    }

    #[test]
    fn small_kinds() {
        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(cells(info("ConfigMap"), &cm, now())[1], json!(3));
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(
            &cells(info("Secret"), &secret, now())[1..3],
            &[json!("Opaque"), json!(1)]
        );
        let ns = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
        assert_eq!(cells(info("Namespace"), &ns, now())[1], "Active");
        let ing = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "minik",
            "rules": [{"host": "a.example"}, {}, {"host": "c.example"}, {"host": "d.example"}, {"host": "e.example"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}}});
        assert_eq!(
            &cells(info("Ingress"), &ing, now())[1..5],
            &[
                json!("minik"),
                json!("a.example,c.example,d.example + 2 more..."),
                json!("172.18.0.2"),
                json!("80, 443")
            ]
        );
        let class = json!({"metadata": {"name": "minik"}, "spec": {"controller": "minik.io/ingress",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            cells(info("IngressClass"), &class, now())[2],
            "IngressParameters.k8s.example.com/p"
        );
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(cells(info("NetworkPolicy"), &np, now())[1], "<none>");
        let lease = json!({"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}});
        assert_eq!(cells(info("Lease"), &lease, now())[1], "n1");
        let sa = json!({"metadata": {"name": "default"}});
        assert_eq!(cells(info("ServiceAccount"), &sa, now())[1], json!(0));
    }

    #[test]
    fn hpa_targets() {
        let hpa = json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                        {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]}});
        let c = cells(info("HorizontalPodAutoscaler"), &hpa, now());
        assert_eq!(
            &c[1..6],
            &[
                json!("Deployment/web"),
                json!("cpu: 40%/80%, memory: <unknown>/100Mi + 1 more..."),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
    }

    #[test]
    fn unknown_and_generic_kinds() {
        // A kind whose strategy has no printer gets the CRD convertor's columns.
        struct Widget;
        impl crate::kinds::Strategy for Widget {}
        let widget_columns: Vec<_> = Widget.columns().iter().map(|c| c.name).collect();
        assert_eq!(widget_columns, ["Name", "Age"]);
        let w = json!({"metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:59:50Z"}});
        assert_eq!(Widget.cells(&w, now()), vec![json!("w"), json!("10s")]);
        assert_eq!(names("LimitRange"), ["Name", "Created At"]);
        assert_eq!(
            cells(info("LimitRange"), &w, now()),
            vec![json!("w"), json!("2024-05-01T11:59:50Z")]
        );
    }

    #[test]
    fn every_printer_has_one_cell_per_column() {
        let empty = json!({});
        for r in crate::catalogue::all() {
            let columns = r.strategy.columns();
            assert_eq!(
                columns.len(),
                r.strategy.cells(&empty, now()).len(),
                "{}",
                r.kind
            );
            if r.kind != "Event" {
                assert_eq!(columns[0], NAME, "{}", r.kind);
            }
        }
    }

    #[test]
    fn table_json_shape() {
        let p = pod(json!({"phase": "Running"}));
        let t = table(
            info("Pod"),
            std::slice::from_ref(&p),
            now(),
            IncludeObject::default(),
            "42",
            Some("tok"),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "42", "continue": "tok"})
        );
        assert_eq!(
            t["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0})
        );
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        let row = &t["rows"][0];
        assert_eq!(row["cells"].as_array().unwrap().len(), 9);
        assert!(row.get("conditions").is_none());
        assert_eq!(
            row["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": p["metadata"]})
        );

        let full = table(
            info("Pod"),
            std::slice::from_ref(&p),
            now(),
            IncludeObject::Object,
            "42",
            None,
        );
        assert_eq!(full["rows"][0]["object"], p);
        assert_eq!(full["metadata"], json!({"resourceVersion": "42"}));
        let bare = table(
            info("Pod"),
            std::slice::from_ref(&p),
            now(),
            IncludeObject::None,
            "42",
            None,
        );
        assert!(bare["rows"][0].get("object").is_none());
        let empty = table(
            info("ConfigMap"),
            &[],
            now(),
            IncludeObject::Metadata,
            "7",
            None,
        );
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["columnDefinitions"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn include_object_parses_query_values() {
        assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
        assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
        assert_eq!(IncludeObject::parse("All"), None);
    }
}
