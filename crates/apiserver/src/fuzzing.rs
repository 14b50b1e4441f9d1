//! Fuzzing entry point for request decoding: arbitrary bytes as the body of a create of any served
//! kind, through the same decoding, type checks, schema/typed processing and admission the server
//! runs. It must never panic. Used by the cargo-fuzz target in `fuzz/` and by a randomized test.

use std::sync::OnceLock;

use dvp_api::admission::{self, NoObjects, Operation, Request};
use serde_json::Value;

use crate::api::FieldValidation;
use crate::api::prepare;
use crate::resources::{Model, Registry};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(crate::default_registry)
}

/// `data[0]` picks the kind, `data[1]` the body format and field validation, the rest is the body.
pub fn fuzz_request(data: &[u8]) {
    let [kind, format, body @ ..] = data else {
        return;
    };
    let resources = registry().all();
    let res = &resources[*kind as usize % resources.len()];
    let decoded: Option<Value> = match format % 2 {
        0 => serde_json::from_slice(body).ok(),
        _ => std::str::from_utf8(body)
            .ok()
            .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(t).ok())
            .and_then(|y| serde_json::to_value(y).ok()),
    };
    let Some(mut obj) = decoded else { return };
    let fv = match (format / 2) % 3 {
        0 => FieldValidation::Strict,
        1 => FieldValidation::Warn,
        _ => FieldValidation::Ignore,
    };
    let version = res.versions[0].name.clone();
    if prepare::check_type(res, &version, &mut obj).is_err() {
        return;
    }
    if prepare::process(res, &version, &mut obj, fv).is_err() {
        return;
    }
    let Ok(mut obj) = res.convert(obj, &res.storage_version) else {
        return;
    };
    if res.model == Model::Custom {
        let name = crate::objects::name(&obj).to_string();
        let namespace = crate::objects::namespace(&obj).map(String::from);
        let _ = admission::admit(
            Request {
                operation: Operation::Create,
                kind: &res.kind,
                namespace: namespace.as_deref(),
                name: &name,
                object: Some(&mut obj),
                old_object: None,
                subresource: None,
            },
            &NoObjects,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator: no dependency, reproducible failures.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    const SEEDS: [&str; 3] = [
        r#"{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualMachine","metadata":{"name":"vm","namespace":"default"},"spec":{"virtualMachineClassName":"generic","cpu":{"cores":1,"coreFraction":"10%"},"memory":{"size":"1Gi"},"blockDeviceRefs":[{"kind":"VirtualDisk","name":"d"}],"provisioning":{"type":"UserData","userData":"x"}}}"#,
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"},"stringData":{"userData":"a"},"type":"Opaque"}"#,
        r#"{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage","metadata":{"name":"i"},"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"http://x/y.img"}}}}"#,
    ];

    #[test]
    fn random_mutations_of_real_bodies_never_panic() {
        let iterations: usize = std::env::var("DVP_FUZZ_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for i in 0..iterations {
            let seed = SEEDS[i % SEEDS.len()].as_bytes();
            let mut body = seed.to_vec();
            for _ in 0..(rng.next() % 4) {
                let pos = (rng.next() as usize) % body.len();
                match rng.next() % 3 {
                    0 => body[pos] = rng.next() as u8,
                    1 => {
                        body.remove(pos);
                    }
                    _ => body.insert(pos, b"{}[]\":,0-aZ%"[(rng.next() % 12) as usize]),
                }
            }
            // Mostly aim at the seed's own kind, so mutations get past the type check.
            let seed_kind = serde_json::from_slice::<Value>(seed).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string();
            let own = registry()
                .all()
                .iter()
                .position(|r| r.kind == seed_kind)
                .unwrap() as u8;
            let kind = if rng.next().is_multiple_of(4) {
                rng.next() as u8
            } else {
                own
            };
            let mut data = vec![kind, (rng.next() % 6) as u8 * 2];
            data.extend(body);
            fuzz_request(&data);
        }
    }

    #[test]
    fn unmutated_guide_vm_passes_processing() {
        let mut data = Vec::new();
        let idx = registry()
            .all()
            .iter()
            .position(|r| r.kind == "VirtualMachine")
            .unwrap();
        data.push(idx as u8);
        data.push(0);
        data.extend(SEEDS[0].as_bytes());
        fuzz_request(&data);
    }
}
