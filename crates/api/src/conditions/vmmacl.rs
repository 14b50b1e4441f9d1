//! VirtualMachineMACAddressLease conditions.

use super::condition_set;

condition_set! {
    types {
        /// The lease state.
        Bound = "Bound",
    }
    /// Reasons of `Bound` (an unbound lease is written with reason `Unknown` and deleted).
    BoundReason {
        /// Held by a MAC address object.
        Bound = "Bound",
    }
}
