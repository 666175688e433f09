//! The deprecated AppArmor annotations on a pod
//! (`container.apparmor.security.beta.kubernetes.io/<container>`), as
//! kube-apiserver treats them since v1.30 (`applyAppArmorVersionSkew` in
//! the pod strategy's PrepareForCreate): on create, a container without an
//! `appArmorProfile` of its own gets the one its annotation names, and the
//! writer is told the annotation is deprecated. The field is what the
//! kubelet reads, so a tutorial's annotated pod meets the same
//! `NotSupported` Event as a pod that sets the field — it is not silently
//! ignored. Validation checks each annotation names a container and a
//! profile, and on create that the annotation agrees with the profile the
//! container ends up with, for pods and workload templates alike.
//! Templates keep their annotations, and are warned about them when
//! created (`pod_warnings`).

use serde_json::{json, Value};

use crate::field_error::FieldError;
use crate::kinds::Errs;

/// The annotation's prefix; the container's name follows it.
pub const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// kube-apiserver's longest `localhostProfile`.
const MAX_LOCALHOST_PROFILE: usize = 4095;

/// What create does for one annotated container without its own profile.
struct Sync {
    /// Where the container is: `initContainers`, `containers` or `ephemeralContainers`.
    list: &'static str,
    index: usize,
    key: String,
    /// The profile to copy, if the annotation names a valid one that the
    /// pod's own profile does not already give.
    copy: Option<Value>,
    /// Whether the writer is warned: a copy, or an annotation that names
    /// no valid profile.
    warn: bool,
}

/// The profile an annotation value names (`ApparmorFieldForAnnotation`),
/// if it is valid (`ValidateAppArmorProfileField`).
fn profile_for(annotation: &str) -> Option<Value> {
    match annotation {
        "unconfined" => Some(json!({"type": "Unconfined"})),
        "runtime/default" => Some(json!({"type": "RuntimeDefault"})),
        _ => {
            let name = annotation.strip_prefix("localhost/")?;
            let valid =
                !name.is_empty() && name.len() <= MAX_LOCALHOST_PROFILE && name.trim() == name;
            valid.then(|| json!({"type": "Localhost", "localhostProfile": name}))
        }
    }
}

/// Every container of `spec` (init, app, ephemeral: kube-apiserver's
/// `VisitContainers` order), with the list it is in and its place there.
fn containers(spec: &Value) -> impl Iterator<Item = (&'static str, usize, &Value)> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |list| {
            let items = spec[list].as_array().into_iter().flatten();
            items.enumerate().map(move |(i, c)| (list, i, c))
        })
}

fn plan(pod: &Value) -> Vec<Sync> {
    let Some(annotations) = pod
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    if pod.pointer("/spec/os/name").and_then(Value::as_str) == Some("windows") {
        return Vec::new();
    }
    let pod_profile = pod.pointer("/spec/securityContext/appArmorProfile");
    let mut out = Vec::new();
    for (list, index, c) in containers(&pod["spec"]) {
        let key = format!("{ANNOTATION_PREFIX}{}", c["name"].as_str().unwrap_or(""));
        let Some(annotation) = annotations.get(&key) else {
            continue;
        };
        if c.pointer("/securityContext/appArmorProfile")
            .is_some_and(|p| !p.is_null())
        {
            continue;
        }
        let profile = profile_for(annotation.as_str().unwrap_or(""));
        let copy = profile.clone().filter(|p| Some(p) != pod_profile);
        out.push(Sync {
            list,
            index,
            key,
            warn: profile.is_none() || copy.is_some(),
            copy,
        });
    }
    out
}

/// Copies each annotated container's profile into its `securityContext`
/// (create only: a pod's containers cannot change afterwards).
pub fn apply_version_skew(pod: &mut Value) {
    for s in plan(pod) {
        if let Some(profile) = s.copy {
            let c = &mut pod["spec"][s.list][s.index];
            if !c["securityContext"].is_object() {
                c["securityContext"] = json!({});
            }
            c["securityContext"]["appArmorProfile"] = profile;
        }
    }
}

