//! Names, label keys and values, annotations and `metadata` checks, with
//! kube-apiserver's own messages.
//!
//! Owns the rules an object's identity must follow before the API server
//! stores it. Mirrors apimachinery's `pkg/util/validation` (`IsDNS1123Subdomain`,
//! `IsDNS1123Label`, `IsDNS1035Label`, `IsQualifiedName`, `IsValidLabelValue`),
//! `pkg/api/validation` (`ValidateObjectMeta`, `NameIsDNSSubdomain` and friends,
//! `ValidateAnnotations`, `ValidateOwnerReferences`, `ValidateFinalizers`),
//! `pkg/apis/meta/v1/validation` (`ValidateLabels`) and the apiserver's
//! `names.SimpleNameGenerator` (the random suffix of `metadata.generateName`).
//!
//! The `is_*` functions return the list of problems (empty when the value is
//! valid), worded exactly as Kubernetes words them, so that
//! `kubectl apply` against minik prints the same error a real cluster prints:
//!
//! ```text
//! metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of …
//! ```
//!
//! Everything here is pure: no I/O, no regex engine (the patterns are small
//! enough to check by hand; the regex text appears only in messages).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use crate::field_error::{ErrorType, FieldError};

/// Longest DNS-1123 label (Namespace names, StatefulSet names, …).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain (most object names).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest DNS-1035 label (Service names).
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
/// Longest name part of a qualified name (label and annotation keys).
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Limit on the summed length of all annotation keys and values (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// Longest `generateName` prefix kept before the random suffix is appended.
pub const MAX_GENERATED_NAME_PREFIX_LENGTH: usize = 63 - GENERATED_SUFFIX_LENGTH;

const GENERATED_SUFFIX_LENGTH: usize = 5;
/// Kubernetes' alphabet for generated suffixes: no vowels (no accidental
/// words) and no easily confused characters (0/o, 1/l, 3/e).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

// ---------------------------------------------------------------------------
// Message builders (apimachinery's RegexError, MaxLenError, EmptyError)
// ---------------------------------------------------------------------------

/// `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`.
///
/// The doubled space before "or" is Kubernetes' own; it is kept so messages
/// compare equal to kube-apiserver's.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(example);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

fn empty_error() -> String {
    "must be non-empty".to_string()
}

// ---------------------------------------------------------------------------
// Pattern matchers (hand-written equivalents of the anchored regexes above)
// ---------------------------------------------------------------------------

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first)
                && is_lower_alnum(last)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `^label(\.label)*$`
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_lowercase()
                && is_lower_alnum(last)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// The apimachinery checks
// ---------------------------------------------------------------------------

/// A DNS subdomain per RFC 1123 (lowercase): what most object names must be.
/// Kubernetes' `IsDNS1123Subdomain`.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// A DNS label per RFC 1123 (lowercase): Namespace and StatefulSet names,
/// container and port names. Kubernetes' `IsDNS1123Label`.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            // A valid subdomain that is not a valid label: the only difference is dots.
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// A DNS label per RFC 1035 (must start with a letter): Service names.
/// Kubernetes' `IsDNS1035Label`.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// A label or annotation key: `name` or `prefix/name`, where the prefix is a
/// DNS subdomain and the name is up to 63 alphanumerics, `-`, `_`, `.`.
/// Kubernetes' `IsQualifiedName`.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// A label value: empty, or up to 63 alphanumerics, `-`, `_`, `.` starting and
/// ending with an alphanumeric. Kubernetes' `IsValidLabelValue`.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !(value.is_empty() || matches_qualified_name_part(value)) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

// ---------------------------------------------------------------------------
// Object names
// ---------------------------------------------------------------------------

/// Which rule an object's `metadata.name` follows (Kubernetes' `ValidateNameFunc`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: up to 253 characters, dots allowed. Most kinds.
    Subdomain,
    /// `NameIsDNSLabel`: up to 63 characters, no dots (Namespace, StatefulSet).
    Label,
    /// `NameIsDNS1035Label`: like `Label` but must start with a letter (Service).
    Dns1035Label,
    /// `path.IsValidPathSegmentName`: anything that is one URL path segment
    /// (RBAC's roles and bindings: `system:kube-scheduler`).
    PathSegment,
}

