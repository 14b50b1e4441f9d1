//! Structural OpenAPI v3 schemas (a CRD version's `openAPIV3Schema`) applied to objects the way
//! apiextensions-apiserver applies them: [`prune`] unknown fields, [`apply_defaults`], [`validate`].
//!
//! At the root (and in `x-kubernetes-embedded-resource` objects) `apiVersion`, `kind` and
//! `metadata` are left alone: the server owns metadata. `x-kubernetes-validations` (CEL) is ignored.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use regex::Regex;
use serde_json::{Map, Value};

use crate::errors::{FieldError, FieldErrorType};
use crate::jsonpath::render_text;
use crate::patch::json_equal;

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// The schema of map values when `additionalProperties` is a schema.
fn additional_schema(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|v| v.is_object())
}

fn items_schema(schema: &Value) -> Option<&Value> {
    schema.get("items").filter(|v| v.is_object())
}

/// Whether `apiVersion`, `kind` and `metadata` are implicit at this level.
fn is_resource_level(schema: &Value, root: bool) -> bool {
    root || flag(schema, "x-kubernetes-embedded-resource")
}

fn is_resource_key(key: &str) -> bool {
    matches!(key, "apiVersion" | "kind" | "metadata")
}

/// A field path being built during a walk (`spec.disks[0].name`); pushing and popping reuse
/// one buffer so valid objects cost no allocations.
struct PathBuf {
    text: String,
}

impl PathBuf {
    fn push_key(&mut self, key: &str) -> usize {
        let len = self.text.len();
        if !self.text.is_empty() {
            self.text.push('.');
        }
        self.text.push_str(key);
        len
    }

    fn push_index(&mut self, i: usize) -> usize {
        let len = self.text.len();
        self.text.push('[');
        self.text.push_str(&i.to_string());
        self.text.push(']');
        len
    }

    fn pop(&mut self, len: usize) {
        self.text.truncate(len);
    }
}

// ----- pruning -----

/// Remove the fields the schema does not allow and return their paths (`spec.foo`,
/// `spec.disks[0].bar`), as strict decoding reports them: `unknown field "spec.foo"`.
pub fn prune(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut pruned = Vec::new();
    let mut path = PathBuf {
        text: String::new(),
    };
    prune_value(obj, schema, true, &mut path, &mut pruned);
    pruned
}

fn prune_value(
    v: &mut Value,
    schema: &Value,
    root: bool,
    path: &mut PathBuf,
    pruned: &mut Vec<String>,
) {
    match v {
        Value::Object(map) => {
            let props = properties(schema);
            let additional = schema.get("additionalProperties");
            let keep_unknown = flag(schema, "x-kubernetes-preserve-unknown-fields")
                || additional.and_then(Value::as_bool).unwrap_or(false);
            let resource = is_resource_level(schema, root);
            map.retain(|key, child| {
                if resource && is_resource_key(key) {
                    return true;
                }
                let child_schema = props
                    .and_then(|p| p.get(key))
                    .or_else(|| additional_schema(schema));
                let len = path.push_key(key);
                let keep = match child_schema {
                    Some(s) => {
                        prune_value(child, s, false, path, pruned);
                        true
                    }
                    None if keep_unknown => true,
                    None => {
                        pruned.push(path.text.clone());
                        false
                    }
                };
                path.pop(len);
                keep
            });
        }
        Value::Array(items) => {
            if let Some(item_schema) = items_schema(schema) {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.push_index(i);
                    prune_value(item, item_schema, false, path, pruned);
                    path.pop(len);
                }
            }
        }
        _ => {}
    }
}

// ----- defaulting -----

/// Set `default` values for absent properties (and for `null` in non-nullable fields),
/// recursively, including inside defaulted values and list items. `null`s of non-nullable
/// fields without a default are dropped.
pub fn apply_defaults(obj: &mut Value, schema: &Value) {
    default_value(obj, schema, true);
}

