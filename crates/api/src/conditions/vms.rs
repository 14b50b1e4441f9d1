//! VirtualMachineSnapshot conditions.

use super::condition_set;

condition_set! {
    types {
        /// The VM can be snapshotted.
        VirtualMachineReady = "VirtualMachineReady",
        /// The snapshot state.
        VirtualMachineSnapshotReady = "VirtualMachineSnapshotReady",
    }
    /// Reasons of `VirtualMachineReady`.
    VirtualMachineReadyReason {
        /// Ready.
        VirtualMachineReady = "VirtualMachineReady",
        /// The VM cannot be snapshotted now.
        VirtualMachineNotReadyForSnapshotting = "VirtualMachineNotReadyForSnapshotting",
    }
    /// Reasons of `VirtualMachineSnapshotReady`.
    VirtualMachineSnapshotReadyReason {
        /// Waiting for the VM.
        WaitingForTheVirtualMachine = "WaitingForTheVirtualMachine",
        /// Some block device is not ready.
        BlockDevicesNotReady = "BlockDevicesNotReady",
        /// A consistent snapshot is impossible.
        PotentiallyInconsistent = "PotentiallyInconsistent",
        /// A disk snapshot disappeared.
        VirtualDiskSnapshotLost = "VirtualDiskSnapshotLost",
        /// Freezing the guest file systems.
        FileSystemFreezing = "FileSystemFreezing",
        /// Unfreezing the guest file systems.
        FileSystemUnfreezing = "FileSystemUnfreezing",
        /// Taking the snapshot.
        Snapshotting = "Snapshotting",
        /// Usable.
        VirtualMachineSnapshotReady = "VirtualMachineSnapshotReady",
        /// Failed.
        VirtualMachineSnapshotFailed = "VirtualMachineSnapshotFailed",
    }
}
