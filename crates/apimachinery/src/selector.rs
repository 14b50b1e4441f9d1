//! Label selectors (the `labelSelector` string grammar, `metav1.LabelSelector` objects, plain
//! `nodeSelector` maps and node-affinity terms) and field selectors (`fieldSelector`).

use std::fmt;

use serde_json::{Map, Value};

use crate::validation::{is_qualified_name, is_valid_label_value};

/// How one label requirement compares the label's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelOp {
    /// `k=v`
    Equals,
    /// `k==v`
    DoubleEquals,
    /// `k!=v` (also true when the label is absent)
    NotEquals,
    /// `k in (a,b)`
    In,
    /// `k notin (a,b)` (also true when the label is absent)
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>5`: the label exists and holds an integer greater than the value.
    GreaterThan,
    /// `k<5`: the label exists and holds an integer less than the value.
    LessThan,
}

/// One `key op values` term of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRequirement {
    pub key: String,
    pub op: LabelOp,
    /// Sorted and without duplicates; one value for the equality and numeric operators, none for
    /// `Exists`/`DoesNotExist`.
    pub values: Vec<String>,
}

impl LabelRequirement {
    /// Build and validate a requirement the way `labels.NewRequirement` does.
    pub fn new(key: &str, op: LabelOp, values: Vec<String>) -> Result<Self, String> {
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            return Err(format!(
                "key: Invalid value: \"{key}\": {}",
                key_errs.join("; ")
            ));
        }
        match op {
            LabelOp::In | LabelOp::NotIn if values.is_empty() => {
                return Err("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty".into());
            }
            LabelOp::Equals | LabelOp::DoubleEquals | LabelOp::NotEquals if values.len() != 1 => {
                return Err(
                    "values: Invalid value: exact-match compatibility requires one single value"
                        .into(),
                );
            }
            LabelOp::Exists | LabelOp::DoesNotExist if !values.is_empty() => {
                return Err(
                    "values: Invalid value: values set must be empty for exists and does not exist"
                        .into(),
                );
            }
            LabelOp::GreaterThan | LabelOp::LessThan => {
                if values.len() != 1 {
                    return Err("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required".into());
                }
                if values[0].parse::<i64>().is_err() {
                    return Err(format!(
                        "values[0]: Invalid value: \"{}\": for 'Gt', 'Lt' operators, the value must be an integer",
                        values[0]
                    ));
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let errs = is_valid_label_value(v);
            if !errs.is_empty() {
                return Err(format!(
                    "values[{i}][{key}]: Invalid value: \"{v}\": {}",
                    errs.join("; ")
                ));
            }
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Self {
            key: key.to_string(),
            op,
            values,
        })
    }

    /// Whether a label set (the object's `metadata.labels`) satisfies this requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|l| l.get(&self.key))
            .and_then(Value::as_str);
        match self.op {
            LabelOp::Equals | LabelOp::DoubleEquals | LabelOp::In => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            LabelOp::NotEquals | LabelOp::NotIn => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                let (Some(have), Some(want)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == LabelOp::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            LabelOp::DoesNotExist => return write!(f, "!{}", self.key),
            LabelOp::Exists => return write!(f, "{}", self.key),
            LabelOp::Equals => "=",
            LabelOp::DoubleEquals => "==",
            LabelOp::NotEquals => "!=",
            LabelOp::GreaterThan => ">",
            LabelOp::LessThan => "<",
            LabelOp::In => " in ",
            LabelOp::NotIn => " notin ",
        };
        if matches!(self.op, LabelOp::In | LabelOp::NotIn) {
            write!(f, "{}{op}({})", self.key, self.values.join(","))
        } else {
            write!(
                f,
                "{}{op}{}",
                self.key,
                self.values.first().map(String::as_str).unwrap_or("")
            )
        }
    }
}

/// A conjunction of label requirements. The empty selector matches everything; a selector built
/// from a `null` `metav1.LabelSelector` (or an empty node-selector term) matches nothing.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
    match_nothing: bool,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The selector that matches no object.
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            match_nothing: true,
        }
    }

    /// Parse the `labelSelector` query grammar: comma-separated (AND) terms `k=v`, `k==v`, `k!=v`,
    /// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`; whitespace is ignored between tokens.
    pub fn parse(s: &str) -> Result<Self, String> {
        let tokens = lex(s)?;
        let mut parser = Parser { tokens, pos: 0 };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            match_nothing: false,
        })
    }

    /// Convert a `metav1.LabelSelector` object (`matchLabels` + `matchExpressions`).
    /// `null` gives a selector that matches nothing; `{}` one that matches everything.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let obj = match v {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(o) => o,
            other => return Err(format!("a label selector must be an object, not {other}")),
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (k, v) in labels {
                    let Some(v) = v.as_str() else {
                        return Err(format!(
                            "matchLabels[{k}]: Invalid value: {v}: label values must be strings"
                        ));
                    };
                    requirements.push(LabelRequirement::new(
                        k,
                        LabelOp::Equals,
                        vec![v.to_string()],
                    )?);
                }
            }
            Some(other) => return Err(format!("matchLabels must be an object, not {other}")),
        }
        requirements.extend(parse_match_expressions(obj.get("matchExpressions"), false)?);
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            match_nothing: false,
        })
    }

    /// Equality requirements from a plain map such as `spec.nodeSelector` or a Service selector.
    /// Values that are not strings are compared by their JSON text.
    pub fn from_map(map: &Map<String, Value>) -> Self {
        let mut requirements: Vec<LabelRequirement> = map
            .iter()
            .map(|(k, v)| LabelRequirement {
                key: k.clone(),
                op: LabelOp::Equals,
                values: vec![
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                ],
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            requirements,
            match_nothing: false,
        }
    }

    /// The label part of a node-affinity `nodeSelectorTerm` (`matchExpressions` with `In`,
    /// `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`). A term without expressions matches
    /// nothing. Terms with `matchFields` are refused here; use [`NodeSelectorTerm`] for those.
    pub fn from_node_selector_term(term: &Value) -> Result<Self, String> {
        let parsed = NodeSelectorTerm::parse(term)?;
        if !parsed.fields.is_empty() {
            return Err(
                "matchFields cannot be evaluated against labels alone; use NodeSelectorTerm".into(),
            );
        }
        Ok(parsed.labels)
    }

    /// True when the selector has no requirements and so matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.match_nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[LabelRequirement] {
        &self.requirements
    }

    /// Whether an object with these `metadata.labels` is selected (`None` or a non-object = no labels).
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        if self.match_nothing {
            return false;
        }
        let labels = labels.and_then(Value::as_object);
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// `matchExpressions` of a label selector (`numeric` = node-selector style, which adds `Gt`/`Lt`).
fn parse_match_expressions(
    v: Option<&Value>,
    numeric: bool,
) -> Result<Vec<LabelRequirement>, String> {
    let exprs = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(format!("matchExpressions must be a list, not {other}")),
    };
    let mut out = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        let operator = expr.get("operator").and_then(Value::as_str).unwrap_or("");
        let op = match operator {
            "In" => LabelOp::In,
            "NotIn" => LabelOp::NotIn,
            "Exists" => LabelOp::Exists,
            "DoesNotExist" => LabelOp::DoesNotExist,
            "Gt" if numeric => LabelOp::GreaterThan,
            "Lt" if numeric => LabelOp::LessThan,
            other if numeric => {
                return Err(format!("\"{other}\" is not a valid node selector operator"));
            }
            other => {
                return Err(format!(
                    "\"{other}\" is not a valid label selector operator"
                ));
            }
        };
        let values = match expr.get("values") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(vs)) => vs
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("values must be strings, not {v}"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("values must be a list, not {other}")),
        };
        out.push(LabelRequirement::new(key, op, values)?);
    }
    Ok(out)
}

