//! CEL validation rules of CRD schemas (`x-kubernetes-validations`),
//! evaluated with the `cel` crate (cel-rust) as kube-apiserver evaluates
//! them: each rule at a schema node sees that node's value as `self` and,
//! on an update, the stored object's value at the same place as `oldSelf`
//! (a *transition rule*, skipped on create and wherever there is no old
//! value). A rule that is false reports its `message` (or
//! `messageExpression`, else `failed rule: <rule>`) as `Invalid value:
//! "<type>"` at the node, or at its `fieldPath`, with its `reason`.
//!
//! minik simplifies: Kubernetes' CEL extension libraries (`quantity()`,
//! `url()`, `ip()`, `isSorted()`, `format()` …) and its cost budget are
//! missing — a rule using one fails to evaluate, which is reported — and
//! values are correlated with `oldSelf` through object fields and maps
//! only (not through `x-kubernetes-list-type: map` lists).

use cel::{Context, Program, Value as CelValue};
use serde_json::Value;

use crate::field_error::{ErrorType, FieldError};

fn rules(schema: &Value) -> &[Value] {
    schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn is_transition(rule: &str) -> bool {
    rule.contains("oldSelf")
}

/// The rule errors a CRD's schema has (rules that do not compile), at `path`.
pub fn check_rules(schema: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for (i, r) in rules(schema).iter().enumerate() {
        let rule = r["rule"].as_str().unwrap_or("");
        let at = format!("{path}.x-kubernetes-validations[{i}].rule");
        if rule.is_empty() {
            errs.push(FieldError::required(at, ""));
            continue;
        }
        if let Err(e) = Program::compile(rule) {
            errs.push(FieldError::invalid(
                at,
                Value::from(rule),
                format!("compilation failed: {}", first_line(&e.to_string())),
            ));
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The type name kube-apiserver shows as the value of a failed rule.
fn type_of(schema: &Value, value: &Value) -> &'static str {
    match schema["type"].as_str() {
        Some("object") => "object",
        Some("array") => "array",
        Some("string") => "string",
        Some("integer") => "integer",
        Some("number") => "number",
        Some("boolean") => "boolean",
        _ => match value {
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
        },
    }
}

/// Evaluates the rules at one node: `old` is the correlated stored value
/// (`None` on create); `transitions` selects transition rules (update) or
/// the others (every write).
fn evaluate(
    schema: &Value,
    value: &Value,
    old: Option<&Value>,
    transitions: bool,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    for r in rules(schema) {
        let rule = r["rule"].as_str().unwrap_or("");
        if rule.is_empty() || is_transition(rule) != transitions {
            continue;
        }
        // `oldSelf` is the stored value for transition rules; other rules never read it.
        let old_self = match (transitions, old) {
            (true, Some(o)) => o,
            (true, None) => continue,
            (false, _) => value,
        };
        let Ok(program) = Program::compile(rule) else {
            continue;
        };
        let mut ctx = Context::default();
        if ctx.add_variable("self", value.clone()).is_err()
            || ctx.add_variable("oldSelf", old_self.clone()).is_err()
        {
            continue;
        }
        let at = match r["fieldPath"].as_str() {
            Some(fp) if !fp.is_empty() => format!("{path}{fp}"),
            _ => path.to_string(),
        };
        let failed = match program.execute(&ctx) {
            Ok(CelValue::Bool(true)) => continue,
            Ok(CelValue::Bool(false)) => message(r, rule, &ctx),
            Ok(other) => format!("rule {rule:?} did not evaluate to a bool: {other:?}"),
            Err(e) => format!("rule evaluation error: {e}"),
        };
        let kind = match r["reason"].as_str() {
            Some("FieldValueRequired") => ErrorType::Required,
            Some("FieldValueForbidden") => ErrorType::Forbidden,
            Some("FieldValueDuplicate") => ErrorType::Duplicate,
            _ => ErrorType::Invalid,
        };
        let shown = match kind {
            ErrorType::Invalid | ErrorType::Duplicate => Some(Value::from(type_of(schema, value))),
            _ => None,
        };
        errs.push(FieldError {
            kind,
            field: at,
            value: shown,
            detail: failed,
        });
    }
}

/// The rule's message: `messageExpression` evaluated, else `message`,
/// else `failed rule: <rule>`.
fn message(r: &Value, rule: &str, ctx: &Context) -> String {
    if let Some(program) = r["messageExpression"]
        .as_str()
        .and_then(|e| Program::compile(e).ok())
    {
        if let Ok(CelValue::String(s)) = program.execute(ctx) {
            return s.to_string();
        }
    }
    match r["message"].as_str() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => format!("failed rule: {rule}"),
    }
}

/// Every rule of `schema` on `obj` (its root is `path`); with `old`, only
/// transition rules, on values that have a stored counterpart.
pub fn validate(
    schema: &Value,
    obj: &Value,
    old: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let transitions = old.is_some();
    if !obj.is_null() {
        evaluate(schema, obj, old, transitions, path, errs);
    }
    let child = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match obj {
        Value::Object(map) => {
            for (key, v) in map {
                let sub = schema
                    .get("properties")
                    .and_then(|p| p.get(key))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                let Some(sub) = sub else { continue };
                let old_v = old.and_then(|o| o.get(key));
                if transitions && old_v.is_none() {
                    continue;
                }
                validate(sub, v, old_v, &child(key), errs);
            }
        }
        Value::Array(items) if !transitions => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(sub, item, None, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.replicas <= self.maxReplicas", "message": "replicas must not exceed maxReplicas"},
                    {"rule": "self.image.startsWith('minik/')", "fieldPath": ".image", "reason": "FieldValueForbidden"},
                    {"rule": "self.replicas >= oldSelf.replicas", "messageExpression": "'cannot scale down from ' + string(oldSelf.replicas)"}
                ],
                "properties": {
                    "replicas": {"type": "integer"},
                    "maxReplicas": {"type": "integer"},
                    "image": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "image is immutable"}]}
                }
            }}
        })
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn rules_on_create_skip_transitions() {
        let mut errs = Vec::new();
        validate(
            &schema(),
            &json!({"spec": {"replicas": 5, "maxReplicas": 3, "image": "nginx"}}),
            None,
            "",
            &mut errs,
        );
        assert_eq!(
            messages(&errs),
            vec![
                "spec: Invalid value: \"object\": replicas must not exceed maxReplicas".to_string(),
                "spec.image: Forbidden: failed rule: self.image.startsWith('minik/')".to_string(),
            ]
        );
    }

    #[test]
    fn transition_rules_see_the_stored_value() {
        let old = json!({"spec": {"replicas": 3, "maxReplicas": 3, "image": "minik/web:v1"}});
        let new = json!({"spec": {"replicas": 2, "maxReplicas": 3, "image": "minik/web:v2"}});
        let mut errs = Vec::new();
        validate(&schema(), &new, Some(&old), "", &mut errs);
        assert_eq!(
            messages(&errs),
            vec![
                "spec: Invalid value: \"object\": cannot scale down from 3".to_string(),
                "spec.image: Invalid value: \"string\": image is immutable".to_string(),
            ]
        );
    }

    #[test]
    fn rules_that_do_not_compile_are_refused() {
        let mut errs = Vec::new();
        check_rules(
            &json!({"x-kubernetes-validations": [{"rule": "self.replicas <="}]}),
            "spec.versions[0].schema.openAPIV3Schema",
            &mut errs,
        );
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .message()
                .contains("compilation failed: ERROR: <input>:1:17: Syntax error"),
            "{}",
            errs[0].message()
        );
    }
}
