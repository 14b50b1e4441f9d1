//! `qemu-img info --output=json`: the facts of one image, or of every image of a backing chain.

use serde::Deserialize;

use super::ImageFormat;

/// What qemu-img reports about one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// The file name as qemu-img printed it (the path it was given).
    pub filename: String,
    pub format: ImageFormat,
    /// Size of the disk the guest sees, in bytes.
    pub virtual_size: u64,
    /// Bytes the image occupies on the host filesystem (absent for some protocols).
    pub actual_size: Option<u64>,
    pub cluster_size: Option<u64>,
    /// The backing file as written in the image header.
    pub backing_filename: Option<String>,
    /// The backing file resolved against the image's directory.
    pub full_backing_filename: Option<String>,
    pub backing_format: Option<ImageFormat>,
    /// The image was not closed cleanly (qcow2 lazy refcounts, vdi/vmdk dirty bits).
    pub dirty: bool,
    pub encrypted: bool,
    /// qcow2 `data-file`: guest data lives in this other file.
    pub data_file: Option<String>,
    /// qcow2 marked itself corrupt after a detected inconsistency.
    pub corrupt: bool,
    /// qcow2 compatibility level (`0.10` or `1.1`).
    pub compat: Option<String>,
    /// vmdk: the files holding the extents (for a monolithic image, the image itself).
    pub extents: Vec<String>,
    /// vmdk: `monolithicSparse`, `streamOptimized`, `monolithicFlat`, …
    pub create_type: Option<String>,
    /// Number of internal snapshots.
    pub snapshots: usize,
}

