//! Field ownership: `metadata.managedFields`, and server-side apply on top
//! of it, as kube-apiserver's field manager does it (after
//! structured-merge-diff's `Updater`).
//!
//! Every write records who changed what. An *update* (POST, PUT, a JSON,
//! merge or strategic patch, a status or scale write) gives its manager
//! the fields it added or changed, taking them from whoever owned them,
//! and takes the fields it removed from everyone. An *apply* says "the
//! fields I manage should look like this": its manager owns exactly the
//! fields of its configuration; a field it changes that another manager
//! owns is a conflict (refused unless forced, which moves the field to the
//! applier); a field it applied last time and leaves out now is removed
//! from the object, unless another manager still owns it.
//!
//! Entries are told apart by manager, operation and subresource (and API
//! version, for updates), as upstream does. Fields that identify the object
//! or that the server sets (`metadata.name`, `uid`, `resourceVersion`, ...)
//! are never owned; a write of the main resource never owns `status` when
//! the kind has a status subresource, a status write never owns `spec`
//! (it can change only `status`, and a Deployment's revision annotation),
//! a scale write owns only `spec.replicas`.
//!
//! Where minik simplifies:
//! - Field sets are computed on the stored form of the object and recorded
//!   with the API version the client used; minik's few served aliases have
//!   the same field layout, so no conversion of field sets is needed.
//! - An update's set includes every node it added (a new struct as well as
//!   its fields), where upstream, comparing against Go zero values, does not
//!   mark structs that are never absent in Go.
//! - Upstream caps the number of update entries (merging the oldest into
//!   `ancient-changes`); minik keeps them all.

use serde_json::{json, Map, Value};

use crate::field_set::{FieldPath, FieldSet, PathElement};
use crate::field_shape::{ListType, Shape};
use crate::meta;

/// What a write is: an apply (with `force`) or any other change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who writes, and through which part of the object.
#[derive(Debug, Clone)]
pub struct Writer {
    pub manager: String,
    /// The API version the client used (`apps/v1`).
    pub api_version: String,
    /// `status`, `scale`, ... or `None` for the object itself.
    pub subresource: Option<String>,
    /// Whether the kind's `status` is written only through `/status`.
    pub status_is_subresource: bool,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: Option<String>,
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, writer: &Writer, operation: Operation) -> bool {
        self.manager == writer.manager
            && self.operation == operation
            && self.subresource == writer.subresource
            && (operation == Operation::Apply || self.api_version == writer.api_version)
    }

    /// How kube-apiserver names the entry in a conflict message.
    fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation.as_str(),
            "apiVersion": self.api_version,
        });
        if let Some(time) = &self.time {
            v["time"] = json!(time);
        }
        v["fieldsType"] = json!("FieldsV1");
        v["fieldsV1"] = self.fields.to_fields_v1();
        if let Some(sub) = &self.subresource {
            v["subresource"] = json!(sub);
        }
        v
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let operation = match v.get("operation")?.as_str()? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Entry {
            manager: text("manager").unwrap_or_default(),
            operation,
            api_version: text("apiVersion").unwrap_or_default(),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            time: text("time"),
            fields: match v.get("fieldsV1") {
                Some(f) => FieldSet::from_fields_v1(f)?,
                None => FieldSet::default(),
            },
        })
    }
}

/// The object's `managedFields` entries (ones it cannot read are dropped).
pub fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Writes `entries` as the object's `managedFields` (removed when empty).
pub fn set_entries(obj: &mut Value, entries: &[Entry]) {
    let Some(metadata) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        let list = entries.iter().map(Entry::to_json).collect();
        metadata.insert("managedFields".into(), Value::Array(list));
    }
}

/// An apply refused because other managers own fields it would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflicts(pub Vec<(String, FieldPath)>);

impl Conflicts {
    /// kube-apiserver's message for the 409.
    pub fn message(&self) -> String {
        if let [(manager, path)] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
        }
        let mut managers: Vec<&String> = self.0.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for (_, path) in self.0.iter().filter(|(m, _)| m == manager) {
                lines.push(format!("- {path}"));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }

