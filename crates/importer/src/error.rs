//! Why an import failed, in words a user can act on.
//!
//! Every variant is final for this attempt: transient network trouble has already been retried
//! by the time an error comes out of [`crate::import`].

use std::io;
use std::path::{Path, PathBuf};

use dvp_qemu::qemu_img::QemuImgError;

use crate::checksum::Algorithm;

/// A failed import. `Display` is the message for the object's condition.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the server answered {status} for {url}")]
    HttpStatus { url: String, status: String },
    #[error("downloading {url} failed after {attempts} attempts: {last_error}")]
    RetriesExhausted {
        url: String,
        attempts: u32,
        last_error: String,
    },
    #[error("cannot download {url}: {message}")]
    Http { url: String, message: String },
    #[error("invalid {algorithm} checksum {value:?}: expected {expected_len} hexadecimal digits")]
    InvalidChecksum {
        algorithm: Algorithm,
        value: String,
        expected_len: usize,
    },
    #[error(
        "checksum mismatch: the {algorithm} of the downloaded data is {actual}, but {expected} was expected"
    )]
    ChecksumMismatch {
        algorithm: Algorithm,
        expected: String,
        actual: String,
    },
    #[error(
        "the image refers to another file ({file}); images that read other files are refused because they could expose host data"
    )]
    ExternalFile { file: String },
    #[error("the image is encrypted; encrypted images are not supported")]
    Encrypted,
    #[error("the image is corrupt or truncated: {detail}")]
    Corrupt { detail: String },
    #[error("the {compression} data is corrupt or truncated: {detail}")]
    CorruptCompression {
        compression: &'static str,
        detail: String,
    },
    #[error(
        "the image unpacks to more than {}{reason}; refusing it as a possible decompression bomb",
        size(*limit)
    )]
    DecompressionBomb { limit: u64, reason: String },
    #[error(
        "the image's virtual size of {} exceeds the limit of {}",
        size(*virtual_size),
        size(*limit)
    )]
    TooLarge { virtual_size: u64, limit: u64 },
    #[error("unsupported image: {detail}")]
    Unsupported { detail: String },
    #[error("no space left on the device holding {}: free some space and try again", path.display())]
    NoSpace { path: PathBuf },
    #[error("container image {reference}: {message}")]
    Registry { reference: String, message: String },
    #[error("container image {reference} has no file under /disk/")]
    NoDiskInImage { reference: String },
    #[error("converting the image failed: {0}")]
    Conversion(#[source] QemuImgError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("the import was cancelled")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

/// `36700160` → `35 MiB (36700160 bytes)`: readable, and exact for those who compare.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    let shown = format!("{value:.1}");
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    format!("{shown} {unit} ({bytes} bytes)")
}

fn is_no_space(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull
        || error.kind() == io::ErrorKind::QuotaExceeded
        || matches!(error.raw_os_error(), Some(28 | 122))
}

impl ImportError {
    /// An I/O error on `path`; a full filesystem becomes [`ImportError::NoSpace`].
    pub(crate) fn io(path: &Path, what: &str, source: io::Error) -> ImportError {
        if is_no_space(&source) {
            ImportError::NoSpace {
                path: path.to_path_buf(),
            }
        } else {
            ImportError::Io {
                context: format!("{what} {}", path.display()),
                source,
            }
        }
    }

    /// A qemu-img failure while converting into `target`.
    pub(crate) fn conversion(target: &Path, error: QemuImgError) -> ImportError {
        if error.is_no_space() {
            return ImportError::NoSpace {
                path: target.to_path_buf(),
            };
        }
        let read_failed = error
            .stderr()
            .is_some_and(|stderr| stderr.contains("error while reading"));
        if read_failed {
            ImportError::Corrupt {
                detail: error.stderr().unwrap_or_default().to_string(),
            }
        } else {
            ImportError::Conversion(error)
        }
    }

    /// True when trying again later may succeed without anything changing at the source: the
    /// network kept failing, or the disk was full. Everything else needs a different input.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ImportError::RetriesExhausted { .. }
                | ImportError::NoSpace { .. }
                | ImportError::Io { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well_and_stay_exact() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(36_700_160), "35 MiB (36700160 bytes)");
        assert_eq!(size(1_500_000_000), "1.4 GiB (1500000000 bytes)");
        assert_eq!(size(10 << 30), "10 GiB (10737418240 bytes)");
    }

    #[test]
    fn full_disk_is_recognised() {
        let error = ImportError::io(
            Path::new("/data/imports/x"),
            "writing",
            io::Error::from_raw_os_error(28),
        );
        assert!(matches!(error, ImportError::NoSpace { .. }));
        assert!(error.to_string().contains("/data/imports/x"));
    }

    #[test]
    fn other_io_errors_keep_their_context() {
        let error = ImportError::io(Path::new("/x"), "reading", io::Error::from_raw_os_error(13));
        assert!(error.to_string().starts_with("reading /x: "), "{error}");
    }

    #[test]
    fn not_found_message_names_status_and_url() {
        let error = ImportError::HttpStatus {
            url: "http://h/x.img".into(),
            status: "404 Not Found".into(),
        };
        assert_eq!(
            error.to_string(),
            "the server answered 404 Not Found for http://h/x.img"
        );
        assert!(!error.is_retryable());
    }

    #[test]
    fn qemu_read_errors_mean_a_corrupt_image() {
        let error = ImportError::conversion(
            Path::new("/t"),
            QemuImgError::Failed {
                operation: "convert",
                path: "/s".into(),
                status: "exit status: 1".into(),
                stderr: "qemu-img: error while reading at byte 0: Input/output error".into(),
            },
        );
        assert!(matches!(error, ImportError::Corrupt { .. }), "{error}");
    }
}
