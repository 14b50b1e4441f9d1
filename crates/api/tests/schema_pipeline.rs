//! The generated schemas work with the server's structural machinery: the guide's manifests
//! survive pruning untouched and validate, and the schema rejects what it should.

mod common;

use common::*;
use dvp_apimachinery::schema::{apply_defaults, prune, validate};
use serde_json::{Value, json};

fn pipeline(mut obj: Value) -> (Value, Vec<String>, Vec<String>) {
    let kind = obj["kind"].as_str().unwrap().to_string();
    let schema = storage_schema(&kind);
    let pruned = prune(&mut obj, &schema);
    apply_defaults(&mut obj, &schema);
    let errors = validate(&obj, &schema)
        .iter()
        .map(ToString::to_string)
        .collect();
    (obj, pruned, errors)
}

#[test]
fn guide_manifests_are_not_pruned_and_validate() {
    for (label, manifest) in ALL {
        let (_, pruned, errors) = pipeline(yaml(manifest));
        assert!(pruned.is_empty(), "{label}: pruned {pruned:?}");
        assert!(errors.is_empty(), "{label}: {errors:#?}");
    }
}

#[test]
fn first_start_objects_validate() {
    for obj in [
        dvp_api::admission::default_module_config(),
        dvp_api::admission::default_vmclass_generic(),
        dvp_api::admission::default_vmclass_host(),
    ] {
        let (_, pruned, errors) = pipeline(obj);
        assert!(
            pruned.is_empty() && errors.is_empty(),
            "{pruned:?} {errors:?}"
        );
    }
}

#[test]
fn defaults_fill_the_quick_start_vm() {
    let (vm, _, _) = pipeline(yaml(QUICKSTART_VM));
    assert_eq!(vm["spec"]["runPolicy"], "AlwaysOnUnlessStoppedManually");
    assert_eq!(vm["spec"]["liveMigrationPolicy"], "PreferSafe");
    assert_eq!(vm["spec"]["enableParavirtualization"], true);
}

#[test]
fn misspelt_guide_fields_are_pruned() {
    // The guide writes `nameReplacements` and `customisation`; the API fields are singular/US.
    let op = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineOperation",
        "metadata": {"name": "c"},
        "spec": {"type": "Clone", "virtualMachineName": "vm", "clone": {"mode": "DryRun", "nameReplacements": [], "customisation": {}}}});
    let (_, pruned, _) = pipeline(op);
    assert!(
        pruned.iter().any(|p| p.contains("nameReplacements")),
        "{pruned:?}"
    );
}

#[test]
fn schema_rejects_zero_cores_bad_fraction_and_unknown_enum() {
    let mut vm = yaml(QUICKSTART_VM);
    vm["spec"]["cpu"] = json!({"cores": 0, "coreFraction": "150%"});
    vm["spec"]["runPolicy"] = json!("Sometimes");
    let (_, _, errors) = pipeline(vm);
    let all = errors.join("\n");
    assert!(all.contains("spec.cpu.cores"), "{all}");
    assert!(all.contains("spec.cpu.coreFraction"), "{all}");
    assert!(all.contains("spec.runPolicy"), "{all}");
}

#[test]
fn schema_rejects_more_than_16_block_devices() {
    let mut vm = yaml(QUICKSTART_VM);
    vm["spec"]["blockDeviceRefs"] = Value::Array(
        (0..17)
            .map(|i| json!({"kind": "VirtualDisk", "name": format!("d{i}")}))
            .collect(),
    );
    let (_, _, errors) = pipeline(vm);
    assert!(
        errors.iter().any(|e| e.contains("spec.blockDeviceRefs")),
        "{errors:?}"
    );
}

#[test]
fn numeric_quantity_is_accepted_as_int_or_string() {
    let mut vd = yaml(VD_BLANK);
    vd["spec"]["persistentVolumeClaim"]["size"] = json!(1073741824);
    let (_, _, errors) = pipeline(vd);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn malformed_quantity_is_rejected() {
    let mut vd = yaml(VD_BLANK);
    vd["spec"]["persistentVolumeClaim"]["size"] = json!("ten gigs");
    let (_, _, errors) = pipeline(vd);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("spec.persistentVolumeClaim.size")),
        "{errors:?}"
    );
}

#[test]
fn vmclass_v1alpha2_accepts_int_or_auto_default_fraction() {
    let mut c = yaml(VMCLASS_SIZING);
    c["spec"]["sizingPolicies"][0]["defaultCoreFraction"] = json!(10);
    assert!(pipeline(c.clone()).2.is_empty());
    c["spec"]["sizingPolicies"][0]["defaultCoreFraction"] = json!("Auto");
    assert!(pipeline(c).2.is_empty());
}

#[test]
fn module_config_settings_are_kept_whole() {
    let mut mc = dvp_api::admission::default_module_config();
    mc["spec"]["settings"]["somethingNew"] = json!({"a": 1});
    let (obj, pruned, _) = pipeline(mc);
    assert!(pruned.is_empty());
    assert_eq!(obj["spec"]["settings"]["somethingNew"]["a"], 1);
}

#[test]
fn vm_status_keeps_arbitrary_change_values_and_guest_info() {
    let mut vm = yaml(QUICKSTART_VM);
    vm["status"] = json!({
        "phase": "Running",
        "restartAwaitingChanges": [{"operation": "replace", "path": "cpu.cores", "currentValue": 1, "desiredValue": 2}],
        "guestOSInfo": {"id": "fedora", "kernelRelease": "6.11.4", "somethingElse": "kept"},
        "resources": {"cpu": {"cores": 1, "coreFraction": "10%", "requestedCores": "1", "runtimeOverhead": "0",
                               "topology": {"sockets": 1, "coresPerSocket": 1}}}
    });
    let (obj, pruned, errors) = pipeline(vm);
    assert!(pruned.is_empty(), "{pruned:?}");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        obj["status"]["restartAwaitingChanges"][0]["desiredValue"],
        2
    );
    assert_eq!(obj["status"]["guestOSInfo"]["somethingElse"], "kept");
}
