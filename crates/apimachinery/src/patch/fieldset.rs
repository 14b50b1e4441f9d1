//! Sets of field paths, the model behind `metadata.managedFields[].fieldsV1`.
//!
//! Only object fields are tracked (`f:<name>`); lists are owned as a whole, so a `fieldsV1`
//! written by a real API server with per-item keys (`k:{…}`, `v:…`, `i:…`) is read as ownership of
//! the whole list.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A tree of field names; a node is "owned" when the manager set that field itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    own: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// Read a `fieldsV1` object.
    pub fn from_fields_v1(v: &Value) -> Self {
        let mut set = Self::parse_node(v);
        set.own = false; // the root is never a field of its own
        set.prune();
        set
    }

    fn parse_node(v: &Value) -> Self {
        let mut node = Self::default();
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    if k == "." {
                        node.own = true;
                    } else if let Some(name) = k.strip_prefix("f:") {
                        node.children
                            .insert(name.to_string(), Self::parse_node(child));
                    } else {
                        // List members (`k:`, `v:`, `i:`): this implementation owns lists whole.
                        node.own = true;
                    }
                }
            }
            _ => node.own = true,
        }
        node
    }

    /// Write the set as a `fieldsV1` object (`{"f:spec":{"f:cpu":{"f:cores":{}}}}`).
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.own && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (name, child) in &self.children {
            m.insert(format!("f:{name}"), child.to_fields_v1());
        }
        Value::Object(m)
    }

    /// The fields a value sets: every scalar, list and empty object, reached through objects.
    /// `track` decides, for each path, whether it is recorded at all (and descended into).
    pub fn of_value(v: &Value, track: &dyn Fn(&[String]) -> bool) -> Self {
        let mut set = Self::default();
        let mut path = Vec::new();
        if let Value::Object(m) = v {
            set.add_object(m, &mut path, track);
        }
        set
    }

    fn add_object(
        &mut self,
        m: &Map<String, Value>,
        path: &mut Vec<String>,
        track: &dyn Fn(&[String]) -> bool,
    ) {
        for (k, v) in m {
            if v.is_null() {
                continue;
            }
            path.push(k.clone());
            if track(path) {
                match v {
                    Value::Object(child) if !child.is_empty() => {
                        let mut sub = Self::default();
                        sub.add_object(child, path, track);
                        if !sub.is_empty() {
                            self.children.insert(k.clone(), sub);
                        }
                    }
                    _ => {
                        self.children.insert(
                            k.clone(),
                            Self {
                                own: true,
                                children: BTreeMap::new(),
                            },
                        );
                    }
                }
            }
            path.pop();
        }
    }

    /// True when no field is owned.
    pub fn is_empty(&self) -> bool {
        !self.own && self.children.values().all(Self::is_empty)
    }

    fn node(&self, path: &[String]) -> Option<&Self> {
        path.iter().try_fold(self, |n, k| n.children.get(k))
    }

    /// Mark the field at `path` as owned.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for k in path {
            node = node.children.entry(k.clone()).or_default();
        }
        node.own = true;
    }

    /// Whether the field at `path` itself is owned.
    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| n.own)
    }

    /// Whether the field at `path` or one of its parents is owned (owning a parent as a whole
    /// covers everything below it).
    pub fn covers(&self, path: &[String]) -> bool {
        (1..=path.len()).any(|n| self.contains(&path[..n]))
    }

    /// Whether anything at or below `path` is owned.
    pub fn touches(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    /// Forget the field at `path` and everything below it.
    pub fn remove(&mut self, path: &[String]) {
        let Some((last, parents)) = path.split_last() else {
            *self = Self::default();
            return;
        };
        let mut node = self;
        for k in parents {
            match node.children.get_mut(k) {
                Some(n) => node = n,
                None => return,
            }
        }
        node.children.remove(last);
    }

    /// Drop ownership of the parents of `path` (they are no longer owned as a whole).
    pub fn clear_ancestors(&mut self, path: &[String]) {
        let mut node = self;
        for k in path.iter().take(path.len().saturating_sub(1)) {
            match node.children.get_mut(k) {
                Some(n) => {
                    n.own = false;
                    node = n;
                }
                None => return,
            }
        }
    }

    /// The owned fields, as paths.
    pub fn leaves(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    /// The owned fields strictly below `path`.
    pub fn owned_below(&self, path: &[String]) -> Vec<Vec<String>> {
        let Some(node) = self.node(path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut prefix = path.to_vec();
        for (k, child) in &node.children {
            prefix.push(k.clone());
            child.collect(&mut prefix, &mut out);
            prefix.pop();
        }
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.own {
            out.push(prefix.clone());
        }
        for (k, child) in &self.children {
            prefix.push(k.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Add every field of `other` to this set.
    pub fn union(&mut self, other: &Self) {
        self.own |= other.own;
        for (k, child) in &other.children {
            self.children.entry(k.clone()).or_default().union(child);
        }
    }

    /// Remove nodes that own nothing.
    pub fn prune(&mut self) {
        for child in self.children.values_mut() {
            child.prune();
        }
        self.children.retain(|_, c| !c.is_empty());
    }
}

/// A path as Kubernetes prints it in conflicts: `.spec.cpu.cores`.
pub(crate) fn path_string(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:cpu": {"f:cores": {}}}});
        let set = FieldSet::from_fields_v1(&v);
        assert!(set.contains(&p("spec.cpu.cores")));
        assert!(set.contains(&p("metadata.labels")));
        assert!(!set.contains(&p("spec.cpu")));
        assert_eq!(set.to_fields_v1(), v);
    }

    #[test]
    fn list_members_mean_the_list_is_owned() {
        let v =
            json!({"f:spec": {"f:ports": {".": {}, "k:{\"port\":80}": {".": {}, "f:port": {}}}}});
        let set = FieldSet::from_fields_v1(&v);
        assert!(set.contains(&p("spec.ports")));
        assert_eq!(set.to_fields_v1(), json!({"f:spec": {"f:ports": {}}}));
    }

    #[test]
    fn value_leaves_skip_nulls_and_untracked_paths() {
        let v = json!({"apiVersion": "v1", "spec": {"a": 1, "b": null, "c": {}, "d": [1]}, "status": {"x": 1}});
        let set = FieldSet::of_value(&v, &|path| path[0] != "apiVersion" && path[0] != "status");
        assert_eq!(set.leaves(), vec![p("spec.a"), p("spec.c"), p("spec.d")]);
    }

    #[test]
    fn covers_checks_parents_and_touches_checks_children() {
        let mut set = FieldSet::default();
        set.insert(&p("metadata.labels"));
        set.insert(&p("spec.cpu.cores"));
        assert!(set.covers(&p("metadata.labels.app")));
        assert!(!set.covers(&p("spec.cpu")));
        assert!(set.touches(&p("spec.cpu")));
        assert_eq!(set.owned_below(&p("spec")), vec![p("spec.cpu.cores")]);
        set.remove(&p("spec.cpu"));
        set.prune();
        assert_eq!(set.leaves(), vec![p("metadata.labels")]);
        set.clear_ancestors(&p("metadata.labels.app"));
        assert!(set.is_empty());
    }

    #[test]
    fn union_combines_owned_fields() {
        let mut a = FieldSet::default();
        a.insert(&p("spec.a"));
        let mut b = FieldSet::default();
        b.insert(&p("spec.b"));
        b.insert(&p("metadata.labels"));
        a.union(&b);
        assert_eq!(
            a.leaves(),
            vec![p("metadata.labels"), p("spec.a"), p("spec.b")]
        );
    }

    #[test]
    fn paths_print_with_leading_dots() {
        assert_eq!(path_string(&p("spec.cpu.cores")), ".spec.cpu.cores");
    }
}
