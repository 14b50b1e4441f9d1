//! CSI snapshot kinds (`snapshot.storage.k8s.io/v1`) the disk snapshots are built on.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::quantity;
use crate::macros::{resource_object, string_enum};

/// Group of the CSI snapshot kinds.
pub const SNAPSHOT_GROUP: &str = "snapshot.storage.k8s.io";

resource_object! {
    /// A user request for a snapshot of a volume.
    VolumeSnapshot {
        spec: VolumeSnapshotSpec,
        status: VolumeSnapshotStatus,
        group: "snapshot.storage.k8s.io",
        version: "v1",
        kind: "VolumeSnapshot",
        plural: "volumesnapshots",
        namespaced: true,
    }
}

/// What to snapshot. Exactly one source field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSource {
    /// PVC of the same namespace to snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_name: Option<String>,
    /// Existing VolumeSnapshotContent to bind to (pre-provisioned snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_content_name: Option<String>,
}

/// Desired snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSpec {
    /// What to snapshot.
    pub source: VolumeSnapshotSource,
    /// VolumeSnapshotClass to use; empty: the default class of the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_class_name: Option<String>,
}

/// The last error of a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotError {
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Observed snapshot state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotStatus {
    /// VolumeSnapshotContent bound to this snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_volume_snapshot_content_name: Option<String>,
    /// When the storage system cut the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Time>,
    /// Whether a volume can be restored from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_to_use: Option<bool>,
    /// Minimum size of a volume restored from it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "quantity::opt"
    )]
    #[schemars(schema_with = "quantity::schema")]
    pub restore_size: Option<String>,
    /// The last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<VolumeSnapshotError>,
}

string_enum! {
    /// What happens to the storage snapshot when its VolumeSnapshotContent is released.
    pub enum DeletionPolicy {
        /// Delete the storage snapshot.
        Delete = "Delete",
        /// Keep the storage snapshot.
        Retain = "Retain",
    }
}

/// Parameters for snapshots of one CSI driver. It has no `spec`: the fields are top-level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotClass {
    /// `snapshot.storage.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `VolumeSnapshotClass`.
    #[serde(default)]
    pub kind: String,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// CSI driver that handles the snapshots.
    pub driver: String,
    /// What happens to the storage snapshot on release.
    pub deletion_policy: DeletionPolicy,
    /// Driver-specific parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// The top-level fields of a VolumeSnapshotClass (everything except apiVersion/kind/metadata),
/// used to generate its schema.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct VolumeSnapshotClassFields {
    /// CSI driver that handles the snapshots.
    pub driver: String,
    /// What happens to the storage snapshot when its VolumeSnapshotContent is released.
    pub deletion_policy: DeletionPolicy,
    /// Driver-specific parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

impl crate::Resource for VolumeSnapshotClass {
    const GROUP: &'static str = SNAPSHOT_GROUP;
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "VolumeSnapshotClass";
    const PLURAL: &'static str = "volumesnapshotclasses";
    const NAMESPACED: bool = false;
}

impl k8s_openapi::Resource for VolumeSnapshotClass {
    const API_VERSION: &'static str = "snapshot.storage.k8s.io/v1";
    const GROUP: &'static str = SNAPSHOT_GROUP;
    const KIND: &'static str = "VolumeSnapshotClass";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "volumesnapshotclasses";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::ListableResource for VolumeSnapshotClass {
    const LIST_KIND: &'static str = "VolumeSnapshotClassList";
}

impl k8s_openapi::Metadata for VolumeSnapshotClass {
    type Ty = ObjectMeta;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
