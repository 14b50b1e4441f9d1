//! Strategic merge patch, the patch type kubectl sends for kinds it knows (Secret, Service,
//! Namespace, Node, …).
//!
//! Maps merge like a JSON merge patch (`null` deletes). Lists follow the per-field strategy from
//! a [`PatchMeta`]: replaced whole, merged by a key field, or merged as a set of primitives. The
//! directives are supported: `$patch: replace|merge|delete` on maps and list items,
//! `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
//!
//! Where Kubernetes would copy a patch value verbatim into a field that did not exist yet, this
//! implementation merges it into an empty value instead, so directives and `null`s never end up
//! stored in the object; `$patch: delete` on a map removes the field.

use serde_json::{Map, Value};

use super::PatchError;
use super::json::json_equal;

/// How a list field merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch list replaces the whole list (the default).
    Replace,
    /// Items are maps identified by this key; patch items merge into the item with the same key.
    MergeByKey(String),
    /// Items are primitives merged as an ordered set.
    MergePrimitives,
}

/// Patch metadata: the list strategy of a field, given its dotted path without list indexes
/// (`spec.ports`, `spec.containers.env`, `metadata.finalizers`).
pub trait PatchMeta {
    fn list_strategy(&self, path: &str) -> ListStrategy;
}

impl<F: Fn(&str) -> ListStrategy> PatchMeta for F {
    fn list_strategy(&self, path: &str) -> ListStrategy {
        self(path)
    }
}

/// The non-default strategies of a static table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticListStrategy {
    MergeByKey(&'static str),
    MergePrimitives,
}

/// Table-driven patch metadata; paths not in the table are replaced.
#[derive(Clone, Copy, Debug)]
pub struct StaticPatchMeta(pub &'static [(&'static str, StaticListStrategy)]);

impl StaticPatchMeta {
    fn lookup(&self, path: &str) -> Option<ListStrategy> {
        self.0
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, s)| match s {
                StaticListStrategy::MergeByKey(k) => ListStrategy::MergeByKey((*k).to_string()),
                StaticListStrategy::MergePrimitives => ListStrategy::MergePrimitives,
            })
    }
}

impl PatchMeta for StaticPatchMeta {
    fn list_strategy(&self, path: &str) -> ListStrategy {
        self.lookup(path).unwrap_or(ListStrategy::Replace)
    }
}

use StaticListStrategy::{MergeByKey as Key, MergePrimitives as Primitives};

/// Lists every kind shares through `ObjectMeta`.
const OBJECT_META: &[(&str, StaticListStrategy)] = &[
    ("metadata.ownerReferences", Key("uid")),
    ("metadata.finalizers", Primitives),
];

const POD: &[(&str, StaticListStrategy)] = &[
    ("spec.containers", Key("name")),
    ("spec.initContainers", Key("name")),
    ("spec.ephemeralContainers", Key("name")),
    ("spec.containers.env", Key("name")),
    ("spec.initContainers.env", Key("name")),
    ("spec.ephemeralContainers.env", Key("name")),
    ("spec.containers.ports", Key("containerPort")),
    ("spec.initContainers.ports", Key("containerPort")),
    ("spec.ephemeralContainers.ports", Key("containerPort")),
    ("spec.containers.volumeMounts", Key("mountPath")),
    ("spec.initContainers.volumeMounts", Key("mountPath")),
    ("spec.ephemeralContainers.volumeMounts", Key("mountPath")),
    ("spec.containers.volumeDevices", Key("devicePath")),
    ("spec.initContainers.volumeDevices", Key("devicePath")),
    ("spec.volumes", Key("name")),
    ("spec.imagePullSecrets", Key("name")),
    ("spec.hostAliases", Key("ip")),
    ("spec.topologySpreadConstraints", Key("topologyKey")),
    ("spec.resourceClaims", Key("name")),
    ("spec.schedulingGates", Key("name")),
    ("status.conditions", Key("type")),
    ("status.podIPs", Key("ip")),
];

const SERVICE: &[(&str, StaticListStrategy)] = &[("spec.ports", Key("port"))];

const NODE: &[(&str, StaticListStrategy)] = &[
    ("status.conditions", Key("type")),
    ("status.addresses", Key("type")),
    ("spec.podCIDRs", Primitives),
];

const WITH_CONDITIONS: &[(&str, StaticListStrategy)] = &[("status.conditions", Key("type"))];

/// Patch metadata of a core kind: the `ObjectMeta` lists plus the kind's own table.
#[derive(Clone, Copy, Debug)]
pub struct CorePatchMeta {
    kind_table: StaticPatchMeta,
}

