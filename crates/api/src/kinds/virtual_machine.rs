//! VirtualMachine (`vm`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeAffinity, PodAffinityTerm, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{any_value, default_true, quantity};
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// A virtual machine.
    VirtualMachine {
        spec: VirtualMachineSpec,
        status: VirtualMachineStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachine",
        plural: "virtualmachines",
        namespaced: true,
    }
}

/// `coreFraction` grammar: `Auto` or a whole percentage from 1% to 100%.
pub const CORE_FRACTION_PATTERN: &str = r"^(Auto|(100|[1-9][0-9]?)%)$";

string_enum! {
    /// How the platform keeps the VM powered on or off.
    pub enum RunPolicy {
        /// Always running; restarted after any stop, including a shutdown from inside the guest.
        AlwaysOn = "AlwaysOn",
        /// Always stopped; start operations are not possible.
        AlwaysOff = "AlwaysOff",
        /// Started and stopped only by the user (operations or `d8 v start/stop`).
        Manual = "Manual",
        /// Started on creation and restarted after failures, but stays off once stopped by the
        /// user or by a shutdown from inside the guest. The default.
        AlwaysOnUnlessStoppedManually = "AlwaysOnUnlessStoppedManually",
    }
}

string_enum! {
    /// Who approves restarts needed to apply configuration changes.
    pub enum RestartApprovalMode {
        /// The user restarts the VM (changes wait in `status.restartAwaitingChanges`).
        Manual = "Manual",
        /// The platform restarts the VM itself as soon as a change needs it.
        Automatic = "Automatic",
    }
}

string_enum! {
    /// Guest operating system family; selects the emulated device model.
    pub enum OsType {
        /// Windows: Hyper-V enlightenments and a TPM are added.
        Windows = "Windows",
        /// Modern Linux and other systems. The default.
        Generic = "Generic",
        /// Old systems: i440fx chipset, IDE/virtio-blk, BIOS only.
        Legacy = "Legacy",
    }
}

string_enum! {
    /// Firmware the VM boots with.
    pub enum Bootloader {
        /// Legacy BIOS. The default.
        Bios = "BIOS",
        /// UEFI without Secure Boot.
        Efi = "EFI",
        /// UEFI with Secure Boot (needs a persistent NVRAM volume).
        EfiWithSecureBoot = "EFIWithSecureBoot",
    }
}

string_enum! {
    /// How live migrations of this VM trade guest performance for completion.
    pub enum LiveMigrationPolicy {
        /// Never slow the guest down (no AutoConverge).
        AlwaysSafe = "AlwaysSafe",
        /// No AutoConverge unless an Evict/Migrate operation sets `force: true`. The default.
        PreferSafe = "PreferSafe",
        /// Always allow slowing the guest down (AutoConverge) so the migration completes.
        AlwaysForced = "AlwaysForced",
        /// AutoConverge unless an operation sets `force: false`.
        PreferForced = "PreferForced",
    }
}

string_enum! {
    /// Kinds of block devices a VM can use.
    pub enum BlockDeviceKind {
        /// A cluster-wide image (read-only; ISO images become CD-ROMs).
        ClusterVirtualImage = "ClusterVirtualImage",
        /// An image of the VM's namespace (read-only; ISO images become CD-ROMs).
        VirtualImage = "VirtualImage",
        /// A disk of the VM's namespace (read-write).
        VirtualDisk = "VirtualDisk",
    }
}

string_enum! {
    /// How the guest receives its initial configuration.
    pub enum ProvisioningType {
        /// A cloud-init document inline in `userData`.
        UserData = "UserData",
        /// A cloud-init document in a Secret named by `userDataRef`.
        UserDataRef = "UserDataRef",
        /// A Windows answer file in a Secret named by `sysprepRef`.
        SysprepRef = "SysprepRef",
    }
}

string_enum! {
    /// Kind of object holding provisioning data.
    pub enum ProvisioningRefKind {
        /// A Secret of the VM's namespace.
        Secret = "Secret",
    }
}

string_enum! {
    /// Kind of network an interface connects to.
    pub enum NetworkType {
        /// The main cluster network. Must come first, has no name.
        Main = "Main",
        /// A project network of the SDN module.
        Network = "Network",
        /// A cluster network of the SDN module.
        ClusterNetwork = "ClusterNetwork",
    }
}

fn default_run_policy() -> RunPolicy {
    RunPolicy::AlwaysOnUnlessStoppedManually
}
fn default_disruptions() -> Disruptions {
    Disruptions {
        restart_approval_mode: Some(RestartApprovalMode::Manual),
    }
}
fn default_termination_grace_period() -> i64 {
    60
}
fn default_os_type() -> OsType {
    OsType::Generic
}
fn default_bootloader() -> Bootloader {
    Bootloader::Bios
}
fn default_live_migration_policy() -> LiveMigrationPolicy {
    LiveMigrationPolicy::PreferSafe
}
fn default_secret_kind() -> ProvisioningRefKind {
    ProvisioningRefKind::Secret
}

