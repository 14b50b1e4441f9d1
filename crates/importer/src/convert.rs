//! The qemu-img half of an import: inspecting an image for anything unsafe, and converting it
//! into a self-contained qcow2.

use std::path::Path;

use dvp_qemu::qemu_img::{
    self, CacheMode, ConvertOptions, ImageFormat, ImageInfo, InfoOptions, QemuImgError, ReadOptions,
};

use crate::error::ImportError;
use crate::sniff::SourceFormat;

/// What an image may be and do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InspectPolicy {
    /// The image may be an overlay (a volume): its backing chain is flattened, not refused.
    pub allow_backing: bool,
    pub max_virtual_size: Option<u64>,
    /// Read with `-U`: another process (a stopped VM's leftovers, the registry) may hold it.
    pub force_share: bool,
}

fn unreadable(error: QemuImgError) -> ImportError {
    match error {
        QemuImgError::Failed { stderr, .. } => ImportError::Corrupt { detail: stderr },
        other => ImportError::Conversion(other),
    }
}

/// The first file other than the image itself the image would make qemu read.
pub(crate) fn forbidden_file(info: &ImageInfo, allow_backing: bool) -> Option<String> {
    info.external_files()
        .into_iter()
        .find(|file| !(allow_backing && Some(*file) == info.backing_filename.as_deref()))
        .map(str::to_string)
}

/// Asks qemu-img about the image and refuses what must not be imported: other files it would
/// read, encryption, corruption, a virtual size over the limit.
pub(crate) async fn inspect(
    path: &Path,
    format: SourceFormat,
    policy: &InspectPolicy,
) -> Result<ImageInfo, ImportError> {
    let options = InfoOptions {
        format: Some(format.qemu_format()),
        force_share: policy.force_share,
        backing_chain: false,
    };
    let info = qemu_img::info_with(path, &options)
        .await
        .map_err(unreadable)?;
    if let Some(file) = forbidden_file(&info, policy.allow_backing) {
        return Err(ImportError::ExternalFile { file });
    }
    if info.encrypted {
        return Err(ImportError::Encrypted);
    }
    if info.corrupt {
        return Err(ImportError::Corrupt {
            detail: "the qcow2 image has marked itself corrupt".into(),
        });
    }
    if let Some(limit) = policy.max_virtual_size
        && info.virtual_size > limit
    {
        return Err(ImportError::TooLarge {
            virtual_size: info.virtual_size,
            limit,
        });
    }
    if format.has_metadata() {
        let read = ReadOptions {
            format: Some(format.qemu_format()),
            force_share: policy.force_share,
        };
        let result = qemu_img::check(path, &read).await.map_err(unreadable)?;
        if !result.is_consistent() {
            return Err(ImportError::Corrupt {
                detail: format!(
                    "qemu-img check found {} corruption(s) and {} check error(s) in the {format} metadata",
                    result.corruptions, result.check_errors
                ),
            });
        }
    }
    Ok(info)
}

/// Converts the image into a qcow2 at `target`, flattening any backing chain.
pub(crate) async fn to_qcow2(
    source: &Path,
    format: SourceFormat,
    target: &Path,
    force_share: bool,
    on_progress: impl FnMut(f64) + Send,
) -> Result<(), ImportError> {
    let options = ConvertOptions {
        force_share,
        out_of_order: true,
        // The result is scratch until the caller stores it: no flush to disk here.
        target_cache: Some(CacheMode::Unsafe),
        ..ConvertOptions::default()
    };
    qemu_img::convert(
        source,
        Some(&format.qemu_format()),
        target,
        &ImageFormat::Qcow2,
        &options,
        on_progress,
    )
    .await
    .map_err(|e| ImportError::conversion(target, e))
}

/// Facts of the produced qcow2.
pub(crate) async fn output_info(target: &Path) -> Result<ImageInfo, ImportError> {
    let options = InfoOptions {
        format: Some(ImageFormat::Qcow2),
        ..InfoOptions::default()
    };
    qemu_img::info_with(target, &options)
        .await
        .map_err(ImportError::Conversion)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(backing: Option<&str>, data_file: Option<&str>) -> ImageInfo {
        ImageInfo {
            filename: "/v/disk.qcow2".into(),
            format: ImageFormat::Qcow2,
            virtual_size: 1,
            actual_size: None,
            cluster_size: None,
            backing_filename: backing.map(str::to_string),
            full_backing_filename: None,
            backing_format: None,
            dirty: false,
            encrypted: false,
            data_file: data_file.map(str::to_string),
            corrupt: false,
            compat: None,
            extents: Vec::new(),
            create_type: None,
            snapshots: 0,
        }
    }

    #[test]
    fn backing_file_is_forbidden_unless_allowed() {
        let overlay = info(Some("/etc/shadow"), None);
        assert_eq!(
            forbidden_file(&overlay, false).as_deref(),
            Some("/etc/shadow")
        );
        assert_eq!(forbidden_file(&overlay, true), None);
    }

    #[test]
    fn data_file_is_forbidden_even_for_volumes() {
        let image = info(Some("/b"), Some("/etc/passwd"));
        assert_eq!(forbidden_file(&image, true).as_deref(), Some("/etc/passwd"));
    }
}
