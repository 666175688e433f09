//! CustomResourceDefinition (apiextensions.k8s.io/v1): a new kind, served
//! once the API server has accepted its names and marked it Established.
//!
//! Its strategy: served resource, typed form, defaulting, validation (the
//! part of `ValidateCustomResourceDefinition` minik honours), and admission
//! that does what kube-apiserver's naming and establishing controllers do
//! right after a write — accepted names, `NamesAccepted` and `Established`
//! conditions, stored versions — here in the same write, so a custom
//! object can be created as soon as its CRD's create returns. The
//! resources a CRD adds are built by [`crate::custom_resource`]. Deleting
//! a CRD waits on the `customresourcecleanup.apiextensions.k8s.io`
//! finalizer, which minik-controller lifts once the CRD's objects are gone.

use crate::kinds::prelude::*;
use crate::structural_schema;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;

/// The CustomResourceDefinition strategy.
pub struct CustomResourceDefinition;

/// `customresourcedefinitions` in apiextensions.k8s.io/v1.
pub const RESOURCE: ResourceInfo = ResourceInfo::new(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    "customresourcedefinition",
    &CustomResourceDefinition,
)
.cluster_scoped()
.short_names(&["crd", "crds"])
.categories(&["api-extensions"])
.subresources(&["status"]);

/// The finalizer that holds a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

impl Strategy for CustomResourceDefinition {
    fn decode(&self, _: &ResourceInfo, obj: &Value) -> Option<Result<Decoded, DecodeError>> {
        Some(decode_as::<ext::CustomResourceDefinition>(obj))
    }
    fn openapi_schema(&self, _: &ResourceInfo, g: &mut SchemaGenerator) -> Option<Value> {
        Some(schema_of::<ext::CustomResourceDefinition>(g))
    }
    fn default(&self, _: &ResourceInfo, obj: &mut Obj) {
        // `SetDefaults_CustomResourceDefinition(Spec)`.
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
            let kind = names
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !kind.is_empty() {
                default_value(names, "singular", json!(kind.to_lowercase()));
                default_value(names, "listKind", json!(format!("{kind}List")));
            }
        }
        default_value(spec, "conversion", json!({"strategy": "None"}));
    }
    fn validate(&self, _: &ResourceInfo, obj: &Value, errs: &mut Errs) {
        validate_crd(obj, errs)
    }
    fn validate_update(&self, new: &Value, old: &Value, errs: &mut Errs) {
        immutable_field(
            new.pointer("/spec/scope"),
            old.pointer("/spec/scope"),
            "spec.scope",
            errs,
        );
        immutable_field(
            new.pointer("/spec/group"),
            old.pointer("/spec/group"),
            "spec.group",
            errs,
        );
        // A version objects are stored in may not be dropped from the spec.
        let versions: Vec<&str> = items(&new["spec"], "versions")
            .iter()
            .map(|v| str_of(v, "name"))
            .collect();
        for (i, stored) in items(&new["status"], "storedVersions").iter().enumerate() {
            let name = stored.as_str().unwrap_or("");
            if !versions.contains(&name) {
                errs.push(FieldError::invalid(
                    format!("status.storedVersions[{i}]"),
                    json!(name),
                    "must appear in spec.versions",
                ));
            }
        }
    }
    fn prepare_create(&self, obj: &mut Value, _: &str) {
        meta::add_finalizer(obj, CLEANUP_FINALIZER);
    }
    fn admit_create(&self, obj: &mut Value, cluster: &dyn Cluster) {
        accept_names(obj, &Value::Null, cluster);
    }
    fn admit_update(&self, new: &mut Value, old: &Value, cluster: &dyn Cluster) {
        accept_names(new, old, cluster);
    }
    fn warnings(&self, obj: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let mut unevaluated = BTreeSet::new();
        for v in items(&obj["spec"], "versions") {
            if let Some(schema) = v.pointer("/schema/openAPIV3Schema") {
                structural_schema::unevaluated_keywords(schema, &mut unevaluated);
            }
        }
        for k in unevaluated {
            out.push(format!(
                "{k} in the schema is stored but not evaluated by minik: objects are not checked against it"
            ));
        }
        if items(&obj["spec"], "versions")
            .iter()
            .any(|v| !items(v, "selectableFields").is_empty())
        {
            out.push(
                "selectableFields are not supported by minik: field selectors on these objects accept metadata.name and metadata.namespace only".into(),
            );
        }
        if obj.pointer("/spec/conversion/strategy") == Some(&json!("Webhook")) {
            out.push(
                "spec.conversion.strategy Webhook is not supported by minik: objects are served in every version without conversion (as with None)".into(),
            );
        }
        out
    }
    fn columns(&self) -> &'static [Column] {
        GENERIC_COLUMNS
    }
    fn cells(&self, obj: &Value, _: Timestamp) -> Vec<Value> {
        generic_cells(obj)
    }
}

