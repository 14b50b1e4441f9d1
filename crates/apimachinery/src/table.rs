//! `meta.k8s.io/v1` Table columns and cells from CRD `additionalPrinterColumns`, converted the way
//! apiextensions-apiserver converts them: a `Name` column first, then one typed cell per column
//! (`date` cells humanised on the server).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::duration::{human_duration_secs, parse_rfc3339};
use crate::jsonpath::{JsonPath, render_text};

/// The description Kubernetes gives the `Name` column.
pub const NAME_COLUMN_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// One entry of a CRD version's `additionalPrinterColumns`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterColumn {
    #[serde(default)]
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub format: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// 0 = always shown; higher = only with `-o wide`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    #[serde(rename = "jsonPath", default)]
    pub json_path: String,
}

fn is_zero(p: &i32) -> bool {
    *p == 0
}

/// The columns a CRD gets when it declares none: just `Age`.
pub fn default_printer_columns() -> Vec<PrinterColumn> {
    vec![PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        description: "Time since the object was created (metadata.creationTimestamp).".into(),
        json_path: ".metadata.creationTimestamp".into(),
        ..PrinterColumn::default()
    }]
}

/// The Table `columnDefinitions`: `Name` (format `name`, which kubectl needs for its `kind/name`
/// prefix) followed by one definition per printer column.
pub fn column_definitions(columns: &[PrinterColumn]) -> Vec<Value> {
    let mut defs = Vec::with_capacity(columns.len() + 1);
    defs.push(json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": NAME_COLUMN_DESCRIPTION,
        "priority": 0,
    }));
    defs.extend(columns.iter().map(|c| {
        json!({
            "name": c.name,
            "type": c.type_,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        })
    }));
    defs
}

/// Printer columns with their JSONPath expressions parsed once, for converting many rows.
#[derive(Clone, Debug)]
pub struct CompiledColumns {
    columns: Vec<(PrinterColumn, Option<JsonPath>)>,
}

impl CompiledColumns {
    /// Compile the columns; a column whose path does not parse yields `null` cells.
    pub fn new(columns: &[PrinterColumn]) -> Self {
        Self {
            columns: columns
                .iter()
                .map(|c| (c.clone(), JsonPath::parse(&c.json_path).ok()))
                .collect(),
        }
    }

    /// `[metadata.name, one cell per column…]` for one object at time `now_unix`.
    pub fn cells(&self, obj: &Value, now_unix: i64) -> Vec<Value> {
        let mut cells = Vec::with_capacity(self.columns.len() + 1);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        cells.push(Value::String(name.to_string()));
        for (column, path) in &self.columns {
            let first = path.as_ref().and_then(|p| p.eval(obj).into_iter().next());
            cells.push(match first {
                Some(v) => cell_for(&column.type_, v, now_unix),
                None => Value::Null,
            });
        }
        cells
    }
}

/// `[metadata.name, one cell per column…]`; see [`CompiledColumns`] to convert many objects.
pub fn cells(columns: &[PrinterColumn], obj: &Value, now_unix: i64) -> Vec<Value> {
    CompiledColumns::new(columns).cells(obj, now_unix)
}

/// The typed cell for the first value a column's path selected. A value of the wrong JSON type
/// (or `null`) gives a `null` cell.
fn cell_for(column_type: &str, value: &Value, now_unix: i64) -> Value {
    match (column_type, value) {
        (_, Value::Null) => Value::Null,
        ("string", v) => Value::String(render_text(&[v])),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => json!(i),
            // Floats are truncated, as Go's int64 conversion does.
            None => json!(n.as_f64().map_or(0, |f| f as i64)),
        },
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) => Value::String(date_cell(s, now_unix)),
        _ => Value::Null,
    }
}

fn date_cell(timestamp: &str, now_unix: i64) -> String {
    if timestamp.is_empty() || timestamp == "null" {
        return "<unknown>".to_string();
    }
    match parse_rfc3339(timestamp) {
        Some(t) => human_duration_secs(now_unix.saturating_sub(t)),
        None => "<invalid>".to_string(),
    }
}

