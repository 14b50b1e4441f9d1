//! The interesting specs of the command line, shared by the golden files and the real-QEMU check.

#![allow(dead_code)]

use std::collections::BTreeMap;

use dvp_api::kinds::instance::{
    DiskSource, Firmware, InstanceCloudInit, InstanceCpu, InstanceDisk, InstanceNetwork,
    InstanceSpec, Machine,
};
use dvp_qemu::argv::NicBackend;
use dvp_qemu::host::{Accel, HostFacts};

pub const VM_UID: &str = "0b8c2f4e-95f1-4b0a-8d1f-3a2b1c0d9e8f";

pub struct Case {
    pub name: &'static str,
    pub spec: InstanceSpec,
    pub host: HostFacts,
    /// Backends of the interfaces (empty: user mode for Main, isolated for the others).
    pub nics: Vec<NicBackend>,
}

fn disk(dir: &str, name: &str, source: DiskSource) -> InstanceDisk {
    InstanceDisk {
        name: name.into(),
        source: Some(source),
        path: format!("{dir}/{name}.qcow2"),
        format: "qcow2".into(),
        read_only: source != DiskSource::VirtualDisk,
        serial: format!("{name}-serial"),
        ..Default::default()
    }
}

fn cdrom(dir: &str, name: &str, source: DiskSource) -> InstanceDisk {
    InstanceDisk {
        cdrom: true,
        format: "raw".into(),
        path: format!("{dir}/{name}.iso"),
        ..disk(dir, name, source)
    }
}

fn base(dir: &str) -> InstanceSpec {
    InstanceSpec {
        vm_uid: VM_UID.into(),
        vm_name: "linux-vm".into(),
        node_name: "node-1".into(),
        machine: Some(Machine::Q35),
        os_type: Some("Generic".into()),
        firmware: Some(Firmware::Bios),
        paravirtualization: true,
        cpu: InstanceCpu {
            model: "host".into(),
            features: vec![],
            sockets: 1,
            cores_per_socket: 2,
            core_fraction: 100,
        },
        memory_bytes: 1 << 30,
        disks: vec![disk(dir, "root", DiskSource::VirtualDisk)],
        termination_grace_period_seconds: 60,
        ..Default::default()
    }
}

fn tcg() -> HostFacts {
    HostFacts::example()
}

fn kvm() -> HostFacts {
    HostFacts {
        accel: Accel::Kvm,
        ..HostFacts::example()
    }
}

/// Every case; disk files live in `dir`.
pub fn all(dir: &str) -> Vec<Case> {
    let case = |name, spec, host| Case {
        name,
        spec,
        host,
        nics: vec![],
    };
    let networks = vec![
        InstanceNetwork {
            type_: "Main".into(),
            mac_address: "52:54:00:aa:bb:cc".into(),
            ip_address: Some("10.66.10.7".into()),
            cidr: Some("10.66.10.0/24".into()),
            ..Default::default()
        },
        InstanceNetwork {
            type_: "Network".into(),
            name: "red".into(),
            mac_address: "52:54:00:aa:bb:cd".into(),
            ..Default::default()
        },
    ];
    let mut sysprep = BTreeMap::new();
    sysprep.insert("unattend.xml".to_string(), "PHhtbC8+".to_string());
    vec![
        case("bios_generic_paravirt", base(dir), tcg()),
        case(
            "bios_generic_no_paravirt",
            InstanceSpec {
                paravirtualization: false,
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "efi_generic",
            InstanceSpec {
                firmware: Some(Firmware::Efi),
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "efi_secure_boot_windows_kvm",
            InstanceSpec {
                firmware: Some(Firmware::EfiSecureBoot),
                os_type: Some("Windows".into()),
                ..base(dir)
            },
            kvm(),
        ),
        case(
            "efi_secure_boot_windows_tcg",
            InstanceSpec {
                firmware: Some(Firmware::EfiSecureBoot),
                os_type: Some("Windows".into()),
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "windows_no_paravirt_network",
            InstanceSpec {
                os_type: Some("Windows".into()),
                paravirtualization: false,
                networks: vec![InstanceNetwork {
                    type_: "Main".into(),
                    mac_address: "52:54:00:aa:bb:cc".into(),
                    ..Default::default()
                }],
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "legacy_paravirt",
            InstanceSpec {
                os_type: Some("Legacy".into()),
                machine: Some(Machine::I440fx),
                disks: vec![
                    disk(dir, "root", DiskSource::VirtualDisk),
                    cdrom(dir, "installer", DiskSource::VirtualImage),
                ],
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "legacy_no_paravirt",
            InstanceSpec {
                os_type: Some("Legacy".into()),
                machine: Some(Machine::I440fx),
                paravirtualization: false,
                disks: vec![
                    disk(dir, "root", DiskSource::VirtualDisk),
                    disk(dir, "data", DiskSource::VirtualDisk),
                    disk(dir, "tools", DiskSource::ClusterVirtualImage),
                ],
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "cdrom_readonly_by_position",
            InstanceSpec {
                disks: vec![
                    cdrom(dir, "ubuntu-iso", DiskSource::ClusterVirtualImage),
                    disk(dir, "root", DiskSource::VirtualDisk),
                    disk(dir, "drivers", DiskSource::VirtualImage),
                ],
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "boot_order_explicit",
            InstanceSpec {
                disks: vec![
                    InstanceDisk {
                        boot_order: Some(2),
                        ..disk(dir, "root", DiskSource::VirtualDisk)
                    },
                    disk(dir, "data", DiskSource::VirtualDisk),
                    InstanceDisk {
                        boot_order: Some(1),
                        ..cdrom(dir, "rescue-iso", DiskSource::VirtualImage)
                    },
                ],
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "sata_beyond_six_ports",
            InstanceSpec {
                paravirtualization: false,
                disks: (0..8)
                    .map(|i| disk(dir, &format!("d{i}"), DiskSource::VirtualDisk))
                    .collect(),
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "sockets_named_model",
            InstanceSpec {
                cpu: InstanceCpu {
                    model: "EPYC-Rome".into(),
                    features: vec!["+avx2".into(), "-svm".into()],
                    sockets: 2,
                    cores_per_socket: 9,
                    core_fraction: 50,
                },
                memory_bytes: 8 << 30,
                ..base(dir)
            },
            tcg(),
        ),
        case("kvm_host_cpu", base(dir), kvm()),
        case(
            "cloud_init_seed",
            InstanceSpec {
                cloud_init: Some(InstanceCloudInit {
                    user_data: "#cloud-config\n".into(),
                    network_config: None,
                }),
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "sysprep_windows",
            InstanceSpec {
                os_type: Some("Windows".into()),
                firmware: Some(Firmware::Efi),
                sysprep: Some(sysprep),
                ..base(dir)
            },
            tcg(),
        ),
        case(
            "run_as_no_sandbox",
            base(dir),
            HostFacts {
                run_as: Some("dvp-qemu".into()),
                sandbox: false,
                ..HostFacts::example()
            },
        ),
        Case {
            name: "bridged_main_and_additional_network",
            spec: InstanceSpec {
                networks: networks.clone(),
                ..base(dir)
            },
            host: tcg(),
            nics: vec![
                NicBackend::Tap("dvp0123456789a0".into()),
                NicBackend::Tap("dvp0123456789a1".into()),
            ],
        },
        case(
            "user_mode_fallback_with_additional_network",
            InstanceSpec {
                networks,
                ..base(dir)
            },
            tcg(),
        ),
    ]
}
