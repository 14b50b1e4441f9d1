//! Accessors for the metadata of objects held as JSON.

use serde_json::{Map, Value, json};

pub fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

pub fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"]).unwrap_or("")
}

pub fn namespace(obj: &Value) -> Option<&str> {
    str_at(obj, &["metadata", "namespace"]).filter(|s| !s.is_empty())
}

pub fn uid(obj: &Value) -> &str {
    str_at(obj, &["metadata", "uid"]).unwrap_or("")
}

pub fn resource_version(obj: &Value) -> Option<&str> {
    str_at(obj, &["metadata", "resourceVersion"]).filter(|s| !s.is_empty())
}

pub fn labels(obj: &Value) -> Option<&Value> {
    obj.get("metadata").and_then(|m| m.get("labels"))
}

pub fn is_deleting(obj: &Value) -> bool {
    str_at(obj, &["metadata", "deletionTimestamp"]).is_some()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The `metadata` object, created if absent.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let root = obj.as_object_mut().expect("API objects are JSON objects");
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("just made an object")
}

pub fn set_finalizers(obj: &mut Value, finalizers: &[String]) {
    let meta = meta_mut(obj);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(finalizers));
    }
}

pub fn set_resource_version(obj: &mut Value, rev: u64) {
    meta_mut(obj).insert("resourceVersion".into(), json!(rev.to_string()));
}

/// The object's `ownerReferences`, as (uid, kind, name, controller, blockOwnerDeletion).
pub fn owner_uids(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Everything but `metadata` and `status`: what `generation` tracks.
pub fn spec_part(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The `PartialObjectMetadata` of an object (for Table rows).
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A field's value for field selectors: dotted path lookup, rendered as text.
pub fn field_value(obj: &Value, field: &str) -> Option<String> {
    if field == "source" {
        return str_at(obj, &["source", "component"]).map(String::from);
    }
    let mut cur = obj;
    for p in field.split('.') {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}
