//! Strategic merge patch (`application/strategic-merge-patch+json`), applied
//! the way kube-apiserver applies it.
//!
//! This module owns one thing: [`apply`], which merges a strategic merge patch
//! into a stored object, plus the table ([`merge_key`]) saying which lists are
//! merged element by element and by which key. It mirrors the *apply* half of
//! apimachinery's `pkg/util/strategicpatch` (`StrategicMergeMapPatch` with
//! `MergeParallelList` and `IgnoreUnmatchedNulls` set, as the API server uses it):
//!
//! - Maps merge recursively; a `null` value deletes the key.
//! - Lists whose field carries `patchStrategy:"merge"` in `k8s.io/api` are
//!   merged: lists of objects element by element, matched on the
//!   `patchMergeKey`; lists of scalars as a set union (`metadata.finalizers`).
//!   Every other list is replaced by the patch's list.
//! - Directives: `$patch: replace|delete|merge` (on a map, or as a list
//!   element), `$retainKeys`, `$setElementOrder/<field>` and
//!   `$deleteFromPrimitiveList/<field>`. No directive key ever survives into
//!   the result, however deeply it is nested.
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
//! - The two-way and three-way *diff* (creating patches) is the client's job
//!   and lives elsewhere; this is only the server-side apply of a patch.
//! - Without a `$setElementOrder` directive, elements that only the patch has
//!   are appended after the existing ones, and existing elements keep their
//!   places. (apimachinery's best-effort ordering puts new elements first and
//!   may move existing ones to follow the patch's order.) With the directive,
//!   the order follows apimachinery's algorithm.
//! - Port lists (a container's `ports`, a Service's `spec.ports`) are matched
//!   on the port number as upstream does, but an element whose `protocol` is
//!   given only matches an element with the same protocol (absent = `TCP`),
//!   so `53/TCP` and `53/UDP` stay two ports instead of being merged into one.
//! - Lenient where upstream is inconsistent: `$patch: merge` is accepted (and
//!   means ordinary merging) on maps and list elements; `$patch: delete` on a
//!   map removes the key rather than leaving `{}`; values adopted wholesale
//!   from the patch are stripped of directives and `null`s too.

use serde_json::{Map, Value};

type Object = Map<String, Value>;

/// `$patch: replace | delete | merge`.
const PATCH: &str = "$patch";
/// `$retainKeys: [field, ...]`: drop every other field of the original map.
const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [...]`: the order of the merged list.
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>: [...]`: values to remove from a scalar list.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
/// The protocol of a port that doesn't name one (Kubernetes' default).
const DEFAULT_PROTOCOL: &str = "TCP";

