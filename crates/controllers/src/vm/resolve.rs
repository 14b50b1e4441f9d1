//! The runtime configuration of a run (pure): the VM spec, its class and its resolved block
//! devices and provisioning data become an [`InstanceSpec`] the node agent can run without
//! looking anything up.

use std::collections::BTreeMap;

use dvp_api::kinds::instance::{
    DiskSource, Firmware, InstanceCloudInit, InstanceCpu, InstanceDisk, InstanceSpec, Machine,
};
use dvp_api::kinds::virtual_machine::{BlockDeviceKind, Bootloader, OsType, VirtualMachineSpec};
use dvp_api::kinds::virtual_machine_class::CpuType;
use dvp_api::kinds::virtual_machine_class::v1alpha2::VirtualMachineClass;

/// A block device whose data was found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedDisk {
    pub kind: Option<DiskSource>,
    pub name: String,
    pub uid: String,
    pub path: String,
    /// `qcow2` or `raw`.
    pub format: String,
    pub cdrom: bool,
    /// Size the guest should see (writable disks).
    pub size_bytes: Option<u64>,
    /// The node of a node-local volume.
    pub node: Option<String>,
}

/// Provisioning data, resolved from the spec or its Secret.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedProvisioning {
    pub user_data: Option<String>,
    /// Sysprep files, base64.
    pub sysprep: Option<BTreeMap<String, String>>,
}

/// The CPU model the class asks QEMU for.
pub fn cpu_model(class: &VirtualMachineClass) -> (String, Vec<String>) {
    let cpu = &class.spec.cpu;
    match cpu.type_ {
        CpuType::Host => ("host".into(), vec![]),
        CpuType::HostPassthrough => ("host-passthrough".into(), vec![]),
        CpuType::Model => (cpu.model.clone().unwrap_or_else(|| "qemu64".into()), vec![]),
        CpuType::Features | CpuType::Discovery => (
            "qemu64".into(),
            cpu.features.iter().map(|f| format!("+{f}")).collect(),
        ),
    }
}

/// `10%` → 10; `Auto` and anything unreadable → `auto_default`.
pub fn core_fraction_percent(text: Option<&str>, auto_default: u32) -> u32 {
    text.and_then(|t| t.strip_suffix('%'))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=100).contains(n))
        .unwrap_or(if text.is_none() { 100 } else { auto_default })
}

/// Bytes of a memory quantity such as `256Mi`.
pub fn memory_bytes(text: &str) -> Option<u64> {
    dvp_storage::objects::quantity_bytes(text).ok()
}

/// A serial number the guest sees for a disk: stable per disk object, at most 20 characters.
pub fn disk_serial(uid: &str) -> String {
    uid.chars().filter(|c| *c != '-').take(20).collect()
}

/// The instance spec of a run on `node`.
pub fn instance_spec(
    vm_uid: &str,
    vm_name: &str,
    spec: &VirtualMachineSpec,
    class: &VirtualMachineClass,
    disks: &[ResolvedDisk],
    provisioning: &ResolvedProvisioning,
    node: &str,
) -> InstanceSpec {
    let (model, features) = cpu_model(class);
    let cores = spec.cpu.cores.max(1);
    let (sockets, per_socket) = dvp_api::topology::topology(cores);
    let legacy = spec.os_type == OsType::Legacy;
    InstanceSpec {
        vm_uid: vm_uid.into(),
        vm_name: vm_name.into(),
        node_name: node.into(),
        machine: Some(if legacy {
            Machine::I440fx
        } else {
            Machine::Q35
        }),
        os_type: Some(spec.os_type.as_str().into()),
        firmware: Some(match spec.bootloader {
            Bootloader::Bios => Firmware::Bios,
            Bootloader::Efi => Firmware::Efi,
            Bootloader::EfiWithSecureBoot => Firmware::EfiSecureBoot,
        }),
        paravirtualization: spec.enable_paravirtualization,
        cpu: InstanceCpu {
            model,
            features,
            sockets: sockets as u32,
            cores_per_socket: per_socket as u32,
            core_fraction: core_fraction_percent(spec.cpu.core_fraction.as_deref(), 100),
        },
        memory_bytes: memory_bytes(&spec.memory.size).unwrap_or(0),
        disks: spec
            .block_device_refs
            .iter()
            .filter_map(|r| {
                let d = disks
                    .iter()
                    .find(|d| d.name == r.name && same_kind(d.kind, r.kind))?;
                let read_only = r.kind != BlockDeviceKind::VirtualDisk;
                Some(InstanceDisk {
                    name: d.name.clone(),
                    source: d.kind,
                    path: d.path.clone(),
                    format: d.format.clone(),
                    read_only,
                    cdrom: d.cdrom,
                    boot_order: r.boot_order.and_then(|b| u32::try_from(b).ok()),
                    serial: disk_serial(&d.uid),
                    hotplugged: false,
                    size_bytes: if read_only { None } else { d.size_bytes },
                })
            })
            .collect(),
        cloud_init: provisioning.user_data.as_ref().map(|u| InstanceCloudInit {
            user_data: u.clone(),
            network_config: None,
        }),
        sysprep: provisioning.sysprep.clone(),
        networks: vec![],
        termination_grace_period_seconds: spec.termination_grace_period_seconds,
    }
}

