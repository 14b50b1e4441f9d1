//! InternalVirtualizationVirtualMachineInstance (`intvirtvmi`): one run of a VirtualMachine on a
//! node. The VM controller writes `spec` (everything resolved: the agent looks nothing up); the node
//! agent writes `status`. A run ends when its QEMU process ends; a restart is a new instance. See
//! docs/design-vm-runtime.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::macros::{resource_object, string_enum};

/// The group of the platform's internal kinds.
pub const INTERNAL_GROUP: &str = "internal.virtualization.deckhouse.io";
/// Label naming the node an instance is scheduled to (agents watch their own).
pub const NODE_LABEL: &str = "virtualization.deckhouse.io/node";
/// Label carrying the uid of the VM an instance runs.
pub const VM_UID_LABEL: &str = "virtualization.deckhouse.io/virtual-machine-uid";
/// Annotation holding the VM spec (JSON) a run was built from: the "current" side of
/// `status.restartAwaitingChanges`.
pub const APPLIED_SPEC_ANNOTATION: &str = "virtualization.deckhouse.io/applied-vm-spec";
/// Finalizer the node agent removes once the instance's process is gone.
pub const CLEANUP_FINALIZER: &str = "virtualization.deckhouse.io/vmi-cleanup";

resource_object! {
    /// One run of a virtual machine: its resolved runtime configuration and node.
    InternalVirtualizationVirtualMachineInstance {
        spec: InstanceSpec,
        status: InstanceStatus,
        group: "internal.virtualization.deckhouse.io",
        version: "v1",
        kind: "InternalVirtualizationVirtualMachineInstance",
        plural: "internalvirtualizationvirtualmachineinstances",
        namespaced: true,
    }
}

string_enum! {
    /// Chipset.
    pub enum Machine {
        /// PCIe (default).
        Q35 = "q35",
        /// Legacy PCI, for `osType: Legacy`.
        I440fx = "i440fx",
    }
}

string_enum! {
    /// Firmware.
    pub enum Firmware {
        /// SeaBIOS.
        Bios = "BIOS",
        /// OVMF.
        Efi = "EFI",
        /// OVMF with Secure Boot.
        EfiSecureBoot = "EFIWithSecureBoot",
    }
}

string_enum! {
    /// Where a disk comes from (for naming and read-only rules).
    pub enum DiskSource {
        /// A VirtualDisk (read-write).
        VirtualDisk = "VirtualDisk",
        /// A VirtualImage (read-only, or a CD-ROM).
        VirtualImage = "VirtualImage",
        /// A ClusterVirtualImage (read-only, or a CD-ROM).
        ClusterVirtualImage = "ClusterVirtualImage",
    }
}

/// The resolved runtime configuration of one run. Built by the VM controller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSpec {
    /// uid of the VM (also the guest's SMBIOS UUID).
    pub vm_uid: String,
    /// Name of the VM (the guest's default hostname).
    pub vm_name: String,
    /// Node the run is scheduled to.
    pub node_name: String,
    /// Chipset.
    pub machine: Option<Machine>,
    /// `Generic`, `Windows` or `Legacy` (device model choices, spec §5.15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// Firmware.
    pub firmware: Option<Firmware>,
    /// virtio devices (true) or emulated ones (false).
    #[serde(default = "yes")]
    pub paravirtualization: bool,
    /// Virtual CPU.
    pub cpu: InstanceCpu,
    /// Guest memory in bytes.
    pub memory_bytes: u64,
    /// Block devices in boot priority order (list order unless `bootOrder` is set on any).
    #[serde(default)]
    pub disks: Vec<InstanceDisk>,
    /// cloud-init NoCloud data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<InstanceCloudInit>,
    /// Windows unattended setup files (`unattend.xml`, `autounattend.xml`), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysprep: Option<std::collections::BTreeMap<String, String>>,
    /// Network interfaces (the VM network issue fills these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<InstanceNetwork>,
    /// Seconds between the ACPI power-button press and a forced stop.
    #[serde(default = "sixty")]
    pub termination_grace_period_seconds: i64,
}

fn yes() -> bool {
    true
}

fn sixty() -> i64 {
    60
}

/// Virtual CPU of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceCpu {
    /// QEMU CPU model: `host`, `host-passthrough` (same as host for QEMU), or a named model.
    pub model: String,
    /// Extra CPU features (`+feat`), for `Features`/`Discovery` classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Sockets (spec §5.4).
    pub sockets: u32,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// Guaranteed share of each core, percent (1..100).
    pub core_fraction: u32,
}

