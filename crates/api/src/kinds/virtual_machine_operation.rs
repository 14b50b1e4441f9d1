//! VirtualMachineOperation (`vmop`): a one-shot imperative action on a VM.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{NameCustomization, NameReplacement, OperationResource, SnapshotOperationMode};
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// An action (start, stop, restart, migrate, restore, clone) applied once to a VM.
    VirtualMachineOperation {
        spec: VirtualMachineOperationSpec,
        status: VirtualMachineOperationStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineOperation",
        plural: "virtualmachineoperations",
        namespaced: true,
    }
}

string_enum! {
    /// The action to perform.
    pub enum VirtualMachineOperationType {
        /// Reboot the VM.
        Restart = "Restart",
        /// Power the VM on.
        Start = "Start",
        /// Power the VM off.
        Stop = "Stop",
        /// Live-migrate the VM, optionally to nodes matching `migrate.nodeSelector`.
        Migrate = "Migrate",
        /// Live-migrate the VM to another node.
        Evict = "Evict",
        /// Restore the VM from a snapshot (`restore`).
        Restore = "Restore",
        /// Create a copy of the VM (`clone`).
        Clone = "Clone",
    }
}

/// Desired action. Immutable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineOperationSpec {
    /// The action.
    #[serde(rename = "type")]
    pub type_: VirtualMachineOperationType,
    /// Name of the VM in the same namespace.
    #[schemars(length(min = 1))]
    pub virtual_machine_name: String,
    /// Restart/Stop: act immediately (hard reset or power off). Evict/Migrate: override the
    /// slow-down decision of `Prefer*` live migration policies. Not allowed for Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Migration target selection (type `Migrate` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<VirtualMachineOperationMigrateSpec>,
    /// Restore parameters (required for type `Restore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<VirtualMachineOperationRestoreSpec>,
    /// Clone parameters (required for type `Clone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone: Option<VirtualMachineOperationCloneSpec>,
}

/// Migration target selection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineOperationMigrateSpec {
    /// Labels the target node must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
}

/// Restore parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineOperationRestoreSpec {
    /// How missing dependencies are treated.
    pub mode: SnapshotOperationMode,
    /// VirtualMachineSnapshot to restore from.
    #[schemars(length(min = 1))]
    pub virtual_machine_snapshot_name: String,
}

/// Clone parameters. At least one of `nameReplacement`, `customization.namePrefix`,
/// `customization.nameSuffix` is needed so the copies get new names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineOperationCloneSpec {
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
    /// Lifecycle phase of an operation.
    pub enum VirtualMachineOperationPhase {
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
        /// Replaced by a newer compatible operation.
        Superseded = "Superseded",
    }
}

/// Observed state of an operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineOperationStatus {
    /// Lifecycle phase.
    pub phase: VirtualMachineOperationPhase,
    /// Migration progress as a percentage (Evict/Migrate only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Restore/clone plan and per-resource outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<OperationResource>,
    /// Detailed state (`Completed`, `SignalSent`, `MaintenanceMode`, `SnapshotReady`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
