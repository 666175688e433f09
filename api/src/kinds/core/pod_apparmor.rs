//! The deprecated AppArmor annotations on a pod
//! (`container.apparmor.security.beta.kubernetes.io/<container>`), as
//! kube-apiserver treats them since v1.30 (`applyAppArmorVersionSkew` in
//! the pod strategy's PrepareForCreate): on create, a container without an
//! `appArmorProfile` of its own gets the one its annotation names, and the
//! writer is told the annotation is deprecated. The field is what the
//! kubelet reads, so a tutorial's annotated pod meets the same
//! `NotSupported` Event as a pod that sets the field — it is not silently
//! ignored. (Workload templates keep their annotations; kube-apiserver's
//! template warning for them is not given here.)

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
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let containers = pod["spec"][list].as_array().into_iter().flatten();
        for (index, c) in containers.enumerate() {
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

/// `ValidateAppArmorPodAnnotations`: each annotation names a container of
/// the pod and a profile in the annotation's format.
pub fn validate(pod: &Value, errs: &mut Errs) {
    let Some(annotations) = pod
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return;
    };
    let names: Vec<&str> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|list| pod["spec"][list].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str())
        .collect();
    for (key, value) in annotations {
        let Some(container) = key.strip_prefix(ANNOTATION_PREFIX) else {
            continue;
        };
        let path = format!("metadata.annotations[{key}]");
        if !names.contains(&container) {
            errs.push(FieldError::invalid(
                &path,
                json!(container),
                "container not found",
            ));
        }
        let profile = value.as_str().unwrap_or("");
        let known = ["", "runtime/default", "unconfined"].contains(&profile)
            || profile.starts_with("localhost/");
        if !known {
            errs.push(FieldError::invalid(
                &path,
                json!(profile),
                format!("invalid AppArmor profile name: {profile:?}"),
            ));
        }
    }
}

/// The warnings the copy earns on create, in kube-apiserver's words.
pub fn warnings(pod: &Value) -> Vec<String> {
    plan(pod)
        .into_iter()
        .filter(|s| s.warn)
        .map(|s| {
            format!(
                "metadata.annotations[{}]: deprecated since v1.30; use the \"appArmorProfile\" field instead",
                s.key
            )
        })
        .collect()
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
                format!("{ANNOTATION_PREFIX}b"): "unconfined",
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
        validate(&p, &mut errs);
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
