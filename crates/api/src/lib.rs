//! The DVP resource model, pure (no I/O): typed kinds of `virtualization.deckhouse.io` (plus
//! `ModuleConfig` and the CSI snapshot kinds the platform relies on), their condition types and
//! reasons, structural CRD schemas generated from the types, the kind registry the API server
//! serves, VirtualMachineClass version conversion, and admission (validation + defaulting).

mod macros;

pub mod admission;
pub mod conditions;
pub mod conversion;
pub mod kinds;
pub mod network;
pub mod registry;
pub mod schema;
pub mod topology;

/// API group of the DVP kinds.
pub const GROUP: &str = "virtualization.deckhouse.io";
/// The version every DVP kind is served (and, except VirtualMachineClass, stored) as.
pub const V1ALPHA2: &str = "v1alpha2";
/// The second served version of VirtualMachineClass.
pub const V1ALPHA3: &str = "v1alpha3";

/// Static identity of a kind's typed object.
pub trait Resource {
    /// API group (empty for the core group).
    const GROUP: &'static str;
    /// API version this Rust type represents.
    const VERSION: &'static str;
    /// Kind name.
    const KIND: &'static str;
    /// Resource (plural) name used in URLs.
    const PLURAL: &'static str;
    /// Whether objects live in a namespace.
    const NAMESPACED: bool;

    /// `<group>/<version>`, or just `<version>` for the core group.
    fn api_version() -> String {
        if Self::GROUP.is_empty() {
            Self::VERSION.to_string()
        } else {
            format!("{}/{}", Self::GROUP, Self::VERSION)
        }
    }
}
