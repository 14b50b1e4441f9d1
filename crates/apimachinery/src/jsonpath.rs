//! The JSONPath dialect of Kubernetes (`kubectl -o jsonpath`, CRD printer columns,
//! `kubectl wait --for=jsonpath`), restricted to a single expression:
//!
//! * an optional `{…}` wrapper and leading `$`;
//! * `.a.b`, keys with escaped characters (`.metadata.annotations.a\.b\/c`), `['key']`, `["key"]`;
//! * `[n]` (negative counts from the end), slices `[a:b:step]`, unions `[0,2]` / `['a','b']`;
//! * `[*]`, `.*` and recursive descent `..name`;
//! * filters `[?(@.type=='Ready')]`, `[?(@.mounted==true)]` with `==`, `!=`, `<`, `>`, `<=`, `>=`
//!   against strings, numbers, booleans and `null`, and existence filters `[?(@.x)]`.
//!
//! Evaluation never fails: anything that does not resolve simply selects nothing, which is what
//! printer columns want (Kubernetes evaluates them with missing keys allowed).

use serde_json::Value;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// `.name` / `['name']`
    Field(String),
    /// `.*` / `[*]`: every member of an object or element of an array.
    Wildcard,
    /// `..`: the value and all its descendants that have children, before the next step.
    Descendants,
    /// `[0]`, `[1:3]`, `[0,2]`, `['a','b']`
    Union(Vec<Subscript>),
    /// `[?(…)]`
    Filter(Filter),
}

#[derive(Clone, Debug, PartialEq)]
enum Subscript {
    Index(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Key(String),
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    left: Operand,
    /// `None` for an existence test.
    cmp: Option<(CmpOp, Operand)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    /// `@…` (relative to the element) or `$…` (relative to the document).
    Path {
        from_root: bool,
        steps: Vec<Step>,
    },
    Literal(Value),
}

impl JsonPath {
    /// Parse an expression such as `.status.conditions[?(@.type=='Ready')].status`.
    /// A leading `{`…`}` wrapper and a leading `$` are accepted and ignored.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let trimmed = expr.trim();
        let inner = match trimmed.strip_prefix('{') {
            Some(rest) => rest
                .strip_suffix('}')
                .ok_or_else(|| format!("unclosed action in {expr:?}: missing '}}'"))?,
            None => trimmed,
        };
        let chars: Vec<char> = inner.trim().chars().collect();
        let mut p = PathParser {
            chars: &chars,
            pos: 0,
            in_filter: false,
        };
        if p.peek() == Some('$') {
            p.pos += 1;
        }
        let steps = p.steps()?;
        if p.pos < chars.len() {
            return Err(p.error("unexpected character"));
        }
        Ok(Self { steps })
    }

    /// Every value the path selects, in document order (empty when nothing matches).
    pub fn eval<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        run_steps(&self.steps, vec![doc], doc)
    }
}

impl std::str::FromStr for JsonPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

struct PathParser<'c> {
    chars: &'c [char],
    pos: usize,
    /// Inside a filter, names also end at spaces, comparison operators and `)`.
    in_filter: bool,
}