/// What can go wrong applying a strategic merge patch. Each message names the
/// place in the object (a dotted field path, list positions left out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicMergeError {
    #[error("a strategic merge patch must be a JSON object, not {found}")]
    PatchNotObject { found: &'static str },
    #[error("the object to patch must be a JSON object, not {found}")]
    OriginalNotObject { found: &'static str },
    #[error(
        "{path}: unknown patch directive \"$patch: {value}\" (expected replace, delete or merge)"
    )]
    UnknownPatchDirective { path: String, value: String },
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
    #[error("{path}: $retainKeys must list field names, found {value}")]
    RetainKeysNotString { path: String, value: String },
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
    /// Like [`MergeStrategy::ByKey`] for port lists keyed by a port number;
    /// additionally, a patch element naming a `protocol` only matches an
    /// element with that protocol (absent means `TCP`).
    ByPortAndProtocol(&'static str),
    /// A list of scalars merged as a set union, keeping first occurrences
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
/// envFrom, containerStatuses, ...) is replaced by the patch's list.
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
    // status.conditions of pods, nodes, namespaces, PVCs, every workload, ...
    under(STATUS, "conditions", BY_TYPE),
    // core/v1 PodStatus.
    at("Pod", STATUS, "podIPs", BY_IP),
    at("Pod", STATUS, "hostIPs", BY_IP),
    at("Pod", STATUS, "resourceClaimStatuses", BY_NAME),
    // core/v1 Node.
    at("Node", SPEC, "taints", MergeStrategy::ByKey("key")),
    at("Node", SPEC, "podCIDRs", MergeStrategy::Union),
    at("Node", STATUS, "addresses", BY_TYPE),
    // core/v1 Service.
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

    /// Whether `probe` (a patch element, a `$setElementOrder` entry or an
    /// element of the original list) designates the list element `item`.
    fn matches(self, probe: &Value, item: &Value) -> bool {
        let key_matches = |key: &str| match (probe.get(key), item.get(key)) {
            (Some(a), Some(b)) => probe.is_object() && item.is_object() && scalar_eq(a, b),
            _ => false,
        };
        match self {
            MergeStrategy::Union => scalar_eq(probe, item),
            MergeStrategy::ByKey(key) => key_matches(key),
            MergeStrategy::ByPortAndProtocol(key) => {
                key_matches(key)
                    && probe.get("protocol").is_none_or(|wanted| {
                        let theirs = item
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or(DEFAULT_PROTOCOL);
                        wanted.as_str() == Some(theirs)
                    })
            }
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
    let merged = Merger { kind }.merge_map(Some(original), patch, &mut Vec::new())?;
    // `$patch: delete` on the whole object leaves nothing, as upstream.
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// One patch application: the kind decides which lists merge. Methods take
/// the path of field names to the value at hand, borrowed from the patch.
struct Merger<'k> {
    kind: &'k str,
}

impl Merger<'_> {
    fn strategy(&self, path: &[&str]) -> Option<MergeStrategy> {
        merge_key(self.kind, path)
    }

    /// Merges a patch map into an original map (`None`: the key is new).
    /// Returns `None` when the patch deletes the map (`$patch: delete`).
    fn merge_map<'p>(
        &self,
        original: Option<Object>,
        patch: &'p Object,
        path: &mut Vec<&'p str>,
    ) -> Result<Option<Object>> {
        match patch.get(PATCH) {
            None => {}
            Some(Value::String(directive)) if directive == "merge" => {}
            Some(Value::String(directive)) if directive == "replace" => {
                return self.merge_fields(Object::new(), patch, path).map(Some);
            }
            Some(Value::String(directive)) if directive == "delete" => return Ok(None),
            Some(other) => return Err(unknown_directive(other, path)),
        }
        self.merge_fields(original.unwrap_or_default(), patch, path)
            .map(Some)
    }

    /// The field-by-field part of [`Merger::merge_map`], with the map-level
    /// directives: `$retainKeys` first, then the fields, then reordering for
    /// `$setElementOrder` lists the patch doesn't touch, then
    /// `$deleteFromPrimitiveList`.
    fn merge_fields<'p>(
        &self,
        mut original: Object,
        patch: &'p Object,
        path: &mut Vec<&'p str>,
    ) -> Result<Object> {
        if let Some(retain) = patch.get(RETAIN_KEYS) {
            let keep = retained_keys(retain, patch, path)?;
            original.retain(|key, _| keep.contains(&key.as_str()));
        }

        let mut orders: Vec<(&'p str, &'p [Value])> = Vec::new();
        let mut deletions: Vec<(&'p str, &'p [Value])> = Vec::new();
        for (key, value) in patch {
            if let Some(field) = directive_field(key, SET_ELEMENT_ORDER, path)? {
                orders.push((field, directive_list(key, value, path)?));
            } else if let Some(field) = directive_field(key, DELETE_FROM_PRIMITIVE_LIST, path)? {
                deletions.push((field, directive_list(key, value, path)?));
            }
        }

        for (key, value) in patch {
            if is_directive(key) {
                continue;
            }
            let order = orders
                .iter()
                .find(|(field, _)| field == key)
                .map(|(_, order)| *order);
            path.push(key);
            self.merge_field(&mut original, key, value, order, path)?;
            path.pop();
        }

        // `$setElementOrder` alone (the list's contents unchanged) reorders.
        for (field, order) in orders {
            if patch.contains_key(field) {
                continue;
            }
            path.push(field);
            if let (Some(strategy), Some(Value::Array(list))) =
                (self.strategy(path), original.get_mut(field))
            {
                check_order_entries(order, strategy, path)?;
                let current = std::mem::take(list);
                *list = reorder(current.clone(), order, &current, strategy);
            }
            path.pop();
        }

        for (field, doomed) in deletions {
            if let Some(Value::Array(list)) = original.get_mut(field) {
                list.retain(|item| !doomed.iter().any(|gone| scalar_eq(gone, item)));
            }
        }
        Ok(original)
    }

    /// Merges one field of the patch into `target`, which holds the original
    /// map being patched. `path` ends with `key`.
    fn merge_field<'p>(
        &self,
        target: &mut Object,
        key: &'p str,
        patch: &'p Value,
        order: Option<&'p [Value]>,
        path: &mut Vec<&'p str>,
    ) -> Result<()> {
        if patch.is_null() {
            target.shift_remove(key);
            return Ok(());
        }
        let existing = target.get_mut(key).map(std::mem::take);
        let merged = match (existing, patch) {
            (Some(Value::Object(existing)), Value::Object(patch)) => self
                .merge_map(Some(existing), patch, path)?
                .map(Value::Object),
            (Some(Value::Array(existing)), Value::Array(patch)) => {
                Some(Value::Array(self.merge_list(existing, patch, order, path)?))
            }
            // New key, or a different type (a scalar, a list replacing a map,
            // ...): the patch's value, without its directives.
            _ => self.adopt(patch, order, path)?,
        };
        match merged {
            // Inserting over an existing key keeps its position.
            Some(value) => {
                target.insert(key.to_owned(), value);
            }
            None => {
                target.shift_remove(key);
            }
        }
        Ok(())
    }

    /// A value taken from the patch as it is (nothing to merge it with):
    /// merged into nothing, which strips directives and `null`s.
    fn adopt<'p>(
        &self,
        patch: &'p Value,
        order: Option<&'p [Value]>,
        path: &mut Vec<&'p str>,
    ) -> Result<Option<Value>> {
        Ok(match patch {
            Value::Null => None,
            Value::Object(patch) => self.merge_map(None, patch, path)?.map(Value::Object),
            Value::Array(patch) => Some(Value::Array(self.merge_list(
                Vec::new(),
                patch,
                order,
                path,
            )?)),
            scalar => Some(scalar.clone()),
        })
    }

    /// Merges a patch list into an original list, by the field's strategy.
    fn merge_list<'p>(
        &self,
        original: Vec<Value>,
        patch: &'p [Value],
        order: Option<&'p [Value]>,
        path: &mut Vec<&'p str>,
    ) -> Result<Vec<Value>> {
        match self.strategy(path) {
            Some(strategy) => self.merge_strategic_list(original, patch, strategy, order, path),
            None => self.replacement_list(patch, path),
        }
    }

    /// A list without a merge strategy: the patch's list replaces the
    /// original. Its objects are cleaned of directives; objects carrying
    /// `$patch` are list-level directives, meaningless here, and dropped.
    fn replacement_list<'p>(
        &self,
        patch: &'p [Value],
        path: &mut Vec<&'p str>,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(patch.len());
        for item in patch {
            match item {
                Value::Object(item) if item.contains_key(PATCH) => {}
                Value::Object(item) => {
                    out.extend(self.merge_map(None, item, path)?.map(Value::Object))
                }
                Value::Array(inner) => out.push(Value::Array(self.replacement_list(inner, path)?)),
                other => out.push(other.clone()),
            }
        }
        Ok(out)
    }

    /// A list with a merge strategy. List-level directive elements first
    /// (`$patch: delete` removes the elements with that key, `$patch:
    /// replace` discards the original list), then each patch element merges
    /// into the original element it matches or is appended, then
    /// `$setElementOrder` (if any) orders the result.
    fn merge_strategic_list<'p>(
        &self,
        original: Vec<Value>,
        patch: &'p [Value],
        strategy: MergeStrategy,
        order: Option<&'p [Value]>,
        path: &mut Vec<&'p str>,
    ) -> Result<Vec<Value>> {
        let mut replace = false;
        let mut doomed: Vec<&'p Value> = Vec::new();
        let mut items: Vec<&'p Value> = Vec::new();
        for item in patch {
            let Some(directive) = item.as_object().and_then(|item| item.get(PATCH)) else {
                items.push(item);
                continue;
            };
            match directive.as_str() {
                Some("delete") => doomed.push(item),
                Some("replace") => replace = true,
                // An element to merge as usual, if it says which one.
                Some("merge") => {
                    if strategy.key().is_some_and(|key| item.get(key).is_some()) {
                        items.push(item);
                    }
                }
                _ => return Err(unknown_directive(directive, path)),
            }
        }

        // The original order, for `$setElementOrder`'s interleaving.
        let server_order = if order.is_some() {
            original.clone()
        } else {
            Vec::new()
        };
        let mut merged = if replace { Vec::new() } else { original };

        match strategy.key() {
            None => {
                // Union of scalars; `$patch: delete` elements mean nothing
                // here (scalar lists delete with $deleteFromPrimitiveList).
                let mut union: Vec<Value> = Vec::with_capacity(merged.len() + items.len());
                for value in merged
                    .into_iter()
                    .chain(items.iter().map(|item| (*item).clone()))
                {
                    if !union.iter().any(|seen| scalar_eq(seen, &value)) {
                        union.push(value);
                    }
                }
                merged = union;
            }
            Some(key) => {
                for gone in doomed {
                    require_merge_key(gone, key, path)?;
                    merged.retain(|item| !strategy.matches(gone, item));
                }
                for &item in &items {
                    let fields = require_merge_key(item, key, path)?;
                    match merged
                        .iter()
                        .position(|existing| strategy.matches(item, existing))
                    {
                        Some(at) => {
                            if let Value::Object(existing) = std::mem::take(&mut merged[at]) {
                                match self.merge_map(Some(existing), fields, path)? {
                                    Some(object) => merged[at] = Value::Object(object),
                                    None => {
                                        merged.remove(at);
                                    }
                                }
                            }
                        }
                        None => {
                            merged.extend(self.merge_map(None, fields, path)?.map(Value::Object))
                        }
                    }
                }
            }
        }

        if let Some(order) = order {
            check_order_entries(order, strategy, path)?;
            check_order_agrees(order, &items, strategy, path)?;
            merged = reorder(merged, order, &server_order, strategy);
        }
        Ok(merged)
    }
}

