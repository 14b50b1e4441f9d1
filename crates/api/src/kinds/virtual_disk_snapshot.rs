//! VirtualDiskSnapshot (`vdsnapshot`, `vds`): a point-in-time copy of one disk.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::default_true;
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// A snapshot of a VirtualDisk.
    VirtualDiskSnapshot {
        spec: VirtualDiskSnapshotSpec,
        status: VirtualDiskSnapshotStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualDiskSnapshot",
        plural: "virtualdisksnapshots",
        namespaced: true,
    }
}

/// Desired state of a VirtualDiskSnapshot. Immutable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskSnapshotSpec {
    /// Name of the disk to snapshot, in the same namespace.
    #[schemars(length(min = 1))]
    pub virtual_disk_name: String,
    /// When true, the snapshot is taken only if it can be consistent: the disk is detached, its VM
    /// is stopped, or the guest agent froze the file systems.
    #[serde(default = "default_true")]
    pub required_consistency: bool,
}

string_enum! {
    /// Lifecycle phase of a VirtualDiskSnapshot.
    pub enum VirtualDiskSnapshotPhase {
        /// Waiting for the disk.
        Pending = "Pending",
        /// Taking the snapshot.
        InProgress = "InProgress",
        /// Usable as a data source.
        Ready = "Ready",
        /// The snapshot could not be taken; see the conditions.
        Failed = "Failed",
        /// Being deleted.
        Terminating = "Terminating",
    }
}

/// Observed state of a VirtualDiskSnapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskSnapshotStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualDiskSnapshotPhase>,
    /// Name of the underlying VolumeSnapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_name: Option<String>,
    /// Whether the snapshot is known to be consistent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// Detailed state (`VirtualDiskReady`, `VirtualDiskSnapshotReady`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
