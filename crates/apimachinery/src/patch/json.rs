//! JSON patch (RFC 6902): add, remove, replace, move, copy, test. All operations apply or none do.

use serde_json::Value;

use super::PatchError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Replace => "replace",
            Self::Move => "move",
            Self::Copy => "copy",
            Self::Test => "test",
        }
    }
}

struct Operation<'a> {
    kind: OpKind,
    path: &'a str,
    tokens: Vec<String>,
    from: Option<(&'a str, Vec<String>)>,
    value: Option<&'a Value>,
}

/// Apply an RFC 6902 patch (`ops` must be a JSON array of operations). On any error the target is
/// left untouched; the error names the failing operation and path.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), PatchError> {
    let ops = parse_operations(ops)?;
    let mut doc = target.clone();
    for op in &ops {
        apply_operation(&mut doc, op)?;
    }
    *target = doc;
    Ok(())
}

fn parse_operations(ops: &Value) -> Result<Vec<Operation<'_>>, PatchError> {
    let invalid = |msg: String| PatchError::InvalidJsonPatch(msg);
    let Value::Array(list) = ops else {
        return Err(invalid(
            "the patch must be a JSON array of operations".into(),
        ));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, op) in list.iter().enumerate() {
        let Value::Object(fields) = op else {
            return Err(invalid(format!("operation {i} is not an object")));
        };
        let name = fields
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("operation {i} has no \"op\" string")))?;
        let kind = match name {
            "add" => OpKind::Add,
            "remove" => OpKind::Remove,
            "replace" => OpKind::Replace,
            "move" => OpKind::Move,
            "copy" => OpKind::Copy,
            "test" => OpKind::Test,
            other => return Err(invalid(format!("operation {i} has unknown op {other:?}"))),
        };
        let path = fields
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("operation {i} ({name}) has no \"path\" string")))?;
        let tokens = parse_pointer(path).map_err(invalid)?;
        let from = if matches!(kind, OpKind::Move | OpKind::Copy) {
            let from = fields
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("operation {i} ({name}) has no \"from\" string")))?;
            Some((from, parse_pointer(from).map_err(invalid)?))
        } else {
            None
        };
        let value = if matches!(kind, OpKind::Add | OpKind::Replace | OpKind::Test) {
            Some(
                fields
                    .get("value")
                    .ok_or_else(|| invalid(format!("operation {i} ({name}) has no \"value\"")))?,
            )
        } else {
            None
        };
        out.push(Operation {
            kind,
            path,
            tokens,
            from,
            value,
        });
    }
    Ok(out)
}

/// Split an RFC 6901 pointer into unescaped reference tokens.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "invalid JSON pointer {pointer:?}: it must be empty or start with '/'"
        ));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(format!(
                                "invalid JSON pointer {pointer:?}: '~' must be followed by 0 or 1"
                            ));
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

fn missing(op: OpKind, path: &str) -> PatchError {
    PatchError::MissingPath {
        op: op.name().to_string(),
        path: path.to_string(),
    }
}

/// An array index token: digits without leading zeros (`-` is handled by the caller).
fn parse_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}

fn bad_index(op: OpKind, path: &str, token: &str, len: usize) -> PatchError {
    PatchError::InvalidIndex {
        op: op.name().to_string(),
        path: path.to_string(),
        index: token.to_string(),
        len,
    }
}

fn get<'v>(doc: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get(t),
        Value::Array(a) => parse_index(t).and_then(|i| a.get(i)),
        _ => None,
    })
}

fn get_mut<'v>(doc: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
    tokens.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => parse_index(t).and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn add(
    doc: &mut Value,
    op: OpKind,
    path: &str,
    tokens: &[String],
    value: Value,
) -> Result<(), PatchError> {
    let Some((last, parent_tokens)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent_tokens) {
        Some(Value::Object(m)) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            match parse_index(last) {
                Some(i) if i <= a.len() => {
                    a.insert(i, value);
                    Ok(())
                }
                _ => Err(bad_index(op, path, last, a.len())),
            }
        }
        _ => Err(missing(op, path)),
    }
}

