//! VirtualDiskSnapshot conditions.

use super::condition_set;

condition_set! {
    types {
        /// The disk can be snapshotted.
        VirtualDiskReady = "VirtualDiskReady",
        /// The snapshot state.
        VirtualDiskSnapshotReady = "VirtualDiskSnapshotReady",
    }
    /// Reasons of `VirtualDiskReady`.
    VirtualDiskReadyReason {
        /// The disk is ready.
        VirtualDiskReady = "VirtualDiskReady",
        /// The disk cannot be snapshotted now.
        VirtualDiskNotReadyForSnapshotting = "VirtualDiskNotReadyForSnapshotting",
    }
    /// Reasons of `VirtualDiskSnapshotReady`.
    VirtualDiskSnapshotReadyReason {
        /// Waiting for the disk.
        WaitingForTheVirtualDisk = "WaitingForTheVirtualDisk",
        /// A consistent snapshot is impossible (the guest could not be frozen).
        PotentiallyInconsistent = "PotentiallyInconsistent",
        /// The underlying VolumeSnapshot disappeared.
        Lost = "Lost",
        /// Freezing the guest file systems.
        FileSystemFreezing = "FileSystemFreezing",
        /// Unfreezing the guest file systems.
        FileSystemUnfreezing = "FileSystemUnfreezing",
        /// Taking the snapshot.
        Snapshotting = "Snapshotting",
        /// Usable.
        VirtualDiskSnapshotReady = "VirtualDiskSnapshotReady",
        /// Failed.
        VirtualDiskSnapshotFailed = "VirtualDiskSnapshotFailed",
    }
}