impl PatchMeta for CorePatchMeta {
    fn list_strategy(&self, path: &str) -> ListStrategy {
        StaticPatchMeta(OBJECT_META)
            .lookup(path)
            .or_else(|| self.kind_table.lookup(path))
            .unwrap_or(ListStrategy::Replace)
    }
}

/// The merge keys of the core kinds the server serves (`Pod`, `Service`, `Node`,
/// `PersistentVolumeClaim`, `PersistentVolume`, `Namespace`; any other kind gets only the
/// `ObjectMeta` lists).
pub fn core_patch_meta(kind: &str) -> CorePatchMeta {
    let kind_table = match kind {
        "Pod" => POD,
        "Service" => SERVICE,
        "Node" => NODE,
        "PersistentVolumeClaim" | "PersistentVolume" | "Namespace" => WITH_CONDITIONS,
        _ => &[],
    };
    CorePatchMeta {
        kind_table: StaticPatchMeta(kind_table),
    }
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Apply a strategic merge patch (a JSON object) in place. On error the target is unchanged.
pub fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    meta: &dyn PatchMeta,
) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        return Err(invalid("", "a strategic merge patch must be a JSON object"));
    };
    let mut result = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let outcome = merge_map(&mut result, patch, "", meta)?;
    *target = Value::Object(if outcome == MapOutcome::Delete {
        Map::new()
    } else {
        result
    });
    Ok(())
}

fn invalid(path: &str, reason: impl Into<String>) -> PatchError {
    PatchError::InvalidStrategicPatch {
        path: if path.is_empty() {
            ".".to_string()
        } else {
            path.to_string()
        },
        reason: reason.into(),
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[derive(Debug, PartialEq, Eq)]
enum MapOutcome {
    Keep,
    /// `$patch: delete`: the map is to be removed from its parent.
    Delete,
}

fn merge_map(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &str,
    meta: &dyn PatchMeta,
) -> Result<MapOutcome, PatchError> {
    match patch.get(DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "delete" => return Ok(MapOutcome::Delete),
        Some(Value::String(d)) if d == "replace" => {
            original.clear();
        }
        Some(other) => return Err(invalid(path, format!("unknown patch type {other} in map"))),
    }

    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Some(keys) = retain.as_array() else {
            return Err(invalid(path, "$retainKeys must be a list of field names"));
        };
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        if let Some((missing, _)) = patch
            .iter()
            .find(|(k, v)| !k.starts_with('$') && !v.is_null() && !keys.contains(&k.as_str()))
        {
            return Err(invalid(
                path,
                format!("field {missing:?} is in the patch but not in $retainKeys"),
            ));
        }
        original.retain(|k, _| keys.contains(&k.as_str()));
    }

    // Deletions from primitive lists come first, so a patch that also adds to the list wins.
    for (key, value) in patch {
        let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) else {
            continue;
        };
        let Some(remove) = value.as_array() else {
            return Err(invalid(
                &child_path(path, field),
                format!("{key} must be a list"),
            ));
        };
        if let Some(Value::Array(list)) = original.get_mut(field) {
            list.retain(|item| !remove.iter().any(|r| json_equal(r, item)));
        }
    }

    let mut orders: Vec<(&str, &Vec<Value>)> = Vec::new();
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            let Some(order) = value.as_array() else {
                return Err(invalid(
                    &child_path(path, field),
                    format!("{key} must be a list"),
                ));
            };
            orders.push((field, order));
        }
    }

    for (key, value) in patch {
        if key == DIRECTIVE
            || key == RETAIN_KEYS
            || key.starts_with(SET_ELEMENT_ORDER)
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        {
            continue;
        }
        let field_path = child_path(path, key);
        match value {
            Value::Null => {
                original.remove(key);
            }
            Value::Object(sub_patch) => {
                let mut sub = match original.remove(key) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                if merge_map(&mut sub, sub_patch, &field_path, meta)? == MapOutcome::Keep {
                    original.insert(key.clone(), Value::Object(sub));
                }
            }
            Value::Array(items) => {
                let current = match original.remove(key) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let order = orders
                    .iter()
                    .find(|(f, _)| f == key)
                    .map(|(_, o)| o.as_slice());
                let merged = merge_list(current, items, order, &field_path, meta)?;
                original.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                original.insert(key.clone(), scalar.clone());
            }
        }
    }

    // `$setElementOrder` for lists the patch does not otherwise touch: reorder only.
    for (field, order) in orders {
        if patch.contains_key(field) {
            continue;
        }
        if let Some(Value::Array(current)) = original.remove(field) {
            let merged = merge_list(current, &[], Some(order), &child_path(path, field), meta)?;
            original.insert(field.to_string(), Value::Array(merged));
        }
    }
    Ok(MapOutcome::Keep)
}