/// The part of `ValidateCustomResourceDefinition` minik checks.
fn validate_crd(obj: &Value, errs: &mut Errs) {
    if typed::<ext::CustomResourceDefinition>(obj, errs).is_none() {
        return;
    }
    let spec = &obj["spec"];
    let group = str_of(spec, "group");
    let names = &spec["names"];
    let plural = str_of(names, "plural");
    let name = meta::name(obj);
    if name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        for msg in names::is_dns1123_subdomain(group) {
            errs.push(FieldError::invalid("spec.group", json!(group), msg));
        }
        if group.split('.').count() < 2 {
            errs.push(FieldError::invalid(
                "spec.group",
                json!(group),
                "should be a domain with at least one dot",
            ));
        }
        let protected = ["k8s.io", "kubernetes.io"]
            .iter()
            .any(|d| group == *d || group.ends_with(&format!(".{d}")));
        if protected
            && obj
                .pointer("/metadata/annotations/api-approved.kubernetes.io")
                .is_none()
        {
            errs.push(FieldError::required(
                "metadata.annotations[api-approved.kubernetes.io]",
                "protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111",
            ));
        }
    }
    match str_of(spec, "scope") {
        "" => errs.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            json!(other),
            &["Cluster", "Namespaced"],
        )),
    }
    validate_names(names, errs);
    let versions = items(spec, "versions");
    if versions.is_empty() {
        errs.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v["storage"] == json!(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Array(versions.to_vec()),
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = HashSet::new();
    for (i, v) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}]");
        let vname = str_of(v, "name");
        for msg in names::is_dns1035_label(vname) {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                json!(vname),
                msg,
            ));
        }
        if !seen.insert(vname) {
            errs.push(FieldError::duplicate(format!("{path}.name"), json!(vname)));
        }
        match v.pointer("/schema/openAPIV3Schema") {
            None => errs.push(FieldError::required(
                format!("{path}.schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(schema) => structural_schema::check_schema(
                schema,
                &format!("{path}.schema.openAPIV3Schema"),
                true,
                errs,
            ),
        }
        if let Some(scale) = v.pointer("/subresources/scale") {
            let sp = format!("{path}.subresources.scale");
            let under = |field: &str, prefixes: &[&str], what: &str, errs: &mut Errs| {
                let p = str_of(scale, field);
                if !prefixes.iter().any(|pre| p.starts_with(pre)) {
                    errs.push(FieldError::invalid(format!("{sp}.{field}"), json!(p), what));
                }
            };
            under(
                "specReplicasPath",
                &[".spec."],
                "should be a json path under .spec",
                errs,
            );
            under(
                "statusReplicasPath",
                &[".status."],
                "should be a json path under .status",
                errs,
            );
            if scale.get("labelSelectorPath").is_some() {
                under(
                    "labelSelectorPath",
                    &[".spec.", ".status."],
                    "should be a json path under either .spec or .status",
                    errs,
                );
            }
        }
        for (j, c) in items(v, "additionalPrinterColumns").iter().enumerate() {
            let cp = format!("{path}.additionalPrinterColumns[{j}]");
            if str_of(c, "name").is_empty() {
                errs.push(FieldError::required(format!("{cp}.name"), ""));
            }
            let ty = str_of(c, "type");
            if !["integer", "number", "string", "boolean", "date"].contains(&ty) {
                errs.push(FieldError::not_supported(
                    format!("{cp}.type"),
                    json!(ty),
                    &["integer", "number", "string", "boolean", "date"],
                ));
            }
            if str_of(c, "jsonPath").is_empty() {
                errs.push(FieldError::required(format!("{cp}.jsonPath"), ""));
            }
        }
    }
}

