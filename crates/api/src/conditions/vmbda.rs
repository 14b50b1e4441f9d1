//! VirtualMachineBlockDeviceAttachment conditions.

use super::condition_set;

condition_set! {
    types {
        /// The device is ready.
        BlockDeviceReady = "BlockDeviceReady",
        /// The VM is ready for hot-plug.
        VirtualMachineReady = "VirtualMachineReady",
        /// The attachment state.
        Attached = "Attached",
        /// Whether the VM has room for another device (the type string really ends in `Type`).
        DiskAttachmentCapacityAvailable = "DiskAttachmentCapacityAvailableType",
        /// Deletion state.
        Terminating = "Terminating",
    }
    /// Reasons of `BlockDeviceReady`.
    BlockDeviceReadyReason {
        /// Ready.
        BlockDeviceReady = "BlockDeviceReady",
        /// Not ready.
        BlockDeviceNotReady = "BlockDeviceNotReady",
    }
    /// Reasons of `VirtualMachineReady`.
    VirtualMachineReadyReason {
        /// Ready.
        VirtualMachineReady = "VirtualMachineReady",
        /// Not ready.
        VirtualMachineNotReady = "VirtualMachineNotReady",
    }
    /// Reasons of `Attached`.
    AttachedReason {
        /// Attached.
        Attached = "Attached",
        /// Not attached.
        NotAttached = "NotAttached",
        /// The hot-plug request was sent.
        AttachmentRequestSent = "AttachmentRequestSent",
        /// Another attachment or the VM spec already uses the device.
        Conflict = "Conflict",
        /// The device cannot be reached from the VM's node.
        DeviceNotAvailableOnNode = "DeviceNotAvailableOnNode",
    }
    /// Reasons of `DiskAttachmentCapacityAvailableType`.
    CapacityReason {
        /// There is room.
        CapacityAvailable = "CapacityAvailable",
        /// The VM has 16 devices.
        CapacityReached = "CapacityReached",
        /// Unknown.
        CapacityUnknown = "CapacityUnknown",
    }
    /// Reasons of `Terminating`.
    TerminatingReason {
        /// Detaching.
        DetachPending = "DetachPending",
    }
}
