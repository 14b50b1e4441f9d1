//! OpenAPI v3: the root index and one document per group version, built once from the registry.
//!
//! kubectl needs two things from it (kubectl-surface §7): PATCH operations tagged with
//! `x-kubernetes-group-version-kind` and a `fieldValidation` parameter (for apply/create/edit with
//! validation on), and component schemas tagged with their GVK (for `kubectl explain`). Strategic
//! merge patch is never advertised, so kubectl builds SMP for core kinds from its compiled-in types.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value, json};

use crate::core_kinds;
use crate::resources::{Model, Registry, Resource};

pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The prebuilt OpenAPI v3 documents.
pub struct OpenApi {
    root: Value,
    /// "apis/<group>/<version>" or "api/v1" → serialized document.
    docs: HashMap<String, Vec<u8>>,
}

impl OpenApi {
    pub fn build(reg: &Registry) -> OpenApi {
        let mut docs = HashMap::new();
        let mut paths = Map::new();
        for (group, versions) in reg.groups() {
            for version in versions {
                let key = if group.is_empty() {
                    format!("api/{version}")
                } else {
                    format!("apis/{group}/{version}")
                };
                let doc = serde_json::to_vec(&gv_document(reg, &group, &version))
                    .expect("JSON serializes");
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                doc.hash(&mut hasher);
                let url = format!("/openapi/v3/{key}?hash={:016X}", hasher.finish());
                paths.insert(key.clone(), json!({"serverRelativeURL": url}));
                docs.insert(key, doc);
            }
        }
        OpenApi {
            root: json!({"paths": paths}),
            docs,
        }
    }

    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The document at `/openapi/v3/<key>`.
    pub fn document(&self, key: &str) -> Option<&[u8]> {
        self.docs.get(key.trim_matches('/')).map(Vec::as_slice)
    }
}

pub(super) fn schema_name(r: &Resource, version: &str) -> String {
    match r.model {
        Model::Core(_) => {
            let group = match r.group.as_str() {
                "" => "core",
                g => g.split('.').next().unwrap_or(g),
            };
            format!("io.k8s.api.{group}.{version}.{}", r.kind)
        }
        Model::Custom => {
            let reversed: Vec<&str> = r.group.split('.').rev().collect();
            format!("{}.{version}.{}", reversed.join("."), r.kind)
        }
    }
}

pub(super) fn gvk(r: &Resource, version: &str) -> Value {
    json!({"group": r.group, "version": version, "kind": r.kind})
}

fn param(name: &str, location: &str, description: &str) -> Value {
    json!({"name": name, "in": location, "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": format!("{name} of the object"), "schema": {"type": "string"}})
}

fn write_params() -> Vec<Value> {
    vec![
        param(
            "dryRun",
            "query",
            "When present, indicates that modifications should not be persisted.",
        ),
        param(
            "fieldManager",
            "query",
            "A name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "query",
            "How the server treats unknown or duplicate fields in the body: Ignore, Warn or Strict.",
        ),
    ]
}

fn operation(
    r: &Resource,
    version: &str,
    action: &str,
    id: &str,
    extra_params: Vec<Value>,
    body: Option<Value>,
) -> Value {
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(r, version))});
    let mut op = json!({
        "operationId": id,
        "parameters": extra_params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(r, version),
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

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
    let scope_params: Vec<Value> = if r.namespaced {
        vec![path_param("namespace")]
    } else {
        vec![]
    };
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(r, version))});
    let object_body =
        json!({"content": {"application/json": {"schema": reference}}, "required": true});
    let patch_body = json!({"content": {
        "application/json-patch+json": {"schema": {"type": "object"}},
        "application/merge-patch+json": {"schema": {"type": "object"}},
        "application/apply-patch+yaml": {"schema": {"type": "object"}},
    }, "required": true});
    let kind = &r.kind;
    let mut patch_params = write_params();
    patch_params.push(param(
        "force",
        "query",
        "Force is going to \"force\" Apply requests.",
    ));

    let mut item_ops = Map::new();
    item_ops.insert(
        "get".into(),
        operation(r, version, "get", &format!("read{kind}"), vec![], None),
    );
    item_ops.insert(
        "put".into(),
        operation(
            r,
            version,
            "put",
            &format!("replace{kind}"),
            write_params(),
            Some(object_body.clone()),
        ),
    );
    item_ops.insert(
        "patch".into(),
        operation(
            r,
            version,
            "patch",
            &format!("patch{kind}"),
            patch_params.clone(),
            Some(patch_body.clone()),
        ),
    );
    item_ops.insert(
        "delete".into(),
        operation(r, version, "delete", &format!("delete{kind}"), vec![], None),
    );
    let mut with_name = scope_params.clone();
    with_name.push(path_param("name"));
    item_ops.insert("parameters".into(), Value::Array(with_name.clone()));
    paths.insert(item.clone(), Value::Object(item_ops));

    let mut coll_ops = Map::new();
    coll_ops.insert(
        "get".into(),
        operation(r, version, "list", &format!("list{kind}"), vec![], None),
    );
    coll_ops.insert(
        "post".into(),
        operation(
            r,
            version,
            "post",
            &format!("create{kind}"),
            write_params(),
            Some(object_body.clone()),
        ),
    );
    coll_ops.insert(
        "delete".into(),
        operation(
            r,
            version,
            "deletecollection",
            &format!("deleteCollection{kind}"),
            vec![],
            None,
        ),
    );
    coll_ops.insert("parameters".into(), Value::Array(scope_params));
    paths.insert(collection, Value::Object(coll_ops));

    if r.status_subresource {
        let mut status_ops = Map::new();
        status_ops.insert(
            "get".into(),
            operation(
                r,
                version,
                "get",
                &format!("read{kind}Status"),
                vec![],
                None,
            ),
        );
        status_ops.insert(
            "put".into(),
            operation(
                r,
                version,
                "put",
                &format!("replace{kind}Status"),
                write_params(),
                Some(object_body),
            ),
        );
        status_ops.insert(
            "patch".into(),
            operation(
                r,
                version,
                "patch",
                &format!("patch{kind}Status"),
                patch_params,
                Some(patch_body),
            ),
        );
        status_ops.insert("parameters".into(), Value::Array(with_name));
        paths.insert(format!("{item}/status"), Value::Object(status_ops));
    }
}

/// The component schema of one kind: its object schema with `metadata` pointing at ObjectMeta.
pub(super) fn component_schema(r: &Resource, version: &str) -> Value {
    let mut schema = match r.model {
        Model::Core(kind) => core_kinds::schema(kind),
        Model::Custom => r
            .version(version)
            .and_then(|v| v.schema.clone())
            .unwrap_or_else(|| json!({"type": "object"})),
    };
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "metadata".into(),
            json!({
                "description": "Standard object's metadata.",
                "allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}],
                "default": {},
            }),
        );
    }
    schema["x-kubernetes-group-version-kind"] = json!([gvk(r, version)]);
    schema
}

fn gv_document(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = BTreeMap::new();
    for r in reg.in_group_version(group, version) {
        resource_paths(r, version, &mut paths);
        schemas.insert(schema_name(r, version), component_schema(r, version));
    }
    schemas.insert(OBJECT_META.to_string(), core_kinds::object_meta_schema());
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