impl NameRule {
    /// Problems with `name` under this rule. With `prefix` the value is a
    /// `generateName`, to which a random suffix will be appended, so a
    /// trailing `-` is allowed.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix {
            masked = mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Subdomain => is_dns1123_subdomain(name),
            NameRule::Label => is_dns1123_label(name),
            NameRule::Dns1035Label => is_dns1035_label(name),
            NameRule::PathSegment => is_path_segment_name(name),
        }
    }
}

/// `path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`.
pub fn is_path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// Kubernetes' `maskTrailingDash`: a `generateName` like `web-` is checked as
/// if the dash were followed by more characters. Upstream drops the last two
/// characters and appends `a` (`web-` is checked as `wa`); that quirk is kept
/// so the same prefixes validate.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let body = &name[..name.len() - 1];
        // Drop one more character only when it is a single byte, as upstream's
        // byte slicing does for every valid name.
        let body = match body.as_bytes().last() {
            Some(b) if b.is_ascii() => &body[..body.len() - 1],
            _ => body,
        };
        format!("{body}a")
    } else {
        name.to_string()
    }
}

// ---------------------------------------------------------------------------
// Generated names
// ---------------------------------------------------------------------------

/// Five random characters from Kubernetes' suffix alphabet
/// (`bcdfghjklmnpqrstvwxz2456789`), as appended to `metadata.generateName`.
///
/// Not cryptographic: the randomness comes from std's per-process random
/// hash keys mixed with the clock and a counter, which is plenty to make
/// collisions rare (the API server retries on a name conflict anyway).
pub fn generate_name_suffix() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(now);
    let mut bits = hasher.finish();
    let n = SUFFIX_ALPHABET.len() as u64;
    (0..GENERATED_SUFFIX_LENGTH)
        .map(|_| {
            let c = SUFFIX_ALPHABET[(bits % n) as usize] as char;
            bits /= n;
            c
        })
        .collect()
}

/// A name generated from `base` (a `generateName`): the base, cut to
/// [`MAX_GENERATED_NAME_PREFIX_LENGTH`] bytes, plus [`generate_name_suffix`].
/// Kubernetes' `SimpleNameGenerator.GenerateName`.
pub fn generate_name(base: &str) -> String {
    let mut end = base.len().min(MAX_GENERATED_NAME_PREFIX_LENGTH);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &base[..end], generate_name_suffix())
}

// ---------------------------------------------------------------------------
// metadata
// ---------------------------------------------------------------------------

/// Checks an object's `metadata` the way kube-apiserver's `ValidateObjectMeta`
/// does on create, reporting field paths under `metadata.`:
///
/// - `name` must follow `name_rule`; it is required unless `generateName` is
///   set ("name or generateName is required"); `generateName` itself must be a
///   valid prefix;
/// - `namespace`, when `namespaced` and set, must be a DNS-1123 label (whether
///   it is present is the caller's business: it usually comes from the URL;
///   cluster-scoped objects have it cleared rather than rejected);
/// - `generation` must not be negative;
/// - `labels`: keys are qualified names, values label values (`metadata.labels`);
/// - `annotations`: keys are qualified names (case-insensitive) and all keys
///   and values together stay within 256 KiB (`metadata.annotations`);
/// - `ownerReferences`: apiVersion, kind, name and uid set, at most one controller;
/// - `finalizers`: qualified names, not both `orphan` and `foregroundDeletion`.
///
/// `meta` may be the `metadata` object itself or a whole object that has one.
pub fn validate_object_meta(
    meta: &Value,
    namespaced: bool,
    name_rule: NameRule,
) -> Vec<FieldError> {
    let meta = match meta.get("metadata") {
        Some(inner) if inner.is_object() => inner,
        _ => meta,
    };
    let empty = Map::new();
    let meta = meta.as_object().unwrap_or(&empty);
    let mut errs = Vec::new();

    let generate_name = string_field(meta, "generateName", "metadata.generateName", &mut errs);
    if !generate_name.is_empty() {
        for msg in name_rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                Value::from(generate_name),
                msg,
            ));
        }
    }

    let name_has_wrong_type = matches!(meta.get("name"), Some(v) if !v.is_string() && !v.is_null());
    let name = string_field(meta, "name", "metadata.name", &mut errs);
    if name.is_empty() {
        if generate_name.is_empty() && !name_has_wrong_type {
            errs.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        for msg in name_rule.check(name, false) {
            errs.push(FieldError::invalid("metadata.name", Value::from(name), msg));
        }
    }

    if namespaced {
        let namespace = string_field(meta, "namespace", "metadata.namespace", &mut errs);
        if !namespace.is_empty() {
            for msg in NameRule::Label.check(namespace, false) {
                errs.push(FieldError::invalid(
                    "metadata.namespace",
                    Value::from(namespace),
                    msg,
                ));
            }
        }
    }

    if let Some(generation) = meta.get("generation").and_then(Value::as_i64) {
        if generation < 0 {
            errs.push(FieldError::invalid(
                "metadata.generation",
                Value::from(generation),
                "must be greater than or equal to 0",
            ));
        }
    }

    if let Some(labels) = meta.get("labels") {
        errs.extend(validate_labels(labels, "metadata.labels"));
    }
    if let Some(annotations) = meta.get("annotations") {
        errs.extend(validate_annotations(annotations, "metadata.annotations"));
    }
    if let Some(refs) = meta.get("ownerReferences") {
        errs.extend(validate_owner_references(refs, "metadata.ownerReferences"));
    }
    if let Some(finalizers) = meta.get("finalizers") {
        errs.extend(validate_finalizers(finalizers, "metadata.finalizers"));
    }
    errs
}

