//! VirtualDisk (`vd`): a writable VM disk backed by a PersistentVolumeClaim.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DataSourceContainerImage, DataSourceHttp, DataSourceType, DataSourceUpload, DownloadSpeed,
    ImageUploadUrls, quantity,
};
use crate::macros::{resource_object, string_enum};

resource_object! {
    /// A virtual machine disk.
    VirtualDisk {
        spec: VirtualDiskSpec = default,
        status: VirtualDiskStatus,
        group: "virtualization.deckhouse.io",
        version: "v1alpha2",
        kind: "VirtualDisk",
        plural: "virtualdisks",
        namespaced: true,
    }
}

/// Desired state of a VirtualDisk. Without `dataSource` the disk is blank and needs a size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskSpec {
    /// Where the initial data comes from; absent for a blank disk. Frozen once the disk is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<VirtualDiskDataSource>,
    /// Volume settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<VirtualDiskPersistentVolumeClaim>,
}

/// Volume settings of a disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskPersistentVolumeClaim {
    /// Requested size. Defaults to the unpacked size of the source; may only grow afterwards.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub size: Option<String>,
    /// StorageClass of the volume. Empty: the module default for disks, else the cluster default.
    /// Changing it on a disk in use migrates the volume (commercial editions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Source of a disk's data. `type` selects exactly one of `http`, `containerImage`, `objectRef`;
/// `Upload` takes none of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskDataSource {
    /// Kind of source.
    #[serde(rename = "type")]
    pub type_: DataSourceType,
    /// Download from a URL (type `HTTP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<DataSourceHttp>,
    /// Pull from a container image (type `ContainerImage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_image: Option<DataSourceContainerImage>,
    /// Copy an image or restore a disk snapshot (type `ObjectRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<VirtualDiskObjectRef>,
    /// Upload options (type `Upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<DataSourceUpload>,
}

string_enum! {
    /// Kinds a disk can be filled from.
    pub enum VirtualDiskObjectRefKind {
        /// A cluster-wide image.
        ClusterVirtualImage = "ClusterVirtualImage",
        /// An image of the same namespace.
        VirtualImage = "VirtualImage",
        /// A disk snapshot of the same namespace.
        VirtualDiskSnapshot = "VirtualDiskSnapshot",
    }
}

/// Reference to the object a disk is filled from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskObjectRef {
    /// Kind of the source object.
    pub kind: VirtualDiskObjectRefKind,
    /// Name of the source object.
    #[schemars(length(min = 1))]
    pub name: String,
}

string_enum! {
    /// Lifecycle phase of a VirtualDisk.
    pub enum VirtualDiskPhase {
        /// Waiting for dependencies.
        Pending = "Pending",
        /// Creating, copying or downloading the data.
        Provisioning = "Provisioning",
        /// Waiting for the user to upload the data.
        WaitForUserUpload = "WaitForUserUpload",
        /// The StorageClass binds on first use: waiting for a VM to be scheduled.
        WaitForFirstConsumer = "WaitForFirstConsumer",
        /// Usable.
        Ready = "Ready",
        /// The volume is being resized.
        Resizing = "Resizing",
        /// Creation failed; see the conditions.
        Failed = "Failed",
        /// The backing PVC disappeared.
        PvcLost = "PVCLost",
        /// The data is being exported.
        Exporting = "Exporting",
        /// Being deleted.
        Terminating = "Terminating",
        /// The volume is being migrated to another StorageClass or node.
        Migrating = "Migrating",
    }
}

/// The volume backing the disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskStatusTarget {
    /// Name of the PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_name: Option<String>,
}

/// A virtual machine the disk is attached to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachedVirtualMachine {
    /// Name of the virtual machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the disk is currently mounted in that VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounted: Option<bool>,
}

string_enum! {
    /// Outcome of a volume migration.
    pub enum VolumeMigrationResult {
        /// The migration finished.
        Succeeded = "Succeeded",
        /// The migration failed.
        Failed = "Failed",
    }
}

/// The last volume migration of the disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskMigrationState {
    /// PVC the data was moved from.
    #[serde(default, rename = "sourcePVC", skip_serializing_if = "Option::is_none")]
    pub source_pvc: Option<String>,
    /// PVC the data was moved to.
    #[serde(default, rename = "targetPVC", skip_serializing_if = "Option::is_none")]
    pub target_pvc: Option<String>,
    /// Outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<VolumeMigrationResult>,
    /// Details of the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the migration started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// When the migration ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<Time>,
}

/// How long the stages of disk creation took (Go duration strings such as `1m2s`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskCreationDuration {
    /// Time spent waiting for dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_dependencies: Option<String>,
    /// Time spent importing into DVCR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dvcr_provisioning: Option<String>,
    /// Total provisioning time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_provisioning: Option<String>,
    /// Time spent waiting for the first consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_first_consumer: Option<String>,
}

/// Disk statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskStats {
    /// Durations of the creation stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_duration: Option<VirtualDiskCreationDuration>,
}

/// Observed state of a VirtualDisk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDiskStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualDiskPhase>,
    /// Actual size of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
    /// Provisioning progress as a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Speed of the import in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_speed: Option<DownloadSpeed>,
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
    /// The volume backing the disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<VirtualDiskStatusTarget>,
    /// StorageClass actually used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Virtual machines using the disk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached_to_virtual_machines: Vec<AttachedVirtualMachine>,
    /// The last volume migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_state: Option<VirtualDiskMigrationState>,
    /// Creation statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<VirtualDiskStats>,
    /// UID of the source object for `ObjectRef` disks.
    #[serde(default, rename = "sourceUID", skip_serializing_if = "Option::is_none")]
    pub source_uid: Option<String>,
    /// Detailed state (`DatasourceReady`, `Ready`, `InUse`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
