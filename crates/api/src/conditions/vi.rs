//! VirtualImage conditions.

use super::condition_set;

condition_set! {
    types {
        /// The data source is available.
        DatasourceReady = "DatasourceReady",
        /// The image is usable.
        Ready = "Ready",
        /// The StorageClass is usable.
        StorageClassReady = "StorageClassReady",
        /// Who uses the image.
        InUse = "InUse",
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
        /// The source disk is not ready.
        VirtualDiskNotReady = "VirtualDiskNotReady",
        /// The source snapshot is not ready.
        VirtualDiskSnapshotNotReady = "VirtualDiskSnapshotNotReady",
        /// The source disk cannot be read now.
        VirtualDiskNotReadyForUse = "VirtualDiskNotReadyForUse",
        /// The source disk is attached to a running VM.
        VirtualDiskAttachedToVirtualMachine = "VirtualDiskAttachedToVirtualMachine",
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
        /// Provisioning failed; it is retried.
        ProvisioningFailed = "ProvisioningFailed",
        /// Provisioning failed for good.
        ProvisioningFailedTerminally = "ProvisioningFailedTerminally",
        /// The StorageClass is not ready.
        StorageClassNotReady = "StorageClassNotReady",
        /// Usable.
        Ready = "Ready",
        /// The project quota is exhausted.
        QuotaExceeded = "QuotaExceeded",
        /// The container image could not be pulled.
        ImagePullFailed = "ImagePullFailed",
        /// The data source is not ready.
        DatasourceNotReady = "DatasourceNotReady",
        /// The image disappeared from DVCR.
        ImageLost = "ImageLost",
        /// The PVC disappeared.
        PvcLost = "PVCLost",
    }
    /// Reasons of `StorageClassReady`.
    StorageClassReadyReason {
        /// Usable.
        StorageClassReady = "StorageClassReady",
        /// Missing.
        StorageClassNotFound = "StorageClassNotFound",
        /// The image lives in DVCR; no StorageClass applies.
        DvcrTypeUsed = "DVCRTypeUsed",
    }
    /// Reasons of `InUse`.
    InUseReason {
        /// Used by a VM.
        AttachedToVirtualMachine = "AttachedToVirtualMachine",
        /// Not used.
        NotInUse = "NotInUse",
    }
    /// Reasons of `Terminating`.
    TerminatingReason {
        /// Cleanup is pending.
        CleanupPending = "CleanupPending",
    }
}