fn default_value(v: &mut Value, schema: &Value, root: bool) {
    match v {
        Value::Object(map) => {
            let resource = is_resource_level(schema, root);
            if let Some(props) = properties(schema) {
                for (key, prop) in props {
                    if resource && key == "metadata" {
                        continue;
                    }
                    fill_default(map, key, prop);
                }
            }
            let additional = additional_schema(schema);
            if let Some(additional) = additional {
                let keys: Vec<String> = map
                    .iter()
                    .filter(|(_, v)| v.is_null())
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in keys {
                    fill_default(map, &key, additional);
                }
            }
            for (key, child) in map.iter_mut() {
                if resource && key == "metadata" {
                    continue;
                }
                if let Some(s) = properties(schema).and_then(|p| p.get(key)).or(additional) {
                    default_value(child, s, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = items_schema(schema) {
                for item in items.iter_mut() {
                    if item.is_null()
                        && !flag(item_schema, "nullable")
                        && let Some(d) = item_schema.get("default")
                    {
                        *item = d.clone();
                    }
                    default_value(item, item_schema, false);
                }
            }
        }
        _ => {}
    }
}

/// Default one member: absent → default; `null` in a non-nullable field → default or removed.
fn fill_default(map: &mut Map<String, Value>, key: &str, prop: &Value) {
    match map.get(key) {
        None => {
            if let Some(d) = prop.get("default") {
                map.insert(key.to_string(), d.clone());
            }
        }
        Some(Value::Null) if !flag(prop, "nullable") => match prop.get("default") {
            Some(d) => {
                map.insert(key.to_string(), d.clone());
            }
            None => {
                map.remove(key);
            }
        },
        Some(_) => {}
    }
}

// ----- validation -----

/// Validate an object against a structural schema; every problem is reported with its field path.
pub fn validate(obj: &Value, schema: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut path = PathBuf {
        text: String::new(),
    };
    validate_value(obj, schema, true, &mut path, &mut errs);
    errs
}

/// The JSON type name Kubernetes uses in type errors.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if is_integer(n) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn has_type(v: &Value, ty: &str) -> bool {
    match (ty, v) {
        ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("string", Value::String(_))
        | ("boolean", Value::Bool(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => is_integer(n),
        _ => false,
    }
}

/// The value shown after `Invalid value:`: scalars as themselves, composites by type name.
fn shown(v: &Value) -> Value {
    match v {
        Value::Object(_) | Value::Array(_) => Value::String(type_name(v).to_string()),
        other => other.clone(),
    }
}

fn number_text(v: &Value) -> String {
    render_text(&[v])
}

fn validate_value(
    v: &Value,
    schema: &Value,
    root: bool,
    path: &mut PathBuf,
    errs: &mut Vec<FieldError>,
) {
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    let declared_type = schema
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());

    if v.is_null() {
        if flag(schema, "nullable") {
            return;
        }
        if let Some(expected) = declared_type.or(int_or_string.then_some("integer,string")) {
            errs.push(type_error(path, expected, v));
        }
        return;
    }

    if int_or_string {
        if !(has_type(v, "integer") || has_type(v, "string")) {
            errs.push(type_error(path, "integer,string", v));
            return;
        }
    } else if let Some(ty) = declared_type
        && !has_type(v, ty)
    {
        errs.push(type_error(path, ty, v));
        return;
    }

    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| json_equal(a, v))
    {
        let names: Vec<String> = allowed
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| a.to_string())
            })
            .collect();
        errs.push(FieldError::not_supported(
            path.text.clone(),
            shown(v),
            &names,
        ));
    }

    match v {
        Value::String(s) => validate_string(s, v, schema, path, errs),
        Value::Number(n) => validate_number(n, v, schema, path, errs),
        Value::Object(map) => validate_object(map, v, schema, root, path, errs),
        Value::Array(items) => validate_array(items, schema, path, errs),
        _ => {}
    }

    validate_combinators(v, schema, path, errs);
}

fn type_error(path: &PathBuf, expected: &str, v: &Value) -> FieldError {
    let actual = type_name(v);
    FieldError::new(
        FieldErrorType::TypeInvalid,
        path.text.clone(),
        Some(Value::String(actual.to_string())),
        format!(
            "{} in body must be of type {expected}: \"{actual}\"",
            path.text
        ),
    )
}

fn invalid(path: &PathBuf, v: &Value, detail: String) -> FieldError {
    FieldError::invalid(
        path.text.clone(),
        shown(v),
        format!("{} in body {detail}", path.text),
    )
}

