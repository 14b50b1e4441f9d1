//! VirtualMachineMACAddress (`vmmac`): the MAC of one additional network interface.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::macros::{resource_object, string_enum};

resource_object! {
    /// A MAC address reserved for a VM interface of the namespace.
    VirtualMachineMACAddress {
        spec: VirtualMachineMACAddressSpec = default,
        status: VirtualMachineMACAddressStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineMACAddress",
        plural: "virtualmachinemacaddresses",
        namespaced: true,
    }
}

/// `aa:bb:cc:dd:ee:ff` (or with dashes).
pub const MAC_ADDRESS_PATTERN: &str = r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$";

/// Desired MAC address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineMACAddressSpec {
    /// The requested address. Empty: one is generated. Immutable once bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MAC_ADDRESS_PATTERN))]
    pub address: Option<String>,
}

string_enum! {
    /// Lifecycle phase of a MAC address.
    pub enum VirtualMachineMACAddressPhase {
        /// No lease yet.
        Pending = "Pending",
        /// Leased, not used by a VM.
        Bound = "Bound",
        /// Leased and used by a VM.
        Attached = "Attached",
    }
}

/// Observed state of a MAC address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineMACAddressStatus {
    /// The leased address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// VM using the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_name: Option<String>,
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineMACAddressPhase>,
    /// Detailed state (`Bound`, `Attached`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
