//! `-o json`: JSON as kubectl prints it — Go's `json.MarshalIndent(obj, "",
//! "    ")` over an unstructured object: keys sorted, four-space indent, and
//! Go's HTML-safe escaping of `<`, `>` and `&`.

use serde_json::Value;

/// Renders `value` with a trailing newline.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, Some(0));
    out.push('\n');
    out
}

/// Compact JSON with sorted keys and Go's escaping (jsonpath's object output).
pub fn to_compact(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, None);
    out
}

/// Writes `v`; `indent` is the nesting level of MarshalIndent's layout,
/// `None` for compact output. Objects' keys are sorted, as Go sorts a map's.
fn write_value(out: &mut String, v: &Value, indent: Option<usize>) {
    let (open, close, entries): (char, char, Vec<(Option<&String>, &Value)>) = match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            (
                '{',
                '}',
                keys.into_iter().map(|k| (Some(k), &m[k])).collect(),
            )
        }
        Value::Array(a) => ('[', ']', a.iter().map(|item| (None, item)).collect()),
        scalar => return write_scalar(out, scalar),
    };
    let inner = indent.map(|n| n + 1);
    out.push(open);
    for (i, (key, item)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(n) = inner {
            out.push('\n');
            push_indent(out, n);
        }
        if let Some(k) = key {
            write_string(out, k);
            out.push_str(if indent.is_some() { ": " } else { ":" });
        }
        write_value(out, item, inner);
    }
    if let (Some(n), false) = (indent, entries.is_empty()) {
        out.push('\n');
        push_indent(out, n);
    }
    out.push(close);
}

fn write_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => write_string(out, s),
        _ => unreachable!("containers are handled by the callers"),
    }
}

/// Go's float encoding: `'f'` format unless the exponent is extreme.
fn go_number(n: &serde_json::Number) -> String {
    super::go_number(n, |f| f != 0.0 && (f.abs() < 1e-6 || f.abs() >= 1e21))
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_four_space_html_safe() {
        let v = json!({"b": [1, {"y": "<a&b>"}], "a": {}, "c": []});
        assert_eq!(
            to_json(&v),
            "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"y\": \"\\u003ca\\u0026b\\u003e\"\n        }\n    ],\n    \"c\": []\n}\n"
        );
        assert_eq!(
            to_compact(&json!({"b": 1, "a": "x"})),
            "{\"a\":\"x\",\"b\":1}"
        );
    }
}
