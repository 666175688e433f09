//! `-o jsonpath=TEMPLATE` and `--sort-by`: kubectl's JSONPath dialect
//! (`k8s.io/client-go/util/jsonpath`), re-implemented from its documented
//! syntax: text with `{...}` actions; `$`, `@`, `.field`, `['field']`,
//! `.field\.with\.dots`, `[n]`, `[-n]`, `[a:b]`, `[*]`, `..field`,
//! `[?(@.x == "y")]`, `[a,b]`, `{range ...}{end}` and `{"literal"}`.
//!
//! Like kubectl's `-o jsonpath`, missing keys print nothing; several results
//! of one action are separated by spaces; maps and lists print as compact JSON.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::printers::json;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Expr(Vec<Step>),
    Range(Vec<Step>, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Root,
    Current,
    Field(String),
    Union(Vec<String>),
    Wildcard,
    Recursive,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Vec<Step>,
    op: Option<(String, Value)>,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct JsonPath {
    nodes: Vec<Node>,
    source: String,
}

impl JsonPath {
    pub fn parse(template: &str) -> Result<JsonPath> {
        let err = |m: &str| Error::Usage(format!("error parsing jsonpath {template}, {m}"));
        let mut actions: Vec<(bool, String)> = Vec::new();
        let mut text = String::new();
        let chars: Vec<char> = template.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '{' {
                if !text.is_empty() {
                    actions.push((false, std::mem::take(&mut text)));
                }
                let mut depth = 0;
                let mut j = i;
                let mut quote: Option<char> = None;
                let mut inner = String::new();
                loop {
                    if j >= chars.len() {
                        return Err(err("unclosed action"));
                    }
                    let c = chars[j];
                    if let Some(q) = quote {
                        if c == '\\' && j + 1 < chars.len() {
                            inner.push(c);
                            inner.push(chars[j + 1]);
                            j += 2;
                            continue;
                        }
                        if c == q {
                            quote = None;
                        }
                    } else if c == '"' || c == '\'' {
                        quote = Some(c);
                    } else if c == '{' {
                        depth += 1;
                        if depth == 1 {
                            j += 1;
                            continue;
                        }
                    } else if c == '}' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    inner.push(c);
                    j += 1;
                }
                actions.push((true, inner));
                i = j + 1;
            } else {
                text.push(chars[i]);
                i += 1;
            }
        }
        if !text.is_empty() {
            actions.push((false, text));
        }
        let mut pos = 0;
        let nodes = build(&actions, &mut pos, false).map_err(|m| err(&m))?;
        Ok(JsonPath {
            nodes,
            source: template.to_string(),
        })
    }

    /// Renders the template against `data`.
    pub fn execute(&self, data: &Value) -> Result<String> {
        let mut out = String::new();
        run(&self.nodes, data, data, &mut out).map_err(|m| {
            Error::Usage(format!("error executing jsonpath {:?}: {m}", self.source))
        })?;
        Ok(out)
    }

    /// The values the template's first expression selects (for `--sort-by`).
    pub fn select(&self, data: &Value) -> Vec<Value> {
        for n in &self.nodes {
            if let Node::Expr(steps) = n {
                return eval(steps, data, data).into_iter().cloned().collect();
            }
        }
        Vec::new()
    }
}

/// kubectl's "relaxed" form for `--sort-by`: `.a.b` and `{.a.b}` both work.
pub fn relaxed(expr: &str) -> Result<JsonPath> {
    let e = expr.trim();
    let e = e
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(e);
    let e = if e.starts_with('.') || e.starts_with('$') {
        e.to_string()
    } else {
        format!(".{e}")
    };
    JsonPath::parse(&format!("{{{e}}}"))
}

