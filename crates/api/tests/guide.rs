//! The user guide's manifests decode into the typed kinds, and the schema defaults agree with the
//! serde defaults of the types.

mod common;

use common::*;
use dvp_api::kinds::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decoding the raw manifest (serde defaults) and the schema-defaulted manifest gives the same object.
fn same_either_way<T: DeserializeOwned + Serialize>(manifest: &str) -> T {
    let raw: T = serde_json::from_value(yaml(manifest)).expect("raw manifest decodes");
    let with_defaults: T =
        serde_json::from_value(defaulted(manifest)).expect("defaulted manifest decodes");
    assert_eq!(
        serde_json::to_value(&raw).unwrap(),
        serde_json::to_value(&with_defaults).unwrap(),
        "serde defaults and schema defaults disagree"
    );
    raw
}

#[test]
fn quickstart_vm_gets_every_documented_default() {
    let vm: VirtualMachine = same_either_way(QUICKSTART_VM);
    use virtual_machine::*;
    assert_eq!(vm.spec.run_policy, RunPolicy::AlwaysOnUnlessStoppedManually);
    assert_eq!(
        vm.spec.disruptions.restart_approval_mode,
        Some(RestartApprovalMode::Manual)
    );
    assert_eq!(vm.spec.termination_grace_period_seconds, 60);
    assert!(vm.spec.enable_paravirtualization);
    assert_eq!(vm.spec.os_type, OsType::Generic);
    assert_eq!(vm.spec.bootloader, Bootloader::Bios);
    assert_eq!(
        vm.spec.live_migration_policy,
        LiveMigrationPolicy::PreferSafe
    );
    assert_eq!(vm.spec.virtual_machine_class_name, "generic");
    assert_eq!(vm.spec.memory.size, "1Gi");
    assert_eq!(
        vm.spec.block_device_refs[0].kind,
        BlockDeviceKind::VirtualDisk
    );
    assert_eq!(
        vm.spec.provisioning.unwrap().type_,
        ProvisioningType::UserData
    );
}

#[test]
fn quickstart_vm_schema_defaults_are_filled_in() {
    let v = defaulted(QUICKSTART_VM);
    assert_eq!(v["spec"]["runPolicy"], "AlwaysOnUnlessStoppedManually");
    assert_eq!(v["spec"]["disruptions"]["restartApprovalMode"], "Manual");
    assert_eq!(v["spec"]["terminationGracePeriodSeconds"], 60);
    assert_eq!(v["spec"]["bootloader"], "BIOS");
}

#[test]
fn quickstart_vi_decodes_with_http_source() {
    let vi: VirtualImage = same_either_way(QUICKSTART_VI);
    assert_eq!(
        vi.spec.storage,
        virtual_image::VirtualImageStorage::ContainerRegistry
    );
    assert!(
        vi.spec
            .data_source
            .http
            .unwrap()
            .url
            .starts_with("https://cloud-images")
    );
}

#[test]
fn vi_storage_defaults_to_container_registry() {
    let vi: VirtualImage = serde_json::from_value(serde_json::json!({
        "spec": {"dataSource": {"type": "Upload"}}
    }))
    .unwrap();
    assert_eq!(
        vi.spec.storage,
        virtual_image::VirtualImageStorage::ContainerRegistry
    );
}

#[test]
fn other_image_manifests_decode() {
    let pvc: VirtualImage = same_either_way(VI_PVC);
    assert_eq!(
        pvc.spec
            .persistent_volume_claim
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("i-sds-replicated-thin-r2")
    );
    let up: VirtualImage = same_either_way(VI_UPLOAD);
    assert_eq!(
        up.spec.data_source.type_,
        common_kinds::DataSourceType::Upload
    );
    let ci: VirtualImage = same_either_way(VI_CONTAINER_IMAGE);
    assert!(ci.spec.data_source.container_image.is_some());
}

use dvp_api::kinds::common as common_kinds;

#[test]
fn quickstart_vd_decodes_with_object_ref() {
    let vd: VirtualDisk = same_either_way(QUICKSTART_VD);
    let src = vd.spec.data_source.unwrap();
    assert_eq!(src.object_ref.unwrap().name, "ubuntu");
}

