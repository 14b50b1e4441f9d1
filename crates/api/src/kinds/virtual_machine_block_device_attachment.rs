//! VirtualMachineBlockDeviceAttachment (`vmbda`): hot-plug of one disk or image into a VM.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::macros::{resource_object, string_enum};

resource_object! {
    /// Attaches one block device to a running VM without a restart.
    VirtualMachineBlockDeviceAttachment {
        spec: VirtualMachineBlockDeviceAttachmentSpec,
        status: VirtualMachineBlockDeviceAttachmentStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineBlockDeviceAttachment",
        plural: "virtualmachineblockdeviceattachments",
        namespaced: true,
    }
}

/// Desired attachment. Immutable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineBlockDeviceAttachmentSpec {
    /// VM to attach to, in the same namespace.
    #[schemars(length(min = 1))]
    pub virtual_machine_name: String,
    /// Device to attach.
    pub block_device_ref: VmbdaObjectRef,
}

string_enum! {
    /// Kinds of devices that can be hot-plugged.
    pub enum VmbdaObjectRefKind {
        /// A disk (read-write).
        VirtualDisk = "VirtualDisk",
        /// An image of the namespace (read-only).
        VirtualImage = "VirtualImage",
        /// A cluster-wide image (read-only).
        ClusterVirtualImage = "ClusterVirtualImage",
    }
}

/// The device to hot-plug.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmbdaObjectRef {
    /// Kind of the device.
    pub kind: VmbdaObjectRefKind,
    /// Name of the device.
    #[schemars(length(min = 1))]
    pub name: String,
}

string_enum! {
    /// Lifecycle phase of an attachment.
    pub enum VirtualMachineBlockDeviceAttachmentPhase {
        /// Waiting for the device and the VM.
        Pending = "Pending",
        /// Attaching.
        InProgress = "InProgress",
        /// Attached to the guest.
        Attached = "Attached",
        /// The device could not be attached; see the conditions.
        Failed = "Failed",
        /// Being deleted (the device is detached).
        Terminating = "Terminating",
    }
}

/// Observed state of an attachment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineBlockDeviceAttachmentStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineBlockDeviceAttachmentPhase>,
    /// VM the device is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_name: Option<String>,
    /// Detailed state (`BlockDeviceReady`, `VirtualMachineReady`, `Attached`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
