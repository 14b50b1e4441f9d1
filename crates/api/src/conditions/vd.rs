//! VirtualDisk conditions.

use super::condition_set;

condition_set! {
    types {
        /// The data source is available.
        DatasourceReady = "DatasourceReady",
        /// The disk is usable.
        Ready = "Ready",
        /// The disk is being resized.
        Resizing = "Resizing",
        /// A snapshot is being taken.
        Snapshotting = "Snapshotting",
        /// The StorageClass is usable.
        StorageClassReady = "StorageClassReady",
        /// Who uses the disk.
        InUse = "InUse",
        /// A volume migration state.
        Migrating = "Migrating",
        /// Deletion state.
        Terminating = "Terminating",
    }
    /// Reasons of `DatasourceReady`.
    DatasourceReadyReason {
        /// The source is available.
        DatasourceReady = "DatasourceReady",
        /// The registry credentials Secret is missing.
        ContainerRegistrySecretNotFound = "ContainerRegistrySecretNotFound",
        /// The source image is not ready.
        ImageNotReady = "ImageNotReady",
        /// The source cluster image is not ready.
        ClusterImageNotReady = "ClusterImageNotReady",
        /// The source snapshot is not ready (the reason string is literally `VirtualDiskSnapshot`).
        VirtualDiskSnapshotNotReady = "VirtualDiskSnapshot",
        /// The source image does not exist.
        ImageNotFound = "ImageNotFound",
        /// The source cluster image does not exist.
        ClusterImageNotFound = "ClusterImageNotFound",
    }
    /// Reasons of `Ready`.
    ReadyReason {
        /// Waiting for an upload.
        WaitForUserUpload = "WaitForUserUpload",
        /// The upload did not start in time.
        WaitForUserUploadTimeout = "WaitForUserUploadTimeout",
        /// Provisioning.
        Provisioning = "Provisioning",
        /// Provisioning has not started.
        ProvisioningNotStarted = "ProvisioningNotStarted",
        /// Waiting for a VM to be scheduled.
        WaitingForFirstConsumer = "WaitingForFirstConsumer",
        /// Provisioning failed; it is retried.
        ProvisioningFailed = "ProvisioningFailed",
        /// Provisioning failed for good.
        ProvisioningFailedTerminally = "ProvisioningFailedTerminally",
        /// Usable.
        Ready = "Ready",
        /// The PVC disappeared.
        PvcLost = "PVCLost",
        /// Exporting data.
        Exporting = "Exporting",
        /// The project quota is exhausted.
        QuotaExceeded = "QuotaExceeded",
        /// The container image could not be pulled.
        ImagePullFailed = "ImagePullFailed",
        /// The data source is not ready.
        DatasourceIsNotReady = "DatasourceIsNotReady",
        /// The data source does not exist.
        DatasourceIsNotFound = "DatasourceIsNotFound",
        /// The StorageClass is not ready.
        StorageClassIsNotReady = "StorageClassIsNotReady",
        /// The StorageClass provisioner does not match the source.
        StorageClassProvisionerMismatch = "StorageClassProvisionerMismatch",
    }
    /// Reasons of `Resizing`.
    ResizingReason {
        /// Resizing.
        InProgress = "InProgress",
    }
    /// Reasons of `Snapshotting`.
    SnapshottingReason {
        /// A snapshot is being taken.
        Snapshotting = "Snapshotting",
        /// Snapshots are not possible now.
        NotAvailable = "NotAvailable",
    }
    /// Reasons of `StorageClassReady`.
    StorageClassReadyReason {
        /// Usable.
        StorageClassReady = "StorageClassReady",
        /// Missing, not allowed or deprecated.
        StorageClassNotReady = "StorageClassNotReady",
    }
    /// Reasons of `InUse`.
    InUseReason {
        /// Used by a VM.
        AttachedToVirtualMachine = "AttachedToVirtualMachine",
        /// Read to create an image.
        UsedForImageCreation = "UsedForImageCreation",
        /// Being exported.
        UsedForDataExport = "UsedForDataExport",
        /// Not used.
        NotInUse = "NotInUse",
    }
    /// Reasons of `Migrating`.
    MigratingReason {
        /// Waiting for the target volume.
        WaitForTargetReady = "WaitForTargetReady",
        /// Copying.
        InProgress = "InProgress",
        /// Waiting for the target volume to be released.
        WaitForTargetVolumeRelease = "WaitForTargetVolumeRelease",
        /// Waiting for the source volume to be released.
        WaitForSourceVolumeRelease = "WaitForSourceVolumeRelease",
        /// A resize is in progress.
        ResizingInProgress = "ResizingInProgress",
        /// A snapshot is in progress.
        SnapshottingInProgress = "SnapshottingInProgress",
        /// The target StorageClass is missing.
        StorageClassNotFound = "StorageClassNotFound",
    }
    /// Reasons of `Terminating`.
    TerminatingReason {
        /// Cleanup is pending.
        CleanupPending = "CleanupPending",
    }
}