/// Orders a merged list by a `$setElementOrder` list, as apimachinery does:
/// the elements named in `order` go in that order; the others (elements only
/// the server has, e.g. an injected sidecar) keep their original relative
/// order, and each is placed before the next ordered element only if it came
/// before that element in the original list (`server_order`).
fn reorder(
    merged: Vec<Value>,
    order: &[Value],
    server_order: &[Value],
    strategy: MergeStrategy,
) -> Vec<Value> {
    let rank =
        |list: &[Value], item: &Value| list.iter().position(|probe| strategy.matches(probe, item));
    let total = merged.len();
    let (mut ordered, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| rank(order, item).is_some());
    ordered.sort_by_cached_key(|item| rank(order, item));
    server_only.sort_by_cached_key(|item| rank(server_order, item).unwrap_or(usize::MAX));

    let was_before = |left: &Value, right: &Value| {
        matches!(
            (rank(server_order, left), rank(server_order, right)),
            (Some(l), Some(r)) if l < r
        )
    };
    let mut out = Vec::with_capacity(total);
    let mut ordered = ordered.into_iter().peekable();
    let mut server_only = server_only.into_iter().peekable();
    loop {
        let next = match (server_only.peek(), ordered.peek()) {
            (None, None) => break,
            (Some(left), Some(right)) if !was_before(left, right) => ordered.next(),
            (Some(_), _) => server_only.next(),
            (None, Some(_)) => ordered.next(),
        };
        out.extend(next);
    }
    out
}

