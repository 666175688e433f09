//! Label selectors and field selectors: parsing, matching, canonical text.
//!
//! Owns the `?labelSelector=` / `?fieldSelector=` query languages and the
//! `metav1.LabelSelector` objects found in Deployment, ReplicaSet, Job, …
//! specs. Mirrors apimachinery's `pkg/labels` (`Parse`, `Requirement`,
//! `SelectorFromSet`, `Selector.String`), `metav1.LabelSelectorAsSelector`,
//! `metav1/validation.ValidateLabelSelector` and `pkg/fields`
//! (`ParseSelector`, `EscapeValue`/`UnescapeValue`).
//!
//! Label selector grammar (as `labels.Parse`):
//!
//! ```text
//! selector    ::= requirement ("," requirement)*
//! requirement ::= ["!"] KEY [ ("in" | "notin") "(" VALUE ("," VALUE)* ")"
//!                           | ("=" | "==" | "!=" | ">" | "<") VALUE ]
//! ```
//!
//! e.g. `app=web,tier in (frontend,cache),!canary`. Keys must be qualified
//! names and values label values (see [`crate::names`]); error messages are
//! kube-apiserver's. An empty selector matches everything.
//!
//! Field selectors are `field=value`, `field==value` or `field!=value`,
//! comma-separated, with `\,`, `\=` and `\\` escapes in values. Matching
//! looks the dotted field path up in the object; a missing field reads as
//! the empty string, so `spec.nodeName=` selects unscheduled pods.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::field_error::FieldError;
use crate::names::{is_qualified_name, is_valid_label_value, validate_labels};

/// Why a selector could not be parsed or built. The messages are
/// kube-apiserver's, so clients see the same 400 text as on a real cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector text breaks the grammar between requirements,
    /// e.g. `found ')', expected: !, identifier, or 'end of string'`.
    #[error("{0}")]
    Syntax(String),
    /// One requirement of a label selector string is malformed or invalid
    /// (bad key, bad value, missing operator, …).
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A requirement built from a `metav1.LabelSelector` object is invalid.
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` operator other than In, NotIn, Exists, DoesNotExist.
    #[error("\"{0}\" is not a valid label selector operator")]
    UnknownOperator(String),
    /// The `metav1.LabelSelector` JSON has the wrong shape (e.g. a number where a map belongs).
    #[error("invalid label selector: {0}")]
    Shape(String),
    /// A field selector term without a recognised operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A field selector value with a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value with an unescaped `,` or `=`. Kubernetes prints
    /// the character's code point (e.g. 61 for `=`), and so does minik.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedCharacter(char),
}

// ===========================================================================
// Label selectors
// ===========================================================================

/// How a label requirement relates its key to its values (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `k=v`
    Equals,
    /// `k==v`
    DoubleEquals,
    /// `k!=v` (also matches objects without the label)
    NotEquals,
    /// `k in (a,b)`
    In,
    /// `k notin (a,b)` (also matches objects without the label)
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>5` (integer comparison)
    GreaterThan,
    /// `k<5` (integer comparison)
    LessThan,
}

