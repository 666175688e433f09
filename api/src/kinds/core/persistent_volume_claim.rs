//! PersistentVolumeClaim (core/v1): a request for storage by a user.
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! lifecycle rules and table columns (see [`crate::kinds::Strategy`]).

use crate::kinds::prelude::*;
use k8s_openapi::api::core::v1 as core;

/// The PersistentVolumeClaim strategy.
pub struct PersistentVolumeClaim;

/// `persistentvolumeclaims` in v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "",
    "v1",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    &PersistentVolumeClaim,
)
.short_names(&["pvc"])
.subresources(&["status"]);

impl Strategy for PersistentVolumeClaim {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(g))
    }
    fn system_owns_status(&self) -> bool {
        true
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        default_persistent_volume_claim(obj)
    }
    /// The DefaultStorageClass admission plugin: a claim that names no
    /// class (neither `spec.storageClassName` nor the beta annotation) gets
    /// the default class, when there is one.
    fn admit_create(&self, obj: &mut Value, cluster: &dyn Cluster) {
        if present(obj, "/spec/storageClassName")
            || present(
                obj,
                &format!("/metadata/annotations/{}", BETA_CLASS.replace('/', "~1")),
            )
        {
            return;
        }
        let classes = cluster.list(&crate::kinds::storage::storage_class::RESOURCE);
        if let Some(class) = crate::kinds::storage::storage_class::default_class(&classes) {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("storageClassName".into(), Value::from(meta::name(class)));
            }
        }
    }
    /// The StorageObjectInUseProtection admission plugin: a new claim is
    /// held by `kubernetes.io/pvc-protection` while a pod uses it.
    fn prepare_create(&self, obj: &mut Value, _uid: &str) {
        meta::add_finalizer(obj, PVC_PROTECTION);
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_persistent_volume_claim(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_pvc_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        PVC_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pvc_cells(obj, now)
    }
    fn limit_range_violations(&self, obj: &Value, ranges: &[core::LimitRange]) -> Vec<String> {
        super::limit_range::claim_violations(obj, ranges)
    }
    fn limit_range_checks_updates(&self) -> bool {
        true
    }
    fn quota_usage(&self, obj: &Value, _: Timestamp) -> crate::quota::ResourceList {
        claim_quota_usage(obj)
    }
    fn quota_tracks(&self, resource: &str) -> bool {
        matches!(resource, "persistentvolumeclaims" | "requests.storage")
            || resource.ends_with(STORAGE_CLASS_REQUESTS)
            || resource.ends_with(STORAGE_CLASS_CLAIMS)
    }
}

/// The finalizer that keeps a claim in use from going.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// The annotation that named a claim's class before `spec.storageClassName`.
pub const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn validate_persistent_volume_claim(obj: &Value, errs: &mut Errs) {
    let Some(pvc) = typed::<core::PersistentVolumeClaim>(obj, errs) else {
        return;
    };
    let spec = pvc.spec.unwrap_or_default();
    validate_access_modes(list(&spec.access_modes), errs);
    let requests = spec.resources.as_ref().and_then(|r| r.requests.as_ref());
    match requests.and_then(|r| r.get("storage")) {
        None => errs.push(FieldError::required("spec.resources[storage]", "")),
        Some(q) => {
            let q = Value::from(q.0.as_str());
            if let Some(v) = validate_quantity("storage", &q, "spec.resources[storage]", errs) {
                if v <= Quantity::default() {
                    errs.push(FieldError::invalid(
                        "spec.resources[storage]",
                        Value::from(quantity_text(&q)),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    validate_volume_mode(spec.volume_mode.as_deref(), errs);
    validate_class_name(
        opt_str(&spec.storage_class_name),
        "spec.storageClassName",
        errs,
    );
    if let Some(selector) = &spec.selector {
        errs.extend(selectors::validate_label_selector(
            &json_of(selector),
            "spec.selector",
        ));
    }
}

/// PVC update: the spec is fixed once created, except the requested size
/// and the volume a pending claim gets bound to.
fn validate_pvc_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = |obj: &Value, errs: &mut Errs| {
        typed::<core::PersistentVolumeClaim>(obj, errs).map(|pvc| pvc.spec.unwrap_or_default())
    };
    let (Some(new), Some(old)) = (spec(new, errs), spec(old, errs)) else {
        return;
    };
    let binding = opt_str(&old.volume_name).is_empty();
    let fixed = |mut spec: core::PersistentVolumeClaimSpec| {
        if let Some(r) = &mut spec.resources {
            r.requests = None;
        }
        spec.volume_attributes_class_name = None;
        if binding {
            spec.volume_name = None;
        }
        normalize(&json_of(&spec))
    };
    // minik expands no volume (it has no resizer), so a bound claim may not
    // grow: kube's PersistentVolumeClaimResize admission answer for a
    // class that does not allow expansion.
    let storage = |spec: &core::PersistentVolumeClaimSpec| {
        spec.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .and_then(|q| Quantity::parse(&q.0).ok())
    };
    if !binding && storage(&new) > storage(&old) {
        errs.push(FieldError::forbidden(
            "spec.resources.requests.storage",
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
        ));
    }
    if fixed(new) != fixed(old) {
        errs.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
}

const PVC_COLUMNS: &[Column] = &[
    NAME,
    string("Status", "phase represents the current phase of PersistentVolumeClaim."),
    string("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    string("Capacity", "capacity represents the actual resources of the underlying volume."),
    string("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
    string("StorageClass", "StorageClass of the pvc"),
    string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."),
];

fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let volume = text(pvc, "/spec/volumeName");
    // Capacity and access modes are only shown once the claim is bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(pvc, "/status/capacity/storage"),
            access_modes(items_at(pvc, "/status/accessModes")),
        )
    };
    vec![
        name_cell(pvc),
        terminating_or(pvc, text(pvc, "/status/phase")).into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class(pvc).into(),
        or_unset(text(pvc, "/spec/volumeAttributesClassName")).into(),
        age_cell(pvc, now),
        or_unset(text(pvc, "/spec/volumeMode")).into(),
    ]
}

/// `<class>.storageclass.storage.k8s.io/requests.storage` and
/// `…/persistentvolumeclaims`: quota per storage class.
const STORAGE_CLASS_REQUESTS: &str = ".storageclass.storage.k8s.io/requests.storage";
const STORAGE_CLASS_CLAIMS: &str = ".storageclass.storage.k8s.io/persistentvolumeclaims";

/// Kubernetes' PVC evaluator: one `persistentvolumeclaims`, its storage
/// request as `requests.storage`, and both again under its storage class.
fn claim_quota_usage(pvc: &Value) -> crate::quota::ResourceList {
    let one = Quantity::from_value(1, Default::default());
    let mut usage = crate::quota::ResourceList::new();
    usage.insert("persistentvolumeclaims".into(), one);
    let storage = pvc
        .pointer("/spec/resources/requests/storage")
        .and_then(|q| Quantity::from_json(q).ok());
    if let Some(q) = storage {
        usage.insert("requests.storage".into(), q);
    }
    let class = pvc
        .pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .or_else(|| {
            pvc.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
                .and_then(Value::as_str)
        })
        .filter(|c| !c.is_empty());
    if let Some(class) = class {
        usage.insert(format!("{class}{STORAGE_CLASS_CLAIMS}"), one);
        if let Some(q) = storage {
            usage.insert(format!("{class}{STORAGE_CLASS_REQUESTS}"), q);
        }
    }
    usage
}
