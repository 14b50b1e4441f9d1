//! VirtualMachineOperation conditions.

use super::condition_set;

condition_set! {
    types {
        /// Progress and outcome of the operation.
        Completed = "Completed",
        /// Whether the start/stop/restart signal was delivered.
        SignalSent = "SignalSent",
        /// Whether the VM is held in maintenance (restore).
        MaintenanceMode = "MaintenanceMode",
        /// State of the temporary snapshot of a clone.
        SnapshotReady = "SnapshotReady",
    }
    /// Reasons of `Completed`.
    CompletedReason {
        /// The VM does not exist.
        VirtualMachineNotFound = "VirtualMachineNotFound",
        /// The VM's run policy does not allow this operation.
        NotApplicableForVirtualMachineRunPolicy = "NotApplicableForVirtualMachineRunPolicy",
        /// The VM's phase does not allow this operation.
        NotApplicableForVirtualMachinePhase = "NotApplicableForVirtualMachinePhase",
        /// The VM's live migration policy does not allow the requested `force`.
        NotApplicableForLiveMigrationPolicy = "NotApplicableForLiveMigrationPolicy",
        /// Another operation must finish first.
        NotReadyToBeExecuted = "NotReadyToBeExecuted",
        /// Replaced by a newer operation.
        Superseded = "Superseded",
        /// Restarting.
        RestartInProgress = "RestartInProgress",
        /// Starting.
        StartInProgress = "StartInProgress",
        /// Stopping.
        StopInProgress = "StopInProgress",
        /// Restoring.
        RestoreInProgress = "RestoreInProgress",
        /// Cloning.
        CloneInProgress = "CloneInProgress",
        /// The migration is queued.
        MigrationPending = "MigrationPending",
        /// Preparing the target.
        MigrationPrepareTarget = "MigrationPrepareTarget",
        /// The target is ready.
        MigrationTargetReady = "MigrationTargetReady",
        /// Migrating.
        MigrationRunning = "MigrationRunning",
        /// Scheduling the target.
        TargetScheduling = "TargetScheduling",
        /// No node can take the target.
        TargetUnschedulable = "TargetUnschedulable",
        /// The target cannot reach a disk.
        TargetDiskError = "TargetDiskError",
        /// Preparing the target.
        TargetPreparing = "TargetPreparing",
        /// Copying memory.
        Syncing = "Syncing",
        /// Waiting for a sync migration slot on the node.
        WaitingForSyncSlot = "WaitingForSyncSlot",
        /// Memory changes faster than it is copied.
        NotConverging = "NotConverging",
        /// The source is paused for the switch-over.
        SourceSuspended = "SourceSuspended",
        /// The target runs.
        TargetResumed = "TargetResumed",
        /// Done.
        Completed = "Completed",
        /// Aborted.
        Aborted = "Aborted",
        /// Failed.
        Failed = "Failed",
        /// Another migration of the VM runs.
        OtherMigrationInProgress = "OtherMigrationInProgress",
        /// Hot-plugged disks are not shared storage.
        HotplugDisksNotShared = "HotplugDisksNotShared",
        /// The project quota cannot hold the target.
        QuotaExceeded = "QuotaExceeded",
        /// Waiting for the VM to become migratable.
        WaitingForVirtualMachineToBeReadyToMigrate = "WaitingForVirtualMachineToBeReadyToMigrate",
        /// The operation failed.
        OperationFailed = "OperationFailed",
        /// The operation finished.
        OperationCompleted = "OperationCompleted",
        /// The migration network is unavailable.
        MigrationNetworkUnavailable = "MigrationNetworkUnavailable",
    }
    /// Reasons of `SignalSent`.
    SignalSentReason {
        /// Delivered.
        SignalSentSuccess = "SignalSentSuccess",
        /// Delivery failed.
        SignalSentError = "SignalSentError",
    }
    /// Reasons of `MaintenanceMode`.
    MaintenanceModeReason {
        /// On.
        MaintenanceModeEnabled = "MaintenanceModeEnabled",
        /// Off.
        MaintenanceModeDisabled = "MaintenanceModeDisabled",
        /// Could not be switched.
        MaintenanceModeFailure = "MaintenanceModeFailure",
    }
    /// Reasons of `SnapshotReady`.
    SnapshotReadyReason {
        /// Being taken.
        SnapshotInProgress = "SnapshotInProgress",
        /// Ready.
        SnapshotReady = "SnapshotReady",
        /// Deleted after use.
        SnapshotCleanedUp = "SnapshotCleanedUp",
        /// Failed.
        SnapshotFailed = "SnapshotFailed",
    }
}
