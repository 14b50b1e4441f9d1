//! VirtualMachineSnapshot (`vmsnapshot`, `vms`): a point-in-time copy of a VM and its disks.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{ResourceRef, default_true};
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// A snapshot of a VirtualMachine: its configuration plus one VirtualDiskSnapshot per disk.
    VirtualMachineSnapshot {
        spec: VirtualMachineSnapshotSpec,
        status: VirtualMachineSnapshotStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineSnapshot",
        plural: "virtualmachinesnapshots",
        namespaced: true,
    }
}

string_enum! {
    /// What happens to an automatically assigned IP address in the snapshot.
    pub enum KeepIpAddress {
        /// Save an `Auto` address as `Static` so a restore gets the same address. The default.
        Always = "Always",
        /// Keep the address type as is; an `Auto` address gets a new IP on restore.
        Never = "Never",
    }
}

fn default_keep_ip_address() -> KeepIpAddress {
    KeepIpAddress::Always
}

/// Desired snapshot. Immutable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSnapshotSpec {
    /// VM to snapshot, in the same namespace.
    #[schemars(length(min = 1))]
    pub virtual_machine_name: String,
    /// When true, the snapshot is taken only if it can be consistent: the VM is stopped or the
    /// guest agent froze the file systems.
    #[serde(default = "default_true")]
    pub required_consistency: bool,
    /// Whether an automatic IP address is converted to a static one in the snapshot.
    #[serde(default = "default_keep_ip_address", rename = "keepIPAddress")]
    pub keep_ip_address: KeepIpAddress,
}

string_enum! {
    /// Lifecycle phase of a VM snapshot.
    pub enum VirtualMachineSnapshotPhase {
        /// Waiting for the VM.
        Pending = "Pending",
        /// Taking the snapshot.
        InProgress = "InProgress",
        /// Usable for restore.
        Ready = "Ready",
        /// The snapshot could not be taken; see the conditions.
        Failed = "Failed",
        /// Being deleted.
        Terminating = "Terminating",
    }
}

/// Observed state of a VM snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSnapshotStatus {
    /// Lifecycle phase.
    pub phase: VirtualMachineSnapshotPhase,
    /// Whether the snapshot is known to be consistent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// Disk snapshots taken (`<disk>-<snapshot uid>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_disk_snapshot_names: Vec<String>,
    /// Secret holding the saved VM configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_snapshot_secret_name: Option<String>,
    /// Resources captured in the snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceRef>,
    /// Detailed state (`VirtualMachineReady`, `VirtualMachineSnapshotReady`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
