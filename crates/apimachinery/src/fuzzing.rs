//! Entry points for fuzzers (cargo-fuzz targets and the randomized tests below): arbitrary bytes
//! in, and the only acceptable outcome is "no panic".
//!
//! Inputs that are not JSON are decoded by a tiny structured decoder, so random bytes still turn
//! into objects full of Kubernetes-looking keys and patch directives.

use serde_json::{Map, Value};

use crate::jsonpath::{JsonPath, render_text};
use crate::patch::{
    apply_patch, core_patch_meta, json_patch, merge_patch, record_update, strategic_merge_patch,
};
use crate::quantity::Quantity;
use crate::schema::{apply_defaults, prune, validate};
use crate::selector::{FieldSelector, LabelSelector};

const NOW: &str = "2026-11-21T11:26:23Z";

/// Split the input into a target and a patch document and run every patch function on them.
pub fn fuzz_patch(data: &[u8]) {
    let (a, b) = split(data);
    let target = decode(a);
    let patch = decode(b);

    let mut t = target.clone();
    merge_patch(&mut t, &patch);

    // The patch document as given, and the same bytes read as a list of operations.
    let ops = Decoder { bytes: b, pos: 0 }.operations();
    for ops in [&patch, &ops] {
        let mut t = target.clone();
        if json_patch(&mut t, ops).is_err() {
            assert_eq!(t, target, "a failed JSON patch must not change the target");
        }
    }

    for kind in ["Pod", "Service", "Node"] {
        let mut t = target.clone();
        let before = t.clone();
        if strategic_merge_patch(&mut t, &patch, &core_patch_meta(kind)).is_err() {
            assert_eq!(
                t, before,
                "a failed strategic merge patch must not change the target"
            );
        }
    }

    for force in [false, true] {
        if let Ok(applied) = apply_patch(Some(&target), &patch, "fuzz", "v1", force, NOW) {
            // Applying the same configuration again must not conflict with ourselves.
            let again = apply_patch(Some(&applied), &patch, "fuzz", "v1", false, NOW);
            assert!(
                again.is_ok(),
                "re-applying the same configuration conflicted: {again:?}"
            );
        }
    }
    let _ = apply_patch(None, &patch, "fuzz", "v1", false, NOW);
    // The same target with every field owned by another manager, and a configuration derived
    // from the target by changing, dropping and nulling some of its fields: applies conflict.
    let mut owned = target.clone();
    record_update(None, &mut owned, "other", "v1", NOW, true);
    let derived = Decoder { bytes: b, pos: 0 }.mutate(&target, 0);
    for config in [&patch, &derived] {
        for force in [false, true] {
            if let Ok(applied) = apply_patch(Some(&owned), config, "fuzz", "v1", force, NOW) {
                let again = apply_patch(Some(&applied), config, "fuzz", "v1", false, NOW);
                assert!(
                    again.is_ok(),
                    "re-applying the same configuration conflicted: {again:?}"
                );
            }
        }
    }
    let mut t = target.clone();
    let _ = strategic_merge_patch(&mut t, &derived, &core_patch_meta("Pod"));
    let mut after = derived.clone();
    record_update(Some(&owned), &mut after, "fuzz", "v1", NOW, true);

    for include_status in [false, true] {
        let mut after = patch.clone();
        record_update(Some(&target), &mut after, "fuzz", "v1", NOW, include_status);
        let mut created = target.clone();
        record_update(None, &mut created, "fuzz", "v1", NOW, include_status);
    }
}

/// Split the input into an object and a structural schema and run prune, default and validate.
pub fn fuzz_schema(data: &[u8]) {
    let (a, b) = split(data);
    let mut obj = decode(a);
    let schema = decode(b);
    let _ = validate(&obj, &schema);
    apply_defaults(&mut obj, &schema);
    let _ = prune(&mut obj, &schema);
    let _ = validate(&obj, &schema);
}

/// Feed the input as text to every string parser (selectors, JSONPath, quantities).
pub fn fuzz_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = LabelSelector::parse(&text) {
        let reparsed = LabelSelector::parse(&s.to_string());
        assert_eq!(
            reparsed.as_ref(),
            Ok(&s),
            "a label selector must survive printing and parsing"
        );
        let _ = s.matches(Some(&serde_json::json!({"app": "web"})));
    }
    if let Ok(f) = FieldSelector::parse(&text) {
        let reparsed = FieldSelector::parse(&f.to_string());
        assert_eq!(
            reparsed.as_ref(),
            Ok(&f),
            "a field selector must survive printing and parsing"
        );
        let _ = f.matches(&|_| None);
    }
    if let Ok(p) = JsonPath::parse(&text) {
        let doc = serde_json::json!({"a": [{"b": 1, "c": "x"}, {"b": 2.5}], "d": {"e": null}});
        let _ = render_text(&p.eval(&doc));
    }
    if let Ok(q) = Quantity::parse(&text) {
        let reparsed = Quantity::parse(&q.to_string());
        assert_eq!(
            reparsed,
            Ok(q),
            "a quantity must survive printing and parsing ({text:?} → {q})"
        );
    }
}