/// The `$patch` directive of a list item, if it has one.
fn item_directive<'v>(item: &'v Value, path: &str) -> Result<Option<&'v str>, PatchError> {
    match item.get(DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(d)) => Ok(Some(d.as_str())),
        Some(other) => Err(invalid(
            path,
            format!("unknown patch type {other} in list item"),
        )),
    }
}

fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    order: Option<&[Value]>,
    path: &str,
    meta: &dyn PatchMeta,
) -> Result<Vec<Value>, PatchError> {
    match meta.list_strategy(path) {
        ListStrategy::Replace => Ok(patch
            .iter()
            .filter(|item| item.get(DIRECTIVE).is_none())
            .cloned()
            .collect()),
        ListStrategy::MergePrimitives => merge_primitive_list(original, patch, order, path),
        ListStrategy::MergeByKey(key) => merge_keyed_list(original, patch, order, &key, path, meta),
    }
}

fn merge_primitive_list(
    original: Vec<Value>,
    patch: &[Value],
    order: Option<&[Value]>,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let mut replace = false;
    let mut values: Vec<&Value> = Vec::with_capacity(patch.len());
    for item in patch {
        match item_directive(item, path)? {
            None => values.push(item),
            Some("replace") => replace = true,
            Some(other) => {
                return Err(invalid(
                    path,
                    format!("unsupported patch type {other:?} in a list of primitives"),
                ));
            }
        }
    }
    let mut merged: Vec<Value> = Vec::with_capacity(original.len() + values.len());
    let base: &[Value] = if replace { &[] } else { &original };
    for item in base.iter().chain(values.iter().copied()) {
        if !merged.iter().any(|m| json_equal(m, item)) {
            merged.push(item.clone());
        }
    }
    let order: Vec<Value> = order
        .map(<[Value]>::to_vec)
        .unwrap_or_else(|| values.into_iter().cloned().collect());
    Ok(normalize_order(merged, &order, &original, |v| {
        Some(v.clone())
    }))
}

