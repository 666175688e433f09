//! DaemonSet (apps/v1): one pod per (matching) node.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::apps::v1 as apps;

/// The DaemonSet strategy.
pub struct DaemonSet;

/// `daemonsets` in apps/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apps",
    "v1",
    "DaemonSet",
    "daemonsets",
    "daemonset",
    &DaemonSet,
)
.short_names(&["ds"])
.categories(&["all"])
.subresources(&["status"]);

impl Strategy for DaemonSet {
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj.pointer("/spec/template").unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(template, "spec.template")
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::DaemonSet>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::apps::v1::DaemonSet>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_daemon_set(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_daemon_set(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        immutable_spec_selector(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        DAEMONSET_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        daemonset_cells(obj, now)
    }
}

fn validate_daemon_set(obj: &Value, errs: &mut Errs) {
    let Some(ds) = typed::<apps::DaemonSet>(obj, errs) else {
        return;
    };
    let spec = ds.spec.unwrap_or_default();
    // Kubernetes' DaemonSet validation never says a missing selector is
    // required: it is `labels.Nothing()`, and only the template mismatch
    // is reported.
    let selector = if is_present(obj, "/spec/selector") {
        validate_workload_selector(Some(&spec.selector), "daemonset", errs)
    } else {
        Some(LabelSelector::nothing())
    };
    validate_replica_template(&spec.template, selector.as_ref(), "DaemonSet", errs);
    non_negative(spec.min_ready_seconds, "spec.minReadySeconds", errs);
    let strategy = spec.update_strategy.as_ref();
    match strategy.and_then(|s| s.type_.as_deref()).unwrap_or("") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let p = "spec.updateStrategy.rollingUpdate";
            match strategy.and_then(|s| s.rolling_update.as_ref()) {
                None => errs.push(FieldError::required(p, "")),
                Some(ru) => {
                    let (max_unavailable, max_surge) =
                        (ru.max_unavailable.as_ref(), ru.max_surge.as_ref());
                    validate_int_or_percent(
                        max_unavailable,
                        &format!("{p}.maxUnavailable"),
                        true,
                        errs,
                    );
                    validate_int_or_percent(max_surge, &format!("{p}.maxSurge"), true, errs);
                    let unavailable = max_unavailable.map(int_or_percent).unwrap_or(0) != 0;
                    let surge = max_surge.map(int_or_percent).unwrap_or(0) != 0;
                    if unavailable && surge {
                        let shown = max_surge.map(int_or_string_text).unwrap_or_default();
                        errs.push(invalid_shown(
                            format!("{p}.maxSurge"),
                            &shown,
                            "may not be set when maxUnavailable is non-zero",
                        ));
                    } else if !unavailable && !surge {
                        errs.push(FieldError::required(
                            format!("{p}.maxUnavailable"),
                            "cannot be 0 when maxSurge is 0",
                        ));
                    }
                }
            }
        }
        _ => errs.push(FieldError::not_supported(
            "spec.updateStrategy",
            json_of(&strategy),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    non_negative(
        spec.revision_history_limit,
        "spec.revisionHistoryLimit",
        errs,
    );
}

/// `SetDefaults_DaemonSet`.
fn default_daemon_set(ds: &mut Obj) {
    let Some(spec) = child(ds, "spec") else {
        return;
    };
    if let Some(strategy) = child(spec, "updateStrategy") {
        default_value(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == Some("RollingUpdate") {
            if let Some(ru) = child(strategy, "rollingUpdate") {
                default_value(ru, "maxUnavailable", json!(1));
                default_value(ru, "maxSurge", json!(0));
            }
        }
    }
    default_value(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
}

const DAEMONSET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Ready", "integer", "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    string("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

fn daemonset_cells(ds: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(ds, "/spec/template/spec/containers");
    vec![
        name_cell(ds),
        json!(int(ds, "/status/desiredNumberScheduled")),
        json!(int(ds, "/status/currentNumberScheduled")),
        json!(int(ds, "/status/numberReady")),
        json!(int(ds, "/status/updatedNumberScheduled")),
        json!(int(ds, "/status/numberAvailable")),
        format_labels(ds.pointer("/spec/template/spec/nodeSelector")).into(),
        age_cell(ds, now),
        names.into(),
        images.into(),
        format_label_selector(ds.pointer("/spec/selector")).into(),
    ]
}