/// At the first NUL byte, or in the middle.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => data.split_at(data.len() / 2),
    }
}

/// JSON when the bytes are JSON, otherwise a value built by [`Decoder`].
fn decode(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| Decoder { bytes, pos: 0 }.value(0))
}

const KEYS: &[&str] = &[
    "a",
    "b",
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "labels",
    "finalizers",
    "ownerReferences",
    "uid",
    "managedFields",
    "manager",
    "operation",
    "fieldsV1",
    "f:spec",
    "f:a",
    ".",
    "spec",
    "status",
    "ports",
    "port",
    "containers",
    "env",
    "conditions",
    "type",
    "$patch",
    "$retainKeys",
    "$setElementOrder/ports",
    "$deleteFromPrimitiveList/finalizers",
    "op",
    "path",
    "from",
    "value",
    "properties",
    "items",
    "required",
    "default",
    "nullable",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "enum",
    "pattern",
    "minimum",
    "maxLength",
    "anyOf",
];

const STRINGS: &[&str] = &[
    "",
    "x",
    "delete",
    "replace",
    "merge",
    "Apply",
    "Update",
    "add",
    "remove",
    "move",
    "copy",
    "test",
    "/a",
    "/spec/ports/0",
    "/spec/ports/-",
    "/metadata/finalizers/1",
    "object",
    "string",
    "integer",
    "array",
    "set",
    "map",
    "^a+$",
    "(",
    "1Gi",
];

/// Turns arbitrary bytes into a JSON value (bounded depth and size).
struct Decoder<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied();
        self.pos += 1;
        b
    }

    fn pick<'s>(&mut self, list: &[&'s str]) -> &'s str {
        list[self.next().unwrap_or(0) as usize % list.len()]
    }

    fn value(&mut self, depth: usize) -> Value {
        let Some(tag) = self.next() else {
            return Value::Null;
        };
        let composite_allowed = depth < 6;
        match tag % 12 {
            0 => Value::Null,
            1 => Value::Bool(tag & 0x80 != 0),
            2 => Value::from(i64::from(self.next().unwrap_or(0) as i8)),
            3 => Value::from(f64::from(self.next().unwrap_or(0)) / 4.0),
            4 => Value::String(self.pick(STRINGS).to_string()),
            5 if composite_allowed => {
                let n = self.next().unwrap_or(0) % 5;
                Value::Array((0..n).map(|_| self.value(depth + 1)).collect())
            }
            6 | 7 if composite_allowed => self.object(depth),
            8 if composite_allowed => self.operations(),
            9 if composite_allowed => {
                // An object with ownership records, so applies can conflict.
                let mut obj = self.object(depth);
                let n = self.next().unwrap_or(0) % 3 + 1;
                let entries: Vec<Value> = (0..n).map(|_| self.managed_fields_entry()).collect();
                if let Value::Object(m) = &mut obj {
                    m.insert(
                        "metadata".into(),
                        serde_json::json!({"name": "x", "managedFields": entries}),
                    );
                }
                obj
            }
            _ => Value::String(self.pick(KEYS).to_string()),
        }
    }

    fn object(&mut self, depth: usize) -> Value {
        let n = self.next().unwrap_or(0) % 6;
        let mut m = Map::new();
        for _ in 0..n {
            let k = self.pick(KEYS).to_string();
            m.insert(k, self.value(depth + 1));
        }
        Value::Object(m)
    }

    /// A copy of `v` with some members changed, removed or set to `null`.
    fn mutate(&mut self, v: &Value, depth: usize) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, child) in m {
                    match self.next().unwrap_or(0) % 6 {
                        0 => {}
                        1 => {
                            out.insert(k.clone(), Value::Null);
                        }
                        2 => {
                            out.insert(k.clone(), self.value(depth + 1));
                        }
                        _ => {
                            out.insert(k.clone(), self.mutate(child, depth + 1));
                        }
                    }
                }
                Value::Object(out)
            }
            other => {
                if self.next().unwrap_or(0).is_multiple_of(2) {
                    other.clone()
                } else {
                    self.value(depth + 1)
                }
            }
        }
    }

    fn operations(&mut self) -> Value {
        let n = self.next().unwrap_or(0) % 4 + 1;
        Value::Array((0..n).map(|_| self.operation(0)).collect())
    }

    fn operation(&mut self, depth: usize) -> Value {
        let mut m = Map::new();
        m.insert("op".into(), Value::String(self.pick(OPS).to_string()));
        m.insert(
            "path".into(),
            Value::String(self.pick(POINTERS).to_string()),
        );
        m.insert(
            "from".into(),
            Value::String(self.pick(POINTERS).to_string()),
        );
        m.insert("value".into(), self.value(depth + 1));
        Value::Object(m)
    }

    fn managed_fields_entry(&mut self) -> Value {
        serde_json::json!({
            "manager": self.pick(&["m1", "m2", "fuzz"]),
            "operation": self.pick(&["Update", "Apply"]),
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields_v1(0),
        })
    }

    fn fields_v1(&mut self, depth: usize) -> Value {
        let n = if depth < 3 {
            self.next().unwrap_or(0) % 3
        } else {
            0
        };
        let mut m = Map::new();
        for _ in 0..n {
            let k = self
                .pick(&[
                    "f:a",
                    "f:b",
                    "f:spec",
                    "f:ports",
                    "f:status",
                    ".",
                    "k:{\"port\":1}",
                ])
                .to_string();
            m.insert(k, self.fields_v1(depth + 1));
        }
        Value::Object(m)
    }
}

