//! Small declarative helpers shared by the kind and condition modules.

/// A closed set of API strings as a Rust enum: serde uses the exact strings, `as_str()` returns them,
/// `parse()` reads them back, and the JSON schema is a string enum (variant docs become the
/// per-value descriptions that `kubectl explain` shows).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $s:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $s)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact API string.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// The variant for an API string (exact, case-sensitive match).
            #[allow(clippy::should_implement_trait)]
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }

            /// Every API string, in declaration order.
            pub fn strings() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s).ok_or_else(|| {
                    format!("unknown {} {s:?}; expected one of {:?}", stringify!($name), Self::strings())
                })
            }
        }
    };
}

/// The top-level object struct of a kind: `apiVersion`, `kind`, `metadata`, `spec`, `status`,
/// plus its [`crate::Resource`] identity.
macro_rules! resource_object {
    (
        $(#[$meta:meta])*
        $name:ident {
            spec: $spec:ty $(= $spec_default:tt)?,
            status: $status:ty,
            group: $group:literal,
            version: $version:literal,
            kind: $kind:literal,
            plural: $plural:literal,
            namespaced: $namespaced:tt $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// `<group>/<version>` of the serialized form.
            #[serde(default)]
            pub api_version: String,
            /// The kind name.
            #[serde(default)]
            pub kind: String,
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            /// Desired state.
            $(#[serde($spec_default)])?
            pub spec: $spec,
            /// Observed state, written by the controllers.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
        }

        impl $crate::Resource for $name {
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            const NAMESPACED: bool = $namespaced;
        }

        // The identity kube-rs (and any client built on k8s-openapi's traits) works with.
        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $crate::macros::scope_type!($namespaced);
        }

        impl k8s_openapi::ListableResource for $name {
            const LIST_KIND: &'static str = concat!($kind, "List");
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl $name {
            /// A new object with `apiVersion`/`kind` filled in.
            pub fn new(name: &str, spec: $spec) -> Self {
                Self {
                    api_version: <Self as $crate::Resource>::api_version(),
                    kind: $kind.to_string(),
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some(name.to_string()),
                        ..Default::default()
                    },
                    spec,
                    status: None,
                }
            }
        }
    };
}

/// k8s-openapi's scope marker for a `namespaced: true|false` flag.
macro_rules! scope_type {
    (true) => {
        k8s_openapi::NamespaceResourceScope
    };
    (false) => {
        k8s_openapi::ClusterResourceScope
    };
}

pub(crate) use resource_object;
pub(crate) use scope_type;
pub(crate) use string_enum;
