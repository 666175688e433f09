//! Job (batch/v1): pods that run to completion.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::batch::v1 as batch;

/// The Job strategy.
pub struct Job;

/// `jobs` in batch/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new("batch", "v1", "Job", "jobs", "job", &Job)
    .categories(&["all"])
    .subresources(&["status"]);

impl Strategy for Job {
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj.pointer("/spec/template").unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(template, "spec.template")
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["status.successful"]
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::batch::v1::Job>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::batch::v1::Job>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_job(obj)
    }
    fn prepare_create(&self, obj: &mut Value, uid: &str) {
        default_job_selector(obj, uid)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_job(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_job_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        JOB_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        job_cells(obj, now)
    }
}

fn validate_job(obj: &Value, errs: &mut Errs) {
    let Some(job) = typed::<batch::Job>(obj, errs) else {
        return;
    };
    let spec = job.spec.unwrap_or_default();
    let manual = spec.manual_selector == Some(true);
    let selector = spec.selector.as_ref();
    let uid = opt_str(&job.metadata.uid);
    let labels = template_labels(&spec.template);
    // validateGeneratedSelector: only once the server has generated it.
    if !manual && selector.is_some() && !uid.is_empty() {
        let name = opt_str(&job.metadata.name);
        let mut expected = Map::new();
        for (key, want) in [
            (LEGACY_CONTROLLER_UID_LABEL, uid),
            (LEGACY_JOB_NAME_LABEL, name),
            (CONTROLLER_UID_LABEL, uid),
            (JOB_NAME_LABEL, name),
        ] {
            expected.insert(key.to_string(), Value::from(want));
            let p = format!("spec.template.metadata.labels[{key}]");
            match labels
                .as_ref()
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
            {
                None => errs.push(FieldError::required(p, format!("must be '{want}'"))),
                Some(v) if v != want => errs.push(invalid_shown(
                    p,
                    &go_string_map(labels.as_ref()),
                    &format!("must be '{want}'"),
                )),
                _ => {}
            }
        }
        let sel = json_of(&selector);
        if let Ok(parsed) = LabelSelector::from_json(&sel) {
            if !parsed.matches(&expected) {
                errs.push(invalid_shown(
                    "spec.selector",
                    &go_label_selector(&sel),
                    "`selector` not auto-generated",
                ));
            }
        }
    }
    validate_job_spec_common(&spec, "spec", errs);
    match selector {
        // Without a manual selector the server generates one at create time.
        None if manual => errs.push(FieldError::required("spec.selector", "")),
        None => {}
        Some(sel) => {
            let sel = json_of(sel);
            errs.extend(selectors::validate_label_selector(&sel, "spec.selector"));
            if let Ok(parsed) = LabelSelector::from_json(&sel) {
                let empty = Map::new();
                let labels_map = labels.as_ref().and_then(Value::as_object).unwrap_or(&empty);
                if !parsed.matches(labels_map) {
                    errs.push(invalid_shown(
                        "spec.template.metadata.labels",
                        &go_string_map(labels.as_ref()),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
}

/// `ValidateJobSpecUpdate`: completions, selector, completion mode and the
/// pod template are fixed; a suspended Job that never started may still
/// change its template's labels, annotations and scheduling directives.
fn validate_job_update(new: &Value, old: &Value, errs: &mut Errs) {
    let (Some(new), Some(old)) = (
        typed::<batch::Job>(new, errs),
        typed::<batch::Job>(old, errs),
    ) else {
        return;
    };
    let (ns, os) = (new.spec.unwrap_or_default(), old.spec.unwrap_or_default());
    immutable(&ns.completions, &os.completions, "spec.completions", errs);
    immutable_selector(
        ns.selector.as_ref(),
        os.selector.as_ref(),
        "spec.selector",
        errs,
    );
    let mut old_template = os.template.clone();
    let started = old.status.and_then(|s| s.start_time).is_some();
    if os.suspend == Some(true) && !started {
        let new_meta = ns.template.metadata.clone().unwrap_or_default();
        if let Some(m) = &mut old_template.metadata {
            m.labels = new_meta.labels;
            m.annotations = new_meta.annotations;
        }
        let new_spec = ns.template.spec.clone().unwrap_or_default();
        if let Some(s) = &mut old_template.spec {
            s.node_selector = new_spec.node_selector;
            s.tolerations = new_spec.tolerations;
            s.affinity = new_spec.affinity;
            s.scheduling_gates = new_spec.scheduling_gates;
        }
    }
    immutable(&ns.template, &old_template, "spec.template", errs);
    immutable(
        &ns.completion_mode,
        &os.completion_mode,
        "spec.completionMode",
        errs,
    );
    immutable(
        &ns.pod_failure_policy,
        &os.pod_failure_policy,
        "spec.podFailurePolicy",
        errs,
    );
}

/// `SetDefaults_Job`. The generated selector needs the uid: see
/// [`default_job_selector`].
fn default_job(job: &mut Obj) {
    let Some(spec) = child(job, "spec") else {
        return;
    };
    default_job_spec(spec);
    copy_template_labels_to_job(job);
}

/// A Job without labels of its own takes its pod template's labels.
fn copy_template_labels_to_job(job: &mut Obj) {
    let template_labels = job
        .get("spec")
        .and_then(|s| s.pointer("/template/metadata/labels"))
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned();
    let Some(template_labels) = template_labels else {
        return;
    };
    let Some(meta) = child(job, "metadata") else {
        return;
    };
    let has_labels = meta
        .get("labels")
        .and_then(Value::as_object)
        .is_some_and(|l| !l.is_empty());
    if !has_labels {
        meta.insert("labels".into(), Value::Object(template_labels));
    }
}

/// The Job strategy's selector generation, run by the server at create time
/// once `metadata.uid` is known (unless `spec.manualSelector` is true): pod
/// template labels `batch.kubernetes.io/controller-uid`, `controller-uid`,
/// `batch.kubernetes.io/job-name`, `job-name`, and a selector on
/// `batch.kubernetes.io/controller-uid`. Labels the user set are kept (a
/// conflict then fails validation, as in Kubernetes).
pub fn default_job_selector(obj: &mut Value, uid: &str) {
    let Some(job) = obj.as_object_mut() else {
        return;
    };
    let name = job
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = child(job, "spec") else {
        return;
    };
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if let Some(labels) = child(spec, "template")
        .and_then(|t| child(t, "metadata"))
        .and_then(|m| child(m, "labels"))
    {
        for (k, v) in [
            (CONTROLLER_UID_LABEL, uid),
            (JOB_NAME_LABEL, name.as_str()),
            (LEGACY_CONTROLLER_UID_LABEL, uid),
            (LEGACY_JOB_NAME_LABEL, name.as_str()),
        ] {
            labels.entry(k).or_insert_with(|| json!(v));
        }
    }
    if let Some(match_labels) = child(spec, "selector").and_then(|s| child(s, "matchLabels")) {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| json!(uid));
    }
    copy_template_labels_to_job(job);
}

const JOB_COLUMNS: &[Column] = &[
    NAME,
    string("Status", "Status of the job."),
    string("Completions", "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
    string("Duration", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", JOB_SELECTOR_DESC),
];

fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match int(job, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        timestamp(job, "/status/startTime"),
        timestamp(job, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => duration_between(start, now),
        (Some(start), Some(end)) => duration_between(start, end),
    };
    let (names, images) = container_cells(job, "/spec/template/spec/containers");
    vec![
        name_cell(job),
        job_status(job).into(),
        completions.into(),
        duration.into(),
        age_cell(job, now),
        names.into(),
        images.into(),
        format_label_selector(job.pointer("/spec/selector")).into(),
    ]
}

fn job_status(job: &Value) -> &'static str {
    let condition = |type_: &str| {
        items_at(job, "/status/conditions")
            .iter()
            .find(|c| text(c, "/type") == type_)
            .is_some_and(|c| text(c, "/status") == "True")
    };
    if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if present(job, "/metadata/deletionTimestamp") {
        "Terminating"
    } else if condition("Suspended") {
        "Suspended"
    } else if condition("FailureTarget") {
        "FailureTarget"
    } else if condition("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}
