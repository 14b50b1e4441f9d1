//! Turning a request body into a well-formed object of a resource: type checks, metadata
//! normalization, schema pruning/defaulting/validation (custom kinds) or typed decoding (core kinds).

use dvp_apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};
use dvp_apimachinery::{FieldError, StatusError, schema};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::FieldValidation;
use crate::core_kinds::CoreKind;
use crate::resources::{Model, Resource};

/// Check `apiVersion`/`kind` of a body sent to `res` in `version`, filling them in when absent.
pub(crate) fn check_type(
    res: &Resource,
    version: &str,
    obj: &mut Value,
) -> Result<(), StatusError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(StatusError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let expected_api = res.api_version(version);
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(expected_api));
        }
        Some(v) if v == expected_api => {}
        Some(v) => {
            return Err(StatusError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_api})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(res.kind));
        }
        Some(k) if k == res.kind => {}
        Some(k) => {
            return Err(StatusError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.kind
            )));
        }
    }
    if !map.get("metadata").is_none_or(Value::is_object) {
        return Err(StatusError::bad_request("metadata must be an object"));
    }
    Ok(())
}

/// Unknown fields found while decoding, handled per `fieldValidation`.
fn report_unknown(
    unknown: Vec<String>,
    fv: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<(), StatusError> {
    if unknown.is_empty() {
        return Ok(());
    }
    let texts: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{}\"", p.trim_start_matches('.')))
        .collect();
    match fv {
        FieldValidation::Strict => Err(StatusError::bad_request(format!(
            "strict decoding error: {}",
            texts.join(", ")
        ))),
        FieldValidation::Warn => {
            warnings.extend(texts);
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

/// Normalize `metadata` through the typed ObjectMeta (dropping unknown fields) and validate
/// labels and annotations like the real API server.
fn normalize_metadata(
    obj: &mut Value,
    fv: FieldValidation,
    warnings: &mut Vec<String>,
    errors: &mut Vec<FieldError>,
) -> Result<(), StatusError> {
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let typed: ObjectMeta = serde_json::from_value(meta.clone())
        .map_err(|e| StatusError::bad_request(format!("metadata: {e}")))?;
    let normalized = serde_json::to_value(&typed).expect("ObjectMeta serializes");
    if let (Some(input), Some(output)) = (meta.as_object(), normalized.as_object()) {
        let unknown: Vec<String> = input
            .iter()
            .filter(|(k, v)| !v.is_null() && !output.contains_key(*k))
            .map(|(k, _)| format!("metadata.{k}"))
            .collect();
        report_unknown(unknown, fv, warnings)?;
    }
    for (k, v) in typed.labels.iter().flatten() {
        for msg in is_qualified_name(k) {
            errors.push(FieldError::invalid("metadata.labels", k.as_str(), msg));
        }
        for msg in is_valid_label_value(v) {
            errors.push(FieldError::invalid("metadata.labels", v.as_str(), msg));
        }
    }
    let mut annotations_size = 0;
    for (k, v) in typed.annotations.iter().flatten() {
        annotations_size += k.len() + v.len();
        for msg in is_qualified_name(&k.to_lowercase()) {
            errors.push(FieldError::invalid("metadata.annotations", k.as_str(), msg));
        }
    }
    if annotations_size > 256 * 1024 {
        errors.push(FieldError::too_long("metadata.annotations", 256 * 1024));
    }
    obj["metadata"] = without_empty_collections(normalized);
    Ok(())
}

/// Go's `omitempty` on ObjectMeta: empty label/annotation maps and empty lists are not kept.
fn without_empty_collections(mut meta: Value) -> Value {
    if let Some(map) = meta.as_object_mut() {
        map.retain(|_, v| match v {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Null => false,
            _ => true,
        });
    }
    meta
}

/// Validate an object name for `res`.
pub(crate) fn validate_name(res: &Resource, name: &str) -> Vec<FieldError> {
    let msgs = if res.kind == "Namespace" {
        is_dns1123_label(name)
    } else {
        is_dns1123_subdomain(name)
    };
    msgs.into_iter()
        .map(|m| FieldError::invalid("metadata.name", name, m))
        .collect()
}

/// Schema or typed processing of the whole object. Returns warnings; errors become a 400 (bad
/// encoding / strict unknown fields) or a 422 (invalid values).
pub(crate) fn process(
    res: &Resource,
    version: &str,
    obj: &mut Value,
    fv: FieldValidation,
) -> Result<Vec<String>, StatusError> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    normalize_metadata(obj, fv, &mut warnings, &mut errors)?;
    match res.model {
        Model::Custom => {
            if let Some(schema) = res.version(version).and_then(|v| v.schema.as_ref()) {
                let unknown = schema::prune(obj, schema);
                report_unknown(unknown, fv, &mut warnings)?;
                schema::apply_defaults(obj, schema);
                errors.extend(schema::validate(obj, schema));
            }
        }
        Model::Core(kind) => process_core(kind, obj, fv, &mut warnings)?,
    }
    if !errors.is_empty() {
        return Err(invalid(res, obj, errors));
    }
    Ok(warnings)
}

fn process_core(
    kind: CoreKind,
    obj: &mut Value,
    fv: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<(), StatusError> {
    kind.prepare(obj).map_err(StatusError::bad_request)?;
    let (normalized, unknown) = kind
        .normalize(obj.clone())
        .map_err(|e| StatusError::bad_request(format!("error decoding {}: {e}", kind.kind())))?;
    report_unknown(unknown, fv, warnings)?;
    *obj = normalized;
    kind.apply_defaults(obj);
    Ok(())
}

/// A 422 for `obj` of `res`.
pub(crate) fn invalid(res: &Resource, obj: &Value, errors: Vec<FieldError>) -> StatusError {
    let name = crate::objects::name(obj);
    StatusError::invalid(&res.group, &res.kind, name, errors)
}
