//! Admission throughput: how many creates per second `admit` handles on one core, for the objects
//! created most often. Run with `cargo run --release -p dvp-api --example admission_bench`.

use std::time::Instant;

use dvp_api::admission::{
    self, Lookup, Operation, Request, default_module_config, default_vmclass_generic,
};
use serde_json::{Value, json};

struct Store(Vec<Value>);

impl Lookup for Store {
    fn get(&self, kind: &str, _: Option<&str>, name: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .cloned()
    }
    fn list(&self, kind: &str, _: Option<&str>) -> Vec<Value> {
        self.0
            .iter()
            .filter(|o| o["kind"] == kind)
            .cloned()
            .collect()
    }
}

fn bench(label: &str, kind: &str, template: &Value, store: &Store, n: usize) {
    let start = Instant::now();
    let mut rejected = 0;
    for i in 0..n {
        let mut obj = template.clone();
        let name = format!("obj-{i}");
        obj["metadata"]["name"] = json!(name);
        let req = Request {
            operation: Operation::Create,
            kind,
            namespace: Some("default"),
            name: &name,
            object: Some(&mut obj),
            old_object: None,
            subresource: None,
        };
        let _ = admission::needs(&req);
        if !admission::admit(req, store).allowed() {
            rejected += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<28} {n:>7} creates in {secs:.3}s = {:>9.0} creates/s ({rejected} rejected)",
        n as f64 / secs
    );
}

fn main() {
    let store = Store(vec![default_module_config(), default_vmclass_generic()]);
    let vm = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"namespace": "default"},
        "spec": {"virtualMachineClassName": "generic", "cpu": {"cores": 2}, "memory": {"size": "2Gi"},
                 "runPolicy": "AlwaysOnUnlessStoppedManually", "osType": "Generic", "bootloader": "BIOS",
                 "provisioning": {"type": "UserData", "userData": "#cloud-config\nssh_pwauth: true\n"},
                 "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "root"}]}});
    let vd = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualDisk",
        "metadata": {"namespace": "default"},
        "spec": {"dataSource": {"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": "ubuntu"}},
                 "persistentVolumeClaim": {"size": "10Gi"}}});
    let vmop = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineOperation",
        "metadata": {"namespace": "default"}, "spec": {"type": "Restart", "virtualMachineName": "vm"}});
    let n = 50_000;
    bench("VirtualMachine", "VirtualMachine", &vm, &store, n);
    bench("VirtualDisk", "VirtualDisk", &vd, &store, n);
    bench(
        "VirtualMachineOperation",
        "VirtualMachineOperation",
        &vmop,
        &store,
        n,
    );
}
