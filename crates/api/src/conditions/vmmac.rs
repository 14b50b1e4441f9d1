//! VirtualMachineMACAddress conditions.

use super::condition_set;

condition_set! {
    types {
        /// The lease state.
        Bound = "Bound",
        /// The VM state.
        Attached = "Attached",
    }
    /// Reasons of `Bound`.
    BoundReason {
        /// Leased.
        Bound = "Bound",
        /// Another object holds the lease.
        VirtualMachineMacAddressLeaseAlreadyExists = "VirtualMachineMACAddressLeaseAlreadyExists",
        /// The lease disappeared.
        VirtualMachineMacAddressLeaseLost = "VirtualMachineMACAddressLeaseLost",
        /// The lease does not exist yet.
        VirtualMachineMacAddressLeaseNotFound = "VirtualMachineMACAddressLeaseNotFound",
        /// The lease is not bound yet.
        VirtualMachineMacAddressLeaseNotReady = "VirtualMachineMACAddressLeaseNotReady",
    }
    /// Reasons of `Attached`.
    AttachedReason {
        /// Used by a VM.
        Attached = "Attached",
        /// The VM does not exist.
        VirtualMachineNotFound = "VirtualMachineNotFound",
    }
}
