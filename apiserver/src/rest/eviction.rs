//! `pods/<name>/eviction`: a delete that respects PodDisruptionBudgets, as
//! `kubectl drain` uses it (kube-apiserver's `EvictionREST`).
//!
//! The POSTed `Eviction` (policy/v1 or v1beta1) names the pod. A pod that
//! is not running (Pending, Succeeded, Failed) or already being deleted is
//! deleted at once: evicting it disrupts nothing. Otherwise the one PDB
//! whose selector matches the pod decides: with budget left
//! (`status.disruptionsAllowed` > 0) the budget is decremented and the pod
//! recorded in `status.disruptedPods` in one write — so two concurrent
//! evictions cannot both spend the last disruption — then the pod gets the
//! `DisruptionTarget` condition and is deleted gracefully. Without budget
//! the answer is 429 TooManyRequests, which `kubectl drain` retries. A pod
//! that is not Ready does not count as healthy, so evicting it spends
//! nothing when the budget is met anyway (`IfHealthyBudget`, the default)
//! or always (`unhealthyPodEvictionPolicy: AlwaysAllow`). More than one
//! matching PDB is a 500, as in Kubernetes.
//!
//! Where minik simplifies: kube-apiserver retries a conflicting budget
//! update up to 20 times; here the budget is checked and decremented
//! inside the single writer, so there is nothing to retry.

use axum::response::Response;
use http::StatusCode;
use minik_api::kinds::policy::pod_disruption_budget::RESOURCE as PDBS;
use minik_api::meta;
use minik_api::selectors::LabelSelector;
use serde_json::{json, Value};

use super::{json_response, Ctx};
use crate::commit::Outcome;
use crate::error::ApiError;
use crate::registry::DeleteOptions;

/// Most entries `status.disruptedPods` may hold before evictions are
/// refused (the disruption controller has fallen behind).
const MAX_DISRUPTED_PODS: usize = 2000;

/// The body's kind: not a stored kind, the subresource's request type.
const EVICTION: &str = "Eviction";

pub async fn evict(ctx: Ctx) -> Result<Response, ApiError> {
    let body = ctx.body_object()?;
    if let Some(api_version) = body.get("apiVersion").and_then(Value::as_str) {
        if !matches!(api_version, "policy/v1" | "policy/v1beta1") {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version (policy/v1)"
            )));
        }
    }
    // A body without `kind` is taken as an Eviction, as the endpoint's
    // type is known (kube's client sends none).
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if kind != EVICTION {
            return Err(ApiError::bad_request(format!(
                "not a Eviction object: {kind}"
            )));
        }
    }
    if meta::name(&body) != ctx.target.name() {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let delete_options = body.get("deleteOptions").filter(|v| !v.is_null());
    let mut opts = DeleteOptions::from_request(delete_options, &ctx.params)?;
    let dry_run = ctx.params.dry_run()
        || delete_options
            .and_then(|o| o.get("dryRun"))
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().any(|s| s == "All"));

    let info = ctx.info();
    let pod = ctx
        .read(&ctx.target.key())?
        .ok_or_else(|| ApiError::not_found(info, ctx.target.name()))?;
    if can_ignore_budget(&pod) {
        return delete(&ctx, opts, dry_run).await;
    }
    let namespace = ctx.target.namespace.clone().unwrap_or_default();
    let mut budgets = matching_budgets(&ctx, &namespace, &pod)?;
    if budgets.len() > 1 {
        return Ok(json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                    "code": 500}),
        ));
    }
    let Some(budget) = budgets.pop() else {
        return delete(&ctx, opts, dry_run).await;
    };
    let status = &budget["status"];
    let int = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
    let unhealthy_may_go = match budget
        .pointer("/spec/unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
    {
        Some("AlwaysAllow") => true,
        // IfHealthyBudget: only while the budget is met without this pod.
        _ => int("currentHealthy") >= int("desiredHealthy") && int("desiredHealthy") > 0,
    };
    if !is_ready(&pod) && unhealthy_may_go {
        // The pod must still be the one judged unready.
        if opts.precondition_resource_version.is_none() {
            opts.precondition_resource_version =
                meta::meta_str(&pod, "resourceVersion").map(str::to_string);
        }
        return delete(&ctx, opts, dry_run).await;
    }
    spend_budget(
        &ctx,
        &namespace,
        meta::name(&budget),
        ctx.target.name(),
        dry_run,
    )
    .await?;
    delete(&ctx, opts, dry_run).await
}

/// Pods whose eviction disrupts nothing: not running, or already going.
fn can_ignore_budget(pod: &Value) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    matches!(phase, Some("Pending" | "Succeeded" | "Failed") | None)
        || pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The namespace's PDBs whose selector matches the pod. A PDB with an
/// empty (or no, or invalid) selector matches nothing.
fn matching_budgets(ctx: &Ctx, namespace: &str, pod: &Value) -> Result<Vec<Value>, ApiError> {
    let labels = meta::labels(pod);
    let mut found = Vec::new();
    let mut failed = None;
    ctx.state.store.scan(
        &format!("{}{namespace}/", PDBS.key_prefix()),
        None,
        &mut |key, bytes| {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(pdb) => {
                    let selects = pdb
                        .pointer("/spec/selector")
                        .filter(|s| !s.is_null())
                        .and_then(|s| LabelSelector::from_json(s).ok())
                        .is_some_and(|s| !s.is_empty() && s.matches(&labels));
                    if selects {
                        found.push(pdb);
                    }
                }
                Err(e) => failed = Some(format!("corrupt object at {key}: {e}")),
            }
            true
        },
    )?;
    match failed {
        Some(message) => Err(ApiError::internal(message)),
        None => Ok(found),
    }
}