impl PathParser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn error(&self, what: &str) -> String {
        let text: String = self.chars.iter().collect();
        match self.peek() {
            Some(c) => format!("{what} {c:?} at position {} in {text:?}", self.pos),
            None => format!("{what}: unexpected end of {text:?}"),
        }
    }

    fn ends_name(&self, c: char) -> bool {
        c == '.' || c == '[' || (self.in_filter && (c.is_whitespace() || "=!<>)]".contains(c)))
    }

    fn steps(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    if self.peek() == Some('.') {
                        self.pos += 1;
                        steps.push(Step::Descendants);
                        if self.peek() == Some('[') {
                            continue;
                        }
                    }
                    match self.peek() {
                        Some('*') => {
                            self.pos += 1;
                            steps.push(Step::Wildcard);
                        }
                        Some('[') | None => {}
                        Some(c) if self.ends_name(c) => {}
                        Some(_) => steps.push(Step::Field(self.name())),
                    }
                }
                '[' => steps.push(self.bracket()?),
                c if self.in_filter && self.ends_name(c) => break,
                _ => return Err(self.error("unexpected character")),
            }
        }
        Ok(steps)
    }

    /// A dotted name; a backslash makes the next character literal.
    fn name(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\\'
                && let Some(next) = self.peek_at(1)
            {
                out.push(next);
                self.pos += 2;
                continue;
            }
            if self.ends_name(c) {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_spaces();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}', found")))
        }
    }

    fn bracket(&mut self) -> Result<Step, String> {
        self.pos += 1; // '['
        self.skip_spaces();
        if self.peek() == Some('*') {
            self.pos += 1;
            self.expect(']')?;
            return Ok(Step::Wildcard);
        }
        if self.peek() == Some('?') {
            self.pos += 1;
            self.expect('(')?;
            let filter = self.filter()?;
            self.expect(')')?;
            self.expect(']')?;
            return Ok(Step::Filter(filter));
        }
        let mut subs = Vec::new();
        loop {
            self.skip_spaces();
            subs.push(match self.peek() {
                Some(q @ ('\'' | '"')) => Subscript::Key(self.quoted(q)?),
                _ => self.index_or_slice()?,
            });
            self.skip_spaces();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(Step::Union(subs));
                }
                _ => return Err(self.error("expected ',' or ']', found")),
            }
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\\' {
                if let Some(next) = self.peek() {
                    out.push(next);
                    self.pos += 1;
                }
            } else if c == quote {
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(self.error("unterminated quoted string"))
    }

    fn integer(&mut self) -> Result<Option<i64>, String> {
        self.skip_spaces();
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse::<i64>()
            .map(Some)
            .map_err(|_| format!("invalid array index {text:?}"))
    }

    fn index_or_slice(&mut self) -> Result<Subscript, String> {
        let first = self.integer()?;
        self.skip_spaces();
        if self.peek() != Some(':') {
            return first
                .map(Subscript::Index)
                .ok_or_else(|| self.error("expected an index, found"));
        }
        self.pos += 1;
        let end = self.integer()?;
        self.skip_spaces();
        let step = if self.peek() == Some(':') {
            self.pos += 1;
            self.integer()?
        } else {
            None
        };
        if step.is_some_and(|s| s <= 0) {
            return Err("step must be > 0".to_string());
        }
        Ok(Subscript::Slice(first, end, step))
    }

    fn filter(&mut self) -> Result<Filter, String> {
        let left = self.operand()?;
        self.skip_spaces();
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('='), Some('=')) => Some((CmpOp::Eq, 2)),
            (Some('!'), Some('=')) => Some((CmpOp::Ne, 2)),
            (Some('<'), Some('=')) => Some((CmpOp::Le, 2)),
            (Some('>'), Some('=')) => Some((CmpOp::Ge, 2)),
            (Some('<'), _) => Some((CmpOp::Lt, 1)),
            (Some('>'), _) => Some((CmpOp::Gt, 1)),
            (Some(')'), _) => None,
            _ => return Err(self.error("expected a comparison operator, found")),
        };
        let cmp = match op {
            None => None,
            Some((op, len)) => {
                self.pos += len;
                Some((op, self.operand()?))
            }
        };
        Ok(Filter { left, cmp })
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_spaces();
        match self.peek() {
            Some(c @ ('@' | '$')) => {
                self.pos += 1;
                let outer = self.in_filter;
                self.in_filter = true;
                let steps = self.steps();
                self.in_filter = outer;
                Ok(Operand::Path {
                    from_root: c == '$',
                    steps: steps?,
                })
            }
            Some(q @ ('\'' | '"')) => Ok(Operand::Literal(Value::String(self.quoted(q)?))),
            Some(_) => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && !"=!<>)]".contains(c))
                {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                literal(&word).ok_or_else(|| format!("unrecognized literal {word:?} in filter"))
            }
            None => Err(self.error("expected a value in filter")),
        }
    }
}