/// Desired state of a VirtualMachine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSpec {
    /// Power policy of the VM.
    #[serde(default = "default_run_policy")]
    pub run_policy: RunPolicy,
    /// Name of a VirtualMachineIPAddress of the namespace to use on the main network. Empty: one
    /// is created automatically.
    #[serde(
        default,
        rename = "virtualMachineIPAddressName",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub virtual_machine_ip_address_name: Option<String>,
    /// How to spread VMs across topology domains (same semantics as for Pods).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Placement preferences relative to nodes and to other VMs and Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<VmAffinity>,
    /// Labels a node must carry to run the VM.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// PriorityClass of the VM's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub priority_class_name: Option<String>,
    /// Node taints the VM tolerates, merged with the class tolerations (the VM's win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// How disruptive changes are applied.
    #[serde(default = "default_disruptions")]
    pub disruptions: Disruptions,
    /// Seconds the guest gets to shut down before it is powered off.
    #[serde(default = "default_termination_grace_period")]
    pub termination_grace_period_seconds: i64,
    /// Use paravirtualized (virtio) devices; turn off for guests without virtio drivers.
    #[serde(default = "default_true")]
    pub enable_paravirtualization: bool,
    /// Guest OS family.
    #[serde(default = "default_os_type")]
    pub os_type: OsType,
    /// Firmware.
    #[serde(default = "default_bootloader")]
    pub bootloader: Bootloader,
    /// Name of the VirtualMachineClass (CPU model, placement, sizing policy). Defaults to the class
    /// annotated as the cluster default.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1))]
    pub virtual_machine_class_name: String,
    /// Processor settings.
    pub cpu: CpuSpec,
    /// Memory settings.
    pub memory: MemorySpec,
    /// Disks and images, in boot order (unless `bootOrder` is set). 1 to 16 entries.
    #[schemars(length(min = 1, max = 16))]
    pub block_device_refs: Vec<BlockDeviceSpecRef>,
    /// Initial guest configuration (cloud-init or sysprep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,
    /// Live migration behaviour.
    #[serde(default = "default_live_migration_policy")]
    pub live_migration_policy: LiveMigrationPolicy,
    /// Network interfaces, in order. Empty: a single interface on the main network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworksSpec>,
    /// USB devices passed through to the VM (at most 8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub usb_devices: Vec<UsbDeviceSpecRef>,
    /// GPUs passed through to the VM (at most 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "atomic"))]
    pub gpus: Vec<GpuSpec>,
}

/// Placement preferences of a VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmAffinity {
    /// Node affinity, as for Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Prefer or require running near VMs and Pods matching a selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_and_pod_affinity: Option<VirtualMachineAndPodAffinity>,
    /// Prefer or require running away from VMs and Pods matching a selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_and_pod_anti_affinity: Option<VirtualMachineAndPodAntiAffinity>,
}

/// Co-location rules with other VMs and Pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineAndPodAffinity {
    /// Hard rules: every term must be satisfied at scheduling time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Soft rules: nodes satisfying more weight are preferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution:
        Vec<WeightedVirtualMachineAndPodAffinityTerm>,
}

/// Anti-co-location rules with other VMs and Pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineAndPodAntiAffinity {
    /// Hard rules: every term must be satisfied at scheduling time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Soft rules: nodes satisfying more weight are preferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution:
        Vec<WeightedVirtualMachineAndPodAffinityTerm>,
}

/// A soft co-location rule with its weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeightedVirtualMachineAndPodAffinityTerm {
    /// Weight of the rule, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    pub weight: i32,
    /// The rule itself.
    pub virtual_machine_and_pod_affinity_term: PodAffinityTerm,
}

/// Disruptive change policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disruptions {
    /// Who approves restarts (empty means `Manual`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_approval_mode: Option<RestartApprovalMode>,
}

/// Processor settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuSpec {
    /// Number of virtual cores (1 to 248). Above 16 it must be a multiple of the socket count
    /// (2 up to 32 cores, 4 up to 64, 8 beyond).
    #[schemars(range(min = 1))]
    pub cores: i32,
    /// Guaranteed share of each physical core, `1%` to `100%`, or `Auto`. Defaults to the class's
    /// sizing policy default, else `100%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = CORE_FRACTION_PATTERN))]
    pub core_fraction: Option<String>,
}