/// A node-affinity `nodeSelectorTerm`: label expressions plus `matchFields` (only `metadata.name`
/// is meaningful, as in Kubernetes). All parts must match; an empty term matches no node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub labels: LabelSelector,
    /// `matchFields` requirements; the key is a field path such as `metadata.name`.
    pub fields: Vec<LabelRequirement>,
}

impl NodeSelectorTerm {
    pub fn parse(term: &Value) -> Result<Self, String> {
        if !term.is_object() && !term.is_null() {
            return Err(format!(
                "a node selector term must be an object, not {term}"
            ));
        }
        let mut labels = parse_match_expressions(term.get("matchExpressions"), true)?;
        labels.sort_by(|a, b| a.key.cmp(&b.key));
        let mut fields = Vec::new();
        if let Some(v) = term.get("matchFields").filter(|v| !v.is_null()) {
            let Some(list) = v.as_array() else {
                return Err(format!("matchFields must be a list, not {v}"));
            };
            for f in list {
                let key = f.get("key").and_then(Value::as_str).unwrap_or("");
                if key != "metadata.name" {
                    return Err(format!(
                        "matchFields: Invalid value: \"{key}\": only \"metadata.name\" is supported"
                    ));
                }
                let op = match f.get("operator").and_then(Value::as_str).unwrap_or("") {
                    "In" => LabelOp::In,
                    "NotIn" => LabelOp::NotIn,
                    other => {
                        return Err(format!(
                            "\"{other}\" is not a valid field selector operator"
                        ));
                    }
                };
                let values: Vec<String> = f
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if values.len() != 1 {
                    return Err(
                        "matchFields: for 'metadata.name' exactly one value is required".into(),
                    );
                }
                fields.push(LabelRequirement {
                    key: key.to_string(),
                    op,
                    values,
                });
            }
        }
        let labels = if labels.is_empty() && fields.is_empty() {
            LabelSelector::nothing()
        } else {
            LabelSelector {
                requirements: labels,
                match_nothing: false,
            }
        };
        Ok(Self { labels, fields })
    }

