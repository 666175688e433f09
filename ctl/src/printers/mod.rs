//! Output formats (`-o`), shared by every command that prints objects.
//!
//! Human-readable tables are the API server's own `meta.k8s.io/v1` Tables
//! (server-side printing, as kubectl does it), decorated and laid out here
//! exactly like kubectl's `tableprinter` (namespace column for `-A`,
//! `kind/` name prefix for several kinds, `--show-labels`, `-L`). The other
//! formats live in their own modules: [`yaml`], [`json`], [`jsonpath`];
//! column alignment is Go's tabwriter ([`tabwriter`]).

pub mod json;
pub mod jsonpath;
pub mod tabwriter;
pub mod yaml;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::printers::jsonpath::JsonPath;
use crate::printers::tabwriter::TabWriter;
use crate::value::array_at;

/// What `-o` asked for.
#[derive(Debug, Clone)]
pub enum Format {
    /// The server's table (default).
    Table,
    /// The table with priority-1 columns (`-o wide`).
    Wide,
    Yaml,
    Json,
    /// `kind.group/name` per object (`-o name`).
    Name,
    JsonPath(JsonPath),
}

impl Format {
    /// Parses `-o`'s value as kubectl does (`yaml`, `jsonpath={...}`, `jsonpath='{...}'`).
    pub fn parse(o: Option<&str>) -> Result<Format> {
        let Some(o) = o else {
            return Ok(Format::Table);
        };
        Ok(match o {
            "" => Format::Table,
            "wide" => Format::Wide,
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "name" => Format::Name,
            _ => {
                if let Some(t) = o
                    .strip_prefix("jsonpath=")
                    .or_else(|| o.strip_prefix("jsonpath-as-json="))
                {
                    let t = t.trim_matches('\'');
                    Format::JsonPath(JsonPath::parse(t)?)
                } else {
                    return Err(Error::Usage(format!(
                        "unable to match a printer suitable for the output format \"{o}\", allowed formats are: json,jsonpath,name,wide,yaml"
                    )));
                }
            }
        })
    }

