//! VirtualMachineSnapshotOperation (`vmsop`): create a new VM from a VM snapshot.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{NameCustomization, NameReplacement, OperationResource, SnapshotOperationMode};
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// An action applied once to a VirtualMachineSnapshot.
    VirtualMachineSnapshotOperation {
        spec: VirtualMachineSnapshotOperationSpec,
        status: VirtualMachineSnapshotOperationStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineSnapshotOperation",
        plural: "virtualmachinesnapshotoperations",
        namespaced: true,
    }
}

string_enum! {
    /// The action to perform.
    pub enum VirtualMachineSnapshotOperationType {
        /// Create a new VM (and its resources) from the snapshot.
        CreateVirtualMachine = "CreateVirtualMachine",
    }
}

/// Desired action. Immutable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSnapshotOperationSpec {
    /// The action.
    #[serde(rename = "type")]
    pub type_: VirtualMachineSnapshotOperationType,
    /// Snapshot to act on, in the same namespace.
    #[schemars(length(min = 1))]
    pub virtual_machine_snapshot_name: String,
    /// Parameters of `CreateVirtualMachine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_virtual_machine: Option<CreateVirtualMachineSpec>,
}

/// How the new VM and its resources are named. At least one of `nameReplacement`,
/// `customization.namePrefix`, `customization.nameSuffix` is needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVirtualMachineSpec {
    /// How missing dependencies are treated.
    pub mode: SnapshotOperationMode,
    /// Explicit new names for individual resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_replacement: Vec<NameReplacement>,
    /// Prefix/suffix for every new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customization: Option<NameCustomization>,
}

string_enum! {
    /// Lifecycle phase of a snapshot operation.
    pub enum VirtualMachineSnapshotOperationPhase {
        /// Queued.
        Pending = "Pending",
        /// Executing.
        InProgress = "InProgress",
        /// Finished successfully.
        Completed = "Completed",
        /// Failed; see the `Completed` condition.
        Failed = "Failed",
        /// Being deleted.
        Terminating = "Terminating",
    }
}

/// Observed state of a snapshot operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSnapshotOperationStatus {
    /// Lifecycle phase.
    pub phase: VirtualMachineSnapshotOperationPhase,
    /// Plan and per-resource outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<OperationResource>,
    /// Detailed state (`Completed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
