//! VirtualMachineIPAddressLease conditions.

use super::condition_set;

condition_set! {
    types {
        /// The lease state.
        Bound = "Bound",
    }
    /// Reasons of `Bound`.
    BoundReason {
        /// Held by an address object.
        Bound = "Bound",
        /// No longer held.
        Released = "Released",
    }
}
