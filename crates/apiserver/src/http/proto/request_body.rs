//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) → JSON objects.
//!
//! kubectl's typed generators (`create secret|configmap|namespace|service`) POST their object as
//! the 4-byte magic `k8s\0` followed by a `runtime.Unknown` envelope whose `raw` field holds the
//! object message. This module turns the kinds those generators produce into the same JSON the
//! server receives from `application/json` clients. The message layouts are field-number tables
//! taken from `k8s.io/api/core/v1` and `k8s.io/apimachinery/pkg/apis/meta/v1`.
//!
//! JSON shaping follows the Go types: plain (non-pointer) fields are omitted when they hold their
//! zero value (Go always writes them to protobuf, and its JSON tags say `omitempty`), pointer
//! fields are kept whenever they are present on the wire.

use base64::Engine;
use serde_json::{Map, Value};
use thiserror::Error;

use super::wire::{Reader, WireError, WireValue};

/// The prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8; 4] = b"k8s\0";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the body does not start with the Kubernetes protobuf prefix")]
    MissingMagic,
    #[error("the protobuf envelope names no kind")]
    MissingKind,
    #[error("protobuf bodies of {api_version}, Kind={kind} are not supported")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("protobuf content encoding {0:?} is not supported")]
    UnsupportedEncoding(String),
    #[error("{context}: {source}")]
    Wire {
        context: &'static str,
        source: WireError,
    },
    #[error("{0}.fieldsV1 does not hold JSON")]
    BadFieldsV1(&'static str),
}

/// How one field is read and rendered.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A plain string, omitted when empty.
    Str(&'static str),
    /// A string always rendered (non-`omitempty` in Go), or a pointer string kept when present.
    StrKept(&'static str),
    /// A plain bool, omitted when false.
    Bool(&'static str),
    /// A pointer bool, kept when present.
    BoolKept(&'static str),
    /// A plain int32/int64, omitted when zero.
    Int(&'static str),
    /// A pointer or non-`omitempty` int, kept when present.
    IntKept(&'static str),
    Strings(&'static str),
    StringMap(&'static str),
    /// `map<string, bytes>`, rendered with base64 values as JSON does.
    BytesMap(&'static str),
    /// `meta.v1.Time`: an empty message is the zero time (omitted).
    Time(&'static str),
    IntOrString(&'static str),
    /// `meta.v1.FieldsV1`: raw JSON bytes.
    FieldsV1(&'static str),
    Message(&'static str, &'static Message),
    Messages(&'static str, &'static Message),
}

#[derive(Debug)]
struct Message {
    name: &'static str,
    fields: &'static [(u32, Field)],
}

static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        (1, Field::Str("name")),
        (2, Field::Str("generateName")),
        (3, Field::Str("namespace")),
        (4, Field::Str("selfLink")),
        (5, Field::Str("uid")),
        (6, Field::Str("resourceVersion")),
        (7, Field::Int("generation")),
        (8, Field::Time("creationTimestamp")),
        (9, Field::Time("deletionTimestamp")),
        (10, Field::IntKept("deletionGracePeriodSeconds")),
        (11, Field::StringMap("labels")),
        (12, Field::StringMap("annotations")),
        (13, Field::Messages("ownerReferences", &OWNER_REFERENCE)),
        (14, Field::Strings("finalizers")),
        (17, Field::Messages("managedFields", &MANAGED_FIELDS_ENTRY)),
    ],
};

static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        (1, Field::StrKept("kind")),
        (3, Field::StrKept("name")),
        (4, Field::StrKept("uid")),
        (5, Field::StrKept("apiVersion")),
        (6, Field::BoolKept("controller")),
        (7, Field::BoolKept("blockOwnerDeletion")),
    ],
};

static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "ManagedFieldsEntry",
    fields: &[
        (1, Field::Str("manager")),
        (2, Field::Str("operation")),
        (3, Field::Str("apiVersion")),
        (4, Field::Time("time")),
        (6, Field::Str("fieldsType")),
        (7, Field::FieldsV1("fieldsV1")),
        (8, Field::Str("subresource")),
    ],
};

static CONDITION: Message = Message {
    name: "Condition",
    fields: &[
        (1, Field::StrKept("type")),
        (2, Field::StrKept("status")),
        (3, Field::Int("observedGeneration")),
        (4, Field::Time("lastTransitionTime")),
        (5, Field::StrKept("reason")),
        (6, Field::StrKept("message")),
    ],
};

static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        (1, Field::Message("metadata", &OBJECT_META)),
        (2, Field::BytesMap("data")),
        (3, Field::Str("type")),
        (4, Field::StringMap("stringData")),
        (5, Field::BoolKept("immutable")),
    ],
};

static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        (1, Field::Message("metadata", &OBJECT_META)),
        (2, Field::StringMap("data")),
        (3, Field::BytesMap("binaryData")),
        (4, Field::BoolKept("immutable")),
    ],
};

static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        (1, Field::Message("metadata", &OBJECT_META)),
        (2, Field::Message("spec", &NAMESPACE_SPEC)),
        (3, Field::Message("status", &NAMESPACE_STATUS)),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[(1, Field::Strings("finalizers"))],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[
        (1, Field::Str("phase")),
        (2, Field::Messages("conditions", &NAMESPACE_CONDITION)),
    ],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        (1, Field::StrKept("type")),
        (2, Field::StrKept("status")),
        (4, Field::Time("lastTransitionTime")),
        (5, Field::Str("reason")),
        (6, Field::Str("message")),
    ],
};

