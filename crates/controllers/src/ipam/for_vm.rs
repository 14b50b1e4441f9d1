//! What the VM controller needs from IPAM: the automatic address object of a VM, how to find
//! it, and how to read the bound address. All pure.

use std::collections::BTreeMap;

use dvp_api::kinds::VirtualMachine;
use dvp_api::kinds::VirtualMachineIPAddress;
use dvp_api::kinds::virtual_machine::NetworkType;
use dvp_api::kinds::virtual_machine_ip_address::{
    VirtualMachineIPAddressPhase as Phase, VirtualMachineIPAddressSpec, VirtualMachineIPAddressType,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

/// Label on an automatic address object: the uid of its VM.
pub const VM_UID_LABEL: &str = "virtualization.deckhouse.io/virtual-machine-uid";

/// The automatic `Auto` address object for `vm`: `generateName: <vm>-` (the API adds the
/// suffix), labelled with the VM's uid, controlled by the VM so it goes away with it unless the
/// user removes the ownerReference to keep the address.
pub fn vmip_for_vm(vm: &VirtualMachine) -> VirtualMachineIPAddress {
    let meta = vm.meta();
    let uid = meta.uid.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    VirtualMachineIPAddress {
        api_version: VirtualMachineIPAddress::api_version(&()).into_owned(),
        kind: VirtualMachineIPAddress::kind(&()).into_owned(),
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: meta.namespace.clone(),
            labels: Some(BTreeMap::from([(VM_UID_LABEL.to_string(), uid.clone())])),
            owner_references: Some(vec![OwnerReference {
                api_version: VirtualMachine::api_version(&()).into_owned(),
                kind: VirtualMachine::kind(&()).into_owned(),
                name,
                uid,
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: VirtualMachineIPAddressSpec {
            type_: VirtualMachineIPAddressType::Auto,
            static_ip: None,
        },
        status: None,
    }
}

/// The label selector that finds the automatic address objects of `vm`.
pub fn vmip_selector(vm: &VirtualMachine) -> String {
    format!(
        "{VM_UID_LABEL}={}",
        vm.meta().uid.clone().unwrap_or_default()
    )
}

/// Whether `vm` is on the main network and so needs an address (no `networks` means Main only).
pub fn needs_address(vm: &VirtualMachine) -> bool {
    vm.spec.networks.is_empty()
        || vm
            .spec
            .networks
            .iter()
            .any(|n| n.type_ == NetworkType::Main)
}

/// The name of the address object `vm` uses: the one its spec names, else the one its status
/// recorded (the automatic one).
pub fn vmip_name_of(vm: &VirtualMachine) -> Option<&str> {
    let spec = vm.spec.virtual_machine_ip_address_name.as_deref();
    let status = vm
        .status
        .as_ref()
        .and_then(|s| s.virtual_machine_ip_address_name.as_deref());
    spec.or(status).filter(|n| !n.is_empty())
}

/// The leased address of `vmip`, once it is Bound or Attached.
pub fn bound_address(vmip: &VirtualMachineIPAddress) -> Option<&str> {
    let status = vmip.status.as_ref()?;
    matches!(status.phase, Some(Phase::Bound | Phase::Attached))
        .then_some(status.address.as_deref())
        .flatten()
}

/// Whether `vmip` is leased and attached to the VM named `vm_name` (the VM's
/// `VirtualMachineIPAddressReady` condition).
pub fn is_ready_for(vmip: &VirtualMachineIPAddress, vm_name: &str) -> bool {
    let Some(status) = vmip.status.as_ref() else {
        return false;
    };
    status.phase == Some(Phase::Attached)
        && status.address.is_some()
        && status.virtual_machine_name.as_deref() == Some(vm_name)
}

/// Whether `vm` uses the address object `vmip_name` of its namespace: named by the VM's spec or
/// status, or owning it, and on the main network.
pub fn vm_uses(vm: &VirtualMachine, vmip: &VirtualMachineIPAddress) -> bool {
    if vm.meta().namespace != vmip.meta().namespace || !needs_address(vm) {
        return false;
    }
    let name = vmip.meta().name.as_deref().unwrap_or_default();
    let by_name = vm.spec.virtual_machine_ip_address_name.as_deref() == Some(name)
        || vm
            .status
            .as_ref()
            .and_then(|s| s.virtual_machine_ip_address_name.as_deref())
            == Some(name);
    // An explicit spec reference to another object wins over ownership.
    let named_other = vm
        .spec
        .virtual_machine_ip_address_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name);
    let owned = vm.meta().uid.as_ref().is_some_and(|uid| {
        vmip.meta()
            .owner_references
            .iter()
            .flatten()
            .any(|o| &o.uid == uid && o.kind == "VirtualMachine")
    });
    by_name || (owned && !named_other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm(extra_spec: serde_json::Value) -> VirtualMachine {
        let mut spec = json!({
            "virtualMachineClassName": "generic",
            "cpu": {"cores": 1},
            "memory": {"size": "1Gi"},
            "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "d"}],
        });
        spec.as_object_mut()
            .unwrap()
            .extend(extra_spec.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "metadata": {"name": "linux-vm", "namespace": "default", "uid": "vm-uid"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn named_vmip(name: &str) -> VirtualMachineIPAddress {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "Auto"},
        }))
        .unwrap()
    }

    #[test]
    fn the_automatic_object_is_auto_generated_from_the_vm_name_and_owned_by_it() {
        let v = vmip_for_vm(&vm(json!({})));
        assert_eq!(v.metadata.generate_name.as_deref(), Some("linux-vm-"));
        assert_eq!(v.spec.type_, VirtualMachineIPAddressType::Auto);
        let owner = &v.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.uid.as_str(), owner.controller),
            ("vm-uid", Some(true))
        );
        assert_eq!(v.metadata.labels.unwrap()[VM_UID_LABEL], "vm-uid");
    }

    #[test]
    fn an_owned_automatic_object_is_used_by_its_vm() {
        let mut ip = vmip_for_vm(&vm(json!({})));
        ip.metadata.name = Some("linux-vm-7prpx".into());
        assert!(vm_uses(&vm(json!({})), &ip));
    }

    #[test]
    fn an_object_named_in_the_vm_spec_is_used() {
        let v = vm(json!({"virtualMachineIPAddressName": "linux-vm-custom-ip"}));
        assert!(vm_uses(&v, &named_vmip("linux-vm-custom-ip")));
        assert!(!vm_uses(&v, &named_vmip("other")));
    }

    #[test]
    fn a_vm_without_the_main_network_uses_no_address() {
        let v = vm(json!({
            "virtualMachineIPAddressName": "linux-vm-custom-ip",
            "networks": [{"type": "Network", "name": "user-net"}],
        }));
        assert!(!needs_address(&v));
        assert!(!vm_uses(&v, &named_vmip("linux-vm-custom-ip")));
    }

    #[test]
    fn the_address_is_readable_only_once_bound() {
        let mut ip = named_vmip("a");
        ip.status = Some(Default::default());
        ip.status.as_mut().unwrap().address = Some("10.66.10.1".into());
        assert_eq!(bound_address(&ip), None);
        ip.status.as_mut().unwrap().phase = Some(Phase::Bound);
        assert_eq!(bound_address(&ip), Some("10.66.10.1"));
        assert!(!is_ready_for(&ip, "linux-vm"));
    }
}