fn build(actions: &[(bool, String)], pos: &mut usize, in_range: bool) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    while *pos < actions.len() {
        let (is_action, text) = &actions[*pos];
        *pos += 1;
        if !is_action {
            nodes.push(Node::Text(text.clone()));
            continue;
        }
        let t = text.trim();
        if t == "end" {
            if in_range {
                return Ok(nodes);
            }
            return Err("not in range, nothing to end".into());
        }
        if let Some(rest) = t.strip_prefix("range ") {
            let steps = parse_expr(rest.trim())?;
            let body = build(actions, pos, true)?;
            nodes.push(Node::Range(steps, body));
            continue;
        }
        if (t.starts_with('"') && t.ends_with('"') && t.len() >= 2)
            || (t.starts_with('\'') && t.ends_with('\'') && t.len() >= 2)
        {
            nodes.push(Node::Text(unescape(&t[1..t.len() - 1])));
            continue;
        }
        nodes.push(Node::Expr(parse_expr(t)?));
    }
    if in_range {
        return Err("unclosed range".into());
    }
    Ok(nodes)
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_expr(s: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '$' => {
                steps.push(Step::Root);
                i += 1;
            }
            '@' => {
                steps.push(Step::Current);
                i += 1;
            }
            '.' => {
                if chars.get(i + 1) == Some(&'.') {
                    steps.push(Step::Recursive);
                    i += 2;
                    continue;
                }
                i += 1;
                let mut name = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        name.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    name.push(chars[i]);
                    i += 1;
                }
                if name == "*" {
                    steps.push(Step::Wildcard);
                } else if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
            }
            '[' => {
                let mut depth = 0;
                let mut j = i;
                let mut quote: Option<char> = None;
                while j < chars.len() {
                    let c = chars[j];
                    match quote {
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None if c == '"' || c == '\'' => quote = Some(c),
                        None if c == '[' => depth += 1,
                        None if c == ']' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        None => {}
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(format!("unterminated array in {s}"));
                }
                let inner: String = chars[i + 1..j].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                i = j + 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                // A bare name at the start (`{metadata.name}` in relaxed mode).
                let mut name = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    name.push(chars[i]);
                    i += 1;
                }
                steps.push(Step::Field(name));
            }
        }
    }
    Ok(steps)
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(f) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return parse_filter(f.trim()).map(Step::Filter);
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        let names: Vec<String> = inner
            .split(',')
            .map(|p| {
                let p = p.trim();
                p.trim_matches(|c| c == '\'' || c == '"').to_string()
            })
            .collect();
        return Ok(if names.len() == 1 {
            Step::Field(names[0].clone())
        } else {
            Step::Union(names)
        });
    }
    if let Some((a, b)) = inner.split_once(':') {
        let parse = |x: &str| -> Result<Option<i64>, String> {
            let x = x.trim();
            let x = x.split(':').next().unwrap_or("");
            if x.is_empty() {
                Ok(None)
            } else {
                x.parse()
                    .map(Some)
                    .map_err(|_| format!("invalid array index {x}"))
            }
        };
        return Ok(Step::Slice(parse(a)?, parse(b)?));
    }
    if inner.contains(',') {
        return Ok(Step::Union(
            inner.split(',').map(|s| s.trim().to_string()).collect(),
        ));
    }
    inner
        .parse()
        .map(Step::Index)
        .map_err(|_| format!("invalid array index {inner}"))
}

fn parse_filter(f: &str) -> Result<Filter, String> {
    for op in ["==", "!=", "<=", ">=", "<", ">", "=~"] {
        if let Some((l, r)) = split_outside_quotes(f, op) {
            let left = parse_expr(l.trim())?;
            let r = r.trim();
            let value = if (r.starts_with('"') && r.ends_with('"'))
                || (r.starts_with('\'') && r.ends_with('\''))
            {
                Value::String(r[1..r.len() - 1].to_string())
            } else if let Ok(n) = r.parse::<f64>() {
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            } else if r == "true" || r == "false" {
                Value::Bool(r == "true")
            } else {
                return Err(format!("unrecognized filter operand {r}"));
            };
            return Ok(Filter {
                left,
                op: Some((op.to_string(), value)),
            });
        }
    }
    Ok(Filter {
        left: parse_expr(f)?,
        op: None,
    })
}

fn split_outside_quotes<'a>(s: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if s[i..].starts_with(op) => return Some((&s[..i], &s[i + op.len()..])),
            None => {}
        }
    }
    None
}

