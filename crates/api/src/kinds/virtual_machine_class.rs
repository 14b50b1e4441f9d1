//! VirtualMachineClass (`vmc`, `vmclass`): CPU model, placement and sizing policy shared by VMs.
//!
//! Two served versions: `v1alpha2` (the storage version, deprecated) writes core fractions as
//! integers (`20`), `v1alpha3` as percentages (`"20%"`). Everything else is identical, so the
//! shared parts live here and each version module only defines its sizing policy and spec.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::quantity;
use crate::macros::string_enum;

/// Annotation marking the class VMs get when they name none.
pub const DEFAULT_CLASS_ANNOTATION: &str =
    "virtualmachineclass.virtualization.deckhouse.io/is-default-class";

string_enum! {
    /// How the virtual CPU model is chosen.
    pub enum CpuType {
        /// A virtual CPU close to the node's; migration only between nodes of the same CPU vendor
        /// and generation.
        Host = "Host",
        /// The node's CPU exactly; migration only between identical CPUs.
        HostPassthrough = "HostPassthrough",
        /// A model built from the CPU features common to the nodes matched by
        /// `discovery.nodeSelector`, fixed when the class is created.
        Discovery = "Discovery",
        /// A named libvirt CPU model (`model`).
        Model = "Model",
        /// An explicit list of required CPU features (`features`).
        Features = "Features",
    }
}

/// CPU model settings. Immutable once created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuClass {
    /// How the CPU model is chosen.
    #[serde(rename = "type")]
    pub type_: CpuType,
    /// libvirt CPU model name (type `Model` only), e.g. `Nehalem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub model: Option<String>,
    /// Required CPU features (type `Features` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub features: Vec<String>,
    /// Which nodes to take the common feature set from (type `Discovery` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<CpuDiscovery>,
}

/// Node selection for CPU discovery.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuDiscovery {
    /// Nodes whose common CPU features define the model. Empty: all nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub node_selector: Option<LabelSelector>,
}

/// Node label selector for the VMs of a class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassNodeSelector {
    /// Labels a node must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Label expressions a node must satisfy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

/// Allowed core counts of a sizing policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SizingPolicyCores {
    /// Smallest core count of the range.
    #[schemars(range(min = 1))]
    pub min: i32,
    /// Largest core count of the range (at most 1024).
    #[schemars(range(max = 1024))]
    pub max: i32,
    /// Allowed counts are `min`, `min+step`, … up to `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub step: Option<i32>,
}

/// Memory bounds per core.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SizingPolicyMemoryPerCore {
    /// Smallest memory per core.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub min: Option<String>,
    /// Largest memory per core.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub max: Option<String>,
}

/// Allowed memory of a sizing policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SizingPolicyMemory {
    /// Smallest memory size.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub min: Option<String>,
    /// Largest memory size.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub max: Option<String>,
    /// Allowed sizes are `min`, `min+step`, … up to `max`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub step: Option<String>,
    /// Bounds on memory divided by the number of cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_core: Option<SizingPolicyMemoryPerCore>,
}

string_enum! {
    /// Lifecycle phase of a VirtualMachineClass.
    pub enum VirtualMachineClassPhase {
        /// No node supports the CPU model yet.
        Pending = "Pending",
        /// Usable by VMs.
        Ready = "Ready",
        /// Being deleted (blocked while VMs use the class).
        Terminating = "Terminating",
    }
}

/// CPU features of a discovered or feature-based model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuFeatures {
    /// Features enabled in the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<String>,
    /// Features common to the matching nodes but not enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_enabled_common: Vec<String>,
}

/// Observed state of a VirtualMachineClass (same in both versions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineClassStatus {
    /// Lifecycle phase.
    pub phase: VirtualMachineClassPhase,
    /// Nodes able to run VMs of this class.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub available_nodes: Vec<String>,
    /// CPU features of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_features: Option<CpuFeatures>,
    /// Largest resources a single VM of the class can get on the available nodes.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "quantity::map"
    )]
    #[schemars(schema_with = "quantity::map_schema")]
    pub max_allocatable_resources: BTreeMap<String, String>,
    /// Detailed state (`Ready`, `Discovered`, `InUse`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `v1alpha2`, the storage version: core fractions are integers.
