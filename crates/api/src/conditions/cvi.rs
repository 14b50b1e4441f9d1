//! ClusterVirtualImage conditions.

use super::condition_set;

pub use super::vi::DatasourceReadyReason;

condition_set! {
    types {
        /// The data source is available.
        DatasourceReady = "DatasourceReady",
        /// The image is usable.
        Ready = "Ready",
        /// Who uses the image.
        InUse = "InUse",
        /// Deletion state.
        Terminating = "Terminating",
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
        /// Usable.
        Ready = "Ready",
        /// The image disappeared from DVCR.
        ImageLost = "ImageLost",
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