fn literal(word: &str) -> Option<Operand> {
    let v = match word {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => {
            if let Ok(i) = word.parse::<i64>() {
                Value::from(i)
            } else {
                let f = word.parse::<f64>().ok().filter(|f| f.is_finite())?;
                Value::from(f)
            }
        }
    };
    Some(Operand::Literal(v))
}

fn run_steps<'a>(steps: &[Step], mut current: Vec<&'a Value>, root: &'a Value) -> Vec<&'a Value> {
    for step in steps {
        if current.is_empty() {
            break;
        }
        current = apply_step(step, current, root);
    }
    current
}

fn apply_step<'a>(step: &Step, input: Vec<&'a Value>, root: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match step {
        Step::Field(name) => out.extend(input.into_iter().filter_map(|v| v.get(name.as_str()))),
        Step::Wildcard => {
            for v in input {
                match v {
                    Value::Object(m) => out.extend(m.values()),
                    Value::Array(a) => out.extend(a.iter()),
                    _ => {}
                }
            }
        }
        Step::Descendants => {
            for v in input {
                collect_descendants(v, &mut out);
            }
        }
        Step::Union(subs) => {
            for v in input {
                for sub in subs {
                    select_subscript(v, sub, &mut out);
                }
            }
        }
        Step::Filter(filter) => {
            for v in input {
                if let Value::Array(items) = v {
                    out.extend(
                        items
                            .iter()
                            .filter(|item| filter_passes(filter, item, root)),
                    );
                }
            }
        }
    }
    out
}

/// The value itself (when it has children) followed by all descendants that have children, so
/// the next step can look inside each of them.
fn collect_descendants<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    let children: Vec<&Value> = match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => return,
    };
    if children.is_empty() {
        return;
    }
    out.push(v);
    for child in children {
        collect_descendants(child, out);
    }
}

fn select_subscript<'a>(v: &'a Value, sub: &Subscript, out: &mut Vec<&'a Value>) {
    match (sub, v) {
        (Subscript::Key(k), Value::Object(m)) => out.extend(m.get(k)),
        (Subscript::Index(i), Value::Array(a)) => {
            let len = a.len() as i64;
            let idx = if *i < 0 { i + len } else { *i };
            if (0..len).contains(&idx) {
                out.push(&a[idx as usize]);
            }
        }
        (Subscript::Slice(start, end, step), Value::Array(a)) => {
            let len = a.len() as i64;
            let clamp = |x: i64| if x < 0 { (x + len).max(0) } else { x.min(len) };
            let start = clamp(start.unwrap_or(0));
            let end = clamp(end.unwrap_or(len));
            let step = step.unwrap_or(1).max(1) as usize;
            if start < end {
                out.extend(a[start as usize..end as usize].iter().step_by(step));
            }
        }
        _ => {}
    }
}

fn operand_values<'a>(op: &'a Operand, item: &'a Value, root: &'a Value) -> Vec<&'a Value> {
    match op {
        Operand::Path { from_root, steps } => {
            run_steps(steps, vec![if *from_root { root } else { item }], root)
        }
        Operand::Literal(v) => vec![v],
    }
}

fn filter_passes(filter: &Filter, item: &Value, root: &Value) -> bool {
    let lefts = operand_values(&filter.left, item, root);
    let Some((op, right)) = &filter.cmp else {
        return !lefts.is_empty();
    };
    let rights = operand_values(right, item, root);
    // Kubernetes compares exactly one value with one value; anything else does not match.
    let ([left], [right]) = (lefts.as_slice(), rights.as_slice()) else {
        return false;
    };
    compare(left, *op, right)
}

fn compare(left: &Value, op: CmpOp, right: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y)),
        },
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match op {
        CmpOp::Eq => ordering.map_or_else(|| left == right, |o| o == Ordering::Equal),
        CmpOp::Ne => ordering.map_or_else(|| left != right, |o| o != Ordering::Equal),
        CmpOp::Lt => ordering == Some(Ordering::Less),
        CmpOp::Gt => ordering == Some(Ordering::Greater),
        CmpOp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// Go's jsonpath text output: strings raw, numbers and booleans as text, `null` as `<nil>`,
/// objects and arrays as compact JSON (Go's encoder: sorted keys, `<>&` escaped), results joined
/// by single spaces.
pub fn render_text(values: &[&Value]) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match v {
            Value::String(s) => out.push_str(s),
            Value::Null => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&go_print_number(n)),
            Value::Object(_) | Value::Array(_) => write_go_json(v, &mut out),
        }
    }
    out
}