/// The string at `meta[key]`; absent or null reads as "". Any other type is
/// reported (kube-apiserver would refuse to decode it) and reads as "".
fn string_field<'a>(
    meta: &'a Map<String, Value>,
    key: &str,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> &'a str {
    match meta.get(key) {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => "",
        Some(other) => {
            errs.push(FieldError::invalid(path, other.clone(), "must be a string"));
            ""
        }
    }
}

/// Checks a labels map (`metadata.labels`, `spec.template.metadata.labels`, …):
/// every key a qualified name, every value a label value. Errors carry `path`
/// itself as the field, as Kubernetes' `ValidateLabels` does.
pub fn validate_labels(labels: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, value) in string_map(labels, path, &mut errs) {
        for msg in is_qualified_name(key) {
            errs.push(FieldError::invalid(path, Value::from(key), msg));
        }
        for msg in is_valid_label_value(value) {
            errs.push(FieldError::invalid(path, Value::from(value), msg));
        }
    }
    errs
}

/// The entries of a map of strings at `path` (labels, annotations); a value
/// of another shape is reported in `errs` and left out. `null` is empty.
fn string_map<'a>(
    map: &'a Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> Vec<(&'a str, &'a str)> {
    let map = match map {
        Value::Null => return Vec::new(),
        Value::Object(map) => map,
        other => {
            errs.push(FieldError::invalid(
                path,
                other.clone(),
                "must be a map of strings",
            ));
            return Vec::new();
        }
    };
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        match value {
            Value::String(v) => entries.push((key.as_str(), v.as_str())),
            other => errs.push(FieldError::invalid(path, other.clone(), "must be a string")),
        }
    }
    entries
}

/// Checks an annotations map: keys are qualified names (compared in lower
/// case, as Kubernetes does) and the total size of keys and values is at most
/// [`TOTAL_ANNOTATION_SIZE_LIMIT`] bytes.
pub fn validate_annotations(annotations: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (key, value) in string_map(annotations, path, &mut errs) {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, Value::from(key), msg));
        }
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError {
            kind: ErrorType::TooLong,
            field: path.to_string(),
            value: None,
            detail: format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
    errs
}

