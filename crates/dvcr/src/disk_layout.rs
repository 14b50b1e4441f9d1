//! The DVCR disk image layout (pure): how a disk file becomes an OCI image and back.
//!
//! One OCI image manifest with a standard image config whose `config.Labels` carry the disk's
//! facts (`dvp.format`, `dvp.virtual-size`, `dvp.unpacked-size`, `dvp.source-format`), and exactly
//! one layer: the disk file itself, uncompressed, typed `application/vnd.dvp.disk.qcow2` or
//! `application/vnd.dvp.disk.iso`. Because the layer is the disk, its blob file can back a
//! qcow2 overlay or serve as a CD-ROM without a copy.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::digest::Digest;
use crate::manifest::{Descriptor, ManifestContent, OCI_MANIFEST, ParsedManifest};

pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DISK_QCOW2: &str = "application/vnd.dvp.disk.qcow2";
pub const DISK_ISO: &str = "application/vnd.dvp.disk.iso";

pub const LABEL_FORMAT: &str = "dvp.format";
pub const LABEL_VIRTUAL_SIZE: &str = "dvp.virtual-size";
pub const LABEL_UNPACKED_SIZE: &str = "dvp.unpacked-size";
pub const LABEL_SOURCE_FORMAT: &str = "dvp.source-format";

/// What the disk blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    /// A qcow2 file without a backing file.
    Qcow2,
    /// A raw ISO 9660 image (a CD-ROM).
    Iso,
}

impl DiskFormat {
    /// The layer media type of this format.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            DiskFormat::Qcow2 => DISK_QCOW2,
            DiskFormat::Iso => DISK_ISO,
        }
    }

    /// The value of the `dvp.format` label.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Iso => "iso",
        }
    }

    fn from_label(s: &str) -> Option<DiskFormat> {
        match s {
            "qcow2" => Some(DiskFormat::Qcow2),
            "iso" => Some(DiskFormat::Iso),
            _ => None,
        }
    }

    fn from_layer_media_type(s: &str) -> Option<DiskFormat> {
        match s {
            DISK_QCOW2 => Some(DiskFormat::Qcow2),
            DISK_ISO => Some(DiskFormat::Iso),
            _ => None,
        }
    }
}

impl fmt::Display for DiskFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The facts about a disk that travel with its image (the importer measures them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DiskFacts {
    /// What the blob is.
    pub format: DiskFormat,
    /// The guest-visible size in bytes (`qemu-img info` virtual size; the file size for an ISO).
    pub virtual_size: u64,
    /// Bytes the disk needs once unpacked onto a volume (`status.size.unpacked`).
    pub unpacked_size: u64,
    /// What was imported: `raw`, `vmdk`, `vdi`, `qcow2` or `iso`.
    pub source_format: String,
}

/// Why a manifest and config do not describe a disk image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("not a disk image: {0}")]
    NotDiskImage(String),
}

fn not_disk(reason: impl Into<String>) -> LayoutError {
    LayoutError::NotDiskImage(reason.into())
}

/// The config blob of a disk image.
pub fn build_config(facts: &DiskFacts, disk_digest: &Digest) -> Vec<u8> {
    let labels: BTreeMap<&str, String> = BTreeMap::from([
        (LABEL_FORMAT, facts.format.as_str().to_string()),
        (LABEL_VIRTUAL_SIZE, facts.virtual_size.to_string()),
        (LABEL_UNPACKED_SIZE, facts.unpacked_size.to_string()),
        (LABEL_SOURCE_FORMAT, facts.source_format.clone()),
    ]);
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [disk_digest.to_string()]},
    });
    serde_json::to_vec(&config).expect("a JSON value serializes")
}

/// The manifest of a disk image, given its config blob and disk blob.
pub fn build_manifest(
    format: DiskFormat,
    config_digest: &Digest,
    config_size: u64,
    disk_digest: &Digest,
    disk_size: u64,
) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_IMAGE_CONFIG,
            "digest": config_digest.to_string(),
            "size": config_size,
        },
        "layers": [{
            "mediaType": format.layer_media_type(),
            "digest": disk_digest.to_string(),
            "size": disk_size,
        }],
    });
    serde_json::to_vec(&manifest).expect("a JSON value serializes")
}

/// The disk layer of a parsed manifest: the single layer with a DVP disk media type.
pub fn disk_layer(manifest: &ParsedManifest) -> Result<(DiskFormat, &Descriptor), LayoutError> {
    let ManifestContent::Image { config, layers } = &manifest.content else {
        return Err(not_disk("it is an index, not an image manifest"));
    };
    if config.media_type != OCI_IMAGE_CONFIG {
        return Err(not_disk(format!(
            "config media type is {:?}, expected {OCI_IMAGE_CONFIG}",
            config.media_type
        )));
    }
    let [layer] = layers.as_slice() else {
        return Err(not_disk(format!(
            "it has {} layers, a disk image has exactly one",
            layers.len()
        )));
    };
    let format = DiskFormat::from_layer_media_type(&layer.media_type).ok_or_else(|| {
        not_disk(format!(
            "layer media type is {:?}, expected {DISK_QCOW2} or {DISK_ISO}",
            layer.media_type
        ))
    })?;
    Ok((format, layer))
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ContainerConfig>,
}