/// A number as Go's `fmt.Print` shows a decoded JSON number (int64 when integral, else float64 `%v`).
fn go_print_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let (digits, dp) = shortest_digits(f);
    let exp = dp - 1;
    let sign = if f < 0.0 { "-" } else { "" };
    // `%v` is `%g` with the shortest digits, which switches to exponent form outside 1e-4..1e6.
    if !(-4..6).contains(&exp) {
        format!("{sign}{}", e_format(&digits, dp, 2))
    } else {
        format!("{sign}{}", f_format(&digits, dp))
    }
}

/// Go's `json.Marshal` rendering of a float64.
fn go_json_float(f: f64) -> String {
    let sign = if f < 0.0 { "-" } else { "" };
    let abs = f.abs();
    let (digits, dp) = shortest_digits(f);
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        format!("{sign}{}", e_format(&digits, dp, 1))
    } else {
        format!("{sign}{}", f_format(&digits, dp))
    }
}

/// The shortest round-trip decimal digits of |f| and the decimal point position
/// (value = 0.DIGITS × 10^dp).
fn shortest_digits(f: f64) -> (String, i32) {
    let text = format!("{:e}", f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    if digits.chars().all(|c| c == '0') {
        return ("0".to_string(), 1);
    }
    (digits, exp + 1)
}

fn f_format(digits: &str, dp: i32) -> String {
    let nd = digits.len() as i32;
    if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    }
}

/// `d.ddde±XX` with at least `min_exp_digits` exponent digits.
fn e_format(digits: &str, dp: i32, min_exp_digits: usize) -> String {
    let exp = dp - 1;
    let mut out = digits[..1].to_string();
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let sign = if exp < 0 { '-' } else { '+' };
    out.push_str(&format!(
        "e{sign}{:0width$}",
        exp.abs(),
        width = min_exp_digits
    ));
    out
}