/// One block device of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDisk {
    /// Name of the VirtualDisk/VirtualImage/ClusterVirtualImage.
    pub name: String,
    /// What the disk is.
    pub source: Option<DiskSource>,
    /// Absolute path of the file QEMU opens.
    pub path: String,
    /// `qcow2` or `raw`.
    pub format: String,
    /// Opened read-only (images).
    #[serde(default)]
    pub read_only: bool,
    /// Attached as a CD-ROM (ISO images).
    #[serde(default)]
    pub cdrom: bool,
    /// Explicit boot priority (1 = first), when the VM sets `bootOrder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<u32>,
    /// Serial number the guest sees (stable per disk).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serial: String,
    /// Attached after start (hot-plug); not part of the boot order.
    #[serde(default)]
    pub hotplugged: bool,
    /// Size the guest should see, in bytes (writable disks). When it grows while the process
    /// runs, the node agent grows the device online (QMP `block_resize`); the volume file is
    /// not resized by anyone else while a run holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// cloud-init NoCloud seed content.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceCloudInit {
    /// `user-data`.
    pub user_data: String,
    /// `network-config`, when the platform provides one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<String>,
}

/// One network interface of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceNetwork {
    /// `Main`, `Network` or `ClusterNetwork`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Network name (empty for Main).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// MAC address of the interface.
    pub mac_address: String,
    /// IPv4 address the guest gets by DHCP (Main only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// The `virtualMachineCIDRs` block holding `ip_address` (`10.66.10.0/24`, Main only): the
    /// guest's netmask, and the node's bridge carries the block's gateway
    /// ([`crate::network::gateway`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

string_enum! {
    /// Where a run is.
    pub enum InstancePhase {
        /// Accepted by the agent, not started yet.
        Pending = "Pending",
        /// QEMU is starting.
        Starting = "Starting",
        /// The guest runs.
        Running = "Running",
        /// A graceful stop is in progress.
        Stopping = "Stopping",
        /// The run ended normally (guest shutdown or requested stop).
        Succeeded = "Succeeded",
        /// The run ended abnormally (crash, failed start).
        Failed = "Failed",
    }
}

string_enum! {
    /// Why a run ended.
    pub enum ExitReason {
        /// The guest powered itself off.
        GuestShutdown = "GuestShutdown",
        /// The platform stopped it (stop, restart, deletion).
        Stopped = "Stopped",
        /// QEMU ended without a shutdown.
        Crashed = "Crashed",
        /// QEMU could not start.
        StartFailed = "StartFailed",
        /// The guest rebooted itself. The process keeps running (the phase stays `Running`); the
        /// VM controller decides whether the reboot ends the run (e.g. to apply pending changes).
        GuestReset = "GuestReset",
    }
}

/// What the node agent reports about a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    /// Where the run is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<InstancePhase>,
    /// QEMU's process id on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `kvm` or `tcg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accel: Option<String>,
    /// QEMU version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu_version: Option<String>,
    /// When the guest started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// How the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<InstanceExit>,
    /// Guest agent state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<InstanceAgent>,
    /// How the main interface is attached on the node: `Bridge` (a tap on the node's VM bridge;
    /// the host reaches the guest at its IP) or `User` (QEMU user-mode networking, the fallback
    /// where the host forbids bridges or taps; reach the guest through QEMU port forwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Disk sizes the guest sees, by disk name (for online resize).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub disk_sizes: std::collections::BTreeMap<String, u64>,
    /// Detailed state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// How and when a run ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceExit {
    /// Why.
    pub reason: Option<ExitReason>,
    /// Details (e.g. QEMU's stderr excerpt).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time: String,
}

/// Guest agent (qemu-ga) state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceAgent {
    /// The agent answers.
    pub connected: bool,
    /// `guest-get-osinfo`, as DVP shows it in `status.guestOSInfo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub os_info: Option<serde_json::Value>,
    /// Agent version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Guest network interfaces (`guest-network-get-interfaces`), simplified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<GuestInterface>,
    /// Whether the guest filesystems are frozen.
    #[serde(default)]
    pub frozen: bool,
}

/// A guest network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuestInterface {
    /// Interface name in the guest.
    pub name: String,
    /// Hardware address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// IP addresses (without prefix length).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
}
