//! Server-side apply and `metadata.managedFields` bookkeeping, approximated honestly:
//!
//! * field ownership is tracked per object field; lists are atomic (owned and replaced whole);
//! * an apply merges the applied configuration into the live object (objects recursively,
//!   everything else replaced), reports conflicts with other managers that own a field whose
//!   value it changes (unless forced, which takes the fields over), and removes fields the
//!   manager applied before but no longer applies, unless another manager also owns them;
//! * ordinary writes ([`record_update`]) give the writer ownership of every field they changed.

use std::fmt;

use serde_json::{Map, Value, json};

use super::fieldset::{FieldSet, path_string};
use super::json::json_equal;

const APPLY: &str = "Apply";
const UPDATE: &str = "Update";

/// `metadata` fields the server owns; they never appear in field sets.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

fn tracked(path: &[String], include_status: bool) -> bool {
    match path {
        [top] if top == "apiVersion" || top == "kind" => false,
        [meta, field] if meta == "metadata" => !SERVER_METADATA.contains(&field.as_str()),
        [top, ..] if top == "status" => include_status,
        _ => true,
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Entry {
    /// Whether this is the main-resource entry of `manager` for `operation` (and, for updates,
    /// `api_version`): Apply entries are one per manager, Update entries one per manager and version.
    fn is(&self, manager: &str, operation: &str, api_version: &str) -> bool {
        self.subresource.is_none() && self.same_identity(manager, operation, api_version)
    }

    fn same_identity(&self, manager: &str, operation: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && (operation == APPLY || self.api_version == api_version)
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        Value::Object(m)
    }
}

fn read_entries(obj: Option<&Value>) -> Vec<Entry> {
    let Some(list) = obj
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
    let parsed = list.iter().filter_map(|e| {
        Some(Entry {
            manager: text(e, "manager").unwrap_or_default(),
            operation: text(e, "operation")?,
            api_version: text(e, "apiVersion").unwrap_or_default(),
            time: text(e, "time"),
            subresource: text(e, "subresource").filter(|s| !s.is_empty()),
            fields: FieldSet::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    });
    // Entries with the same identity are merged into the first one (latest time wins).
    let mut entries: Vec<Entry> = Vec::new();
    for entry in parsed {
        let same = entries.iter_mut().find(|e| {
            e.subresource == entry.subresource
                && e.same_identity(&entry.manager, &entry.operation, &entry.api_version)
        });
        match same {
            Some(existing) => {
                existing.fields.union(&entry.fields);
                if entry.time > existing.time {
                    existing.time = entry.time;
                    existing.api_version = entry.api_version;
                }
            }
            None => entries.push(entry),
        }
    }
    entries
}

fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    if let Value::Object(meta) = meta {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

fn lookup<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter()
        .try_fold(v, |cur, k| cur.as_object().and_then(|m| m.get(k)))
        .filter(|v| !v.is_null())
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
        meta.remove("managedFields");
    }
    v
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, child| !child.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

/// Merge the applied configuration: objects recursively, every other value replaced.
fn merge_applied(target: &mut Value, applied: &Value) {
    let (Value::Object(t), Value::Object(a)) = (target, applied) else {
        return;
    };
    for (k, v) in a {
        match (t.get_mut(k), v) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => merge_applied(existing, v),
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Remove the field at `path`, then any parent objects left empty that nobody owns.
fn remove_field(obj: &mut Value, path: &[String], owned: &dyn Fn(&[String]) -> bool) {
    let mut len = path.len();
    while len > 0 {
        let (last, parents) = path[..len].split_last().expect("len > 0");
        let parent = parents.iter().try_fold(&mut *obj, |cur, k| {
            cur.as_object_mut().and_then(|m| m.get_mut(k))
        });
        let Some(Value::Object(parent)) = parent else {
            return;
        };
        let removable = len == path.len()
            || parent
                .get(last)
                .is_some_and(|v| v.as_object().is_some_and(Map::is_empty) && !owned(&path[..len]));
        if !removable {
            return;
        }
        parent.remove(last);
        len -= 1;
    }
}

/// One field another manager owns and the apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyConflict {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    /// `.spec.cpu.cores`
    pub path: String,
}

impl ApplyConflict {
    /// The manager as Kubernetes names it in messages: `"kubectl"`, or
    /// `"kubectl-client-side-apply" using v1` for a manager that wrote with an update.
    pub fn manager_display(&self) -> String {
        if self.operation == UPDATE {
            format!("\"{}\" using {}", self.manager, self.api_version)
        } else {
            format!("\"{}\"", self.manager)
        }
    }
}

/// A refused apply: the conflicting fields and their owners. `Display` is Kubernetes' message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyConflicts {
    pub conflicts: Vec<ApplyConflict>,
}

impl fmt::Display for ApplyConflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.conflicts.as_slice() {
            return write!(
                f,
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager_display(),
                only.path
            );
        }
        let mut managers: Vec<(&str, &str, &str)> = self
            .conflicts
            .iter()
            .map(|c| {
                (
                    c.manager.as_str(),
                    c.operation.as_str(),
                    c.api_version.as_str(),
                )
            })
            .collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for (manager, operation, api_version) in managers {
            let group: Vec<&ApplyConflict> = self
                .conflicts
                .iter()
                .filter(|c| {
                    c.manager == manager && c.operation == operation && c.api_version == api_version
                })
                .collect();
            lines.push(format!("conflicts with {}:", group[0].manager_display()));
            lines.extend(group.iter().map(|c| format!("- {}", c.path)));
        }
        write!(
            f,
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }
}

impl std::error::Error for ApplyConflicts {}

impl ApplyConflicts {
    /// The 409 `Status` body the API server answers with (causes of type `FieldManagerConflict`).
    pub fn to_status(&self) -> Value {
        let causes: Vec<Value> = self
            .conflicts
            .iter()
            .map(|c| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {}", c.manager_display()),
                    "field": c.path,
                })
            })
            .collect();
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": "Conflict",
            "details": {"causes": causes},
            "code": 409,
        })
    }
}

