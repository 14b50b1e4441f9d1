//! The provisioner trait: make, grow, measure and delete the volume of one claim.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dvp_apimachinery::quantity::format_bytes_human;

use crate::host::HostError;
use crate::source::{SourceFormat, VolumeSource};

/// A Kubernetes access mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    ReadWriteOnce,
    ReadOnlyMany,
    ReadWriteMany,
    ReadWriteOncePod,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
            AccessMode::ReadOnlyMany => "ReadOnlyMany",
            AccessMode::ReadWriteMany => "ReadWriteMany",
            AccessMode::ReadWriteOncePod => "ReadWriteOncePod",
        }
    }

    pub fn parse(text: &str) -> Option<AccessMode> {
        [
            AccessMode::ReadWriteOnce,
            AccessMode::ReadOnlyMany,
            AccessMode::ReadWriteMany,
            AccessMode::ReadWriteOncePod,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }
}

/// What to make: the volume of PV `pv_name` in class `class`, `size` bytes, filled from `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRequest {
    pub class: String,
    pub pv_name: String,
    pub size: u64,
    pub source: VolumeSource,
}

/// How a volume got its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    Blank,
    /// A copy-on-write overlay on the source.
    Overlay,
    /// A full copy of the source.
    Copy,
    /// The volume was already there (an earlier attempt finished it).
    Existing,
}

/// A volume on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Absolute path of the volume's `disk.qcow2`.
    pub path: PathBuf,
    /// Size of the disk the guest sees (≥ the requested size).
    pub capacity: u64,
    pub fill: Fill,
}

/// How big a volume is and how much of the host it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Size of the disk the guest sees.
    pub capacity: u64,
    /// Bytes the volume's file occupies on the host (not counting a backing file).
    pub allocated: u64,
}

fn human(bytes: &u64) -> String {
    format!("{bytes} bytes, {}", format_bytes_human(*bytes))
}

/// Why a volume operation failed; the messages are meant for Events a user reads.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("the source file {} does not exist", path.display())]
    SourceMissing { path: PathBuf },
    #[error(
        "the source file {} is outside the directories volumes may be made from ({roots}); use an image the platform imported",
        path.display()
    )]
    SourceNotAllowed { path: PathBuf, roots: String },
    #[error("the source file {} cannot be read as {format}: {reason}", path.display())]
    SourceUnreadable {
        path: PathBuf,
        format: SourceFormat,
        reason: String,
    },
    #[error(
        "the source file {} keeps its data in another file ({data_file}); volumes are not made from such images",
        path.display()
    )]
    SourceHasDataFile { path: PathBuf, data_file: String },
    #[error(
        "the source {} has a virtual size of {}, larger than the requested volume size of {}; request at least {}",
        path.display(), human(virtual_size), human(requested), format_bytes_human(*virtual_size)
    )]
    SourceTooBig {
        path: PathBuf,
        virtual_size: u64,
        requested: u64,
    },
    #[error(
        "not enough space in {}: copying the source needs {} but only {} are free",
        dir.display(), human(needed), human(available)
    )]
    NoSpace {
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("the filesystem holding {} is full: {reason}", dir.display())]
    DiskFull { dir: PathBuf, reason: String },
    #[error(
        "cannot shrink the volume {} from {} to {}: volumes only grow",
        path.display(), human(current), human(requested)
    )]
    Shrink {
        path: PathBuf,
        current: u64,
        requested: u64,
    },
    #[error(
        "{} is not a volume of {provisioner} (volumes are <class>/<pv name>/disk.qcow2 under {})",
        path.display(), root.display()
    )]
    NotAVolume {
        path: PathBuf,
        provisioner: &'static str,
        root: PathBuf,
    },
    #[error("{0:?} cannot name a volume directory (a single path component is needed)")]
    BadName(String),
    #[error(transparent)]
    Host(#[from] HostError),
}

/// The size check of a volume made from a source: it must hold the whole source disk.
pub fn check_source_fits(
    path: &Path,
    virtual_size: u64,
    requested: u64,
) -> Result<(), VolumeError> {
    if virtual_size > requested {
        return Err(VolumeError::SourceTooBig {
            path: path.to_path_buf(),
            virtual_size,
            requested,
        });
    }
    Ok(())
}

/// A storage backend that makes qcow2 volumes for claims.
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// The provisioner name StorageClasses refer to.
    fn name(&self) -> &'static str;
    /// Access modes its volumes support; the first is the one it natively offers.
    fn access_modes(&self) -> &'static [AccessMode];
    /// Whether a volume lives on one node (PVs then carry node affinity).
    fn node_local(&self) -> bool;
    /// Where the volume of PV `pv_name` in class `class` lives.
    fn volume_path(&self, class: &str, pv_name: &str) -> Result<PathBuf, VolumeError>;
    /// Makes the volume (idempotent: a finished volume from an earlier attempt is kept).
    async fn create(&self, request: &VolumeRequest) -> Result<Volume, VolumeError>;
    /// Grows the volume at `path` to `size` bytes; returns the new capacity.
    async fn expand(&self, path: &Path, size: u64) -> Result<u64, VolumeError>;
    /// Deletes the volume at `path` (its whole directory); a missing volume is not an error.
    async fn delete(&self, path: &Path) -> Result<(), VolumeError>;
    /// Capacity and allocated bytes of the volume at `path`.
    async fn usage(&self, path: &Path) -> Result<Usage, VolumeError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_fits_is_accepted() {
        assert!(check_source_fits(Path::new("/s"), 100, 100).is_ok());
        assert!(check_source_fits(Path::new("/s"), 10, 100).is_ok());
    }

    #[test]
    fn a_source_bigger_than_the_request_says_how_much_to_ask_for() {
        let e = check_source_fits(Path::new("/s.qcow2"), 2 << 30, 1 << 30).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the source /s.qcow2 has a virtual size of 2147483648 bytes, 2Gi, larger than the \
             requested volume size of 1073741824 bytes, 1Gi; request at least 2Gi"
        );
    }

    #[test]
    fn access_modes_parse_their_names() {
        assert_eq!(
            AccessMode::parse("ReadWriteMany"),
            Some(AccessMode::ReadWriteMany)
        );
        assert_eq!(AccessMode::parse("rwx"), None);
    }
}
