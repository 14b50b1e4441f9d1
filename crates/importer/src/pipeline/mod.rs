//! One import from start to finish: prepare the source as a local image (transfer, unpack,
//! verify), then inspect and convert it, then describe the result.

mod file;
mod http;
mod oci;
mod worker;

use std::path::{Path, PathBuf};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ImportOptions;
use crate::checksum::Checksums;
use crate::convert::{InspectPolicy, inspect, output_info, to_qcow2};
use crate::error::ImportError;
use crate::progress::{Plan, Progress, Reporter, Stage};
use crate::result::{ImportResult, OutputFormat};
use crate::scratch::Scratch;
use crate::sniff::{Compression, HeaderFacts, SourceFormat};
use crate::source::Source;
use crate::stage::StageLimits;

/// What every source step needs.
pub(crate) struct Context<'a> {
    pub options: &'a ImportOptions,
    pub scratch: Scratch,
    pub reporter: Reporter<'a>,
    pub stop: &'a CancellationToken,
}

impl Context<'_> {
    pub fn limits(&self) -> StageLimits {
        StageLimits {
            max_unpacked_bytes: self.options.max_unpacked_bytes,
            max_virtual_size: self.options.max_virtual_size,
        }
    }
}

/// A source made local: an image file qemu-img can read.
pub(crate) struct Prepared {
    pub path: PathBuf,
    pub facts: HeaderFacts,
    pub compression: Option<Compression>,
    /// The file is ours (in the work dir): it may be moved or deleted.
    pub in_scratch: bool,
    pub allow_backing: bool,
    pub force_share: bool,
    pub checksums: Checksums,
    pub transferred: u64,
}

pub(crate) async fn run(
    source: &Source,
    work_dir: &Path,
    options: &ImportOptions,
    progress: &watch::Sender<Progress>,
    stop: &CancellationToken,
) -> Result<ImportResult, ImportError> {
    let mut cx = Context {
        options,
        scratch: Scratch::new(work_dir)?,
        reporter: Reporter::new(progress, Plan::new(0.8, 0.8)),
        stop,
    };
    cx.reporter.stage(Stage::Starting, 0.0);
    let started = std::time::Instant::now();
    let prepared = match source {
        Source::Http {
            url,
            checksum,
            ca_bundle,
        } => http::prepare(url, checksum, ca_bundle.as_deref(), &mut cx).await?,
        Source::OciImage {
            reference,
            credentials,
            ca_bundle,
            insecure_http_allowed_for_loopback,
        } => {
            oci::prepare(
                reference,
                credentials.as_ref(),
                ca_bundle.as_deref(),
                *insecure_http_allowed_for_loopback,
                &mut cx,
            )
            .await?
        }
        Source::File { path, checksum } => file::prepare_file(path, checksum, &mut cx).await?,
        Source::Volume { path } => file::prepare_volume(path, &mut cx).await?,
    };
    tracing::debug!(elapsed = ?started.elapsed(), bytes = prepared.transferred, "source prepared");
    let result = if prepared.facts.format == SourceFormat::Iso {
        keep_iso(prepared, &mut cx).await?
    } else {
        make_qcow2(prepared, &mut cx).await?
    };
    cx.scratch.keep(&result.path);
    cx.reporter.done();
    Ok(result)
}

async fn keep_iso(prepared: Prepared, cx: &mut Context<'_>) -> Result<ImportResult, ImportError> {
    let size = std::fs::metadata(&prepared.path)
        .map_err(|e| ImportError::io(&prepared.path, "reading", e))?
        .len();
    if let Some(limit) = cx.options.max_virtual_size.filter(|limit| size > *limit) {
        return Err(ImportError::TooLarge {
            virtual_size: size,
            limit,
        });
    }
    let output = cx.scratch.path("disk.iso");
    if prepared.in_scratch {
        std::fs::rename(&prepared.path, &output)
            .map_err(|e| ImportError::io(&output, "moving the ISO to", e))?;
    } else {
        let (from, to) = (prepared.path.clone(), output.clone());
        tokio::task::spawn_blocking(move || std::fs::copy(&from, &to))
            .await
            .map_err(|e| ImportError::Internal(format!("copying the ISO: {e}")))?
            .map_err(|e| ImportError::io(&output, "copying the ISO to", e))?;
    }
    Ok(ImportResult {
        path: output,
        format: OutputFormat::Iso,
        source_format: SourceFormat::Iso,
        compression: prepared.compression,
        virtual_size: size,
        unpacked_size: size,
        stored_size: size,
        cdrom: true,
        checksums: prepared.checksums,
        transferred_bytes: prepared.transferred,
    })
}

async fn make_qcow2(prepared: Prepared, cx: &mut Context<'_>) -> Result<ImportResult, ImportError> {
    cx.reporter.stage(Stage::Converting, 0.0);
    let policy = InspectPolicy {
        allow_backing: prepared.allow_backing,
        max_virtual_size: cx.options.max_virtual_size,
        force_share: prepared.force_share,
    };
    let format = prepared.facts.format;
    let started = std::time::Instant::now();
    inspect(&prepared.path, format, &policy).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "image inspected");
    let started = std::time::Instant::now();

    let output = cx.scratch.path("disk.qcow2");
    let reporter = &mut cx.reporter;
    to_qcow2(
        &prepared.path,
        format,
        &output,
        prepared.force_share,
        |fraction| reporter.stage(Stage::Converting, fraction),
    )
    .await?;
    tracing::debug!(elapsed = ?started.elapsed(), "image converted");
    if prepared.in_scratch {
        cx.scratch.remove(&prepared.path);
    }
    let info = output_info(&output).await?;
    let stored_size = std::fs::metadata(&output)
        .map_err(|e| ImportError::io(&output, "reading", e))?
        .len();
    Ok(ImportResult {
        path: output,
        format: OutputFormat::Qcow2,
        source_format: format,
        compression: prepared.compression,
        virtual_size: info.virtual_size,
        unpacked_size: info.virtual_size,
        stored_size,
        cdrom: false,
        checksums: prepared.checksums,
        transferred_bytes: prepared.transferred,
    })
}
