//! Strategic-merge metadata of the core kinds' lists, for their v2 definitions.
//!
//! kubectl 1.20's client-side apply builds the strategic merge patch of a core kind from the v2
//! definition whenever one exists, reading `x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key` from list fields. Without them it would send whole lists
//! (`spec.ports: [...]`) that the server then merges by key, so a removed port would survive.
//! The values are those of the Go struct tags of the Kubernetes API types.

use serde_json::{Map, Value};

/// (definition kind, dotted path with `[]` for list items, strategy, merge key).
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const ENTRIES: &[Entry] = &[
    ("ObjectMeta", "finalizers", "merge", None),
    ("ObjectMeta", "ownerReferences", "merge", Some("uid")),
    ("Service", "spec.ports", "merge", Some("port")),
    ("Service", "status.conditions", "merge", Some("type")),
    ("Namespace", "status.conditions", "merge", Some("type")),
    ("Node", "spec.podCIDRs", "merge", None),
    ("Node", "status.conditions", "merge", Some("type")),
    ("Node", "status.addresses", "merge", Some("type")),
    (
        "PersistentVolumeClaim",
        "status.conditions",
        "merge",
        Some("type"),
    ),
    ("Pod", "spec.volumes", "merge,retainKeys", Some("name")),
    ("Pod", "spec.imagePullSecrets", "merge", Some("name")),
    ("Pod", "spec.hostAliases", "merge", Some("ip")),
    (
        "Pod",
        "spec.resourceClaims",
        "merge,retainKeys",
        Some("name"),
    ),
    ("Pod", "spec.schedulingGates", "merge", Some("name")),
    ("Pod", "status.conditions", "merge", Some("type")),
    ("Pod", "status.podIPs", "merge", Some("ip")),
    ("Pod", "status.hostIPs", "merge", Some("ip")),
];

/// Container lists of a Pod and the keyed lists inside each container.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
const CONTAINER_FIELDS: [(&str, &str); 4] = [
    ("ports", "containerPort"),
    ("env", "name"),
    ("volumeMounts", "mountPath"),
    ("volumeDevices", "devicePath"),
];

/// Every (path, strategy, merge key) that applies to the definition of `kind`.
pub fn entries(kind: &str) -> Vec<(String, &'static str, Option<&'static str>)> {
    let mut out: Vec<_> = ENTRIES
        .iter()
        .filter(|(k, ..)| *k == kind)
        .map(|(_, path, strategy, key)| (path.to_string(), *strategy, *key))
        .collect();
    if kind == "Pod" {
        for list in CONTAINER_LISTS {
            out.push((format!("spec.{list}"), "merge", Some("name")));
            for (field, key) in CONTAINER_FIELDS {
                out.push((format!("spec.{list}[].{field}"), "merge", Some(key)));
            }
        }
    }
    out
}

/// The schema node at `path` (`a.b[].c`), if the schema has it.
fn node_mut<'a>(schema: &'a mut Value, path: &str) -> Option<&'a mut Map<String, Value>> {
    let mut node = schema;
    for segment in path.split('.') {
        let (name, items) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        node = node.get_mut("properties")?.get_mut(name)?;
        if items {
            node = node.get_mut("items")?;
        }
    }
    node.as_object_mut()
}

/// Add the patch extensions of `kind` to its definition; returns the paths that were not found.
pub fn annotate(kind: &str, schema: &mut Value) -> Vec<String> {
    let mut missing = Vec::new();
    for (path, strategy, key) in entries(kind) {
        let Some(node) = node_mut(schema, &path) else {
            missing.push(path);
            continue;
        };
        node.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        if let Some(key) = key {
            node.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core_kinds::CoreKind;
    use serde_json::json;

    #[test]
    fn service_ports_merge_by_port() {
        let mut schema = json!({"properties": {"spec": {"properties": {"ports": {"type": "array"}}},
                                               "status": {"properties": {"conditions": {}}}}});
        assert!(annotate("Service", &mut schema).is_empty());
        let ports = &schema["properties"]["spec"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "port");
    }

    #[test]
    fn missing_paths_are_reported() {
        let mut schema = json!({"properties": {}});
        assert_eq!(
            annotate("Service", &mut schema),
            vec!["spec.ports", "status.conditions"]
        );
    }

    #[test]
    fn container_env_is_reached_through_list_items() {
        assert!(entries("Pod").contains(&(
            "spec.initContainers[].env".into(),
            "merge",
            Some("name")
        )));
    }

    #[test]
    fn every_entry_exists_in_the_core_schemas() {
        for kind in CoreKind::ALL {
            let mut schema = crate::core_kinds::schema(kind);
            assert_eq!(
                annotate(kind.kind(), &mut schema),
                Vec::<String>::new(),
                "{kind:?}"
            );
        }
        let mut meta = crate::core_kinds::object_meta_schema();
        assert!(annotate("ObjectMeta", &mut meta).is_empty());
    }
}