    /// The Status `details.causes`, one per field.
    pub fn causes(&self) -> Vec<Value> {
        self.0
            .iter()
            .map(|(manager, path)| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {manager}"),
                    "field": path.to_string(),
                })
            })
            .collect()
    }
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    Conflicts(Conflicts),
    /// The configuration does not fit the kind's shape (an associative
    /// list element without its key, ...).
    Invalid(String),
}

/// Records an update by `writer` that turned `old` into `new`: `new`'s
/// `managedFields` become `old`'s with the change accounted for. A client
/// that sent its own entries (different from the stored ones) has them
/// taken as sent; a single empty entry clears them, as upstream allows.
pub fn record_update(old: &Value, new: &mut Value, shape: &Shape<'_>, writer: &Writer) {
    let sent = new.pointer("/metadata/managedFields");
    let stored = old.pointer("/metadata/managedFields");
    // `new` still holds the stored entries (a patch, or an update that sent
    // them back): entries this write does not change keep their JSON. The
    // server wrote that JSON, so it is what encoding them again would give.
    let kept = sent.is_some() && sent == stored;
    let mut managers = match sent {
        Some(list) if !kept => {
            let reset = list
                .as_array()
                .is_some_and(|l| l.len() == 1 && l[0].as_object().is_some_and(Map::is_empty));
            if reset {
                set_entries(new, &[]);
                return;
            }
            entries(new)
        }
        _ => entries(old),
    };
    let in_place = kept && sent.and_then(Value::as_array).map(Vec::len) == Some(managers.len());
    let comparison = compare(old, new, shape, writer);
    if comparison.is_empty() {
        if !in_place {
            set_entries(new, &managers);
        }
        return;
    }
    let changed = comparison.added.union(&comparison.modified);
    // Per entry, whether this write changes it (its JSON is written anew).
    let mut touched = vec![false; managers.len()];
    for (entry, touched) in managers.iter_mut().zip(touched.iter_mut()) {
        if !entry.is(writer, Operation::Update) {
            let kept_fields = entry
                .fields
                .difference(&changed)
                .difference(&comparison.removed);
            *touched = kept_fields != entry.fields;
            entry.fields = kept_fields;
        }
    }
    let now = meta::now_rfc3339();
    match managers
        .iter()
        .position(|e| e.is(writer, Operation::Update))
    {
        Some(i) => {
            let mine = &mut managers[i];
            mine.fields = mine.fields.difference(&comparison.removed).union(&changed);
            mine.time = Some(now);
            touched[i] = true;
        }
        None => {
            managers.push(Entry {
                manager: writer.manager.clone(),
                operation: Operation::Update,
                api_version: writer.api_version.clone(),
                subresource: writer.subresource.clone(),
                time: Some(now),
                fields: changed,
            });
            touched.push(true);
        }
    }
    if !in_place {
        managers.retain(|e| !e.fields.is_empty());
        set_entries(new, &managers);
        return;
    }
    let list = new
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
        .expect("checked above: new holds the stored entries");
    let mut as_stored = std::mem::take(list).into_iter();
    for (entry, touched) in managers.iter().zip(touched) {
        let json = as_stored.next();
        if entry.fields.is_empty() {
            continue;
        }
        list.push(match json {
            Some(json) if !touched => json,
            _ => entry.to_json(),
        });
    }
    if list.is_empty() {
        set_entries(new, &[]);
    }
}

