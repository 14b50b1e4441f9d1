//! VirtualImage (`vi`): a namespaced disk image stored in DVCR or on a PVC, read-only when attached.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DataSourceContainerImage, DataSourceHttp, DataSourceType, DataSourceUpload, DownloadSpeed,
    ImageStatusSize, ImageUploadUrls,
};
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// A disk image usable by disks and virtual machines of its own namespace.
    VirtualImage {
        spec: VirtualImageSpec,
        status: VirtualImageStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualImage",
        plural: "virtualimages",
        namespaced: true,
    }
}

string_enum! {
    /// Where the image data is kept.
    pub enum VirtualImageStorage {
        /// In the platform's container registry (DVCR). The default.
        ContainerRegistry = "ContainerRegistry",
        /// On a PersistentVolumeClaim; fastest for disks created in the same StorageClass.
        PersistentVolumeClaim = "PersistentVolumeClaim",
        /// Deprecated alias of `PersistentVolumeClaim`.
        Kubernetes = "Kubernetes",
    }
}

fn default_storage() -> VirtualImageStorage {
    VirtualImageStorage::ContainerRegistry
}

/// Desired state of a VirtualImage. It cannot be changed once the image is Ready.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImageSpec {
    /// Storage backend of the image.
    #[serde(default = "default_storage")]
    pub storage: VirtualImageStorage,
    /// Volume settings, used only with `storage: PersistentVolumeClaim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<VirtualImagePersistentVolumeClaim>,
    /// Where the image data comes from.
    pub data_source: VirtualImageDataSource,
}

/// Volume settings of a PVC-backed image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImagePersistentVolumeClaim {
    /// StorageClass of the volume. Empty: the module default for images, else the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Source of an image's data. `type` selects exactly one of `http`, `containerImage`, `objectRef`;
/// `Upload` takes none of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImageDataSource {
    /// Kind of source.
    #[serde(rename = "type")]
    pub type_: DataSourceType,
    /// Download from a URL (type `HTTP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<DataSourceHttp>,
    /// Pull from a container image (type `ContainerImage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_image: Option<DataSourceContainerImage>,
    /// Copy another image, disk or disk snapshot (type `ObjectRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<VirtualImageObjectRef>,
    /// Upload options (type `Upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<DataSourceUpload>,
}

string_enum! {
    /// Kinds an image can be copied from.
    pub enum VirtualImageObjectRefKind {
        /// A cluster-wide image.
        ClusterVirtualImage = "ClusterVirtualImage",
        /// An image of the same namespace.
        VirtualImage = "VirtualImage",
        /// A disk of the same namespace (detached, or its VM stopped).
        VirtualDisk = "VirtualDisk",
        /// A Ready disk snapshot of the same namespace.
        VirtualDiskSnapshot = "VirtualDiskSnapshot",
    }
}

/// Reference to the object an image is copied from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImageObjectRef {
    /// Kind of the source object.
    pub kind: VirtualImageObjectRefKind,
    /// Name of the source object.
    #[schemars(length(min = 1))]
    pub name: String,
}

string_enum! {
    /// Lifecycle phase of a VirtualImage.
    pub enum VirtualImagePhase {
        /// Waiting for dependencies.
        Pending = "Pending",
        /// Importing the data.
        Provisioning = "Provisioning",
        /// Waiting for the user to upload the data.
        WaitForUserUpload = "WaitForUserUpload",
        /// Imported and usable.
        Ready = "Ready",
        /// Import failed; see the conditions.
        Failed = "Failed",
        /// Being deleted.
        Terminating = "Terminating",
        /// The image disappeared from DVCR.
        ImageLost = "ImageLost",
        /// The backing PVC disappeared.
        PvcLost = "PVCLost",
    }
}

/// Where the imported image lives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImageStatusTarget {
    /// Image address in DVCR.
    #[serde(
        default,
        rename = "registryURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub registry_url: Option<String>,
    /// Name of the PVC holding the image (PVC storage only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_name: Option<String>,
}

/// Observed state of a VirtualImage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImageStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualImagePhase>,
    /// Whether the image is an installation medium attached as a CD-ROM.
    #[serde(default)]
    pub cdrom: bool,
    /// Detected disk format (`qcow2`, `raw`, `iso`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Import progress as a percentage (e.g. `45.3%`).
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
    pub target: Option<VirtualImageStatusTarget>,
    /// StorageClass used for PVC storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
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
    /// Detailed state (`DatasourceReady`, `Ready`, `StorageClassReady`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