/// Server-side apply of `applied` (the request body, already decoded) by `manager` onto `live`
/// (`None` when creating). Returns the new object with `metadata.managedFields` updated, or the
/// conflicts when `force` is false and another manager owns a field whose value would change.
pub fn apply_patch(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyConflicts> {
    let mut obj = match live {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    };
    let mut applied = match applied {
        Value::Object(_) => applied.clone(),
        _ => json!({}),
    };
    strip_nulls(&mut applied);
    if let Some(Value::Object(meta)) = applied.get_mut("metadata") {
        meta.remove("managedFields");
    }
    let mut entries = read_entries(live);
    let new_fields = FieldSet::of_value(&applied, &|p| tracked(p, true));
    let is_mine = |e: &Entry| e.is(manager, APPLY, api_version);

    let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
    for leaf in new_fields.leaves() {
        let (Some(new_value), Some(old_value)) = (lookup(&applied, &leaf), lookup(&obj, &leaf))
        else {
            continue;
        };
        // An applied empty object merges into the live one and changes nothing.
        if (new_value.is_object() && old_value.is_object()) || json_equal(new_value, old_value) {
            continue;
        }
        for (i, entry) in entries.iter().enumerate() {
            if is_mine(entry) {
                continue;
            }
            if entry.fields.covers(&leaf) {
                conflicts.push((i, leaf.clone()));
            }
            for below in entry.fields.owned_below(&leaf) {
                if lookup(&obj, &below).is_some() {
                    conflicts.push((i, below));
                }
            }
        }
    }
    conflicts.sort();
    conflicts.dedup();
    if !conflicts.is_empty() {
        if !force {
            return Err(ApplyConflicts {
                conflicts: conflicts
                    .iter()
                    .map(|(i, path)| ApplyConflict {
                        manager: entries[*i].manager.clone(),
                        operation: entries[*i].operation.clone(),
                        api_version: entries[*i].api_version.clone(),
                        path: path_string(path),
                    })
                    .collect(),
            });
        }
        for (i, path) in &conflicts {
            entries[*i].fields.remove(path);
            entries[*i].fields.clear_ancestors(path);
        }
    }

    merge_applied(&mut obj, &applied);

    // Fields this manager applied before and has now dropped go away, unless someone else owns them.
    let previous = entries.iter().find(|e| is_mine(e)).cloned();
    if let Some(previous) = &previous {
        for leaf in previous.fields.leaves() {
            if new_fields.touches(&leaf) || new_fields.covers(&leaf) {
                continue;
            }
            let shared = entries
                .iter()
                .any(|e| !is_mine(e) && (e.fields.touches(&leaf) || e.fields.covers(&leaf)));
            if shared {
                continue;
            }
            let owned = |p: &[String]| {
                new_fields.contains(p)
                    || entries.iter().any(|e| !is_mine(e) && e.fields.contains(p))
            };
            remove_field(&mut obj, &leaf, &owned);
        }
    }

    let unchanged = live.is_some_and(|l| without_managed_fields(l) == without_managed_fields(&obj));
    let time = match &previous {
        Some(p) if unchanged && p.fields == new_fields && p.api_version == api_version => {
            p.time.clone()
        }
        _ => Some(now.to_string()),
    };
    let mine = Entry {
        manager: manager.to_string(),
        operation: APPLY.to_string(),
        api_version: api_version.to_string(),
        time,
        subresource: None,
        fields: new_fields,
    };
    match entries.iter().position(is_mine) {
        Some(i) => entries[i] = mine,
        None => entries.push(mine),
    }
    for e in &mut entries {
        e.fields.prune();
    }
    write_entries(&mut obj, entries);
    Ok(obj)
}

/// Record an ordinary write (create, update, patch) by `manager` in `after.metadata.managedFields`.
///
/// The ownership in `before` is authoritative (any `managedFields` in `after` are replaced):
/// every field whose value changed is assigned to the `Update` entry of `manager` and taken from
/// the other managers; removed fields are dropped from every set. Server-owned metadata, `apiVersion`
/// and `kind` are never tracked, and `status` only when `include_status` is set. A write that
/// changes nothing leaves `managedFields` exactly as it was.
pub fn record_update(
    before: Option<&Value>,
    after: &mut Value,
    manager: &str,
    api_version: &str,
    now: &str,
    include_status: bool,
) {
    let mut entries = read_entries(before);
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    if after.is_object() {
        diff(
            before,
            after,
            &mut Vec::new(),
            &mut changed,
            &mut removed,
            &|p| tracked(p, include_status),
        );
    }
    if !changed.is_empty() || !removed.is_empty() {
        for entry in &mut entries {
            for path in &removed {
                entry.fields.remove(path);
            }
            for path in &changed {
                entry.fields.remove(path);
                entry.fields.clear_ancestors(path);
            }
        }
        if !changed.is_empty() {
            let index = match entries
                .iter()
                .position(|e| e.is(manager, UPDATE, api_version))
            {
                Some(i) => i,
                None => {
                    entries.push(Entry {
                        manager: manager.to_string(),
                        operation: UPDATE.to_string(),
                        api_version: api_version.to_string(),
                        time: None,
                        subresource: None,
                        fields: FieldSet::default(),
                    });
                    entries.len() - 1
                }
            };
            let mine = &mut entries[index];
            for path in &changed {
                mine.fields.insert(path);
            }
            mine.time = Some(now.to_string());
        }
        for e in &mut entries {
            e.fields.prune();
        }
    }
    write_entries(after, entries);
}

/// Collect the tracked fields `after` sets with a new value (`changed`) and those it dropped
/// (`removed`) relative to `before`. `null` counts as absent.
fn diff(
    before: Option<&Value>,
    after: &Value,
    path: &mut Vec<String>,
    changed: &mut Vec<Vec<String>>,
    removed: &mut Vec<Vec<String>>,
    track: &dyn Fn(&[String]) -> bool,
) {
    match after {
        Value::Object(am) if !am.is_empty() || path.is_empty() => {
            let bm = before.and_then(Value::as_object);
            for (k, av) in am {
                if av.is_null() {
                    continue;
                }
                path.push(k.clone());
                if track(path) {
                    let bv = bm.and_then(|m| m.get(k)).filter(|v| !v.is_null());
                    diff(bv, av, path, changed, removed, track);
                }
                path.pop();
            }
            for (k, bv) in bm.into_iter().flatten() {
                if bv.is_null() || am.get(k).is_some_and(|v| !v.is_null()) {
                    continue;
                }
                path.push(k.clone());
                if track(path) {
                    removed.push(path.clone());
                }
                path.pop();
            }
        }
        Value::Object(_) => {
            if !before.is_some_and(|b| b.as_object().is_some_and(Map::is_empty)) {
                changed.push(path.clone());
            }
        }
        _ => {
            if !before.is_some_and(|b| json_equal(b, after)) {
                changed.push(path.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-21T11:26:23Z";
    const LATER: &str = "2026-11-21T12:00:00Z";
    const GV: &str = "virtualization.deckhouse.io/v1alpha2";

    fn vm(cores: i64, fraction: Option<&str>) -> Value {
        let mut cpu = json!({"cores": cores});
        if let Some(f) = fraction {
            cpu["coreFraction"] = json!(f);
        }
        json!({"apiVersion": GV, "kind": "VirtualMachine", "metadata": {"name": "vm", "namespace": "default"}, "spec": {"cpu": cpu}})
    }

    fn managed(obj: &Value) -> &Vec<Value> {
        obj["metadata"]["managedFields"]
            .as_array()
            .expect("managedFields")
    }

    #[test]
    fn apply_on_create_records_the_applied_fields() {
        let out = apply_patch(None, &vm(2, Some("10%")), "kubectl", GV, false, NOW).unwrap();
        assert_eq!(out["spec"]["cpu"]["cores"], 2);
        assert_eq!(
            managed(&out),
            &vec![json!({
                "manager": "kubectl", "operation": "Apply", "apiVersion": GV, "time": NOW,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:cpu": {"f:coreFraction": {}, "f:cores": {}}}}
            })]
        );
    }

    #[test]
    fn reapply_without_a_field_removes_it() {
        let first = apply_patch(None, &vm(2, Some("10%")), "kubectl", GV, false, NOW).unwrap();
        let second = apply_patch(Some(&first), &vm(2, None), "kubectl", GV, false, LATER).unwrap();
        assert_eq!(second["spec"]["cpu"], json!({"cores": 2}));
        assert_eq!(
            managed(&second)[0]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:cores": {}}}})
        );
        assert_eq!(managed(&second)[0]["time"], LATER);
    }

    #[test]
    fn fields_taken_over_by_an_updater_survive_reapply() {
        let mut live = apply_patch(None, &vm(2, Some("10%")), "kubectl", GV, false, NOW).unwrap();
        // Another manager changes coreFraction and so takes it over.
        let mut edited = live.clone();
        edited["spec"]["cpu"]["coreFraction"] = json!("20%");
        record_update(Some(&live), &mut edited, "kubectl-edit", GV, NOW, false);
        live = edited;
        let out = apply_patch(Some(&live), &vm(2, None), "kubectl", GV, false, LATER).unwrap();
        assert_eq!(out["spec"]["cpu"]["coreFraction"], "20%");
    }

    #[test]
    fn removing_the_last_field_of_an_object_removes_the_empty_parent() {
        let mut applied = vm(2, None);
        applied["spec"]["extra"] = json!({"a": 1});
        let first = apply_patch(None, &applied, "kubectl", GV, false, NOW).unwrap();
        let second = apply_patch(Some(&first), &vm(2, None), "kubectl", GV, false, NOW).unwrap();
        assert_eq!(second["spec"], json!({"cpu": {"cores": 2}}));
    }

    #[test]
    fn conflicting_value_owned_by_an_updater_is_refused() {
        let mut live = vm(1, None);
        record_update(None, &mut live, "kubectl-client-side-apply", GV, NOW, false);
        let err = apply_patch(Some(&live), &vm(2, None), "kubectl", GV, false, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using {GV}: .spec.cpu.cores"
            )
        );
        let status = err.to_status();
        assert_eq!(status["code"], 409);
        assert_eq!(status["details"]["causes"][0]["field"], ".spec.cpu.cores");
    }

    #[test]
    fn same_value_is_shared_without_conflict() {
        let mut live = vm(1, None);
        record_update(None, &mut live, "kubectl-create", GV, NOW, false);
        let out = apply_patch(Some(&live), &vm(1, None), "kubectl", GV, false, NOW).unwrap();
        let managers: Vec<&str> = managed(&out)
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, vec!["kubectl-create", "kubectl"]);
    }

    #[test]
    fn force_takes_ownership() {
        let mut live = vm(1, Some("5%"));
        record_update(None, &mut live, "kubectl-create", GV, NOW, false);
        let out = apply_patch(Some(&live), &vm(2, None), "kubectl", GV, true, LATER).unwrap();
        assert_eq!(
            out["spec"]["cpu"],
            json!({"cores": 2, "coreFraction": "5%"})
        );
        let entries = managed(&out);
        assert_eq!(entries[0]["manager"], "kubectl-create");
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:coreFraction": {}}}})
        );
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:cores": {}}}})
        );
    }

    #[test]
    fn several_conflicts_are_grouped_by_manager() {
        let mut live = vm(1, Some("5%"));
        record_update(None, &mut live, "a-writer", GV, NOW, false);
        let mut next = live.clone();
        next["spec"]["cpu"]["coreFraction"] = json!("7%");
        record_update(Some(&live), &mut next, "b-writer", "v1", NOW, false);
        let err =
            apply_patch(Some(&next), &vm(2, Some("9%")), "kubectl", GV, false, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Apply failed with 2 conflicts: conflicts with \"a-writer\" using {GV}:\n- .spec.cpu.cores\nconflicts with \"b-writer\" using v1:\n- .spec.cpu.coreFraction"
            )
        );
    }

    #[test]
    fn conflict_with_another_applier_names_it_without_version() {
        let live = apply_patch(None, &vm(1, None), "other", GV, false, NOW).unwrap();
        let err = apply_patch(Some(&live), &vm(3, None), "kubectl", GV, false, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"other\": .spec.cpu.cores"
        );
    }

    #[test]
    fn noop_apply_keeps_the_old_time() {
        let first = apply_patch(None, &vm(2, None), "kubectl", GV, false, NOW).unwrap();
        let again = apply_patch(Some(&first), &vm(2, None), "kubectl", GV, false, LATER).unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn lists_are_atomic() {
        let mut a = vm(1, None);
        a["spec"]["disks"] = json!([{"name": "a"}, {"name": "b"}]);
        let first = apply_patch(None, &a, "kubectl", GV, false, NOW).unwrap();
        a["spec"]["disks"] = json!([{"name": "b"}]);
        let second = apply_patch(Some(&first), &a, "kubectl", GV, false, NOW).unwrap();
        assert_eq!(second["spec"]["disks"], json!([{"name": "b"}]));
        assert_eq!(
            managed(&second)[0]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:cores": {}}, "f:disks": {}}})
        );
    }

    #[test]
    fn update_assigns_changed_fields_and_takes_them_from_others() {
        let mut created = json!({"apiVersion": GV, "kind": "VirtualMachine",
            "metadata": {"name": "vm", "uid": "u", "resourceVersion": "1", "labels": {"app": "web", "tier": "x"}},
            "spec": {"cpu": {"cores": 1}}, "status": {"phase": "Pending"}});
        record_update(None, &mut created, "kubectl-create", GV, NOW, false);
        assert_eq!(
            managed(&created),
            &vec![
                json!({"manager": "kubectl-create", "operation": "Update", "apiVersion": GV, "time": NOW,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}, "f:spec": {"f:cpu": {"f:cores": {}}}}})
            ]
        );
        let mut patched = created.clone();
        patched["spec"]["cpu"]["cores"] = json!(2);
        patched["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        patched["metadata"]["resourceVersion"] = json!("2");
        record_update(
            Some(&created),
            &mut patched,
            "kubectl-patch",
            GV,
            LATER,
            false,
        );
        let entries = managed(&patched);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:tier": {}}}})
        );
        assert_eq!(entries[0]["time"], NOW);
        assert_eq!(entries[1]["manager"], "kubectl-patch");
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:cores": {}}}})
        );
        assert_eq!(entries[1]["time"], LATER);
    }

    #[test]
    fn update_that_changes_nothing_keeps_managed_fields() {
        let mut created = vm(1, None);
        record_update(None, &mut created, "kubectl-create", GV, NOW, false);
        let mut same = created.clone();
        same["metadata"]["resourceVersion"] = json!("9");
        same["metadata"]["managedFields"] = json!([]);
        record_update(Some(&created), &mut same, "other", GV, LATER, false);
        assert_eq!(
            same["metadata"]["managedFields"],
            created["metadata"]["managedFields"]
        );
    }

    #[test]
    fn duplicate_entries_are_merged() {
        let mut live = vm(1, Some("5%"));
        live["metadata"]["managedFields"] = json!([
            {"manager": "m", "operation": "Update", "apiVersion": "v1", "time": NOW,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:cpu": {"f:cores": {}}}}},
            {"manager": "m", "operation": "Update", "apiVersion": "v1", "time": LATER,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:cpu": {"f:coreFraction": {}}}}}
        ]);
        let mut after = live.clone();
        after["metadata"]["labels"] = json!({"a": "b"});
        record_update(Some(&live), &mut after, "n", GV, LATER, false);
        let entries = managed(&after);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["time"], LATER);
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:coreFraction": {}, "f:cores": {}}}})
        );
    }

    #[test]
    fn status_is_tracked_only_when_asked() {
        let before = vm(1, None);
        let mut after = before.clone();
        after["status"] = json!({"phase": "Running"});
        let mut ignored = after.clone();
        record_update(Some(&before), &mut ignored, "controller", GV, NOW, false);
        assert!(ignored["metadata"].get("managedFields").is_none());
        record_update(Some(&before), &mut after, "controller", GV, NOW, true);
        assert_eq!(
            managed(&after)[0]["fieldsV1"],
            json!({"f:status": {"f:phase": {}}})
        );
    }

    #[test]
    fn removed_fields_leave_every_set() {
        let mut created = vm(1, Some("5%"));
        record_update(None, &mut created, "a", GV, NOW, false);
        let mut after = created.clone();
        after["spec"]["cpu"]
            .as_object_mut()
            .unwrap()
            .remove("coreFraction");
        record_update(Some(&created), &mut after, "b", GV, LATER, false);
        let entries = managed(&after);
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:spec": {"f:cpu": {"f:cores": {}}}})
        );
    }
}