    pub fn is_table(&self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// Prints objects in a non-table format. `single` means one object was
/// asked for by name: it prints bare, otherwise inside a `List`. JSON and
/// YAML leave out `metadata.managedFields`, as kubectl does by default.
pub fn print_objects(format: &Format, objects: &[Value], single: bool) -> Result<String> {
    render_objects(format, objects, single, false)
}

/// [`print_objects`], keeping `metadata.managedFields` if asked to
/// (`--show-managed-fields`).
pub fn render_objects(
    format: &Format,
    objects: &[Value],
    single: bool,
    show_managed_fields: bool,
) -> Result<String> {
    let mut data = if single && objects.len() == 1 {
        objects[0].clone()
    } else {
        json!({"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}})
    };
    if !show_managed_fields && matches!(format, Format::Yaml | Format::Json) {
        omit_managed_fields(&mut data);
    }
    Ok(match format {
        Format::Yaml => yaml::to_yaml(&data),
        Format::Json => json::to_json(&data),
        Format::JsonPath(p) => p.execute(&data)?,
        Format::Name => objects
            .iter()
            .map(|o| format!("{}\n", object_name(o)))
            .collect(),
        Format::Table | Format::Wide => unreachable!("tables are printed by TablePrinter"),
    })
}

/// `deployment.apps/web`: kubectl's `-o name` for an object.
pub fn object_name(obj: &Value) -> String {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    let name = minik_api::meta::name(obj);
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}

/// How a table is decorated (kubectl's `PrintOptions`).
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub wide: bool,
    pub no_headers: bool,
    pub with_namespace: bool,
    /// `deployment.apps`: prefix for the name column when several kinds print.
    pub kind_prefix: Option<String>,
    pub show_labels: bool,
    /// `-L key`: one column per label key.
    pub label_columns: Vec<String>,
}

/// Prints server Tables through one tabwriter, like kubectl's table printer.
pub struct TablePrinter {
    tw: TabWriter,
}

impl Default for TablePrinter {
    fn default() -> Self {
        Self::new()
    }
}

impl TablePrinter {
    pub fn new() -> Self {
        TablePrinter {
            tw: TabWriter::for_tables(),
        }
    }

    /// Feeds a Table; returns nothing until [`TablePrinter::flush`].
    /// Returns whether any row was printed.
    pub fn add(&mut self, table: &Value, opts: &TableOptions) -> bool {
        let text = render_table(table, opts);
        let printed = !text.is_empty();
        self.tw.write_str(&text);
        printed
    }

    pub fn flush(&mut self) -> String {
        self.tw.flush()
    }

    /// Flushes and forgets column widths (a new kind's table follows).
    pub fn next_kind(&mut self) -> String {
        let out = self.tw.flush();
        self.tw.reset_widths();
        out
    }
}

/// One table as tab-separated text (kubectl's `decorateTable` + `printTable`).
pub fn render_table(table: &Value, opts: &TableOptions) -> String {
    let columns = array_at(table, "/columnDefinitions");
    let rows = array_at(table, "/rows");
    let name_column = if opts.kind_prefix.is_some() {
        columns.iter().position(|c| {
            c.get("format").and_then(Value::as_str) == Some("name")
                && c.get("type").and_then(Value::as_str) == Some("string")
        })
    } else {
        None
    };
    let shown =
        |c: &Value| opts.wide || c.get("priority").and_then(Value::as_i64).unwrap_or(0) == 0;
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    if !opts.no_headers {
        let mut headers: Vec<String> = Vec::new();
        if opts.with_namespace {
            headers.push("NAMESPACE".into());
        }
        for c in columns.iter().filter(|c| shown(c)) {
            headers.push(
                c.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_uppercase(),
            );
        }
        for l in &opts.label_columns {
            headers.push(l.rsplit('/').next().unwrap_or(l).to_uppercase());
        }
        if opts.show_labels {
            headers.push("LABELS".into());
        }
        out.push_str(&headers.join("\t"));
        out.push('\n');
    }
    for row in rows {
        let meta = row.pointer("/object/metadata");
        let mut cells: Vec<String> = Vec::new();
        if opts.with_namespace {
            cells.push(
                meta.and_then(|m| m.get("namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
        let row_cells = array_at(row, "/cells");
        for (i, cell) in row_cells.iter().enumerate() {
            let Some(c) = columns.get(i) else { break };
            if !shown(c) {
                continue;
            }
            let mut text = cell_text(cell);
            if Some(i) == name_column {
                if let Some(p) = &opts.kind_prefix {
                    text = format!("{p}/{text}");
                }
            }
            cells.push(text);
        }
        let labels = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        for l in &opts.label_columns {
            cells.push(
                labels
                    .and_then(|m| m.get(l))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
        if opts.show_labels {
            cells.push(format_labels(labels));
        }
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

/// A cell as kubectl prints it: strings up to the first line break (then
/// `...`), numbers and booleans as Go prints them, null as nothing.
fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(s) => match s.find(['\n', '\r', '\u{c}']) {
            Some(i) => format!("{}...", &s[..i]),
            None => s.clone(),
        },
        Value::Number(n) => yaml::format_number(n),
        Value::Bool(b) => b.to_string(),
        other => json::to_compact(other),
    }
}

/// `a=b,c=d` sorted by key, or `<none>`.
pub fn format_labels(labels: Option<&serde_json::Map<String, Value>>) -> String {
    match labels {
        Some(m) if !m.is_empty() => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        _ => "<none>".to_string(),
    }
}

/// A JSON number as Go prints it: integers as they are, whole floats
/// without a fraction, and exponent notation where `exponent` says the
/// float needs it — with Go's signed two-digit exponent (`1e-07`,
/// `1.5e+21`; Rust writes `1e-7`, `1.5e21`). `encoding/json` and
/// `strconv`'s `'g'` differ only in where exponents start.
pub fn go_number(n: &serde_json::Number, exponent: fn(f64) -> bool) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{}", f as i64);
    }
    if exponent(f) {
        let s = format!("{f:e}");
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("+", e),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{f}")
}

/// Drops `metadata.managedFields` from an object or from a List's items.
pub fn omit_managed_fields(data: &mut Value) {
    if let Some(items) = data.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(omit_managed_fields);
    }
    if let Some(meta) = data.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Value {
        json!({
            "columnDefinitions": [
                {"name": "Name", "type": "string", "format": "name", "priority": 0},
                {"name": "Ready", "type": "string", "format": "", "priority": 0},
                {"name": "IP", "type": "string", "format": "", "priority": 1}
            ],
            "rows": [
                {"cells": ["web-1", "1/1", "10.244.0.5"], "object": {"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web", "tier": "fe"}}}}
            ]
        })
    }

    #[test]
    fn decorates_like_kubectl() {
        let mut p = TablePrinter::new();
        p.add(
            &table(),
            &TableOptions {
                with_namespace: true,
                kind_prefix: Some("pod".into()),
                show_labels: true,
                label_columns: vec!["app.kubernetes.io/app".into()],
                ..Default::default()
            },
        );
        assert_eq!(
            p.flush(),
            "NAMESPACE   NAME        READY   APP   LABELS\ndefault     pod/web-1   1/1           app=web,tier=fe\n"
        );
        let mut p = TablePrinter::new();
        p.add(
            &table(),
            &TableOptions {
                wide: true,
                ..Default::default()
            },
        );
        assert_eq!(
            p.flush(),
            "NAME    READY   IP\nweb-1   1/1     10.244.0.5\n"
        );
    }

    #[test]
    fn output_formats_parse() {
        assert!(matches!(
            Format::parse(Some("jsonpath={.a}")).unwrap(),
            Format::JsonPath(_)
        ));
        assert!(matches!(
            Format::parse(Some("jsonpath='{.a}'")).unwrap(),
            Format::JsonPath(_)
        ));
        assert!(Format::parse(Some("xml")).is_err());
        assert_eq!(
            object_name(
                &json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "w"}})
            ),
            "deployment.apps/w"
        );
    }
}
