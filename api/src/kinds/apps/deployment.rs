//! Deployment (apps/v1): declarative rollouts of ReplicaSets.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

/// The Deployment strategy.
pub struct Deployment;

/// `deployments` in apps/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apps",
    "v1",
    "Deployment",
    "deployments",
    "deployment",
    &Deployment,
)
.short_names(&["deploy"])
.categories(&["all"])
.subresources(&["status", "scale"]);

impl Strategy for Deployment {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::Deployment>(obj))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn annotations_follow_spec(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_deployment(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_deployment(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        immutable_spec_selector(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        DEPLOYMENT_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        deployment_cells(obj, now)
    }
}

fn validate_deployment(d: &Value, errs: &mut Errs) {
    let spec = &d["spec"];
    non_negative(spec, "replicas", "spec", errs);
    let selector = validate_workload_selector(spec, "deployment", errs);
    validate_replica_template(spec, selector.as_ref(), "ReplicaSet", errs);
    validate_deployment_strategy(&spec["strategy"], errs);
    non_negative(spec, "minReadySeconds", "spec", errs);
    non_negative(spec, "revisionHistoryLimit", "spec", errs);
    if let Some(pds) = int_of(spec, "progressDeadlineSeconds") {
        non_negative(spec, "progressDeadlineSeconds", "spec", errs);
        if pds <= int_of(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                Value::from(pds),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// `ValidateDeploymentStrategy`.
fn validate_deployment_strategy(strategy: &Value, errs: &mut Errs) {
    let ru = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match str_of(strategy, "type") {
        "Recreate" => {
            if ru.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match ru {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = "spec.strategy.rollingUpdate";
                validate_int_or_percent(
                    ru.get("maxUnavailable"),
                    &format!("{p}.maxUnavailable"),
                    false,
                    errs,
                );
                validate_int_or_percent(ru.get("maxSurge"), &format!("{p}.maxSurge"), false, errs);
                let unavailable = ru.get("maxUnavailable").map(int_or_percent).unwrap_or(0);
                let surge = ru.get("maxSurge").map(int_or_percent).unwrap_or(0);
                if unavailable == 0 && surge == 0 {
                    let shown = ru
                        .get("maxUnavailable")
                        .map(int_or_string_text)
                        .unwrap_or_else(|| "0".into());
                    errs.push(invalid_shown(
                        format!("{p}.maxUnavailable"),
                        &shown,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(Value::String(s)) = ru.get("maxUnavailable") {
                    if int_or_percent(&Value::from(s.as_str())) > 100 {
                        errs.push(invalid_shown(
                            format!("{p}.maxUnavailable"),
                            s,
                            "must not be greater than 100%",
                        ));
                    }
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            "spec.strategy",
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// `SetDefaults_Deployment`.
fn default_deployment(d: &mut Obj) {
    let Some(spec) = child(d, "spec") else {
        return;
    };
    default_value(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        default_value(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == Some("RollingUpdate") {
            if let Some(ru) = child(strategy, "rollingUpdate") {
                default_value(ru, "maxUnavailable", json!("25%"));
                default_value(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default_value(spec, "revisionHistoryLimit", json!(10));
    default_value(spec, "progressDeadlineSeconds", json!(600));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
}

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    string("Ready", "Number of the pod with ready state"),
    string("Up-to-date", "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
    string("Available", "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels."),
];

fn deployment_cells(deploy: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(deploy, "/spec/template/spec/containers");
    let selector =
        label_selector(deploy.pointer("/spec/selector")).unwrap_or_else(|| "<invalid>".into());
    vec![
        name_cell(deploy),
        format!(
            "{}/{}",
            int(deploy, "/status/readyReplicas"),
            desired_replicas(deploy)
        )
        .into(),
        json!(int(deploy, "/status/updatedReplicas")),
        json!(int(deploy, "/status/availableReplicas")),
        age_cell(deploy, now),
        names.into(),
        images.into(),
        selector.into(),
    ]
}
