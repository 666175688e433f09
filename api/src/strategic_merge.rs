//! Strategic merge patch (`application/strategic-merge-patch+json`), applied
//! the way kube-apiserver (and `kubectl patch --local`) applies it.
//!
//! This module owns one thing: [`apply`], which merges a strategic merge patch
//! into a stored object, plus the table ([`merge_key`]) saying which lists are
//! merged element by element and by which key. It follows the *apply* half of
//! apimachinery's `pkg/util/strategicpatch` (`mergeMap` with the options the
//! API server uses: `MergeParallelList` and `IgnoreUnmatchedNulls`), rule for
//! rule, including its quirks, because clients (kubectl apply, set, rollout,
//! label, ...) compute their patches expecting exactly those results. The test
//! `tests/tests/api_strategic_merge_oracle.rs` checks that against the real
//! kubectl.
//!
//! - Maps merge recursively; a `null` value deletes the key.
//! - Lists whose field carries `patchStrategy:"merge"` in `k8s.io/api` are
//!   merged: lists of objects element by element, matched on the
//!   `patchMergeKey`; lists of scalars as a set union (`metadata.finalizers`).
//!   Every other list is replaced by the patch's list.
//! - Merged lists are ordered as upstream orders them: the elements the patch
//!   names follow the patch's order (so a new element goes *before* the
//!   existing ones it is not ordered against), elements only the server has
//!   keep their relative order and are interleaved by their old positions.
//!   `$setElementOrder/<field>` overrides the patch's order.
//! - Directives: `$patch: replace|delete` on a map (`delete` leaves `{}`,
//!   as upstream), `$patch: replace|delete` as a list element, `$retainKeys`,
//!   `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.
//!   `$patch: merge` is rejected, as upstream rejects it.
//! - A value the patch introduces (a new key, a new list element, a map
//!   replaced with `$patch: replace`) is taken as it is, like upstream, and
//!   then cleaned the way kube-apiserver's decoding into typed objects cleans
//!   it: directive keys and `null` fields are dropped. Where upstream takes
//!   such a value wholesale it also drops objects carrying `$patch` from it
//!   (`removeDirectives`); so does this module. No directive key ever
//!   survives into the result.
//!
//! Where apimachinery reads the `patchStrategy`/`patchMergeKey` struct tags of
//! the Go types by reflection, this module has a small hand-written table of
//! the list fields that merge ([`merge_key`]), keyed by field name and parent
//! context, with the object's kind to disambiguate (a Service's `spec.ports`
//! versus a container's `ports`).
//!
//! Deliberate differences and omissions:
//! - No OpenAPI-driven patch metadata, so custom resources get no merge keys:
//!   every list in a CRD object is replaced, as a JSON merge patch would.
//!   (kube-apiserver refuses strategic merge patches for custom resources.)
//! - The two-way and three-way *diff* (creating patches) is the client's job
//!   and lives elsewhere; this is only the server-side apply of a patch.
//! - Upstream merges the fields of a map in Go's (random) map order. Here the
//!   patch's fields are merged in the patch's order, and
//!   `$deleteFromPrimitiveList` lists after the other fields, so a patch that
//!   both adds and deletes the same scalar has one deterministic outcome.
//! - Where upstream would panic (ordering a list of objects that has no merge
//!   key, comparing objects as scalars) this module returns an error; where
//!   it compares Go values, numbers compare by value (`80` equals `80.0`).
//! - Upstream sorts with Go's `sort.SliceStable` and a comparison that is not
//!   a strict order when an element is missing from the order list; this
//!   module reproduces the insertion sort Go uses for up to 20 elements, and
//!   only longer lists with such elements could come out differently.

use serde_json::{Map, Value};

type Object = Map<String, Value>;

/// `$patch: replace | delete` (`merge` is recognised only to be refused).
const PATCH: &str = "$patch";
/// `$retainKeys: [field, ...]`: drop every other field of the original map.
const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [...]`: the order of the merged list.
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>: [...]`: values to remove from a scalar list.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// What can go wrong applying a strategic merge patch. Each message names the
/// place in the object (a dotted field path, list positions left out). The
/// cases are the ones upstream rejects, so a patch kube-apiserver refuses is
/// refused here too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicMergeError {
    #[error("a strategic merge patch must be a JSON object, not {found}")]
    PatchNotObject { found: &'static str },
    #[error("the object to patch must be a JSON object, not {found}")]
    OriginalNotObject { found: &'static str },
    #[error("{path}: unknown patch directive \"$patch: {value}\" (expected replace or delete)")]
    UnknownPatchDirective { path: String, value: String },
    #[error("{path}: \"$patch: merge\" is not supported (upstream: merging lists cannot yet be specified in the patch)")]
    MergeDirective { path: String },
    #[error("{path}: malformed directive key {key:?}, expected {prefix}/<field>")]
    MalformedDirectiveKey {
        path: String,
        key: String,
        prefix: &'static str,
    },
    #[error("{path}: {directive} must be a list, not {found}")]
    DirectiveNotList {
        path: String,
        directive: String,
        found: &'static str,
    },
    #[error("{path}: the list ordered by $setElementOrder is {found}, not a list")]
    OrderedFieldNotList { path: String, found: &'static str },
    #[error(
        "{path}: the patch sets field {field:?}, which its $retainKeys directive does not list"
    )]
    RetainKeysMissingField { path: String, field: String },
    #[error(
        "{path}: list elements are merged by key {key:?}, so each must be an object, not {found}"
    )]
    ElementNotObject {
        path: String,
        key: &'static str,
        found: &'static str,
    },
    #[error("{path}: list element has no merge key {key:?}: {element}")]
    MissingMergeKey {
        path: String,
        key: &'static str,
        element: String,
    },
    #[error("{path}: a list of objects without a merge key cannot be merged or ordered")]
    NoMergeKey { path: String },
    #[error("{path}: list elements are not all of one type (or a list holds lists)")]
    MixedElements { path: String },
    #[error("{path}: $setElementOrder names a list that is empty or absent on both sides")]
    NothingToOrder { path: String },
    #[error("{path}: the order of the patch's list does not match its $setElementOrder directive")]
    SetElementOrderMismatch { path: String },
}

type Result<T, E = StrategicMergeError> = std::result::Result<T, E>;

