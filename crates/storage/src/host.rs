//! Everything the provisioners do to the machine, behind one trait: qemu-img runs and filesystem
//! operations. [`QemuHost`] is the real one; tests use a recording fake.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dvp_qemu::qemu_img::QemuImgError;
use dvp_qemu::qemu_img::{self, ConvertOptions, ImageFormat, ImageInfo, InfoOptions, ReadOptions};

use crate::source::SourceFormat;

/// What the provisioners need to know about one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFacts {
    /// The image's file as qemu-img named it.
    pub path: PathBuf,
    /// The format qemu-img opened it as.
    pub format: String,
    /// Size of the disk the guest sees, in bytes.
    pub virtual_size: u64,
    /// Bytes the file occupies on the host.
    pub actual_size: Option<u64>,
    /// The backing file, resolved to a full path.
    pub backing_file: Option<PathBuf>,
    /// A qcow2 external data file, if the image uses one.
    pub data_file: Option<String>,
}

impl From<ImageInfo> for ImageFacts {
    fn from(info: ImageInfo) -> ImageFacts {
        ImageFacts {
            path: PathBuf::from(&info.filename),
            format: info.format.as_str().to_string(),
            virtual_size: info.virtual_size,
            actual_size: info.actual_size,
            backing_file: info
                .full_backing_filename
                .or(info.backing_filename)
                .map(PathBuf::from),
            data_file: info.data_file,
        }
    }
}

/// A host operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    QemuImg(#[from] QemuImgError),
}

impl HostError {
    /// Wraps an I/O error with what was being done to which path.
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> HostError {
        HostError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The filesystem written to is full (or over quota).
    pub fn is_no_space(&self) -> bool {
        match self {
            HostError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ),
            HostError::QemuImg(e) => e.is_no_space(),
        }
    }

    /// The path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HostError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Host effects of the provisioners. Paths are absolute.
#[async_trait]
pub trait Host: Send + Sync {
    /// Facts of the image at `path`, opened as `format` (no probing).
    async fn image_info(&self, path: &Path, format: SourceFormat) -> Result<ImageFacts, HostError>;
    /// Facts of every image of the backing chain starting at `path`, `path` first.
    async fn image_chain(
        &self,
        path: &Path,
        format: SourceFormat,
    ) -> Result<Vec<ImageFacts>, HostError>;
    /// Creates a qcow2 of `size` bytes; with `backing`, a copy-on-write overlay on that file.
    async fn create_qcow2(
        &self,
        path: &Path,
        size: u64,
        backing: Option<(&Path, SourceFormat)>,
    ) -> Result<(), HostError>;
    /// Writes a self-contained qcow2 copy of `source` (any backing chain flattened).
    async fn convert_to_qcow2(
        &self,
        source: &Path,
        format: SourceFormat,
        target: &Path,
    ) -> Result<(), HostError>;
    /// Grows a qcow2 to `size` bytes.
    async fn resize_qcow2(&self, path: &Path, size: u64) -> Result<(), HostError>;
    /// Guest bytes of `path` that hold data (what a full copy writes).
    async fn data_bytes(&self, path: &Path, format: SourceFormat) -> Result<u64, HostError>;
    /// Bytes an unprivileged writer may still use in the filesystem holding `dir`.
    async fn free_bytes(&self, dir: &Path) -> Result<u64, HostError>;
    /// The absolute path with symlinks and `..` resolved; fails if it does not exist.
    async fn canonicalize(&self, path: &Path) -> Result<PathBuf, HostError>;
    async fn exists(&self, path: &Path) -> Result<bool, HostError>;
    /// Creates `dir` and its parents.
    async fn create_dir(&self, dir: &Path) -> Result<(), HostError>;
    async fn rename(&self, from: &Path, to: &Path) -> Result<(), HostError>;
    /// Removes a file; a missing file is not an error.
    async fn remove_file(&self, path: &Path) -> Result<(), HostError>;
    /// Removes a directory and everything in it; a missing directory is not an error.
    async fn remove_dir(&self, dir: &Path) -> Result<(), HostError>;
}

fn image_format(format: SourceFormat) -> ImageFormat {
    match format {
        SourceFormat::Qcow2 => ImageFormat::Qcow2,
        SourceFormat::Raw => ImageFormat::Raw,
    }
}

fn info_options(format: SourceFormat) -> InfoOptions {
    InfoOptions {
        format: Some(image_format(format)),
        force_share: true,
        backing_chain: false,
    }
}

fn missing_ok(result: io::Result<()>, op: &'static str, path: &Path) -> Result<(), HostError> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(HostError::io(op, path, e)),
        _ => Ok(()),
    }
}