/// `ValidateAppArmorPodAnnotations` for a pod or a template (`meta` its
/// metadata, `spec` its spec, `path` where the metadata sits: "" for a
/// pod, `spec.template.` for a template): each annotation names a container
/// of the pod and a profile in the annotation's format.
pub fn validate(meta: &Value, spec: &Value, path: &str, errs: &mut Errs) {
    let Some(annotations) = meta["annotations"].as_object() else {
        return;
    };
    let names: Vec<&str> = containers(spec)
        .filter_map(|(_, _, c)| c["name"].as_str())
        .collect();
    for (key, value) in annotations {
        let Some(container) = key.strip_prefix(ANNOTATION_PREFIX) else {
            continue;
        };
        let at = format!("{path}metadata.annotations[{key}]");
        if !names.contains(&container) {
            errs.push(FieldError::invalid(
                &at,
                json!(container),
                "container not found",
            ));
        }
        let profile = value.as_str().unwrap_or("");
        let known = ["", "runtime/default", "unconfined"].contains(&profile)
            || profile.starts_with("localhost/");
        if !known {
            errs.push(FieldError::invalid(
                &at,
                json!(profile),
                format!("invalid AppArmor profile name: {profile:?}"),
            ));
        }
    }
}

/// kube-apiserver's check on create that each annotated container's
/// effective profile (its own, else the pod's) says what its annotation
/// says (`validateAppArmorAnnotationsAndFieldsMatchOnCreate`); `path` as
/// for [`validate`].
pub fn validate_match(meta: &Value, spec: &Value, path: &str, errs: &mut Errs) {
    let Some(annotations) = meta["annotations"].as_object() else {
        return;
    };
    if spec.pointer("/os/name").and_then(Value::as_str) == Some("windows") {
        return;
    }
    let pod_profile = spec.pointer("/securityContext/appArmorProfile");
    for (list, i, c) in containers(spec) {
        let own = c.pointer("/securityContext/appArmorProfile");
        let Some(profile) = own.or(pod_profile).filter(|p| !p.is_null()) else {
            continue;
        };
        let key = format!("{ANNOTATION_PREFIX}{}", c["name"].as_str().unwrap_or(""));
        let Some(annotation) = annotations.get(&key).and_then(Value::as_str) else {
            continue;
        };
        let at = format!("{path}spec.{list}[{i}].securityContext.appArmorProfile");
        let type_differs = match profile["type"].as_str().unwrap_or("") {
            "Unconfined" => annotation != "unconfined",
            "RuntimeDefault" => annotation != "runtime/default",
            "Localhost" => match annotation.strip_prefix("localhost/") {
                None => true,
                Some(name) => {
                    if profile["localhostProfile"].as_str() != Some(name) {
                        errs.push(FieldError::forbidden(
                            format!("{at}.localhostProfile"),
                            "apparmor profile in annotation and field must match",
                        ));
                    }
                    false
                }
            },
            _ => false,
        };
        if type_differs {
            errs.push(FieldError::forbidden(
                format!("{at}.type"),
                "apparmor type in annotation and field must match",
            ));
        }
    }
}

/// The warnings the copy earns on create, in kube-apiserver's words.
pub fn warnings(pod: &Value) -> Vec<String> {
    plan(pod)
        .into_iter()
        .filter(|s| s.warn)
        .map(|s| deprecated("", &s.key))
        .collect()
}

