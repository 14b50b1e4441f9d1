//! HTTP(S) source: download, hashing and unpacking at once, then checksum verification.

use http::HeaderMap;
use url::Url;

use super::worker::settle;
use super::{Context, Prepared};
use crate::checksum::{Algorithm, Checksums};
use crate::error::ImportError;
use crate::feed::{self, FeedReader};
use crate::http::client::HttpClient;
use crate::http::download::download;
use crate::progress::Plan;
use crate::stage::Stager;
use crate::unpack::{Unpacked, unpack};

/// Worker body: unpacks the streamed bytes, starting over when the transfer restarts.
fn unpack_stream(
    mut reader: FeedReader,
    mut stager: Stager,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(Unpacked, Checksums), ImportError> {
    loop {
        let source_error = |error: std::io::Error| match crate::feed::interrupt(&error) {
            Some(_) => ImportError::Cancelled,
            None => ImportError::Internal(format!("reading the download: {error}")),
        };
        match unpack((&mut reader).into(), &mut stager, stop, &source_error) {
            Ok(unpacked) => return Ok((unpacked, reader.checksums())),
            Err(_) if reader.take_restart() => stager.reset()?,
            Err(error) => return Err(error),
        }
    }
}

pub(crate) fn algorithms(expected: &Checksums, always: &[Algorithm]) -> Vec<Algorithm> {
    let mut algorithms = expected.algorithms();
    for algorithm in always {
        if !algorithms.contains(algorithm) {
            algorithms.push(*algorithm);
        }
    }
    algorithms
}

pub(crate) async fn prepare(
    url: &str,
    checksum: &Checksums,
    ca_bundle: Option<&[u8]>,
    cx: &mut Context<'_>,
) -> Result<Prepared, ImportError> {
    checksum.validate()?;
    let http_error = |message: String| ImportError::Http {
        url: url.to_string(),
        message,
    };
    let parsed = Url::parse(url).map_err(|e| http_error(format!("invalid URL: {e}")))?;
    let client = HttpClient::new(ca_bundle, cx.options.timeouts).map_err(http_error)?;
    cx.reporter.set_plan(Plan::new(0.8, 0.8));

    let staging = cx.scratch.path("source.img");
    let stager = Stager::create(&staging, cx.limits())?;
    let (sender, reader) = feed::channel(
        &algorithms(checksum, &cx.options.always_compute),
        cx.stop.clone(),
    );
    let worker_stop = cx.stop.clone();
    let worker = tokio::task::spawn_blocking(move || unpack_stream(reader, stager, &worker_stop));

    let reporter = &mut cx.reporter;
    let downloaded = download(
        &client,
        &parsed,
        &HeaderMap::new(),
        &cx.options.retry,
        cx.stop,
        &sender,
        &mut |done, total| reporter.transferred(done, total),
    )
    .await;
    let ((unpacked, computed), bytes) = settle(sender, worker, downloaded).await?;
    checksum.verify(&computed)?;
    Ok(Prepared {
        path: unpacked.staged.path,
        facts: unpacked.staged.facts,
        compression: unpacked.compression,
        in_scratch: true,
        allow_backing: false,
        force_share: false,
        checksums: computed,
        transferred: bytes,
    })
}
