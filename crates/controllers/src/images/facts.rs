//! What an imported image is (format, sizes) and how the status shows it (pure).

use std::time::Duration;

use dvp_api::kinds::common::ImageStatusSize;
use dvp_apimachinery::quantity::format_bytes_human;
use dvp_dvcr::{DiskFacts, DiskFormat};

/// The facts of an imported image, wherever it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFacts {
    pub format: DiskFormat,
    /// Bytes the stored file takes (`status.size.stored`).
    pub stored_bytes: u64,
    /// Bytes a disk made from it needs (`status.size.unpacked`): the guest-visible size.
    pub unpacked_bytes: u64,
    /// What was imported (raw, vmdk, vdi, qcow2, iso).
    pub source_format: String,
}

impl ImageFacts {
    /// From an image read back from DVCR.
    pub fn from_dvcr(facts: &DiskFacts, stored_bytes: u64) -> ImageFacts {
        ImageFacts {
            format: facts.format,
            stored_bytes,
            unpacked_bytes: facts.unpacked_size,
            source_format: facts.source_format.clone(),
        }
    }

    /// The DVCR labels of these facts.
    pub fn to_dvcr(&self) -> DiskFacts {
        DiskFacts {
            format: self.format,
            virtual_size: self.unpacked_bytes,
            unpacked_size: self.unpacked_bytes,
            source_format: self.source_format.clone(),
        }
    }

    /// An ISO 9660 image: attached as a CD-ROM, never the content of a disk.
    pub fn cdrom(&self) -> bool {
        self.format == DiskFormat::Iso
    }

    /// `status.format`.
    pub fn format_name(&self) -> &'static str {
        self.format.as_str()
    }

    /// `status.size`.
    pub fn status_size(&self) -> ImageStatusSize {
        ImageStatusSize {
            stored: Some(format_bytes_human(self.stored_bytes)),
            stored_bytes: Some(self.stored_bytes.to_string()),
            unpacked: Some(format_bytes_human(self.unpacked_bytes)),
            unpacked_bytes: Some(self.unpacked_bytes.to_string()),
        }
    }

    /// Serialized into an annotation (images kept on a volume remember their facts there).
    pub fn to_annotation(&self) -> String {
        serde_json::json!({
            "format": self.format.as_str(),
            "storedBytes": self.stored_bytes,
            "unpackedBytes": self.unpacked_bytes,
            "sourceFormat": self.source_format,
        })
        .to_string()
    }

    /// Reads [`ImageFacts::to_annotation`] back.
    pub fn from_annotation(text: &str) -> Option<ImageFacts> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let format = match v.get("format")?.as_str()? {
            "qcow2" => DiskFormat::Qcow2,
            "iso" => DiskFormat::Iso,
            _ => return None,
        };
        Some(ImageFacts {
            format,
            stored_bytes: v.get("storedBytes")?.as_u64()?,
            unpacked_bytes: v.get("unpackedBytes")?.as_u64()?,
            source_format: v.get("sourceFormat")?.as_str()?.to_string(),
        })
    }
}

/// A duration the way Go prints one (`status.stats.creationDuration`): `850ms`, `3.2s`, `1m2s`,
/// `1h0m5s`; milliseconds are dropped once it is a minute or longer.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        let secs = ms / 1000;
        let frac = ms % 1000;
        if frac == 0 {
            return format!("{secs}s");
        }
        let frac = format!("{frac:03}");
        return format!("{secs}.{}s", frac.trim_end_matches('0'));
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

/// A transfer rate for `status.downloadSpeed` (`12.5Mi`).
pub fn speed_text(bytes_per_second: u64) -> String {
    format_bytes_human(bytes_per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ImageFacts {
        ImageFacts {
            format: DiskFormat::Qcow2,
            stored_bytes: 299_787_878,
            unpacked_bytes: 2_684_354_560,
            source_format: "qcow2".into(),
        }
    }

    #[test]
    fn sizes_are_shown_like_the_guide() {
        let s = facts().status_size();
        assert_eq!(s.stored.as_deref(), Some("285.9Mi"));
        assert_eq!(s.unpacked.as_deref(), Some("2.5Gi"));
        assert_eq!(s.unpacked_bytes.as_deref(), Some("2684354560"));
    }

    #[test]
    fn only_iso_images_are_cdroms() {
        assert!(!facts().cdrom());
        let iso = ImageFacts {
            format: DiskFormat::Iso,
            ..facts()
        };
        assert!(iso.cdrom());
        assert_eq!(iso.format_name(), "iso");
    }

    #[test]
    fn facts_survive_the_annotation_round_trip() {
        let f = facts();
        assert_eq!(ImageFacts::from_annotation(&f.to_annotation()), Some(f));
        assert_eq!(ImageFacts::from_annotation("{}"), None);
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(Duration::from_millis(0)), "0s");
        assert_eq!(go_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(go_duration(Duration::from_millis(3200)), "3.2s");
        assert_eq!(go_duration(Duration::from_millis(3000)), "3s");
        assert_eq!(go_duration(Duration::from_millis(62_400)), "1m2s");
        assert_eq!(go_duration(Duration::from_secs(3605)), "1h0m5s");
    }
}