/// How a list field is merged (its `patchStrategy:"merge"` in `k8s.io/api`).
/// Lists without one are replaced wholesale by the patch's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// A list of objects merged element by element; elements with equal
    /// values of this key are the same element (`patchMergeKey`).
    ByKey(&'static str),
    /// A port list (a container's `ports`, a Service's `spec.ports`), whose
    /// `patchMergeKey` is the port number. [`apply`] matches elements on the
    /// port number alone, exactly like [`MergeStrategy::ByKey`], because
    /// kube-apiserver does (so `53/TCP` and `53/UDP` are one element to a
    /// strategic merge patch). The variant tells client-side diffing
    /// (miniktl's three-way apply) that the protocol also tells ports apart.
    ByPortAndProtocol(&'static str),
    /// A list of scalars merged as a set union
    /// (`patchStrategy:"merge"` without a merge key, e.g. finalizers).
    Union,
}

/// Where a list field has to sit for a [`Rule`] to apply to it.
enum Place {
    /// Directly inside a field with one of these names, in any kind (`env`
    /// inside `containers`, `finalizers` inside `metadata`). List positions
    /// don't count: `spec.containers[2].env` is `env` inside `containers`.
    Under(&'static [&'static str]),
    /// At exactly this path of parent fields, in objects of this kind only.
    At {
        kind: &'static str,
        parents: &'static [&'static str],
    },
}

/// One merging list field: its name, where it sits and how it merges.
struct Rule {
    field: &'static str,
    place: Place,
    strategy: MergeStrategy,
}

/// A rule for `field` directly inside any of `parents`, in any kind.
const fn under(parents: &'static [&'static str], field: &'static str, how: MergeStrategy) -> Rule {
    Rule {
        field,
        place: Place::Under(parents),
        strategy: how,
    }
}

/// A rule for `field` at exactly `parents` in objects of `kind`.
const fn at(
    kind: &'static str,
    parents: &'static [&'static str],
    field: &'static str,
    how: MergeStrategy,
) -> Rule {
    Rule {
        field,
        place: Place::At { kind, parents },
        strategy: how,
    }
}

/// The fields that hold a pod's containers: parents of `env`, `ports`, ...
const CONTAINERS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];
/// The fields that hold a pod's container statuses.
const CONTAINER_STATUSES: &[&str] = &[
    "containerStatuses",
    "initContainerStatuses",
    "ephemeralContainerStatuses",
];
/// The field holding a `PodSpec`: `spec` in a Pod, `spec.template.spec` in a
/// workload, `spec.jobTemplate.spec.template.spec` in a CronJob.
const POD_SPEC: &[&str] = &["spec"];
const METADATA: &[&str] = &["metadata"];
const STATUS: &[&str] = &["status"];
const SPEC: &[&str] = &["spec"];

const BY_NAME: MergeStrategy = MergeStrategy::ByKey("name");
const BY_IP: MergeStrategy = MergeStrategy::ByKey("ip");
const BY_TYPE: MergeStrategy = MergeStrategy::ByKey("type");

/// The merging list fields of the built-in kinds, after the `patchStrategy`
/// and `patchMergeKey` tags of the Go structs in `k8s.io/api`. The first rule
/// that fits wins. A list field not listed here (tolerations, args, command,
/// envFrom, a Node's taints, an Ingress's rules, ...) is replaced by the
/// patch's list.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    // metav1.ObjectMeta, in every object and in every pod template.
    under(METADATA, "ownerReferences", MergeStrategy::ByKey("uid")),
    under(METADATA, "finalizers", MergeStrategy::Union),
    // core/v1 PodSpec, wherever a pod spec sits.
    under(POD_SPEC, "containers", BY_NAME),
    under(POD_SPEC, "initContainers", BY_NAME),
    under(POD_SPEC, "ephemeralContainers", BY_NAME),
    under(POD_SPEC, "volumes", BY_NAME),
    under(POD_SPEC, "imagePullSecrets", BY_NAME),
    under(POD_SPEC, "resourceClaims", BY_NAME),
    under(POD_SPEC, "schedulingGates", BY_NAME),
    under(POD_SPEC, "hostAliases", BY_IP),
    under(POD_SPEC, "topologySpreadConstraints", MergeStrategy::ByKey("topologyKey")),
    // core/v1 Container (also init and ephemeral containers).
    under(CONTAINERS, "env", BY_NAME),
    under(CONTAINERS, "volumeMounts", MergeStrategy::ByKey("mountPath")),
    under(CONTAINERS, "volumeDevices", MergeStrategy::ByKey("devicePath")),
    under(CONTAINERS, "ports", MergeStrategy::ByPortAndProtocol("containerPort")),
    // core/v1 ContainerStatus.
    under(CONTAINER_STATUSES, "volumeMounts", MergeStrategy::ByKey("mountPath")),
    under(CONTAINER_STATUSES, "allocatedResourcesStatus", BY_NAME),
    // status.conditions of pods, nodes, namespaces, PVCs, Services, every
    // workload, HPAs (v2), ...
    under(STATUS, "conditions", BY_TYPE),
    // core/v1 PodStatus.
    at("Pod", STATUS, "podIPs", BY_IP),
    at("Pod", STATUS, "hostIPs", BY_IP),
    at("Pod", STATUS, "resourceClaimStatuses", BY_NAME),
    // core/v1 Node (its spec.taints have no strategy: replaced).
    at("Node", SPEC, "podCIDRs", MergeStrategy::Union),
    at("Node", STATUS, "addresses", BY_TYPE),
    // core/v1 Service: merged by port number (see MergeStrategy::ByPortAndProtocol).
    at("Service", SPEC, "ports", MergeStrategy::ByPortAndProtocol("port")),
    // core/v1 ServiceAccount (its imagePullSecrets have no strategy: replaced).
    at("ServiceAccount", &[], "secrets", BY_NAME),
];

/// How the list at `path` in an object of `kind` is merged, or `None` if the
/// patch's list replaces it. `path` is the field names from the object's root
/// to the list, list positions left out: a Deployment's containers are at
/// `["spec", "template", "spec", "containers"]`, their env vars at
/// `["spec", "template", "spec", "containers", "env"]`.
pub fn merge_key(kind: &str, path: &[&str]) -> Option<MergeStrategy> {
    let (field, parents) = path.split_last()?;
    RULES
        .iter()
        .find(|rule| rule.field == *field && rule.place.fits(kind, parents))
        .map(|rule| rule.strategy)
}

impl Place {
    fn fits(&self, kind: &str, parents: &[&str]) -> bool {
        match self {
            Place::Under(names) => parents.last().is_some_and(|parent| names.contains(parent)),
            Place::At {
                kind: only,
                parents: at,
            } => kind == *only && parents == *at,
        }
    }
}

impl MergeStrategy {
    /// The key elements are matched on, if the list holds objects.
    fn key(self) -> Option<&'static str> {
        match self {
            MergeStrategy::ByKey(key) | MergeStrategy::ByPortAndProtocol(key) => Some(key),
            MergeStrategy::Union => None,
        }
    }
}

