//! VirtualMachineSnapshotOperation conditions.

use super::condition_set;

condition_set! {
    types {
        /// Progress and outcome of the operation.
        Completed = "Completed",
    }
    /// Reasons of `Completed`.
    CompletedReason {
        /// The snapshot does not exist.
        VirtualMachineSnapshotNotFound = "VirtualMachineSnapshotNotFound",
        /// The snapshot's phase does not allow the operation.
        NotApplicableForVirtualMachinePhase = "NotApplicableForVirtualMachinePhase",
        /// Another operation must finish first.
        NotReadyToBeExecuted = "NotReadyToBeExecuted",
        /// Creating the VM.
        CreateVirtualMachineInProgress = "CreateVirtualMachineInProgress",
        /// Failed.
        OperationFailed = "OperationFailed",
        /// Done.
        OperationCompleted = "OperationCompleted",
    }
}
