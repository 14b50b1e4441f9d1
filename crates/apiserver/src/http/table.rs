//! `meta.k8s.io/v1` Table responses: column definitions from the resource's printer, one row per
//! object with server-rendered cells and the row object kubectl needs for NAMESPACE/labels.

use dvp_apimachinery::table;
use serde_json::{Value, json};

use super::query::IncludeObject;
use crate::core_kinds;
use crate::objects;
use crate::resources::{Printer, Resource};

fn printer<'a>(res: &'a Resource, version: &str) -> &'a Printer {
    &res.version(version).unwrap_or(&res.versions[0]).printer
}

pub fn column_definitions(res: &Resource, version: &str) -> Vec<Value> {
    match printer(res, version) {
        Printer::Columns(cols) => table::column_definitions(cols),
        Printer::Builtin(kind) => core_kinds::column_definitions(*kind),
    }
}

pub fn row(res: &Resource, version: &str, obj: &Value, include: IncludeObject, now: i64) -> Value {
    let cells = match printer(res, version) {
        Printer::Columns(cols) => table::cells(cols, obj, now),
        Printer::Builtin(kind) => core_kinds::cells(*kind, obj, now),
    };
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = objects::partial_metadata(obj),
        IncludeObject::Object => row["object"] = obj.clone(),
    }
    row
}

/// A Table of `items`; `with_columns` is false for watch events after the first.
pub fn table(
    res: &Resource,
    version: &str,
    items: &[Value],
    resource_version: Option<u64>,
    include: IncludeObject,
    now: i64,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| row(res, version, o, include, now))
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "rows": rows,
    });
    if with_columns {
        t["columnDefinitions"] = Value::Array(column_definitions(res, version));
    }
    t
}
