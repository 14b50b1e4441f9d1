//! OpenAPI v3 schemas for the CRDs: generated from the Rust types with schemars, then rewritten
//! into a *structural* schema as `apiextensions.k8s.io/v1` requires (every node typed, no
//! references, no nullable unions), with enum value docs folded into the descriptions shown by
//! `kubectl explain`.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// The structural schema of type `T`.
pub fn schema_for<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::openapi3();
    settings.inline_subschemas = true;
    let generator = settings.into_generator();
    let schema = generator.into_root_schema_for::<T>();
    structural(schema.to_value())
}

/// Rewrite a schemars/OpenAPI schema into a structural one:
/// * `$ref` is replaced by the referenced definition (from `$defs`, `definitions` or
///   `components/schemas` of the root); `$schema`, `title` (schemars sets it to the Rust type
///   name), `definitions`, `$defs`, `examples`, `nullable` are dropped;
/// * `Option<T>` unions (`anyOf`/`oneOf` with a `null` branch, `type: [T, "null"]`) become plain `T`;
/// * unions of single-value string enums become `{type: string, enum: [...]}`, the values' docs
///   listed under the description;
/// * unsigned integer formats become `integer` with `minimum: 0`;
/// * `additionalProperties: false`, empty `required` and `null` defaults are dropped;
/// * untyped nodes with `properties`/`items` get `object`/`array`; an empty (any-value) node
///   becomes `x-kubernetes-preserve-unknown-fields: true`;
/// * single newlines inside descriptions (wrapped doc comments) become spaces.
pub fn structural(mut root: Value) -> Value {
    let defs = collect_definitions(&mut root);
    rewrite(root, &defs, 0)
}

fn collect_definitions(root: &mut Value) -> Map<String, Value> {
    let mut defs = Map::new();
    if let Value::Object(obj) = root {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(d)) = obj.remove(key) {
                defs.extend(d);
            }
        }
        if let Some(Value::Object(mut components)) = obj.remove("components")
            && let Some(Value::Object(s)) = components.remove("schemas")
        {
            defs.extend(s);
        }
    }
    defs
}

/// Guards against a self-referencing definition expanding forever.
const MAX_DEPTH: usize = 64;

