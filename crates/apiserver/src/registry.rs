//! The default registry: the core kinds, then every kind of the DVP resource model.

use std::sync::Arc;

use dvp_api::registry::KindDef;

use crate::core_kinds::CoreKind;
use crate::resources::{Converter, Model, Printer, Registry, Resource, ResourceVersion};

fn custom_resource(def: &'static KindDef) -> Resource {
    let storage = def.storage_version();
    let versions = def
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| ResourceVersion {
            name: v.name.to_string(),
            schema: Some(v.schema.clone()),
            printer: Printer::Columns(v.printer_columns.clone()),
            deprecation_warning: v.deprecation_warning.map(String::from),
        })
        .collect::<Vec<_>>();
    let converter = (versions.len() > 1).then(|| {
        Converter(Arc::new(move |obj, to: &str| {
            dvp_api::registry::convert(def, obj, to)
        }))
    });
    Resource {
        group: def.group.to_string(),
        plural: def.plural.to_string(),
        singular: def.singular.to_string(),
        kind: def.kind.to_string(),
        short_names: def.short_names.iter().map(|s| s.to_string()).collect(),
        categories: def.categories.iter().map(|s| s.to_string()).collect(),
        namespaced: def.namespaced,
        storage_version: storage.name.to_string(),
        status_subresource: storage.status_subresource,
        versions,
        model: Model::Custom,
        field_labels: vec![],
        tracks_generation: true,
        converter,
    }
}

pub fn default_registry() -> Registry {
    let mut resources: Vec<Resource> = CoreKind::ALL.iter().map(|k| k.resource()).collect();
    resources.extend(dvp_api::registry::kinds().iter().map(custom_resource));
    Registry::new(resources)
}