const OPS: &[&str] = &["add", "remove", "replace", "move", "copy", "test"];
const POINTERS: &[&str] = &[
    "",
    "/a",
    "/b",
    "/a/b",
    "/spec",
    "/spec/ports",
    "/spec/ports/0",
    "/spec/ports/-",
    "/status",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tiny deterministic generator (xorshift64*), enough to drive the randomized tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn bytes(&mut self, max_len: usize) -> Vec<u8> {
            let len = (self.next() as usize) % (max_len + 1);
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// How many random inputs each test feeds; `DVP_FUZZ_ITERATIONS` raises it for long runs.
    fn iterations(default: usize) -> usize {
        std::env::var("DVP_FUZZ_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// The generator seed; `DVP_FUZZ_SEED` changes it to explore other inputs.
    fn seed(default: u64) -> u64 {
        std::env::var("DVP_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(default, |s| s ^ default)
    }

    /// Mix raw random bytes with JSON renderings of decoded values (which take the JSON path).
    fn inputs(seed: u64, count: usize) -> Vec<Vec<u8>> {
        let mut rng = XorShift(seed);
        (0..count)
            .map(|i| {
                let raw = rng.bytes(200);
                if i % 2 == 0 {
                    raw
                } else {
                    let (a, b) = split(&raw);
                    let mut joined = decode(a).to_string().into_bytes();
                    joined.push(0);
                    joined.extend(decode(b).to_string().into_bytes());
                    joined
                }
            })
            .collect()
    }

    #[test]
    fn random_patches_never_panic() {
        for input in inputs(seed(0x5EED_0001), iterations(3000)) {
            fuzz_patch(&input);
        }
    }

    #[test]
    fn random_schemas_never_panic() {
        for input in inputs(seed(0x5EED_0002), iterations(2000)) {
            fuzz_schema(&input);
        }
    }

    #[test]
    fn random_text_never_panics() {
        let mut rng = XorShift(seed(0x5EED_0003));
        let alphabet = b"abk=!(),<>in notin.-_/0123456789$@[]?*'\"{}\\~eEKMGTPimun+";
        for _ in 0..iterations(3000) {
            let len = (rng.next() % 24) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng.next() as usize) % alphabet.len()])
                .collect();
            fuzz_text(&text);
        }
    }

    #[test]
    fn structured_patch_cases_never_panic() {
        let target = json!({"metadata": {"finalizers": ["a"], "managedFields": [{"manager": "m", "operation": "Update",
            "fieldsV1": {"f:spec": {"f:ports": {"k:{\"port\":1}": {}}}}}]}, "spec": {"ports": [{"port": 1}]}});
        let patches = [
            json!({"spec": {"ports": [{"$patch": "delete", "port": 1}], "$setElementOrder/ports": [{"port": 2}]}}),
            json!([{"op": "move", "from": "/spec", "path": "/spec/x"}]),
            json!({"spec": {"ports": "x"}, "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            json!(null),
            json!([]),
        ];
        for patch in patches {
            let mut input = target.to_string().into_bytes();
            input.push(0);
            input.extend(patch.to_string().into_bytes());
            fuzz_patch(&input);
        }
    }

    #[test]
    fn decoder_is_deterministic_and_bounded() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        assert_eq!(decode(&bytes), decode(&bytes));
        assert!(decode(&bytes).to_string().len() < 1_000_000);
    }
}
