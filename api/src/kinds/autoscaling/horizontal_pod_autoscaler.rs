//! HorizontalPodAutoscaler (autoscaling/v2, and v1 from the same storage): scales a workload on metrics.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).
//!
//! Its validation reads the JSON rather than a k8s-openapi struct: it runs
//! on the version the client addressed (v1 and v2 differ), and a metric
//! target's quantity is shown as written (`averageValue: 0` prints `0`,
//! which the typed `Quantity`, a string, would print as `"0"`).

use crate::kinds::prelude::*;

/// The HorizontalPodAutoscaler strategy.
pub struct HorizontalPodAutoscaler;

/// `horizontalpodautoscalers` in autoscaling/v2.
pub const V2: ResourceInfo = ResourceInfo::new(
    "autoscaling",
    "v2",
    "HorizontalPodAutoscaler",
    "horizontalpodautoscalers",
    "horizontalpodautoscaler",
    &HorizontalPodAutoscaler,
)
.short_names(&["hpa"])
.categories(&["all"])
.subresources(&["status"]);

/// `horizontalpodautoscalers` in autoscaling/v1: the same objects, converted.
pub const V1: ResourceInfo = V2.served_as("autoscaling", "v1");

impl Strategy for HorizontalPodAutoscaler {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(match obj["apiVersion"].as_str() {
            Some("autoscaling/v1") => {
                decode_as::<k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler>(obj)
            }
            _ => decode_as::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>(obj),
        })
    }
    fn openapi_schema(&self, info: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(match info.version {
            "v1" => schema_of::<k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler>(g),
            _ => schema_of::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>(g),
        })
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, info: &ResourceInfo, obj: &mut Obj) {
        default_hpa(obj, info.version)
    }
    fn validate(&self, info: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_hpa(obj, info.version, errs)
    }
    fn columns(&self) -> &'static [Column] {
        HPA_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        hpa_cells(obj, now)
    }
}

fn validate_hpa(hpa: &Value, version: &str, errs: &mut Errs) {
    let spec = &hpa["spec"];
    let min = int_of(spec, "minReplicas");
    let max = int_of(spec, "maxReplicas").unwrap_or(0);
    if let Some(min) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            Value::from(min),
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            Value::from(max),
            "must be greater than 0",
        ));
    }
    if let Some(min) = min {
        if max < min {
            errs.push(FieldError::invalid(
                "spec.maxReplicas",
                Value::from(max),
                "must be greater than or equal to `minReplicas`",
            ));
        }
    }
    let target = &spec["scaleTargetRef"];
    let before = errs.len();
    for key in ["kind", "name"] {
        let v = str_of(target, key);
        let p = format!("spec.scaleTargetRef.{key}");
        if v.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else if v == "." || v == ".." {
            errs.push(FieldError::invalid(
                p,
                Value::from(v),
                format!("may not be '{v}'"),
            ));
        } else {
            for bad in ["/", "%"] {
                if v.contains(bad) {
                    errs.push(FieldError::invalid(
                        p.clone(),
                        Value::from(v),
                        format!("may not contain '{bad}'"),
                    ));
                }
            }
        }
    }
    if errs.len() != before {
        return;
    }
    if version == "v1" {
        if let Some(t) = int_of(spec, "targetCPUUtilizationPercentage").filter(|t| *t < 1) {
            errs.push(FieldError::invalid(
                "spec.targetCPUUtilizationPercentage",
                Value::from(t),
                "must be greater than 0",
            ));
        }
        return;
    }
    for (i, metric) in items(spec, "metrics").iter().enumerate() {
        validate_metric(metric, &format!("spec.metrics[{i}]"), errs);
    }
}

