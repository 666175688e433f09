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
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_persistent_volume(obj)
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_persistent_volume(obj, errs)
    }
    fn columns(&self) -> &'static [Column] {
        PV_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pv_cells(obj, now)
    }
}

fn validate_persistent_volume(obj: &Value, errs: &mut Errs) {
    let Some(pv) = typed::<core::PersistentVolume>(obj, errs) else {
        return;
    };
    let spec = pv.spec.unwrap_or_default();
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
