//! Local sources: a user's file (possibly compressed, checksummed) and a disk's volume.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::worker::{CountingReader, with_ticks};
use super::{Context, Prepared};
use crate::checksum::{Checksums, MultiHasher};
use crate::error::ImportError;
use crate::progress::{Plan, Stage};
use crate::sniff::{self, HEADER_LEN, HeaderFacts, SourceFormat, detect_compression};
use crate::stage::{Stager, check_announced, sniff_error};
use crate::unpack::{Input, unpack};

async fn read_header(path: &Path) -> Result<(Vec<u8>, u64), ImportError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = File::open(&path).map_err(|e| ImportError::io(&path, "opening", e))?;
        let size = file
            .metadata()
            .map_err(|e| ImportError::io(&path, "reading", e))?
            .len();
        let mut header = Vec::with_capacity(HEADER_LEN);
        file.take(HEADER_LEN as u64)
            .read_to_end(&mut header)
            .map_err(|e| ImportError::io(&path, "reading", e))?;
        Ok((header, size))
    })
    .await
    .map_err(|e| ImportError::Internal(format!("reading a header: {e}")))?
}

/// Hashes a whole file, reporting progress as [`Stage::Verifying`].
async fn hash_file(
    path: &Path,
    size: u64,
    expected: &Checksums,
    cx: &mut Context<'_>,
) -> Result<Checksums, ImportError> {
    let count = Arc::new(AtomicU64::new(0));
    let hasher = MultiHasher::new(&super::http::algorithms(
        expected,
        &cx.options.always_compute,
    ));
    let (path_owned, worker_count, stop) = (path.to_path_buf(), count.clone(), cx.stop.clone());
    let worker = tokio::task::spawn_blocking(move || {
        let file =
            File::open(&path_owned).map_err(|e| ImportError::io(&path_owned, "opening", e))?;
        let mut reader = CountingReader::new(file, worker_count, Some(hasher));
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            if stop.is_cancelled() {
                return Err(ImportError::Cancelled);
            }
            match reader.read(&mut buffer) {
                Ok(0) => return Ok(reader.checksums()),
                Ok(_) => {}
                Err(e) => return Err(ImportError::io(&path_owned, "reading", e)),
            }
        }
    });
    let reporter = &mut cx.reporter;
    with_ticks(worker, &count, |done| {
        reporter.stage(Stage::Verifying, done as f64 / size.max(1) as f64)
    })
    .await
}

/// A user's file: unpacked into the work dir if compressed, else used in place.
pub(crate) async fn prepare_file(
    path: &Path,
    checksum: &Checksums,
    cx: &mut Context<'_>,
) -> Result<Prepared, ImportError> {
    checksum.validate()?;
    let (header, size) = read_header(path).await?;
    let compression = detect_compression(&header).map_err(sniff_error)?;

    if compression.is_none() {
        let facts = sniff::classify(&header).map_err(sniff_error)?;
        check_announced(&facts, &cx.limits())?;
        let checksums = if checksum.is_empty() {
            cx.reporter.set_plan(Plan::new(0.0, 0.0));
            Checksums::default()
        } else {
            cx.reporter.set_plan(Plan::new(0.0, 0.3));
            let computed = hash_file(path, size, checksum, cx).await?;
            checksum.verify(&computed)?;
            computed
        };
        return Ok(Prepared {
            path: path.to_path_buf(),
            facts,
            compression: None,
            in_scratch: false,
            allow_backing: false,
            force_share: true,
            checksums,
            transferred: size,
        });
    }

    cx.reporter.set_plan(Plan::new(0.5, 0.5));
    let staging = cx.scratch.path("source.img");
    let mut stager = Stager::create(&staging, cx.limits())?;
    let count = Arc::new(AtomicU64::new(0));
    let hasher = (!checksum.is_empty()).then(|| {
        MultiHasher::new(&super::http::algorithms(
            checksum,
            &cx.options.always_compute,
        ))
    });
    let (source, worker_count, stop): (PathBuf, _, _) =
        (path.to_path_buf(), count.clone(), cx.stop.clone());
    let worker = tokio::task::spawn_blocking(move || {
        let file = File::open(&source).map_err(|e| ImportError::io(&source, "opening", e))?;
        let mut reader = CountingReader::new(file, worker_count, hasher);
        let unpacked = unpack(Input::Reader(&mut reader), &mut stager, &stop, &|e| {
            ImportError::io(&source, "reading", e)
        })?;
        Ok((unpacked, reader.checksums()))
    });
    let reporter = &mut cx.reporter;
    let (unpacked, computed) = with_ticks(worker, &count, |done| {
        reporter.transferred(done, Some(size))
    })
    .await?;
    checksum.verify(&computed)?;
    Ok(Prepared {
        path: unpacked.staged.path,
        facts: unpacked.staged.facts,
        compression: unpacked.compression,
        in_scratch: true,
        allow_backing: false,
        force_share: false,
        checksums: computed,
        transferred: size,
    })
}

/// A disk's volume: qcow2 (maybe an overlay) or raw, used in place.
pub(crate) async fn prepare_volume(
    path: &Path,
    cx: &mut Context<'_>,
) -> Result<Prepared, ImportError> {
    let (header, size) = read_header(path).await?;
    let format = if header.starts_with(b"QFI\xfb") {
        SourceFormat::Qcow2
    } else {
        SourceFormat::Raw
    };
    cx.reporter.set_plan(Plan::new(0.0, 0.0));
    Ok(Prepared {
        path: path.to_path_buf(),
        facts: HeaderFacts {
            format,
            announced_size: None,
        },
        compression: None,
        in_scratch: false,
        allow_backing: true,
        force_share: true,
        checksums: Checksums::default(),
        transferred: size,
    })
}
