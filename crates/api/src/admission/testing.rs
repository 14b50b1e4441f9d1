//! Test helpers: an in-memory [`Lookup`] and one-call admission wrappers.

use serde_json::Value;

use super::fields::str_at;
use super::{Lookup, Operation, Request, Response, admit, needs};

/// Objects "in the store", matched by `kind`, `metadata.namespace` and `metadata.name`.
#[derive(Default)]
pub struct Fake {
    pub objects: Vec<Value>,
}

impl Fake {
    pub fn with(objects: Vec<Value>) -> Self {
        Self { objects }
    }
}

fn ns_of(v: &Value) -> Option<&str> {
    str_at(v, "/metadata/namespace")
}

impl Lookup for Fake {
    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.objects
            .iter()
            .find(|o| {
                str_at(o, "/kind") == Some(kind)
                    && str_at(o, "/metadata/name") == Some(name)
                    && (namespace.is_none() || ns_of(o) == namespace)
            })
            .cloned()
    }
    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|o| {
                str_at(o, "/kind") == Some(kind) && (namespace.is_none() || ns_of(o) == namespace)
            })
            .cloned()
            .collect()
    }
}

/// The verdict plus the (possibly defaulted) object.
pub struct Outcome {
    pub resp: Response,
    pub obj: Value,
}

fn run(
    op: Operation,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    mut obj: Value,
    old: Option<&Value>,
    lookup: &dyn Lookup,
) -> Outcome {
    let req = Request {
        operation: op,
        kind,
        namespace: ns,
        name,
        object: Some(&mut obj),
        old_object: old,
        subresource: None,
    };
    // `needs` must not panic on any request we admit.
    let _ = needs(&req);
    let resp = admit(req, lookup);
    Outcome { resp, obj }
}

pub fn create(kind: &str, ns: Option<&str>, obj: Value, lookup: &dyn Lookup) -> Outcome {
    let name = str_at(&obj, "/metadata/name")
        .unwrap_or_default()
        .to_string();
    run(Operation::Create, kind, ns, &name, obj, None, lookup)
}

pub fn create_named(
    kind: &str,
    ns: Option<&str>,
    name: &str,
    obj: Value,
    lookup: &dyn Lookup,
) -> Outcome {
    run(Operation::Create, kind, ns, name, obj, None, lookup)
}

pub fn update(
    kind: &str,
    ns: Option<&str>,
    obj: Value,
    old: &Value,
    lookup: &dyn Lookup,
) -> Outcome {
    let name = str_at(&obj, "/metadata/name")
        .unwrap_or_default()
        .to_string();
    run(Operation::Update, kind, ns, &name, obj, Some(old), lookup)
}

pub fn delete(
    kind: &str,
    ns: Option<&str>,
    name: &str,
    old: &Value,
    lookup: &dyn Lookup,
) -> Response {
    let req = Request {
        operation: Operation::Delete,
        kind,
        namespace: ns,
        name,
        object: None,
        old_object: Some(old),
        subresource: None,
    };
    admit(req, lookup)
}

#[track_caller]
pub fn assert_ok(o: &Outcome) {
    assert!(
        o.resp.errors.is_empty(),
        "unexpected errors: {:#?}",
        o.resp
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
}

/// Some error is on `field` and its rendering contains `text`.
#[track_caller]
pub fn assert_error(o: &Outcome, field: &str, text: &str) {
    assert_response_error(&o.resp, field, text);
}

#[track_caller]
pub fn assert_response_error(r: &Response, field: &str, text: &str) {
    let rendered: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
    assert!(
        r.errors
            .iter()
            .any(|e| e.field == field && e.to_string().contains(text)),
        "no error on {field:?} containing {text:?}; got {rendered:#?}"
    );
}

#[track_caller]
pub fn assert_warning(o: &Outcome, text: &str) {
    assert!(
        o.resp.warnings.iter().any(|w| w.contains(text)),
        "no warning containing {text:?}; got {:#?}",
        o.resp.warnings
    );
}
