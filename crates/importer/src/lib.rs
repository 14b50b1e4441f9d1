//! Turns an image source into a self-contained disk file, with no knowledge of Kubernetes.
//!
//! Sources ([`Source`]): an http(s) URL with optional checksums, a container image holding
//! `/disk/<file>`, a local file (an upload, another image's blob), or a disk's volume.
//!
//! The pipeline: bytes stream into the work dir while being hashed and, when they start with
//! gzip/xz/zstd magic, decompressed; the first bytes tell the format (qcow2, raw, vmdk, vdi,
//! ISO 9660) and are checked at once (no backing or data files, no encryption, the announced
//! size within limits, the content not far beyond what the header announces). qemu-img then
//! inspects and checks the image and converts disks to a qcow2 without backing file; an ISO is
//! kept as it is. Transient network failures are retried with backoff, resuming with `Range`.
//!
//! Failures leave nothing in the work dir; so does cancellation (the token, or dropping the
//! future), which also kills a running qemu-img.

pub mod checksum;
mod convert;
pub mod error;
mod feed;
pub mod http;
pub mod oci;
mod pipeline;
pub mod progress;
pub mod result;
mod scratch;
pub mod sniff;
pub mod source;
mod stage;
mod unpack;

use std::path::Path;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use checksum::{Algorithm, Checksums};
pub use error::ImportError;
pub use http::{RetryPolicy, Timeouts};
pub use oci::Credentials;
pub use progress::{Progress, Stage};
pub use result::{ImportResult, OutputFormat};
pub use sniff::{Compression, SourceFormat};
pub use source::Source;

/// Limits and network behaviour of imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// The largest guest disk accepted (for example the size of the disk being filled).
    pub max_virtual_size: Option<u64>,
    /// The most bytes a source may unpack to, whatever its header says.
    pub max_unpacked_bytes: u64,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
    /// Digests computed on every transferred source in addition to the expected ones.
    pub always_compute: Vec<Algorithm>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_virtual_size: None,
            max_unpacked_bytes: 4 << 40,
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            always_compute: Vec::new(),
        }
    }
}

/// Imports `source` into `work_dir` (created if missing), publishing throttled progress on
/// `progress`. On success the result file is the only file the import leaves in `work_dir`; on
/// failure or cancellation it leaves none.
pub async fn import(
    source: &Source,
    work_dir: &Path,
    options: &ImportOptions,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<ImportResult, ImportError> {
    // Workers on blocking threads watch `stop`; it also fires if this future is dropped.
    let stop = cancel.child_token();
    let _stop_when_dropped = stop.clone().drop_guard();
    tracing::info!(source = %source.describe(), work_dir = %work_dir.display(), "import starting");
    let outcome = tokio::select! {
        biased;
        _ = stop.cancelled() => Err(ImportError::Cancelled),
        outcome = pipeline::run(source, work_dir, options, progress, &stop) => outcome,
    };
    match &outcome {
        Ok(result) => tracing::info!(
            source = %source.describe(),
            format = result.format.name(),
            virtual_size = result.virtual_size,
            stored_size = result.stored_size,
            "import finished"
        ),
        Err(error) => tracing::warn!(source = %source.describe(), %error, "import failed"),
    }
    outcome
}