/// Checks `metadata.ownerReferences` like Kubernetes' `ValidateOwnerReferences`:
/// each reference names its owner fully, Events may not own anything, and at
/// most one reference is the controller.
pub fn validate_owner_references(refs: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let list = match refs {
        Value::Null => return errs,
        Value::Array(list) => list,
        other => {
            errs.push(FieldError::invalid(path, other.clone(), "must be a list"));
            return errs;
        }
    };
    let mut first_controller: Option<String> = None;
    for reference in list {
        let text = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or("");
        let api_version = text("apiVersion");
        let kind = text("kind");
        let name = text("name");
        let uid = text("uid");
        let (group, version) = split_api_version(api_version);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.apiVersion"),
                Value::from(api_version),
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.kind"),
                Value::from(kind),
                "must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                Value::from(name),
                "must not be empty",
            ));
        }
        if uid.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.uid"),
                Value::from(uid),
                "must not be empty",
            ));
        }
        // Events may not own anything (`ValidateOwnerReferences`).
        if (group, version, kind) == ("", "v1", "Event") {
            errs.push(FieldError::invalid(
                path,
                reference.clone(),
                format!("{group}/{version}, Kind={kind} is disallowed from being an owner"),
            ));
        }
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    refs.clone(),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`); anything unparsable → empty version.
fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        None => ("", api_version),
        Some((group, version)) if !version.contains('/') => (group, version),
        Some(_) => ("", ""),
    }
}

/// Checks `metadata.finalizers` like Kubernetes' `ValidateFinalizers`.
pub fn validate_finalizers(finalizers: &Value, path: &str) -> Vec<FieldError> {
    const ORPHAN: &str = "orphan";
    const FOREGROUND: &str = "foregroundDeletion";
    let mut errs = Vec::new();
    let list = match finalizers {
        Value::Null => return errs,
        Value::Array(list) => list,
        other => {
            errs.push(FieldError::invalid(
                path,
                other.clone(),
                "must be a list of strings",
            ));
            return errs;
        }
    };
    let (mut orphan, mut foreground) = (false, false);
    for finalizer in list {
        let Some(name) = finalizer.as_str() else {
            errs.push(FieldError::invalid(
                path,
                finalizer.clone(),
                "must be a string",
            ));
            continue;
        };
        for msg in is_qualified_name(name) {
            errs.push(FieldError::invalid(path, Value::from(name), msg));
        }
        orphan |= name == ORPHAN;
        foreground |= name == FOREGROUND;
    }
    if orphan && foreground {
        errs.push(FieldError::invalid(
            path,
            finalizers.clone(),
            format!("finalizer {ORPHAN} and {FOREGROUND} cannot be both set"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    const QNAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    #[test]
    fn subdomains() {
        for ok in [
            "a",
            "web",
            "web-1",
            "example.com",
            "a.b.c",
            "0",
            "1-2.3-4",
            &"a".repeat(253),
        ] {
            assert!(is_dns1123_subdomain(ok).is_empty(), "{ok}");
        }
        for bad in [
            "", "Web_1", "-a", "a-", "a..b", ".a", "a.", "a_b", "A", "a.-b", "café",
        ] {
            assert_eq!(
                is_dns1123_subdomain(bad),
                vec![SUBDOMAIN_MSG.to_string()],
                "{bad}"
            );
        }
        assert_eq!(
            is_dns1123_subdomain(&"a".repeat(254)),
            vec!["must be no more than 253 characters"]
        );
        assert_eq!(
            is_dns1123_subdomain(&format!("{}-", "a".repeat(253))),
            vec![
                "must be no more than 253 characters".to_string(),
                SUBDOMAIN_MSG.to_string()
            ]
        );
    }

    #[test]
    fn labels_1123() {
        for ok in ["a", "web-1", "0abc", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok).is_empty(), "{ok}");
        }
        assert_eq!(is_dns1123_label("web_1"), vec![LABEL_MSG]);
        assert_eq!(is_dns1123_label(""), vec![LABEL_MSG]);
        assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn labels_1035() {
        for ok in ["a", "my-name", "abc-123", &"a".repeat(63)] {
            assert!(is_dns1035_label(ok).is_empty(), "{ok}");
        }
        for bad in ["", "1abc", "-a", "a-", "a.b", "My-name"] {
            assert_eq!(is_dns1035_label(bad), vec![DNS1035_MSG], "{bad}");
        }
        assert_eq!(
            is_dns1035_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn qualified_names() {
        for ok in [
            "app",
            "App.Name_1",
            "app.kubernetes.io/name",
            "kubernetes.io/os",
            "a/b",
            &"x".repeat(63),
            &format!("{}/x", "a".repeat(253)),
        ] {
            assert!(is_qualified_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_qualified_name(""),
            vec![
                "name part must be non-empty".to_string(),
                format!("name part {QNAME_MSG}")
            ]
        );
        assert_eq!(
            is_qualified_name("bad key"),
            vec![format!("name part {QNAME_MSG}")]
        );
        assert_eq!(
            is_qualified_name("_app"),
            vec![format!("name part {QNAME_MSG}")]
        );
        assert_eq!(
            is_qualified_name(&"x".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        assert_eq!(
            is_qualified_name("/app"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            is_qualified_name("Example.com/app"),
            vec![format!("prefix part {SUBDOMAIN_MSG}")]
        );
        assert_eq!(
            is_qualified_name("a/b/c"),
            vec![format!(
                "a qualified name {QNAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )]
        );
        assert_eq!(
            is_qualified_name("example.com/"),
            vec![
                "name part must be non-empty".to_string(),
                format!("name part {QNAME_MSG}")
            ]
        );
    }

    #[test]
    fn label_values() {
        for ok in ["", "web", "v1.2.3", "my_value", "12345", &"v".repeat(63)] {
            assert!(is_valid_label_value(ok).is_empty(), "{ok}");
        }
        for bad in ["-web", "web-", "a b", "a/b", "é"] {
            assert_eq!(is_valid_label_value(bad), vec![LABEL_VALUE_MSG], "{bad}");
        }
        assert_eq!(
            is_valid_label_value(&"v".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn name_rules() {
        // Each kind states its rule in its strategy (kinds/<group>/<kind>.rs).
        let name_rule_for_kind = |kind: &str| {
            crate::catalogue::resolve(kind)
                .unwrap()
                .strategy
                .name_rule()
        };
        assert_eq!(name_rule_for_kind("Service"), NameRule::Dns1035Label);
        assert_eq!(name_rule_for_kind("Namespace"), NameRule::Label);
        assert_eq!(name_rule_for_kind("StatefulSet"), NameRule::Label);
        for kind in [
            "Pod",
            "Deployment",
            "ReplicaSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "ConfigMap",
            "Secret",
            "Node",
        ] {
            assert_eq!(name_rule_for_kind(kind), NameRule::Subdomain, "{kind}");
        }
        assert!(NameRule::Subdomain.check("web-", true).is_empty());
        assert!(!NameRule::Subdomain.check("web-", false).is_empty());
        assert!(NameRule::Dns1035Label.check("svc-", true).is_empty());
        assert!(!NameRule::Subdomain.check("-", true).is_empty());
        assert!(!NameRule::Subdomain.check("Web-", true).is_empty());
    }

    #[test]
    fn generated_names() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let s = generate_name_suffix();
            assert_eq!(s.len(), 5);
            assert!(s.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)), "{s}");
            seen.insert(s);
        }
        assert!(seen.len() > 190, "suffixes should rarely repeat");
        let name = generate_name("web-");
        assert!(name.starts_with("web-") && name.len() == 9);
        let long = generate_name(&"a".repeat(100));
        assert_eq!(long.len(), 63);
        assert!(is_dns1123_label(&long).is_empty());
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn object_meta_name() {
        let errs = validate_object_meta(&json!({"name": "Web_1"}), true, NameRule::Subdomain);
        assert_eq!(
            messages(&errs),
            vec![format!(
                "metadata.name: Invalid value: \"Web_1\": {SUBDOMAIN_MSG}"
            )]
        );

        let errs = validate_object_meta(&json!({}), true, NameRule::Subdomain);
        assert_eq!(
            messages(&errs),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(errs[0].kind, ErrorType::Required);

        assert!(
            validate_object_meta(&json!({"generateName": "web-"}), true, NameRule::Subdomain)
                .is_empty()
        );
        let errs =
            validate_object_meta(&json!({"generateName": "Web-"}), true, NameRule::Subdomain);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.generateName");

        let errs = validate_object_meta(&json!({"name": "my.svc"}), true, NameRule::Dns1035Label);
        assert_eq!(
            messages(&errs),
            vec![format!(
                "metadata.name: Invalid value: \"my.svc\": {DNS1035_MSG}"
            )]
        );

        // A whole object is accepted too.
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
        let errs = validate_object_meta(&obj, false, NameRule::Label);
        assert_eq!(
            messages(&errs),
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );

        let errs = validate_object_meta(&json!({"name": 5}), true, NameRule::Subdomain);
        assert_eq!(
            messages(&errs),
            vec!["metadata.name: Invalid value: 5: must be a string"]
        );
    }

    #[test]
    fn object_meta_namespace_and_generation() {
        let errs = validate_object_meta(
            &json!({"name": "a", "namespace": "Bad"}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(
            messages(&errs),
            vec![format!(
                "metadata.namespace: Invalid value: \"Bad\": {LABEL_MSG}"
            )]
        );
        // Cluster-scoped objects: namespace is not looked at, and absence is fine for namespaced ones.
        assert!(validate_object_meta(
            &json!({"name": "a", "namespace": "Bad"}),
            false,
            NameRule::Subdomain
        )
        .is_empty());
        assert!(validate_object_meta(&json!({"name": "a"}), true, NameRule::Subdomain).is_empty());
        let errs = validate_object_meta(
            &json!({"name": "a", "generation": -1}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(
            messages(&errs),
            vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn object_meta_labels_and_annotations() {
        let meta = json!({
            "name": "web",
            "labels": {"app": "web", "bad key": "x", "tier": "-front"},
            "annotations": {"Example.COM/Note": "fine", "a/b/c": "x"}
        });
        let errs = validate_object_meta(&meta, true, NameRule::Subdomain);
        assert_eq!(
            messages(&errs),
            vec![
                format!("metadata.labels: Invalid value: \"bad key\": name part {QNAME_MSG}"),
                format!("metadata.labels: Invalid value: \"-front\": {LABEL_VALUE_MSG}"),
                format!(
                    "metadata.annotations: Invalid value: \"a/b/c\": a qualified name {QNAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
                ),
            ]
        );

        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let errs = validate_object_meta(
            &json!({"name": "a", "annotations": {"k": big}}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(
            messages(&errs),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        assert_eq!(errs[0].kind, ErrorType::TooLong);
        let fits = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1);
        assert!(validate_object_meta(
            &json!({"name": "a", "annotations": {"k": fits}}),
            true,
            NameRule::Subdomain
        )
        .is_empty());
    }

    #[test]
    fn object_meta_owner_references_and_finalizers() {
        let good = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": true});
        assert!(validate_object_meta(
            &json!({"name": "p", "ownerReferences": [good]}),
            true,
            NameRule::Subdomain
        )
        .is_empty());

        let errs = validate_object_meta(
            &json!({"name": "p", "ownerReferences": [{"apiVersion": "apps/", "kind": "", "name": "", "uid": ""}]}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(
            messages(&errs),
            vec![
                "metadata.ownerReferences.apiVersion: Invalid value: \"apps/\": version must not be empty",
                "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty",
                "metadata.ownerReferences.name: Invalid value: \"\": must not be empty",
                "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
            ]
        );

        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u2", "controller": true});
        let errs = validate_object_meta(
            &json!({"name": "p", "ownerReferences": [good, other]}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .detail
            .ends_with("Found \"true\" in references for ReplicaSet/web-1 and Deployment/web"));

        let event = json!({"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"});
        let errs = validate_object_meta(
            &json!({"name": "p", "ownerReferences": [event]}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(
            errs[0].detail,
            "/v1, Kind=Event is disallowed from being an owner"
        );

        let errs = validate_object_meta(
            &json!({"name": "p", "finalizers": ["kubernetes.io/pvc-protection", "bad finalizer"]}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(
            messages(&errs),
            vec![format!(
                "metadata.finalizers: Invalid value: \"bad finalizer\": name part {QNAME_MSG}"
            )]
        );
        let errs = validate_object_meta(
            &json!({"name": "p", "finalizers": ["orphan", "foregroundDeletion"]}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].detail,
            "finalizer orphan and foregroundDeletion cannot be both set"
        );
    }
}
