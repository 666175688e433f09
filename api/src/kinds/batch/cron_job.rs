//! CronJob (batch/v1): Jobs on a schedule.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::batch::v1 as batch;

/// The CronJob strategy.
pub struct CronJob;

/// `cronjobs` in batch/v1.
pub const RESOURCE: ResourceInfo =
    ResourceInfo::new("batch", "v1", "CronJob", "cronjobs", "cronjob", &CronJob)
        .short_names(&["cj"])
        .categories(&["all"])
        .subresources(&["status"]);

impl Strategy for CronJob {
    fn warnings_on_create(&self, obj: &Value) -> Vec<String> {
        let template = obj
            .pointer("/spec/jobTemplate/spec/template")
            .unwrap_or(&Value::Null);
        crate::kinds::core::pod_warnings::template_warnings(
            template,
            "spec.jobTemplate.spec.template",
        )
    }
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::batch::v1::CronJob>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::batch::v1::CronJob>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_cron_job(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_cron_job(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        CRONJOB_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        cronjob_cells(obj, now)
    }
}

/// A five-field cron schedule or a `@` descriptor, as `cron.ParseStandard`.
fn cron_errors(schedule: &str) -> Option<String> {
    if schedule.contains("TZ") {
        return Some("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(desc) = schedule.strip_prefix('@') {
        return match desc {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            d if d.starts_with("every ") => None,
            _ => Some(format!("unrecognized descriptor: {schedule}")),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let bounds: [(i64, i64, &[&str]); 5] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, &MONTHS),
        (0, 6, &DAYS),
    ];
    for (field, (min, max, names)) in fields.iter().zip(bounds) {
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step {
                if step.parse::<u32>().is_err() {
                    return Some(format!("failed to parse int from {step}: strconv.Atoi: parsing \"{step}\": invalid syntax"));
                }
            }
            if range == "*" || range == "?" {
                continue;
            }
            let value = |s: &str| -> Result<i64, String> {
                let lower = s.to_ascii_lowercase();
                if let Some(i) = names.iter().position(|n| *n == lower) {
                    return Ok(i as i64 + if min == 1 { 1 } else { 0 });
                }
                s.parse::<i64>()
                    .map_err(|_| format!("failed to parse int from {s}: strconv.Atoi: parsing \"{s}\": invalid syntax"))
            };
            let (lo, hi) = match range.split_once('-') {
                Some((a, b)) => (value(a), value(b)),
                None => (value(range), value(range)),
            };
            let (lo, hi) = match (lo, hi) {
                (Ok(l), Ok(h)) => (l, h),
                (Err(e), _) | (_, Err(e)) => return Some(e),
            };
            if lo < min {
                return Some(format!(
                    "beginning of range ({lo}) below minimum ({min}): {part}"
                ));
            }
            if hi > max {
                return Some(format!("end of range ({hi}) above maximum ({max}): {part}"));
            }
            if lo > hi {
                return Some(format!(
                    "beginning of range ({lo}) beyond end of range ({hi}): {part}"
                ));
            }
        }
    }
    None
}

fn validate_cron_job(obj: &Value, errs: &mut Errs) {
    let Some(cj) = typed::<batch::CronJob>(obj, errs) else {
        return;
    };
    let name = opt_str(&cj.metadata.name);
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            Value::from(name),
            "must be no more than 52 characters",
        ));
    }
    let spec = cj.spec.unwrap_or_default();
    let schedule = spec.schedule.as_str();
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else if let Some(msg) = cron_errors(schedule) {
        errs.push(FieldError::invalid(
            "spec.schedule",
            Value::from(schedule),
            msg,
        ));
    }
    non_negative(
        spec.starting_deadline_seconds,
        "spec.startingDeadlineSeconds",
        errs,
    );
    match opt_str(&spec.concurrency_policy) {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            Value::from(other),
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let job_template = &spec.job_template;
    if let Some(labels) = job_template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
    {
        errs.extend(names::validate_labels(
            &json_of(labels),
            "spec.jobTemplate.metadata.labels",
        ));
    }
    let job_spec = job_template.spec.clone().unwrap_or_default();
    validate_job_spec_common(&job_spec, "spec.jobTemplate.spec", errs);
    if let Some(sel) = &job_spec.selector {
        errs.push(invalid_shown(
            "spec.jobTemplate.spec.selector",
            &go_label_selector(&json_of(sel)),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            Value::from(true),
            &["nil", "false"],
        ));
    }
    non_negative(
        spec.successful_jobs_history_limit,
        "spec.successfulJobsHistoryLimit",
        errs,
    );
    non_negative(
        spec.failed_jobs_history_limit,
        "spec.failedJobsHistoryLimit",
        errs,
    );
}

/// `SetDefaults_CronJob`; the job template's pod spec is defaulted like a
/// Job's (no restart policy), its JobSpec is not (as in Kubernetes).
fn default_cron_job(cj: &mut Obj) {
    let Some(spec) = child(cj, "spec") else {
        return;
    };
    default_value(spec, "concurrencyPolicy", json!("Allow"));
    default_value(spec, "suspend", json!(false));
    default_value(spec, "successfulJobsHistoryLimit", json!(3));
    default_value(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(t) = child(spec, "jobTemplate")
        .and_then(|jt| child(jt, "spec"))
        .and_then(|js| child(js, "template"))
    {
        default_pod_template(t, false);
    }
}

const CRONJOB_COLUMNS: &[Column] = &[
    NAME,
    string("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    string("Timezone", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
    col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    string("Last Schedule", "Information when was the last time the job was successfully scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", JOB_SELECTOR_DESC),
];

fn cronjob_cells(cj: &Value, now: Timestamp) -> Vec<Value> {
    let suspend = match cj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last_schedule = match text(cj, "/status/lastScheduleTime") {
        "" => "<none>".to_string(),
        t => since(t, now),
    };
    let (names, images) = container_cells(cj, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        name_cell(cj),
        text(cj, "/spec/schedule").into(),
        or_none(text(cj, "/spec/timeZone")).into(),
        suspend.into(),
        json!(len(cj, "/status/active")),
        last_schedule.into(),
        age_cell(cj, now),
        names.into(),
        images.into(),
        format_label_selector(cj.pointer("/spec/jobTemplate/spec/selector")).into(),
    ]
}
