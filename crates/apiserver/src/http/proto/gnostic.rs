//! Swagger 2.0 JSON → the gnostic `openapi.v2.Document` protobuf message kubectl downloads.
//!
//! Field numbers are those of gnostic's `openapiv2/OpenAPIv2.proto`. Values that are free-form
//! JSON in Swagger (`default`, `enum` members, `example`, `x-*` vendor extensions) travel as the
//! `yaml` string of an `Any` message; JSON text is valid YAML, so it is used as is. Only what the
//! server's own documents contain is encoded (no security definitions, headers or examples).

use serde_json::{Map, Value};

use super::wire::Writer;

/// Encode a whole Swagger 2.0 document.
pub fn encode_document(doc: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    let Some(d) = doc.as_object() else {
        return w.into_bytes();
    };
    string(&mut w, 1, d, "swagger");
    if let Some(info) = d.get("info").and_then(Value::as_object) {
        w.message(2, |m| {
            string(m, 1, info, "title");
            string(m, 2, info, "version");
            string(m, 3, info, "description");
            string(m, 4, info, "termsOfService");
            extensions(m, 7, info);
        });
    }
    string(&mut w, 3, d, "host");
    string(&mut w, 4, d, "basePath");
    strings(&mut w, 5, d, "schemes");
    strings(&mut w, 6, d, "consumes");
    strings(&mut w, 7, d, "produces");
    if let Some(paths) = d.get("paths").and_then(Value::as_object) {
        w.message(8, |m| encode_paths(m, paths));
    }
    if let Some(defs) = d.get("definitions").and_then(Value::as_object) {
        w.message(9, |m| {
            for (name, schema) in defs {
                named(m, 1, name, |v| encode_schema(v, schema));
            }
        });
    }
    extensions(&mut w, 16, d);
    w.into_bytes()
}

fn string(w: &mut Writer, field: u32, obj: &Map<String, Value>, key: &str) {
    if let Some(s) = obj.get(key).and_then(Value::as_str) {
        w.string(field, s);
    }
}

fn strings(w: &mut Writer, field: u32, obj: &Map<String, Value>, key: &str) {
    for s in obj
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        w.string(field, s);
    }
}

fn flag(w: &mut Writer, field: u32, obj: &Map<String, Value>, key: &str) {
    if obj.get(key).and_then(Value::as_bool) == Some(true) {
        w.bool(field, true);
    }
}

fn double(w: &mut Writer, field: u32, obj: &Map<String, Value>, key: &str) {
    if let Some(n) = obj.get(key).and_then(Value::as_f64) {
        w.double(field, n);
    }
}

fn int(w: &mut Writer, field: u32, obj: &Map<String, Value>, key: &str) {
    if let Some(n) = obj.get(key).and_then(Value::as_i64) {
        w.int(field, n);
    }
}

/// An `Any` carrying `value` as YAML text.
fn any(w: &mut Writer, field: u32, value: &Value) {
    let text = serde_json::to_string(value).expect("JSON serializes");
    w.message(field, |a| a.string(2, &text));
}

/// A `Named*` pair: name = 1, value = 2.
fn named(w: &mut Writer, field: u32, name: &str, value: impl FnOnce(&mut Writer)) {
    w.message(field, |n| {
        n.string(1, name);
        n.message(2, value);
    });
}

/// Every `x-*` key of `obj` as a repeated `NamedAny`.
fn extensions(w: &mut Writer, field: u32, obj: &Map<String, Value>) {
    for (key, value) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
        named(w, field, key, |a| {
            a.string(2, &serde_json::to_string(value).expect("JSON serializes"))
        });
    }
}

fn encode_paths(w: &mut Writer, paths: &Map<String, Value>) {
    extensions(w, 1, paths);
    for (path, item) in paths.iter().filter(|(k, _)| !k.starts_with("x-")) {
        let Some(item) = item.as_object() else {
            continue;
        };
        named(w, 2, path, |p| {
            string(p, 1, item, "$ref");
            for (field, method) in [
                (2, "get"),
                (3, "put"),
                (4, "post"),
                (5, "delete"),
                (6, "options"),
                (7, "head"),
                (8, "patch"),
            ] {
                if let Some(op) = item.get(method).and_then(Value::as_object) {
                    p.message(field, |o| encode_operation(o, op));
                }
            }
            parameters(p, 9, item);
            extensions(p, 10, item);
        });
    }
}