/// One clause of a label selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// A checked requirement (Kubernetes' `labels.NewRequirement`): the key
    /// must be a qualified name, the values label values, and their number
    /// must suit the operator.
    pub fn new(
        key: &str,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, SelectorError> {
        new_requirement(key, operator, values).map_err(SelectorError::InvalidRequirement)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a labels map satisfies this requirement. `NotIn` and
    /// `NotEquals` match objects that lack the label; `In`, `Equals`, `>` and
    /// `<` need it.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels.get(&self.key).map(label_text);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.iter().any(|x| *x == v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| self.values.iter().all(|x| *x != v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(actual) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

/// A label's value as text (labels are strings; anything else is shown as JSON).
fn label_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

impl fmt::Display for Requirement {
    /// Kubernetes' `Requirement.String()`: `k=v`, `k in (a,b)`, `!k`, …
    /// with set values sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Kubernetes' `NewRequirement` checks. On failure returns the aggregated
/// message (one field error, or `[e1, e2]` for several).
fn new_requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, String> {
    let mut errs: Vec<String> = Vec::new();
    let key_errs = is_qualified_name(key);
    if !key_errs.is_empty() {
        errs.push(FieldError::invalid("key", Value::from(key), key_errs.join("; ")).message());
    }
    let invalid_values =
        |detail: &str| FieldError::invalid("values", values_json(&values), detail).message();
    match operator {
        Operator::In | Operator::NotIn => {
            if values.is_empty() {
                errs.push(invalid_values(
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if values.len() != 1 {
                errs.push(invalid_values(
                    "exact-match compatibility requires one single value",
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !values.is_empty() {
                errs.push(invalid_values(
                    "values set must be empty for exists and does not exist",
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(invalid_values(
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(
                        FieldError::invalid(
                            format!("values[{i}]"),
                            Value::from(v.as_str()),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        )
                        .message(),
                    );
                }
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let value_errs = is_valid_label_value(v);
        if !value_errs.is_empty() {
            errs.push(
                FieldError::invalid(
                    format!("values[{i}][{key}]"),
                    Value::from(v.as_str()),
                    value_errs.join("; "),
                )
                .message(),
            );
        }
    }
    if errs.is_empty() {
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    } else {
        Err(aggregate(errs))
    }
}

/// A values list as the bad value of a field error; an empty list is shown
/// as `null`, as Go shows its nil slice.
fn values_json(values: &[String]) -> Value {
    if values.is_empty() {
        Value::Null
    } else {
        Value::from(values.to_vec())
    }
}

/// apimachinery's error aggregate text: one message alone, several
/// (deduplicated) as `[a, b]`.
fn aggregate(mut errs: Vec<String>) -> String {
    let mut seen = BTreeSet::new();
    errs.retain(|e| seen.insert(e.clone()));
    if errs.len() == 1 {
        errs.remove(0)
    } else {
        format!("[{}]", errs.join(", "))
    }
}

/// A label selector: the AND of its requirements. The empty selector
/// matches every object; the "nothing" selector (from a null
/// `metav1.LabelSelector`) matches none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    matches_nothing: bool,
}

impl LabelSelector {
    /// The selector that matches everything (`labels.Everything()`).
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    /// The selector that matches nothing (`labels.Nothing()`); what a null
    /// `metav1.LabelSelector` means.
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            matches_nothing: true,
        }
    }

    /// Parses the `?labelSelector=` syntax (`labels.Parse`). Requirements
    /// are kept sorted by key, so [`Display`](fmt::Display) gives the
    /// canonical form.
    pub fn parse(s: &str) -> Result<LabelSelector, SelectorError> {
        let mut parser = Parser {
            items: lex(s),
            pos: 0,
        };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            matches_nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` object (`matchLabels` and
    /// `matchExpressions` with In, NotIn, Exists, DoesNotExist), as
    /// `metav1.LabelSelectorAsSelector`: null matches nothing, `{}` everything.
    pub fn from_json(selector: &Value) -> Result<LabelSelector, SelectorError> {
        let obj = match selector {
            Value::Null => return Ok(LabelSelector::nothing()),
            Value::Object(obj) => obj,
            other => {
                return Err(SelectorError::Shape(format!(
                    "expected an object, got {other}"
                )))
            }
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (key, value) in labels {
                    let Value::String(value) = value else {
                        return Err(SelectorError::Shape(format!(
                            "matchLabels[{key}] must be a string"
                        )));
                    };
                    requirements.push(Requirement::new(
                        key,
                        Operator::Equals,
                        vec![value.clone()],
                    )?);
                }
            }
            Some(_) => {
                return Err(SelectorError::Shape(
                    "matchLabels must be a map of strings".into(),
                ))
            }
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for (i, expr) in exprs.iter().enumerate() {
                    requirements.push(expression_requirement(expr, i)?);
                }
            }
            Some(_) => {
                return Err(SelectorError::Shape(
                    "matchExpressions must be a list".into(),
                ))
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            matches_nothing: false,
        })
    }

    /// The selector matching exactly these labels (`labels.SelectorFromSet`),
    /// as a Service's `spec.selector` means. Not validated; empty matches everything.
    pub fn from_map(labels: &Map<String, Value>) -> LabelSelector {
        let mut requirements: Vec<Requirement> = labels
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![label_text(v).into_owned()],
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            matches_nothing: false,
        }
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether an object (anything with `metadata.labels`) is selected.
    pub fn matches_object(&self, obj: &Value) -> bool {
        let empty = Map::new();
        let labels = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        self.matches(labels)
    }

    /// True when the selector does not restrict anything (and so matches
    /// everything). The "nothing" selector is not empty.
    pub fn is_empty(&self) -> bool {
        !self.matches_nothing && self.requirements.is_empty()
    }

    /// Whether this selector can match nothing at all (from a null `metav1.LabelSelector`).
    pub fn is_nothing(&self) -> bool {
        self.matches_nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value the selector demands for `key` (from `key=v`,
    /// `key==v` or `key in (v)`), if any (`RequiresExactMatch`).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical text, as Kubernetes' `Selector.String()`:
    /// requirements sorted by key, comma-separated (`app=web,tier in (a,b)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comma_separated(f, &self.requirements)
    }
}

/// `a,b,c`: how both kinds of selector print their requirements.
fn write_comma_separated<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn expression_requirement(expr: &Value, index: usize) -> Result<Requirement, SelectorError> {
    let shape = |what: &str| SelectorError::Shape(format!("matchExpressions[{index}].{what}"));
    let key = match expr.get("key") {
        Some(Value::String(k)) => k.as_str(),
        None | Some(Value::Null) => "",
        Some(_) => return Err(shape("key must be a string")),
    };
    let operator = match expr.get("operator") {
        Some(Value::String(op)) => op.as_str(),
        None | Some(Value::Null) => "",
        Some(_) => return Err(shape("operator must be a string")),
    };
    let operator = match operator {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(SelectorError::UnknownOperator(other.to_string())),
    };
    let values = match expr.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| shape("values must be a list of strings"))?,
        Some(_) => return Err(shape("values must be a list of strings")),
    };
    Requirement::new(key, operator, values)
}

/// Checks a `metav1.LabelSelector` object found at `path` (e.g.
/// `spec.selector`) like Kubernetes' `ValidateLabelSelector`: valid
/// `matchLabels`, and for every expression a known operator, the right
/// number of values, a valid key and valid values.
pub fn validate_label_selector(selector: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let obj = match selector {
        Value::Null => return errs,
        Value::Object(obj) => obj,
        other => {
            errs.push(FieldError::invalid(
                path,
                other.clone(),
                "must be a label selector object",
            ));
            return errs;
        }
    };
    if let Some(labels) = obj.get("matchLabels") {
        errs.extend(validate_labels(labels, &format!("{path}.matchLabels")));
    }
    let exprs = match obj.get("matchExpressions") {
        None | Some(Value::Null) => return errs,
        Some(Value::Array(exprs)) => exprs,
        Some(other) => {
            errs.push(FieldError::invalid(
                format!("{path}.matchExpressions"),
                other.clone(),
                "must be a list",
            ));
            return errs;
        }
    };
    for (i, expr) in exprs.iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values: Vec<&Value> = expr
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let operator = expr.get("operator").cloned().unwrap_or(Value::from(""));
        match operator.as_str().unwrap_or("") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{p}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{p}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                format!("{p}.operator"),
                operator,
                "not a valid selector operator",
            )),
        }
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        for msg in is_qualified_name(key) {
            errs.push(FieldError::invalid(
                format!("{p}.key"),
                Value::from(key),
                msg,
            ));
        }
        for (j, value) in values.iter().enumerate() {
            match value.as_str() {
                Some(v) => {
                    for msg in is_valid_label_value(v) {
                        errs.push(FieldError::invalid(
                            format!("{p}.values[{j}]"),
                            Value::from(v),
                            msg,
                        ));
                    }
                }
                None => errs.push(FieldError::invalid(
                    format!("{p}.values[{j}]"),
                    (*value).clone(),
                    "must be a string",
                )),
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------
// Label selector lexer and parser (the same token rules as apimachinery's,
// so the same inputs are accepted and the same messages produced)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone)]
struct Item {
    token: Token,
    literal: String,
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn symbol_token(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits selector text into tokens, ending with [`Token::End`]. Runs of
/// special characters are matched greedily against the operator table
/// (`!=`, `==`); anything else up to a special character or blank is an
/// identifier, or the keyword `in` / `notin`.
fn lex(input: &str) -> Vec<Item> {
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    let mut items = Vec::new();
    loop {
        while pos < chars.len() && is_whitespace(chars[pos]) {
            pos += 1;
        }
        if pos >= chars.len() {
            items.push(Item {
                token: Token::End,
                literal: String::new(),
            });
            return items;
        }
        if is_special(chars[pos]) {
            let mut buffer = String::new();
            let mut last: Option<Item> = None;
            while pos < chars.len() && is_special(chars[pos]) {
                buffer.push(chars[pos]);
                if let Some(token) = symbol_token(&buffer) {
                    last = Some(Item {
                        token,
                        literal: buffer.clone(),
                    });
                } else if last.is_some() {
                    break;
                }
                pos += 1;
            }
            items.push(last.unwrap_or_else(|| Item {
                token: Token::Error,
                literal: format!("error expected: keyword found '{buffer}'"),
            }));
        } else {
            let start = pos;
            while pos < chars.len() && !is_special(chars[pos]) && !is_whitespace(chars[pos]) {
                pos += 1;
            }
            let literal: String = chars[start..pos].iter().collect();
            let token = match literal.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
            items.push(Item { token, literal });
        }
    }
}

/// Where the parser is: reading an operator (`in`/`notin` are keywords) or
/// reading keys and values (`in`/`notin` are plain identifiers).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<Item>,
    pos: usize,
}

impl Parser {
    fn token_in(context: Context, item: &Item) -> Token {
        match item.token {
            Token::In | Token::NotIn if context == Context::Values => Token::Identifier,
            t => t,
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        let item = &self.items[self.pos];
        (Self::token_in(context, item), item.literal.clone())
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = &self.items[self.pos];
        // The End token is never consumed past.
        if self.pos + 1 < self.items.len() {
            self.pos += 1;
        }
        (Self::token_in(context, item), item.literal.clone())
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    requirements.push(
                        self.parse_requirement()
                            .map_err(SelectorError::Requirement)?,
                    );
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(SelectorError::Syntax(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::Syntax(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            )))
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(SelectorError::Syntax(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return new_requirement(&key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, operator, values.into_iter().collect())
    }

    /// Reads `[!]KEY`; infers Exists (or DoesNotExist) when no operator follows.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let key_errs = is_qualified_name(&literal);
        if !key_errs.is_empty() {
            // Upstream validates the key here against a nil field path,
            // which prints as "<nil>".
            return Err(FieldError::invalid(
                "<nil>",
                Value::from(literal.as_str()),
                key_errs.join("; "),
            )
            .message());
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::End || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// Reads `(a,b,…)`. Empty entries count as the empty value: `()` and
    /// `(,)` are both the set holding "".
    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let set = self.parse_identifiers_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut set = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    set.insert(literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{next_literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(String::new()); // "(,"
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        set.insert(String::new()); // ",)"
                        return Ok(set);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        set.insert(String::new()); // ",,"
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// Reads the single value after `=`, `==`, `!=`, `>` or `<`; nothing
    /// (end or comma) means the empty value.
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, _) = self.lookahead(Context::Values);
        if token == Token::End || token == Token::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

// ===========================================================================
// Field selectors
// ===========================================================================

/// A field selector operator. `=` and `==` mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOp {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term (value unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

impl FieldRequirement {
    /// Whether `obj` satisfies this term (see [`field_value`]).
    pub fn matches(&self, obj: &Value) -> bool {
        let actual = field_text(obj, &self.field);
        match self.op {
            FieldOp::Equals => actual == self.value.as_str(),
            FieldOp::NotEquals => actual != self.value.as_str(),
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FieldOp::Equals => "=",
            FieldOp::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// A field selector: the AND of its terms. Empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the `?fieldSelector=` syntax (`fields.ParseSelector`). Terms
    /// are sorted as upstream sorts them; blanks are not trimmed.
    pub fn parse(s: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = split_terms(s);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, op, raw)) = split_term(term) else {
                return Err(SelectorError::FieldTerm {
                    selector: s.to_string(),
                    term: term.to_string(),
                });
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape_field_value(raw)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// Whether `obj` satisfies every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|r| r.matches(obj))
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True when there are no terms (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value demanded by a `field=value` term, if any (`RequiresExactMatch`);
    /// lets a store answer `spec.nodeName=n1` from an index.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.op == FieldOp::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// Canonical text: terms joined by commas, `==` shown as `=`, values escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comma_separated(f, &self.requirements)
    }
}

/// The text of the field at dotted `path` in `obj`, as field selectors
/// compare it: strings as they are, numbers and booleans printed, a missing
/// or null field as "". Two Kubernetes conversions are kept: `source` of an
/// Event means `source.component`, and the booleans `spec.unschedulable`
/// (Node) and `spec.hostNetwork` (Pod) read as "false" when absent.
pub fn field_value(obj: &Value, path: &str) -> String {
    field_text(obj, path).into_owned()
}

/// [`field_value`], borrowed where the field is a string.
fn field_text<'v>(obj: &'v Value, path: &str) -> std::borrow::Cow<'v, str> {
    use std::borrow::Cow;
    let path = if path == "source" && obj.get("source").is_some_and(Value::is_object) {
        "source.component"
    } else {
        path
    };
    let mut current = Some(obj);
    for part in path.split('.') {
        current = current.and_then(|v| v.get(part));
    }
    match current {
        None | Some(Value::Null) => match path {
            "spec.unschedulable" | "spec.hostNetwork" => Cow::Borrowed("false"),
            _ => Cow::Borrowed(""),
        },
        Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
        Some(other) => Cow::Owned(other.to_string()),
    }
}

/// Splits on commas not escaped by a backslash; escapes stay in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, then `==`, then `=` at each
/// position); the left side has no escaping.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    const OPERATORS: [(&str, FieldOp); 3] = [
        ("!=", FieldOp::NotEquals),
        ("==", FieldOp::Equals),
        ("=", FieldOp::Equals),
    ];
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (text, op) in OPERATORS {
            if let Some(value) = rest.strip_prefix(text) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

/// Escapes `\`, `,` and `=` in a field selector value (`fields.EscapeValue`).
pub fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undoes [`escape_field_value`], refusing unknown escapes and bare `,`/`=`
/// (`fields.UnescapeValue`).
pub fn unescape_field_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::InvalidEscape(format!("\\{c}")));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c)),
            _ => out.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn parse(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn parse_err(s: &str) -> String {
        LabelSelector::parse(s).expect_err(s).to_string()
    }

    #[test]
    fn parses_every_operator() {
        let s = parse("app=web");
        assert_eq!(s.requirements()[0].operator(), Operator::Equals);
        assert_eq!(
            parse("app==web").requirements()[0].operator(),
            Operator::DoubleEquals
        );
        assert_eq!(
            parse("app!=web").requirements()[0].operator(),
            Operator::NotEquals
        );
        assert_eq!(
            parse("app in (a,b)").requirements()[0].operator(),
            Operator::In
        );
        assert_eq!(
            parse("app notin (a,b)").requirements()[0].operator(),
            Operator::NotIn
        );
        assert_eq!(parse("app").requirements()[0].operator(), Operator::Exists);
        assert_eq!(
            parse("!app").requirements()[0].operator(),
            Operator::DoesNotExist
        );
        assert_eq!(
            parse("n>5").requirements()[0].operator(),
            Operator::GreaterThan
        );
        assert_eq!(
            parse("n<5").requirements()[0].operator(),
            Operator::LessThan
        );
        assert_eq!(
            parse("app.kubernetes.io/name=web").requirements()[0].key(),
            "app.kubernetes.io/name"
        );
    }

    #[test]
    fn canonical_text() {
        assert_eq!(
            parse("tier in (b, a),app=web , !canary").to_string(),
            "app=web,!canary,tier in (a,b)"
        );
        assert_eq!(parse("  x   notin(c,a,a) ").to_string(), "x notin (a,c)");
        assert_eq!(parse("a==b,c!=d,e").to_string(), "a==b,c!=d,e");
        assert_eq!(parse("x in ()").to_string(), "x in ()");
        assert_eq!(parse("x in (,a)").to_string(), "x in (,a)");
        assert_eq!(parse("x=").to_string(), "x=");
        // "in" and "notin" are plain words where a key or value is expected.
        assert_eq!(parse("in in (in,notin)").to_string(), "in in (in,notin)");
        assert_eq!(parse("").to_string(), "");
        assert!(parse("").is_empty());
        assert!(parse("   ").is_empty());
        assert!(!parse("a").is_empty());
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            parse_err("a=b,"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            parse_err("a=b,,c"),
            "found ',', expected: identifier after ','"
        );
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_err("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err(")"),
            "found ')', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a in (b c)"),
            "unable to parse requirement: found 'c', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a in (="),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_err("a=!b"),
            "unable to parse requirement: found '!', expected: identifier"
        );
        assert_eq!(
            parse_err("!=a"),
            "found '!=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("!,a"),
            "unable to parse requirement: found ',', expected: identifier"
        );
        assert_eq!(
            parse_err("!a=b"),
            "found '=', expected: ',' or 'end of string'"
        );
    }

    #[test]
    fn validation_errors() {
        assert!(parse_err("bad key!x")
            .starts_with("unable to parse requirement: found 'key', expected: in, notin"));
        assert_eq!(
            parse_err("-app=x"),
            "unable to parse requirement: <nil>: Invalid value: \"-app\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            parse_err("app=-x"),
            "unable to parse requirement: values[0][app]: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(
            parse_err("n>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        let long = "v".repeat(64);
        assert!(parse_err(&format!("a={long}")).contains(&format!(
            "values[0][a]: Invalid value: \"{long}\": must be no more than 63 characters"
        )));
    }

    #[test]
    fn matching() {
        let web = labels(json!({"app": "web", "tier": "frontend", "n": "7"}));
        let bare = labels(json!({}));
        let cases: &[(&str, bool, bool)] = &[
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app=db", false, false),
            ("app!=db", true, true),
            ("app!=web", false, true),
            ("tier in (frontend,backend)", true, false),
            ("tier in (backend)", false, false),
            ("tier notin (backend)", true, true),
            ("tier notin (frontend)", false, true),
            ("app", true, false),
            ("!app", false, true),
            ("app=web,tier=frontend", true, false),
            ("app=web,tier=backend", false, false),
            ("n>5", true, false),
            ("n>7", false, false),
            ("n<8", true, false),
            ("app>1", false, false),
        ];
        for (text, on_web, on_bare) in cases {
            let s = parse(text);
            assert_eq!(s.matches(&web), *on_web, "{text} on web");
            assert_eq!(s.matches(&bare), *on_bare, "{text} on no labels");
        }
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "web"}}});
        assert!(parse("app=web").matches_object(&pod));
        assert!(!parse("app=web").matches_object(&json!({"metadata": {"name": "p"}})));
    }

    #[test]
    fn from_json_objects() {
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"tier": "frontend", "app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "gpu", "operator": "Exists"}
            ]
        }))
        .unwrap();
        assert_eq!(
            s.to_string(),
            "app=web,!canary,env in (dev,prod),gpu,tier=frontend,zone notin (b)"
        );
        assert!(s.matches(&labels(
            json!({"app": "web", "tier": "frontend", "env": "dev", "gpu": "1"})
        )));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "frontend", "env": "dev"})
        )));
        assert_eq!(s.requires_exact_match("app"), Some("web"));
        assert_eq!(s.requires_exact_match("zone"), None);

        let everything = LabelSelector::from_json(&json!({})).unwrap();
        assert!(everything.is_empty() && everything.matches(&labels(json!({"a": "b"}))));
        let nothing = LabelSelector::from_json(&Value::Null).unwrap();
        assert!(!nothing.is_empty() && nothing.is_nothing());
        assert!(!nothing.matches(&labels(json!({}))));

        assert_eq!(
            LabelSelector::from_json(
                &json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})
            )
            .unwrap_err()
            .to_string(),
            "\"Gt\" is not a valid label selector operator"
        );
        assert_eq!(
            LabelSelector::from_json(
                &json!({"matchExpressions": [{"key": "a", "operator": "In"}]})
            )
            .unwrap_err()
            .to_string(),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            LabelSelector::from_json(&json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}))
                .unwrap_err()
                .to_string(),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
        );
        let err = LabelSelector::from_json(&json!({"matchLabels": {"bad key": "-v"}}))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("[key: Invalid value: \"bad key\": name part must consist"),
            "{err}"
        );
        assert!(
            err.contains(", values[0][bad key]: Invalid value: \"-v\": a valid label"),
            "{err}"
        );
        assert!(matches!(
            LabelSelector::from_json(&json!("app=web")),
            Err(SelectorError::Shape(_))
        ));
    }

    #[test]
    fn from_map_selects_exactly() {
        let s = LabelSelector::from_map(&labels(json!({"b": "2", "a": "1"})));
        assert_eq!(s.to_string(), "a=1,b=2");
        assert!(s.matches(&labels(json!({"a": "1", "b": "2", "c": "3"}))));
        assert!(!s.matches(&labels(json!({"a": "1"}))));
        assert!(LabelSelector::from_map(&Map::new()).is_empty());
    }

    #[test]
    fn validates_label_selector_objects() {
        let errs = validate_label_selector(
            &json!({
                "matchLabels": {"app": "-web"},
                "matchExpressions": [
                    {"key": "a", "operator": "In"},
                    {"key": "b", "operator": "Exists", "values": ["x"]},
                    {"key": "c", "operator": "Near", "values": ["x"]},
                    {"key": "bad key", "operator": "In", "values": ["ok", "-no"]}
                ]
            }),
            "spec.selector",
        );
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].values",
                "spec.selector.matchExpressions[2].operator",
                "spec.selector.matchExpressions[3].key",
                "spec.selector.matchExpressions[3].values[1]",
            ]
        );
        assert_eq!(
            errs[1].message(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            errs[2].message(),
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        );
        assert_eq!(
            errs[3].message(),
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator"
        );
        assert!(
            validate_label_selector(&json!({"matchLabels": {"app": "web"}}), "spec.selector")
                .is_empty()
        );
    }

    #[test]
    fn field_selector_parsing() {
        let s =
            FieldSelector::parse("spec.nodeName=,status.phase!=Failed,metadata.name==web").unwrap();
        assert_eq!(
            s.to_string(),
            "metadata.name=web,spec.nodeName=,status.phase!=Failed"
        );
        assert_eq!(s.requirements().len(), 3);
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some(""));
        assert_eq!(s.requires_exact_match("status.phase"), None);
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse(",").unwrap().is_empty());

        let escaped = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
        assert_eq!(escaped.requirements()[0].value, r"a,b=c\d");
        assert_eq!(escaped.to_string(), r"metadata.name=a\,b\=c\\d");

        assert_eq!(
            FieldSelector::parse("a=b,c").unwrap_err().to_string(),
            "invalid selector: 'a=b,c'; can't understand 'c'"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\x").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
    }

    #[test]
    fn field_selector_matching() {
        let unscheduled = json!({"metadata": {"name": "p1", "namespace": "default"}, "spec": {}, "status": {"phase": "Pending"}});
        let running = json!({"metadata": {"name": "p2", "namespace": "default"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let s = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(s.matches(&unscheduled) && !s.matches(&running));
        let s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed").unwrap();
        assert!(!s.matches(&unscheduled) && s.matches(&running));
        assert!(FieldSelector::parse("metadata.namespace=default")
            .unwrap()
            .matches(&running));
        assert!(FieldSelector::parse("metadata.name!=p2")
            .unwrap()
            .matches(&unscheduled));
        assert!(FieldSelector::default().matches(&running));

        let event = json!({"type": "Warning", "involvedObject": {"kind": "Pod", "name": "p1"}, "source": {"component": "kubelet"}});
        assert!(
            FieldSelector::parse("involvedObject.name=p1,type=Warning,source=kubelet")
                .unwrap()
                .matches(&event)
        );
        let node = json!({"metadata": {"name": "n1"}, "spec": {}});
        assert!(FieldSelector::parse("spec.unschedulable=false")
            .unwrap()
            .matches(&node));
        assert!(FieldSelector::parse("spec.unschedulable=true")
            .unwrap()
            .matches(&json!({"spec": {"unschedulable": true}})));
        assert_eq!(field_value(&json!({"a": {"b": 3}}), "a.b"), "3");
    }
}