/// The real host: `qemu-img` (through `dvp-qemu`) and the local filesystem.
#[derive(Clone, Copy, Debug, Default)]
pub struct QemuHost;

#[async_trait]
impl Host for QemuHost {
    async fn image_info(&self, path: &Path, format: SourceFormat) -> Result<ImageFacts, HostError> {
        Ok(qemu_img::info_with(path, &info_options(format))
            .await?
            .into())
    }

    async fn image_chain(
        &self,
        path: &Path,
        format: SourceFormat,
    ) -> Result<Vec<ImageFacts>, HostError> {
        let chain = qemu_img::backing_chain(path, &info_options(format)).await?;
        Ok(chain.into_iter().map(ImageFacts::from).collect())
    }

    async fn create_qcow2(
        &self,
        path: &Path,
        size: u64,
        backing: Option<(&Path, SourceFormat)>,
    ) -> Result<(), HostError> {
        let backing_format = backing.map(|(_, f)| image_format(f));
        let backing = backing
            .zip(backing_format.as_ref())
            .map(|((p, _), f)| (p, f));
        qemu_img::create(path, &ImageFormat::Qcow2, size, backing).await?;
        Ok(())
    }

    async fn convert_to_qcow2(
        &self,
        source: &Path,
        format: SourceFormat,
        target: &Path,
    ) -> Result<(), HostError> {
        let options = ConvertOptions {
            // The target is new and private, so out-of-order writes are safe and faster.
            out_of_order: true,
            ..ConvertOptions::default()
        };
        qemu_img::convert(
            source,
            Some(&image_format(format)),
            target,
            &ImageFormat::Qcow2,
            &options,
            |_| {},
        )
        .await?;
        Ok(())
    }

    async fn resize_qcow2(&self, path: &Path, size: u64) -> Result<(), HostError> {
        qemu_img::resize(path, &ImageFormat::Qcow2, size).await?;
        Ok(())
    }

    async fn data_bytes(&self, path: &Path, format: SourceFormat) -> Result<u64, HostError> {
        let options = ReadOptions {
            format: Some(image_format(format)),
            force_share: true,
        };
        Ok(qemu_img::allocated_bytes(path, &options).await?)
    }

    async fn free_bytes(&self, dir: &Path) -> Result<u64, HostError> {
        let stat = rustix::fs::statvfs(dir).map_err(|e| HostError::io("statvfs", dir, e.into()))?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    async fn canonicalize(&self, path: &Path) -> Result<PathBuf, HostError> {
        tokio::fs::canonicalize(path)
            .await
            .map_err(|e| HostError::io("resolve", path, e))
    }

    async fn exists(&self, path: &Path) -> Result<bool, HostError> {
        tokio::fs::try_exists(path)
            .await
            .map_err(|e| HostError::io("look at", path, e))
    }

    async fn create_dir(&self, dir: &Path) -> Result<(), HostError> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| HostError::io("create directory", dir, e))
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<(), HostError> {
        tokio::fs::rename(from, to)
            .await
            .map_err(|e| HostError::io("rename", from, e))
    }

    async fn remove_file(&self, path: &Path) -> Result<(), HostError> {
        missing_ok(tokio::fs::remove_file(path).await, "remove", path)
    }

    async fn remove_dir(&self, dir: &Path) -> Result<(), HostError> {
        missing_ok(
            tokio::fs::remove_dir_all(dir).await,
            "remove directory",
            dir,
        )
    }
}
