//! The registry's error type.

use std::io;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, DigestError};
use crate::manifest::ManifestError;
use crate::names::{NameError, ReferenceError};

/// Everything a registry operation can fail with. Messages say what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DvcrError {
    #[error("DVCR could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("content digest mismatch: expected {expected}, but the bytes hash to {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error(transparent)]
    ManifestInvalid(#[from] ManifestError),
    #[error("manifest references blob {0}, which is not in the registry: push the blob first")]
    ManifestBlobUnknown(Digest),
    #[error(
        "manifest says blob {digest} has {declared} bytes, but the stored blob has {actual}: fix the descriptor size"
    )]
    ManifestBlobSize {
        digest: Digest,
        declared: u64,
        actual: u64,
    },
    #[error(
        "index references manifest {digest}, which is not in repository {repo}: push it there first"
    )]
    ManifestChildUnknown { repo: String, digest: Digest },
    #[error("manifest {reference} is not in repository {repo}")]
    ManifestUnknown { repo: String, reference: String },
    #[error("repository {0} is not in the registry")]
    NameUnknown(String),
    #[error("blob {0} is not in the registry")]
    BlobUnknown(Digest),
    #[error(
        "blob {digest} is used by manifest {manifest} in {repo}: delete that manifest; garbage collection removes the blob afterwards"
    )]
    BlobInUse {
        digest: Digest,
        repo: String,
        manifest: Digest,
    },
    #[error("upload {0} is unknown: it finished, was cancelled or expired; start a new upload")]
    UploadUnknown(String),
    #[error(
        "upload {id}: the chunk starts at byte {start}, but {size} bytes were received so far; resume from byte {size}"
    )]
    UploadOffset { id: String, start: u64, size: u64 },
    #[error("upload {0} is busy with another request; retry when that request has finished")]
    UploadBusy(String),
    #[error("{what}: {expected} bytes were announced but {actual} arrived")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{repo}:{reference} is not a DVP disk image: {reason}")]
    NotDiskImage {
        repo: String,
        reference: String,
        reason: String,
    },
    #[error("{} cannot be pushed as a disk image: {reason}", path.display())]
    BadDiskFile { path: PathBuf, reason: String },
}

impl DvcrError {
    /// A closure that wraps an I/O error with what was being done to which path.
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DvcrError {
        let path = path.to_path_buf();
        move |source| DvcrError::Io {
            action,
            path,
            source,
        }
    }
}

pub type Result<T, E = DvcrError> = std::result::Result<T, E>;