/// Applies the strategic merge patch `patch` to `original`, an object of
/// `kind` (`"Deployment"`, `"Service"`, ...), returning the patched object.
/// Neither input is modified. A `null` original counts as `{}`.
pub fn apply(original: &Value, patch: &Value, kind: &str) -> Result<Value, StrategicMergeError> {
    let patch = match patch {
        Value::Object(patch) => patch,
        other => {
            return Err(StrategicMergeError::PatchNotObject {
                found: type_name(other),
            })
        }
    };
    let original = match original {
        Value::Object(original) => original.clone(),
        Value::Null => Object::new(),
        other => {
            return Err(StrategicMergeError::OriginalNotObject {
                found: type_name(other),
            })
        }
    };
    let merged = Merger { kind }.merge_map(original, patch, &mut Vec::new())?;
    Ok(Value::Object(merged))
}

/// One patch application: the kind decides which lists merge. Methods take
/// the path of field names to the value at hand, borrowed from the patch.
struct Merger<'k> {
    kind: &'k str,
}

/// The shape of a list's elements, which decides how it merges (upstream
/// looks at the Go type of the elements of both lists).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Elements {
    Objects,
    Scalars,
}

impl Merger<'_> {
    fn strategy(&self, path: &[&str]) -> Option<MergeStrategy> {
        merge_key(self.kind, path)
    }

    /// Merges a patch map into an existing map (upstream `mergeMap`): the
    /// map-level `$patch`, then `$retainKeys`, then the lists named by
    /// `$setElementOrder`, then the other fields, then the
    /// `$deleteFromPrimitiveList` lists.
    fn merge_map<'p>(
        &self,
        mut original: Object,
        patch: &'p Object,
        path: &mut Vec<&'p str>,
    ) -> Result<Object> {
        match patch.get(PATCH) {
            None => {}
            // The patch, as it is, instead of the original.
            Some(Value::String(directive)) if directive == "replace" => {
                let mut replacement = patch.clone();
                replacement.shift_remove(PATCH);
                return Ok(clean_map(replacement));
            }
            // Upstream leaves an empty map, not a missing key.
            Some(Value::String(directive)) if directive == "delete" => return Ok(Object::new()),
            Some(Value::String(directive)) if directive == "merge" => {
                return Err(StrategicMergeError::MergeDirective { path: render(path) })
            }
            Some(other) => return Err(unknown_directive(other, path)),
        }

        if let Some(retain) = patch.get(RETAIN_KEYS) {
            let keep = retained_keys(retain, patch, path)?;
            original.retain(|key, _| keep.contains(&key.as_str()));
        }

        let mut ordered: Vec<&'p str> = Vec::new();
        for (key, value) in patch {
            if let Some(field) = directive_field(key, SET_ELEMENT_ORDER, path)? {
                let order = directive_list(key, value, path)?;
                path.push(field);
                self.merge_ordered_list(&mut original, field, order, patch.get(field), path)?;
                path.pop();
                ordered.push(field);
            }
        }

        for (key, value) in patch {
            // Directive keys are handled around this loop; upstream would
            // keep an unknown `$...` field, which typed decoding then drops.
            if key.starts_with('$') || ordered.contains(&key.as_str()) {
                continue;
            }
            path.push(key);
            self.merge_field(&mut original, key, value, false, path)?;
            path.pop();
        }

        for (key, value) in patch {
            if let Some(field) = directive_field(key, DELETE_FROM_PRIMITIVE_LIST, path)? {
                path.push(field);
                self.merge_field(&mut original, field, value, true, path)?;
                path.pop();
            }
        }
        Ok(original)
    }

    /// Merges one field of the patch into `target`, the map being patched;
    /// `path` ends with `key`. With `deletions`, `patch` is the value of
    /// `$deleteFromPrimitiveList/<key>`.
    fn merge_field<'p>(
        &self,
        target: &mut Object,
        key: &'p str,
        patch: &'p Value,
        deletions: bool,
        path: &mut Vec<&'p str>,
    ) -> Result<()> {
        if patch.is_null() {
            target.shift_remove(key);
            return Ok(());
        }
        let Some(existing) = target.get_mut(key) else {
            // A new field: the patch's value. (A deletion list for a list
            // the object doesn't have creates nothing.)
            if !deletions {
                if let Some(value) = adopt(patch) {
                    target.insert(key.to_owned(), value);
                }
            }
            return Ok(());
        };
        match (existing, patch) {
            (Value::Object(existing), Value::Object(patch)) => {
                let merged = self.merge_map(std::mem::take(existing), patch, path)?;
                *existing = merged;
            }
            (Value::Array(existing), Value::Array(patch)) => {
                let strategy = self.strategy(path);
                let merged = if strategy.is_some() || deletions {
                    self.merge_list(std::mem::take(existing), patch, strategy, deletions, path)?
                } else {
                    clean_list(patch.clone())
                };
                *existing = merged;
            }
            // A scalar over a scalar of its type: the patch's value (upstream
            // sets it even from a deletion list).
            (existing, patch) if same_type(existing, patch) => *existing = patch.clone(),
            // A value of another type: the patch's, taken as a new value is
            // (a deletion list deletes nothing from a non-list).
            (existing, patch) => {
                if !deletions {
                    match adopt(patch) {
                        Some(value) => *existing = value,
                        None => {
                            target.shift_remove(key);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Merges two lists of a field with a merge strategy (upstream
    /// `mergeSlice`), or applies a `$deleteFromPrimitiveList` list.
    fn merge_list<'p>(
        &self,
        original: Vec<Value>,
        patch: &'p [Value],
        strategy: Option<MergeStrategy>,
        deletions: bool,
        path: &mut Vec<&'p str>,
    ) -> Result<Vec<Value>> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let elements = element_kind(&original, patch, path)?;
        let key = strategy.and_then(MergeStrategy::key);

        if elements == Elements::Scalars {
            if deletions {
                let mut kept = original;
                kept.retain(|item| !patch.iter().any(|gone| scalar_eq(gone, item)));
                return Ok(kept);
            }
            let mut union: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for value in original.iter().chain(patch) {
                if !union.iter().any(|seen| scalar_eq(seen, value)) {
                    union.push(value.clone());
                }
            }
            // A keyed list of scalars fails here, as upstream.
            let patch_order: Vec<&Value> = patch.iter().collect();
            let (named, server_only) = partition(union, &patch_order, key, path)?;
            let server_order: Vec<&Value> = original.iter().collect();
            return normalize_element_order(
                named,
                server_only,
                &patch_order,
                &server_order,
                key,
                path,
            );
        }

        let Some(key) = key else {
            return Err(StrategicMergeError::NoMergeKey { path: render(path) });
        };
        // List-level directive elements: deletions act on the original list
        // at once; `replace` makes the patch's other elements the list.
        let mut original = original;
        let mut replace = false;
        let mut items: Vec<&'p Value> = Vec::new();
        for item in patch {
            let Some(directive) = item.get(PATCH) else {
                items.push(item);
                continue;
            };
            match directive.as_str() {
                Some("delete") => {
                    let gone = require_merge_key(item, key, path)?;
                    let value = &gone[key];
                    original.retain(|kept| !key_value_eq(kept.get(key), Some(value)));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(StrategicMergeError::MergeDirective { path: render(path) })
                }
                _ => return Err(unknown_directive(directive, path)),
            }
        }
        if replace {
            original = items.iter().map(|item| clean((*item).clone())).collect();
            items.clear();
        }

        // Each element merges into the first element with its key (one it
        // added itself included), or is appended.
        let mut merged = original.clone();
        for &item in &items {
            let fields = require_merge_key(item, key, path)?;
            let value = &fields[key];
            match merged
                .iter()
                .position(|existing| key_value_eq(existing.get(key), Some(value)))
            {
                Some(at) => {
                    if let Value::Object(existing) = std::mem::take(&mut merged[at]) {
                        merged[at] = Value::Object(self.merge_map(existing, fields, path)?);
                    }
                }
                None => merged.push(clean(item.clone())),
            }
        }

        let patch_order: Vec<&Value> = items;
        let (named, server_only) = partition(merged, &patch_order, Some(key), path)?;
        let server_order: Vec<&Value> = original.iter().collect();
        normalize_element_order(
            named,
            server_only,
            &patch_order,
            &server_order,
            Some(key),
            path,
        )
    }

    /// A list named by `$setElementOrder/<field>` (upstream
    /// `mergePatchIntoOriginal`): merged with the patch's list, if any, then
    /// put in the directive's order, elements only the server has
    /// interleaved by their old positions.
    fn merge_ordered_list<'p>(
        &self,
        original: &mut Object,
        field: &'p str,
        order: &'p [Value],
        patch_list: Option<&'p Value>,
        path: &mut Vec<&'p str>,
    ) -> Result<()> {
        let as_list = |value: &'p Value| -> Result<&'p [Value]> {
            value.as_array().map(Vec::as_slice).ok_or_else(|| {
                StrategicMergeError::OrderedFieldNotList {
                    path: render(path),
                    found: type_name(value),
                }
            })
        };
        let original_list: Option<Vec<Value>> = match original.get(field) {
            None => None,
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => {
                return Err(StrategicMergeError::OrderedFieldNotList {
                    path: render(path),
                    found: type_name(other),
                })
            }
        };
        let patch_list = patch_list.map(as_list).transpose()?;
        let strategy = self.strategy(path);
        let key = strategy.and_then(MergeStrategy::key);
        check_order_agrees(patch_list.unwrap_or_default(), order, key, path)?;

        let merged = match (&original_list, patch_list) {
            (None, None) => return Ok(()),
            (Some(list), None) => list.clone(),
            (None, Some(patch)) => clean_list(remove_directives_in_list(patch)),
            (Some(list), Some(patch)) => match strategy {
                Some(_) => self.merge_list(list.clone(), patch, strategy, false, path)?,
                None => clean_list(patch.to_vec()),
            },
        };
        let server_order_list = original_list.unwrap_or_default();
        let elements = element_kind(&server_order_list, patch_list.unwrap_or_default(), path)?;
        if elements == Elements::Objects && key.is_none() {
            return Err(StrategicMergeError::NoMergeKey { path: render(path) });
        }
        let order: Vec<&Value> = order.iter().collect();
        let (named, server_only) = partition(merged, &order, key, path)?;
        let server_order: Vec<&Value> = server_order_list.iter().collect();
        let both = normalize_element_order(named, server_only, &order, &server_order, key, path)?;
        original.insert(field.to_owned(), Value::Array(both));
        Ok(())
    }
}

/// Whether two JSON values have the same type (Go's `reflect.TypeOf` on
/// decoded JSON: all numbers are one type).
fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The kind of elements two lists hold together (upstream
/// `sliceElementType`): all objects or all scalars of one type.
fn element_kind(original: &[Value], patch: &[Value], path: &[&str]) -> Result<Elements> {
    let mixed = || StrategicMergeError::MixedElements { path: render(path) };
    let mut items = original.iter().chain(patch);
    let first = items
        .next()
        .ok_or_else(|| StrategicMergeError::NothingToOrder { path: render(path) })?;
    if first.is_array() || items.any(|item| !same_type(first, item)) {
        return Err(mixed());
    }
    Ok(if first.is_object() {
        Elements::Objects
    } else {
        Elements::Scalars
    })
}

/// Splits `merged` into the elements `names` designates (by merge key, or by
/// value for scalars) and the others, keeping their order (upstream
/// `partitionMapsByPresentInList`/`partitionPrimitivesByPresentInList`).
/// Every element of a keyed list must carry the key.
fn partition(
    merged: Vec<Value>,
    names: &[&Value],
    key: Option<&'static str>,
    path: &[&str],
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut named = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        let found = match key {
            Some(key) => {
                let value = &require_merge_key(&item, key, path)?[key];
                names
                    .iter()
                    .any(|name| name.is_object() && key_value_eq(name.get(key), Some(value)))
            }
            None => names.iter().any(|name| scalar_eq(name, &item)),
        };
        if found {
            named.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((named, others))
}

/// Upstream `normalizeElementOrder`: the patch's elements sorted by
/// `patch_order`, the server-only ones by `server_order`, then interleaved.
fn normalize_element_order(
    named: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[&Value],
    server_order: &[&Value],
    key: Option<&'static str>,
    path: &[&str],
) -> Result<Vec<Value>> {
    let named = normalize_slice_order(named, patch_order, key, path)?;
    let server_only = normalize_slice_order(server_only, server_order, key, path)?;
    Ok(merge_sorted(server_only, named, server_order, key))
}

/// Upstream `normalizeSliceOrder`: a stable sort of `items` by their
/// positions in `order`. Its comparison says "less" whenever either element
/// is missing from `order`; Go's `sort.SliceStable` runs an insertion sort
/// (for up to 20 elements), reproduced here so the same inputs give the
/// same order. `$patch: delete` elements go last.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[&Value],
    key: Option<&'static str>,
    path: &[&str],
) -> Result<Vec<Value>> {
    let mut items = items;
    let mut doomed = Vec::new();
    if let Some(key) = key {
        for item in items.iter().chain(order.iter().copied()) {
            require_merge_key(item, key, path)?;
        }
        let (kept, gone): (Vec<Value>, Vec<Value>) = items
            .into_iter()
            .partition(|item| item.get(PATCH).and_then(Value::as_str) != Some("delete"));
        items = kept;
        doomed = gone;
    }
    let less = |a: &Value, b: &Value| match (index(order, a, key), index(order, b, key)) {
        (Some(i), Some(j)) => i < j,
        _ => true,
    };
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
    items.extend(doomed);
    Ok(items)
}

/// Upstream `mergeSortedSlice`: interleaves the server-only elements
/// (`left`) into the patch's (`right`), both already sorted; a server-only
/// element goes first only if it came before the next patch element in the
/// original list.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[&Value],
    key: Option<&'static str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let next = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => left.next(),
            (None, Some(_)) => right.next(),
            (Some(l), Some(r)) => {
                match (index(server_order, l, key), index(server_order, r, key)) {
                    (Some(li), Some(ri)) if li < ri => left.next(),
                    _ => right.next(),
                }
            }
        };
        out.extend(next);
    }
    out
}

/// Upstream `index`: the position of the first element of `list` with the
/// same merge key value as `item` (an element without the key matches
/// another without it, as Go's `nil == nil`), or equal to it for scalars.
fn index(list: &[&Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(key) => {
            let wanted = item.as_object().and_then(|item| item.get(key));
            list.iter().position(|probe| {
                let theirs = probe.as_object().and_then(|probe| probe.get(key));
                key_value_eq(wanted, theirs)
            })
        }
        None => list.iter().position(|probe| scalar_eq(probe, item)),
    }
}

/// Equality of two (possibly missing) merge key values.
fn key_value_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => scalar_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The patch's elements must appear in `$setElementOrder`, in the same
/// relative order (upstream `validatePatchWithSetOrderList`); deletions and
/// other directive elements are not counted.
fn check_order_agrees(
    patch: &[Value],
    order: &[Value],
    key: Option<&'static str>,
    path: &[&str],
) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut entries = order.iter();
    for item in patch.iter().filter(|item| item.get(PATCH).is_none()) {
        let matches = |entry: &Value| -> Result<bool> {
            Ok(match key {
                Some(key) => {
                    let mine = &require_merge_key(item, key, path)?[key];
                    let theirs = &require_merge_key(entry, key, path)?[key];
                    scalar_eq(mine, theirs)
                }
                None => scalar_eq(item, entry),
            })
        };
        let mut found = false;
        for entry in entries.by_ref() {
            if matches(entry)? {
                found = true;
                break;
            }
        }
        if !found {
            return Err(StrategicMergeError::SetElementOrderMismatch { path: render(path) });
        }
    }
    Ok(())
}

