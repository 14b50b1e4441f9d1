//! VirtualMachineIPAddress (`vmip`): a VM's address on the main network.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::macros::{resource_object, string_enum};

resource_object! {
    /// An IP address reserved for a VM of the namespace.
    VirtualMachineIPAddress {
        spec: VirtualMachineIPAddressSpec,
        status: VirtualMachineIPAddressStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineIPAddress",
        plural: "virtualmachineipaddresses",
        namespaced: true,
    }
}

string_enum! {
    /// How the address is chosen.
    pub enum VirtualMachineIPAddressType {
        /// The first free address of the module's `virtualMachineCIDRs`.
        Auto = "Auto",
        /// The address given in `staticIP`.
        Static = "Static",
    }
}

/// Desired address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineIPAddressSpec {
    /// How the address is chosen.
    #[serde(rename = "type")]
    pub type_: VirtualMachineIPAddressType,
    /// The requested address (type `Static` only); must lie inside `virtualMachineCIDRs` and not
    /// be a network or broadcast address.
    #[serde(default, rename = "staticIP", skip_serializing_if = "Option::is_none")]
    pub static_ip: Option<String>,
}

string_enum! {
    /// Lifecycle phase of an address.
    pub enum VirtualMachineIPAddressPhase {
        /// No lease yet.
        Pending = "Pending",
        /// Leased, not used by a VM.
        Bound = "Bound",
        /// Leased and used by a VM.
        Attached = "Attached",
    }
}

/// Observed state of an address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineIPAddressStatus {
    /// The leased address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// VM using the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_name: Option<String>,
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineIPAddressPhase>,
    /// Detailed state (`Bound`, `Attached`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