fn remove(doc: &mut Value, op: OpKind, path: &str, tokens: &[String]) -> Result<Value, PatchError> {
    let Some((last, parent_tokens)) = tokens.split_last() else {
        return Err(PatchError::InvalidJsonPatch(format!(
            "{} operation cannot remove the whole document",
            op.name()
        )));
    };
    match get_mut(doc, parent_tokens) {
        Some(Value::Object(m)) => m.remove(last).ok_or_else(|| missing(op, path)),
        Some(Value::Array(a)) => match parse_index(last) {
            Some(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(bad_index(op, path, last, a.len())),
        },
        _ => Err(missing(op, path)),
    }
}

fn apply_operation(doc: &mut Value, op: &Operation<'_>) -> Result<(), PatchError> {
    let value = || op.value.cloned().unwrap_or(Value::Null);
    match op.kind {
        OpKind::Add => add(doc, op.kind, op.path, &op.tokens, value()),
        OpKind::Remove => remove(doc, op.kind, op.path, &op.tokens).map(|_| ()),
        OpKind::Replace => {
            let slot = get_mut(doc, &op.tokens).ok_or_else(|| missing(op.kind, op.path))?;
            *slot = value();
            Ok(())
        }
        OpKind::Move => {
            let (from, from_tokens) = op.from.as_ref().expect("move operations carry from");
            if get(doc, from_tokens).is_none() {
                return Err(missing(op.kind, from));
            }
            if from_tokens == &op.tokens {
                return Ok(());
            }
            if op.tokens.len() > from_tokens.len() && op.tokens.starts_with(from_tokens) {
                return Err(PatchError::MoveIntoChild {
                    from: from.to_string(),
                    path: op.path.to_string(),
                });
            }
            let moved = remove(doc, op.kind, from, from_tokens)?;
            add(doc, op.kind, op.path, &op.tokens, moved)
        }
        OpKind::Copy => {
            let (from, from_tokens) = op.from.as_ref().expect("copy operations carry from");
            let copied = get(doc, from_tokens)
                .cloned()
                .ok_or_else(|| missing(op.kind, from))?;
            add(doc, op.kind, op.path, &op.tokens, copied)
        }
        OpKind::Test => {
            let actual = get(doc, &op.tokens).ok_or_else(|| missing(op.kind, op.path))?;
            let expected = op.value.unwrap_or(&Value::Null);
            if json_equal(actual, expected) {
                Ok(())
            } else {
                Err(PatchError::TestFailed {
                    path: op.path.to_string(),
                    actual: actual.to_string(),
                    expected: expected.to_string(),
                })
            }
        }
    }
}

/// JSON equality where numbers compare by value (`1 == 1.0`), as RFC 6902 `test` requires.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(mut doc: Value, ops: Value) -> Result<Value, PatchError> {
        json_patch(&mut doc, &ops)?;
        Ok(doc)
    }

    #[test]
    fn operations_table() {
        let doc = json!({"spec": {"disks": ["a", "b"], "cpu": {"cores": 1}}, "x": "~/"});
        let cases = [
            (
                json!([{"op": "add", "path": "/spec/foo", "value": 1}]),
                json!({"spec": {"disks": ["a", "b"], "cpu": {"cores": 1}, "foo": 1}, "x": "~/"}),
            ),
            (
                json!([{"op": "add", "path": "/spec/disks/-", "value": "c"}]),
                json!({"spec": {"disks": ["a", "b", "c"], "cpu": {"cores": 1}}, "x": "~/"}),
            ),
            (
                json!([{"op": "add", "path": "/spec/disks/0", "value": "z"}]),
                json!({"spec": {"disks": ["z", "a", "b"], "cpu": {"cores": 1}}, "x": "~/"}),
            ),
            (
                json!([{"op": "add", "path": "/spec/disks/2", "value": "z"}]),
                json!({"spec": {"disks": ["a", "b", "z"], "cpu": {"cores": 1}}, "x": "~/"}),
            ),
            (
                json!([{"op": "remove", "path": "/spec/disks/0"}]),
                json!({"spec": {"disks": ["b"], "cpu": {"cores": 1}}, "x": "~/"}),
            ),
            (
                json!([{"op": "replace", "path": "/spec/cpu/cores", "value": 4}]),
                json!({"spec": {"disks": ["a", "b"], "cpu": {"cores": 4}}, "x": "~/"}),
            ),
            (
                json!([{"op": "move", "from": "/spec/cpu", "path": "/cpu"}]),
                json!({"spec": {"disks": ["a", "b"]}, "cpu": {"cores": 1}, "x": "~/"}),
            ),
            (
                json!([{"op": "copy", "from": "/spec/disks/1", "path": "/spec/disks/0"}]),
                json!({"spec": {"disks": ["b", "a", "b"], "cpu": {"cores": 1}}, "x": "~/"}),
            ),
            (
                json!([{"op": "test", "path": "/spec/cpu/cores", "value": 1.0}]),
                doc.clone(),
            ),
            (
                json!([{"op": "test", "path": "/x", "value": "~/"}]),
                doc.clone(),
            ),
            (
                json!([{"op": "move", "from": "/x", "path": "/x"}]),
                doc.clone(),
            ),
            (
                json!([{"op": "replace", "path": "", "value": [1]}]),
                json!([1]),
            ),
            (json!([]), doc.clone()),
        ];
        for (ops, want) in cases {
            assert_eq!(patched(doc.clone(), ops.clone()).unwrap(), want, "{ops}");
        }
    }

    #[test]
    fn escaped_pointer_tokens() {
        let doc = json!({"metadata": {"annotations": {"example.com/a~b": "1"}}});
        let got = patched(doc, json!([{"op": "replace", "path": "/metadata/annotations/example.com~1a~0b", "value": "2"}])).unwrap();
        assert_eq!(got["metadata"]["annotations"]["example.com/a~b"], "2");
    }

    #[test]
    fn errors_name_the_operation_and_path() {
        let doc = json!({"spec": {"disks": ["a"]}});
        let cases = [
            (
                json!([{"op": "remove", "path": "/spec/foo"}]),
                "remove operation does not apply: doc is missing path: \"/spec/foo\"",
            ),
            (
                json!([{"op": "replace", "path": "/spec/foo", "value": 1}]),
                "replace operation does not apply: doc is missing path: \"/spec/foo\"",
            ),
            (
                json!([{"op": "add", "path": "/nope/foo", "value": 1}]),
                "add operation does not apply: doc is missing path: \"/nope/foo\"",
            ),
            (
                json!([{"op": "add", "path": "/spec/disks/5", "value": 1}]),
                "add operation does not apply: invalid index \"5\" in path \"/spec/disks/5\" (the list has 1 items)",
            ),
            (
                json!([{"op": "remove", "path": "/spec/disks/01"}]),
                "remove operation does not apply: invalid index \"01\" in path \"/spec/disks/01\" (the list has 1 items)",
            ),
            (
                json!([{"op": "test", "path": "/spec/disks/0", "value": "b"}]),
                "testing value \"/spec/disks/0\" failed: found \"a\", expected \"b\"",
            ),
            (
                json!([{"op": "copy", "from": "/x", "path": "/y"}]),
                "copy operation does not apply: doc is missing path: \"/x\"",
            ),
            (
                json!([{"op": "move", "from": "/spec", "path": "/spec/x"}]),
                "move operation does not apply: cannot move \"/spec\" into its own child \"/spec/x\"",
            ),
            (
                json!([{"op": "frob", "path": "/a"}]),
                "invalid JSON patch: operation 0 has unknown op \"frob\"",
            ),
            (
                json!([{"op": "add", "path": "/a"}]),
                "invalid JSON patch: operation 0 (add) has no \"value\"",
            ),
            (
                json!([{"op": "add", "path": "a", "value": 1}]),
                "invalid JSON patch: invalid JSON pointer \"a\": it must be empty or start with '/'",
            ),
            (
                json!({"op": "add"}),
                "invalid JSON patch: the patch must be a JSON array of operations",
            ),
            (
                json!([{"op": "remove", "path": ""}]),
                "invalid JSON patch: remove operation cannot remove the whole document",
            ),
        ];
        for (ops, want) in cases {
            assert_eq!(
                patched(doc.clone(), ops.clone()).unwrap_err().to_string(),
                want,
                "{ops}"
            );
        }
    }

    #[test]
    fn failed_patch_leaves_target_unchanged() {
        let mut doc = json!({"a": 1});
        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/c"}]),
        );
        assert!(err.is_err());
        assert_eq!(doc, before);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_equal(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_equal(&json!("1"), &json!(1)));
    }
}