/// A value the patch introduces wholesale (a new field, or one replacing a
/// value of another type), as upstream takes it: `null` fields discarded,
/// objects carrying `$patch` dropped (`removeDirectives`); then the other
/// directive keys go too, as typed decoding drops them. `None`: the value
/// itself carried `$patch`, so the field is not set.
fn adopt(patch: &Value) -> Option<Value> {
    let mut value = patch.clone();
    discard_nulls(&mut value);
    remove_directives(value).map(clean)
}

/// Upstream `discardNullValuesFromPatch`: drops `null` fields of every map.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, inner| !inner.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Upstream `removeDirectives`: an object carrying `$patch` is dropped,
/// wherever it is (`None` when it is the value itself).
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(PATCH) => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(key, inner)| remove_directives(inner).map(|inner| (key, inner)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(remove_directives_in_list(&items))),
        other => Some(other),
    }
}

fn remove_directives_in_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|item| remove_directives(item.clone()))
        .collect()
}

/// What typed decoding makes of a value taken from the patch as it is:
/// directive keys (unknown fields) and `null` fields are gone, everywhere.
fn clean(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(clean_map(map)),
        Value::Array(items) => Value::Array(clean_list(items)),
        other => other,
    }
}

fn clean_map(map: Object) -> Object {
    map.into_iter()
        .filter(|(key, value)| !key.starts_with('$') && !value.is_null())
        .map(|(key, value)| (key, clean(value)))
        .collect()
}

