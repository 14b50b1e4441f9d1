//! VirtualMachineIPAddress conditions.

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
        /// The address is outside `virtualMachineCIDRs`.
        VirtualMachineIpAddressIsOutOfTheValidRange = "VirtualMachineIPAddressIsOutOfTheValidRange",
        /// Another object holds the lease.
        VirtualMachineIpAddressLeaseAlreadyExists = "VirtualMachineIPAddressLeaseAlreadyExists",
        /// The lease disappeared.
        VirtualMachineIpAddressLeaseLost = "VirtualMachineIPAddressLeaseLost",
        /// The lease does not exist yet.
        VirtualMachineIpAddressLeaseNotFound = "VirtualMachineIPAddressLeaseNotFound",
        /// The lease is not bound yet.
        VirtualMachineIpAddressLeaseNotReady = "VirtualMachineIPAddressLeaseNotReady",
    }
    /// Reasons of `Attached`.
    AttachedReason {
        /// Used by a VM.
        Attached = "Attached",
        /// The VM does not exist.
        VirtualMachineNotFound = "VirtualMachineNotFound",
    }
}