fn encode_operation(w: &mut Writer, op: &Map<String, Value>) {
    strings(w, 1, op, "tags");
    string(w, 2, op, "summary");
    string(w, 3, op, "description");
    string(w, 5, op, "operationId");
    strings(w, 6, op, "produces");
    strings(w, 7, op, "consumes");
    parameters(w, 8, op);
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        w.message(9, |r| {
            for (code, resp) in responses.iter().filter(|(k, _)| !k.starts_with("x-")) {
                let Some(resp) = resp.as_object() else {
                    continue;
                };
                // NamedResponseValue → ResponseValue.response (1) → Response.
                named(r, 1, code, |rv| {
                    rv.message(1, |m| {
                        string(m, 1, resp, "description");
                        if let Some(schema) = resp.get("schema") {
                            m.message(2, |si| si.message(1, |s| encode_schema(s, schema)));
                        }
                        extensions(m, 5, resp);
                    })
                });
            }
            extensions(r, 2, responses);
        });
    }
    strings(w, 10, op, "schemes");
    flag(w, 11, op, "deprecated");
    extensions(w, 13, op);
}

/// Field numbers of the non-body parameter sub-schemas, which differ by location.
struct NonBodyFields {
    oneof: u32,
    allow_empty_value: Option<u32>,
    kind: u32,
    format: u32,
    unique_items: u32,
    extensions: u32,
}

const QUERY: NonBodyFields = NonBodyFields {
    oneof: 3,
    allow_empty_value: Some(5),
    kind: 6,
    format: 7,
    unique_items: 20,
    extensions: 23,
};
const FORM_DATA: NonBodyFields = NonBodyFields { oneof: 2, ..QUERY };
const PATH: NonBodyFields = NonBodyFields {
    oneof: 4,
    allow_empty_value: None,
    kind: 5,
    format: 6,
    unique_items: 19,
    extensions: 22,
};
const HEADER: NonBodyFields = NonBodyFields { oneof: 1, ..PATH };

/// `repeated ParametersItem` from a `parameters` array.
fn parameters(w: &mut Writer, field: u32, obj: &Map<String, Value>) {
    let params = obj.get("parameters").and_then(Value::as_array);
    for p in params.into_iter().flatten().filter_map(Value::as_object) {
        w.message(field, |item| {
            if let Some(reference) = p.get("$ref").and_then(Value::as_str) {
                item.message(2, |j| j.string(1, reference));
                return;
            }
            let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
            item.message(1, |param| {
                if location == "body" {
                    param.message(1, |b| {
                        string(b, 1, p, "description");
                        string(b, 2, p, "name");
                        string(b, 3, p, "in");
                        flag(b, 4, p, "required");
                        if let Some(schema) = p.get("schema") {
                            b.message(5, |s| encode_schema(s, schema));
                        }
                        extensions(b, 6, p);
                    });
                    return;
                }
                let f = match location {
                    "path" => PATH,
                    "header" => HEADER,
                    "formData" => FORM_DATA,
                    _ => QUERY,
                };
                param.message(2, |nb| {
                    nb.message(f.oneof, |s| {
                        flag(s, 1, p, "required");
                        string(s, 2, p, "in");
                        string(s, 3, p, "description");
                        string(s, 4, p, "name");
                        if let Some(n) = f.allow_empty_value {
                            flag(s, n, p, "allowEmptyValue");
                        }
                        string(s, f.kind, p, "type");
                        string(s, f.format, p, "format");
                        flag(s, f.unique_items, p, "uniqueItems");
                        extensions(s, f.extensions, p);
                    })
                });
            });
        });
    }
}