fn clean_list(items: Vec<Value>) -> Vec<Value> {
    items.into_iter().map(clean).collect()
}

/// The element as an object carrying the merge key, or the error saying why not.
fn require_merge_key<'v>(item: &'v Value, key: &'static str, path: &[&str]) -> Result<&'v Object> {
    let object = item
        .as_object()
        .ok_or_else(|| StrategicMergeError::ElementNotObject {
            path: render(path),
            key,
            found: type_name(item),
        })?;
    if object.contains_key(key) {
        Ok(object)
    } else {
        Err(StrategicMergeError::MissingMergeKey {
            path: render(path),
            key,
            element: item.to_string(),
        })
    }
}

/// The field names of a `$retainKeys` directive, after checking that the
/// patch sets no field outside them (nulls and list directives aside).
/// Entries that are not strings name no field, as upstream.
fn retained_keys<'p>(retain: &'p Value, patch: &Object, path: &[&str]) -> Result<Vec<&'p str>> {
    let names: Vec<&str> = directive_list(RETAIN_KEYS, retain, path)?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (key, value) in patch {
        if !value.is_null() && !is_directive(key) && !names.contains(&key.as_str()) {
            return Err(StrategicMergeError::RetainKeysMissingField {
                path: render(path),
                field: key.clone(),
            });
        }
    }
    Ok(names)
}

/// Whether a map key is a directive rather than a field.
fn is_directive(key: &str) -> bool {
    key == PATCH
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// For a key `<prefix>/<field>`, the field; `None` if the key doesn't start
/// with `prefix`; an error if it does but names no field.
fn directive_field<'p>(
    key: &'p str,
    prefix: &'static str,
    path: &[&str],
) -> Result<Option<&'p str>> {
    let Some(rest) = key.strip_prefix(prefix) else {
        return Ok(None);
    };
    match rest.strip_prefix('/') {
        Some(field) => Ok(Some(field)),
        _ => Err(StrategicMergeError::MalformedDirectiveKey {
            path: render(path),
            key: key.to_owned(),
            prefix,
        }),
    }
}

/// A directive's value, which must be a list.
fn directive_list<'p>(directive: &str, value: &'p Value, path: &[&str]) -> Result<&'p [Value]> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| StrategicMergeError::DirectiveNotList {
            path: render(path),
            directive: directive.to_owned(),
            found: type_name(value),
        })
}

fn unknown_directive(value: &Value, path: &[&str]) -> StrategicMergeError {
    StrategicMergeError::UnknownPatchDirective {
        path: render(path),
        value: match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        },
    }
}

/// Equality of merge-key values and scalar list elements; numbers compare by
/// value (`80` equals `80.0`), as they do in Go's decoded JSON.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

