//! PersistentVolume (core/v1): a piece of storage in the cluster.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The PersistentVolume strategy.
pub struct PersistentVolume;

/// `persistentvolumes` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "PersistentVolume",
    "persistentvolumes",
    "persistentvolume",
    &PersistentVolume,
)
.cluster_scoped()
.short_names(&["pv"])
.subresources(&["status"]);

impl Strategy for PersistentVolume {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::PersistentVolume>(
            obj,
        ))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::PersistentVolume>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_persistent_volume(obj)
    }
    /// The StorageObjectInUseProtection admission plugin: a new volume is
    /// held by `kubernetes.io/pv-protection` until it is no longer bound.
    fn prepare_create(&self, obj: &mut Value, _uid: &str) {
        meta::add_finalizer(obj, PV_PROTECTION);
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_persistent_volume(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_pv_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        PV_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pv_cells(obj, now)
    }
}

/// The finalizer that keeps a bound volume from going.
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

/// The fields of a PersistentVolumeSpec that are not a volume source.
const NOT_SOURCES: &[&str] = &[
    "accessModes",
    "capacity",
    "claimRef",
    "mountOptions",
    "nodeAffinity",
    "persistentVolumeReclaimPolicy",
    "storageClassName",
    "volumeAttributesClassName",
    "volumeMode",
];

/// The volume sources set in a PersistentVolume's spec (`hostPath`, `local`, …).
pub fn volume_sources(pv: &Value) -> Vec<&str> {
    pv.get("spec")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, v)| !v.is_null() && !NOT_SOURCES.contains(&k.as_str()))
        .map(|(k, _)| k.as_str())
        .collect()
}