static SERVICE: Message = Message {
    name: "Service",
    fields: &[
        (1, Field::Message("metadata", &OBJECT_META)),
        (2, Field::Message("spec", &SERVICE_SPEC)),
        (3, Field::Message("status", &SERVICE_STATUS)),
    ],
};

static SERVICE_SPEC: Message = Message {
    name: "ServiceSpec",
    fields: &[
        (1, Field::Messages("ports", &SERVICE_PORT)),
        (2, Field::StringMap("selector")),
        (3, Field::Str("clusterIP")),
        (4, Field::Str("type")),
        (5, Field::Strings("externalIPs")),
        (7, Field::Str("sessionAffinity")),
        (8, Field::Str("loadBalancerIP")),
        (9, Field::Strings("loadBalancerSourceRanges")),
        (10, Field::Str("externalName")),
        (11, Field::Str("externalTrafficPolicy")),
        (12, Field::Int("healthCheckNodePort")),
        (13, Field::Bool("publishNotReadyAddresses")),
        (
            14,
            Field::Message("sessionAffinityConfig", &SESSION_AFFINITY_CONFIG),
        ),
        (17, Field::StrKept("ipFamilyPolicy")),
        (18, Field::Strings("clusterIPs")),
        (19, Field::Strings("ipFamilies")),
        (20, Field::BoolKept("allocateLoadBalancerNodePorts")),
        (21, Field::StrKept("loadBalancerClass")),
        (22, Field::StrKept("internalTrafficPolicy")),
        (23, Field::StrKept("trafficDistribution")),
    ],
};

static SESSION_AFFINITY_CONFIG: Message = Message {
    name: "SessionAffinityConfig",
    fields: &[(1, Field::Message("clientIP", &CLIENT_IP_CONFIG))],
};

static CLIENT_IP_CONFIG: Message = Message {
    name: "ClientIPConfig",
    fields: &[(1, Field::IntKept("timeoutSeconds"))],
};

static SERVICE_PORT: Message = Message {
    name: "ServicePort",
    fields: &[
        (1, Field::Str("name")),
        (2, Field::Str("protocol")),
        (3, Field::IntKept("port")),
        (4, Field::IntOrString("targetPort")),
        (5, Field::Int("nodePort")),
        (6, Field::StrKept("appProtocol")),
    ],
};

