//! `-o yaml`: YAML laid out the way kubectl prints it.
//!
//! kubectl marshals objects with go-yaml v2 (through `sigs.k8s.io/yaml`),
//! so this emitter follows go-yaml's choices rather than a generic YAML
//! serializer's: map keys sorted, block style, sequences inside mappings not
//! indented ("- " at the key's column), strings plain unless YAML would read
//! them as something else (`"1"`, `"true"`, `""`, timestamps: double quotes)
//! or they start with an indicator (single quotes), multi-line strings as
//! `|` literal blocks, and long plain or quoted strings folded at spaces past
//! column 80.

use serde_json::Value;

/// go-yaml's `best_width`.
const BEST_WIDTH: usize = 80;

/// Renders a value as a YAML document (no leading `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut e = Emitter::default();
    match value {
        Value::Object(m) if !m.is_empty() => e.mapping(value, 0),
        Value::Array(a) if !a.is_empty() => e.sequence(value, 0),
        other => {
            e.scalar(other, 0, false);
            e.newline();
        }
    }
    e.out
}

#[derive(Default)]
struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.out.push_str(s);
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn indent_to(&mut self, indent: usize) {
        while self.column < indent {
            self.out.push(' ');
            self.column += 1;
        }
    }

    /// A block mapping whose keys sit at column `indent`; the cursor is
    /// either at the start of a line or right after "- " at `indent`.
    fn mapping(&mut self, value: &Value, indent: usize) {
        let map = value.as_object().expect("mapping");
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for (i, k) in keys.into_iter().enumerate() {
            if (i > 0 || self.column > indent) && self.column != 0 {
                self.newline();
            }
            self.indent_to(indent);
            self.key(k, indent);
            self.put(":");
            let v = &map[k];
            match v {
                Value::Object(m) if !m.is_empty() => {
                    self.newline();
                    self.mapping(v, indent + 2);
                }
                Value::Array(a) if !a.is_empty() => {
                    self.newline();
                    self.sequence(v, indent);
                }
                _ => {
                    self.put(" ");
                    self.scalar(v, indent + 2, true);
                    self.newline();
                }
            }
        }
        if self.column != 0 {
            self.newline();
        }
    }

    /// A block sequence whose dashes sit at column `indent`.
    fn sequence(&mut self, value: &Value, indent: usize) {
        for item in value.as_array().expect("sequence") {
            if self.column != 0 && self.column > indent {
                self.newline();
            }
            self.indent_to(indent);
            self.put("- ");
            match item {
                Value::Object(m) if !m.is_empty() => self.mapping(item, indent + 2),
                Value::Array(a) if !a.is_empty() => self.sequence(item, indent + 2),
                _ => {
                    self.scalar(item, indent + 2, true);
                    self.newline();
                }
            }
        }
        if self.column != 0 {
            self.newline();
        }
    }

    fn key(&mut self, k: &str, indent: usize) {
        let style = choose_style(k, true);
        self.string(k, style, indent + 2, false);
    }

    /// A scalar at the cursor; `indent` is where continuation lines start.
    fn scalar(&mut self, v: &Value, indent: usize, allow_breaks: bool) {
        match v {
            Value::Null => self.put("null"),
            Value::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Value::Number(n) => self.put(&format_number(n)),
            Value::String(s) => {
                let style = choose_style(s, false);
                self.string(s, style, indent, allow_breaks);
            }
            Value::Object(_) => self.put("{}"),
            Value::Array(_) => self.put("[]"),
        }
    }

    fn string(&mut self, s: &str, style: Style, indent: usize, allow_breaks: bool) {
        match style {
            Style::Plain => self.plain(s, indent, allow_breaks),
            Style::Single => self.single_quoted(s, indent, allow_breaks),
            Style::Double => self.double_quoted(s, indent, allow_breaks),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn write_indent(&mut self, indent: usize) {
        self.newline();
        self.indent_to(indent);
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.flow(s, indent, allow_breaks, Style::Plain, |w, c| w.put_char(c));
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.put("'");
        self.flow(s, indent, allow_breaks, Style::Single, |w, c| {
            if c == '\'' {
                w.put_char('\'');
            }
            w.put_char(c);
        });
        self.put("'");
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.put("\"");
        self.flow(s, indent, allow_breaks, Style::Double, |w, c| {
            if is_printable(c) && c != '"' && c != '\\' && c != '\u{feff}' {
                w.put_char(c);
                return;
            }
            let esc = match c {
                '\0' => "\\0".to_string(),
                '\u{7}' => "\\a".to_string(),
                '\u{8}' => "\\b".to_string(),
                '\t' => "\\t".to_string(),
                '\n' => "\\n".to_string(),
                '\u{b}' => "\\v".to_string(),
                '\u{c}' => "\\f".to_string(),
                '\r' => "\\r".to_string(),
                '\u{1b}' => "\\e".to_string(),
                '"' => "\\\"".to_string(),
                '\\' => "\\\\".to_string(),
                '\u{85}' => "\\N".to_string(),
                '\u{a0}' => "\\_".to_string(),
                '\u{2028}' => "\\L".to_string(),
                '\u{2029}' => "\\P".to_string(),
                c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                c => format!("\\U{:08X}", c as u32),
            };
            w.put(&esc);
        });
        self.put("\"");
    }

    /// Writes a flow scalar's characters as go-yaml's emitter does: the
    /// first space of a run, past the best width, becomes a line break at
    /// `indent` (where the style allows one there); `write` writes every
    /// other character, quoting or escaping it as the style needs.
    fn flow(
        &mut self,
        s: &str,
        indent: usize,
        allow_breaks: bool,
        style: Style,
        write: fn(&mut Self, char),
    ) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c != ' ' {
                write(self, c);
                spaces = false;
                continue;
            }
            let next_space = chars.get(i + 1) == Some(&' ');
            let interior = i > 0 && i + 1 < chars.len();
            let wrap = allow_breaks
                && !spaces
                && self.column > BEST_WIDTH
                && match style {
                    Style::Plain => !next_space,
                    Style::Single => interior && !next_space,
                    _ => interior,
                };
            if wrap {
                self.write_indent(indent);
                // A double-quoted scalar keeps the following space by
                // escaping the line break before it.
                if style == Style::Double && next_space {
                    self.put("\\");
                }
            } else {
                self.put_char(c);
            }
            spaces = true;
        }
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.put("|");
        if s.starts_with(' ') || s.starts_with('\n') {
            self.put("2");
        }
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.len() == 1 || s[..s.len() - 1].ends_with('\n') {
            "+"
        } else {
            ""
        };
        self.put(chomp);
        self.newline();
        let body = if chomp == "-" { s } else { &s[..s.len() - 1] };
        for line in body.split('\n') {
            if !line.is_empty() {
                self.indent_to(indent);
                self.put(line);
            }
            self.newline();
        }
        // The caller ends the line; undo our final newline so it does not double.
        if self.out.ends_with('\n') {
            self.out.pop();
            self.column = 1;
        }
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// go-yaml v2's choice of scalar style for a string (encoder, then emitter).
fn choose_style(s: &str, simple_key: bool) -> Style {
    let a = analyze(s);
    let can_use_plain = resolves_to_str(s) && !is_base60_float(s);
    let mut style = if s.contains('\n') {
        Style::Literal
    } else if can_use_plain {
        Style::Plain
    } else {
        Style::Double
    };
    if style == Style::Plain {
        if !a.block_plain_allowed || (simple_key && a.multiline) {
            style = Style::Single;
        }
        if s.is_empty() && simple_key {
            style = Style::Single;
        }
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    style
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || u == 0x85
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
        || (0x10000..=0x10ffff).contains(&u)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    // Whitespace at either end rules out a plain scalar; a trailing space
    // also a block scalar.
    let (mut edge_whitespace, mut trailing_space) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars
            .get(i + 1)
            .is_none_or(|n| *n == ' ' || *n == '\t' || is_break(*n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        let (space, brk) = (c == ' ', is_break(c));
        if space || brk {
            let last = i + 1 == chars.len();
            edge_whitespace |= i == 0 || last;
            trailing_space |= space && last;
            break_space |= space && previous_break;
            space_break |= brk && previous_space;
            line_breaks |= brk;
        }
        previous_space = space;
        previous_break = brk;
        preceded_by_whitespace = c == ' ' || c == '\t' || is_break(c) || c == '\0';
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if edge_whitespace {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 would read `s`, unquoted, back as a string.
fn resolves_to_str(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let hinted = first.is_ascii_digit()
        || matches!(
            first,
            '+' | '-' | '.' | 'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' | '~' | '<'
        );
    if !hinted {
        return true;
    }
    if SPECIAL.contains(&s) {
        return false;
    }
    match first {
        '.' => s.parse::<f64>().is_err() || s.contains(['i', 'I', 'n', 'N']) && !is_yaml_float(s),
        c if c.is_ascii_digit() || c == '+' || c == '-' => {
            if looks_like_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(parses_as_go_int(&plain) || is_yaml_float(&plain) || parses_binary(&plain))
        }
        _ => true,
    }
}

/// `strconv.ParseInt(s, 0, 64)` or ParseUint: decimal, 0x, 0o, 0b, leading-0 octal.
fn parses_as_go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (h, 16)
        } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (o, 8)
        } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (b, 2)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

fn parses_binary(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.strip_prefix("0b")
        .is_some_and(|b| !b.is_empty() && b.chars().all(|c| c == '0' || c == '1'))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml's quick check plus the shapes its timestamp formats accept.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let mut parts = rest.splitn(3, '-');
    let (Some(m), Some(d_and_time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if parts.next().is_some()
        || m.is_empty()
        || m.len() > 2
        || !m.bytes().all(|c| c.is_ascii_digit())
    {
        return false;
    }
    let day_len = d_and_time.bytes().take_while(u8::is_ascii_digit).count();
    if day_len == 0 || day_len > 2 {
        return false;
    }
    let time = &d_and_time[day_len..];
    time.is_empty() || (time.starts_with(['T', 't', ' ']) && time[1..].contains(':'))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        let rest = &b[i + 1..];
        let n = match rest {
            [a, c, ..] if (b'0'..=b'5').contains(a) && c.is_ascii_digit() => 2,
            [a, ..] if a.is_ascii_digit() => 1,
            _ => return false,
        };
        // Prefer the longest match that still lets the rest match; try both.
        i += 1 + n;
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Integers as they are; floats the way Go's `strconv.FormatFloat(f, 'g', -1, 64)` does.
pub fn format_number(n: &serde_json::Number) -> String {
    super::go_number(n, |f| {
        let exp = f.abs().log10().floor() as i32;
        !(-4..21).contains(&exp)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lays_out_like_kubectl() {
        let obj = json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"deployment.kubernetes.io/revision": "1"}, "creationTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "minik/web:v1", "args": ["-c", "echo hi"], "ports": [{"containerPort": 80}]}]}}},
            "status": {}
        });
        let expected = "apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: \"1\"
  creationTimestamp: \"2024-05-01T10:00:00Z\"
  labels:
    app: web
  name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
      - args:
        - -c
        - echo hi
        image: minik/web:v1
        name: web
        ports:
        - containerPort: 80
status: {}
";
        assert_eq!(to_yaml(&obj), expected);
    }

    #[test]
    fn quotes_what_yaml_would_misread() {
        let cases: [(Style, &[&str]); 4] = [
            (Style::Double, &["true", "", "1.35", "0755", "1:20", "a\tb"]),
            (Style::Single, &["*", "- x", "a: b"]),
            (Style::Plain, &["8080:80", "1/1", "minik/web:v1"]),
            (Style::Literal, &["a\nb"]),
        ];
        for (style, texts) in cases {
            for text in texts {
                assert_eq!(choose_style(text, false), style, "{text:?}");
            }
        }
    }

    #[test]
    fn literal_blocks_keep_their_chomping() {
        let y = to_yaml(&json!({"a": "x\ny\n", "b": "x\ny", "c": {"d": "{\"k\":1}\n"}}));
        assert_eq!(
            y,
            "a: |\n  x\n  y\nb: |-\n  x\n  y\nc:\n  d: |\n    {\"k\":1}\n"
        );
    }

    #[test]
    fn long_plain_strings_fold_past_column_80() {
        let msg = "ReplicaSet \"web-5d8f7c9b4\" has timed out progressing because it did not become available in time";
        let y = to_yaml(&json!({"message": msg}));
        assert_eq!(
            y,
            "message: ReplicaSet \"web-5d8f7c9b4\" has timed out progressing because it did not become\n  available in time\n"
        );
    }

    #[test]
    fn floats_print_like_go() {
        assert_eq!(
            format_number(&serde_json::Number::from_f64(0.5).unwrap()),
            "0.5"
        );
        assert_eq!(
            format_number(&serde_json::Number::from_f64(2.0).unwrap()),
            "2"
        );
    }
}