impl ImageInfo {
    /// Files other than the image itself that qemu would open to read guest data: the backing
    /// file, a qcow2 data file, vmdk extents stored elsewhere.
    pub fn external_files(&self) -> Vec<&str> {
        let mut files = Vec::new();
        if let Some(backing) = &self.backing_filename {
            files.push(backing.as_str());
        }
        if let Some(data_file) = &self.data_file {
            files.push(data_file.as_str());
        }
        files.extend(
            self.extents
                .iter()
                .map(String::as_str)
                .filter(|extent| *extent != self.filename),
        );
        files
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawInfo {
    filename: String,
    format: String,
    virtual_size: u64,
    actual_size: Option<u64>,
    cluster_size: Option<u64>,
    backing_filename: Option<String>,
    full_backing_filename: Option<String>,
    backing_filename_format: Option<String>,
    #[serde(default)]
    dirty_flag: bool,
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    snapshots: Vec<serde_json::Value>,
    format_specific: Option<FormatSpecific>,
}

#[derive(Deserialize)]
struct FormatSpecific {
    #[serde(default)]
    data: SpecificData,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct SpecificData {
    compat: Option<String>,
    data_file: Option<String>,
    #[serde(default)]
    corrupt: bool,
    create_type: Option<String>,
    #[serde(default)]
    extents: Vec<Extent>,
}

#[derive(Deserialize)]
struct Extent {
    filename: String,
}

impl From<RawInfo> for ImageInfo {
    fn from(raw: RawInfo) -> Self {
        let specific = raw.format_specific.map(|s| s.data).unwrap_or_default();
        ImageInfo {
            filename: raw.filename,
            format: ImageFormat::from_name(&raw.format),
            virtual_size: raw.virtual_size,
            actual_size: raw.actual_size,
            cluster_size: raw.cluster_size,
            backing_filename: raw.backing_filename,
            full_backing_filename: raw.full_backing_filename,
            backing_format: raw
                .backing_filename_format
                .as_deref()
                .map(ImageFormat::from_name),
            dirty: raw.dirty_flag,
            encrypted: raw.encrypted,
            data_file: specific.data_file,
            corrupt: specific.corrupt,
            compat: specific.compat,
            extents: specific.extents.into_iter().map(|e| e.filename).collect(),
            create_type: specific.create_type,
            snapshots: raw.snapshots.len(),
        }
    }
}

/// Parses the output of `qemu-img info --output=json` for one image.
pub fn parse_info(json: &str) -> Result<ImageInfo, serde_json::Error> {
    serde_json::from_str::<RawInfo>(json).map(ImageInfo::from)
}

/// Parses the output of `qemu-img info --output=json --backing-chain` (top image first).
pub fn parse_chain(json: &str) -> Result<Vec<ImageInfo>, serde_json::Error> {
    serde_json::from_str::<Vec<RawInfo>>(json)
        .map(|chain| chain.into_iter().map(ImageInfo::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVERLAY: &str = r#"{
        "children": [{"name": "file", "info": {"children": [], "virtual-size": 197120,
            "filename": "b.qcow2", "format": "file", "actual-size": 200704,
            "format-specific": {"type": "file", "data": {}}, "dirty-flag": false}}],
        "backing-filename-format": "qcow2",
        "virtual-size": 36700160,
        "filename": "b.qcow2",
        "cluster-size": 65536,
        "format": "qcow2",
        "actual-size": 200704,
        "format-specific": {"type": "qcow2", "data": {"compat": "1.1",
            "compression-type": "zlib", "lazy-refcounts": false, "refcount-bits": 16,
            "corrupt": false, "extended-l2": false}},
        "full-backing-filename": "/images/base.qcow2",
        "backing-filename": "base.qcow2",
        "dirty-flag": false
    }"#;

    #[test]
    fn overlay_reports_its_backing_file() {
        let info = parse_info(OVERLAY).unwrap();
        assert_eq!(info.format, ImageFormat::Qcow2);
        assert_eq!(info.virtual_size, 36700160);
        assert_eq!(info.actual_size, Some(200704));
        assert_eq!(info.cluster_size, Some(65536));
        assert_eq!(info.backing_filename.as_deref(), Some("base.qcow2"));
        assert_eq!(
            info.full_backing_filename.as_deref(),
            Some("/images/base.qcow2")
        );
        assert_eq!(info.backing_format, Some(ImageFormat::Qcow2));
        assert_eq!(info.compat.as_deref(), Some("1.1"));
        assert_eq!(info.external_files(), ["base.qcow2"]);
    }

    #[test]
    fn data_file_is_an_external_file() {
        let json = r#"{"virtual-size": 1048576, "filename": "d.qcow2", "format": "qcow2",
            "format-specific": {"type": "qcow2", "data": {"compat": "1.1",
            "data-file": "/etc/passwd", "data-file-raw": false, "corrupt": true}},
            "dirty-flag": true, "encrypted": true}"#;
        let info = parse_info(json).unwrap();
        assert_eq!(info.data_file.as_deref(), Some("/etc/passwd"));
        assert!(info.corrupt);
        assert!(info.dirty);
        assert!(info.encrypted);
        assert_eq!(info.external_files(), ["/etc/passwd"]);
    }

    #[test]
    fn monolithic_vmdk_extent_is_the_image_itself() {
        let json = r#"{"virtual-size": 36700160, "filename": "t.vmdk", "format": "vmdk",
            "format-specific": {"type": "vmdk", "data": {"cid": 1, "parent-cid": 4294967295,
            "create-type": "monolithicSparse", "extents": [{"virtual-size": 36700160,
            "filename": "t.vmdk", "cluster-size": 65536, "format": ""}]}}}"#;
        let info = parse_info(json).unwrap();
        assert_eq!(info.create_type.as_deref(), Some("monolithicSparse"));
        assert_eq!(info.extents, ["t.vmdk"]);
        assert!(info.external_files().is_empty());
    }

    #[test]
    fn flat_vmdk_extent_elsewhere_is_external() {
        let json = r#"{"virtual-size": 512, "filename": "d.vmdk", "format": "vmdk",
            "format-specific": {"type": "vmdk", "data": {"create-type": "monolithicFlat",
            "extents": [{"virtual-size": 512, "filename": "/etc/shadow", "format": "FLAT"}]}}}"#;
        assert_eq!(parse_info(json).unwrap().external_files(), ["/etc/shadow"]);
    }

    #[test]
    fn raw_image_without_format_specific_data() {
        let json = r#"{"virtual-size": 4096, "filename": "r", "format": "raw",
            "actual-size": 0, "dirty-flag": false,
            "snapshots": [{"id": "1"}, {"id": "2"}]}"#;
        let info = parse_info(json).unwrap();
        assert_eq!(info.format, ImageFormat::Raw);
        assert_eq!(info.cluster_size, None);
        assert_eq!(info.snapshots, 2);
        assert!(info.external_files().is_empty());
    }

    #[test]
    fn chain_lists_top_image_first() {
        let base = r#"{"virtual-size": 36700160, "filename": "/images/base.qcow2",
            "format": "qcow2"}"#;
        let chain = parse_chain(&format!("[{OVERLAY}, {base}]")).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].filename, "b.qcow2");
        assert_eq!(chain[1].filename, "/images/base.qcow2");
        assert_eq!(chain[1].backing_filename, None);
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(parse_info("qemu-img: oops").is_err());
        assert!(parse_info(r#"{"filename": "x"}"#).is_err());
    }
}