#[derive(Deserialize)]
struct ContainerConfig {
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Reads the disk facts from a config blob; `format` is the one the layer media type says.
pub fn parse_facts(config_bytes: &[u8], format: DiskFormat) -> Result<DiskFacts, LayoutError> {
    let config: ConfigFile = serde_json::from_slice(config_bytes)
        .map_err(|e| not_disk(format!("config blob is not an image config: {e}")))?;
    let labels = config
        .config
        .and_then(|c| c.labels)
        .ok_or_else(|| not_disk("config has no Labels"))?;
    let label = |key: &str| {
        labels
            .get(key)
            .ok_or_else(|| not_disk(format!("config label {key} is missing")))
    };
    let size = |key: &str| {
        label(key)?
            .parse::<u64>()
            .map_err(|_| not_disk(format!("config label {key} is not a byte count")))
    };
    let labelled = label(LABEL_FORMAT)?;
    if DiskFormat::from_label(labelled) != Some(format) {
        return Err(not_disk(format!(
            "config label {LABEL_FORMAT}={labelled:?} disagrees with the layer media type ({format})"
        )));
    }
    Ok(DiskFacts {
        format,
        virtual_size: size(LABEL_VIRTUAL_SIZE)?,
        unpacked_size: size(LABEL_UNPACKED_SIZE)?,
        source_format: label(LABEL_SOURCE_FORMAT)?.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_manifest;

    fn facts() -> DiskFacts {
        DiskFacts {
            format: DiskFormat::Qcow2,
            virtual_size: 1 << 30,
            unpacked_size: 1 << 30,
            source_format: "raw".into(),
        }
    }

    #[test]
    fn config_carries_facts_as_string_labels_and_the_disk_as_diff_id() {
        let disk = Digest::of_bytes(b"disk");
        let config: serde_json::Value =
            serde_json::from_slice(&build_config(&facts(), &disk)).unwrap();
        assert_eq!(config["config"]["Labels"]["dvp.virtual-size"], "1073741824");
        assert_eq!(config["config"]["Labels"]["dvp.format"], "qcow2");
        assert_eq!(config["rootfs"]["diff_ids"][0], disk.to_string());
        assert_eq!(config["architecture"], "amd64");
    }

    #[test]
    fn facts_round_trip_through_config_and_manifest() {
        let disk = Digest::of_bytes(b"disk");
        let config = build_config(&facts(), &disk);
        let manifest = build_manifest(
            DiskFormat::Qcow2,
            &Digest::of_bytes(&config),
            config.len() as u64,
            &disk,
            4,
        );
        let parsed = parse_manifest(&manifest, None).unwrap();
        let (format, layer) = disk_layer(&parsed).unwrap();
        assert_eq!(layer.digest, disk);
        assert_eq!(layer.media_type, DISK_QCOW2);
        assert_eq!(parse_facts(&config, format).unwrap(), facts());
    }

    #[test]
    fn iso_images_use_the_iso_layer_type() {
        assert_eq!(DiskFormat::Iso.layer_media_type(), DISK_ISO);
    }

    #[test]
    fn an_ordinary_container_image_is_not_a_disk_image() {
        let manifest = build_manifest(
            DiskFormat::Qcow2,
            &Digest::of_bytes(b"c"),
            1,
            &Digest::of_bytes(b"d"),
            1,
        );
        let text = String::from_utf8(manifest)
            .unwrap()
            .replace(DISK_QCOW2, "application/vnd.oci.image.layer.v1.tar+gzip");
        let parsed = parse_manifest(text.as_bytes(), None).unwrap();
        assert!(disk_layer(&parsed).is_err());
    }

    #[test]
    fn format_label_must_agree_with_the_layer() {
        let config = build_config(&facts(), &Digest::of_bytes(b"d"));
        assert!(parse_facts(&config, DiskFormat::Iso).is_err());
    }

    #[test]
    fn missing_size_label_is_reported_by_name() {
        let config = br#"{"config":{"Labels":{"dvp.format":"qcow2","dvp.unpacked-size":"1","dvp.source-format":"raw"}}}"#;
        let err = parse_facts(config, DiskFormat::Qcow2).unwrap_err();
        assert!(err.to_string().contains("dvp.virtual-size"), "{err}");
    }
}
