//! Building blocks shared by several kinds: quantity fields, data sources, checksums, upload URLs,
//! snapshot/clone naming rules.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::macros::string_enum;

/// The Kubernetes quantity grammar (`1Gi`, `500M`, `100m`, `1e3`).
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Serde and schema helpers for quantity fields kept as `String`: the wire form may be a JSON
/// string or a bare number (`size: 10`), as with Kubernetes' int-or-string quantities.
pub mod quantity {
    use super::*;

    fn from_value<E: serde::de::Error>(v: Value) -> Result<String, E> {
        match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(E::custom(format!(
                "expected a quantity (string or number), got {other}"
            ))),
        }
    }

    /// Deserialize a required quantity.
    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        from_value(Value::deserialize(d)?)
    }

    /// Deserialize an optional quantity (`null` ⇒ `None`).
    pub fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => from_value(v).map(Some),
        }
    }

    /// Deserialize a map of quantities.
    pub fn map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
        let raw = Option::<std::collections::BTreeMap<String, Value>>::deserialize(d)?;
        raw.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| from_value(v).map(|q| (k, q)))
            .collect()
    }

    /// Schema of one quantity: int-or-string with the quantity pattern.
    pub fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": true,
        })
    }

    /// Schema of a map of quantities.
    pub fn map_schema(g: &mut SchemaGenerator) -> Schema {
        let item = schema(g);
        json_schema!({"type": "object", "additionalProperties": item})
    }
}

/// Schema of a free-form object whose unknown fields are kept (`x-kubernetes-preserve-unknown-fields`).
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// Schema of an arbitrary JSON value (any type), kept as is.
pub fn any_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"x-kubernetes-preserve-unknown-fields": true})
}

/// `^http[s]?://…`: the URL grammar accepted for HTTP data sources.
pub const HTTP_URL_PATTERN: &str =
    r"^http[s]?:\/\/(?:[a-zA-Z]|[0-9]|[$-_@.&+]|[!*\(\),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+$";

/// A container image reference: optional registry host[:port], path, optional tag and digest.
pub const IMAGE_REF_PATTERN: &str = r"^(?:(?:(?:localhost|[\w-]+(?:\.[\w-]+)+)(?::\d+)?|[\w]+:\d+)/)?[a-z0-9_.-]+(?:/[a-z0-9_.-]+)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-+._][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$";

string_enum! {
    /// Where the data of a disk or image comes from.
    pub enum DataSourceType {
        /// Download from an HTTP(S) URL (`http` block).
        Http = "HTTP",
        /// Pull a container image whose layer holds the disk file (`containerImage` block).
        ContainerImage = "ContainerImage",
        /// Copy an existing image, disk or disk snapshot (`objectRef` block).
        ObjectRef = "ObjectRef",
        /// Wait for the user to upload the data to `status.imageUploadURLs`.
        Upload = "Upload",
    }
}

/// Expected digests of the downloaded or uploaded data; every one given must match.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checksum {
    /// MD5 digest, 32 hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 32, max = 32), regex(pattern = r"^[0-9a-fA-F]{32}$"))]
    pub md5: Option<String>,
    /// SHA-1 digest, 40 hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 40, max = 40), regex(pattern = r"^[0-9a-fA-F]{40}$"))]
    pub sha1: Option<String>,
    /// SHA-256 digest, 64 hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 64, max = 64), regex(pattern = r"^[0-9a-fA-F]{64}$"))]
    pub sha256: Option<String>,
    /// SHA-512 digest, 128 hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 128, max = 128), regex(pattern = r"^[0-9a-fA-F]{128}$"))]
    pub sha512: Option<String>,
    /// GOST R 34.11-2012 (Streebog) 256-bit digest, 64 hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 64, max = 64), regex(pattern = r"^[0-9a-fA-F]{64}$"))]
    pub streebog256: Option<String>,
    /// GOST R 34.11-2012 (Streebog) 512-bit digest, 128 hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 128, max = 128), regex(pattern = r"^[0-9a-fA-F]{128}$"))]
    pub streebog512: Option<String>,
}