/// Memory settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemorySpec {
    /// Amount of RAM, e.g. `4Gi`.
    #[serde(deserialize_with = "quantity::de")]
    #[schemars(schema_with = "quantity::schema")]
    pub size: String,
}

/// A disk or image attached to the VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockDeviceSpecRef {
    /// Kind of the device.
    pub kind: BlockDeviceKind,
    /// Name of the device.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Boot priority (1 is first). When any device sets it, only devices with a boot order boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub boot_order: Option<i32>,
}

/// Reference to a Secret with provisioning data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningRef {
    /// Kind of the object (only `Secret`).
    #[serde(default = "default_secret_kind")]
    pub kind: ProvisioningRefKind,
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Initial guest configuration. `type` selects which one of the sibling fields is used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    /// Kind of provisioning data.
    #[serde(rename = "type")]
    pub type_: ProvisioningType,
    /// Inline cloud-init document (at most 2048 bytes; use `userDataRef` for longer ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Secret of type `provisioning.virtualization.deckhouse.io/cloud-init` with key `userData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_ref: Option<ProvisioningRef>,
    /// Secret of type `provisioning.virtualization.deckhouse.io/sysprep` with `unattend.xml` or
    /// `autounattend.xml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysprep_ref: Option<ProvisioningRef>,
}

/// A network interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworksSpec {
    /// Interface id, 1 to 16383 (the main network is always 1). Assigned automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16383))]
    pub id: Option<i32>,
    /// Kind of network.
    #[serde(rename = "type")]
    pub type_: NetworkType,
    /// Name of the Network or ClusterNetwork; empty for `Main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// VirtualMachineMACAddress to use for this interface. Empty: one is created.
    #[serde(
        default,
        rename = "virtualMachineMACAddressName",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1))]
    pub virtual_machine_mac_address_name: Option<String>,
    /// SDN IPAddress to use on this interface (networks with IPAM only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub ip_address_name: Option<String>,
}

/// A USB device passed through to the VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsbDeviceSpecRef {
    /// Name of a USBDevice of the namespace.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// A GPU passed through to the VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GpuSpec {
    /// Name of the GPUClass to allocate from.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub gpu_class_name: String,
}

string_enum! {
    /// Lifecycle phase of a VirtualMachine.
    pub enum VirtualMachinePhase {
        /// Waiting for dependencies or for scheduling.
        Pending = "Pending",
        /// Running.
        Running = "Running",
        /// Running with problems.
        Degraded = "Degraded",
        /// Being deleted.
        Terminating = "Terminating",
        /// Powered off.
        Stopped = "Stopped",
        /// Shutting down or rebooting.
        Stopping = "Stopping",
        /// Starting on a node.
        Starting = "Starting",
        /// Live-migrating to another node.
        Migrating = "Migrating",
        /// Paused.
        Pause = "Pause",
    }
}

/// A block device as attached to the running VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockDeviceStatusRef {
    /// Kind of the device.
    pub kind: BlockDeviceKind,
    /// Name of the device.
    pub name: String,
    /// Size of the device.
    pub size: String,
    /// Whether the device is attached to the running guest.
    pub attached: bool,
    /// Whether the device was attached on the fly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotplugged: Option<bool>,
    /// Device name inside the hypervisor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// VirtualMachineBlockDeviceAttachment that attached it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_block_device_attachment_name: Option<String>,
    /// Boot priority in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<i32>,
}

/// Guest OS information reported by the QEMU guest agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuestOsInfo {
    /// OS identifier (e.g. `ubuntu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// OS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Human-readable OS name and version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// OS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// OS version identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Kernel release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// Kernel version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// Machine architecture (e.g. `x86_64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

/// A phase change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTransition {
    /// The phase entered.
    pub phase: VirtualMachinePhase,
    /// When it was entered.
    pub timestamp: Time,
}

/// Durations of the start stages (Go duration strings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LaunchTimeDuration {
    /// From Pending to Starting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_dependencies: Option<String>,
    /// From Starting to Running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_starting: Option<String>,
    /// From Running to a responding guest agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_os_agent_starting: Option<String>,
}

/// VM statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStats {
    /// History of phase changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases_transitions: Vec<PhaseTransition>,
    /// Durations of the last start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time_duration: Option<LaunchTimeDuration>,
    /// When the VM last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_start_time: Option<Time>,
}

/// One side of a migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrationEndpoint {
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

string_enum! {
    /// Outcome of a live migration.
    pub enum MigrationResult {
        /// The VM now runs on the target.
        Succeeded = "Succeeded",
        /// The VM stayed on the source.
        Failed = "Failed",
    }
}