/// Compact JSON as Go's `encoding/json` writes it.
pub(crate) fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_go_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
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

    fn doc() -> Value {
        json!({
            "metadata": {
                "name": "vm1",
                "annotations": {"virtualmachineclass.virtualization.deckhouse.io/is-default-class": "true"},
                "labels": {"app": "web"}
            },
            "spec": {"cpu": {"cores": 4}, "disks": [
                {"name": "root", "size": 10, "mounted": true},
                {"name": "data", "size": 200, "mounted": false},
                {"name": "iso", "size": 1}
            ]},
            "status": {
                "phase": "Running",
                "ratio": 0.5,
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "Migrating", "status": "False", "reason": "Idle"}
                ]
            }
        })
    }

    fn eval_text(expr: &str) -> String {
        let d = doc();
        let path = JsonPath::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        render_text(&path.eval(&d))
    }

    #[test]
    fn evaluation_table() {
        let cases = [
            (".status.phase", "Running"),
            ("{.status.phase}", "Running"),
            ("$.status.phase", "Running"),
            ("{$.metadata.name}", "vm1"),
            (".spec.cpu.cores", "4"),
            (".status.ratio", "0.5"),
            (
                r".metadata.annotations.virtualmachineclass\.virtualization\.deckhouse\.io\/is-default-class",
                "true",
            ),
            (".metadata['labels']['app']", "web"),
            (r#".metadata["name"]"#, "vm1"),
            (".spec.disks[0].name", "root"),
            (".spec.disks[-1].name", "iso"),
            (".spec.disks[*].name", "root data iso"),
            (".spec.disks[0:2].name", "root data"),
            (".spec.disks[::2].name", "root iso"),
            (".spec.disks[0,2].name", "root iso"),
            (".spec.cpu.*", "4"),
            (".status.conditions[?(@.type=='Ready')].status", "True"),
            (
                r#".status.conditions[?(@.type=="Migrating")].reason"#,
                "Idle",
            ),
            (".status.conditions[?(@.type!='Ready')].type", "Migrating"),
            (".spec.disks[?(@.mounted==true)].name", "root"),
            (".spec.disks[?(@.mounted == false)].name", "data"),
            (".spec.disks[?(@.size>5)].name", "root data"),
            (".spec.disks[?(@.size>=10)].name", "root data"),
            (".spec.disks[?(@.size<10)].name", "iso"),
            (".spec.disks[?(@.size<=10)].name", "root iso"),
            (".spec.disks[?(@.mounted)].name", "root data"),
            (".status.conditions[?(@.reason)].type", "Migrating"),
            ("..cores", "4"),
            (".spec.disks[?(@.size>$.spec.cpu.cores)].name", "root data"),
            (".missing.path", ""),
            (".spec.disks[7].name", ""),
            (".spec.disks.name", ""),
            (".status.phase[0]", ""),
        ];
        for (expr, want) in cases {
            assert_eq!(eval_text(expr), want, "{expr}");
        }
    }

    #[test]
    fn root_and_whole_objects_render_as_go_json() {
        assert_eq!(eval_text(".spec.cpu"), r#"{"cores":4}"#);
        assert_eq!(
            eval_text(".status.conditions[0]"),
            r#"{"status":"True","type":"Ready"}"#
        );
        let d = json!({"a": 1});
        assert_eq!(
            render_text(&JsonPath::parse("{.}").unwrap().eval(&d)),
            r#"{"a":1}"#
        );
        assert_eq!(
            render_text(&JsonPath::parse("").unwrap().eval(&d)),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn null_values_are_selected_and_print_as_nil() {
        let d = json!({"a": null});
        let p = JsonPath::parse(".a").unwrap();
        assert_eq!(p.eval(&d), vec![&Value::Null]);
        assert_eq!(render_text(&p.eval(&d)), "<nil>");
    }

    #[test]
    fn go_number_and_string_rendering() {
        let d = json!({"big": 1234567.0, "small": 0.00001, "one": 1.0, "n": -2.5, "s": "<a&b>", "arr": [1.5e-7, 1e21, "x<"]});
        assert_eq!(eval_text_in(&d, ".big"), "1.234567e+06");
        assert_eq!(eval_text_in(&d, ".small"), "1e-05");
        assert_eq!(eval_text_in(&d, ".one"), "1");
        assert_eq!(eval_text_in(&d, ".n"), "-2.5");
        assert_eq!(eval_text_in(&d, ".s"), "<a&b>");
        assert_eq!(eval_text_in(&d, ".arr"), r#"[1.5e-7,1e+21,"x\u003c"]"#);
    }

    fn eval_text_in(d: &Value, expr: &str) -> String {
        render_text(&JsonPath::parse(expr).unwrap().eval(d))
    }

    #[test]
    fn parse_errors_are_reported() {
        for bad in [
            "{.a",
            ".a[",
            ".a[x]",
            ".a[?(@.b=='c']",
            ".a[?(@.b ~ 1)]",
            ".a['unterminated]",
            ".a[::0]",
            "a.b",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn mismatched_types_never_match_ordering_and_differ_for_inequality() {
        let d = json!({"items": [{"v": "5"}, {"v": 5}]});
        assert_eq!(eval_text_in(&d, ".items[?(@.v==5)].v"), "5");
        assert_eq!(
            JsonPath::parse(".items[?(@.v>1)]").unwrap().eval(&d).len(),
            1
        );
        assert_eq!(
            JsonPath::parse(".items[?(@.v!='5')]")
                .unwrap()
                .eval(&d)
                .len(),
            1
        );
    }

    #[test]
    fn key_order_of_objects_does_not_matter_for_go_json() {
        let mut out = String::new();
        write_go_json(&json!({"b": 1, "a": [true, null]}), &mut out);
        assert_eq!(out, r#"{"a":[true,null],"b":1}"#);
    }
}