/// Checks the budget and spends one disruption on `pod`, in one write.
async fn spend_budget(
    ctx: &Ctx,
    namespace: &str,
    budget: &str,
    pod: &str,
    dry_run: bool,
) -> Result<(), ApiError> {
    let key = PDBS.key(Some(namespace), budget);
    let (budget, pod) = (budget.to_string(), pod.to_string());
    let check = move |current: Option<Value>| -> Result<Outcome, ApiError> {
        let mut pdb = current.ok_or_else(|| ApiError::not_found(&PDBS, &budget))?;
        let status = &pdb["status"];
        let int = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
        let generation = pdb
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if int("observedGeneration") < generation {
            return Err(budget_error(
                10,
                format!("The disruption budget {budget} is still being processed by the server."),
            ));
        }
        let allowed = int("disruptionsAllowed");
        let forbidden = |why: &str| {
            ApiError::forbidden(format!(
                "poddisruptionbudgets.policy \"{budget}\" is forbidden: {why}"
            ))
        };
        if allowed < 0 {
            return Err(forbidden("pdb disruptions allowed is negative"));
        }
        let disrupted = status
            .get("disruptedPods")
            .and_then(Value::as_object)
            .map_or(0, |m| m.len());
        if disrupted > MAX_DISRUPTED_PODS {
            return Err(forbidden(
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            ));
        }
        if allowed == 0 {
            return Err(budget_error(
                0,
                format!(
                    "The disruption budget {budget} needs {} healthy pods and has {} currently",
                    int("desiredHealthy"),
                    int("currentHealthy")
                ),
            ));
        }
        if dry_run {
            return Ok(Outcome::Unchanged(pdb));
        }
        let status = pdb["status"]
            .as_object_mut()
            .expect("a budget with disruptions allowed has a status");
        status.insert("disruptionsAllowed".into(), json!(allowed - 1));
        let disrupted = status.entry("disruptedPods").or_insert_with(|| json!({}));
        if !disrupted.is_object() {
            *disrupted = json!({});
        }
        disrupted[&pod] = json!(meta::now_rfc3339());
        if allowed - 1 == 0 {
            set_disruption_allowed_false(status);
        }
        Ok(Outcome::Put(pdb))
    };
    ctx.state.writer.mutate(key, Box::new(check)).await?;
    Ok(())
}

/// The `DisruptionAllowed` condition once the budget is spent
/// (`UpdateDisruptionAllowedCondition`).
fn set_disruption_allowed_false(status: &mut serde_json::Map<String, Value>) {
    let generation = status
        .get("observedGeneration")
        .cloned()
        .unwrap_or(json!(0));
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let fresh = json!({
        "type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
        "message": "", "observedGeneration": generation,
        "lastTransitionTime": meta::now_rfc3339(),
    });
    match list.iter_mut().find(|c| c["type"] == "DisruptionAllowed") {
        Some(c) if c["status"] == "False" => {}
        Some(c) => *c = fresh,
        None => list.push(fresh),
    }
}

/// 429 with a `DisruptionBudget` cause, which `kubectl drain` retries.
fn budget_error(retry_after: u64, cause: String) -> ApiError {
    let mut err = ApiError::new(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    err.details = Some(details);
    err
}

/// Marks the pod with the `DisruptionTarget` condition, then deletes it
/// with the eviction's options; answers as kube-apiserver does (201
/// Success). A dry run (in the query or in the Eviction's deleteOptions)
/// stops before writing: the pod exists and the budget allowed it.
async fn delete(ctx: &Ctx, mut opts: DeleteOptions, dry_run: bool) -> Result<Response, ApiError> {
    if dry_run {
        return Ok(super::created_status());
    }
    let info = ctx.info();
    let name = ctx.target.name().to_string();
    // The condition write moves the resourceVersion on, so a precondition
    // is checked here, not by the delete.
    let precondition = opts.precondition_resource_version.take();
    let pod_name = name.clone();
    ctx.state
        .writer
        .mutate(
            ctx.target.key(),
            Box::new(move |current| {
                let mut pod = current.ok_or_else(|| ApiError::not_found(info, &pod_name))?;
                if let Some(rv) = &precondition {
                    if meta::meta_str(&pod, "resourceVersion") != Some(rv.as_str()) {
                        // Changed since it was judged: let the client try again.
                        return Err(budget_error(
                            10,
                            "The pod changed while its eviction was decided.".into(),
                        ));
                    }
                }
                if pod
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null())
                {
                    return Ok(Outcome::Unchanged(pod));
                }
                super::set_pod_condition(
                    &mut pod,
                    json!({"type": "DisruptionTarget", "status": "True",
                           "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
                           "lastProbeTime": null, "lastTransitionTime": meta::now_rfc3339()}),
                );
                Ok(Outcome::Put(pod))
            }),
        )
        .await?;
    super::delete::delete_key(ctx, ctx.target.key(), name, opts).await?;
    Ok(super::created_status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_not_running_or_going_skip_the_budget() {
        assert!(can_ignore_budget(&json!({"status": {"phase": "Pending"}})));
        assert!(can_ignore_budget(
            &json!({"status": {"phase": "Succeeded"}})
        ));
        assert!(can_ignore_budget(
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}})
        ));
        assert!(!can_ignore_budget(&json!({"status": {"phase": "Running"}})));
    }

    #[test]
    fn spent_budget_condition() {
        let mut status = json!({"observedGeneration": 3, "conditions": [
            {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}]});
        set_disruption_allowed_false(status.as_object_mut().unwrap());
        assert_eq!(status["conditions"][0]["status"], "False");
        assert_eq!(status["conditions"][0]["reason"], "InsufficientPods");
        assert_eq!(status["conditions"][0]["observedGeneration"], 3);
    }
}