static SERVICE_STATUS: Message = Message {
    name: "ServiceStatus",
    fields: &[
        (1, Field::Message("loadBalancer", &LOAD_BALANCER_STATUS)),
        (2, Field::Messages("conditions", &CONDITION)),
    ],
};

static LOAD_BALANCER_STATUS: Message = Message {
    name: "LoadBalancerStatus",
    fields: &[(1, Field::Messages("ingress", &LOAD_BALANCER_INGRESS))],
};

static LOAD_BALANCER_INGRESS: Message = Message {
    name: "LoadBalancerIngress",
    fields: &[
        (1, Field::Str("ip")),
        (2, Field::Str("hostname")),
        (3, Field::StrKept("ipMode")),
        (4, Field::Messages("ports", &PORT_STATUS)),
    ],
};

static PORT_STATUS: Message = Message {
    name: "PortStatus",
    fields: &[
        (1, Field::IntKept("port")),
        (2, Field::StrKept("protocol")),
        (3, Field::StrKept("error")),
    ],
};

/// The object message of a supported `apiVersion`/`kind`.
fn object_message(api_version: &str, kind: &str) -> Option<&'static Message> {
    if api_version != "v1" {
        return None;
    }
    match kind {
        "Secret" => Some(&SECRET),
        "ConfigMap" => Some(&CONFIG_MAP),
        "Namespace" => Some(&NAMESPACE),
        "Service" => Some(&SERVICE),
        _ => None,
    }
}

fn wire(context: &'static str) -> impl Fn(WireError) -> BodyError {
    move |source| BodyError::Wire { context, source }
}

/// The fields of `runtime.Unknown` this server reads.
#[derive(Debug, Default, PartialEq, Eq)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

fn read_envelope(bytes: &[u8]) -> Result<Envelope<'_>, BodyError> {
    let err = wire("runtime.Unknown");
    let mut env = Envelope::default();
    let mut r = Reader::new(bytes);
    while let Some((n, v)) = r.next_field().map_err(&err)? {
        match n {
            1 => {
                let mut tm = Reader::new(v.as_bytes(n).map_err(&err)?);
                while let Some((tn, tv)) = tm.next_field().map_err(wire("TypeMeta"))? {
                    match tn {
                        1 => env.api_version = tv.as_str(tn).map_err(wire("TypeMeta"))?.into(),
                        2 => env.kind = tv.as_str(tn).map_err(wire("TypeMeta"))?.into(),
                        _ => {}
                    }
                }
            }
            2 => env.raw = v.as_bytes(n).map_err(&err)?,
            3 => env.content_encoding = v.as_str(n).map_err(&err)?.into(),
            _ => {}
        }
    }
    Ok(env)
}

/// Decode a whole request body (magic + envelope + object) into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, BodyError> {
    let rest = body.strip_prefix(MAGIC).ok_or(BodyError::MissingMagic)?;
    let env = read_envelope(rest)?;
    if env.kind.is_empty() {
        return Err(BodyError::MissingKind);
    }
    let Some(message) = object_message(&env.api_version, &env.kind) else {
        return Err(BodyError::UnsupportedKind {
            api_version: env.api_version,
            kind: env.kind,
        });
    };
    if !env.content_encoding.is_empty() {
        return Err(BodyError::UnsupportedEncoding(env.content_encoding));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(env.api_version));
    obj.insert("kind".into(), Value::String(env.kind));
    obj.extend(read_message(message, env.raw)?);
    Ok(Value::Object(obj))
}

fn read_message(m: &'static Message, bytes: &[u8]) -> Result<Map<String, Value>, BodyError> {
    let err = wire(m.name);
    let mut out = Map::new();
    let mut r = Reader::new(bytes);
    while let Some((n, v)) = r.next_field().map_err(&err)? {
        // Unknown fields are skipped, as the Go decoder does (newer clients, removed fields).
        let Some((_, field)) = m.fields.iter().find(|(num, _)| *num == n) else {
            continue;
        };
        read_field(m, *field, n, v, &mut out)?;
    }
    Ok(out)
}

