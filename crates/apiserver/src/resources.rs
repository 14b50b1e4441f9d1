//! The resource registry: every kind the server serves, with its names, scope, versions, schema and
//! printer. Adding a kind is one entry here (custom kinds come from `dvp_api::registry`, core kinds
//! from [`crate::core_kinds`]).

use std::collections::HashMap;
use std::sync::Arc;

use dvp_apimachinery::table::PrinterColumn;
use serde_json::Value;

use crate::core_kinds::CoreKind;

/// One served version of a resource.
#[derive(Clone, Debug)]
pub struct ResourceVersion {
    pub name: String,
    /// Structural schema of the whole object (custom kinds); core kinds are checked by typed decoding.
    pub schema: Option<Value>,
    pub printer: Printer,
    pub deprecation_warning: Option<String>,
}

/// How a resource renders as a Table.
#[derive(Clone, Debug)]
pub enum Printer {
    /// CRD-style printer columns evaluated with JSONPath.
    Columns(Vec<PrinterColumn>),
    /// A built-in printer of a core kind.
    Builtin(CoreKind),
}

/// What the server does with objects of a resource beyond generic handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// A custom resource from the DVP resource model (admission by `dvp_api::admission`).
    Custom,
    /// A built-in core kind, decoded through its typed Kubernetes struct.
    Core(CoreKind),
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub group: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    /// Served versions, highest priority first.
    pub versions: Vec<ResourceVersion>,
    pub storage_version: String,
    pub status_subresource: bool,
    pub model: Model,
    /// Field selector labels supported beyond `metadata.name` and `metadata.namespace`.
    pub field_labels: Vec<&'static str>,
    /// Whether `metadata.generation` is maintained (bumped on spec changes).
    pub tracks_generation: bool,
    /// Converts a stored object to another served version (custom kinds with several versions).
    pub converter: Option<Converter>,
}

/// `(object, target version) -> object in that version`.
pub type ConvertFn = dyn Fn(Value, &str) -> Result<Value, String> + Send + Sync;

/// A version converter.
#[derive(Clone)]
pub struct Converter(pub Arc<ConvertFn>);

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Converter")
    }
}

impl Resource {
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `group/version` as written in `apiVersion` (`v1` for the core group).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    pub fn storage_api_version(&self) -> String {
        self.api_version(&self.storage_version)
    }

    pub fn version(&self, name: &str) -> Option<&ResourceVersion> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// `virtualmachines.virtualization.deckhouse.io` (or just `secrets` for core).
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The storage key prefix of all objects of this resource.
    pub fn key_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// The storage key prefix of this resource within one namespace (or all objects for `None`).
    pub fn namespace_prefix(&self, namespace: Option<&str>) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/", self.key_prefix()),
            _ => self.key_prefix(),
        }
    }

    /// The storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Convert an object (in any served version) to `version`.
    pub fn convert(&self, obj: Value, version: &str) -> Result<Value, String> {
        let current = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if current == self.api_version(version) {
            return Ok(obj);
        }
        match &self.converter {
            Some(c) => (c.0)(obj, version),
            None => {
                let mut obj = obj;
                obj["apiVersion"] = Value::String(self.api_version(version));
                Ok(obj)
            }
        }
    }

    pub fn supports_field(&self, field: &str) -> bool {
        matches!(field, "metadata.name" | "metadata.namespace")
            || self.field_labels.contains(&field)
    }
}

/// All resources, indexed for routing.
#[derive(Debug, Default)]
pub struct Registry {
    resources: Vec<Arc<Resource>>,
    by_group_plural: HashMap<(String, String), Arc<Resource>>,
    by_kind: HashMap<String, Arc<Resource>>,
}

impl Registry {
    pub fn new(resources: Vec<Resource>) -> Self {
        let mut reg = Registry::default();
        for r in resources {
            let r = Arc::new(r);
            reg.by_group_plural
                .insert((r.group.clone(), r.plural.clone()), r.clone());
            reg.by_kind.insert(r.kind.clone(), r.clone());
            reg.resources.push(r);
        }
        reg
    }

    /// The resource served at `group/version/plural`, if that version is served.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<Resource>> {
        self.by_group_plural
            .get(&(group.to_string(), plural.to_string()))
            .filter(|r| r.version(version).is_some())
    }

    pub fn by_group_plural(&self, group: &str, plural: &str) -> Option<&Arc<Resource>> {
        self.by_group_plural
            .get(&(group.to_string(), plural.to_string()))
    }

    /// Kinds are unique across the groups this server serves.
    pub fn by_kind(&self, kind: &str) -> Option<&Arc<Resource>> {
        self.by_kind.get(kind)
    }

    pub fn all(&self) -> &[Arc<Resource>] {
        &self.resources
    }

    /// Groups in discovery order (core first), each with its versions in priority order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            let entry = match groups.iter_mut().find(|(g, _)| *g == r.group) {
                Some(e) => e,
                None => {
                    groups.push((r.group.clone(), Vec::new()));
                    groups.last_mut().expect("just pushed")
                }
            };
            for v in &r.versions {
                if !entry.1.contains(&v.name) {
                    entry.1.push(v.name.clone());
                }
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        groups
    }

    /// Resources served in one group version, in registry order.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Resource>> {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version(version).is_some())
    }
}

/// Kubernetes' version ordering: GA > beta > alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    match num.parse::<u32>() {
        Ok(n) => (level, major, n),
        Err(_) => (0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha3_outranks_alpha2_and_ga_outranks_beta() {
        assert!(version_priority("v1alpha3") > version_priority("v1alpha2"));
        assert!(version_priority("v1") > version_priority("v2beta1"));
        assert!(version_priority("v2beta1") > version_priority("v1beta1"));
    }
}