/// A dotted field path for messages; the root is `<root>`.
fn render(path: &[&str]) -> String {
    if path.is_empty() {
        "<root>".to_owned()
    } else {
        path.join(".")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Fails if any key anywhere in `value` is a patch directive.
    fn assert_no_directives(value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    assert!(!is_directive(key), "directive {key:?} left in {value}");
                    assert_no_directives(inner);
                }
            }
            Value::Array(items) => items.iter().for_each(assert_no_directives),
            _ => {}
        }
    }

    fn patched(original: Value, patch: Value, kind: &str) -> Value {
        let out = apply(&original, &patch, kind).expect("patch applies");
        assert_no_directives(&out);
        out
    }

    fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": containers}
                }
            }
        })
    }

    fn containers_of(object: &Value) -> &Vec<Value> {
        object["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
    }

    fn names(list: &Value) -> Vec<&str> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|item| item["name"].as_str().expect("a name"))
            .collect()
    }

    #[test]
    fn set_image_patches_one_container_and_keeps_the_rest() {
        let original = deployment(json!([
            {"name": "web", "image": "nginx:1.1",
             "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "env": [{"name": "MODE", "value": "prod"}]},
            {"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]}
        ]));
        // What `kubectl set image deployment/web web=nginx:1.2` sends.
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.2"}
        ]}}}});
        let out = patched(original, patch, "Deployment");
        let containers = containers_of(&out);
        assert_eq!(containers.len(), 2);
        assert_eq!(
            containers[0],
            json!({"name": "web", "image": "nginx:1.2",
                   "ports": [{"containerPort": 80, "protocol": "TCP"}],
                   "env": [{"name": "MODE", "value": "prod"}]})
        );
        assert_eq!(
            containers[1],
            json!({"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]})
        );
        assert_eq!(out["spec"]["replicas"], 3);
    }

    #[test]
    fn env_vars_are_added_and_deleted_by_name() {
        let original = deployment(json!([{"name": "web", "image": "nginx", "env": [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "2"}
        ]}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [
            {"name": "C", "value": "3"},
            {"name": "A", "$patch": "delete"},
            {"name": "B", "value": "two"}
        ]}]}}}});
        let out = patched(original, patch, "Deployment");
        // The elements the patch names take the patch's order.
        assert_eq!(
            containers_of(&out)[0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "B", "value": "two"}])
        );
    }

    #[test]
    fn kubectl_set_env_patch_with_element_orders() {
        // `kubectl set env deployment/web C=3` computes a two-way patch.
        let original = deployment(json!([{"name": "web", "image": "nginx", "env": [
            {"name": "A", "value": "1"}
        ]}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                "env": [{"name": "C", "value": "3"}],
                "name": "web"
            }]
        }}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            containers_of(&out)[0],
            json!({"name": "web", "image": "nginx",
                   "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]})
        );
    }

    #[test]
    fn set_element_order_reorders_and_adds() {
        let original = deployment(json!([
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
            "containers": [{"name": "c", "image": "c:1"}]
        }}}});
        let out = patched(original, patch, "Deployment");
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(names(&spec["containers"]), ["c", "b", "a"]);
        assert_eq!(spec["containers"][1]["image"], "b:1");
        assert!(spec.get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn set_element_order_alone_reorders_and_keeps_server_only_elements() {
        // `istio-proxy` was injected by the server; the patch never saw it.
        let original = deployment(json!([
            {"name": "a", "image": "a:1"},
            {"name": "istio-proxy", "image": "proxy"},
            {"name": "b", "image": "b:1"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]
        }}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            names(&out["spec"]["template"]["spec"]["containers"]),
            ["istio-proxy", "b", "a"]
        );
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch_list() {
        let original = deployment(json!([{"name": "a", "image": "a:1"}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "z", "image": "z:1"}]
        }}}});
        let err = apply(&original, &patch, "Deployment").unwrap_err();
        assert!(matches!(
            err,
            StrategicMergeError::SetElementOrderMismatch { .. }
        ));
        assert!(
            err.to_string().contains("spec.template.spec.containers"),
            "{err}"
        );
    }

    #[test]
    fn new_elements_go_first_without_an_element_order() {
        let original = deployment(json!([
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c:1"},
            {"name": "a", "image": "a:2"}
        ]}}}});
        let out = patched(original, patch, "Deployment");
        // Upstream's order: the patch's elements in the patch's order, and
        // `b` (server only) after `a`, which preceded it on the server.
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(names(containers), ["c", "a", "b"]);
        assert_eq!(containers[1]["image"], "a:2");
    }

    #[test]
    fn retain_keys_drops_unlisted_fields_then_merges() {
        // kubectl apply switching a Deployment from RollingUpdate to Recreate.
        let original = json!({"spec": {"strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
        }}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(out, json!({"spec": {"strategy": {"type": "Recreate"}}}));

        // A volume switching source, inside a merged list.
        let original = json!({"spec": {"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}}
        ]}});
        let patch = json!({"spec": {"volumes": [{
            "$retainKeys": ["hostPath", "name"],
            "name": "data",
            "hostPath": {"path": "/srv/data"}
        }]}});
        let out = patched(original, patch, "Pod");
        assert_eq!(
            out["spec"]["volumes"],
            json!([
                {"name": "data", "hostPath": {"path": "/srv/data"}},
                {"name": "cache", "emptyDir": {"medium": "Memory"}}
            ])
        );
    }

    #[test]
    fn retain_keys_must_cover_the_patch() {
        let original = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        let err = apply(&original, &patch, "Deployment").unwrap_err();
        assert_eq!(
            err,
            StrategicMergeError::RetainKeysMissingField {
                path: "spec.strategy".into(),
                field: "rollingUpdate".into()
            }
        );
    }

    #[test]
    fn null_deletes_keys_and_unmatched_nulls_vanish() {
        // `kubectl label pod web tier-` and `kubectl annotate pod web note-`.
        let original = json!({"metadata": {
            "name": "web",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": "x"}
        }});
        let patch = json!({"metadata": {
            "labels": {"tier": null, "missing": null, "env": "prod"},
            "annotations": null,
            "newMap": {"a": null, "b": 1}
        }});
        let out = patched(original, patch, "Pod");
        assert_eq!(
            out,
            json!({"metadata": {
                "name": "web",
                "labels": {"app": "web", "env": "prod"},
                "newMap": {"b": 1}
            }})
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let original = json!({"kind": "Service", "spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}
        ]}});
        let patch = json!({"spec": {"ports": [
            {"port": 80, "targetPort": 9090},
            {"name": "dns", "port": 53, "protocol": "UDP"}
        ]}});
        let out = patched(original, patch, "Service");
        assert_eq!(
            out["spec"]["ports"],
            json!([
                {"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}
            ])
        );
        // What kubectl apply sends when a port gains a name and loses its
        // protocol: still one port.
        let original =
            json!({"spec": {"ports": [{"port": 3001, "protocol": "TCP", "targetPort": 3001}]}});
        let patch = json!({"spec": {
            "$setElementOrder/ports": [{"port": 3001}],
            "ports": [{"port": 3001, "protocol": null, "name": "http"}]
        }});
        let out = patched(original, patch, "Service");
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 3001, "targetPort": 3001, "name": "http"}])
        );
    }

    #[test]
    fn container_ports_merge_by_container_port_alone() {
        let original = json!({"spec": {"containers": [{"name": "dns", "ports": [
            {"containerPort": 53, "protocol": "TCP"}
        ]}]}});
        let patch = json!({"spec": {"containers": [{"name": "dns", "ports": [
            {"containerPort": 53, "protocol": "UDP", "name": "dns-udp"}
        ]}]}});
        // Upstream ignores the protocol: 53/UDP merges into 53/TCP.
        let out = patched(original.clone(), patch, "Pod");
        assert_eq!(
            out["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 53, "protocol": "UDP", "name": "dns-udp"}])
        );
        let patch = json!({"spec": {"containers": [{"name": "dns", "ports": [
            {"containerPort": 53, "name": "dns-tcp"}
        ]}]}});
        let out = patched(original, patch, "Pod");
        assert_eq!(
            out["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}])
        );
    }

    #[test]
    fn finalizers_union_and_delete_from_primitive_list() {
        let original = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}});
        let patch = json!({"metadata": {"finalizers": ["b", "c"]}});
        let out = patched(original.clone(), patch, "ConfigMap");
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));

        let patch = json!({"metadata": {
            "$deleteFromPrimitiveList/finalizers": ["a", "zzz"],
            "$setElementOrder/finalizers": ["b"]
        }});
        let out = patched(original.clone(), patch, "ConfigMap");
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));

        // Deleting from a list the object doesn't have creates nothing.
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/gone": ["a"]}});
        let out = patched(original, patch, "ConfigMap");
        assert!(out["metadata"].get("gone").is_none());
    }

    #[test]
    fn kubectl_apply_three_way_patch() {
        let last_applied = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"name":"web","namespace":"default"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.2","name":"web"}]}}}}"#;
        let mut original = deployment(json!([{
            "name": "web", "image": "nginx:1.1",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "imagePullPolicy": "IfNotPresent",
            "resources": {},
            "terminationMessagePath": "/dev/termination-log"
        }]));
        original["metadata"]["annotations"] = json!({
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "deployment.kubernetes.io/revision": "1"
        });
        original["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let patch = json!({
            "metadata": {"annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": last_applied
            }},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "web"}],
                "containers": [{"image": "nginx:1.2", "name": "web"}]
            }}}
        });
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            out["metadata"]["annotations"],
            json!({
                "kubectl.kubernetes.io/last-applied-configuration": last_applied,
                "deployment.kubernetes.io/revision": "1"
            })
        );
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(
            spec["containers"],
            json!([{
                "name": "web", "image": "nginx:1.2",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "imagePullPolicy": "IfNotPresent",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log"
            }])
        );
    }

    #[test]
    fn kubectl_apply_removing_a_container_and_an_env_var() {
        let original = deployment(json!([
            {"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "old", "image": "busybox"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "B"}], "name": "web",
                 "env": [{"$patch": "delete", "name": "A"}]},
                {"$patch": "delete", "name": "old"}
            ]
        }}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            containers_of(&out),
            &vec![json!({"name": "web", "image": "nginx", "env": [{"name": "B", "value": "2"}]})]
        );
    }

    #[test]
    fn kubectl_rollout_restart() {
        let original = deployment(json!([{"name": "web", "image": "nginx"}]));
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2024-05-01T12:00:00Z"
        }}}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            out["spec"]["template"]["metadata"],
            json!({
                "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T12:00:00Z"}
            })
        );
        assert_eq!(containers_of(&out).len(), 1);
    }

    #[test]
    fn kubectl_scale_and_rollout_pause() {
        let original = deployment(json!([{"name": "web", "image": "nginx"}]));
        let out = patched(original, json!({"spec": {"replicas": 5}}), "Deployment");
        assert_eq!(out["spec"]["replicas"], 5);
        assert_eq!(
            out["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        let out = patched(out, json!({"spec": {"paused": true}}), "Deployment");
        assert_eq!(out["spec"]["paused"], true);
        assert_eq!(out["spec"]["replicas"], 5);
    }

    #[test]
    fn patch_replace_on_a_map_replaces_it() {
        // How a StatefulSet/DaemonSet rollout undo restores a template.
        let original = deployment(json!([
            {"name": "web", "image": "nginx:1.2", "env": [{"name": "A", "value": "1"}]}
        ]));
        let patch = json!({"spec": {"template": {
            "$patch": "replace",
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.1"}]}
        }}});
        let out = patched(original, patch, "StatefulSet");
        assert_eq!(
            out["spec"]["template"],
            json!({
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.1"}]}
            })
        );
    }

    #[test]
    fn patch_replace_in_a_list_replaces_the_list() {
        let original = deployment(json!([
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c:1"},
            {"$patch": "replace"}
        ]}}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "c:1"}])
        );
    }

    #[test]
    fn patch_directives_on_maps_behave_as_upstream() {
        let original = json!({"spec": {
            "securityContext": {"runAsUser": 1000},
            "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]}
        }});
        // `delete` leaves an empty map; on a missing map, and `replace` on a
        // missing map, nothing is set.
        let patch = json!({"spec": {
            "securityContext": {"$patch": "delete"},
            "dnsConfig": {"$patch": "replace", "nameservers": ["1.1.1.1"], "searches": null},
            "affinity": {"$patch": "delete"},
            "overhead": {"$patch": "replace", "cpu": "1"}
        }});
        let out = patched(original.clone(), patch, "Pod");
        assert_eq!(
            out,
            json!({"spec": {"securityContext": {}, "dnsConfig": {"nameservers": ["1.1.1.1"]}}})
        );
        // `merge` is refused, on a map as in a list.
        let patch = json!({"spec": {"dnsConfig": {"$patch": "merge", "nameservers": ["1.1.1.1"]}}});
        assert_eq!(
            apply(&original, &patch, "Pod").unwrap_err(),
            StrategicMergeError::MergeDirective {
                path: "spec.dnsConfig".into()
            }
        );
        // On the whole object, `delete` leaves `{}`.
        assert_eq!(
            patched(original, json!({"$patch": "delete"}), "Pod"),
            json!({})
        );
    }

    #[test]
    fn lists_without_merge_keys_are_replaced() {
        let original = json!({"spec": {
            "tolerations": [{"key": "a", "operator": "Exists"}],
            "containers": [{"name": "web", "args": ["-a", "-b"], "envFrom": [{"configMapRef": {"name": "x"}}]}]
        }});
        let patch = json!({"spec": {
            "tolerations": [{"key": "b", "operator": "Exists"}],
            "containers": [{"name": "web", "args": ["-c"], "envFrom": [{"secretRef": {"name": "y"}}]}]
        }});
        let out = patched(original, patch, "Pod");
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "b", "operator": "Exists"}])
        );
        assert_eq!(out["spec"]["containers"][0]["args"], json!(["-c"]));
        assert_eq!(
            out["spec"]["containers"][0]["envFrom"],
            json!([{"secretRef": {"name": "y"}}])
        );
    }

    #[test]
    fn status_conditions_merge_by_type() {
        let original = json!({"status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
        ]}});
        let patch = json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "reason": null}
        ]}});
        let out = patched(original, patch, "Pod");
        assert_eq!(
            out["status"],
            json!({"phase": "Running", "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"}
            ]})
        );
    }

    #[test]
    fn owner_references_merge_by_uid_and_node_taints_are_replaced() {
        let original = json!({"metadata": {"ownerReferences": [
            {"uid": "1", "kind": "ReplicaSet", "name": "a"}
        ]}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
        let patch = json!({"metadata": {"ownerReferences": [
            {"uid": "2", "kind": "ReplicaSet", "name": "b"}
        ]}, "spec": {"taints": [{"key": "k", "$patch": "delete"}, {"key": "j", "effect": "NoExecute"}]}});
        let out = patched(original, patch, "Node");
        assert_eq!(
            out["metadata"]["ownerReferences"],
            json!([{"uid": "2", "kind": "ReplicaSet", "name": "b"}, {"uid": "1", "kind": "ReplicaSet", "name": "a"}])
        );
        // NodeSpec.taints has no patch strategy: the patch's list, as sent
        // (typed decoding keeps the element, minus the directive key).
        assert_eq!(
            out["spec"]["taints"],
            json!([{"key": "k"}, {"key": "j", "effect": "NoExecute"}])
        );
    }

    #[test]
    fn new_values_from_the_patch_lose_their_directives() {
        let original = json!({"spec": {}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "web", "env": [{"name": "A", "value": "1"}, {"name": "B", "$patch": "delete"}]}],
            "securityContext": {"$patch": "delete"}
        }}}});
        let out = patched(original, patch, "Deployment");
        assert_eq!(
            out,
            json!({"spec": {"template": {"spec": {
                "containers": [{"name": "web", "env": [{"name": "A", "value": "1"}]}]
            }}}})
        );
    }

    #[test]
    fn merge_key_table_uses_kind_and_context() {
        let container_ports = ["spec", "template", "spec", "containers", "ports"];
        assert_eq!(
            merge_key("Deployment", &container_ports),
            Some(MergeStrategy::ByPortAndProtocol("containerPort"))
        );
        assert_eq!(
            merge_key("Service", &["spec", "ports"]),
            Some(MergeStrategy::ByPortAndProtocol("port"))
        );
        assert_eq!(merge_key("Endpoints", &["subsets", "ports"]), None);
        assert_eq!(
            merge_key(
                "CronJob",
                &["spec", "jobTemplate", "spec", "template", "spec", "volumes"]
            ),
            Some(MergeStrategy::ByKey("name"))
        );
        assert_eq!(
            merge_key("Pod", &["spec", "initContainers", "volumeMounts"]),
            Some(MergeStrategy::ByKey("mountPath"))
        );
        assert_eq!(merge_key("Pod", &["spec", "tolerations"]), None);
        assert_eq!(merge_key("Pod", &["spec", "containers", "args"]), None);
        assert_eq!(merge_key("Node", &["spec", "taints"]), None);
        assert_eq!(
            merge_key("Pod", &["status", "containerStatuses", "volumeMounts"]),
            Some(MergeStrategy::ByKey("mountPath"))
        );
        assert_eq!(
            merge_key("Node", &["status", "addresses"]),
            Some(MergeStrategy::ByKey("type"))
        );
        assert_eq!(merge_key("Namespace", &["spec", "finalizers"]), None);
        assert_eq!(
            merge_key("Namespace", &["metadata", "finalizers"]),
            Some(MergeStrategy::Union)
        );
        assert_eq!(merge_key("ServiceAccount", &["imagePullSecrets"]), None);
        assert_eq!(
            merge_key("ServiceAccount", &["secrets"]),
            Some(MergeStrategy::ByKey("name"))
        );
        assert_eq!(merge_key("Pod", &[]), None);
    }

    #[test]
    fn malformed_patches_are_rejected_with_clear_errors() {
        let original = deployment(json!([{"name": "web", "image": "nginx"}]));
        let cases = [
            (json!([1, 2]), "must be a JSON object"),
            (
                json!({"spec": {"$patch": "explode"}}),
                "spec: unknown patch directive \"$patch: explode\"",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
                "spec.template.spec.containers: list element has no merge key \"name\"",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": ["web"]}}}}),
                "list elements are not all of one type",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "merge"}]}}}}),
                "spec.template.spec.containers: \"$patch: merge\" is not supported",
            ),
            (
                json!({"spec": {"template": {"spec": {"tolerations": [{"key": "a"}],
                    "$deleteFromPrimitiveList/tolerations": [{"key": "a"}]}}}}),
                "a list of objects without a merge key cannot be merged",
            ),
            (
                json!({"spec": {"template": {"spec": {"$setElementOrder/volumes": [{"name": "a"}],
                    "volumes": []}}}}),
                "spec.template.spec.volumes: $setElementOrder names a list that is empty",
            ),
            (
                json!({"metadata": {"$setElementOrder": []}}),
                "malformed directive key",
            ),
            (
                json!({"metadata": {"$setElementOrder/finalizers": "a"}}),
                "$setElementOrder/finalizers must be a list",
            ),
            (
                json!({"spec": {"$retainKeys": "replicas"}}),
                "$retainKeys must be a list",
            ),
        ];
        for (patch, expected) in cases {
            let err = apply(&original, &patch, "Deployment").unwrap_err();
            assert!(err.to_string().contains(expected), "{patch}: got {err}");
        }
        let err = apply(&json!("x"), &json!({}), "Pod").unwrap_err();
        assert_eq!(
            err,
            StrategicMergeError::OriginalNotObject { found: "a string" }
        );
    }

    #[test]
    fn numbers_match_by_value_and_key_order_is_kept() {
        let original = json!({"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "name": "http"}]}, "status": {}});
        let patch = json!({"spec": {"ports": [{"port": 80.0, "name": "web"}]}, "metadata": {"labels": {"a": "b"}}});
        let out = patched(original, patch, "Service");
        assert_eq!(out["spec"]["ports"], json!([{"port": 80.0, "name": "web"}]));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["kind", "metadata", "spec", "status"]);
        let null_original = apply(&Value::Null, &json!({"a": 1}), "ConfigMap").unwrap();
        assert_eq!(null_original, json!({"a": 1}));
    }
}
