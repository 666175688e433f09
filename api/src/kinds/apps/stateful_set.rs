//! StatefulSet (apps/v1): pods with stable names and storage.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::apps::v1 as apps;

/// The StatefulSet strategy.
pub struct StatefulSet;

/// `statefulsets` in apps/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apps",
    "v1",
    "StatefulSet",
    "statefulsets",
    "statefulset",
    &StatefulSet,
)
.short_names(&["sts"])
.categories(&["all"])
.subresources(&["status", "scale"]);

impl Strategy for StatefulSet {
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj.pointer("/spec/template").unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(template, "spec.template")
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::StatefulSet>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::apps::v1::StatefulSet>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_stateful_set(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_stateful_set(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_stateful_set_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        STATEFULSET_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        statefulset_cells(obj, now)
    }
}

fn validate_stateful_set(obj: &Value, errs: &mut Errs) {
    let Some(sts) = typed::<apps::StatefulSet>(obj, errs) else {
        return;
    };
    let spec = sts.spec.unwrap_or_default();
    match opt_str(&spec.pod_management_policy) {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            Value::from(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.update_strategy.as_ref();
    let ru = strategy.and_then(|s| s.rolling_update.as_ref());
    match strategy.map_or("", |s| opt_str(&s.type_)) {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(ru) = ru {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    json_of(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let partition = ru.and_then(|ru| ru.partition);
            non_negative(
                partition,
                "spec.updateStrategy.rollingUpdate.partition",
                errs,
            );
            if let Some(mu) = ru.and_then(|ru| ru.max_unavailable.as_ref()) {
                let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                validate_int_or_percent(Some(mu), p, true, errs);
                if int_or_percent(mu) == 0 {
                    errs.push(invalid_shown(p, &int_or_string_text(mu), "cannot be 0"));
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            "spec.updateStrategy",
            json_of(&strategy),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        for (key, v) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            if let Some(v) = v.as_deref() {
                if !matches!(v, "Retain" | "Delete") {
                    errs.push(FieldError::not_supported(
                        format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                        Value::from(v),
                        &["Retain", "Delete"],
                    ));
                }
            }
        }
    }
    non_negative(spec.replicas, "spec.replicas", errs);
    non_negative(spec.min_ready_seconds, "spec.minReadySeconds", errs);
    non_negative(
        spec.ordinals.as_ref().and_then(|o| o.start),
        "spec.ordinals.start",
        errs,
    );
    let selector = is_present(obj, "/spec/selector").then_some(&spec.selector);
    let selector = validate_workload_selector(selector, "statefulset", errs);
    validate_replica_template(&spec.template, selector.as_ref(), "StatefulSet", errs);
}

/// `ValidateStatefulSetUpdate`: only some of the spec may change.
fn validate_stateful_set_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (Some(new), Some(old)) = (
        typed::<apps::StatefulSet>(new, errs),
        typed::<apps::StatefulSet>(old, errs),
    ) else {
        return;
    };
    // The spec without what may change, absent and empty alike.
    let fixed = |sts: apps::StatefulSet| {
        let spec = apps::StatefulSetSpec {
            replicas: None,
            ordinals: None,
            template: Default::default(),
            update_strategy: None,
            persistent_volume_claim_retention_policy: None,
            min_ready_seconds: None,
            revision_history_limit: None,
            ..sts.spec.unwrap_or_default()
        };
        normalize(&json_of(&spec))
    };
    if fixed(new) != fixed(old) {
        errs.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
}

/// `SetDefaults_StatefulSet`.
fn default_stateful_set(sts: &mut Obj) {
    let Some(spec) = child(sts, "spec") else {
        return;
    };
    default_value(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child(spec, "updateStrategy") {
        if strategy.get("type").is_none_or(|v| v.is_null() || v == "") {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_value(strategy, "rollingUpdate", json!({}));
        }
        if str_at(strategy, "type") == Some("RollingUpdate") {
            if let Some(ru) = existing(strategy, "rollingUpdate") {
                default_value(ru, "partition", json!(0));
            }
        }
    }
    // Always present since StatefulSetAutoDeletePVC (on by default from 1.27).
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        default_value(policy, "whenDeleted", json!("Retain"));
        default_value(policy, "whenScaled", json!("Retain"));
    }
    default_value(spec, "replicas", json!(1));
    default_value(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t, true);
    }
    for claim in each_item(spec, "volumeClaimTemplates") {
        default_persistent_volume_claim(claim);
    }
}

const STATEFULSET_COLUMNS: &[Column] = &[
    NAME,
    string("Ready", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

fn statefulset_cells(sts: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(sts, "/spec/template/spec/containers");
    vec![
        name_cell(sts),
        format!(
            "{}/{}",
            int(sts, "/status/readyReplicas"),
            desired_replicas(sts)
        )
        .into(),
        age_cell(sts, now),
        names.into(),
        images.into(),
    ]
}