fn validate_string(s: &str, v: &Value, schema: &Value, path: &PathBuf, errs: &mut Vec<FieldError>) {
    let length = || s.chars().count();
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && (length() as u64) < min
    {
        errs.push(invalid(
            path,
            v,
            format!("should be at least {min} chars long"),
        ));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length() as u64 > max
    {
        errs.push(FieldError::too_long(path.text.clone(), max as usize));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && let Some(re) = compiled(pattern)
        && !re.is_match(s)
    {
        errs.push(invalid(path, v, format!("should match '{pattern}'")));
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !string_has_format(s, format)
    {
        errs.push(invalid(
            path,
            v,
            format!("must be of type {format}: \"{s}\""),
        ));
    }
}

fn validate_number(
    n: &serde_json::Number,
    v: &Value,
    schema: &Value,
    path: &PathBuf,
    errs: &mut Vec<FieldError>,
) {
    let Some(x) = n.as_f64() else {
        return;
    };
    if let Some(min_v) = schema.get("minimum").filter(|m| m.is_number()) {
        let min = min_v.as_f64().unwrap_or(f64::MIN);
        let exclusive = flag(schema, "exclusiveMinimum");
        if (exclusive && x <= min) || x < min {
            let relation = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(invalid(
                path,
                v,
                format!("should be {relation} {}", number_text(min_v)),
            ));
        }
    }
    if let Some(max_v) = schema.get("maximum").filter(|m| m.is_number()) {
        let max = max_v.as_f64().unwrap_or(f64::MAX);
        let exclusive = flag(schema, "exclusiveMaximum");
        if (exclusive && x >= max) || x > max {
            let relation = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(invalid(
                path,
                v,
                format!("should be {relation} {}", number_text(max_v)),
            ));
        }
    }
    if let Some(step_v) = schema.get("multipleOf").filter(|m| m.is_number()) {
        let step = step_v.as_f64().unwrap_or(1.0);
        if step > 0.0 {
            let ratio = x / step;
            if (ratio - ratio.round()).abs() > 1e-9 {
                errs.push(invalid(
                    path,
                    v,
                    format!("should be a multiple of {}", number_text(step_v)),
                ));
            }
        }
    }
    let range = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => Some((i32::MIN as f64, i32::MAX as f64, "int32")),
        Some("int64") => Some((i64::MIN as f64, i64::MAX as f64, "int64")),
        _ => None,
    };
    if let Some((lo, hi, name)) = range {
        let fits = if name == "int64" {
            n.is_i64() || (!n.is_u64() && x >= lo && x <= hi)
        } else {
            x >= lo && x <= hi
        };
        if !fits {
            errs.push(invalid(path, v, format!("must be of type {name}: \"{n}\"")));
        }
    }
}

fn validate_object(
    map: &Map<String, Value>,
    v: &Value,
    schema: &Value,
    root: bool,
    path: &mut PathBuf,
    errs: &mut Vec<FieldError>,
) {
    let resource = is_resource_level(schema, root);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if resource && name == "metadata" {
                continue;
            }
            if !map.contains_key(name) {
                let len = path.push_key(name);
                errs.push(FieldError::required(path.text.clone(), ""));
                path.pop(len);
            }
        }
    }
    let count = map.len() as u64;
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > max
    {
        errs.push(FieldError::new(
            FieldErrorType::TooMany,
            path.text.clone(),
            None,
            format!("{count}: must have at most {max} properties"),
        ));
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && count < min
    {
        errs.push(invalid(
            path,
            v,
            format!("should have at least {min} properties"),
        ));
    }
    let props = properties(schema);
    let additional = additional_schema(schema);
    for (key, child) in map {
        if resource && key == "metadata" {
            continue;
        }
        if let Some(child_schema) = props.and_then(|p| p.get(key)).or(additional) {
            let len = path.push_key(key);
            validate_value(child, child_schema, false, path, errs);
            path.pop(len);
        }
    }
}

fn validate_array(items: &[Value], schema: &Value, path: &mut PathBuf, errs: &mut Vec<FieldError>) {
    let count = items.len();
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (count as u64) < min
    {
        errs.push(FieldError::invalid(
            path.text.clone(),
            count,
            format!("{} in body should have at least {min} items", path.text),
        ));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && count as u64 > max
    {
        errs.push(FieldError::too_many(path.text.clone(), count, max as usize));
    }
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].iter().any(|earlier| json_equal(earlier, item)) {
                    let len = path.push_index(i);
                    errs.push(FieldError::duplicate(path.text.clone(), item.clone()));
                    path.pop(len);
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !keys.is_empty() {
                let identity = |item: &Value| -> Value {
                    let mut m = Map::new();
                    for k in &keys {
                        m.insert(
                            (*k).to_string(),
                            item.get(*k).cloned().unwrap_or(Value::Null),
                        );
                    }
                    Value::Object(m)
                };
                let ids: Vec<Value> = items.iter().map(identity).collect();
                for (i, id) in ids.iter().enumerate() {
                    if ids[..i].iter().any(|earlier| json_equal(earlier, id)) {
                        let len = path.push_index(i);
                        errs.push(FieldError::duplicate(path.text.clone(), id.clone()));
                        path.pop(len);
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(item_schema) = items_schema(schema) {
        for (i, item) in items.iter().enumerate() {
            let len = path.push_index(i);
            validate_value(item, item_schema, false, path, errs);
            path.pop(len);
        }
    }
}

/// `allOf`, `anyOf`, `oneOf` and `not`, used for value validations only (structural schemas
/// declare types and properties outside them).
fn validate_combinators(v: &Value, schema: &Value, path: &mut PathBuf, errs: &mut Vec<FieldError>) {
    let branches = |name: &str| schema.get(name).and_then(Value::as_array);
    if let Some(all) = branches("allOf") {
        for sub in all {
            validate_value(v, sub, false, path, errs);
        }
    }
    let branch_errors = |sub: &Value, path: &mut PathBuf| {
        let mut e = Vec::new();
        validate_value(v, sub, false, path, &mut e);
        e
    };
    if let Some(any) = branches("anyOf") {
        let results: Vec<Vec<FieldError>> = any.iter().map(|s| branch_errors(s, path)).collect();
        if !results.is_empty() && results.iter().all(|e| !e.is_empty()) {
            errs.push(invalid(
                path,
                v,
                "must validate at least one schema (anyOf)".into(),
            ));
            if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                errs.extend(best);
            }
        }
    }
    if let Some(one) = branches("oneOf") {
        let results: Vec<Vec<FieldError>> = one.iter().map(|s| branch_errors(s, path)).collect();
        let passing = results.iter().filter(|e| e.is_empty()).count();
        if !results.is_empty() && passing != 1 {
            errs.push(invalid(
                path,
                v,
                "must validate one and only one schema (oneOf)".into(),
            ));
            if passing == 0
                && let Some(best) = results.into_iter().min_by_key(Vec::len)
            {
                errs.extend(best);
            }
        }
    }
    if let Some(not) = schema.get("not").filter(|n| n.is_object())
        && branch_errors(not, path).is_empty()
    {
        errs.push(invalid(
            path,
            v,
            "must not validate the schema (not)".into(),
        ));
    }
}

/// Compiled `pattern`s, shared by all validations. Invalid patterns are remembered as `None` and
/// skipped (a CRD with such a pattern cannot be created on a real cluster).
fn compiled(pattern: &str) -> Option<Arc<Regex>> {
    static CACHE: OnceLock<RwLock<HashMap<String, Option<Arc<Regex>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
    if let Some(hit) = cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return hit;
    }
    let re = Regex::new(pattern).ok().map(Arc::new);
    if let Ok(mut c) = cache.write() {
        // Schemas are few; the bound only guards against unbounded growth.
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    }
    re
}

/// The string formats Kubernetes checks; unknown formats pass.
fn string_has_format(s: &str, format: &str) -> bool {
    match format {
        "date-time" => crate::duration::parse_rfc3339(s).is_some(),
        "date" => is_date(s),
        "uuid" => is_uuid(s),
        "byte" => is_base64(s),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(s),
        "hostname" => {
            !s.is_empty()
                && crate::validation::is_dns1123_subdomain(&s.to_ascii_lowercase()).is_empty()
        }
        _ => true,
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && crate::duration::parse_rfc3339(&format!("{s}T00:00:00Z")).is_some()
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["cpu"],
                    "properties": {
                        "runPolicy": {"type": "string", "enum": ["AlwaysOn", "AlwaysOff", "Manual"], "default": "AlwaysOnUnlessStoppedManually"},
                        "cpu": {
                            "type": "object",
                            "properties": {
                                "cores": {"type": "integer", "minimum": 1, "maximum": 248, "format": "int32"},
                                "coreFraction": {"type": "string", "pattern": "^([1-9]|[1-9][0-9]|100)%$", "default": "100%"}
                            }
                        },
                        "memory": {"type": "object", "properties": {"size": {"x-kubernetes-int-or-string": true}}},
                        "blockDeviceRefs": {
                            "type": "array",
                            "maxItems": 3,
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["kind", "name"],
                            "items": {
                                "type": "object",
                                "required": ["kind", "name"],
                                "properties": {
                                    "kind": {"type": "string", "enum": ["VirtualDisk", "VirtualImage"]},
                                    "name": {"type": "string", "minLength": 1, "maxLength": 10},
                                    "bootOrder": {"type": "integer", "default": 1}
                                }
                            }
                        },
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "settings": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                            "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                        "note": {"type": "string", "nullable": true},
                        "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "multipleOf": 0.25}
                    }
                },
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
            }
        })
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn prune_reports_unknown_fields_in_strict_decoding_form() {
        let mut obj = json!({
            "apiVersion": "v", "kind": "K", "metadata": {"name": "x", "whatever": 1},
            "spec": {"cpu": {"cores": 1, "threads": 2}, "foo": 1,
                "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "d", "size": 1}],
                "labels": {"any": "thing"},
                "settings": {"free": {"form": true}, "known": {"a": "b", "z": 1}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"anything": 1}, "spec": {"x": "y", "y": 1}}},
            "extra": true
        });
        let pruned = prune(&mut obj, &vm_schema());
        assert_eq!(
            pruned,
            vec![
                "extra",
                "spec.blockDeviceRefs[0].size",
                "spec.cpu.threads",
                "spec.foo",
                "spec.settings.known.z",
                "spec.template.spec.y",
            ]
        );
        assert_eq!(obj["metadata"], json!({"name": "x", "whatever": 1}));
        assert_eq!(obj["spec"]["settings"]["free"], json!({"form": true}));
        assert_eq!(obj["spec"]["template"]["metadata"], json!({"anything": 1}));
        assert!(obj.get("extra").is_none());
        assert!(obj["spec"]["cpu"].get("threads").is_none());
    }

    #[test]
    fn prune_removes_everything_under_a_bare_object_schema() {
        let mut obj = json!({"spec": {"a": 1}});
        let pruned = prune(
            &mut obj,
            &json!({"type": "object", "properties": {"spec": {"type": "object"}}}),
        );
        assert_eq!(pruned, vec!["spec.a"]);
        assert_eq!(obj, json!({"spec": {}}));
    }

    #[test]
    fn defaults_fill_absent_fields_recursively() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "default": {}, "properties": {
                "cpu": {"type": "object", "default": {"cores": 1}, "properties": {
                    "cores": {"type": "integer"}, "fraction": {"type": "string", "default": "100%"}}},
                "disks": {"type": "array", "items": {"type": "object", "properties": {"boot": {"type": "integer", "default": 1}}}}
            }}
        }});
        let mut obj = json!({"spec": {"disks": [{}, {"boot": 3}]}});
        apply_defaults(&mut obj, &schema);
        assert_eq!(
            obj,
            json!({"spec": {"cpu": {"cores": 1, "fraction": "100%"}, "disks": [{"boot": 1}, {"boot": 3}]}})
        );
        let mut empty = json!({});
        apply_defaults(&mut empty, &schema);
        assert_eq!(
            empty,
            json!({"spec": {"cpu": {"cores": 1, "fraction": "100%"}}})
        );
    }

    #[test]
    fn defaults_replace_or_drop_nulls_of_non_nullable_fields() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string", "default": "x"},
            "b": {"type": "string"},
            "c": {"type": "string", "nullable": true},
            "m": {"type": "object", "additionalProperties": {"type": "string"}}
        }});
        let mut obj = json!({"a": null, "b": null, "c": null, "m": {"k": null, "j": "v"}});
        apply_defaults(&mut obj, &schema);
        assert_eq!(obj, json!({"a": "x", "c": null, "m": {"j": "v"}}));
    }

    #[test]
    fn defaults_do_not_touch_root_metadata() {
        let schema = json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "n"}}}}});
        let mut obj = json!({"metadata": {}});
        apply_defaults(&mut obj, &schema);
        assert_eq!(obj, json!({"metadata": {}}));
    }

    #[test]
    fn valid_object_has_no_errors() {
        let obj = json!({"apiVersion": "v", "kind": "K", "metadata": {"name": 5},
            "spec": {"runPolicy": "Manual", "cpu": {"cores": 4, "coreFraction": "50%"}, "memory": {"size": "1Gi"},
                "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "a"}, {"kind": "VirtualImage", "name": "a"}],
                "tags": ["x", "y"], "labels": {"a": "b"}, "note": null, "ratio": 0.75}});
        assert_eq!(
            messages(&validate(&obj, &vm_schema())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn validation_messages_match_apiextensions() {
        let obj = json!({"spec": {
            "runPolicy": "Sometimes",
            "cpu": {"cores": "string", "coreFraction": "150%"},
            "memory": {"size": true},
            "blockDeviceRefs": [
                {"kind": "VirtualDisk", "name": ""},
                {"kind": "VirtualDisk", "name": "waytoolongname"},
                {"kind": "Floppy", "name": "x"},
                {"kind": "VirtualDisk", "name": ""}
            ],
            "tags": ["a", "b", "a"],
            "labels": {"k": 1},
            "note": 3,
            "ratio": 0.3
        }});
        let got = messages(&validate(&obj, &vm_schema()));
        let want = vec![
            r#"spec.blockDeviceRefs: Too many: 4: must have at most 3 items"#,
            r#"spec.blockDeviceRefs[3]: Duplicate value: {"kind":"VirtualDisk","name":""}"#,
            r#"spec.blockDeviceRefs[0].name: Invalid value: "": spec.blockDeviceRefs[0].name in body should be at least 1 chars long"#,
            r#"spec.blockDeviceRefs[1].name: Too long: may not be more than 10 bytes"#,
            r#"spec.blockDeviceRefs[2].kind: Unsupported value: "Floppy": supported values: "VirtualDisk", "VirtualImage""#,
            r#"spec.blockDeviceRefs[3].name: Invalid value: "": spec.blockDeviceRefs[3].name in body should be at least 1 chars long"#,
            r#"spec.cpu.coreFraction: Invalid value: "150%": spec.cpu.coreFraction in body should match '^([1-9]|[1-9][0-9]|100)%$'"#,
            r#"spec.cpu.cores: Invalid value: "string": spec.cpu.cores in body must be of type integer: "string""#,
            r#"spec.labels.k: Invalid value: "integer": spec.labels.k in body must be of type string: "integer""#,
            r#"spec.memory.size: Invalid value: "boolean": spec.memory.size in body must be of type integer,string: "boolean""#,
            r#"spec.note: Invalid value: "integer": spec.note in body must be of type string: "integer""#,
            r#"spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25"#,
            r#"spec.runPolicy: Unsupported value: "Sometimes": supported values: "AlwaysOn", "AlwaysOff", "Manual""#,
            r#"spec.tags[2]: Duplicate value: "a""#,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn required_fields_and_type_reasons() {
        let errs = validate(&json!({"spec": {"blockDeviceRefs": [{}]}}), &vm_schema());
        assert_eq!(
            messages(&errs),
            vec![
                "spec.cpu: Required value",
                "spec.blockDeviceRefs[0].kind: Required value",
                "spec.blockDeviceRefs[0].name: Required value",
            ]
        );
        assert_eq!(errs[0].kind, FieldErrorType::Required);
        let type_err = &validate(&json!({"spec": {"cpu": {"cores": 1.5}}}), &vm_schema())[0];
        assert_eq!(type_err.kind.reason(), "FieldValueTypeInvalid");
    }

    #[test]
    fn numeric_bounds_and_formats() {
        let cases = [
            (
                json!(0),
                "spec.cpu.cores: Invalid value: 0: spec.cpu.cores in body should be greater than or equal to 1",
            ),
            (
                json!(249),
                "spec.cpu.cores: Invalid value: 249: spec.cpu.cores in body should be less than or equal to 248",
            ),
        ];
        for (cores, want) in cases {
            let errs = validate(&json!({"spec": {"cpu": {"cores": cores}}}), &vm_schema());
            assert_eq!(messages(&errs), vec![want]);
        }
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer", "format": "int32"},
            "r": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true}}});
        assert_eq!(
            messages(&validate(&json!({"n": 3_000_000_000i64, "r": 1}), &schema)),
            vec![
                r#"n: Invalid value: 3000000000: n in body must be of type int32: "3000000000""#,
                "r: Invalid value: 1: r in body should be less than 1",
            ]
        );
        assert_eq!(
            messages(&validate(&json!({"r": 0}), &schema)),
            vec!["r: Invalid value: 0: r in body should be greater than 0"]
        );
        assert!(
            validate(&json!({"n": 5.0}), &schema).is_empty(),
            "5.0 is an integer"
        );
    }

    #[test]
    fn null_needs_nullable() {
        let errs = validate(&json!({"spec": {"cpu": null}}), &vm_schema());
        assert_eq!(
            messages(&errs),
            vec![
                r#"spec.cpu: Invalid value: "null": spec.cpu in body must be of type object: "null""#
            ]
        );
    }

    #[test]
    fn string_formats() {
        let schema = json!({"type": "object", "properties": {
            "t": {"type": "string", "format": "date-time"}, "d": {"type": "string", "format": "date"},
            "u": {"type": "string", "format": "uuid"}, "b": {"type": "string", "format": "byte"},
            "i": {"type": "string", "format": "ipv4"}, "c": {"type": "string", "format": "cidr"},
            "x": {"type": "string", "format": "some-unknown-format"}}});
        let good = json!({"t": "2026-11-21T11:26:23Z", "d": "2026-02-28", "u": "0b3c5c4e-8a3b-4a0e-9c1f-2b5d6e7f8a9b",
            "b": "aGVsbG8=", "i": "10.0.0.1", "c": "10.0.0.0/8", "x": "anything"});
        assert!(validate(&good, &schema).is_empty());
        let bad = json!({"t": "yesterday", "d": "2026-02-30", "u": "nope", "b": "a", "i": "300.1.1.1", "c": "10.0.0.0/33"});
        let fields: Vec<String> = validate(&bad, &schema)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["b", "c", "d", "i", "t", "u"]);
        assert_eq!(
            validate(&json!({"t": "x"}), &schema)[0].to_string(),
            r#"t: Invalid value: "x": t in body must be of type date-time: "x""#
        );
    }

    #[test]
    fn combinators_validate_values() {
        let schema = json!({"type": "object", "properties": {
            "any": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]},
            "one": {"type": "integer", "oneOf": [{"minimum": 5}, {"maximum": 10}]},
            "all": {"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]},
            "not": {"type": "string", "not": {"enum": ["forbidden"]}}
        }});
        assert!(
            validate(
                &json!({"any": "bx", "one": 2, "all": "abc", "not": "ok"}),
                &schema
            )
            .is_empty()
        );
        let errs = messages(&validate(
            &json!({"any": "cx", "one": 7, "all": "a", "not": "forbidden"}),
            &schema,
        ));
        assert_eq!(
            errs,
            vec![
                r#"all: Invalid value: "a": all in body should be at least 2 chars long"#,
                r#"any: Invalid value: "cx": any in body must validate at least one schema (anyOf)"#,
                r#"any: Invalid value: "cx": any in body should match '^a'"#,
                r#"not: Invalid value: "forbidden": not in body must not validate the schema (not)"#,
                r#"one: Invalid value: 7: one in body must validate one and only one schema (oneOf)"#,
            ]
        );
    }

    #[test]
    fn invalid_patterns_are_skipped() {
        let schema = json!({"type": "string", "pattern": "(unclosed"});
        assert!(validate(&json!("x"), &schema).is_empty());
    }

    #[test]
    fn preserve_unknown_without_type_accepts_anything() {
        let schema = json!({"type": "object", "properties": {"free": {"x-kubernetes-preserve-unknown-fields": true}}});
        assert!(validate(&json!({"free": [1, {"a": null}]}), &schema).is_empty());
    }
}
