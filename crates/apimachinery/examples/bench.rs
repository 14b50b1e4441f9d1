//! Rough per-operation timings of the hot paths the API server runs on every request.
//! Run with `cargo run --release -p dvp-apimachinery --example bench`.

use std::hint::black_box;
use std::time::Instant;

use dvp_apimachinery::jsonpath::JsonPath;
use dvp_apimachinery::patch::{
    apply_patch, core_patch_meta, merge_patch, record_update, strategic_merge_patch,
};
use dvp_apimachinery::schema::{apply_defaults, prune, validate};
use dvp_apimachinery::selector::LabelSelector;
use dvp_apimachinery::table::{CompiledColumns, PrinterColumn};
use serde_json::{Value, json};

fn time(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per_op = start.elapsed() / iterations;
    println!("{name:<44} {:>9.2} µs/op", per_op.as_secs_f64() * 1e6);
}

fn vm_schema() -> Value {
    let string = json!({"type": "string"});
    json!({"type": "object", "properties": {
        "apiVersion": string, "kind": string, "metadata": {"type": "object"},
        "spec": {"type": "object", "required": ["cpu", "memory"], "properties": {
            "runPolicy": {"type": "string", "enum": ["AlwaysOn", "AlwaysOff", "Manual", "AlwaysOnUnlessStoppedManually"], "default": "AlwaysOnUnlessStoppedManually"},
            "virtualMachineClassName": {"type": "string", "minLength": 1},
            "cpu": {"type": "object", "properties": {
                "cores": {"type": "integer", "minimum": 1, "format": "int32"},
                "coreFraction": {"type": "string", "pattern": "^([1-9]|[1-9][0-9]|100)%$", "default": "100%"}}},
            "memory": {"type": "object", "required": ["size"], "properties": {"size": {"x-kubernetes-int-or-string": true, "pattern": "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti)?$"}}},
            "blockDeviceRefs": {"type": "array", "maxItems": 16, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["kind", "name"],
                "items": {"type": "object", "required": ["kind", "name"], "properties": {
                    "kind": {"type": "string", "enum": ["VirtualDisk", "VirtualImage", "ClusterVirtualImage"]},
                    "name": {"type": "string", "maxLength": 128}}}},
            "networks": {"type": "array", "items": {"type": "object", "properties": {"type": string, "name": string}}},
            "nodeSelector": {"type": "object", "additionalProperties": string},
            "tolerations": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            "provisioning": {"type": "object", "properties": {"type": string, "userData": string}},
            "osType": {"type": "string", "enum": ["Windows", "Generic"], "default": "Generic"},
            "bootloader": {"type": "string", "enum": ["BIOS", "EFI", "EFIWithSecureBoot"], "default": "BIOS"},
            "enableParavirtualization": {"type": "boolean", "default": true},
            "terminationGracePeriodSeconds": {"type": "integer", "format": "int64", "default": 60}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
}

fn vm() -> Value {
    json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "linux-vm", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
        "spec": {"virtualMachineClassName": "generic", "cpu": {"cores": 2, "coreFraction": "50%"}, "memory": {"size": "4Gi"},
            "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "root"}, {"kind": "VirtualImage", "name": "iso"}, {"kind": "VirtualDisk", "name": "data"}],
            "networks": [{"type": "Main"}], "nodeSelector": {"zone": "a"},
            "provisioning": {"type": "UserData", "userData": "#cloud-config\nusers: []\n"}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "node": "node-1", "ipAddress": "10.66.10.2"}})
}

fn main() {
    let schema = vm_schema();
    let obj = vm();
    time("schema: prune + defaults + validate (VM)", 20_000, || {
        let mut o = obj.clone();
        black_box(prune(&mut o, &schema));
        apply_defaults(&mut o, &schema);
        black_box(validate(&o, &schema));
    });
    time("schema: clone of the VM object (baseline)", 20_000, || {
        black_box(obj.clone());
    });

    let merge = json!({"metadata": {"labels": {"tier": null, "env": "prod"}}, "spec": {"cpu": {"cores": 4}}});
    time("merge patch", 50_000, || {
        let mut o = obj.clone();
        merge_patch(&mut o, &merge);
        black_box(o);
    });

    let service = json!({"metadata": {"name": "web", "annotations": {"a": "1"}}, "spec": {"ports": [
        {"port": 80, "protocol": "TCP", "targetPort": 8080}, {"port": 443, "protocol": "TCP", "targetPort": 8443}], "selector": {"app": "web"}}});
    let smp = json!({"spec": {"$setElementOrder/ports": [{"port": 81}, {"port": 443}],
        "ports": [{"port": 81, "protocol": "TCP", "targetPort": 8080}, {"$patch": "delete", "port": 80}]}});
    let meta = core_patch_meta("Service");
    time("strategic merge patch (Service ports)", 50_000, || {
        let mut o = service.clone();
        strategic_merge_patch(&mut o, &smp, &meta).unwrap();
        black_box(o);
    });

    let mut owned = obj.clone();
    record_update(
        None,
        &mut owned,
        "kubectl-create",
        "v1",
        "2026-11-21T11:26:23Z",
        false,
    );
    let mut applied = vm();
    applied["spec"]["cpu"]["cores"] = json!(2);
    time("server-side apply (VM, no conflicts)", 20_000, || {
        black_box(
            apply_patch(
                Some(&owned),
                &applied,
                "kubectl",
                "v1",
                true,
                "2026-11-21T11:26:24Z",
            )
            .unwrap(),
        );
    });
    let mut changed = owned.clone();
    changed["spec"]["cpu"]["cores"] = json!(8);
    time("record_update (VM, one field changed)", 20_000, || {
        let mut after = changed.clone();
        record_update(
            Some(&owned),
            &mut after,
            "kubectl-edit",
            "v1",
            "2026-11-21T11:26:25Z",
            false,
        );
        black_box(after);
    });

    let selector = "app in (web,api),tier!=back,!legacy,env";
    let labels = json!({"app": "web", "tier": "front", "env": "prod"});
    time("label selector parse", 200_000, || {
        black_box(LabelSelector::parse(selector).unwrap());
    });
    let parsed = LabelSelector::parse(selector).unwrap();
    time("label selector match", 1_000_000, || {
        black_box(parsed.matches(Some(&labels)));
    });

    let columns: Vec<PrinterColumn> = serde_json::from_value(json!([
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Cores", "type": "integer", "priority": 1, "jsonPath": ".spec.cpu.cores"},
        {"name": "Node", "type": "string", "jsonPath": ".status.node"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]))
    .unwrap();
    let compiled = CompiledColumns::new(&columns);
    time("table cells (5 columns, compiled)", 200_000, || {
        black_box(compiled.cells(&obj, 1_800_000_000));
    });
    time("jsonpath parse (filter expression)", 200_000, || {
        black_box(JsonPath::parse("{.status.conditions[?(@.type=='Ready')].status}").unwrap());
    });
}