/// The deprecation warning for annotation `key` of the pod or template
/// whose metadata sits at `at` ("" or `spec.template.`).
pub fn deprecated(at: &str, key: &str) -> String {
    format!(
        r#"{at}metadata.annotations[{key}]: deprecated since v1.30; use the "appArmorProfile" field instead"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(annotations: Value, pod_profile: Option<Value>) -> Value {
        let mut p = json!({
            "metadata": {"name": "p", "annotations": annotations},
            "spec": {"containers": [
                {"name": "a", "image": "x"},
                {"name": "b", "image": "x", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}},
                {"name": "c", "image": "x"},
                {"name": "d", "image": "x"}]}
        });
        if let Some(profile) = pod_profile {
            p["spec"]["securityContext"] = json!({"appArmorProfile": profile});
        }
        p
    }

    #[test]
    fn annotations_become_fields_with_a_warning_as_in_kube_apiserver() {
        let mut p = pod(
            json!({
                format!("{ANNOTATION_PREFIX}a"): "localhost/my-profile",
                format!("{ANNOTATION_PREFIX}b"): "runtime/default",
                format!("{ANNOTATION_PREFIX}c"): "localhost/",
                format!("{ANNOTATION_PREFIX}d"): "unconfined",
            }),
            Some(json!({"type": "Unconfined"})),
        );
        let warned = warnings(&p);
        apply_version_skew(&mut p);
        let containers = &p["spec"]["containers"];
        // a: copied; b: has its own field, untouched; c: an invalid value is
        // not copied but warned about; d: the pod's profile already says it.
        assert_eq!(
            containers[0]["securityContext"]["appArmorProfile"],
            json!({"type": "Localhost", "localhostProfile": "my-profile"})
        );
        assert_eq!(
            containers[1]["securityContext"]["appArmorProfile"],
            json!({"type": "RuntimeDefault"})
        );
        assert!(containers[2].get("securityContext").is_none());
        assert!(containers[3].get("securityContext").is_none());
        assert_eq!(
            warned,
            ["a", "c"].map(|c| format!(
                "metadata.annotations[{ANNOTATION_PREFIX}{c}]: deprecated since v1.30; use the \"appArmorProfile\" field instead"
            ))
        );
    }

    #[test]
    fn annotations_must_name_a_container_and_a_known_format() {
        let p = json!({
            "metadata": {"annotations": {
                format!("{ANNOTATION_PREFIX}a"): "bogus",
                format!("{ANNOTATION_PREFIX}gone"): "runtime/default",
                format!("{ANNOTATION_PREFIX}b"): "",
            }},
            "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "b"}]}
        });
        let mut errs = Errs::new();
        validate(&p["metadata"], &p["spec"], "", &mut errs);
        let text: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(
            text,
            [
                format!("metadata.annotations[{ANNOTATION_PREFIX}a]: Invalid value: \"bogus\": invalid AppArmor profile name: \"bogus\""),
                format!("metadata.annotations[{ANNOTATION_PREFIX}gone]: Invalid value: \"gone\": container not found"),
            ]
        );
    }

    #[test]
    fn annotation_and_field_must_agree_on_create() {
        let p = json!({
            "metadata": {"annotations": {
                format!("{ANNOTATION_PREFIX}a"): "runtime/default",
                format!("{ANNOTATION_PREFIX}b"): "localhost/other",
                format!("{ANNOTATION_PREFIX}c"): "unconfined",
                format!("{ANNOTATION_PREFIX}d"): "runtime/default",
            }},
            "spec": {
                "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
                "containers": [
                    {"name": "a", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
                    {"name": "b", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "mine"}}},
                    {"name": "c"},
                    {"name": "d"}]}
        });
        let mut errs = Errs::new();
        validate_match(&p["metadata"], &p["spec"], "spec.template.", &mut errs);
        let text: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(
            text,
            [
                "spec.template.spec.containers[0].securityContext.appArmorProfile.type: Forbidden: apparmor type in annotation and field must match",
                "spec.template.spec.containers[1].securityContext.appArmorProfile.localhostProfile: Forbidden: apparmor profile in annotation and field must match",
                "spec.template.spec.containers[3].securityContext.appArmorProfile.type: Forbidden: apparmor type in annotation and field must match",
            ]
        );
    }

    #[test]
    fn annotation_values_map_as_kubernetes_maps_them() {
        assert_eq!(
            profile_for("runtime/default"),
            Some(json!({"type": "RuntimeDefault"}))
        );
        assert_eq!(
            profile_for("unconfined"),
            Some(json!({"type": "Unconfined"}))
        );
        assert_eq!(profile_for("localhost/ x"), None);
        assert_eq!(profile_for("bogus"), None);
        assert_eq!(profile_for(""), None);
    }
}
