//! OpenAPI v2 (Swagger 2.0) at `/openapi/v2`, built once from the registry.
//!
//! kubectl before 1.27 (Debian's 1.20 among them) reads only this document: client-side
//! validation of `apply`/`create`/`edit` and `kubectl explain` both look kinds up through the
//! `x-kubernetes-group-version-kind` extension of its definitions. It asks for the gnostic
//! protobuf encoding; JSON is served to everyone else.
//!
//! Definitions reuse the v3 component schemas (same names), rewritten to what kubectl's v2 model
//! parser accepts: `metadata` becomes a `$ref` to ObjectMeta, and nodes that are nullable,
//! preserve unknown fields or are int-or-string lose their structural type (kubectl would
//! otherwise reject values the server accepts), as the real API server does when it publishes CRD
//! schemas in v2. PATCH operations never list strategic merge patch: kubectl 1.27+ consults that
//! list during client-side apply, and must keep sending merge patches to custom kinds and building
//! strategic patches for core kinds from its compiled-in types. kubectl 1.20 instead builds a core
//! kind's strategic patch from its v2 definition, so those carry the list merge keys
//! ([`patch_meta`]).

mod patch_meta;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};

use super::openapi::{OBJECT_META, component_schema, gvk, schema_name};
use super::proto::gnostic;
use crate::core_kinds;
use crate::resources::{Model, Registry, Resource};

/// The content type of the protobuf answer. kubectl asks for
/// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (newer clients with `.` for `@`);
/// the answer uses the dotted spelling, because Go's media type parser, which client-go runs on
/// every response, rejects the `@`.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Both encodings of the document, prebuilt (cheap to clone into responses).
pub struct OpenApiV2 {
    json: Bytes,
    protobuf: Bytes,
}

impl OpenApiV2 {
    pub fn build(reg: &Registry) -> OpenApiV2 {
        let doc = document(reg);
        OpenApiV2 {
            json: serde_json::to_vec(&doc).expect("JSON serializes").into(),
            protobuf: gnostic::encode_document(&doc).into(),
        }
    }

    /// The document in the encoding the request's `Accept` header asks for.
    pub fn response(&self, headers: &HeaderMap) -> Response {
        let accept = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let (content_type, bytes) = if wants_protobuf(&accept) {
            (PROTOBUF_CONTENT_TYPE, self.protobuf.clone())
        } else {
            ("application/json", self.json.clone())
        };
        let mut resp = Response::new(Body::from(bytes));
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
        resp
    }
}

/// Whether an `Accept` header asks for the gnostic protobuf encoding.
pub fn wants_protobuf(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        media.starts_with("application/com.github.proto-openapi.spec.v2")
            && media.ends_with("+protobuf")
    })
}

/// The Swagger 2.0 document of every served kind and version.
pub fn document(reg: &Registry) -> Value {
    let mut paths = Map::new();
    let mut definitions = BTreeMap::new();
    for r in reg.all() {
        for v in &r.versions {
            resource_paths(r, &v.name, &mut paths);
            definitions.insert(schema_name(r, &v.name), definition(r, &v.name));
        }
    }
    let mut object_meta = to_v2(&core_kinds::object_meta_schema());
    patch_meta::annotate("ObjectMeta", &mut object_meta);
    definitions.insert(OBJECT_META.to_string(), object_meta);
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "definitions": definitions,
    })
}

/// The definition of one kind: its v3 component schema in v2 form, `metadata` a plain `$ref`,
/// core kinds with their strategic-merge list metadata.
fn definition(r: &Resource, version: &str) -> Value {
    let mut schema = to_v2(&component_schema(r, version));
    if let Model::Core(_) = r.model {
        patch_meta::annotate(&r.kind, &mut schema);
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "metadata".into(),
            json!({
                "description": "Standard object's metadata.",
                "$ref": format!("#/definitions/{OBJECT_META}"),
            }),
        );
    }
    schema
}