fn push(out: &mut Map<String, Value>, key: &str, item: Value) {
    match out
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(items) => items.push(item),
        other => *other = Value::Array(vec![item]),
    }
}

fn map_entry<'a>(m: &'static Message, bytes: &'a [u8]) -> Result<(String, &'a [u8]), BodyError> {
    let err = wire(m.name);
    let (mut key, mut value) = (String::new(), &[][..]);
    let mut r = Reader::new(bytes);
    while let Some((n, v)) = r.next_field().map_err(&err)? {
        match n {
            1 => key = v.as_str(n).map_err(&err)?.to_string(),
            2 => value = v.as_bytes(n).map_err(&err)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn insert_map_entry(out: &mut Map<String, Value>, key: &str, entry_key: String, value: Value) {
    let map = out
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(map) = map {
        map.insert(entry_key, value);
    }
}

fn read_field(
    m: &'static Message,
    field: Field,
    n: u32,
    v: WireValue<'_>,
    out: &mut Map<String, Value>,
) -> Result<(), BodyError> {
    let err = wire(m.name);
    match field {
        Field::Str(key) => {
            let s = v.as_str(n).map_err(&err)?;
            if s.is_empty() {
                out.remove(key);
            } else {
                out.insert(key.into(), Value::String(s.into()));
            }
        }
        Field::StrKept(key) => {
            out.insert(key.into(), Value::String(v.as_str(n).map_err(&err)?.into()));
        }
        Field::Bool(key) => {
            if v.as_varint(n).map_err(&err)? != 0 {
                out.insert(key.into(), Value::Bool(true));
            } else {
                out.remove(key);
            }
        }
        Field::BoolKept(key) => {
            out.insert(key.into(), Value::Bool(v.as_varint(n).map_err(&err)? != 0));
        }
        Field::Int(key) => {
            let i = v.as_varint(n).map_err(&err)? as i64;
            if i == 0 {
                out.remove(key);
            } else {
                out.insert(key.into(), Value::from(i));
            }
        }
        Field::IntKept(key) => {
            out.insert(
                key.into(),
                Value::from(v.as_varint(n).map_err(&err)? as i64),
            );
        }
        Field::Strings(key) => push(out, key, Value::String(v.as_str(n).map_err(&err)?.into())),
        Field::StringMap(key) => {
            let (k, value) = map_entry(m, v.as_bytes(n).map_err(&err)?)?;
            let value = std::str::from_utf8(value)
                .map_err(|_| BodyError::Wire {
                    context: m.name,
                    source: WireError::NotUtf8(n),
                })?
                .to_string();
            insert_map_entry(out, key, k, Value::String(value));
        }
        Field::BytesMap(key) => {
            let (k, value) = map_entry(m, v.as_bytes(n).map_err(&err)?)?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            insert_map_entry(out, key, k, Value::String(encoded));
        }
        Field::Time(key) => match read_time(v.as_bytes(n).map_err(&err)?)? {
            Some(t) => {
                out.insert(key.into(), Value::String(t));
            }
            None => {
                out.remove(key);
            }
        },
        Field::IntOrString(key) => {
            out.insert(
                key.into(),
                read_int_or_string(v.as_bytes(n).map_err(&err)?)?,
            );
        }
        Field::FieldsV1(key) => {
            let raw = read_fields_v1(v.as_bytes(n).map_err(&err)?)?;
            let json = serde_json::from_slice(raw).map_err(|_| BodyError::BadFieldsV1(m.name))?;
            out.insert(key.into(), json);
        }
        Field::Message(key, inner) => {
            let value = read_message(inner, v.as_bytes(n).map_err(&err)?)?;
            out.insert(key.into(), Value::Object(value));
        }
        Field::Messages(key, inner) => {
            let value = read_message(inner, v.as_bytes(n).map_err(&err)?)?;
            push(out, key, Value::Object(value));
        }
    }
    Ok(())
}

/// `meta.v1.Time` (seconds, nanos) as RFC 3339 with second precision, as JSON renders it.
fn read_time(bytes: &[u8]) -> Result<Option<String>, BodyError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let err = wire("Time");
    let mut seconds = 0i64;
    let mut r = Reader::new(bytes);
    while let Some((n, v)) = r.next_field().map_err(&err)? {
        if n == 1 {
            seconds = v.as_varint(n).map_err(&err)? as i64;
        }
    }
    Ok(Some(dvp_apimachinery::duration::format_rfc3339(seconds)))
}

/// `intstr.IntOrString` (type, intVal, strVal) as a JSON number or string.
fn read_int_or_string(bytes: &[u8]) -> Result<Value, BodyError> {
    let err = wire("IntOrString");
    let (mut is_string, mut int_val, mut str_val) = (false, 0i64, String::new());
    let mut r = Reader::new(bytes);
    while let Some((n, v)) = r.next_field().map_err(&err)? {
        match n {
            1 => is_string = v.as_varint(n).map_err(&err)? == 1,
            2 => int_val = i64::from(v.as_varint(n).map_err(&err)? as i32),
            3 => str_val = v.as_str(n).map_err(&err)?.to_string(),
            _ => {}
        }
    }
    Ok(if is_string {
        Value::String(str_val)
    } else {
        Value::from(int_val)
    })
}

fn read_fields_v1(bytes: &[u8]) -> Result<&[u8], BodyError> {
    let err = wire("FieldsV1");
    let mut raw: &[u8] = b"{}";
    let mut r = Reader::new(bytes);
    while let Some((n, v)) = r.next_field().map_err(&err)? {
        if n == 1 {
            raw = v.as_bytes(n).map_err(&err)?;
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::super::wire::Writer;
    use super::*;
    use serde_json::json;

    /// A body as kubectl frames it: magic, then `runtime.Unknown{typeMeta, raw}`.
    fn framed(api_version: &str, kind: &str, object: Vec<u8>) -> Vec<u8> {
        let mut env = Writer::new();
        env.message(1, |tm| {
            tm.string(1, api_version);
            tm.string(2, kind);
        });
        env.bytes(2, &object);
        env.string(3, "");
        env.string(4, "");
        let mut body = MAGIC.to_vec();
        body.extend(env.into_bytes());
        body
    }

    /// ObjectMeta as Go writes it: every plain string present, empty time messages.
    fn meta(w: &mut Writer, name: &str, namespace: &str) {
        w.message(1, |m| {
            m.string(1, name);
            m.string(2, "");
            m.string(3, namespace);
            m.string(4, "");
            m.string(5, "");
            m.string(6, "");
            m.uint(7, 0);
            m.message(8, |_| {});
        });
    }

    fn entry(w: &mut Writer, field: u32, key: &str, value: &[u8]) {
        w.message(field, |e| {
            e.string(1, key);
            e.bytes(2, value);
        });
    }

    #[test]
    fn secret_data_becomes_base64_and_empty_meta_fields_vanish() {
        let mut s = Writer::new();
        meta(&mut s, "s", "");
        entry(&mut s, 2, "a", b"b");
        s.string(3, "Opaque");
        let got = decode(&framed("v1", "Secret", s.into_bytes())).unwrap();
        assert_eq!(
            got,
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
                   "data":{"a":"Yg=="},"type":"Opaque"})
        );
    }

    #[test]
    fn secret_keeps_custom_type_and_binary_values() {
        let mut s = Writer::new();
        meta(&mut s, "cloud-init", "default");
        entry(&mut s, 2, "userData", &[0, 255, b'\n']);
        s.string(3, "provisioning.virtualization.deckhouse.io/cloud-init");
        let got = decode(&framed("v1", "Secret", s.into_bytes())).unwrap();
        assert_eq!(
            got["type"],
            "provisioning.virtualization.deckhouse.io/cloud-init"
        );
        assert_eq!(got["data"]["userData"], "AP8K");
        assert_eq!(got["metadata"]["namespace"], "default");
    }

    #[test]
    fn immutable_false_is_kept_because_it_is_a_pointer() {
        let mut s = Writer::new();
        meta(&mut s, "s", "");
        s.bool(5, false);
        let got = decode(&framed("v1", "Secret", s.into_bytes())).unwrap();
        assert_eq!(got["immutable"], false);
    }

    #[test]
    fn configmap_data_and_binary_data() {
        let mut c = Writer::new();
        meta(&mut c, "c", "");
        entry(&mut c, 2, "x", b"y");
        entry(&mut c, 3, "bin", b"\x01");
        let got = decode(&framed("v1", "ConfigMap", c.into_bytes())).unwrap();
        assert_eq!(got["data"], json!({"x": "y"}));
        assert_eq!(got["binaryData"], json!({"bin": "AQ=="}));
    }

    #[test]
    fn namespace_with_empty_spec_and_status() {
        let mut n = Writer::new();
        meta(&mut n, "foo", "");
        n.message(2, |_| {});
        n.message(3, |st| st.string(1, ""));
        let got = decode(&framed("v1", "Namespace", n.into_bytes())).unwrap();
        assert_eq!(
            got,
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"foo"},"spec":{},"status":{}})
        );
    }

    #[test]
    fn service_ports_with_int_target_port_and_selector() {
        let mut svc = Writer::new();
        meta(&mut svc, "web", "");
        svc.message(2, |spec| {
            spec.message(1, |p| {
                p.string(1, "80-8080");
                p.string(2, "TCP");
                p.uint(3, 80);
                p.message(4, |t| {
                    t.uint(1, 0);
                    t.uint(2, 8080);
                    t.string(3, "");
                });
                p.uint(5, 0);
            });
            spec.message(2, |e| {
                e.string(1, "app");
                e.string(2, "web");
            });
            spec.string(3, "");
            spec.string(4, "ClusterIP");
            spec.bool(13, false);
        });
        svc.message(3, |st| st.message(1, |_| {}));
        let got = decode(&framed("v1", "Service", svc.into_bytes())).unwrap();
        assert_eq!(
            got["spec"],
            json!({"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],
                   "selector":{"app":"web"},"type":"ClusterIP"})
        );
        assert_eq!(got["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn string_target_port_stays_a_string() {
        let mut t = Writer::new();
        t.uint(1, 1);
        t.uint(2, 0);
        t.string(3, "http");
        assert_eq!(read_int_or_string(&t.into_bytes()).unwrap(), json!("http"));
    }

    #[test]
    fn creation_timestamp_renders_as_rfc3339() {
        let mut t = Writer::new();
        t.int(1, 1_700_000_000);
        t.uint(2, 5);
        assert_eq!(
            read_time(&t.into_bytes()).unwrap().as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
    }

    #[test]
    fn labels_annotations_owner_references_and_finalizers() {
        let mut s = Writer::new();
        s.message(1, |m| {
            m.string(1, "s");
            m.message(11, |e| {
                e.string(1, "app");
                e.string(2, "x");
            });
            m.message(12, |e| {
                e.string(1, "note");
                e.string(2, "");
            });
            m.message(13, |o| {
                o.string(1, "VirtualMachine");
                o.string(3, "vm");
                o.string(4, "u-1");
                o.string(5, "virtualization.deckhouse.io/v1alpha2");
                o.bool(6, true);
            });
            m.string(14, "a");
            m.string(14, "b");
            m.int(10, 0);
        });
        let got = decode(&framed("v1", "Secret", s.into_bytes())).unwrap();
        assert_eq!(
            got["metadata"],
            json!({"name":"s","labels":{"app":"x"},"annotations":{"note":""},
                   "ownerReferences":[{"kind":"VirtualMachine","name":"vm","uid":"u-1",
                       "apiVersion":"virtualization.deckhouse.io/v1alpha2","controller":true}],
                   "finalizers":["a","b"],"deletionGracePeriodSeconds":0})
        );
    }

    #[test]
    fn managed_fields_v1_is_parsed_as_json() {
        let mut s = Writer::new();
        s.message(1, |m| {
            m.message(17, |e| {
                e.string(1, "kubectl-create");
                e.string(2, "Update");
                e.message(7, |f| f.bytes(1, br#"{"f:data":{}}"#));
            });
        });
        let got = decode(&framed("v1", "Secret", s.into_bytes())).unwrap();
        assert_eq!(
            got["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {}})
        );
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut s = Writer::new();
        meta(&mut s, "s", "");
        s.string(99, "from the future");
        let got = decode(&framed("v1", "Secret", s.into_bytes())).unwrap();
        assert_eq!(got["metadata"]["name"], "s");
        assert!(got.get("99").is_none());
    }

    #[test]
    fn other_kinds_are_unsupported() {
        let err = decode(&framed("apps/v1", "Deployment", vec![])).unwrap_err();
        assert_eq!(
            err,
            BodyError::UnsupportedKind {
                api_version: "apps/v1".into(),
                kind: "Deployment".into()
            }
        );
    }

    #[test]
    fn missing_magic_is_reported() {
        assert_eq!(decode(b"{}"), Err(BodyError::MissingMagic));
    }

    #[test]
    fn missing_kind_is_reported() {
        let mut body = MAGIC.to_vec();
        body.extend([0x12, 0x00]);
        assert_eq!(decode(&body), Err(BodyError::MissingKind));
    }

    #[test]
    fn content_encoding_is_rejected() {
        let mut env = Writer::new();
        env.message(1, |tm| {
            tm.string(1, "v1");
            tm.string(2, "Secret");
        });
        env.string(3, "gzip");
        let mut body = MAGIC.to_vec();
        body.extend(env.into_bytes());
        assert_eq!(
            decode(&body),
            Err(BodyError::UnsupportedEncoding("gzip".into()))
        );
    }

    #[test]
    fn wrong_wire_type_names_the_message() {
        let mut s = Writer::new();
        s.uint(1, 5);
        let err = decode(&framed("v1", "Secret", s.into_bytes())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Secret: protobuf field 1 has wire type varint, expected length-delimited"
        );
    }

    /// A tiny deterministic generator, so failures reproduce.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let len = (xorshift(&mut state) % 64) as usize;
            let mut body = MAGIC.to_vec();
            body.extend((0..len).map(|_| xorshift(&mut state) as u8));
            let _ = decode(&body);
        }
    }

    #[test]
    fn mutated_valid_bodies_never_panic() {
        let mut svc = Writer::new();
        meta(&mut svc, "web", "default");
        svc.message(2, |spec| {
            spec.message(1, |p| {
                p.uint(3, 80);
                p.message(4, |t| t.uint(2, 8080));
            });
            spec.string(4, "ClusterIP");
        });
        let valid = framed("v1", "Service", svc.into_bytes());
        assert!(decode(&valid).is_ok());
        let mut state = 0x1234_5678_9abc_def1u64;
        for _ in 0..20_000 {
            let mut body = valid.clone();
            for _ in 0..=(xorshift(&mut state) % 4) {
                let at = 4 + (xorshift(&mut state) as usize) % (body.len() - 4);
                body[at] = xorshift(&mut state) as u8;
            }
            if xorshift(&mut state).is_multiple_of(3) {
                let cut = 4 + (xorshift(&mut state) as usize) % (body.len() - 4);
                body.truncate(cut);
            }
            let _ = decode(&body);
        }
    }
}