pub mod v1alpha2 {
    use schemars::{Schema, SchemaGenerator, json_schema};

    use super::*;
    use crate::macros::resource_object;

    resource_object! {
        /// A VirtualMachineClass as served at `v1alpha2` (deprecated: use `v1alpha3`).
        VirtualMachineClass {
            spec: VirtualMachineClassSpec,
            status: VirtualMachineClassStatus,
            group: "virtualization.deckhouse.io",
            version: "v1alpha2",
            kind: "VirtualMachineClass",
            plural: "virtualmachineclasses",
            namespaced: false,
        }
    }

    /// A core fraction written as an integer percentage, or `Auto`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(untagged)]
    pub enum IntOrAuto {
        /// 1 to 100.
        Percent(i32),
        /// `Auto`.
        Text(String),
    }

    fn int_or_auto_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true,
            "minimum": 1,
            "maximum": 100,
            "maxLength": 4,
        })
    }

    /// Desired state of a VirtualMachineClass.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct VirtualMachineClassSpec {
        /// CPU model settings (immutable).
        pub cpu: CpuClass,
        /// Nodes VMs of this class may run on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub node_selector: Option<ClassNodeSelector>,
        /// Taints tolerated by VMs of this class (VM tolerations take precedence).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub tolerations: Vec<Toleration>,
        /// Resource rules per range of cores; ranges must not overlap. At most 16.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(length(max = 16))]
        pub sizing_policies: Vec<SizingPolicy>,
    }

    /// Resource rules for one range of cores.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct SizingPolicy {
        /// Core range this policy applies to.
        pub cores: SizingPolicyCores,
        /// Allowed memory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub memory: Option<SizingPolicyMemory>,
        /// Allowed core fractions, as integer percentages (1 to 100).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(inner(range(min = 1, max = 100)))]
        pub core_fractions: Vec<i32>,
        /// Allowed dedicated-core settings.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub dedicated_cores: Vec<bool>,
        /// Core fraction given to VMs that set none: an integer percentage among `coreFractions`, or `Auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(schema_with = "int_or_auto_schema")]
        pub default_core_fraction: Option<IntOrAuto>,
    }
}

/// `v1alpha3`: core fractions are percentage strings.
pub mod v1alpha3 {
    use super::*;
    use crate::macros::resource_object;

    resource_object! {
        /// A VirtualMachineClass as served at `v1alpha3`.
        VirtualMachineClass {
            spec: VirtualMachineClassSpec,
            status: VirtualMachineClassStatus,
            group: "virtualization.deckhouse.io",
            version: "v1alpha3",
            kind: "VirtualMachineClass",
            plural: "virtualmachineclasses",
            namespaced: false,
        }
    }

    /// Desired state of a VirtualMachineClass.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct VirtualMachineClassSpec {
        /// CPU model settings (immutable).
        pub cpu: CpuClass,
        /// Nodes VMs of this class may run on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub node_selector: Option<ClassNodeSelector>,
        /// Taints tolerated by VMs of this class (VM tolerations take precedence).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub tolerations: Vec<Toleration>,
        /// Resource rules per range of cores; ranges must not overlap. At most 16.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(length(max = 16))]
        pub sizing_policies: Vec<SizingPolicy>,
    }

    /// Resource rules for one range of cores.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct SizingPolicy {
        /// Core range this policy applies to.
        pub cores: SizingPolicyCores,
        /// Allowed memory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub memory: Option<SizingPolicyMemory>,
        /// Allowed core fractions, as percentages (`5%` … `100%`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(inner(regex(pattern = r"^(100|[1-9][0-9]?)%$")))]
        pub core_fractions: Vec<String>,
        /// Allowed dedicated-core settings.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub dedicated_cores: Vec<bool>,
        /// Core fraction given to VMs that set none: one of `coreFractions`, or `Auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = r"^(Auto|(100|[1-9][0-9]?)%)$"))]
        pub default_core_fraction: Option<String>,
    }
}