fn merge_keyed_list(
    mut original: Vec<Value>,
    patch: &[Value],
    order: Option<&[Value]>,
    key: &str,
    path: &str,
    meta: &dyn PatchMeta,
) -> Result<Vec<Value>, PatchError> {
    let key_of = |item: &Value| item.get(key).cloned();
    let original_order = original.clone();
    let mut replace = false;
    let mut items: Vec<&Map<String, Value>> = Vec::with_capacity(patch.len());
    for item in patch {
        let Value::Object(map) = item else {
            return Err(invalid(
                path,
                format!("list items must be objects with the merge key {key:?}, found {item}"),
            ));
        };
        match item_directive(item, path)? {
            None => items.push(map),
            Some("delete") => {
                let Some(k) = map.get(key) else {
                    return Err(invalid(
                        path,
                        format!("{item} does not contain the merge key {key:?}"),
                    ));
                };
                original.retain(|o| !o.get(key).is_some_and(|ok| json_equal(ok, k)));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(invalid(
                    path,
                    "merging lists cannot yet be specified in the patch",
                ));
            }
            Some(other) => {
                return Err(invalid(
                    path,
                    format!("unknown patch type {other:?} in list item"),
                ));
            }
        }
    }
    if replace {
        original.clear();
    }
    for item in items {
        let Some(k) = item.get(key) else {
            return Err(invalid(
                path,
                format!(
                    "{} does not contain the merge key {key:?}",
                    Value::Object(item.clone())
                ),
            ));
        };
        let position = original
            .iter()
            .position(|o| o.get(key).is_some_and(|ok| json_equal(ok, k)));
        let mut target = match position {
            Some(i) => match original[i].take() {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        let outcome = merge_map(&mut target, item, path, meta)?;
        match (position, outcome) {
            (Some(i), MapOutcome::Keep) => original[i] = Value::Object(target),
            (Some(i), MapOutcome::Delete) => {
                original.remove(i);
            }
            (None, MapOutcome::Keep) => original.push(Value::Object(target)),
            (None, MapOutcome::Delete) => {}
        }
    }
    let order: Vec<Value> = order
        .map(<[Value]>::to_vec)
        .unwrap_or_else(|| patch.to_vec());
    Ok(normalize_order(original, &order, &original_order, key_of))
}

/// Order a merged list: items named in `order` (the `$setElementOrder` list, or the patch list)
/// take that relative order; the other items keep their order from the original list; the two
/// runs are interleaved by their positions in the original list, as Kubernetes does.
fn normalize_order(
    merged: Vec<Value>,
    order: &[Value],
    original: &[Value],
    identity: impl Fn(&Value) -> Option<Value>,
) -> Vec<Value> {
    let position_in = |list: &[Value], id: &Option<Value>| -> Option<usize> {
        let id = id.as_ref()?;
        list.iter()
            .position(|x| identity(x).is_some_and(|xi| json_equal(&xi, id)))
    };
    let mut from_patch: Vec<(Option<usize>, Option<usize>, Value)> = Vec::new();
    let mut server_only: Vec<(Option<usize>, Value)> = Vec::new();
    for item in merged {
        let id = identity(&item);
        let in_original = position_in(original, &id);
        match position_in(order, &id) {
            Some(p) => from_patch.push((Some(p), in_original, item)),
            None => server_only.push((in_original, item)),
        }
    }
    // Stable sorts; `None` (unknown position) sorts last.
    from_patch.sort_by_key(|(p, _, _)| p.unwrap_or(usize::MAX));
    server_only.sort_by_key(|(o, _)| o.unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut patch_items = from_patch.into_iter().peekable();
    let mut server_items = server_only.into_iter().peekable();
    loop {
        let take_server = match (server_items.peek(), patch_items.peek()) {
            (Some((Some(s), _)), Some((_, Some(p), _))) => s < p,
            (Some(_), None) => true,
            (None, None) => break,
            _ => false,
        };
        if take_server {
            if let Some((_, item)) = server_items.next() {
                out.push(item);
            }
        } else if let Some((_, _, item)) = patch_items.next() {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(target: Value, patch: Value, kind: &str) -> Value {
        let mut t = target;
        strategic_merge_patch(&mut t, &patch, &core_patch_meta(kind))
            .unwrap_or_else(|e| panic!("{patch}: {e}"));
        t
    }

    #[test]
    fn service_port_change_from_kubectl_apply() {
        let live = json!({"metadata": {"name": "web", "annotations": {"a": "1"}},
            "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "web"}}});
        let patch = json!({"metadata": {"annotations": {"a": "2"}}, "spec": {"$setElementOrder/ports": [{"port": 81}],
            "ports": [{"port": 81, "protocol": "TCP", "targetPort": 8080}, {"$patch": "delete", "port": 80}]}});
        assert_eq!(
            smp(live, patch, "Service"),
            json!({"metadata": {"name": "web", "annotations": {"a": "2"}},
                "spec": {"ports": [{"port": 81, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "web"}}})
        );
    }

    #[test]
    fn keyed_items_merge_in_place_and_new_items_follow_the_patch_order() {
        let live = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"spec": {"ports": [{"port": 443, "name": "tls"}, {"port": 8080, "name": "alt"}]}});
        assert_eq!(
            smp(live, patch, "Service")["spec"]["ports"],
            json!([{"port": 80, "name": "http"}, {"port": 443, "name": "tls"}, {"port": 8080, "name": "alt"}])
        );
    }

    #[test]
    fn set_element_order_reorders_server_and_patch_items() {
        let live = json!({"spec": {"ports": [{"port": 1}, {"port": 2}, {"port": 3}]}});
        let patch =
            json!({"spec": {"$setElementOrder/ports": [{"port": 3}, {"port": 2}, {"port": 1}]}});
        assert_eq!(
            smp(live, patch, "Service")["spec"]["ports"],
            json!([{"port": 3}, {"port": 2}, {"port": 1}])
        );
    }

    #[test]
    fn server_only_items_are_interleaved_by_original_position() {
        let live = json!({"spec": {"ports": [{"port": 1}, {"port": 2}, {"port": 3}]}});
        // The patch names 3 and 1 in that order; 2 exists only on the server and came before 3.
        let patch = json!({"spec": {"$setElementOrder/ports": [{"port": 3}, {"port": 1}], "ports": [{"port": 3, "x": 1}]}});
        assert_eq!(
            smp(live, patch, "Service")["spec"]["ports"],
            json!([{"port": 2}, {"port": 3, "x": 1}, {"port": 1}])
        );
    }

    #[test]
    fn nested_keyed_lists_use_dotted_paths() {
        let live = json!({"spec": {"containers": [{"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}});
        let patch = json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}]}]}});
        assert_eq!(
            smp(live, patch, "Pod")["spec"]["containers"],
            json!([{"name": "app", "image": "a:1", "env": [{"name": "B", "value": "3"}]}])
        );
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let added = smp(
            live.clone(),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            "Secret",
        );
        assert_eq!(added["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let removed = smp(
            live,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            "Secret",
        );
        assert_eq!(removed["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn primitive_list_replace_directive() {
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let got = smp(
            live,
            json!({"metadata": {"finalizers": [{"$patch": "replace"}, "z"]}}),
            "Secret",
        );
        assert_eq!(got["metadata"]["finalizers"], json!(["z"]));
    }

    #[test]
    fn replace_strategy_lists_are_replaced() {
        let live = json!({"spec": {"finalizers": ["kubernetes"], "other": [1, 2]}});
        let got = smp(live, json!({"spec": {"other": [3]}}), "Namespace");
        assert_eq!(
            got["spec"],
            json!({"finalizers": ["kubernetes"], "other": [3]})
        );
    }

    #[test]
    fn keyed_list_replace_directive() {
        let live = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}});
        let got = smp(
            live,
            json!({"metadata": {"ownerReferences": [{"$patch": "replace"}, {"uid": "3", "name": "c"}]}}),
            "Secret",
        );
        assert_eq!(
            got["metadata"]["ownerReferences"],
            json!([{"uid": "3", "name": "c"}])
        );
    }

    #[test]
    fn map_directives() {
        let live =
            json!({"data": {"a": "1", "b": "2"}, "stringData": {"x": "y"}, "type": "Opaque"});
        let replaced = smp(
            live.clone(),
            json!({"data": {"$patch": "replace", "c": "3"}}),
            "Secret",
        );
        assert_eq!(replaced["data"], json!({"c": "3"}));
        let deleted = smp(
            live.clone(),
            json!({"stringData": {"$patch": "delete"}}),
            "Secret",
        );
        assert_eq!(
            deleted,
            json!({"data": {"a": "1", "b": "2"}, "type": "Opaque"})
        );
        let merged = smp(
            live,
            json!({"data": {"$patch": "merge", "a": null, "c": "3"}}),
            "Secret",
        );
        assert_eq!(merged["data"], json!({"b": "2", "c": "3"}));
    }

    #[test]
    fn retain_keys_clears_unlisted_fields() {
        let live = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let got = smp(
            live,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            "Pod",
        );
        assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn retain_keys_must_list_every_patched_field() {
        let mut t = json!({"a": {}});
        let err = strategic_merge_patch(
            &mut t,
            &json!({"a": {"$retainKeys": ["x"], "y": 1}}),
            &core_patch_meta("Pod"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid strategic merge patch at \"a\": field \"y\" is in the patch but not in $retainKeys"
        );
    }

    #[test]
    fn new_subtrees_lose_nulls_and_directives() {
        let got = smp(
            json!({}),
            json!({"spec": {"ports": [{"port": 1, "name": null}, {"$patch": "delete", "port": 2}], "x": {"y": null, "z": 1}},
                   "metadata": {"$setElementOrder/finalizers": ["a"], "finalizers": ["a"]}}),
            "Service",
        );
        assert_eq!(
            got,
            json!({"spec": {"ports": [{"port": 1}], "x": {"z": 1}}, "metadata": {"finalizers": ["a"]}})
        );
    }

    #[test]
    fn malformed_patches_are_rejected_without_change() {
        let live = json!({"spec": {"ports": [{"port": 80}]}});
        let cases = [
            json!({"spec": {"ports": [{"name": "x"}]}}),
            json!({"spec": {"ports": ["80"]}}),
            json!({"spec": {"ports": [{"$patch": "merge", "port": 80}]}}),
            json!({"spec": {"ports": [{"$patch": "delete"}]}}),
            json!({"spec": {"$patch": "explode"}}),
            json!({"spec": {"$setElementOrder/ports": 5}}),
            json!({"spec": {"$deleteFromPrimitiveList/ports": "x"}}),
            json!([1]),
        ];
        for patch in cases {
            let mut t = live.clone();
            assert!(
                strategic_merge_patch(&mut t, &patch, &core_patch_meta("Service")).is_err(),
                "{patch}"
            );
            assert_eq!(t, live, "{patch} must not change the target");
        }
    }

    #[test]
    fn closures_are_patch_meta() {
        let meta = |path: &str| {
            if path == "items" {
                ListStrategy::MergeByKey("id".into())
            } else {
                ListStrategy::Replace
            }
        };
        let mut t = json!({"items": [{"id": 1, "v": 1}]});
        strategic_merge_patch(&mut t, &json!({"items": [{"id": 1, "v": 2}]}), &meta).unwrap();
        assert_eq!(t, json!({"items": [{"id": 1, "v": 2}]}));
    }

    #[test]
    fn node_conditions_merge_by_type() {
        let live = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}]}});
        let got = smp(
            live,
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            "Node",
        );
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}])
        );
    }
}