/// `validateMetricSpec` (types, the matching source, its target).
fn validate_metric(metric: &Value, p: &str, errs: &mut Errs) {
    let ty = str_of(metric, "type");
    let source_key = match ty {
        "" => {
            errs.push(FieldError::required(
                format!("{p}.type"),
                "must specify a metric source type",
            ));
            return;
        }
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        other => {
            errs.push(FieldError::not_supported(
                format!("{p}.type"),
                Value::from(other),
                &[
                    "Object",
                    "Pods",
                    "Resource",
                    "External",
                    "ContainerResource",
                ],
            ));
            return;
        }
    };
    let Some(source) = metric.get(source_key).filter(|v| !v.is_null()) else {
        errs.push(FieldError::required(
            format!("{p}.{source_key}"),
            "must populate information for the given metric source",
        ));
        return;
    };
    let sp = format!("{p}.{source_key}");
    match source_key {
        "resource" | "containerResource" => {
            if str_of(source, "name").is_empty() {
                errs.push(FieldError::required(
                    format!("{sp}.name"),
                    "must specify a resource name",
                ));
            }
            if source_key == "containerResource" && str_of(source, "container").is_empty() {
                errs.push(FieldError::required(
                    format!("{sp}.container"),
                    "must specify a container",
                ));
            }
        }
        _ => {
            if str_of(&source["metric"], "name").is_empty() {
                errs.push(FieldError::required(
                    format!("{sp}.metric.name"),
                    "must specify a metric name",
                ));
            }
        }
    }
    let target = &source["target"];
    let tp = format!("{sp}.target");
    match str_of(target, "type") {
        "" => errs.push(FieldError::required(
            format!("{tp}.type"),
            "must specify a metric target type",
        )),
        "Utilization" | "Value" | "AverageValue" => {}
        other => errs.push(FieldError::invalid(
            format!("{tp}.type"),
            Value::from(other),
            "must be either Utilization, Value, or AverageValue",
        )),
    }
    for key in ["value", "averageValue"] {
        if let Some(q) = target.get(key).filter(|v| !v.is_null()) {
            if quantity_value(q)
                .map(|v| v <= Quantity::default())
                .unwrap_or(true)
            {
                errs.push(FieldError::invalid(
                    format!("{tp}.{key}"),
                    q.clone(),
                    "must be positive",
                ));
            }
        }
    }
    if let Some(u) = int_of(target, "averageUtilization").filter(|u| *u < 1) {
        errs.push(FieldError::invalid(
            format!("{tp}.averageUtilization"),
            Value::from(u),
            "must be greater than 0",
        ));
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` (v1: minReplicas; v2: also the
/// default CPU metric and, when `behavior` is given, its missing rules).
fn default_hpa(hpa: &mut Obj, version: &str) {
    let Some(spec) = child(hpa, "spec") else {
        return;
    };
    default_value(spec, "minReplicas", json!(1));
    if version != "v2" {
        return;
    }
    if !non_empty(spec, "metrics") {
        spec.insert(
            "metrics".into(),
            json!([{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
            }]),
        );
    }
    if let Some(behavior) = existing(spec, "behavior") {
        if let Some(up) = child(behavior, "scaleUp") {
            default_value(up, "stabilizationWindowSeconds", json!(0));
            default_value(up, "selectPolicy", json!("Max"));
            default_value(
                up,
                "policies",
                json!([
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]),
            );
        }
        if let Some(down) = child(behavior, "scaleDown") {
            default_value(down, "selectPolicy", json!("Max"));
            default_value(
                down,
                "policies",
                json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
        }
    }
}

const HPA_COLUMNS: &[Column] = &[
    NAME,
    string("Reference", "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
    string("Targets", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization."),
    string("MinPods", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available."),
    string("MaxPods", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas."),
    string("Replicas", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
    AGE,
];

fn hpa_cells(hpa: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text(hpa, "/spec/scaleTargetRef/kind"),
        text(hpa, "/spec/scaleTargetRef/name")
    );
    let min_pods = match hpa.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(n) => n.to_string(),
        None => "<unset>".into(),
    };
    vec![
        name_cell(hpa),
        reference.into(),
        hpa_targets(hpa).into(),
        min_pods.into(),
        json!(int(hpa, "/spec/maxReplicas")),
        json!(int(hpa, "/status/currentReplicas")),
        age_cell(hpa, now),
    ]
}

/// TARGETS: `cpu: 40%/80%` per metric (current/target), at most two, then `+ N more...`.
fn hpa_targets(hpa: &Value) -> String {
    const MAX: usize = 2;
    // autoscaling/v1 objects carry a single CPU utilization target.
    if text(hpa, "/apiVersion") == "autoscaling/v1" {
        return match hpa
            .pointer("/spec/targetCPUUtilizationPercentage")
            .and_then(Value::as_i64)
        {
            None => "<none>".into(),
            Some(target) => {
                let current = match hpa
                    .pointer("/status/currentCPUUtilizationPercentage")
                    .and_then(Value::as_i64)
                {
                    Some(c) => format!("{c}%"),
                    None => "<unknown>".into(),
                };
                format!("cpu: {current}/{target}%")
            }
        };
    }
    let specs = items_at(hpa, "/spec/metrics");
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = items_at(hpa, "/status/currentMetrics");
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| hpa_metric(spec, statuses.get(i)))
        .collect();
    let shown = list
        .iter()
        .take(MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > MAX {
        format!("{shown} + {} more...", list.len() - MAX)
    } else {
        shown
    }
}

fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    // The status entry at the same index, if it is of the same source type.
    let current = |source: &str, field: &str| -> Option<String> {
        let value = status?.get(source).filter(|v| !v.is_null())?;
        quantity_at(value, &format!("/current/{field}"))
    };
    let has_status = |source: &str| {
        status
            .and_then(|s| s.get(source))
            .is_some_and(|v| !v.is_null())
    };
    let unknown = || "<unknown>".to_string();
    let nil = || "<nil>".to_string();
    match text(spec, "/type") {
        source_type @ ("External" | "Object") => {
            let source = if source_type == "External" {
                "external"
            } else {
                "object"
            };
            let target = |field: &str| quantity_at(spec, &format!("/{source}/target/{field}"));
            if let Some(average) = target("averageValue") {
                let now = current(source, "averageValue").unwrap_or_else(unknown);
                format!("{now}/{average} (avg)")
            } else {
                let now = if has_status(source) {
                    current(source, "value").unwrap_or_else(nil)
                } else {
                    unknown()
                };
                format!("{now}/{}", target("value").unwrap_or_else(nil))
            }
        }
        "Pods" => {
            let now = if has_status("pods") {
                current("pods", "averageValue").unwrap_or_else(nil)
            } else {
                unknown()
            };
            let target = quantity_at(spec, "/pods/target/averageValue").unwrap_or_else(nil);
            format!("{now}/{target}")
        }
        source_type @ ("Resource" | "ContainerResource") => {
            let source = if source_type == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let resource = text(spec, &format!("/{source}/name"));
            if let Some(average) = quantity_at(spec, &format!("/{source}/target/averageValue")) {
                let now = if has_status(source) {
                    current(source, "averageValue").unwrap_or_else(nil)
                } else {
                    unknown()
                };
                format!("{resource}: {now}/{average}")
            } else {
                let utilization = |v: Option<&Value>, pointer: &str| {
                    v.and_then(|v| v.pointer(pointer))
                        .and_then(Value::as_i64)
                        .map(|n| format!("{n}%"))
                };
                let now = utilization(status, &format!("/{source}/current/averageUtilization"))
                    .unwrap_or_else(unknown);
                let target =
                    utilization(Some(spec), &format!("/{source}/target/averageUtilization"))
                        .unwrap_or_else(|| "<auto>".into());
                format!("{resource}: {now}/{target}")
            }
        }
        _ => "<unknown type>".into(),
    }
}
