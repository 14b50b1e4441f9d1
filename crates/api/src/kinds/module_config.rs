//! ModuleConfig (`deckhouse.io/v1alpha1`, `mc`): per-module settings; the DVP module's settings
//! live in the one named `virtualization`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::preserve_unknown_object;
use crate::macros::{resource_object, string_enum};

/// Group of ModuleConfig.
pub const DECKHOUSE_GROUP: &str = "deckhouse.io";
/// Name of the DVP module's ModuleConfig.
pub const VIRTUALIZATION_MODULE: &str = "virtualization";

resource_object! {
    /// Settings of one platform module.
    ModuleConfig {
        spec: ModuleConfigSpec = default,
        status: ModuleConfigStatus,
        group: "deckhouse.io",
        version: "v1alpha1",
        kind: "ModuleConfig",
        plural: "moduleconfigs",
        namespaced: false,
    }
}

/// Desired module configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleConfigSpec {
    /// Whether the module runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Version of the settings schema (1 for `virtualization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Module settings; for `virtualization` see `VirtualizationSettings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub settings: Option<Value>,
}

/// Observed module state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleConfigStatus {
    /// Human-readable state of the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Settings version in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

string_enum! {
    /// DVCR storage backend.
    pub enum DvcrStorageType {
        /// A PersistentVolumeClaim (the only option).
        PersistentVolumeClaim = "PersistentVolumeClaim",
    }
}

string_enum! {
    /// TLS mode of the upload endpoint.
    pub enum HttpsMode {
        /// Plain HTTP.
        Disabled = "Disabled",
        /// A certificate from cert-manager.
        CertManager = "CertManager",
        /// A certificate from a Secret.
        CustomCertificate = "CustomCertificate",
        /// HTTPS only in generated URLs.
        OnlyInUri = "OnlyInURI",
    }
}

string_enum! {
    /// Component log verbosity.
    pub enum LogLevel {
        /// Everything.
        Debug = "debug",
        /// Normal operation.
        Info = "info",
        /// Warnings and errors.
        Warn = "warn",
        /// Errors only.
        Error = "error",
    }
}

string_enum! {
    /// Component log format.
    pub enum LogFormat {
        /// Human-readable text.
        Text = "text",
        /// JSON lines.
        Json = "json",
    }
}

string_enum! {
    /// User-settable feature gates of the module.
    pub enum FeatureGate {
        /// Change CPU of a running VM through a live migration.
        HotplugCpuWithLiveMigration = "HotplugCPUWithLiveMigration",
        /// Change memory of a running VM through a live migration.
        HotplugMemoryWithLiveMigration = "HotplugMemoryWithLiveMigration",
        /// Change CPU and memory in place (Kubernetes 1.33+).
        HotplugCpuAndMemoryWithInPlaceResize = "HotplugCPUAndMemoryWithInPlaceResize",
        /// GPU pass-through (Kubernetes 1.34+).
        Gpu = "GPU",
    }
}

/// DVCR volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DvcrPersistentVolumeClaim {
    /// Volume size; may not shrink once the volume exists.
    #[serde(default)]
    pub size: String,
    /// StorageClass of the volume; may not change once the volume exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// DVCR storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DvcrStorage {
    /// Backend type.
    #[serde(rename = "type")]
    pub type_: DvcrStorageType,
    /// Volume settings (required for `PersistentVolumeClaim`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<DvcrPersistentVolumeClaim>,
}

/// DVCR garbage collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DvcrGc {
    /// Cron schedule (default `0 2 * * *`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// The platform's image registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DvcrSettings {
    /// Storage of the registry.
    pub storage: DvcrStorage,
    /// Garbage collection of images of deleted objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<DvcrGc>,
}

impl DvcrSettings {
    /// The GC schedule in effect.
    pub fn gc_schedule(&self) -> &str {
        self.gc
            .as_ref()
            .and_then(|g| g.schedule.as_deref())
            .unwrap_or(DEFAULT_DVCR_GC_SCHEDULE)
    }
}

/// Default DVCR garbage-collection schedule: daily at 02:00.
pub const DEFAULT_DVCR_GC_SCHEDULE: &str = "0 2 * * *";

/// Whitelist of StorageClasses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageClassSelector {
    /// Allowed StorageClass names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_names: Vec<String>,
}

/// StorageClass settings of images.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualImagesSettings {
    /// Default StorageClass of PVC-backed images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_storage_class_name: Option<String>,
    /// StorageClasses images may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_storage_class_selector: Option<StorageClassSelector>,
    /// Deprecated: StorageClass forced on every PVC-backed image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// StorageClass settings of disks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDisksSettings {
    /// Default StorageClass of disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_storage_class_name: Option<String>,
    /// StorageClasses disks may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_storage_class_selector: Option<StorageClassSelector>,
}

/// Gateway API gateway for uploads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRef {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace.
    pub namespace: String,
}

/// cert-manager settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertManagerSettings {
    /// ClusterIssuer to request certificates from (default `letsencrypt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer_name: Option<String>,
}

/// Custom certificate settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomCertificateSettings {
    /// TLS Secret in `d8-system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// Upload endpoint TLS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpsSettings {
    /// TLS mode (default `CertManager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<HttpsMode>,
    /// cert-manager settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_manager: Option<CertManagerSettings>,
    /// Custom certificate settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_certificate: Option<CustomCertificateSettings>,
}

/// Named system network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemNetworkRef {
    /// Name of the SystemNetwork.
    pub name: String,
}

/// Network used for live migrations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveMigrationNetwork {
    /// `SystemNetwork` (needs the SDN module).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The dedicated network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_network: Option<SystemNetworkRef>,
}

/// Live migration settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveMigrationSettings {
    /// Dedicated migration network; absent: the pod network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<LiveMigrationNetwork>,
}

/// Security audit settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSettings {
    /// Whether security events are recorded.
    #[serde(default)]
    pub enabled: bool,
}

/// Settings of the `virtualization` module (`ModuleConfig/virtualization` `spec.settings`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualizationSettings {
    /// Subnets VM main-network addresses are allocated from.
    #[serde(
        default,
        rename = "virtualMachineCIDRs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub virtual_machine_cidrs: Vec<String>,
    /// The platform's image registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dvcr: Option<DvcrSettings>,
    /// StorageClass settings of images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_images: Option<VirtualImagesSettings>,
    /// StorageClass settings of disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_disks: Option<VirtualDisksSettings>,
    /// IngressClass of the upload Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,
    /// Gateway used for uploads when the Gateway API is on.
    #[serde(
        default,
        rename = "gatewayAPIGateway",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway_api_gateway: Option<GatewayRef>,
    /// Upload endpoint TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<HttpsSettings>,
    /// Run components with several replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_availability: Option<bool>,
    /// Live migration settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_migration: Option<LiveMigrationSettings>,
    /// Security audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSettings>,
    /// Log verbosity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Log format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Enabled feature gates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_gates: Vec<FeatureGate>,
}

impl VirtualizationSettings {
    /// Whether a feature gate is on.
    pub fn has_feature_gate(&self, gate: FeatureGate) -> bool {
        self.feature_gates.contains(&gate)
    }
}