/// Every `$setElementOrder` entry of a keyed list must carry the merge key.
fn check_order_entries(order: &[Value], strategy: MergeStrategy, path: &[&str]) -> Result<()> {
    if let Some(key) = strategy.key() {
        for entry in order {
            require_merge_key(entry, key, path)?;
        }
    }
    Ok(())
}

/// The patch's own elements must appear in `$setElementOrder`, in the same
/// relative order (upstream rejects the patch otherwise).
fn check_order_agrees(
    order: &[Value],
    items: &[&Value],
    strategy: MergeStrategy,
    path: &[&str],
) -> Result<()> {
    let mut entries = order.iter();
    for item in items.iter().filter(|item| item.get(PATCH).is_none()) {
        if !entries.any(|entry| strategy.matches(entry, item)) {
            return Err(StrategicMergeError::SetElementOrderMismatch { path: render(path) });
        }
    }
    Ok(())
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
/// patch sets no field outside them (nulls and directives aside).
fn retained_keys<'p>(retain: &'p Value, patch: &Object, path: &[&str]) -> Result<Vec<&'p str>> {
    let names = directive_list(RETAIN_KEYS, retain, path)?
        .iter()
        .map(|name| {
            name.as_str()
                .ok_or_else(|| StrategicMergeError::RetainKeysNotString {
                    path: render(path),
                    value: name.to_string(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
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
        Some(field) if !field.is_empty() => Ok(Some(field)),
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
        assert_eq!(
            containers_of(&out)[0]["env"],
            json!([{"name": "B", "value": "two"}, {"name": "C", "value": "3"}])
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
    fn new_elements_are_appended_without_an_element_order() {
        let original = deployment(json!([
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c:1"},
            {"name": "a", "image": "a:2"}
        ]}}}});
        let out = patched(original, patch, "Deployment");
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(names(containers), ["a", "b", "c"]);
        assert_eq!(containers[0]["image"], "a:2");
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
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"}
            ])
        );
    }

    #[test]
    fn container_ports_merge_by_container_port_and_protocol() {
        let original = json!({"spec": {"containers": [{"name": "dns", "ports": [
            {"containerPort": 53, "protocol": "TCP"}
        ]}]}});
        let patch = json!({"spec": {"containers": [{"name": "dns", "ports": [
            {"containerPort": 53, "protocol": "UDP", "name": "dns-udp"}
        ]}]}});
        let out = patched(original.clone(), patch, "Pod");
        assert_eq!(
            out["spec"]["containers"][0]["ports"],
            json!([
                {"containerPort": 53, "protocol": "TCP"},
                {"containerPort": 53, "protocol": "UDP", "name": "dns-udp"}
            ])
        );
        // No protocol in the patch: matched on the port alone.
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
    fn patch_delete_and_merge_on_maps() {
        let original = json!({"spec": {
            "securityContext": {"runAsUser": 1000},
            "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]}
        }});
        let patch = json!({"spec": {
            "securityContext": {"$patch": "delete"},
            "dnsConfig": {"$patch": "merge", "nameservers": ["1.1.1.1"]},
            "affinity": {"$patch": "delete"}
        }});
        let out = patched(original, patch, "Pod");
        assert_eq!(
            out,
            json!({"spec": {"dnsConfig": {
                "options": [{"name": "ndots", "value": "2"}],
                "nameservers": ["1.1.1.1"]
            }}})
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
    fn owner_references_merge_by_uid_and_node_taints_by_key() {
        let original = json!({"metadata": {"ownerReferences": [
            {"uid": "1", "kind": "ReplicaSet", "name": "a"}
        ]}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
        let patch = json!({"metadata": {"ownerReferences": [
            {"uid": "2", "kind": "ReplicaSet", "name": "b"}
        ]}, "spec": {"taints": [{"key": "k", "$patch": "delete"}, {"key": "j", "effect": "NoExecute"}]}});
        let out = patched(original, patch, "Node");
        assert_eq!(
            out["metadata"]["ownerReferences"],
            json!([{"uid": "1", "kind": "ReplicaSet", "name": "a"}, {"uid": "2", "kind": "ReplicaSet", "name": "b"}])
        );
        assert_eq!(
            out["spec"]["taints"],
            json!([{"key": "j", "effect": "NoExecute"}])
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
        assert_eq!(
            merge_key("Node", &["spec", "taints"]),
            Some(MergeStrategy::ByKey("key"))
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
                "must be an object, not a string",
            ),
            (
                json!({"metadata": {"$setElementOrder": []}}),
                "malformed directive key",
            ),
            (
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
                "must be a list",
            ),
            (
                json!({"spec": {"$retainKeys": [1]}}),
                "$retainKeys must list field names",
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