/// Applies `config` (an apply patch) to `live` for `writer`, returning the
/// new object with its `managedFields` (what the store would hold before
/// defaulting and validation). `live` is `{}` for an object being created.
pub fn apply(
    live: &Value,
    config: &Value,
    shape: &Shape<'_>,
    writer: &Writer,
    force: bool,
) -> Result<Value, ApplyError> {
    let config_fields = field_set(config, shape).map_err(ApplyError::Invalid)?;
    let mut managers = entries(live);
    let last = managers
        .iter()
        .position(|e| e.is(writer, Operation::Apply))
        .map(|i| managers.remove(i).fields);
    let mut merged = merge(live, config, shape).map_err(ApplyError::Invalid)?;
    // What someone still owns stays: every manager's fields and everything
    // in this configuration (including the fields nobody may own, like the
    // name, so they are never removed).
    if let Some(last) = &last {
        let kept = managers
            .iter()
            .fold(config_fields.clone(), |all, e| all.union(&e.fields));
        remove_dropped(&mut merged, shape, last, Some(&kept));
    }
    let comparison = compare(live, &merged, shape, writer);
    let changed = comparison.added.union(&comparison.modified);
    let mut conflicts = Vec::new();
    for entry in &managers {
        // The applier's own earlier apply was taken out of `managers`;
        // anyone else (its own updates too) owning a changed field conflicts.
        for path in entry.fields.intersection(&changed).paths() {
            conflicts.push((entry.describe(), path));
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(ApplyError::Conflicts(Conflicts(conflicts)));
    }
    for entry in managers.iter_mut() {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }
    managers.retain(|e| !e.fields.is_empty());
    let owned = writer.strip(config_fields);
    // Like every manager, an applier that owns nothing has no entry.
    let entry = Entry {
        manager: writer.manager.clone(),
        operation: Operation::Apply,
        api_version: writer.api_version.clone(),
        subresource: writer.subresource.clone(),
        time: Some(meta::now_rfc3339()),
        fields: owned,
    };
    if !entry.fields.is_empty() {
        managers.push(entry);
    }
    set_entries(&mut merged, &managers);
    Ok(merged)
}

impl Writer {
    /// The fields this writer may own: never the object's identity or what
    /// the server sets; never `spec` through `/status`, only
    /// `spec.replicas` through `/scale`; never `status` through the object
    /// itself when the kind has a status subresource.
    fn strip(&self, mut set: FieldSet) -> FieldSet {
        let f = |s: &str| PathElement::Field(s.to_string());
        for top in ["apiVersion", "kind"] {
            set.remove(&[f(top)]);
        }
        for server_set in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
        ] {
            set.remove(&[f("metadata"), f(server_set)]);
        }
        match self.subresource.as_deref() {
            // What a status write may change besides `status` (a
            // Deployment's revision annotation) is its own too.
            Some("status") => {
                set.remove(&[f("spec")]);
                set
            }
            Some("scale") => set.only_under(&[f("spec"), f("replicas")]),
            _ => {
                if self.status_is_subresource {
                    set.remove(&[f("status")]);
                }
                set
            }
        }
    }
}

// -- field sets of objects ---------------------------------------------------

/// The fields an object sets, as an apply owns them: every scalar, every
/// atomic list, struct or map, every element of a set or associative list,
/// every map entry, and struct fields that are null or empty objects.
pub fn field_set(obj: &Value, shape: &Shape<'_>) -> Result<FieldSet, String> {
    let mut set = FieldSet::default();
    walk_fields(obj, shape, &mut Vec::new(), &mut set, true)?;
    Ok(set)
}

