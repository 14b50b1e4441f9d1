//! VirtualMachineMACAddressLease (`vmmacl`): cluster-wide lease of one MAC, named `mac-aa-bb-cc-dd-ee-ff`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::NamespacedRef;
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// The lease of one MAC address.
    VirtualMachineMACAddressLease {
        spec: VirtualMachineMACAddressLeaseSpec = default,
        status: VirtualMachineMACAddressLeaseStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineMACAddressLease",
        plural: "virtualmachinemacaddressleases",
        namespaced: false,
    }
}

/// Who holds the lease.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineMACAddressLeaseSpec {
    /// The VirtualMachineMACAddress holding the lease.
    #[serde(
        default,
        rename = "virtualMachineMACAddressRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_machine_mac_address_ref: Option<NamespacedRef>,
}

string_enum! {
    /// Lifecycle phase of a MAC lease (an unbound lease is deleted at once).
    pub enum VirtualMachineMACAddressLeasePhase {
        /// Held by a MAC address object.
        Bound = "Bound",
    }
}

/// Observed state of a MAC lease.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineMACAddressLeaseStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineMACAddressLeasePhase>,
    /// Detailed state (`Bound`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