fn eval<'a>(steps: &[Step], root: &'a Value, current: &'a Value) -> Vec<&'a Value> {
    let mut cur: Vec<&'a Value> = vec![current];
    for step in steps {
        let mut next: Vec<&'a Value> = Vec::new();
        match step {
            Step::Root => next.push(root),
            Step::Current => next.extend(cur.iter().copied()),
            Step::Field(name) => {
                for v in &cur {
                    if let Some(x) = v.get(name.as_str()) {
                        next.push(x);
                    }
                }
            }
            Step::Union(names) => {
                for v in &cur {
                    for n in names {
                        if let Ok(i) = n.parse::<i64>() {
                            if let Some(x) = index(v, i) {
                                next.push(x);
                            }
                        } else if let Some(x) = v.get(n.as_str()) {
                            next.push(x);
                        }
                    }
                }
            }
            Step::Wildcard => {
                for v in &cur {
                    match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => {
                            let mut keys: Vec<&String> = m.keys().collect();
                            keys.sort();
                            next.extend(keys.into_iter().map(|k| &m[k]));
                        }
                        _ => {}
                    }
                }
            }
            Step::Recursive => {
                for v in &cur {
                    descend(v, &mut next);
                }
            }
            Step::Index(i) => {
                for v in &cur {
                    if let Some(x) = index(v, *i) {
                        next.push(x);
                    }
                }
            }
            Step::Slice(a, b) => {
                for v in &cur {
                    if let Value::Array(arr) = v {
                        let len = arr.len() as i64;
                        let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                        let start = norm(a.unwrap_or(0));
                        let end = norm(b.unwrap_or(len));
                        if start < end {
                            next.extend(arr[start as usize..end as usize].iter());
                        }
                    }
                }
            }
            Step::Filter(f) => {
                for v in &cur {
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![*other],
                    };
                    for item in items {
                        if filter_matches(f, root, item) {
                            next.push(item);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

fn index(v: &Value, i: i64) -> Option<&Value> {
    let a = v.as_array()?;
    let idx = if i < 0 { a.len() as i64 + i } else { i };
    if idx < 0 {
        return None;
    }
    a.get(idx as usize)
}

fn descend<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    match v {
        Value::Array(a) => a.iter().for_each(|x| descend(x, out)),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            keys.into_iter().for_each(|k| descend(&m[k], out));
        }
        _ => {}
    }
}

fn filter_matches(f: &Filter, root: &Value, item: &Value) -> bool {
    let found = eval(&f.left, root, item);
    match &f.op {
        None => found.iter().any(|v| !v.is_null()),
        Some((op, want)) => found.iter().any(|got| compare(got, op, want)),
    }
}

fn compare(got: &Value, op: &str, want: &Value) -> bool {
    // Numbers compare as numbers, everything else as its text.
    fn holds<T: PartialOrd>(a: T, op: &str, b: T) -> bool {
        match op {
            "==" => a == b,
            "!=" => a != b,
            "<" => a < b,
            ">" => a > b,
            "<=" => a <= b,
            ">=" => a >= b,
            _ => false,
        }
    }
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            holds(a.as_f64().unwrap_or(0.0), op, b.as_f64().unwrap_or(0.0))
        }
        _ => holds(text(got), op, text(want)),
    }
}

/// How one result prints: strings raw, containers as compact JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => crate::printers::yaml::format_number(n),
        Value::Bool(b) => b.to_string(),
        other => json::to_compact(other),
    }
}

fn run(nodes: &[Node], root: &Value, current: &Value, out: &mut String) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Expr(steps) => {
                let start = if steps.first() == Some(&Step::Root) {
                    root
                } else {
                    current
                };
                let results = eval(steps, root, start);
                let texts: Vec<String> = results.iter().map(|v| text(v)).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(steps, body) => {
                let start = if steps.first() == Some(&Step::Root) {
                    root
                } else {
                    current
                };
                for item in eval(steps, root, start) {
                    run(body, root, item, out)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, v: &Value) -> String {
        JsonPath::parse(t).unwrap().execute(v).unwrap()
    }

    #[test]
    fn kubectl_examples() {
        let list = json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"app": "x"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        ]});
        assert_eq!(render("{.items[*].metadata.name}", &list), "a b");
        assert_eq!(
            render("{range .items[*]}{.metadata.name}{\"\\n\"}{end}", &list),
            "a\nb\n"
        );
        assert_eq!(
            render("{.items[0].metadata.labels}", &list),
            "{\"app\":\"x\"}"
        );
        assert_eq!(render("{.items[-1].metadata.name}", &list), "b");
        assert_eq!(
            render(
                "{.items[?(@.status.conditions[0].status==\"True\")].metadata.name}",
                &list
            ),
            "a"
        );
        assert_eq!(
            render(
                "{.items[*].status.conditions[?(@.type=='Ready')].status}",
                &list
            ),
            "True False"
        );
        assert_eq!(render("{.missing}", &list), "");
        assert_eq!(
            render("name: {..name}", &json!({"a": {"name": "n"}})),
            "name: n"
        );
        let secret = json!({"data": {"password": "cGFzcw==", "tls.crt": "x"}});
        assert_eq!(render("{.data.password}", &secret), "cGFzcw==");
        assert_eq!(render("{.data.tls\\.crt}", &secret), "x");
        assert_eq!(render("{.data['tls.crt']}", &secret), "x");
    }

    #[test]
    fn relaxed_sort_keys() {
        let p = relaxed(".lastTimestamp").unwrap();
        assert_eq!(p.select(&json!({"lastTimestamp": "t"})), vec![json!("t")]);
        let p = relaxed("{.metadata.name}").unwrap();
        assert_eq!(
            p.select(&json!({"metadata": {"name": "n"}})),
            vec![json!("n")]
        );
    }
}