/// The last live migration of the VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineMigrationState {
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<Time>,
    /// Where the VM moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<MigrationEndpoint>,
    /// Where the VM moved from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<MigrationEndpoint>,
    /// Outcome (empty while in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<MigrationResult>,
}

/// CPU recommendation for a VM whose `coreFraction` is `Auto`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedCpu {
    /// Recommended core fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(100|[1-9][0-9]?)%$"))]
    pub core_fraction: Option<String>,
}

/// Resource recommendations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedResources {
    /// CPU recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<RecommendedCpu>,
}

string_enum! {
    /// Kind of a pending configuration change.
    pub enum ChangeOperation {
        /// A value is added.
        Add = "add",
        /// A value is removed.
        Remove = "remove",
        /// A value is replaced.
        Replace = "replace",
    }
}

/// A configuration change that takes effect only after a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestartAwaitingChange {
    /// Kind of change.
    pub operation: ChangeOperation,
    /// Changed path in the spec, e.g. `cpu.cores`.
    pub path: String,
    /// Value applied to the running VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub current_value: Option<Value>,
    /// Value in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub desired_value: Option<Value>,
}

/// A launcher pod of the VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePod {
    /// Pod name.
    pub name: String,
    /// Whether this pod runs the guest now.
    pub active: bool,
}

/// Hypervisor component versions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HypervisorVersions {
    /// QEMU version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu: Option<String>,
    /// libvirt version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libvirt: Option<String>,
}

/// Sockets and cores per socket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuTopology {
    /// Cores in each socket.
    pub cores_per_socket: i32,
    /// Number of sockets.
    pub sockets: i32,
}

/// CPU resources applied to the running VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuStatus {
    /// Number of virtual cores.
    pub cores: i32,
    /// Guaranteed share of each core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_fraction: Option<String>,
    /// CPU requested from the node.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub requested_cores: Option<String>,
    /// CPU used by the hypervisor on top of the guest.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub runtime_overhead: Option<String>,
    /// Socket layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<CpuTopology>,
}

/// Memory applied to the running VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStatus {
    /// Guest memory.
    #[serde(deserialize_with = "quantity::de")]
    #[schemars(schema_with = "quantity::schema")]
    pub size: String,
    /// Memory used by the hypervisor on top of the guest.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub runtime_overhead: Option<String>,
}

/// Resources applied to the running VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineResources {
    /// CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStatus>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStatus>,
}

/// A network interface as attached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworksStatus {
    /// Interface id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// Kind of network.
    #[serde(rename = "type")]
    pub type_: NetworkType,
    /// Network name (empty for `Main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC address of the interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// VirtualMachineMACAddress holding the MAC.
    #[serde(
        default,
        rename = "virtualMachineMACAddressName",
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_machine_mac_address_name: Option<String>,
    /// IP address on this interface, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// USB bus address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsbAddress {
    /// Bus number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<i32>,
    /// Port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// A USB device as attached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsbDeviceStatus {
    /// Name of the USBDevice.
    pub name: String,
    /// Whether it is attached to the guest.
    pub attached: bool,
    /// Whether it is ready to be attached.
    pub ready: bool,
    /// Address in the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<UsbAddress>,
    /// Whether it was attached on the fly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotplugged: Option<bool>,
}

/// Observed state of a VirtualMachine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachinePhase>,
    /// Node running the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// VirtualMachineIPAddress bound to the VM.
    #[serde(
        default,
        rename = "virtualMachineIPAddressName",
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_machine_ip_address_name: Option<String>,
    /// IP address on the main network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Attached block devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_device_refs: Vec<BlockDeviceStatusRef>,
    /// Guest OS information from the guest agent.
    #[serde(
        default,
        rename = "guestOSInfo",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "guest_os_info_schema")]
    pub guest_os_info: Option<GuestOsInfo>,
    /// Detailed state (`Running`, `AgentReady`, `BlockDevicesReady`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<VirtualMachineStats>,
    /// The last live migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_state: Option<VirtualMachineMigrationState>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Resource recommendations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_resources: Option<RecommendedResources>,
    /// Spec changes waiting for a restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_awaiting_changes: Vec<RestartAwaitingChange>,
    /// Launcher pods (two during a migration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_machine_pods: Vec<VirtualMachinePod>,
    /// Hypervisor versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<HypervisorVersions>,
    /// Applied CPU and memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<VirtualMachineResources>,
    /// Network interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworksStatus>,
    /// USB devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usb_devices: Vec<UsbDeviceStatus>,
}

/// `guestOSInfo` keeps whatever the agent reports, beyond the known fields.
fn guest_os_info_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut s = g.subschema_for::<GuestOsInfo>();
    s.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
    s
}
