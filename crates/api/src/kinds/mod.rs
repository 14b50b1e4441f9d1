//! Typed kinds: one module per kind, each with its spec/status structs and enums.

pub mod cluster_virtual_image;
pub mod common;
pub mod instance;
pub mod module_config;
pub mod virtual_disk;
pub mod virtual_disk_snapshot;
pub mod virtual_image;
pub mod virtual_machine;
pub mod virtual_machine_block_device_attachment;
pub mod virtual_machine_class;
pub mod virtual_machine_ip_address;
pub mod virtual_machine_ip_address_lease;
pub mod virtual_machine_mac_address;
pub mod virtual_machine_mac_address_lease;
pub mod virtual_machine_operation;
pub mod virtual_machine_snapshot;
pub mod virtual_machine_snapshot_operation;
pub mod volume_snapshot;

pub use cluster_virtual_image::ClusterVirtualImage;
pub use instance::InternalVirtualizationVirtualMachineInstance;
pub use module_config::{ModuleConfig, VirtualizationSettings};
pub use virtual_disk::VirtualDisk;
pub use virtual_disk_snapshot::VirtualDiskSnapshot;
pub use virtual_image::VirtualImage;
pub use virtual_machine::VirtualMachine;
pub use virtual_machine_block_device_attachment::VirtualMachineBlockDeviceAttachment;
pub use virtual_machine_ip_address::VirtualMachineIPAddress;
pub use virtual_machine_ip_address_lease::VirtualMachineIPAddressLease;
pub use virtual_machine_mac_address::VirtualMachineMACAddress;
pub use virtual_machine_mac_address_lease::VirtualMachineMACAddressLease;
pub use virtual_machine_operation::VirtualMachineOperation;
pub use virtual_machine_snapshot::VirtualMachineSnapshot;
pub use virtual_machine_snapshot_operation::VirtualMachineSnapshotOperation;
pub use volume_snapshot::{VolumeSnapshot, VolumeSnapshotClass};
