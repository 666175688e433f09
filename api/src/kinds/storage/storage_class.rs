//! StorageClass (storage.k8s.io/v1): a class of dynamically provisioned
//! storage — which provisioner makes its volumes, their reclaim policy and
//! when a claim of the class is bound (`Immediate` or `WaitForFirstConsumer`).
//!
//! Its strategy: served resource, typed form, defaulting, validation,
//! update rules and table columns (see [`crate::kinds::Strategy`]), then
//! the helpers others use to read a class: [`is_default`], [`default_class`].

use crate::kinds::prelude::*;
use k8s_openapi::api::storage::v1 as storage;

/// The StorageClass strategy.
pub struct StorageClass;

/// `storageclasses` in storage.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "storage.k8s.io",
    "v1",
    "StorageClass",
    "storageclasses",
    "storageclass",
    &StorageClass,
)
.cluster_scoped()
.short_names(&["sc"]);

/// The annotation that marks the cluster's default class.
pub const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The beta annotation kube still reads for the default class.
const BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

impl Strategy for StorageClass {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<storage::StorageClass>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<storage::StorageClass>(g))
    }
    // A StorageClass has no spec: its fields sit at the top level, and
    // Kubernetes keeps no generation for it.
    fn has_spec(&self) -> bool {
        false
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        // `SetDefaults_StorageClass`.
        default_value(obj, "reclaimPolicy", json!("Delete"));
        default_value(obj, "volumeBindingMode", json!("Immediate"));
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_storage_class(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        validate_storage_class_update(new, old, errs)
    }
    fn columns(&self) -> &'static [Column] {
        STORAGECLASS_COLUMNS
    }
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        storage_class_cells(obj, now)
    }
}

/// `ValidateStorageClass`: a provisioner that is a qualified name, a
/// supported reclaim policy and binding mode.
fn validate_storage_class(obj: &Value, errs: &mut Errs) {
    let Some(sc) = typed::<storage::StorageClass>(obj, errs) else {
        return;
    };
    if sc.provisioner.is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    } else {
        for msg in names::is_qualified_name(&sc.provisioner.to_lowercase()) {
            errs.push(FieldError::invalid(
                "provisioner",
                Value::from(sc.provisioner.as_str()),
                msg,
            ));
        }
    }
    let total: usize = sc
        .parameters
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if total > 256 * 1024 {
        errs.push(too_long("parameters", 256 * 1024));
    }
    let policy = opt_str(&sc.reclaim_policy);
    if !matches!(policy, "Delete" | "Retain") {
        errs.push(FieldError::not_supported(
            "reclaimPolicy",
            Value::from(policy),
            &["Delete", "Retain"],
        ));
    }
    match sc.volume_binding_mode.as_deref() {
        None => errs.push(FieldError::required("volumeBindingMode", "")),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(mode) => errs.push(FieldError::not_supported(
            "volumeBindingMode",
            Value::from(mode),
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
}

/// `ValidateStorageClassUpdate`: what a class promises its volumes never changes.
fn validate_storage_class_update(new: &Value, old: &Value, errs: &mut Errs) {
    let class = |obj: &Value, errs: &mut Errs| typed::<storage::StorageClass>(obj, errs);
    let (Some(new), Some(old)) = (class(new, errs), class(old, errs)) else {
        return;
    };
    if new.parameters.clone().unwrap_or_default() != old.parameters.clone().unwrap_or_default() {
        errs.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if new.provisioner != old.provisioner {
        errs.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if new.reclaim_policy != old.reclaim_policy {
        errs.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    immutable(
        &new.volume_binding_mode,
        &old.volume_binding_mode,
        "volumeBindingMode",
        errs,
    );
}

const STORAGECLASS_COLUMNS: &[Column] = &[
    NAME,
    string("Provisioner", "provisioner indicates the type of the provisioner."),
    string("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
    string("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature."),
    string("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow volume expand."),
    AGE,
];

/// kube's `printStorageClass`: the default class carries ` (default)`.
fn storage_class_cells(sc: &Value, now: Timestamp) -> Vec<Value> {
    let mut name = meta::name(sc).to_string();
    if is_default(sc) {
        name.push_str(" (default)");
    }
    vec![
        name.into(),
        text(sc, "/provisioner").into(),
        or_first(text(sc, "/reclaimPolicy"), "Delete").into(),
        or_first(text(sc, "/volumeBindingMode"), "Immediate").into(),
        flag(sc, "/allowVolumeExpansion").to_string().into(),
        age_cell(sc, now),
    ]
}

fn or_first<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() {
        fallback
    } else {
        s
    }
}

/// Whether the class is marked as the default (kube's `IsDefaultAnnotation`:
/// the GA or the beta annotation set to `"true"`).
pub fn is_default(sc: &Value) -> bool {
    [IS_DEFAULT_CLASS, BETA_IS_DEFAULT_CLASS].iter().any(|a| {
        sc.pointer("/metadata/annotations")
            .and_then(|m| m.get(*a))
            .and_then(Value::as_str)
            == Some("true")
    })
}

/// The default class among `classes`, as kube's `GetDefaultClass` picks it:
/// of several defaults, the newest (then the first by name) wins.
pub fn default_class(classes: &[Value]) -> Option<&Value> {
    classes.iter().filter(|c| is_default(c)).max_by(|a, b| {
        let created = |c: &Value| {
            meta::meta_str(c, "creationTimestamp")
                .unwrap_or("")
                .to_string()
        };
        created(a)
            .cmp(&created(b))
            .then_with(|| meta::name(b).cmp(meta::name(a)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: bool) -> Value {
        let mut c =
            json!({"metadata": {"name": name, "creationTimestamp": created}, "provisioner": "x"});
        if default {
            c["metadata"]["annotations"] = json!({IS_DEFAULT_CLASS: "true"});
        }
        c
    }

    #[test]
    fn newest_default_wins_then_name() {
        let classes = [
            class("a", "2024-01-01T00:00:00Z", true),
            class("b", "2024-02-01T00:00:00Z", true),
            class("c", "2024-03-01T00:00:00Z", false),
        ];
        assert_eq!(meta::name(default_class(&classes).unwrap()), "b");
        let tie = [
            class("z", "2024-01-01T00:00:00Z", true),
            class("y", "2024-01-01T00:00:00Z", true),
        ];
        assert_eq!(meta::name(default_class(&tie).unwrap()), "y");
        assert!(default_class(&classes[2..]).is_none());
    }
}
