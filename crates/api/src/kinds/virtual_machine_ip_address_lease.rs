//! VirtualMachineIPAddressLease (`vmipl`): cluster-wide lease of one address, named `ip-a-b-c-d`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::NamespacedRef;
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// The lease of one IP address from the shared pool.
    VirtualMachineIPAddressLease {
        spec: VirtualMachineIPAddressLeaseSpec = default,
        status: VirtualMachineIPAddressLeaseStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualMachineIPAddressLease",
        plural: "virtualmachineipaddressleases",
        namespaced: false,
    }
}

/// Who holds the lease.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineIPAddressLeaseSpec {
    /// The VirtualMachineIPAddress holding the lease (its name is cleared once released; the
    /// namespace is kept so only that namespace may take the address back).
    #[serde(
        default,
        rename = "virtualMachineIPAddressRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_machine_ip_address_ref: Option<NamespacedRef>,
}

string_enum! {
    /// Lifecycle phase of a lease.
    pub enum VirtualMachineIPAddressLeasePhase {
        /// Held by an address object.
        Bound = "Bound",
        /// No longer held; deleted after a retention period.
        Released = "Released",
    }
}

/// Observed state of a lease.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineIPAddressLeaseStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineIPAddressLeasePhase>,
    /// Detailed state (`Bound`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
