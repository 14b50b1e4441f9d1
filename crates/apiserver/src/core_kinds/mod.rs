//! Built-in Kubernetes kinds the guide and the platform need (Namespace, Secret, Node, …).
//!
//! Unlike custom resources they have no structural schema here: objects are decoded through the
//! typed structs of `k8s-openapi` (which both prunes unknown fields and rejects wrong types, as the
//! real API server's typed decoding does), then defaulted, and printed by built-in printers.

mod defaults;
mod printers;
mod schema;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::{Model, Printer, Resource, ResourceVersion};

pub use printers::{cells, column_definitions};
pub use schema::{object_meta_schema, schema};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoreKind {
    Namespace,
    Secret,
    ConfigMap,
    Event,
    Node,
    Service,
    PersistentVolumeClaim,
    PersistentVolume,
    Pod,
    ResourceQuota,
    LimitRange,
    StorageClass,
    Lease,
}

impl CoreKind {
    pub const ALL: [CoreKind; 13] = [
        CoreKind::Namespace,
        CoreKind::Secret,
        CoreKind::ConfigMap,
        CoreKind::Event,
        CoreKind::Node,
        CoreKind::Service,
        CoreKind::PersistentVolumeClaim,
        CoreKind::PersistentVolume,
        CoreKind::Pod,
        CoreKind::ResourceQuota,
        CoreKind::LimitRange,
        CoreKind::StorageClass,
        CoreKind::Lease,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            CoreKind::Namespace => "Namespace",
            CoreKind::Secret => "Secret",
            CoreKind::ConfigMap => "ConfigMap",
            CoreKind::Event => "Event",
            CoreKind::Node => "Node",
            CoreKind::Service => "Service",
            CoreKind::PersistentVolumeClaim => "PersistentVolumeClaim",
            CoreKind::PersistentVolume => "PersistentVolume",
            CoreKind::Pod => "Pod",
            CoreKind::ResourceQuota => "ResourceQuota",
            CoreKind::LimitRange => "LimitRange",
            CoreKind::StorageClass => "StorageClass",
            CoreKind::Lease => "Lease",
        }
    }

    /// (group, version, plural, singular, short names, namespaced, status subresource)
    fn names(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
        bool,
        bool,
    ) {
        match self {
            CoreKind::Namespace => ("", "v1", "namespaces", &["ns"], false, true),
            CoreKind::Secret => ("", "v1", "secrets", &[], true, false),
            CoreKind::ConfigMap => ("", "v1", "configmaps", &["cm"], true, false),
            CoreKind::Event => ("", "v1", "events", &["ev"], true, false),
            CoreKind::Node => ("", "v1", "nodes", &["no"], false, true),
            CoreKind::Service => ("", "v1", "services", &["svc"], true, true),
            CoreKind::PersistentVolumeClaim => {
                ("", "v1", "persistentvolumeclaims", &["pvc"], true, true)
            }
            CoreKind::PersistentVolume => ("", "v1", "persistentvolumes", &["pv"], false, true),
            CoreKind::Pod => ("", "v1", "pods", &["po"], true, true),
            CoreKind::ResourceQuota => ("", "v1", "resourcequotas", &["quota"], true, true),
            CoreKind::LimitRange => ("", "v1", "limitranges", &["limits"], true, false),
            CoreKind::StorageClass => (
                "storage.k8s.io",
                "v1",
                "storageclasses",
                &["sc"],
                false,
                false,
            ),
            CoreKind::Lease => ("coordination.k8s.io", "v1", "leases", &[], true, false),
        }
    }

    pub fn group(self) -> &'static str {
        self.names().0
    }

    pub fn version(self) -> &'static str {
        self.names().1
    }

    /// Field selector labels the real API server supports for this kind (besides metadata.*).
    fn field_labels(self) -> Vec<&'static str> {
        match self {
            CoreKind::Event => vec![
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
            CoreKind::Pod => vec![
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ],
            CoreKind::Secret => vec!["type"],
            CoreKind::Node => vec!["spec.unschedulable"],
            CoreKind::Namespace => vec!["status.phase"],
            CoreKind::Service => vec!["spec.clusterIP", "spec.type"],
            CoreKind::PersistentVolumeClaim => vec!["spec.volumeName"],
            _ => vec![],
        }
    }

    pub fn resource(self) -> Resource {
        let (group, version, plural, short, namespaced, status) = self.names();
        let kind = self.kind();
        Resource {
            group: group.to_string(),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            kind: kind.to_string(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: match self {
                CoreKind::Service | CoreKind::Pod => vec!["all".to_string()],
                _ => vec![],
            },
            namespaced,
            versions: vec![ResourceVersion {
                name: version.to_string(),
                schema: None,
                printer: Printer::Builtin(self),
                deprecation_warning: None,
            }],
            storage_version: version.to_string(),
            status_subresource: status,
            model: Model::Core(self),
            field_labels: self.field_labels(),
            tracks_generation: matches!(self, CoreKind::Pod),
            converter: None,
        }
    }

    /// Decode through the typed struct: returns the normalized object and the paths of fields the
    /// typed struct does not know (for `fieldValidation=Strict|Warn`).
    pub fn normalize(self, obj: Value) -> Result<(Value, Vec<String>), String> {
        use k8s_openapi::api::coordination::v1 as coord;
        use k8s_openapi::api::core::v1 as core;
        use k8s_openapi::api::storage::v1 as storage;
        match self {
            CoreKind::Namespace => roundtrip::<core::Namespace>(obj),
            CoreKind::Secret => roundtrip::<core::Secret>(obj),
            CoreKind::ConfigMap => roundtrip::<core::ConfigMap>(obj),
            CoreKind::Event => roundtrip::<core::Event>(obj),
            CoreKind::Node => roundtrip::<core::Node>(obj),
            CoreKind::Service => roundtrip::<core::Service>(obj),
            CoreKind::PersistentVolumeClaim => roundtrip::<core::PersistentVolumeClaim>(obj),
            CoreKind::PersistentVolume => roundtrip::<core::PersistentVolume>(obj),
            CoreKind::Pod => roundtrip::<core::Pod>(obj),
            CoreKind::ResourceQuota => roundtrip::<core::ResourceQuota>(obj),
            CoreKind::LimitRange => roundtrip::<core::LimitRange>(obj),
            CoreKind::StorageClass => roundtrip::<storage::StorageClass>(obj),
            CoreKind::Lease => roundtrip::<coord::Lease>(obj),
        }
    }

    /// Server-side defaults of the kind (what the real API server's defaulters set).
    pub fn apply_defaults(self, obj: &mut Value) {
        defaults::apply(self, obj)
    }

    /// Fields the API server owns on create/update beyond generic metadata (e.g. Secret's
    /// `stringData` folding). Returns a user-facing error for invalid content.
    pub fn prepare(self, obj: &mut Value) -> Result<(), String> {
        defaults::prepare(self, obj)
    }
}

fn roundtrip<T: DeserializeOwned + Serialize>(obj: Value) -> Result<(Value, Vec<String>), String> {
    let typed: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    let out = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    unknown_paths(&obj, &out, "", &mut unknown);
    Ok((out, unknown))
}

/// Paths present (and non-null) in `input` but absent from `output`.
fn unknown_paths(input: &Value, output: &Value, prefix: &str, found: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match o.get(k) {
                    Some(ov) => unknown_paths(v, ov, &path, found),
                    None if v.is_null() => {}
                    None => found.push(path),
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                unknown_paths(iv, ov, &format!("{prefix}[{n}]"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_decoding_reports_unknown_fields() {
        let obj = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"Opaque","bogus":1,
                         "data":{"a":"YQ=="}});
        let (out, unknown) = CoreKind::Secret.normalize(obj).unwrap();
        assert_eq!(unknown, vec!["bogus".to_string()]);
        assert_eq!(out["data"]["a"], "YQ==");
    }

    #[test]
    fn typed_decoding_rejects_wrong_types() {
        let obj =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":1}});
        assert!(CoreKind::ConfigMap.normalize(obj).is_err());
    }
}