/// One `Schema` message.
fn encode_schema(w: &mut Writer, schema: &Value) {
    let Some(s) = schema.as_object() else {
        return;
    };
    string(w, 1, s, "$ref");
    string(w, 2, s, "format");
    string(w, 3, s, "title");
    string(w, 4, s, "description");
    if let Some(d) = s.get("default") {
        any(w, 5, d);
    }
    double(w, 6, s, "multipleOf");
    double(w, 7, s, "maximum");
    flag(w, 8, s, "exclusiveMaximum");
    double(w, 9, s, "minimum");
    flag(w, 10, s, "exclusiveMinimum");
    int(w, 11, s, "maxLength");
    int(w, 12, s, "minLength");
    string(w, 13, s, "pattern");
    int(w, 14, s, "maxItems");
    int(w, 15, s, "minItems");
    flag(w, 16, s, "uniqueItems");
    int(w, 17, s, "maxProperties");
    int(w, 18, s, "minProperties");
    strings(w, 19, s, "required");
    for e in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        any(w, 20, e);
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => w.message(21, |a| a.bool(2, *b)),
        Some(inner @ Value::Object(_)) => {
            w.message(21, |a| a.message(1, |m| encode_schema(m, inner)))
        }
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(t)) => w.message(22, |t_item| t_item.string(1, t)),
        Some(Value::Array(ts)) => w.message(22, |t_item| {
            for t in ts.iter().filter_map(Value::as_str) {
                t_item.string(1, t);
            }
        }),
        _ => {}
    }
    match s.get("items") {
        Some(Value::Array(items)) => w.message(23, |i| {
            for item in items {
                i.message(1, |m| encode_schema(m, item));
            }
        }),
        Some(item @ Value::Object(_)) => {
            w.message(23, |i| i.message(1, |m| encode_schema(m, item)))
        }
        _ => {}
    }
    for member in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.message(24, |m| encode_schema(m, member));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        w.message(25, |p| {
            for (name, prop) in props {
                named(p, 1, name, |v| encode_schema(v, prop));
            }
        });
    }
    string(w, 26, s, "discriminator");
    flag(w, 27, s, "readOnly");
    if let Some(e) = s.get("example") {
        any(w, 30, e);
    }
    extensions(w, 31, s);
}

#[cfg(test)]
mod tests {
    use super::super::wire::{Reader, WireValue};
    use super::*;
    use serde_json::json;