fn rewrite(node: Value, defs: &Map<String, Value>, depth: usize) -> Value {
    let mut obj = match node {
        Value::Object(obj) => obj,
        Value::Bool(true) => return json!({"x-kubernetes-preserve-unknown-fields": true}),
        other => return other,
    };
    if depth > MAX_DEPTH {
        return json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    }

    resolve_ref(&mut obj, defs);
    drop_noise(&mut obj);
    normalize_description(&mut obj);
    strip_null_type(&mut obj);
    strip_null_branches(&mut obj, defs, depth);
    if let Some(folded) = fold_string_enum_union(&obj) {
        obj = folded;
    }
    if let Some(c) = obj.remove("const") {
        obj.insert("enum".into(), Value::Array(vec![c]));
    }
    unsigned_formats(&mut obj);
    infer_type(&mut obj);

    // Recurse into child schemas.
    if let Some(Value::Object(props)) = obj.remove("properties") {
        let props: Map<String, Value> = props
            .into_iter()
            .map(|(k, v)| (k, rewrite(v, defs, depth + 1)))
            .collect();
        obj.insert("properties".into(), Value::Object(props));
    }
    if let Some(items) = obj.remove("items") {
        obj.insert("items".into(), rewrite(items, defs, depth + 1));
    }
    match obj.remove("additionalProperties") {
        Some(Value::Bool(false)) | None => {}
        Some(Value::Bool(true)) => {
            obj.insert(
                "x-kubernetes-preserve-unknown-fields".into(),
                Value::Bool(true),
            );
        }
        Some(ap) => {
            obj.insert("additionalProperties".into(), rewrite(ap, defs, depth + 1));
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = obj.remove(key) {
            let branches: Vec<Value> = branches
                .into_iter()
                .map(|b| rewrite(b, defs, depth + 1))
                .collect();
            obj.insert(key.into(), Value::Array(branches));
        }
    }
    if let Some(not) = obj.remove("not") {
        obj.insert("not".into(), rewrite(not, defs, depth + 1));
    }
    if obj.is_empty() || obj.keys().all(|k| k == "description" || k == "default") {
        obj.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    Value::Object(obj)
}

fn resolve_ref(obj: &mut Map<String, Value>, defs: &Map<String, Value>) {
    let Some(Value::String(r)) = obj.remove("$ref") else {
        return;
    };
    let name = r.rsplit('/').next().unwrap_or_default();
    if let Some(Value::Object(target)) = defs.get(name) {
        for (k, v) in target {
            // The referring node's own keywords (description, default) win.
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

fn drop_noise(obj: &mut Map<String, Value>) {
    for key in [
        "title",
        "$schema",
        "$id",
        "definitions",
        "$defs",
        "examples",
        "example",
        "nullable",
        "readOnly",
        "writeOnly",
        "deprecated",
    ] {
        obj.remove(key);
    }
    if matches!(obj.get("required"), Some(Value::Array(r)) if r.is_empty()) {
        obj.remove("required");
    }
    if matches!(obj.get("default"), Some(Value::Null)) {
        obj.remove("default");
    }
}

/// Wrapped doc comments arrive with single newlines; keep paragraph breaks and list items only.
fn normalize_description(obj: &mut Map<String, Value>) {
    if let Some(Value::String(d)) = obj.get_mut("description") {
        *d = unwrap_lines(d);
    }
}

fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim_end();
        if i > 0 {
            let prev = lines[i - 1].trim();
            let starts_item =
                line.trim_start().starts_with("* ") || line.trim_start().starts_with("- ");
            if line.is_empty() || prev.is_empty() || starts_item {
                out.push('\n');
            } else {
                out.push(' ');
            }
        }
        out.push_str(if i > 0 { line.trim_start() } else { line });
    }
    out
}

fn is_null_schema(v: &Value) -> bool {
    match v {
        Value::Object(o) => {
            o.get("type") == Some(&json!("null"))
                || o.get("const") == Some(&Value::Null)
                || o.get("enum") == Some(&json!([null]))
        }
        _ => false,
    }
}

fn strip_null_type(obj: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = obj.get("type") {
        let non_null: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if non_null.len() == 1 {
            obj.insert("type".into(), non_null[0].clone());
        } else {
            obj.insert("type".into(), Value::Array(non_null));
        }
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

fn strip_null_branches(obj: &mut Map<String, Value>, defs: &Map<String, Value>, depth: usize) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = obj.get(key) else {
            continue;
        };
        if !branches.iter().any(is_null_schema) {
            continue;
        }
        let rest: Vec<Value> = branches
            .iter()
            .filter(|b| !is_null_schema(b))
            .cloned()
            .collect();
        obj.remove(key);
        if rest.len() == 1 {
            // Merge the single remaining branch into this node; the node's keywords win.
            let Value::Object(branch) =
                rewrite(rest.into_iter().next().unwrap_or_default(), defs, depth + 1)
            else {
                continue;
            };
            for (k, v) in branch {
                obj.entry(k).or_insert(v);
            }
        } else {
            obj.insert(key.into(), Value::Array(rest));
        }
    }
}

/// The single string value of an enum branch (`const: "X"` or `enum: ["X"]`), with its doc.
fn single_string_value(branch: &Value) -> Option<(String, Option<String>)> {
    let o = branch.as_object()?;
    let value = match (o.get("const"), o.get("enum")) {
        (Some(Value::String(s)), _) => s.clone(),
        (None, Some(Value::Array(values))) if values.len() == 1 => values[0].as_str()?.to_string(),
        _ => return None,
    };
    let doc = o
        .get("description")
        .and_then(Value::as_str)
        .map(unwrap_lines);
    Some((value, doc))
}

fn fold_string_enum_union(obj: &Map<String, Value>) -> Option<Map<String, Value>> {
    let key = ["oneOf", "anyOf"]
        .into_iter()
        .find(|k| obj.contains_key(*k))?;
    let branches = obj.get(key)?.as_array()?;
    let values: Vec<(String, Option<String>)> = branches
        .iter()
        .map(single_string_value)
        .collect::<Option<_>>()?;
    let mut out = obj.clone();
    out.remove(key);
    out.insert("type".into(), json!("string"));
    out.insert(
        "enum".into(),
        Value::Array(
            values
                .iter()
                .map(|(v, _)| Value::String(v.clone()))
                .collect(),
        ),
    );
    let docs: Vec<String> = values
        .iter()
        .filter_map(|(v, d)| d.as_ref().map(|d| format!("* `{v}`: {d}")))
        .collect();
    if !docs.is_empty() {
        let mut desc = out
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !desc.is_empty() {
            desc.push_str("\n\n");
        }
        desc.push_str("Possible values:\n");
        desc.push_str(&docs.join("\n"));
        out.insert("description".into(), Value::String(desc));
    }
    Some(out)
}

fn unsigned_formats(obj: &mut Map<String, Value>) {
    let Some(Value::String(format)) = obj.get("format") else {
        return;
    };
    if !matches!(
        format.as_str(),
        "uint" | "uint8" | "uint16" | "uint32" | "uint64"
    ) {
        return;
    }
    obj.remove("format");
    obj.insert("type".into(), json!("integer"));
    let min = obj.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
    if min <= 0.0 {
        obj.insert("minimum".into(), json!(0));
    }
}

fn infer_type(obj: &mut Map<String, Value>) {
    if obj.contains_key("type") {
        return;
    }
    if obj.contains_key("properties") || obj.contains_key("additionalProperties") {
        obj.insert("type".into(), json!("object"));
    } else if obj.contains_key("items") {
        obj.insert("type".into(), json!("array"));
    }
}

/// Problems that make a schema non-structural, with their JSON paths (empty when structural).
pub fn structural_violations(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check_node(schema, "", &mut out);
    out
}

const KNOWN_TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];

fn check_node(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(o) = node.as_object() else {
        out.push(format!("{path}: schema is not an object"));
        return;
    };
    for key in [
        "$ref",
        "$schema",
        "title",
        "definitions",
        "$defs",
        "nullable",
        "const",
    ] {
        if o.contains_key(key) {
            out.push(format!("{path}: has {key}"));
        }
    }
    let exempt = o.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || o.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match o.get("type") {
        Some(Value::String(t)) if !KNOWN_TYPES.contains(&t.as_str()) => {
            out.push(format!("{path}: unknown type {t}"));
        }
        Some(Value::String(_)) => {}
        Some(other) => out.push(format!("{path}: type must be a single string, got {other}")),
        None if !exempt => out.push(format!("{path}: missing type")),
        None => {}
    }
    if o.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.push(format!("{path}: additionalProperties: false"));
    }
    if o.contains_key("properties") && o.contains_key("additionalProperties") {
        out.push(format!("{path}: both properties and additionalProperties"));
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = o.get(key) {
            for b in branches {
                if is_null_schema(b) {
                    out.push(format!("{path}: {key} with a null branch"));
                }
                // Value validations may not declare types, except the int-or-string pair.
                if b.get("type").is_some() && !exempt {
                    out.push(format!("{path}: {key} branch declares a type"));
                }
            }
        }
    }
    if let Some(Value::Object(props)) = o.get("properties") {
        for (k, v) in props {
            check_node(v, &format!("{path}.{k}"), out);
        }
    }
    if let Some(items) = o.get("items") {
        check_node(items, &format!("{path}[]"), out);
    }
    if let Some(ap @ Value::Object(_)) = o.get("additionalProperties") {
        check_node(ap, &format!("{path}{{*}}"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_union_becomes_plain_type() {
        let s = structural(
            json!({"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}], "description": "d"}),
        );
        assert_eq!(
            s,
            json!({"type": "string", "minLength": 1, "description": "d"})
        );
    }

    #[test]
    fn nullable_flag_and_null_type_are_dropped() {
        let s =
            structural(json!({"type": ["integer", "null"], "nullable": true, "format": "int32"}));
        assert_eq!(s, json!({"type": "integer", "format": "int32"}));
    }

    #[test]
    fn single_value_enum_union_folds_into_string_enum_with_docs() {
        let s = structural(json!({
            "description": "How it runs.",
            "oneOf": [
                {"type": "string", "enum": ["A"], "description": "First."},
                {"type": "string", "const": "B", "description": "Second\nline."}
            ]
        }));
        assert_eq!(s["type"], "string");
        assert_eq!(s["enum"], json!(["A", "B"]));
        assert_eq!(
            s["description"],
            "How it runs.\n\nPossible values:\n* `A`: First.\n* `B`: Second line."
        );
        assert!(s.get("oneOf").is_none());
    }

    #[test]
    fn refs_are_inlined_from_definitions() {
        let s = structural(json!({
            "type": "object",
            "properties": {"x": {"$ref": "#/$defs/X", "description": "own"}},
            "$defs": {"X": {"type": "object", "description": "def", "properties": {"y": {"type": "string"}}}}
        }));
        assert_eq!(s["properties"]["x"]["description"], "own");
        assert_eq!(s["properties"]["x"]["properties"]["y"]["type"], "string");
        assert!(s.get("$defs").is_none());
    }

    #[test]
    fn unsigned_format_becomes_non_negative_integer() {
        let s = structural(json!({"type": "integer", "format": "uint32"}));
        assert_eq!(s, json!({"type": "integer", "minimum": 0}));
    }

    #[test]
    fn title_schema_and_empty_required_are_removed() {
        let s = structural(
            json!({"$schema": "x", "title": "T", "type": "object", "required": [], "properties": {}}),
        );
        assert_eq!(s, json!({"type": "object", "properties": {}}));
    }

    #[test]
    fn any_value_becomes_preserve_unknown() {
        let s = structural(
            json!({"type": "object", "properties": {"v": true, "w": {"description": "x"}}}),
        );
        assert_eq!(
            s["properties"]["v"],
            json!({"x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(
            s["properties"]["w"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
    }

    #[test]
    fn wrapped_descriptions_are_unwrapped_but_paragraphs_kept() {
        assert_eq!(unwrap_lines("a\nb\n\nc\n* d\n* e"), "a b\n\nc\n* d\n* e");
    }

    #[test]
    fn violations_detect_missing_type_and_refs() {
        let v = structural_violations(
            &json!({"type": "object", "properties": {"a": {"$ref": "x"}, "b": {}}}),
        );
        assert!(v.iter().any(|e| e.contains(".a: has $ref")));
        assert!(v.iter().any(|e| e.contains(".b: missing type")));
    }

    #[test]
    fn int_or_string_node_is_structural() {
        let v = structural_violations(
            &json!({"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true}),
        );
        assert!(v.is_empty(), "{v:?}");
    }
}
