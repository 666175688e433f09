//! Deployment (apps/v1): declarative rollouts of ReplicaSets.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::apps::v1 as apps;

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
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj.pointer("/spec/template").unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(template, "spec.template")
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::Deployment>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::apps::v1::Deployment>(g))
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

fn validate_deployment(obj: &Value, errs: &mut Errs) {
    let Some(d) = typed::<apps::Deployment>(obj, errs) else {
        return;
    };
    let spec = d.spec.unwrap_or_default();
    non_negative(spec.replicas, "spec.replicas", errs);
    let selector = is_present(obj, "/spec/selector").then_some(&spec.selector);
    let selector = validate_workload_selector(selector, "deployment", errs);
    validate_replica_template(&spec.template, selector.as_ref(), "ReplicaSet", errs);
    validate_deployment_strategy(spec.strategy.as_ref(), errs);
    non_negative(spec.min_ready_seconds, "spec.minReadySeconds", errs);
    non_negative(
        spec.revision_history_limit,
        "spec.revisionHistoryLimit",
        errs,
    );
    if let Some(pds) = spec.progress_deadline_seconds {
        non_negative(Some(pds), "spec.progressDeadlineSeconds", errs);
        if pds <= spec.min_ready_seconds.unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                Value::from(pds),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// `ValidateDeploymentStrategy`.
fn validate_deployment_strategy(strategy: Option<&apps::DeploymentStrategy>, errs: &mut Errs) {
    let ru = strategy.and_then(|s| s.rolling_update.as_ref());
    match strategy.and_then(|s| s.type_.as_deref()).unwrap_or("") {
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
                let (max_unavailable, max_surge) =
                    (ru.max_unavailable.as_ref(), ru.max_surge.as_ref());
                validate_int_or_percent(
                    max_unavailable,
                    &format!("{p}.maxUnavailable"),
                    false,
                    errs,
                );
                validate_int_or_percent(max_surge, &format!("{p}.maxSurge"), false, errs);
                let unavailable = max_unavailable.map(int_or_percent).unwrap_or(0);
                let surge = max_surge.map(int_or_percent).unwrap_or(0);
                if unavailable == 0 && surge == 0 {
                    let shown = max_unavailable
                        .map(int_or_string_text)
                        .unwrap_or_else(|| "0".into());
                    errs.push(invalid_shown(
                        format!("{p}.maxUnavailable"),
                        &shown,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(v @ IntOrString::String(s)) = max_unavailable {
                    if int_or_percent(v) > 100 {
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
            json_of(&strategy),
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