fn walk_fields(
    v: &Value,
    shape: &Shape<'_>,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
    strict: bool,
) -> Result<(), String> {
    match v {
        Value::Object(map) if !shape.is_atomic() => {
            for (key, child) in map {
                path.push(PathElement::Field(key.clone()));
                walk_fields(child, &shape.field(key), path, set, strict)?;
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !shape.is_struct_field(key) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) => match shape.list_type() {
            ListType::Atomic => set.insert(path),
            ListType::Set => {
                for item in items {
                    path.push(PathElement::value(item));
                    set.insert(path);
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                for (i, item) in items.iter().enumerate() {
                    let element = match key_element(item, &keys, shape) {
                        Ok(element) => element,
                        Err(e) if strict => {
                            return Err(format!("{}: {e}", FieldPath(path.clone())))
                        }
                        Err(_) => PathElement::Index(i),
                    };
                    path.push(element);
                    walk_fields(item, &shape.item(), path, set, strict)?;
                    set.insert(path);
                    path.pop();
                }
            }
        },
        _ => set.insert(path),
    }
    Ok(())
}

/// The path element naming an associative list's element by its keys.
fn key_element(item: &Value, keys: &[String], shape: &Shape<'_>) -> Result<PathElement, String> {
    let mut fields = Vec::new();
    let defaults: Vec<(String, Value)> = keys
        .iter()
        .filter(|k| item.get(k.as_str()).is_none())
        .filter_map(|k| shape.key_default(k).map(|d| (k.clone(), d)))
        .collect();
    for key in keys {
        let value = item
            .get(key)
            .or_else(|| defaults.iter().find(|(k, _)| k == key).map(|(_, d)| d));
        match value {
            Some(v) => fields.push((key.as_str(), v)),
            None => {
                return Err(format!(
                    "associative list with keys has an element that omits key field {key:?}"
                ))
            }
        }
    }
    Ok(PathElement::key(&fields))
}

// -- comparing ---------------------------------------------------------------

/// What changed between two versions of an object, as field sets.
#[derive(Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

impl Comparison {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

fn compare(old: &Value, new: &Value, shape: &Shape<'_>, writer: &Writer) -> Comparison {
    let mut out = Comparison::default();
    // A scale write can own only `spec.replicas`: compare just that.
    let part: &[&str] = match writer.subresource.as_deref() {
        Some("scale") => &["spec", "replicas"],
        _ => &[],
    };
    if part.is_empty() {
        // What the writer can never own is not walked: `spec` through
        // `/status`, `status` through the object when it has `/status`.
        let skip = match writer.subresource.as_deref() {
            Some("status") => Some("spec"),
            None if writer.status_is_subresource => Some("status"),
            _ => None,
        };
        let empty = Map::new();
        let a = old.as_object().unwrap_or(&empty);
        let b = new.as_object().unwrap_or(&empty);
        let mut path = Vec::new();
        for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
            if Some(key.as_str()) == skip {
                continue;
            }
            path.push(PathElement::Field(key.clone()));
            compare_at(
                a.get(key),
                b.get(key),
                &shape.field(key),
                &mut path,
                &mut out,
            );
            path.pop();
        }
    } else {
        let mut shape = shape.clone();
        let (mut a, mut b) = (Some(old), Some(new));
        let mut path = Vec::new();
        for field in part {
            shape = shape.field(field);
            a = a.and_then(|v| v.get(*field));
            b = b.and_then(|v| v.get(*field));
            path.push(PathElement::Field(field.to_string()));
        }
        if a.is_some() || b.is_some() {
            compare_at(a, b, &shape, &mut path, &mut out);
        }
    }
    Comparison {
        added: writer.strip(out.added),
        modified: writer.strip(out.modified),
        removed: writer.strip(out.removed),
    }
}

/// Walks both values together. A node present on one side only is added or
/// removed (and so is everything beneath it); a leaf (scalar, atomic value,
/// empty object or list) whose value differs is modified.
fn compare_at(
    old: Option<&Value>,
    new: Option<&Value>,
    shape: &Shape<'_>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    let composite = |v: Option<&Value>| matches!(v, Some(Value::Object(_) | Value::Array(_)));
    let leaf = !(composite(old) || composite(new))
        || (empty(old) && empty(new))
        || match old.or(new) {
            Some(Value::Object(_)) => shape.is_atomic(),
            Some(Value::Array(_)) => shape.list_type() == ListType::Atomic,
            _ => true,
        }
        || (old.is_some() && new.is_some() && !same_kind(old, new));
    if leaf {
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(a), Some(b)) if a != b => out.modified.insert(path),
            _ => {}
        }
        return;
    }
    // The top-level structs (`spec`, `status`) are never absent from a
    // typed object, so upstream never sees them added or removed.
    let top_level_struct = path.len() == 1 && matches!(old.or(new), Some(Value::Object(_)));
    if !path.is_empty() && !top_level_struct {
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            _ => {}
        }
    }
    match (old.or(new), shape.list_type()) {
        (Some(Value::Object(_)), _) => {
            let none = Map::new();
            let a = old.and_then(Value::as_object).unwrap_or(&none);
            let b = new.and_then(Value::as_object).unwrap_or(&none);
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                path.push(PathElement::Field(key.clone()));
                compare_at(a.get(key), b.get(key), &shape.field(key), path, out);
                path.pop();
            }
        }
        (Some(Value::Array(_)), list_type) => {
            let a = index_list(old, &list_type, shape);
            let b = index_list(new, &list_type, shape);
            let item = shape.item();
            for (element, value) in &a {
                path.push(element.clone());
                let other = b.iter().find(|(e, _)| e == element).map(|(_, v)| *v);
                compare_at(Some(value), other, &item, path, out);
                path.pop();
            }
            for (element, value) in b.iter().filter(|(e, _)| !a.iter().any(|(x, _)| x == e)) {
                path.push(element.clone());
                compare_at(None, Some(value), &item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn same_kind(a: Option<&Value>, b: Option<&Value>) -> bool {
    matches!(
        (a, b),
        (Some(Value::Object(_)), Some(Value::Object(_)))
            | (Some(Value::Array(_)), Some(Value::Array(_)))
    )
}

/// A non-atomic list's elements with the path elements naming them (the
/// first of duplicates wins; elements that cannot be named go by position).
/// The path element naming the `i`th element of a list of `list_type`
/// (by position where its keys cannot name it).
fn list_element(item: &Value, i: usize, list_type: &ListType, shape: &Shape<'_>) -> PathElement {
    match list_type {
        ListType::Set => PathElement::value(item),
        ListType::Map(keys) => key_element(item, keys, shape).unwrap_or(PathElement::Index(i)),
        ListType::Atomic => PathElement::Index(i),
    }
}

fn index_list<'v>(
    list: Option<&'v Value>,
    list_type: &ListType,
    shape: &Shape<'_>,
) -> Vec<(PathElement, &'v Value)> {
    let mut out: Vec<(PathElement, &Value)> = Vec::new();
    for (i, item) in list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let element = list_element(item, i, list_type, shape);
        if !out.iter().any(|(e, _)| *e == element) {
            out.push((element, item));
        }
    }
    out
}

// -- merging an applied configuration ------------------------------------------

/// Merges an applied configuration into the live object: objects field by
/// field (a `null` removes the field), set and associative lists element by
/// element, everything else (scalars, atomic values) replaced.
pub fn merge(live: &Value, config: &Value, shape: &Shape<'_>) -> Result<Value, String> {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !shape.is_atomic() => {
            let mut out = l.clone();
            for (key, value) in c {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                let merged = match l.get(key) {
                    Some(old) => merge(old, value, &shape.field(key))?,
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        (Value::Array(l), Value::Array(c)) => match shape.list_type() {
            ListType::Atomic => Ok(config.clone()),
            list_type => merge_list(l, c, &list_type, shape).map(Value::Array),
        },
        _ => Ok(config.clone()),
    }
}

/// Merges two set or associative lists. Elements only the live list has
/// stay where they are; the configuration's elements come in its order,
/// each merged with its live counterpart; a shared element the
/// configuration moved is placed where the configuration has it.
fn merge_list(
    live: &[Value],
    config: &[Value],
    list_type: &ListType,
    shape: &Shape<'_>,
) -> Result<Vec<Value>, String> {
    let name = |item: &Value| -> Result<PathElement, String> {
        match list_type {
            ListType::Map(keys) => key_element(item, keys, shape),
            _ => Ok(PathElement::value(item)),
        }
    };
    let live_names = live.iter().map(name).collect::<Result<Vec<_>, _>>()?;
    let config_names = config.iter().map(name).collect::<Result<Vec<_>, _>>()?;
    let live_of = |n: &PathElement| live_names.iter().position(|x| x == n).map(|i| &live[i]);
    let in_config = |n: &PathElement| config_names.contains(n);
    // The shared elements in the configuration's order: the next one due.
    let mut shared: std::collections::VecDeque<&PathElement> = config_names
        .iter()
        .filter(|n| live_of(n).is_some())
        .collect();
    let mut placed: Vec<&PathElement> = Vec::new();
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let item = shape.item();
    let take = |n: &PathElement, c: &Value| -> Result<Value, String> {
        match live_of(n) {
            Some(l) => merge(l, c, &item),
            None => Ok(c.clone()),
        }
    };
    let (mut l, mut r) = (0, 0);
    while l < live.len() || r < config.len() {
        if l < live.len() && r < config.len() {
            if live_names[l] == config_names[r] {
                out.push(take(&config_names[r], &config[r])?);
                placed.push(&config_names[r]);
                if shared.front() == Some(&&config_names[r]) {
                    shared.pop_front();
                }
                l += 1;
                r += 1;
                continue;
            }
            if in_config(&live_names[l]) && shared.front().is_some_and(|s| **s != live_names[l]) {
                l += 1;
                continue;
            }
        }
        if l < live.len() {
            if !in_config(&live_names[l]) {
                out.push(live[l].clone());
                l += 1;
                continue;
            } else if placed.contains(&&live_names[l]) {
                l += 1;
            }
        }
        if r < config.len() {
            out.push(take(&config_names[r], &config[r])?);
            placed.push(&config_names[r]);
            if shared.front() == Some(&&config_names[r]) {
                shared.pop_front();
            }
            r += 1;
        }
    }
    Ok(out)
}

// -- removing what an applier dropped --------------------------------------------

/// Removes from `obj` (of `shape`) what the applier owned last time
/// (`last`) and nobody keeps (`kept`): fields, map entries and list
/// elements, and structs left with nothing anybody owns.
fn remove_dropped(obj: &mut Value, shape: &Shape<'_>, last: &FieldSet, kept: Option<&FieldSet>) {
    let elements: Vec<PathElement> = last.elements().into_iter().cloned().collect();
    for element in elements {
        let kept_here = kept.is_some_and(|k| k.is_member(&element));
        let kept_below = kept.and_then(|k| k.child(&element));
        if !kept_here && kept_below.is_none_or(FieldSet::is_empty) {
            remove_element(obj, shape, &element);
        } else if let Some(below) = last.child(&element) {
            let child_shape = match &element {
                PathElement::Field(name) => shape.field(name),
                _ => shape.item(),
            };
            if let Some(child) = element_mut(obj, shape, &element) {
                remove_dropped(child, &child_shape, below, kept_below);
            }
        }
    }
}

fn remove_element(obj: &mut Value, shape: &Shape<'_>, element: &PathElement) {
    match (obj, element) {
        (Value::Object(map), PathElement::Field(name)) => {
            map.remove(name);
        }
        (Value::Array(items), _) => {
            let list_type = shape.list_type();
            let mut i = 0;
            items.retain(|item| {
                i += 1;
                list_element(item, i - 1, &list_type, shape) != *element
            });
        }
        _ => {}
    }
}

fn element_mut<'v>(
    obj: &'v mut Value,
    shape: &Shape<'_>,
    element: &PathElement,
) -> Option<&'v mut Value> {
    match (obj, element) {
        (Value::Object(map), PathElement::Field(name)) => map.get_mut(name),
        (Value::Array(items), _) => {
            let list_type = shape.list_type();
            items
                .iter_mut()
                .enumerate()
                .find(|(i, item)| list_element(item, *i, &list_type, shape) == *element)
                .map(|(_, item)| item)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_shape::KindSchema;

    fn deployments() -> KindSchema {
        KindSchema::of(crate::catalogue::lookup("apps", "v1", "deployments").unwrap())
    }

    fn writer(manager: &str) -> Writer {
        Writer {
            manager: manager.into(),
            api_version: "apps/v1".into(),
            subresource: None,
            status_is_subresource: true,
        }
    }

    fn config(replicas: i64, labels: Value, env: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "env": env}]},
                },
            },
        })
    }

    fn owner_of<'e>(entries: &'e [Entry], path: &str) -> Vec<&'e str> {
        entries
            .iter()
            .filter(|e| e.fields.paths().iter().any(|p| p.to_string() == path))
            .map(|e| e.manager.as_str())
            .collect()
    }

    #[test]
    fn an_apply_owns_its_configuration_in_kube_apiservers_shape() {
        let schema = deployments();
        let cfg = config(
            3,
            json!({"app": "web"}),
            json!([{"name": "A", "value": "1"}]),
        );
        let out = apply(&json!({}), &cfg, &schema.root(), &writer("kubectl"), false).unwrap();
        let e = entries(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].operation, Operation::Apply);
        assert_eq!(
            e[0].fields.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
                            "f:image": {},
                            "f:name": {},
                        }}},
                    },
                },
            })
        );
    }

    #[test]
    fn changing_another_managers_field_conflicts_unless_forced() {
        let schema = deployments();
        let cfg = config(3, json!({"app": "web"}), json!([]));
        let live = apply(&json!({}), &cfg, &schema.root(), &writer("kubectl"), false).unwrap();
        // kubectl scale (through /scale) takes .spec.replicas.
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(5);
        let scale = Writer {
            subresource: Some("scale".into()),
            ..writer("kubectl-scale")
        };
        record_update(&live, &mut scaled, &schema.root(), &scale);
        let e = entries(&scaled);
        assert_eq!(owner_of(&e, ".spec.replicas"), ["kubectl-scale"]);
        // Re-applying 3 changes it back: a conflict, in kube-apiserver's words.
        let refused = apply(&scaled, &cfg, &schema.root(), &writer("kubectl"), false);
        let Err(ApplyError::Conflicts(c)) = refused else {
            panic!("expected a conflict, got {refused:?}")
        };
        assert_eq!(
            c.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-scale\" with subresource \"scale\" using apps/v1: .spec.replicas"
        );
        assert_eq!(c.causes()[0]["field"], ".spec.replicas");
        // Applying the value it has now is shared ownership, not a conflict.
        let same = apply(
            &scaled,
            &config(5, json!({"app": "web"}), json!([])),
            &schema.root(),
            &writer("kubectl"),
            false,
        )
        .unwrap();
        let same_entries = entries(&same);
        let mut both = owner_of(&same_entries, ".spec.replicas");
        both.sort();
        assert_eq!(both, ["kubectl", "kubectl-scale"]);
        // Forced: the field moves to the applier.
        let forced = apply(&scaled, &cfg, &schema.root(), &writer("kubectl"), true).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        assert_eq!(owner_of(&entries(&forced), ".spec.replicas"), ["kubectl"]);
    }

    #[test]
    fn fields_an_applier_drops_are_removed_unless_someone_else_owns_them() {
        let schema = deployments();
        let first = config(
            2,
            json!({"app": "web", "tier": "front"}),
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
        );
        let live = apply(
            &json!({}),
            &first,
            &schema.root(),
            &writer("kubectl"),
            false,
        )
        .unwrap();
        // Someone else labels the object too.
        let mut labelled = live.clone();
        labelled["metadata"]["labels"]["team"] = json!("blue");
        record_update(
            &live,
            &mut labelled,
            &schema.root(),
            &writer("kubectl-label"),
        );
        let second = config(
            2,
            json!({"app": "web"}),
            json!([{"name": "B", "value": "2"}]),
        );
        let out = apply(
            &labelled,
            &second,
            &schema.root(),
            &writer("kubectl"),
            false,
        )
        .unwrap();
        assert_eq!(
            out["metadata"]["labels"],
            json!({"app": "web", "team": "blue"})
        );
        let env = &out["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env, &json!([{"name": "B", "value": "2"}]));
        assert_eq!(out["metadata"]["name"], "web");
    }

    #[test]
    fn an_update_takes_what_it_changes_and_drops_what_it_removes() {
        let schema = deployments();
        let cfg = config(3, json!({"app": "web"}), json!([]));
        let live = apply(&json!({}), &cfg, &schema.root(), &writer("kubectl"), false).unwrap();
        let mut edited = live.clone();
        edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
        edited["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        record_update(&live, &mut edited, &schema.root(), &writer("kubectl-edit"));
        let e = entries(&edited);
        let image = ".spec.template.spec.containers[name=\"nginx\"].image";
        assert_eq!(owner_of(&e, image), ["kubectl-edit"]);
        assert!(owner_of(&e, ".metadata.labels.app").is_empty());
        // Nothing changed: nothing recorded, and the time stays.
        let mut again = edited.clone();
        record_update(&edited, &mut again, &schema.root(), &writer("kubectl-edit"));
        assert_eq!(again, edited);
    }

    #[test]
    fn entries_kept_in_place_are_what_encoding_them_again_gives() {
        let schema = deployments();
        let cfg = config(3, json!({"app": "web", "tier": "front"}), json!([]));
        let applied = apply(&json!({}), &cfg, &schema.root(), &writer("kubectl"), false).unwrap();
        let mut live = applied.clone();
        live["metadata"]["labels"]["team"] = json!("blue");
        record_update(
            &applied,
            &mut live,
            &schema.root(),
            &writer("kubectl-label"),
        );
        let time_free = |obj: &Value| {
            let mut list = obj["metadata"]["managedFields"].clone();
            for e in list.as_array_mut().into_iter().flatten() {
                e.as_object_mut().unwrap().remove("time");
            }
            list
        };
        // The first edit takes the image from kubectl and leaves
        // kubectl-label's entry untouched; the second takes kubectl-label's
        // only field, so its entry goes. Each is recorded from a `new` that
        // still holds the stored entries (kept in place) and from one that
        // does not (encoded anew).
        let edits: [fn(&mut Value); 2] = [
            |o| o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26"),
            |o| o["metadata"]["labels"]["team"] = json!("red"),
        ];
        for edit in edits {
            let mut in_place = live.clone();
            edit(&mut in_place);
            let mut anew = in_place.clone();
            anew["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
            record_update(
                &live,
                &mut in_place,
                &schema.root(),
                &writer("kubectl-edit"),
            );
            record_update(&live, &mut anew, &schema.root(), &writer("kubectl-edit"));
            assert_eq!(time_free(&in_place), time_free(&anew));
            assert_eq!(
                entries(&in_place)
                    .iter()
                    .map(|e| e.to_json()["fieldsV1"].clone())
                    .collect::<Vec<_>>(),
                time_free(&in_place)
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["fieldsV1"].clone())
                    .collect::<Vec<_>>()
            );
        }
        let mut red = live.clone();
        red["metadata"]["labels"]["team"] = json!("red");
        record_update(&live, &mut red, &schema.root(), &writer("kubectl-edit"));
        let managers: Vec<_> = entries(&red).into_iter().map(|e| e.manager).collect();
        assert_eq!(managers, ["kubectl", "kubectl-edit"]);
    }

    #[test]
    fn a_status_write_owns_only_status() {
        let schema = deployments();
        let live = config(1, json!({}), json!([]));
        let mut new = live.clone();
        new["status"] =
            json!({"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]});
        new["spec"]["replicas"] = json!(9);
        let status = Writer {
            subresource: Some("status".into()),
            ..writer("minik-controller")
        };
        record_update(&live, &mut new, &schema.root(), &status);
        let paths: Vec<String> = entries(&new)[0]
            .fields
            .paths()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(paths.iter().all(|p| p.starts_with(".status")), "{paths:?}");
        assert!(paths.contains(&".status.conditions[type=\"Available\"].status".to_string()));
    }

    #[test]
    fn merged_lists_keep_live_only_elements_in_place() {
        let schema = deployments();
        let shape = schema.root();
        let live = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let cfg = json!({"metadata": {"finalizers": ["d", "b"]}});
        let out = merge(&live, &cfg, &shape).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "d", "b", "c"]));
    }

    #[test]
    fn custom_kinds_merge_by_their_schemas_list_types() {
        let schema = KindSchema::custom(
            "Website",
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "routes": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "port": {"type": "integer"}}}},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "hosts": {"type": "array", "items": {"type": "string"}},
            }}}}),
            Value::Null,
            Map::new(),
        );
        let w = |m: &str| Writer {
            manager: m.into(),
            api_version: "example.com/v1".into(),
            subresource: None,
            status_is_subresource: false,
        };
        let cfg = |routes: Value, tags: Value| {
            json!({"apiVersion": "example.com/v1", "kind": "Website", "metadata": {"name": "w"},
                "spec": {"routes": routes, "tags": tags}})
        };
        let root = schema.root();
        let a = apply(
            &json!({}),
            &cfg(json!([{"name": "web", "port": 80}]), json!(["a"])),
            &root,
            &w("a"),
            false,
        )
        .unwrap();
        let b = apply(
            &a,
            &cfg(json!([{"name": "api", "port": 81}]), json!(["b"])),
            &root,
            &w("b"),
            false,
        )
        .unwrap();
        assert_eq!(
            b["spec"]["routes"],
            json!([{"name": "web", "port": 80}, {"name": "api", "port": 81}])
        );
        assert_eq!(b["spec"]["tags"], json!(["a", "b"]));
        // `a` drops its route and tag: only its own go.
        let a2 = apply(&b, &cfg(json!([]), json!([])), &root, &w("a"), false).unwrap();
        assert_eq!(a2["spec"]["routes"], json!([{"name": "api", "port": 81}]));
        assert_eq!(a2["spec"]["tags"], json!(["b"]));
        // An atomic list is one field: a second applier changing it conflicts.
        let h = apply(&a2, &json!({"apiVersion": "example.com/v1", "kind": "Website", "metadata": {"name": "w"}, "spec": {"hosts": ["x"]}}), &root, &w("a"), false).unwrap();
        let refused = apply(
            &h,
            &json!({"apiVersion": "example.com/v1", "kind": "Website", "metadata": {"name": "w"}, "spec": {"hosts": ["y"]}}),
            &root,
            &w("b"),
            false,
        );
        let Err(ApplyError::Conflicts(c)) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(
            c.message(),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.hosts"
        );
    }
}