    /// Decoded fields of one message: number → values in order.
    fn fields(bytes: &[u8]) -> Vec<(u32, WireValue<'_>)> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while let Some(f) = r.next_field().expect("well-formed protobuf") {
            out.push(f);
        }
        out
    }

    fn field<'a>(bytes: &'a [u8], n: u32) -> Vec<WireValue<'a>> {
        fields(bytes)
            .into_iter()
            .filter(|(num, _)| *num == n)
            .map(|(_, v)| v)
            .collect()
    }

    fn text(bytes: &[u8], n: u32) -> Vec<&str> {
        field(bytes, n)
            .iter()
            .map(|v| v.as_str(n).unwrap())
            .collect()
    }

    fn one(bytes: &[u8], n: u32) -> &[u8] {
        let values = field(bytes, n);
        assert_eq!(values.len(), 1, "field {n} appears once");
        values[0].as_bytes(n).unwrap()
    }

    /// `repeated Named*` as (name, value bytes).
    fn named_pairs(bytes: &[u8], n: u32) -> Vec<(&str, &[u8])> {
        field(bytes, n)
            .iter()
            .map(|v| {
                let pair = v.as_bytes(n).unwrap();
                (text(pair, 1)[0], one(pair, 2))
            })
            .collect()
    }

    /// A `Schema` message back to the JSON subset kubectl's model parser reads.
    fn decode_schema(bytes: &[u8]) -> Value {
        let mut out = Map::new();
        if let Some(r) = text(bytes, 1).first() {
            out.insert("$ref".into(), json!(r));
        }
        if let Some(d) = text(bytes, 4).first() {
            out.insert("description".into(), json!(d));
        }
        let types: Vec<&str> = field(bytes, 22)
            .iter()
            .flat_map(|t| text(t.as_bytes(22).unwrap(), 1))
            .collect();
        if !types.is_empty() {
            out.insert("type".into(), json!(types));
        }
        let required = text(bytes, 19);
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
        if let Some(items) = field(bytes, 23).first() {
            let schemas: Vec<Value> = field(items.as_bytes(23).unwrap(), 1)
                .iter()
                .map(|s| decode_schema(s.as_bytes(1).unwrap()))
                .collect();
            out.insert("items".into(), Value::Array(schemas));
        }
        if let Some(ap) = field(bytes, 21).first() {
            let ap = ap.as_bytes(21).unwrap();
            let value = match field(ap, 2).first() {
                Some(WireValue::Varint(b)) => json!(*b != 0),
                _ => decode_schema(one(ap, 1)),
            };
            out.insert("additionalProperties".into(), value);
        }
        if let Some(props) = field(bytes, 25).first() {
            let props = named_pairs(props.as_bytes(25).unwrap(), 1)
                .into_iter()
                .map(|(k, v)| (k.to_string(), decode_schema(v)))
                .collect();
            out.insert("properties".into(), Value::Object(props));
        }
        for (name, any) in named_pairs(bytes, 31) {
            let yaml = text(any, 2)[0];
            out.insert(name.into(), serde_json::from_str(yaml).unwrap());
        }
        Value::Object(out)
    }

    #[test]
    fn swagger_version_and_info_are_fields_1_and_2() {
        let bytes =
            encode_document(&json!({"swagger": "2.0", "info": {"title": "K", "version": "v1"}}));
        assert_eq!(text(&bytes, 1), vec!["2.0"]);
        let info = one(&bytes, 2);
        assert_eq!(text(info, 1), vec!["K"]);
        assert_eq!(text(info, 2), vec!["v1"]);
    }

    #[test]
    fn schema_with_ref_is_exactly_tagged_bytes() {
        let mut w = Writer::new();
        encode_schema(&mut w, &json!({"$ref": "#/definitions/X"}));
        let mut expected = vec![0x0a, 15];
        expected.extend(b"#/definitions/X");
        assert_eq!(w.into_bytes(), expected);
    }

    #[test]
    fn type_is_a_type_item_message() {
        let mut w = Writer::new();
        encode_schema(&mut w, &json!({"type": "string"}));
        // field 22, wire type 2 → key 0xb2 0x01; TypeItem{value: "string"}.
        let mut expected = vec![0xb2, 0x01, 8, 0x0a, 6];
        expected.extend(b"string");
        assert_eq!(w.into_bytes(), expected);
    }

    #[test]
    fn definitions_round_trip_through_the_decoder() {
        let schema = json!({
            "description": "A thing.",
            "type": "object",
            "required": ["spec"],
            "properties": {
                "spec": {"type": "object", "properties": {
                    "cores": {"type": "integer", "format": "int32"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "additionalProperties": true},
                }},
                "metadata": {"$ref": "#/definitions/Meta"},
            },
            "x-kubernetes-group-version-kind": [{"group": "g", "version": "v", "kind": "K"}],
        });
        let bytes = encode_document(&json!({"definitions": {"g.v.K": schema}}));
        let defs = named_pairs(one(&bytes, 9), 1);
        assert_eq!(defs.len(), 1);
        assert_eq!(defs[0].0, "g.v.K");
        assert_eq!(
            decode_schema(defs[0].1),
            json!({
                "description": "A thing.",
                "type": ["object"],
                "required": ["spec"],
                "properties": {
                    "spec": {"type": ["object"], "properties": {
                        "cores": {"type": ["integer"]},
                        "tags": {"type": ["array"], "items": [{"type": ["string"]}]},
                        "labels": {"type": ["object"], "additionalProperties": {"type": ["string"]}},
                        "free": {"type": ["object"], "additionalProperties": true},
                    }},
                    "metadata": {"$ref": "#/definitions/Meta"},
                },
                "x-kubernetes-group-version-kind": [{"group": "g", "version": "v", "kind": "K"}],
            })
        );
    }

    #[test]
    fn enum_members_and_default_are_any_yaml() {
        let mut w = Writer::new();
        encode_schema(&mut w, &json!({"enum": ["A", "B"], "default": 3}));
        let bytes = w.into_bytes();
        let members: Vec<&str> = field(&bytes, 20)
            .iter()
            .map(|a| text(a.as_bytes(20).unwrap(), 2)[0])
            .collect();
        assert_eq!(members, vec!["\"A\"", "\"B\""]);
        assert_eq!(text(one(&bytes, 5), 2), vec!["3"]);
    }

    #[test]
    fn numeric_limits_use_double_and_int64_fields() {
        let mut w = Writer::new();
        encode_schema(&mut w, &json!({"minimum": 1, "maxLength": 63}));
        let bytes = w.into_bytes();
        assert_eq!(field(&bytes, 9), vec![WireValue::Fixed64(1f64.to_bits())]);
        assert_eq!(field(&bytes, 11), vec![WireValue::Varint(63)]);
    }

    fn patch_op(bytes: &[u8], path: &str) -> Vec<u8> {
        let paths = one(bytes, 8);
        let item = named_pairs(paths, 2)
            .into_iter()
            .find(|(p, _)| *p == path)
            .expect("path present")
            .1;
        one(item, 8).to_vec()
    }

    #[test]
    fn patch_operation_carries_gvk_consumes_and_query_parameters() {
        let doc = json!({"paths": {"/apis/g/v/ks/{name}": {"patch": {
            "consumes": ["application/merge-patch+json"],
            "parameters": [
                {"name": "body", "in": "body", "required": true, "schema": {"type": "object"}},
                {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true},
            ],
            "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/K"}}},
            "x-kubernetes-group-version-kind": {"group": "g", "version": "v", "kind": "K"},
        }}}});
        let bytes = encode_document(&doc);
        let op = patch_op(&bytes, "/apis/g/v/ks/{name}");
        assert_eq!(text(&op, 7), vec!["application/merge-patch+json"]);
        let gvk = named_pairs(&op, 13);
        assert_eq!(gvk[0].0, "x-kubernetes-group-version-kind");
        let yaml: Value = serde_json::from_str(text(gvk[0].1, 2)[0]).unwrap();
        assert_eq!(yaml, json!({"group": "g", "version": "v", "kind": "K"}));

        let params = field(&op, 8);
        // ParametersItem.parameter → Parameter.body_parameter.name
        let body = one(one(params[0].as_bytes(8).unwrap(), 1), 1);
        assert_eq!(text(body, 2), vec!["body"]);
        // ParametersItem.parameter → Parameter.non_body_parameter → query sub-schema .name
        let query = one(one(one(params[1].as_bytes(8).unwrap(), 1), 2), 3);
        assert_eq!(text(query, 4), vec!["dryRun"]);
        assert_eq!(text(query, 6), vec!["string"]);
        assert_eq!(field(query, 20), vec![WireValue::Varint(1)]);

        let responses = one(&op, 9);
        let ok = named_pairs(responses, 1);
        assert_eq!(ok[0].0, "200");
        let response = one(ok[0].1, 1);
        assert_eq!(text(response, 1), vec!["OK"]);
        let schema = one(one(response, 2), 1);
        assert_eq!(decode_schema(schema), json!({"$ref": "#/definitions/K"}));
    }

    #[test]
    fn path_parameters_use_the_path_sub_schema() {
        let doc = json!({"paths": {"/x/{name}": {"parameters": [
            {"name": "name", "in": "path", "required": true, "type": "string"}
        ]}}});
        let bytes = encode_document(&doc);
        let item = named_pairs(one(&bytes, 8), 2)[0].1;
        let param = field(item, 9)[0].as_bytes(9).unwrap();
        let path = one(one(one(param, 1), 2), 4);
        assert_eq!(text(path, 4), vec!["name"]);
        assert_eq!(text(path, 5), vec!["string"]);
        assert_eq!(field(path, 1), vec![WireValue::Varint(1)]);
    }

    /// The rules kubectl's v2 model parser (kube-openapi `proto.NewOpenAPIData`) enforces; a
    /// single violation makes kubectl discard the whole document.
    fn check_parsable(schema: &Value, defs: &Map<String, Value>, path: &str) {
        let s = schema.as_object().unwrap();
        let types = s
            .get("type")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert!(types.len() <= 1, "{path}: several types");
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            assert!(types.is_empty(), "{path}: $ref with a type");
            assert!(
                s.get("properties").is_none(),
                "{path}: $ref with properties"
            );
            let name = r.strip_prefix("#/definitions/").expect("definitions ref");
            assert!(defs.contains_key(name), "{path}: unknown model {name}");
            return;
        }
        match types.first().and_then(Value::as_str) {
            Some("array") => {
                let items = s["items"].as_array().expect("array items");
                assert_eq!(
                    items.len(),
                    1,
                    "{path}: array needs exactly one item schema"
                );
                check_parsable(&items[0], defs, &format!("{path}[]"));
            }
            Some("object") | None => {}
            Some(t) => assert!(
                ["string", "integer", "number", "boolean"].contains(&t),
                "{path}: unknown primitive {t}"
            ),
        }
        for (k, p) in s
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            check_parsable(p, defs, &format!("{path}.{k}"));
        }
        if let Some(ap @ Value::Object(_)) = s.get("additionalProperties") {
            check_parsable(ap, defs, &format!("{path}.*"));
        }
    }

    #[test]
    fn the_servers_document_is_parsable_by_kubectl_after_encoding() {
        let reg = crate::default_registry();
        let bytes = encode_document(&crate::http::openapi_v2::document(&reg));
        let defs: Map<String, Value> = named_pairs(one(&bytes, 9), 1)
            .into_iter()
            .map(|(k, v)| (k.to_string(), decode_schema(v)))
            .collect();
        assert!(defs.len() > 20);
        for (name, schema) in &defs {
            check_parsable(schema, &defs, name);
        }
        let vm = &defs["io.deckhouse.virtualization.v1alpha2.VirtualMachine"];
        assert_eq!(
            vm["properties"]["spec"]["properties"]["cpu"]["properties"]["cores"]["type"],
            json!(["integer"])
        );
    }
}
