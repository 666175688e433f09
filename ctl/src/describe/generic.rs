//! kubectl's generic describer, for kinds without a dedicated one: name,
//! namespace, labels, annotations, then every other field of the object
//! with "smart" labels (`apiVersion` → `API Version`), then Events.

use serde_json::{Map, Value};

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{events, scalar, Writer};
use crate::error::Result;

pub async fn describe(ctx: &Ctx, obj: &Value, show_events: bool, w: &mut Writer) -> Result<()> {
    Header::new(obj).write(w);
    if let Some(m) = obj.as_object() {
        content(
            w,
            0,
            m,
            "",
            &[
                ".metadata.name",
                ".metadata.namespace",
                ".metadata.labels",
                ".metadata.annotations",
            ],
        );
    }
    if show_events {
        let evs = events::for_object(ctx, obj).await?;
        events::write(w, &evs);
    }
    Ok(())
}

fn content(w: &mut Writer, level: usize, m: &Map<String, Value>, prefix: &str, skip: &[&str]) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let path = format!("{prefix}.{k}");
        if skip.contains(&path.as_str()) {
            continue;
        }
        match &m[k] {
            Value::Object(child) => {
                w.line(level, &format!("{}:", smart_label(k)));
                content(w, level + 1, child, &path, skip);
            }
            Value::Array(items) => {
                w.line(level, &format!("{}:", smart_label(k)));
                for item in items {
                    match item {
                        Value::Object(child) => content(w, level + 1, child, &path, skip),
                        other => w.line(level + 1, &scalar(Some(other))),
                    }
                }
            }
            other => w.line(
                level,
                &format!("{}:\t{}", smart_label(k), scalar(Some(other))),
            ),
        }
    }
}

/// `creationTimestamp` → `Creation Timestamp`, `apiVersion` → `API Version`,
/// `podIP` → `Pod IP`; names with other characters than letters and `-` stay.
pub fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: &[&str] = &["API", "URL", "UID", "OSB", "GUID"];
    camel_split(field)
        .into_iter()
        .map(|part| {
            let upper = part.to_uppercase();
            if ACRONYMS.contains(&upper.as_str()) {
                upper
            } else {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// fatih/camelcase's split: runs of lower, upper, digits, other; an upper
/// run followed by lowercase gives its last letter to the next word.
fn camel_split(s: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Lower,
        Upper,
        Digit,
        Other,
    }
    let class = |c: char| {
        if c.is_lowercase() {
            Class::Lower
        } else if c.is_uppercase() {
            Class::Upper
        } else if c.is_ascii_digit() {
            Class::Digit
        } else {
            Class::Other
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last: Option<Class> = None;
    for c in s.chars() {
        let k = class(c);
        if Some(k) == last {
            runs.last_mut().expect("run").push(c);
        } else {
            runs.push(vec![c]);
        }
        last = Some(k);
    }
    for i in 0..runs.len().saturating_sub(1) {
        if class(runs[i][0]) == Class::Upper && class(runs[i + 1][0]) == Class::Lower {
            let moved = runs[i].pop().expect("non-empty");
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_labels_like_kubectl() {
        assert_eq!(smart_label("apiVersion"), "API Version");
        assert_eq!(smart_label("creationTimestamp"), "Creation Timestamp");
        assert_eq!(smart_label("podIP"), "Pod IP");
        assert_eq!(smart_label("uid"), "UID");
        assert_eq!(smart_label("ingressClassName"), "Ingress Class Name");
        assert_eq!(smart_label("v1beta1"), "v1beta1");
    }
}
