//! StatefulSet (apps/v1): pods with stable names and storage.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;

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
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::apps::v1::StatefulSet>(obj))
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

fn validate_stateful_set(sts: &Value, errs: &mut Errs) {
    let spec = &sts["spec"];
    match str_of(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            Value::from(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = &spec["updateStrategy"];
    match str_of(strategy, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if is_set(strategy, "rollingUpdate") {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    strategy["rollingUpdate"].clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = &strategy["rollingUpdate"];
            non_negative(ru, "partition", "spec.updateStrategy.rollingUpdate", errs);
            if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                validate_int_or_percent(Some(mu), p, true, errs);
                if int_or_percent(mu) == 0 {
                    errs.push(invalid_shown(p, &int_or_string_text(mu), "cannot be 0"));
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            "spec.updateStrategy",
            strategy.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    for key in ["whenDeleted", "whenScaled"] {
        if let Some(v) = spec["persistentVolumeClaimRetentionPolicy"]
            .get(key)
            .and_then(Value::as_str)
        {
            if !matches!(v, "Retain" | "Delete") {
                errs.push(FieldError::not_supported(
                    format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                    Value::from(v),
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    non_negative(spec, "replicas", "spec", errs);
    non_negative(spec, "minReadySeconds", "spec", errs);
    if let Some(start) = spec["ordinals"].get("start").and_then(Value::as_i64) {
        if start < 0 {
            errs.push(FieldError::invalid(
                "spec.ordinals.start",
                Value::from(start),
                NEGATIVE,
            ));
        }
    }
    let selector = validate_workload_selector(spec, "statefulset", errs);
    validate_replica_template(spec, selector.as_ref(), "StatefulSet", errs);
}

/// `ValidateStatefulSetUpdate`: only some of the spec may change.
fn validate_stateful_set_update(new: &Value, old: &Value, errs: &mut Errs) {
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
        "revisionHistoryLimit",
    ];
    let strip = |spec: &Value| {
        let mut s = normalize(spec);
        if let Some(m) = s.as_object_mut() {
            for k in mutable {
                m.remove(k);
            }
        }
        s
    };
    if strip(&new["spec"]) != strip(&old["spec"]) {
        errs.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
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