/// Download parameters of an HTTP data source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceHttp {
    /// URL of the file to download. Supported formats: qcow2, vmdk, vdi, iso, raw, optionally
    /// compressed with gz or xz.
    #[schemars(regex(pattern = HTTP_URL_PATTERN))]
    pub url: String,
    /// Base64-encoded PEM bundle of certificate authorities to trust for an HTTPS URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub ca_bundle: Option<String>,
    /// Digests the downloaded file must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
}

/// Reference to the Secret holding registry credentials, in the object's own namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePullSecretName {
    /// Name of a Secret of type `kubernetes.io/dockerconfigjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Pull a disk file from a container image (the file must live under `/disk` in the image).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceContainerImage {
    /// Image reference, e.g. `registry.example.com/images/ubuntu:22.04`. Only TLS registries are supported.
    #[schemars(regex(pattern = IMAGE_REF_PATTERN))]
    pub image: String,
    /// Credentials for a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<ImagePullSecretName>,
    /// Base64-encoded PEM bundle of certificate authorities to trust for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub ca_bundle: Option<String>,
}

/// Options of an `Upload` data source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceUpload {
    /// Digests the uploaded bytes must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
}

/// Where a waiting upload can be sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageUploadUrls {
    /// URL reachable from outside the cluster (through the ingress or gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
    /// URL reachable from inside the cluster (through a Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_cluster: Option<String>,
}

/// Download speed of an import in progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadSpeed {
    /// Average speed, human readable (e.g. `1.2Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg: Option<String>,
    /// Average speed in bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_bytes: Option<String>,
    /// Current speed, human readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Current speed in bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_bytes: Option<String>,
}

/// Sizes of a stored image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatusSize {
    /// Size as stored (compressed), human readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
    /// Size as stored, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<String>,
    /// Size once unpacked (the virtual disk size), human readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked: Option<String>,
    /// Size once unpacked, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked_bytes: Option<String>,
}

string_enum! {
    /// How a snapshot restore or clone treats missing dependencies.
    pub enum SnapshotOperationMode {
        /// Only compute the plan and report conflicts in `status.resources`; change nothing.
        DryRun = "DryRun",
        /// Recreate everything exactly; missing images keep the VM Pending.
        Strict = "Strict",
        /// Drop references to missing images and continue.
        BestEffort = "BestEffort",
    }
}

/// The original resource a name replacement applies to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameReplacementFrom {
    /// Kind of the resource (empty: any kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Current name of the resource.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Rename one resource of a restored or cloned VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameReplacement {
    /// Which resource to rename.
    pub from: NameReplacementFrom,
    /// New name (1 to 59 characters).
    #[schemars(length(min = 1, max = 59))]
    pub to: String,
}

/// Prefix and/or suffix added to the names of every created resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameCustomization {
    /// Prefix added to every name (1 to 59 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 59))]
    pub name_prefix: Option<String>,
    /// Suffix added to every name (1 to 59 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 59))]
    pub name_suffix: Option<String>,
}

string_enum! {
    /// Progress of one resource in a restore/clone plan.
    pub enum OperationResourceStatus {
        /// Being created or updated.
        InProgress = "InProgress",
        /// Done.
        Completed = "Completed",
        /// Could not be processed; see `message`.
        Failed = "Failed",
    }
}

/// One resource of a restore/clone/create plan and how it went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationResource {
    /// API version of the resource.
    pub api_version: String,
    /// Kind of the resource.
    pub kind: String,
    /// Name of the resource.
    pub name: String,
    /// Outcome for this resource.
    pub status: OperationResourceStatus,
    /// Details, e.g. the conflict found.
    pub message: String,
}

/// A resource captured in a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// API version of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Reference to a namespaced object by name and namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedRef {
    /// Name of the object (empty once a lease is released).
    pub name: String,
    /// Namespace of the object.
    pub namespace: String,
}

/// Default value helpers used by `#[serde(default = …)]`.
pub(crate) fn default_true() -> bool {
    true
}