/// `ValidatePersistentVolume`: exactly one volume source, a capacity, a
/// known reclaim policy; `local` volumes need node affinity.
fn validate_persistent_volume(obj: &Value, errs: &mut Errs) {
    let sources = volume_sources(obj);
    let Some(pv) = typed::<core::PersistentVolume>(obj, errs) else {
        return;
    };
    let spec = pv.spec.unwrap_or_default();
    match sources.as_slice() {
        [] => errs.push(FieldError::required("spec", "must specify a volume type")),
        [_, rest @ ..] => {
            for k in rest {
                errs.push(FieldError::forbidden(
                    format!("spec.{k}"),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    if spec.host_path.as_ref().is_some_and(|h| h.path.is_empty()) {
        errs.push(FieldError::required("spec.hostPath.path", ""));
    }
    if let Some(local) = &spec.local {
        if local.path.is_empty() {
            errs.push(FieldError::required("spec.local.path", ""));
        }
        if spec.node_affinity.is_none() {
            errs.push(FieldError::required(
                "spec.nodeAffinity",
                "Local volume requires node affinity",
            ));
        }
    }
    if let Some(policy) = spec.persistent_volume_reclaim_policy.as_deref() {
        if !matches!(policy, "Delete" | "Recycle" | "Retain") {
            errs.push(FieldError::not_supported(
                "spec.persistentVolumeReclaimPolicy",
                Value::from(policy),
                &["Delete", "Recycle", "Retain"],
            ));
        }
    }
    validate_class_name(
        opt_str(&spec.storage_class_name),
        "spec.storageClassName",
        errs,
    );
    validate_access_modes(list(&spec.access_modes), errs);
    match &spec.capacity {
        None => errs.push(FieldError::required("spec.capacity", "")),
        Some(cap) => {
            if !cap.contains_key("storage") {
                errs.push(FieldError::required("spec.capacity[storage]", ""));
            }
            validate_resource_list(&json_of(cap), "spec.capacity", errs);
        }
    }
    validate_volume_mode(spec.volume_mode.as_deref(), errs);
}

/// `ValidatePersistentVolumeUpdate`: the volume source, its mode and (once
/// set) its node affinity never change.
fn validate_pv_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = |obj: &Value, errs: &mut Errs| {
        typed::<core::PersistentVolume>(obj, errs).map(|pv| pv.spec.unwrap_or_default())
    };
    let (Some(new_spec), Some(old_spec)) = (spec(new, errs), spec(old, errs)) else {
        return;
    };
    let source = |pv: &Value| {
        let mut s = pv.get("spec").cloned().unwrap_or_default();
        if let Some(m) = s.as_object_mut() {
            m.retain(|k, _| !NOT_SOURCES.contains(&k.as_str()));
        }
        normalize(&s)
    };
    if source(new) != source(old) {
        errs.push(FieldError::forbidden(
            "spec.persistentvolumesource",
            "spec.persistentvolumesource is immutable after creation",
        ));
    }
    immutable(
        &new_spec.volume_mode,
        &old_spec.volume_mode,
        "volumeMode",
        errs,
    );
    if old_spec.node_affinity.is_some() {
        immutable(
            &new_spec.node_affinity,
            &old_spec.node_affinity,
            "nodeAffinity",
            errs,
        );
    }
}

/// `SetDefaults_PersistentVolume`.
fn default_persistent_volume(pv: &mut Obj) {
    if let Some(spec) = child(pv, "spec") {
        default_value(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default_value(spec, "volumeMode", json!("Filesystem"));
        if let Some(cap) = existing(spec, "capacity") {
            canonicalize_quantities(cap);
        }
    }
    if let Some(status) = child(pv, "status") {
        default_value(status, "phase", json!("Pending"));
    }
}

const PV_COLUMNS: &[Column] = &[
    NAME,
    string("Capacity", "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
    string("Access Modes", "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
    string("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
    string("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
    string("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
    string("StorageClass", "StorageClass of the pv"),
    string("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    string("Reason", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    wide("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec."),
];

fn pv_cells(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = if present(pv, "/spec/claimRef") {
        format!(
            "{}/{}",
            text(pv, "/spec/claimRef/namespace"),
            text(pv, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    vec![
        name_cell(pv),
        quantity(pv, "/spec/capacity/storage").into(),
        access_modes(items_at(pv, "/spec/accessModes")).into(),
        text(pv, "/spec/persistentVolumeReclaimPolicy").into(),
        terminating_or(pv, text(pv, "/status/phase")).into(),
        claim.into(),
        storage_class(pv).into(),
        or_unset(text(pv, "/spec/volumeAttributesClassName")).into(),
        text(pv, "/status/reason").into(),
        age_cell(pv, now),
        or_unset(text(pv, "/spec/volumeMode")).into(),
    ]
}

// ---------------------------------------------------------------------------
// Matching claims to volumes (the PV controller's and the scheduler's
// volume binder's `FindMatchingVolume`), shared so both decide alike.
// ---------------------------------------------------------------------------

/// The claim's storage class: `spec.storageClassName`, else the beta
/// annotation, else `""` (no class). kube's `GetPersistentVolumeClaimClass`.
pub fn claim_class(claim: &core::PersistentVolumeClaim) -> &str {
    if let Some(class) = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
    {
        return class;
    }
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(super::persistent_volume_claim::BETA_CLASS))
        .map(String::as_str)
        .unwrap_or("")
}

/// The volume's storage class (`spec.storageClassName`, else the beta annotation).
pub fn volume_class(pv: &core::PersistentVolume) -> &str {
    if let Some(class) = pv
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
    {
        return class;
    }
    pv.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .map(String::as_str)
        .unwrap_or("")
}

/// Whether `pv` is reserved for `claim` (its `claimRef` names the claim,
/// and the claim's uid when the reference has one).
pub fn is_prebound_to(pv: &core::PersistentVolume, claim: &core::PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == claim.metadata.name
        && r.namespace == claim.metadata.namespace
        && (r.uid.as_deref().unwrap_or("").is_empty() || r.uid == claim.metadata.uid)
}

fn storage_of(
    map: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
) -> Option<Quantity> {
    Quantity::parse(&map?.get("storage")?.0).ok()
}

/// Whether `pv` can serve `claim`, apart from where it is: free or reserved
/// for the claim, not being deleted, the same class and volume mode, every
/// requested access mode, enough capacity, labels the claim's selector
/// accepts. kube's `checkVolumeSatisfyClaim` with `findByClaim`'s filters.
pub fn satisfies(pv: &core::PersistentVolume, claim: &core::PersistentVolumeClaim) -> bool {
    let (Some(spec), Some(want)) = (pv.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    if pv.metadata.deletion_timestamp.is_some() {
        return false;
    }
    if spec.claim_ref.is_some() && !is_prebound_to(pv, claim) {
        return false;
    }
    let phase = pv
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    if matches!(phase, "Released" | "Failed") {
        return false;
    }
    if volume_class(pv) != claim_class(claim) {
        return false;
    }
    let mode = |m: Option<&str>| m.unwrap_or("Filesystem").to_string();
    if mode(spec.volume_mode.as_deref()) != mode(want.volume_mode.as_deref()) {
        return false;
    }
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if !want
        .access_modes
        .iter()
        .flatten()
        .all(|m| modes.contains(m))
    {
        return false;
    }
    let requested = storage_of(want.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let capacity = storage_of(spec.capacity.as_ref());
    match (requested, capacity) {
        (Some(r), Some(c)) if c >= r => {}
        (None, _) => {}
        _ => return false,
    }
    if let Some(selector) = &want.selector {
        let labels: Map<String, Value> = pv
            .metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        match LabelSelector::from_json(&json_of(selector)) {
            Ok(s) if s.matches(&labels) => {}
            _ => return false,
        }
    }
    true
}

/// The best volume for `claim` among `volumes` that `allowed` accepts (the
/// scheduler passes a node check): a volume reserved for the claim first,
/// else the smallest that is big enough. kube's `findMatchingVolume`.
pub fn best_match<'a, P>(
    claim: &core::PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'a P>,
    allowed: impl Fn(&core::PersistentVolume) -> bool,
) -> Option<&'a P>
where
    P: std::ops::Deref<Target = core::PersistentVolume> + 'a,
{
    let mut best: Option<(&'a P, Option<Quantity>)> = None;
    for pv in volumes {
        if !satisfies(pv, claim) || !allowed(pv) {
            continue;
        }
        if is_prebound_to(pv, claim) {
            return Some(pv);
        }
        let size = storage_of(pv.spec.as_ref().and_then(|s| s.capacity.as_ref()));
        if best.as_ref().is_none_or(|(_, b)| size < *b) {
            best = Some((pv, size));
        }
    }
    best.map(|(pv, _)| pv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pv(name: &str, size: &str, class: &str) -> Arc<core::PersistentVolume> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"tier": "fast"}},
                "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                         "storageClassName": class, "hostPath": {"path": "/tmp/x"}},
            }))
            .unwrap(),
        )
    }

    fn claim(size: &str, class: &str, selector: Value) -> core::PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "default", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                     "resources": {"requests": {"storage": size}}, "selector": selector},
        }))
        .unwrap()
    }

    #[test]
    fn smallest_fitting_volume_of_the_class_wins() {
        let vols = [
            pv("big", "10Gi", "manual"),
            pv("small", "2Gi", "manual"),
            pv("tiny", "1Gi", "manual"),
            pv("other", "2Gi", ""),
        ];
        let c = claim("1500Mi", "manual", Value::Null);
        let best = best_match(&c, &vols, |_| true).unwrap();
        assert_eq!(best.metadata.name.as_deref(), Some("small"));
        assert!(best_match(&claim("20Gi", "manual", Value::Null), &vols, |_| true).is_none());
        let no_class = best_match(&claim("1Gi", "", Value::Null), &vols, |_| true).unwrap();
        assert_eq!(no_class.metadata.name.as_deref(), Some("other"));
        let selected = claim("1Gi", "manual", json!({"matchLabels": {"tier": "slow"}}));
        assert!(best_match(&selected, &vols, |_| true).is_none());
    }

    #[test]
    fn a_reserved_volume_goes_to_its_claim_only() {
        let mut reserved = (*pv("r", "10Gi", "manual")).clone();
        reserved.spec.as_mut().unwrap().claim_ref = Some(core::ObjectReference {
            name: Some("data".into()),
            namespace: Some("default".into()),
            ..Default::default()
        });
        let vols = [pv("small", "2Gi", "manual"), Arc::new(reserved)];
        let best = best_match(&claim("1Gi", "manual", Value::Null), &vols, |_| true).unwrap();
        assert_eq!(best.metadata.name.as_deref(), Some("r"));
        let mut other = claim("1Gi", "manual", Value::Null);
        other.metadata.name = Some("else".into());
        let best = best_match(&other, &vols, |_| true).unwrap();
        assert_eq!(best.metadata.name.as_deref(), Some("small"));
    }
}
