//! VirtualMachineClass conditions.

use super::condition_set;

condition_set! {
    types {
        /// Suitable nodes exist.
        Ready = "Ready",
        /// CPU discovery state.
        Discovered = "Discovered",
        /// VMs use the class.
        InUse = "InUse",
    }
    /// Reasons of `Ready`.
    ReadyReason {
        /// Some node supports the CPU.
        SuitableNodesFound = "SuitableNodesFound",
        /// No node supports the CPU.
        NoSuitableNodesFound = "NoSuitableNodesFound",
        /// No CPU features are enabled.
        NoCpuFeaturesEnabled = "NoCpuFeaturesEnabled",
    }
    /// Reasons of `Discovered`.
    DiscoveredReason {
        /// Features were discovered.
        DiscoverySucceeded = "DiscoverySucceeded",
        /// Discovery does not apply to this CPU type.
        DiscoverySkip = "DiscoverySkip",
        /// Discovery failed.
        DiscoveryFailed = "DiscoveryFailed",
    }
    /// Reasons of `InUse`.
    InUseReason {
        /// VMs reference the class.
        VirtualMachineClassInUse = "VirtualMachineClassInUse",
    }
}