/// The `PartialObjectMetadata` that Table rows carry by default (`includeObject=Metadata`).
pub fn partial_object_metadata(obj: &Value) -> Value {
    let mut metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = metadata.as_object_mut() {
        m.remove("managedFields");
    }
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<PrinterColumn> {
        serde_json::from_value(json!([
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "CDROM", "type": "boolean", "jsonPath": ".status.cdrom"},
            {"name": "Cores", "type": "integer", "priority": 1, "jsonPath": ".spec.cpu.cores"},
            {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio"},
            {"name": "Progress", "type": "string", "description": "How far the import got.", "jsonPath": ".status.progress"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]))
        .unwrap()
    }

    #[test]
    fn deserializes_crd_entries_with_defaults() {
        let c = &columns()[0];
        assert_eq!(c.format, "");
        assert_eq!(c.description, "");
        assert_eq!(c.priority, 0);
        assert_eq!(c.json_path, ".status.phase");
        let back = serde_json::to_value(c).unwrap();
        assert_eq!(
            back,
            json!({"name": "Phase", "type": "string", "jsonPath": ".status.phase"})
        );
    }

    #[test]
    fn definitions_start_with_the_name_column() {
        let defs = column_definitions(&columns());
        assert_eq!(defs.len(), 7);
        assert_eq!(defs[0]["name"], "Name");
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[0]["description"], NAME_COLUMN_DESCRIPTION);
        assert_eq!(
            defs[3],
            json!({"name": "Cores", "type": "integer", "format": "", "description": "", "priority": 1})
        );
    }

    #[test]
    fn cells_are_typed_like_the_crd_convertor() {
        let now = parse_rfc3339("2026-11-21T14:33:23Z").unwrap();
        let obj = json!({
            "metadata": {"name": "ubuntu-img", "creationTimestamp": "2026-11-21T11:26:23Z"},
            "spec": {"cpu": {"cores": 4.7}},
            "status": {"phase": "Ready", "cdrom": false, "ratio": 2}
        });
        assert_eq!(
            cells(&columns(), &obj, now),
            vec![
                json!("ubuntu-img"),
                json!("Ready"),
                json!(false),
                json!(4),
                json!(2.0),
                Value::Null,
                json!("3h7m")
            ]
        );
    }

    #[test]
    fn wrong_types_become_null_and_strings_print_anything() {
        let cols: Vec<PrinterColumn> = serde_json::from_value(json!([
            {"name": "A", "type": "boolean", "jsonPath": ".a"},
            {"name": "B", "type": "integer", "jsonPath": ".b"},
            {"name": "C", "type": "string", "jsonPath": ".c"},
            {"name": "D", "type": "string", "jsonPath": ".d"},
            {"name": "E", "type": "date", "jsonPath": ".e"},
            {"name": "F", "type": "date", "jsonPath": ".f"},
            {"name": "G", "type": "string", "jsonPath": ".g"}
        ]))
        .unwrap();
        let obj = json!({"a": "yes", "b": "7", "c": 12, "d": {"x": [1]}, "e": "not a time", "f": "", "g": null});
        assert_eq!(
            cells(&cols, &obj, 0),
            vec![
                json!(""),
                Value::Null,
                Value::Null,
                json!("12"),
                json!(r#"{"x":[1]}"#),
                json!("<invalid>"),
                json!("<unknown>"),
                Value::Null
            ]
        );
    }

    #[test]
    fn escaped_annotation_keys_and_filters_work_in_columns() {
        let cols: Vec<PrinterColumn> = serde_json::from_value(json!([
            {"name": "Default", "type": "string",
             "jsonPath": ".metadata.annotations.virtualmachineclass\\.virtualization\\.deckhouse\\.io\\/is-default-class"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"}
        ]))
        .unwrap();
        let obj = json!({
            "metadata": {"name": "generic", "annotations": {"virtualmachineclass.virtualization.deckhouse.io/is-default-class": "true"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        assert_eq!(
            cells(&cols, &obj, 0),
            vec![json!("generic"), json!("true"), json!("True")]
        );
    }

    #[test]
    fn future_timestamps_within_a_second_are_zero() {
        let cols = default_printer_columns();
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "1970-01-01T00:00:11Z"}});
        assert_eq!(cells(&cols, &obj, 10)[1], json!("0s"));
        assert_eq!(cells(&cols, &obj, 5)[1], json!("<invalid>"));
    }

    #[test]
    fn partial_metadata_drops_managed_fields() {
        let obj = json!({"kind": "VirtualMachine", "metadata": {"name": "a", "managedFields": [{}], "labels": {"x": "y"}}, "spec": {}});
        assert_eq!(
            partial_object_metadata(&obj),
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "a", "labels": {"x": "y"}}})
        );
    }
}