fn same_kind(a: Option<DiskSource>, b: BlockDeviceKind) -> bool {
    matches!(
        (a, b),
        (Some(DiskSource::VirtualDisk), BlockDeviceKind::VirtualDisk)
            | (
                Some(DiskSource::VirtualImage),
                BlockDeviceKind::VirtualImage
            )
            | (
                Some(DiskSource::ClusterVirtualImage),
                BlockDeviceKind::ClusterVirtualImage
            )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(cpu: serde_json::Value) -> VirtualMachineClass {
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineClass",
            "metadata": {"name": "c"}, "spec": {"cpu": cpu}
        }))
        .unwrap()
    }

    fn vm_spec(cores: i32) -> VirtualMachineSpec {
        serde_json::from_value(json!({
            "virtualMachineClassName": "c",
            "cpu": {"cores": cores, "coreFraction": "10%"},
            "memory": {"size": "256Mi"},
            "provisioning": {"type": "UserData", "userData": "#cloud-config\n"},
            "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "root"},
                                {"kind": "VirtualImage", "name": "iso"}]
        }))
        .unwrap()
    }

    fn disks() -> Vec<ResolvedDisk> {
        vec![
            ResolvedDisk {
                kind: Some(DiskSource::VirtualImage),
                name: "iso".into(),
                uid: "1111-2222".into(),
                path: "/dvcr/blob".into(),
                format: "raw".into(),
                cdrom: true,
                size_bytes: Some(10),
                node: None,
            },
            ResolvedDisk {
                kind: Some(DiskSource::VirtualDisk),
                name: "root".into(),
                uid: "aaaa-bbbb".into(),
                path: "/vol/disk.qcow2".into(),
                format: "qcow2".into(),
                cdrom: false,
                size_bytes: Some(1 << 30),
                node: None,
            },
        ]
    }

    fn build(cores: i32, cpu: serde_json::Value) -> InstanceSpec {
        let p = ResolvedProvisioning {
            user_data: Some("#cloud-config\n".into()),
            sysprep: None,
        };
        instance_spec(
            "uid",
            "vm",
            &vm_spec(cores),
            &class(cpu),
            &disks(),
            &p,
            "n1",
        )
    }

    #[test]
    fn disks_follow_block_device_refs_order_and_images_are_read_only() {
        let s = build(1, json!({"type": "Host"}));
        let names: Vec<&str> = s.disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["root", "iso"]);
        assert!(!s.disks[0].read_only);
        assert!(s.disks[1].read_only && s.disks[1].cdrom);
        assert_eq!(s.disks[0].size_bytes, Some(1 << 30));
        assert_eq!(s.disks[1].size_bytes, None);
        assert_eq!(s.disks[0].serial, "aaaabbbb");
    }

    #[test]
    fn cpu_topology_follows_the_socket_table() {
        let s = build(20, json!({"type": "Host"}));
        assert_eq!((s.cpu.sockets, s.cpu.cores_per_socket), (2, 10));
        assert_eq!(s.cpu.core_fraction, 10);
    }

    #[test]
    fn the_class_cpu_type_selects_the_qemu_model() {
        assert_eq!(
            build(1, json!({"type": "Model", "model": "Nehalem"}))
                .cpu
                .model,
            "Nehalem"
        );
        assert_eq!(build(1, json!({"type": "Host"})).cpu.model, "host");
        let f = build(1, json!({"type": "Features", "features": ["sse4.2"]}));
        assert_eq!(f.cpu.features, vec!["+sse4.2".to_string()]);
    }

    #[test]
    fn memory_and_cloud_init_are_resolved() {
        let s = build(1, json!({"type": "Host"}));
        assert_eq!(s.memory_bytes, 256 << 20);
        assert_eq!(s.cloud_init.unwrap().user_data, "#cloud-config\n");
        assert_eq!(s.node_name, "n1");
    }

    #[test]
    fn an_unset_core_fraction_is_a_whole_core() {
        assert_eq!(core_fraction_percent(None, 10), 100);
        assert_eq!(core_fraction_percent(Some("Auto"), 10), 10);
        assert_eq!(core_fraction_percent(Some("50%"), 10), 50);
    }
}