const PRIMITIVES: [&str; 6] = ["object", "array", "string", "integer", "number", "boolean"];

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// Rewrite an OpenAPI v3 schema into the Swagger 2.0 subset kubectl's model parser accepts.
pub fn to_v2(v3: &Value) -> Value {
    let Some(s) = v3.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    if let Some(reference) = reference(s) {
        out.insert("$ref".into(), Value::String(reference));
        if let Some(d) = s.get("description") {
            out.insert("description".into(), d.clone());
        }
        return Value::Object(out);
    }
    // Values of these nodes are not structurally checked by the server, so kubectl must not be.
    let untyped = flag(s, "nullable")
        || flag(s, "x-kubernetes-preserve-unknown-fields")
        || flag(s, "x-kubernetes-int-or-string");
    for (key, value) in s {
        match key.as_str() {
            "type" if !untyped => {
                let t = match value {
                    Value::String(t) => Some(t.as_str()),
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
                    _ => None,
                };
                if let Some(t) = t.filter(|t| PRIMITIVES.contains(t)) {
                    out.insert("type".into(), Value::String(t.into()));
                }
            }
            "properties" if !untyped => {
                if let Some(props) = value.as_object() {
                    let converted = props.iter().map(|(k, p)| (k.clone(), to_v2(p))).collect();
                    out.insert("properties".into(), Value::Object(converted));
                }
            }
            "items" if !untyped => {
                let first = match value {
                    Value::Array(items) => items.first(),
                    other => Some(other),
                };
                out.insert(
                    "items".into(),
                    first.map(to_v2).unwrap_or_else(|| json!({})),
                );
            }
            "additionalProperties" if !untyped => {
                let converted = match value {
                    Value::Bool(b) => Value::Bool(*b),
                    other => to_v2(other),
                };
                out.insert("additionalProperties".into(), converted);
            }
            "required" if !untyped => {
                out.insert(key.clone(), value.clone());
            }
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => {
                out.insert(key.clone(), value.clone());
            }
            "description" | "title" | "format" | "pattern" | "enum" | "default" | "example"
            | "minimum" | "maximum" | "multipleOf" | "minLength" | "maxLength" | "minItems"
            | "maxItems" | "uniqueItems" | "minProperties" | "maxProperties" | "readOnly" => {
                out.insert(key.clone(), value.clone());
            }
            k if k.starts_with("x-") => {
                out.insert(key.clone(), value.clone());
            }
            // anyOf/oneOf/not/allOf/nullable and OpenAPI 3-only keywords have no v2 meaning
            // kubectl uses.
            _ => {}
        }
    }
    if out.get("type").and_then(Value::as_str) == Some("array") && !out.contains_key("items") {
        out.insert("items".into(), json!({}));
    }
    Value::Object(out)
}

/// A v3 `$ref` (directly or as the single member of `allOf`) as a v2 definitions reference.
fn reference(s: &Map<String, Value>) -> Option<String> {
    let raw = s.get("$ref").and_then(Value::as_str).or_else(|| {
        match s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            Some([only]) if !s.contains_key("type") && !s.contains_key("properties") => {
                only.get("$ref").and_then(Value::as_str)
            }
            _ => None,
        }
    })?;
    let name = raw
        .strip_prefix("#/components/schemas/")
        .or_else(|| raw.strip_prefix("#/definitions/"))?;
    Some(format!("#/definitions/{name}"))
}

fn camel(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The operation id suffix the real server uses: `CoreV1`, `StorageV1`, `VirtualizationDeckhouseIoV1alpha2`.
fn group_version_id(r: &Resource, version: &str) -> String {
    let group = match r.group.as_str() {
        "" => "core".to_string(),
        g => g.strip_suffix(".k8s.io").unwrap_or(g).to_string(),
    };
    group
        .split(['.', '-'])
        .map(camel)
        .chain(std::iter::once(camel(version)))
        .collect()
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "type": kind, "uniqueItems": true, "description": description})
}

fn path_param(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "type": "string", "uniqueItems": true,
           "description": format!("{name} of the {kind}")})
}

