//! Small accessors over JSON objects, so validators read the object once without decoding it.

use serde_json::Value;

/// The string at a JSON pointer.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The non-empty string at a JSON pointer.
pub fn non_empty<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    str_at(v, pointer).filter(|s| !s.is_empty())
}

/// The integer at a JSON pointer.
pub fn int_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// The boolean at a JSON pointer.
pub fn bool_at(v: &Value, pointer: &str) -> Option<bool> {
    v.pointer(pointer).and_then(Value::as_bool)
}

/// The array at a JSON pointer (empty when absent).
pub fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether a value is present and not null.
pub fn present(v: &Value, pointer: &str) -> bool {
    v.pointer(pointer).is_some_and(|x| !x.is_null())
}

/// `status.phase` of an object.
pub fn phase(v: &Value) -> Option<&str> {
    str_at(v, "/status/phase")
}

/// Whether the object is being deleted.
pub fn deleting(v: &Value) -> bool {
    present(v, "/metadata/deletionTimestamp")
}

/// The spec, or null.
pub fn spec(v: &Value) -> &Value {
    v.get("spec").unwrap_or(&Value::Null)
}

/// Whether two objects have equal specs (absent and `{}` count as different only if one has
/// content; absent equals null).
pub fn same_spec(a: &Value, b: &Value) -> bool {
    spec(a) == spec(b)
}

/// A map of annotations or labels.
pub fn meta_map<'a>(v: &'a Value, which: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    v.get("metadata")
        .and_then(|m| m.get(which))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}
