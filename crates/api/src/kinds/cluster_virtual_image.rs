//! ClusterVirtualImage (`cvi`): a cluster-wide disk image, always stored in DVCR.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DataSourceHttp, DataSourceType, DataSourceUpload, DownloadSpeed, IMAGE_REF_PATTERN,
    ImageStatusSize, ImageUploadUrls,
};
use super::virtual_image::{VirtualImageObjectRefKind, VirtualImagePhase};
use crate::macros::resource_object;

resource_object! {
    /// A disk image usable by disks and virtual machines of every namespace.
    ClusterVirtualImage {
        spec: ClusterVirtualImageSpec,
        status: ClusterVirtualImageStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "ClusterVirtualImage",
        plural: "clustervirtualimages",
        namespaced: false,
    }
}

/// Desired state of a ClusterVirtualImage. No change is accepted once it is Ready.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualImageSpec {
    /// Where the image data comes from.
    pub data_source: ClusterVirtualImageDataSource,
}

/// Source of a cluster image's data. `type` selects exactly one of `http`, `containerImage`,
/// `objectRef`; `Upload` takes none of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualImageDataSource {
    /// Kind of source.
    #[serde(rename = "type")]
    pub type_: DataSourceType,
    /// Download from a URL (type `HTTP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<DataSourceHttp>,
    /// Pull from a container image (type `ContainerImage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_image: Option<ClusterVirtualImageContainerImage>,
    /// Copy an image, disk or disk snapshot of any namespace (type `ObjectRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ClusterVirtualImageObjectRef>,
    /// Upload options (type `Upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<DataSourceUpload>,
}

/// Registry credentials Secret of a cluster image; it may live in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedImagePullSecret {
    /// Name of a Secret of type `kubernetes.io/dockerconfigjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Pull a disk file from a container image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualImageContainerImage {
    /// Image reference, e.g. `registry.example.com/images/ubuntu:22.04`. Only TLS registries are supported.
    #[schemars(regex(pattern = IMAGE_REF_PATTERN))]
    pub image: String,
    /// Credentials for a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<NamespacedImagePullSecret>,
    /// Base64-encoded PEM bundle of certificate authorities to trust for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub ca_bundle: Option<String>,
}

/// Reference to the object a cluster image is copied from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualImageObjectRef {
    /// Kind of the source object.
    pub kind: VirtualImageObjectRefKind,
    /// Name of the source object.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Namespace of the source object; required (1 to 63 characters) for namespaced kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Where the imported cluster image lives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualImageStatusTarget {
    /// Image address in DVCR.
    #[serde(
        default,
        rename = "registryURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub registry_url: Option<String>,
}

/// Observed state of a ClusterVirtualImage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualImageStatus {
    /// Lifecycle phase (`PVCLost` is never used for cluster images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualImagePhase>,
    /// Whether the image is an installation medium attached as a CD-ROM.
    #[serde(default)]
    pub cdrom: bool,
    /// Detected disk format (`qcow2`, `raw`, `iso`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Import progress as a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Speed of the import in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_speed: Option<DownloadSpeed>,
    /// Stored and unpacked sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ImageStatusSize>,
    /// Where the image is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ClusterVirtualImageStatusTarget>,
    /// Upload endpoints while waiting for a user upload.
    #[serde(
        default,
        rename = "imageUploadURLs",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_upload_urls: Option<ImageUploadUrls>,
    /// Deprecated: a ready-made upload command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_command: Option<String>,
    /// UID of the source object for `ObjectRef` imports.
    #[serde(default, rename = "sourceUID", skip_serializing_if = "Option::is_none")]
    pub source_uid: Option<String>,
    /// Namespaces where the image is in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_in_namespaces: Vec<String>,
    /// Detailed state (`DatasourceReady`, `Ready`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