    /// Whether a Node object satisfies the term.
    pub fn matches(&self, node: &Value) -> bool {
        if !self.labels.matches(node.pointer("/metadata/labels")) {
            return false;
        }
        let name = node
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut fields = Map::new();
        fields.insert("metadata.name".into(), Value::String(name.to_string()));
        self.fields.iter().all(|r| r.matches(Some(&fields)))
    }
}

// ----- label selector lexer and parser -----

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    In,
    NotIn,
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Ident(s) => s.clone(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Bang => "!".into(),
            Token::Eq => "=".into(),
            Token::DoubleEq => "==".into(),
            Token::NotEq => "!=".into(),
            Token::Gt => ">".into(),
            Token::Lt => "<".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
            Token::End => "".into(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(s: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if is_special(c) {
            chars.next();
            let next_is_eq = matches!(chars.peek(), Some((_, '=')));
            let token = match c {
                '=' if next_is_eq => {
                    chars.next();
                    Token::DoubleEq
                }
                '=' => Token::Eq,
                '!' if next_is_eq => {
                    chars.next();
                    Token::NotEq
                }
                '!' => Token::Bang,
                '(' => Token::Open,
                ')' => Token::Close,
                ',' => Token::Comma,
                '>' => Token::Gt,
                _ => Token::Lt,
            };
            tokens.push(token);
            continue;
        }
        let mut end = s.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || is_special(c) {
                end = i;
                break;
            }
            chars.next();
        }
        let word = &s[start..end];
        tokens.push(match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Ident(word.to_string()),
        });
    }
    tokens.push(Token::End);
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn parse(&mut self) -> Result<Vec<LabelRequirement>, String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Token::End => return Ok(out),
                Token::Ident(_) | Token::Bang => {
                    out.push(self.requirement()?);
                    match self.next() {
                        Token::End => return Ok(out),
                        Token::Comma => {
                            if !matches!(self.peek(), Token::Ident(_) | Token::Bang) {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    self.peek().text()
                                ));
                            }
                        }
                        other => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.text()
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.text()
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<LabelRequirement, String> {
        let negated = if *self.peek() == Token::Bang {
            self.next();
            true
        } else {
            false
        };
        let key = match self.next() {
            Token::Ident(k) => k,
            other => return Err(format!("found '{}', expected: identifier", other.text())),
        };
        if negated {
            return LabelRequirement::new(&key, LabelOp::DoesNotExist, Vec::new());
        }
        if matches!(self.peek(), Token::End | Token::Comma) {
            return LabelRequirement::new(&key, LabelOp::Exists, Vec::new());
        }
        let op = match self.next() {
            Token::Eq => LabelOp::Equals,
            Token::DoubleEq => LabelOp::DoubleEquals,
            Token::NotEq => LabelOp::NotEquals,
            Token::In => LabelOp::In,
            Token::NotIn => LabelOp::NotIn,
            Token::Gt => LabelOp::GreaterThan,
            Token::Lt => LabelOp::LessThan,
            other => {
                return Err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    other.text()
                ));
            }
        };
        let values = if matches!(op, LabelOp::In | LabelOp::NotIn) {
            self.value_set()?
        } else {
            vec![self.exact_value()?]
        };
        LabelRequirement::new(&key, op, values)
    }

    /// `(a,b,c)`; empty members are empty strings, as in Kubernetes (`()` means `("")`).
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Token::Open => {}
            other => return Err(format!("found '{}', expected: '('", other.text())),
        }
        let mut values = Vec::new();
        let mut expect_value = true;
        loop {
            match self.next() {
                Token::Ident(v) if expect_value => {
                    values.push(v);
                    expect_value = false;
                }
                Token::Comma => {
                    if expect_value {
                        values.push(String::new());
                    }
                    expect_value = true;
                }
                Token::Close => {
                    if expect_value {
                        values.push(String::new());
                    }
                    return Ok(values);
                }
                other => return Err(format!("found '{}', expected: ',' or ')'", other.text())),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>`, `<`; nothing before `,` or the end means "".
    fn exact_value(&mut self) -> Result<String, String> {
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        match self.next() {
            Token::Ident(v) => Ok(v),
            // `in`/`notin` are ordinary words in value position.
            Token::In => Ok("in".into()),
            Token::NotIn => Ok("notin".into()),
            other => Err(format!("found '{}', expected: identifier", other.text())),
        }
    }
}

// ----- field selectors -----

/// The comparison of a field selector term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOp {
    /// `f=v` or `f==v`
    Eq,
    /// `f!=v`
    NotEq,
}

/// One `field op value` term of a field selector; `value` is unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

/// A conjunction of field requirements (`metadata.name=x,status.phase!=Failed`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parse comma-separated `f=v`, `f==v`, `f!=v` terms. In values, `\,`, `\=` and `\\` stand for
    /// the literal characters; any other backslash sequence or a bare `=` is an error.
    pub fn parse(s: &str) -> Result<Self, String> {
        let terms = split_unescaped_commas(s);
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, op, raw_value)) = split_field_term(term) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape_field_value(raw_value)?,
            });
        }
        // Sorted by their printed form, so printing and parsing again gives the same selector.
        requirements.sort_by_cached_key(Self::term);
        Ok(Self { requirements })
    }

    fn term(r: &FieldRequirement) -> String {
        let op = match r.op {
            FieldOp::Eq => "=",
            FieldOp::NotEq => "!=",
        };
        format!("{}{op}{}", r.field, escape_field_value(&r.value))
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object passes; `get` returns a field's value (a missing field compares as "").
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let have = get(&r.field).unwrap_or_default();
            match r.op {
                FieldOp::Eq => have == r.value,
                FieldOp::NotEq => have != r.value,
            }
        })
    }

    /// The value required by an `f=v` term, if there is one.
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.op == FieldOp::Eq)
            .map(|r| r.value.as_str())
    }

    /// The name required by a `metadata.name=` term (lets a list become a single lookup).
    pub fn exact_name(&self) -> Option<&str> {
        self.exact("metadata.name")
    }

    /// The namespace required by a `metadata.namespace=` term.
    pub fn exact_namespace(&self) -> Option<&str> {
        self.exact("metadata.namespace")
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&Self::term(r))?;
        }
        Ok(())
    }
}

/// Split on commas that are not preceded by an escaping backslash (escapes stay in the terms).
fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// The first `!=`, `==` or `=` in the term splits it into field and raw value.
fn split_field_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        if let Some(v) = rest.strip_prefix("!=") {
            return Some((&term[..i], FieldOp::NotEq, v));
        }
        if let Some(v) = rest.strip_prefix("==") {
            return Some((&term[..i], FieldOp::Eq, v));
        }
        if let Some(v) = rest.strip_prefix('=') {
            return Some((&term[..i], FieldOp::Eq, v));
        }
    }
    None
}

fn unescape_field_value(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
                None => return Err("invalid field selector: invalid escape sequence: \\".into()),
            },
            ',' | '=' => return Err(format!("invalid field selector: unescaped character {c}")),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn escape_field_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn matching_table_for_every_operator() {
        let labels = json!({"app": "nginx", "tier": "web", "size": "5"});
        let cases = [
            ("", true),
            ("app=nginx", true),
            ("app==nginx", true),
            ("app=web", false),
            ("app!=web", true),
            ("missing!=x", true),
            ("app in (nginx,web)", true),
            ("app in (web)", false),
            ("app notin (web,db)", true),
            ("missing notin (a)", true),
            ("app notin (nginx)", false),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("size>4", true),
            ("size>5", false),
            ("size<6", true),
            ("app>1", false),
            ("missing<9", false),
            ("app=nginx,tier=web", true),
            ("app=nginx,tier=db", false),
            ("app in (nginx,web),!foo", true),
        ];
        for (s, want) in cases {
            assert_eq!(sel(s).matches(Some(&labels)), want, "{s}");
        }
    }

    #[test]
    fn no_labels_behaves_like_empty_labels() {
        assert!(sel("!a").matches(None));
        assert!(sel("a!=b").matches(None));
        assert!(!sel("a").matches(None));
        assert!(sel("").matches(None));
    }

    #[test]
    fn whitespace_is_tolerated_between_tokens() {
        let s = sel("  app  in ( nginx , web ) ,  ! foo , tier = web ");
        assert_eq!(s.to_string(), "app in (nginx,web),!foo,tier=web");
    }

    #[test]
    fn display_is_canonical_and_sorted() {
        assert_eq!(sel("z=1,a in (c,b,b),m").to_string(), "a in (b,c),m,z=1");
        assert_eq!(
            sel("a==1,b!=2,c notin (x)").to_string(),
            "a==1,b!=2,c notin (x)"
        );
        assert_eq!(sel("a>3,b<2").to_string(), "a>3,b<2");
    }

    #[test]
    fn empty_values_are_allowed_where_kubernetes_allows_them() {
        assert!(sel("a=").matches(Some(&json!({"a": ""}))));
        assert_eq!(sel("a in ()").requirements()[0].values, vec![String::new()]);
        assert_eq!(
            sel("a in (x,)").requirements()[0].values,
            vec![String::new(), "x".to_string()]
        );
    }

    #[test]
    fn syntax_errors_name_the_offending_token() {
        let cases = [
            ("a in b", "found 'b', expected: '('"),
            ("a in (b", "found '', expected: ',' or ')'"),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            ("a=b,", "found '', expected: identifier after ','"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a (b)", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ("!", "found '', expected: identifier"),
        ];
        for (s, want) in cases {
            assert_eq!(LabelSelector::parse(s).unwrap_err(), want, "{s}");
        }
    }

    #[test]
    fn keys_and_values_are_validated() {
        let err = LabelSelector::parse("a b=c").unwrap_err();
        assert!(err.contains("expected"), "{err}");
        let err = LabelSelector::parse("-bad=c").unwrap_err();
        assert!(
            err.starts_with("key: Invalid value: \"-bad\": name part must consist of"),
            "{err}"
        );
        let err = LabelSelector::parse("a=b@c").unwrap_err();
        assert!(
            err.starts_with("values[0][a]: Invalid value: \"b@c\": a valid label must be"),
            "{err}"
        );
        let err = LabelSelector::parse("a>x").unwrap_err();
        assert!(err.contains("the value must be an integer"), "{err}");
    }

    #[test]
    fn from_json_combines_match_labels_and_expressions() {
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(s.to_string(), "app=web,!legacy,tier in (a,b)");
        assert!(s.matches(Some(&json!({"app": "web", "tier": "b"}))));
        assert!(!s.matches(Some(&json!({"app": "web", "tier": "b", "legacy": "1"}))));
    }

    #[test]
    fn from_json_empty_matches_all_and_null_matches_none() {
        assert!(LabelSelector::from_json(&json!({})).unwrap().matches(None));
        assert!(LabelSelector::from_json(&json!({})).unwrap().is_empty());
        let nothing = LabelSelector::from_json(&Value::Null).unwrap();
        assert!(!nothing.matches(Some(&json!({"a": "b"}))));
        assert!(!nothing.is_empty());
    }

    #[test]
    fn from_json_rejects_bad_operators_and_value_counts() {
        let err = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
        )
        .unwrap_err();
        assert_eq!(err, "\"Gt\" is not a valid label selector operator");
        let err = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        )
        .unwrap_err();
        assert!(err.contains("values set can't be empty"), "{err}");
        let err = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        )
        .unwrap_err();
        assert!(err.contains("must be empty"), "{err}");
    }

    #[test]
    fn from_map_is_all_equality() {
        let map = json!({"kubernetes.io/os": "linux", "zone": "a"});
        let s = LabelSelector::from_map(map.as_object().unwrap());
        assert_eq!(s.to_string(), "kubernetes.io/os=linux,zone=a");
        assert!(s.matches(Some(
            &json!({"kubernetes.io/os": "linux", "zone": "a", "x": "y"})
        )));
        assert!(!s.matches(Some(&json!({"zone": "a"}))));
    }

    #[test]
    fn node_selector_terms_support_numeric_operators_and_fields() {
        let term = json!({
            "matchExpressions": [{"key": "cpu-count", "operator": "Gt", "values": ["8"]}],
            "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-a"]}]
        });
        let t = NodeSelectorTerm::parse(&term).unwrap();
        assert!(t.matches(&json!({"metadata": {"name": "node-a", "labels": {"cpu-count": "16"}}})));
        assert!(
            !t.matches(&json!({"metadata": {"name": "node-b", "labels": {"cpu-count": "16"}}}))
        );
        assert!(!t.matches(&json!({"metadata": {"name": "node-a", "labels": {"cpu-count": "4"}}})));
        assert!(LabelSelector::from_node_selector_term(&term).is_err());
        let labels_only = LabelSelector::from_node_selector_term(&json!({
            "matchExpressions": [{"key": "gpu", "operator": "Lt", "values": ["2"]}]
        }))
        .unwrap();
        assert!(labels_only.matches(Some(&json!({"gpu": "1"}))));
    }

    #[test]
    fn empty_node_selector_term_matches_nothing() {
        let t = NodeSelectorTerm::parse(&json!({})).unwrap();
        assert!(!t.matches(&json!({"metadata": {"name": "n"}})));
    }

    #[test]
    fn field_selector_parses_all_operators() {
        let f = FieldSelector::parse("status.phase!=Succeeded,metadata.name==vm1,spec.nodeName=n1")
            .unwrap();
        assert_eq!(f.requirements().len(), 3);
        assert_eq!(f.exact_name(), Some("vm1"));
        assert_eq!(f.exact("spec.nodeName"), Some("n1"));
        assert_eq!(f.exact("status.phase"), None);
        assert_eq!(
            f.to_string(),
            "metadata.name=vm1,spec.nodeName=n1,status.phase!=Succeeded"
        );
    }

    #[test]
    fn field_selector_matches_missing_fields_as_empty() {
        let f = FieldSelector::parse("spec.nodeName=,status.phase!=Failed").unwrap();
        let get = |field: &str| match field {
            "status.phase" => Some("Running".to_string()),
            _ => None,
        };
        assert!(f.matches(&get));
        let f = FieldSelector::parse("spec.nodeName=n1").unwrap();
        assert!(!f.matches(&get));
    }

    #[test]
    fn field_selector_escapes() {
        let f = FieldSelector::parse(r"metadata.name=a\,b\=c\\d,x=y").unwrap();
        assert_eq!(f.exact_name(), Some(r"a,b=c\d"));
        assert_eq!(f.to_string(), r"metadata.name=a\,b\=c\\d,x=y");
        assert_eq!(
            FieldSelector::parse(r"a=b\x").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            "invalid field selector: unescaped character ="
        );
    }

    #[test]
    fn field_selector_rejects_terms_without_operator() {
        assert_eq!(
            FieldSelector::parse("a=b,oops").unwrap_err(),
            "invalid selector: 'a=b,oops'; can't understand 'oops'"
        );
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse(",a=b,").unwrap().requirements().len() == 1);
    }

    #[test]
    fn involved_object_selector_from_describe() {
        let f = FieldSelector::parse(
            "involvedObject.namespace=default,involvedObject.kind=VirtualMachine,involvedObject.uid=u1,involvedObject.name=vm",
        )
        .unwrap();
        let event = json!({"involvedObject": {"namespace": "default", "kind": "VirtualMachine", "uid": "u1", "name": "vm"}});
        let get = |field: &str| {
            let ptr = format!("/{}", field.replace('.', "/"));
            event
                .pointer(&ptr)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        assert!(f.matches(&get));
    }
}
