//! Reading manifests for `-f`: files, directories (their `.yaml`, `.yml` and
//! `.json` files in name order, `-R` to descend) and `-` for stdin; each
//! file split into YAML documents; `kind: List` expanded into its items.
//!
//! Mirrors kubectl's `resource.Builder` file visitor. Parse errors name the
//! file, the document (1-based) and the line:column *in the file*: each
//! document is parsed on its own (serde-saphyr) and its line numbers are
//! shifted by where it starts. URLs are out of scope (no network here).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::io::Io;

/// One object read from a manifest.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file it came from (`STDIN` for `-`).
    pub origin: String,
    /// 1-based position of the YAML document in its file.
    pub index: usize,
    pub object: Value,
}

/// Reads every `-f` argument, in order.
pub fn read_all(io: &Io, paths: &[String], recursive: bool) -> Result<Vec<Document>> {
    if paths.is_empty() {
        return Err(Error::Usage("must specify one of -f and -k".into()));
    }
    let mut docs = Vec::new();
    for p in paths {
        if p == "-" {
            let bytes = io.read_stdin()?;
            let text =
                String::from_utf8(bytes).map_err(|_| Error::Usage("stdin is not UTF-8".into()))?;
            docs.extend(parse("STDIN", &text)?);
            continue;
        }
        if p.starts_with("http://") || p.starts_with("https://") {
            return Err(Error::Usage(format!(
                "{p}: reading manifests from URLs is not supported by miniktl (no network); download the file and use -f FILE"
            )));
        }
        let path = PathBuf::from(p);
        let meta = std::fs::metadata(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Usage(format!("the path \"{p}\" does not exist"))
            } else {
                Error::File {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_dir(&path, recursive, &mut files)?;
            if files.is_empty() {
                return Err(Error::Usage(format!(
                    "error reading [{p}]: recognized file extensions are [.json .yaml .yml]"
                )));
            }
            for f in files {
                docs.extend(read_file(&f)?);
            }
        } else {
            docs.extend(read_file(&path)?);
        }
    }
    if docs.is_empty() {
        return Err(Error::Usage("no objects passed to apply".into()));
    }
    Ok(docs)
}

fn collect_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::File {
            path: dir.to_path_buf(),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            if recursive {
                collect_dir(&e, recursive, out)?;
            }
        } else if matches!(
            e.extension().and_then(|x| x.to_str()),
            Some("yaml") | Some("yml") | Some("json")
        ) {
            out.push(e);
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<Document>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        source: e,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Splits `text` into YAML documents and parses each; JSON is YAML too.
pub fn parse(origin: &str, text: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for (i, (first_line, body)) in split_documents(text).into_iter().enumerate() {
        let index = i + 1;
        if body.trim().is_empty()
            || body
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        let value: Value = serde_saphyr::from_str(&body).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            Error::Yaml {
                file: origin.to_string(),
                doc: index,
                line: line + first_line as u64 - 1,
                column,
                message: short_message(&e.to_string()),
            }
        })?;
        match value {
            Value::Null => continue,
            Value::Object(_) => {}
            other => {
                return Err(Error::Yaml {
                    file: origin.to_string(),
                    doc: index,
                    line: first_line as u64,
                    column: 1,
                    message: format!(
                        "expected a Kubernetes object (a mapping), found {}",
                        type_name(&other)
                    ),
                })
            }
        }
        let missing = |field: &str| {
            Error::Yaml {
            file: origin.to_string(),
            doc: index,
            line: first_line as u64,
            column: 1,
            message: format!("Object 'Kind' is missing or '{field}' is not set: every object needs apiVersion and kind"),
        }
        };
        if value
            .get("kind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(missing("kind"));
        }
        if value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(missing("apiVersion"));
        }
        if value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
        {
            if let Some(items) = value.get("items").and_then(Value::as_array) {
                for item in items {
                    docs.push(Document {
                        origin: origin.to_string(),
                        index,
                        object: item.clone(),
                    });
                }
                continue;
            }
        }
        docs.push(Document {
            origin: origin.to_string(),
            index,
            object: value,
        });
    }
    Ok(docs)
}

/// `(line where the document's text starts, text)` for each `---`-separated document.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let is_separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        let is_end = line == "..." || line.starts_with("... ");
        if is_separator || is_end {
            if !current.is_empty() || i > 0 {
                out.push((start, std::mem::take(&mut current)));
            }
            start = i + 2;
            if is_separator {
                let rest = line[3..].trim();
                if !rest.is_empty() && !rest.starts_with('#') {
                    // `--- {inline: doc}`: keep the content, same line.
                    start = i + 1;
                    current.push_str(&" ".repeat(4));
                    current.push_str(rest);
                    current.push('\n');
                }
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    out.push((start, current));
    out
}

/// serde-saphyr's first line, without its own `error: line N column M: ` prefix.
fn short_message(display: &str) -> String {
    let first = display.lines().next().unwrap_or(display);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if let Some(rest) = first.strip_prefix("line ") {
        if let Some((_, msg)) = rest.split_once(": ") {
            return msg.to_string();
        }
    }
    first.to_string()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_errors_name_document_and_file_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n   bad: 1\n";
        let err = parse("x.yaml", text).unwrap_err();
        match err {
            Error::Yaml {
                file,
                doc,
                line,
                column,
                message,
            } => {
                assert_eq!(file, "x.yaml");
                assert_eq!(doc, 2);
                assert_eq!(line, 10);
                assert_eq!(column, 7);
                assert!(message.contains("mapping values"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn splits_documents_and_expands_lists() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n";
        let docs = parse("f", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].object["kind"], "ConfigMap");
        assert_eq!(docs[1].object["kind"], "Secret");
        assert_eq!(docs[1].index, 3);
    }

    #[test]
    fn objects_need_kind_and_api_version() {
        let err = parse("f", "metadata: {name: a}\n").unwrap_err();
        assert!(err.to_string().contains("'kind' is not set"), "{err}");
    }
}