fn validate_names(names: &Value, errs: &mut Errs) {
    for field in ["plural", "singular"] {
        let v = str_of(names, field);
        let path = format!("spec.names.{field}");
        if v.is_empty() {
            errs.push(FieldError::required(path, ""));
            continue;
        }
        for msg in names::is_dns1035_label(v) {
            errs.push(FieldError::invalid(path.clone(), json!(v), msg));
        }
    }
    let kind = str_of(names, "kind");
    let list_kind = str_of(names, "listKind");
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    if list_kind.is_empty() {
        errs.push(FieldError::required("spec.names.listKind", ""));
    } else if list_kind == kind {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            json!(list_kind),
            "kind and listKind cannot be the same",
        ));
    }
    for (i, s) in items(names, "shortNames").iter().enumerate() {
        let s = s.as_str().unwrap_or("");
        for msg in names::is_dns1035_label(s) {
            errs.push(FieldError::invalid(
                format!("spec.names.shortNames[{i}]"),
                json!(s),
                msg,
            ));
        }
    }
}

/// Every name a CRD's resource answers to, for conflict checks.
fn taken_names(names: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["plural", "singular", "kind", "listKind"]
        .iter()
        .map(|f| str_of(names, f).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    out.extend(
        items(names, "shortNames")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    out
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str, old: &Value, now: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    // The transition time moves only when the status does.
    let since = items(&old["status"], "conditions")
        .iter()
        .find(|c| c["type"] == json!(kind) && c["status"] == json!(status))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now));
    json!({"type": kind, "status": status, "lastTransitionTime": since, "reason": reason, "message": message})
}

/// The naming and establishing controllers' verdict, written into `status`:
/// the names are accepted unless another CRD of the group already answers
/// to one of them, and an accepted CRD is Established.
fn accept_names(obj: &mut Value, old: &Value, cluster: &dyn Cluster) {
    // Admission runs before defaulting: the names it accepts are the defaulted ones.
    if let Some(map) = obj.as_object_mut() {
        CustomResourceDefinition.default(&RESOURCE, map);
    }
    let group = str_of(&obj["spec"], "group").to_string();
    let name = meta::name(obj).to_string();
    let requested = obj["spec"]["names"].clone();
    let wanted = taken_names(&requested);
    let mut conflict = None;
    for other in cluster.list(&RESOURCE) {
        if meta::name(&other) == name || str_of(&other["spec"], "group") != group {
            continue;
        }
        let theirs = taken_names(&other["status"]["acceptedNames"]);
        if let Some(n) = wanted.iter().find(|n| theirs.contains(n)) {
            conflict = Some(n.clone());
            break;
        }
    }
    let now = meta::format_timestamp(Timestamp::now());
    let mut status = old.get("status").cloned().unwrap_or_else(|| json!({}));
    let (names_accepted, established) = match &conflict {
        None => {
            status["acceptedNames"] = requested;
            (
                condition(
                    "NamesAccepted",
                    true,
                    "NoConflicts",
                    "no conflicts found",
                    old,
                    &now,
                ),
                condition(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    old,
                    &now,
                ),
            )
        }
        Some(n) => {
            if status.get("acceptedNames").is_none() {
                status["acceptedNames"] = json!({"plural": "", "kind": ""});
            }
            let was_established = crate::custom_resource::condition_true(old, "Established");
            (
                condition(
                    "NamesAccepted",
                    false,
                    "NameConflict",
                    &format!("{n:?} is already in use"),
                    old,
                    &now,
                ),
                if was_established {
                    condition(
                        "Established",
                        true,
                        "InitialNamesAccepted",
                        "the initial names have been accepted",
                        old,
                        &now,
                    )
                } else {
                    condition(
                        "Established",
                        false,
                        "NotAccepted",
                        "not all names are accepted",
                        old,
                        &now,
                    )
                },
            )
        }
    };
    let mut conditions: Vec<Value> = items(&status, "conditions")
        .iter()
        .filter(|c| !matches!(c["type"].as_str(), Some("NamesAccepted" | "Established")))
        .cloned()
        .collect();
    conditions.insert(0, established);
    conditions.insert(0, names_accepted);
    status["conditions"] = Value::Array(conditions);
    let mut stored: Vec<Value> = items(&status, "storedVersions").to_vec();
    if let Some(v) = items(&obj["spec"], "versions")
        .iter()
        .find(|v| v["storage"] == json!(true))
    {
        if !stored.contains(&v["name"]) {
            stored.push(v["name"].clone());
        }
    }
    status["storedVersions"] = Value::Array(stored);
    obj["status"] = status;
}