#[test]
fn blank_and_sized_disks_decode() {
    let blank: VirtualDisk = same_either_way(VD_BLANK);
    assert_eq!(
        blank.spec.persistent_volume_claim.unwrap().size.as_deref(),
        Some("100Mi")
    );
    let sized: VirtualDisk = same_either_way(VD_FROM_IMAGE);
    assert_eq!(
        sized.spec.persistent_volume_claim.unwrap().size.as_deref(),
        Some("10Gi")
    );
}

#[test]
fn numeric_disk_size_decodes_as_a_quantity_string() {
    let vd: VirtualDisk = serde_json::from_value(
        serde_json::json!({"spec": {"persistentVolumeClaim": {"size": 1073741824}}}),
    )
    .unwrap();
    assert_eq!(
        vd.spec.persistent_volume_claim.unwrap().size.as_deref(),
        Some("1073741824")
    );
}

#[test]
fn cloud_init_vm_keeps_its_core_fraction() {
    let vm: VirtualMachine = same_either_way(VM_CLOUD_INIT);
    assert_eq!(vm.spec.cpu.core_fraction.as_deref(), Some("10%"));
}

#[test]
fn static_vmip_decodes() {
    let ip: VirtualMachineIPAddress = same_either_way(VMIP_STATIC);
    assert_eq!(
        ip.spec.type_,
        virtual_machine_ip_address::VirtualMachineIPAddressType::Static
    );
    assert_eq!(ip.spec.static_ip.as_deref(), Some("10.66.20.77"));
}

#[test]
fn vmops_with_generate_name_decode() {
    let op: VirtualMachineOperation = same_either_way(VMOP_RESTART);
    assert_eq!(
        op.metadata.generate_name.as_deref(),
        Some("restart-linux-vm-")
    );
    assert_eq!(
        op.spec.type_,
        virtual_machine_operation::VirtualMachineOperationType::Restart
    );
    let ev: VirtualMachineOperation = same_either_way(VMOP_EVICT);
    assert_eq!(
        ev.spec.type_,
        virtual_machine_operation::VirtualMachineOperationType::Evict
    );
}

#[test]
fn vmbda_decodes() {
    let a: VirtualMachineBlockDeviceAttachment = same_either_way(VMBDA);
    assert_eq!(a.spec.virtual_machine_name, "linux-vm");
    assert_eq!(a.spec.block_device_ref.name, "blank-disk");
}

#[test]
fn vds_decodes_and_defaults_consistency() {
    let s: VirtualDiskSnapshot = same_either_way(VDS);
    assert!(s.spec.required_consistency);
    let d: VirtualDiskSnapshot =
        serde_json::from_value(serde_json::json!({"spec": {"virtualDiskName": "d"}})).unwrap();
    assert!(d.spec.required_consistency);
}

#[test]
fn vms_decodes_and_defaults_keep_ip_address_to_always() {
    let s: VirtualMachineSnapshot = same_either_way(VMS);
    assert_eq!(
        s.spec.keep_ip_address,
        virtual_machine_snapshot::KeepIpAddress::Never
    );
    let d = defaulted(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineSnapshot\nspec:\n  virtualMachineName: vm\n",
    );
    assert_eq!(d["spec"]["keepIPAddress"], "Always");
    assert_eq!(d["spec"]["requiredConsistency"], true);
}

#[test]
fn sizing_policy_class_decodes_in_storage_version() {
    let c: virtual_machine_class::v1alpha2::VirtualMachineClass = same_either_way(VMCLASS_SIZING);
    assert_eq!(c.spec.sizing_policies.len(), 2);
    assert_eq!(
        c.spec.sizing_policies[0].core_fractions,
        vec![5, 10, 20, 50, 100]
    );
    assert_eq!(
        c.spec.sizing_policies[1]
            .memory
            .as_ref()
            .unwrap()
            .max
            .as_deref(),
        Some("16Gi")
    );
}

#[test]
fn typed_objects_serialize_with_exact_json_names() {
    let vm: VirtualMachine = serde_json::from_value(yaml(QUICKSTART_VM)).unwrap();
    let v: Value = serde_json::to_value(&vm).unwrap();
    assert!(v["spec"].get("virtualMachineClassName").is_some());
    assert!(v["spec"].get("blockDeviceRefs").is_some());
    assert!(v.get("status").is_none());
}