fn write_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "string",
            "When present, indicates that modifications should not be persisted.",
        ),
        query(
            "fieldManager",
            "string",
            "A name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "string",
            "How the server treats unknown or duplicate fields in the body: Ignore, Warn or Strict.",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        query("labelSelector", "string", "Select objects by their labels."),
        query("fieldSelector", "string", "Select objects by their fields."),
        query(
            "limit",
            "integer",
            "The maximum number of objects to return.",
        ),
        query(
            "continue",
            "string",
            "The continue token of a previous list call.",
        ),
        query(
            "resourceVersion",
            "string",
            "Which version of the collection to serve.",
        ),
        query("watch", "boolean", "Watch for changes instead of listing."),
        query(
            "timeoutSeconds",
            "integer",
            "Close the watch after this many seconds.",
        ),
    ]
}

struct Op<'a> {
    r: &'a Resource,
    version: &'a str,
    action: &'a str,
    verb: &'a str,
    consumes: &'a [&'a str],
    params: Vec<Value>,
    returns_object: bool,
}

fn operation(op: Op<'_>) -> Value {
    let reference = json!({"$ref": format!("#/definitions/{}", schema_name(op.r, op.version))});
    let mut ok = json!({"description": "OK"});
    if op.returns_object {
        ok["schema"] = reference;
    }
    let scope = if op.r.namespaced { "Namespaced" } else { "" };
    json!({
        "operationId": format!("{}{}{scope}{}", op.verb, group_version_id(op.r, op.version), op.r.kind),
        "consumes": op.consumes,
        "produces": ["application/json", "application/yaml"],
        "schemes": ["https"],
        "parameters": op.params,
        "responses": {"200": ok, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": gvk(op.r, op.version),
    })
}

fn body_param(schema: Value) -> Value {
    json!({"name": "body", "in": "body", "required": true, "schema": schema})
}

const ANY: &[&str] = &["*/*"];
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

fn resource_paths(r: &Resource, version: &str, paths: &mut Map<String, Value>) {
    let base = if r.group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{}/{version}", r.group)
    };
    let collection = if r.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    };
    let item = format!("{collection}/{{name}}");
    let object_body =
        || body_param(json!({"$ref": format!("#/definitions/{}", schema_name(r, version))}));
    let with_body = |mut params: Vec<Value>, body: Value| {
        params.insert(0, body);
        params
    };
    let mut patch_params = write_params();
    patch_params.push(query("force", "boolean", "Force Apply requests."));
    let patch_params = with_body(patch_params, body_param(json!({"type": "object"})));
    let op = |action, verb, consumes, params, returns_object| {
        operation(Op {
            r,
            version,
            action,
            verb,
            consumes,
            params,
            returns_object,
        })
    };
    let mut scope_params = Vec::new();
    if r.namespaced {
        scope_params.push(path_param("namespace", "Namespace"));
    }
    let mut item_params = scope_params.clone();
    item_params.push(path_param("name", &r.kind));

    paths.insert(
        item.clone(),
        json!({
            "get": op("get", "read", ANY, vec![], true),
            "put": op("put", "replace", ANY, with_body(write_params(), object_body()), true),
            "patch": op("patch", "patch", PATCH_TYPES, patch_params.clone(), true),
            "delete": op("delete", "delete", ANY, vec![], false),
            "parameters": item_params.clone(),
        }),
    );
    paths.insert(
        collection,
        json!({
            "get": op("list", "list", ANY, list_params(), false),
            "post": op("post", "create", ANY, with_body(write_params(), object_body()), true),
            "delete": op("deletecollection", "deleteCollection", ANY, list_params(), false),
            "parameters": scope_params,
        }),
    );
    if r.status_subresource {
        paths.insert(
            format!("{item}/status"),
            json!({
                "get": op("get", "read", ANY, vec![], true),
                "put": op("put", "replace", ANY, with_body(write_params(), object_body()), true),
                "patch": op("patch", "patch", PATCH_TYPES, patch_params, true),
                "parameters": item_params,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> &'static Registry {
        static REG: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
        REG.get_or_init(crate::default_registry)
    }

    fn doc() -> &'static Value {
        static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        DOC.get_or_init(|| document(registry()))
    }

    const VM: &str = "io.deckhouse.virtualization.v1alpha2.VirtualMachine";

    #[test]
    fn vm_definition_carries_its_gvk() {
        assert_eq!(
            doc()["definitions"][VM]["x-kubernetes-group-version-kind"],
            json!([{"group": "virtualization.deckhouse.io", "version": "v1alpha2", "kind": "VirtualMachine"}])
        );
    }

    #[test]
    fn metadata_is_a_plain_ref_to_an_included_object_meta() {
        let meta = &doc()["definitions"][VM]["properties"]["metadata"];
        assert_eq!(meta["$ref"], format!("#/definitions/{OBJECT_META}"));
        assert!(meta.get("allOf").is_none());
        assert!(doc()["definitions"][OBJECT_META]["properties"]["labels"].is_object());
    }

    #[test]
    fn every_served_version_gets_a_definition() {
        for r in registry().all() {
            for v in &r.versions {
                assert!(
                    doc()["definitions"].get(schema_name(r, &v.name)).is_some(),
                    "{} {}",
                    r.kind,
                    v.name
                );
            }
        }
    }

    #[test]
    fn core_secret_has_data_as_a_string_map() {
        let data = &doc()["definitions"]["io.k8s.api.core.v1.Secret"]["properties"]["data"];
        assert_eq!(data["type"], "object");
        assert_eq!(data["additionalProperties"]["type"], "string");
    }

    #[test]
    fn patch_operations_never_offer_strategic_merge() {
        for item in doc()["paths"].as_object().unwrap().values() {
            if let Some(patch) = item.get("patch") {
                let consumes = patch["consumes"].as_array().unwrap();
                assert!(
                    !consumes
                        .iter()
                        .any(|c| c == "application/strategic-merge-patch+json")
                );
                assert!(patch["x-kubernetes-group-version-kind"].is_object());
            }
        }
    }

    #[test]
    fn vm_patch_operation_has_dry_run_and_field_validation() {
        let patch = &doc()["paths"]["/apis/virtualization.deckhouse.io/v1alpha2/namespaces/{namespace}/virtualmachines/{name}"]
            ["patch"];
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(names.contains(&"dryRun") && names.contains(&"fieldValidation"));
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "VirtualMachine"
        );
    }

    #[test]
    fn operation_ids_follow_the_group_version_kind() {
        let get = &doc()["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]["get"];
        assert_eq!(get["operationId"], "readCoreV1NamespacedSecret");
    }

    #[test]
    fn int_or_string_loses_its_type_and_any_of() {
        let v2 = to_v2(
            &json!({"x-kubernetes-int-or-string": true, "type": "string",
                               "anyOf": [{"type": "integer"}, {"type": "string"}]}),
        );
        assert_eq!(v2, json!({"x-kubernetes-int-or-string": true}));
    }

    #[test]
    fn nullable_objects_become_untyped() {
        let v2 = to_v2(
            &json!({"type": "object", "nullable": true, "description": "d",
                               "properties": {"a": {"type": "string"}}, "required": ["a"]}),
        );
        assert_eq!(v2, json!({"description": "d"}));
    }

    #[test]
    fn preserve_unknown_fields_keeps_the_marker_only() {
        let v2 = to_v2(
            &json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                               "properties": {"a": {"type": "string"}}}),
        );
        assert_eq!(v2, json!({"x-kubernetes-preserve-unknown-fields": true}));
    }

    #[test]
    fn type_lists_keep_the_first_non_null_type() {
        assert_eq!(
            to_v2(&json!({"type": ["null", "integer"]})),
            json!({"type": "integer"})
        );
    }

    #[test]
    fn arrays_without_items_get_an_untyped_item() {
        assert_eq!(
            to_v2(&json!({"type": "array"})),
            json!({"type": "array", "items": {}})
        );
    }

    #[test]
    fn component_refs_point_into_definitions() {
        assert_eq!(
            to_v2(&json!({"allOf": [{"$ref": "#/components/schemas/X"}], "description": "d"})),
            json!({"$ref": "#/definitions/X", "description": "d"})
        );
    }

    #[test]
    fn protobuf_accept_is_recognised_in_both_spellings() {
        assert!(wants_protobuf(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        ));
        assert!(wants_protobuf(PROTOBUF_CONTENT_TYPE));
        assert!(!wants_protobuf("application/json"));
        assert!(!wants_protobuf(""));
    }
}
