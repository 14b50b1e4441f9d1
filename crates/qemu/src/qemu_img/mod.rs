//! The `qemu-img` tool: inspect, create, convert, resize, check and compare disk images.
//!
//! Every function runs one `qemu-img` child process (found on `PATH`, with `LC_ALL=C`) and kills
//! it if the returned future is dropped, so cancelling an import stops its conversion.

pub mod args;
mod check;
mod error;
mod format;
mod info;
mod map;
mod progress;
mod run;

use std::path::Path;

pub use args::{CacheMode, CompareOptions, ConvertOptions, InfoOptions, ReadOptions};
pub use check::{CheckExit, CheckResult, classify_exit, parse_check};
pub use error::{QemuImgError, stderr_excerpt};
pub use format::ImageFormat;
pub use info::{ImageInfo, parse_chain, parse_info};
pub use map::{MapExtent, data_bytes, parse_map};
pub use progress::{ProgressParser, parse_record};

fn utf8<'a>(
    operation: &'static str,
    path: &Path,
    stdout: &'a [u8],
) -> Result<&'a str, QemuImgError> {
    std::str::from_utf8(stdout).map_err(|e| QemuImgError::Output {
        operation,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn unreadable(operation: &'static str, path: &Path, error: serde_json::Error) -> QemuImgError {
    QemuImgError::Output {
        operation,
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Describes an image, letting qemu-img probe its format, reading it even if a running QEMU
/// holds it (`-U`).
pub async fn info(path: &Path) -> Result<ImageInfo, QemuImgError> {
    let options = InfoOptions {
        force_share: true,
        ..InfoOptions::default()
    };
    info_with(path, &options).await
}

/// Describes an image with explicit options. With `backing_chain` set, describes the top image
/// only; use [`backing_chain`] for the whole chain.
pub async fn info_with(path: &Path, options: &InfoOptions) -> Result<ImageInfo, QemuImgError> {
    let options = InfoOptions {
        backing_chain: false,
        ..options.clone()
    };
    let stdout = run::run("info", path, &args::info(path, &options)).await?;
    parse_info(utf8("info", path, &stdout)?).map_err(|e| unreadable("info", path, e))
}

/// Describes every image of a backing chain, the given image first.
pub async fn backing_chain(
    path: &Path,
    options: &InfoOptions,
) -> Result<Vec<ImageInfo>, QemuImgError> {
    let options = InfoOptions {
        backing_chain: true,
        ..options.clone()
    };
    let stdout = run::run("info", path, &args::info(path, &options)).await?;
    parse_chain(utf8("info", path, &stdout)?).map_err(|e| unreadable("info", path, e))
}

/// Creates an image of `size` bytes; with `backing`, a copy-on-write overlay over that file.
pub async fn create(
    path: &Path,
    format: &ImageFormat,
    size: u64,
    backing: Option<(&Path, &ImageFormat)>,
) -> Result<(), QemuImgError> {
    run::run("create", path, &args::create(path, format, size, backing)).await?;
    Ok(())
}

/// Converts `source` into a new image `target` (flattening any backing chain), calling
/// `on_progress` with the fraction done (0..=1) as qemu-img reports it.
pub async fn convert(
    source: &Path,
    source_format: Option<&ImageFormat>,
    target: &Path,
    target_format: &ImageFormat,
    options: &ConvertOptions,
    on_progress: impl FnMut(f64) + Send,
) -> Result<(), QemuImgError> {
    let args = args::convert(source, source_format, target, target_format, options);
    run::run_with_progress("convert", source, &args, on_progress).await
}

/// Grows an image to `size` bytes (qemu-img refuses to shrink without `--shrink`, never passed).
pub async fn resize(path: &Path, format: &ImageFormat, size: u64) -> Result<(), QemuImgError> {
    run::run("resize", path, &args::resize(path, format, size)).await?;
    Ok(())
}

/// Checks an image's metadata for corruption. Formats without a check (raw) report
/// `supported: false`; an image qemu-img cannot even open is an error.
pub async fn check(path: &Path, options: &ReadOptions) -> Result<CheckResult, QemuImgError> {
    let output = run::output(&args::check(path, options)).await?;
    match classify_exit(output.status.code()) {
        CheckExit::Report => parse_check(utf8("check", path, &output.stdout)?)
            .map_err(|e| unreadable("check", path, e)),
        CheckExit::Unsupported => Ok(CheckResult::default()),
        CheckExit::Failed => Err(run::failed("check", path, &output)),
    }
}

/// True when both images show the guest the same content (formats probed, `-U`).
pub async fn compare(first: &Path, second: &Path) -> Result<bool, QemuImgError> {
    let options = CompareOptions {
        force_share: true,
        ..CompareOptions::default()
    };
    compare_with(first, second, &options).await
}

/// [`compare`] with explicit formats and strictness.
pub async fn compare_with(
    first: &Path,
    second: &Path,
    options: &CompareOptions,
) -> Result<bool, QemuImgError> {
    let output = run::output(&args::compare(first, second, options)).await?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(run::failed("compare", first, &output)),
    }
}

/// Lists which guest ranges hold data.
pub async fn map(path: &Path, options: &ReadOptions) -> Result<Vec<MapExtent>, QemuImgError> {
    let stdout = run::run("map", path, &args::map(path, options)).await?;
    parse_map(utf8("map", path, &stdout)?).map_err(|e| unreadable("map", path, e))
}

/// Guest bytes that hold data (what a full copy of the disk must transfer).
pub async fn allocated_bytes(path: &Path, options: &ReadOptions) -> Result<u64, QemuImgError> {
    Ok(data_bytes(&map(path, options).await?))
}
