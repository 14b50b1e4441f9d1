//! OpenAPI v3 schemas of the core kinds (for `kubectl explain`), generated from the typed structs.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::CoreKind;

fn inline_schema<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::openapi3();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Some(map) = value.as_object_mut() {
        map.remove("$schema");
        map.remove("title");
    }
    value
}

pub fn schema(kind: CoreKind) -> Value {
    use k8s_openapi::api::coordination::v1 as coord;
    use k8s_openapi::api::core::v1 as core;
    use k8s_openapi::api::storage::v1 as storage;
    match kind {
        CoreKind::Namespace => inline_schema::<core::Namespace>(),
        CoreKind::Secret => inline_schema::<core::Secret>(),
        CoreKind::ConfigMap => inline_schema::<core::ConfigMap>(),
        CoreKind::Event => inline_schema::<core::Event>(),
        CoreKind::Node => inline_schema::<core::Node>(),
        CoreKind::Service => inline_schema::<core::Service>(),
        CoreKind::PersistentVolumeClaim => inline_schema::<core::PersistentVolumeClaim>(),
        CoreKind::PersistentVolume => inline_schema::<core::PersistentVolume>(),
        CoreKind::Pod => inline_schema::<core::Pod>(),
        CoreKind::ResourceQuota => inline_schema::<core::ResourceQuota>(),
        CoreKind::LimitRange => inline_schema::<core::LimitRange>(),
        CoreKind::StorageClass => inline_schema::<storage::StorageClass>(),
        CoreKind::Lease => inline_schema::<coord::Lease>(),
    }
}

pub fn object_meta_schema() -> Value {
    inline_schema::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>()
}
