//! Container image source: resolve the manifest, stream layers (top first) until one holds a
//! file under `/disk/`.

use super::worker::settle;
use super::{Context, Prepared};
use crate::checksum::Checksums;
use crate::error::ImportError;
use crate::feed;
use crate::http::client::HttpClient;
use crate::http::download::download;
use crate::oci::layer::{digest_parts, extract_disk};
use crate::oci::registry::Registry;
use crate::oci::{Credentials, Reference};
use crate::progress::Plan;
use crate::stage::Stager;

pub(crate) async fn prepare(
    reference_text: &str,
    credentials: Option<&Credentials>,
    ca_bundle: Option<&[u8]>,
    insecure_http_allowed_for_loopback: bool,
    cx: &mut Context<'_>,
) -> Result<Prepared, ImportError> {
    let registry_error = |message: String| ImportError::Registry {
        reference: reference_text.to_string(),
        message,
    };
    let reference = Reference::parse(reference_text).map_err(registry_error)?;
    let client = HttpClient::new(ca_bundle, cx.options.timeouts).map_err(registry_error)?;
    let plain_http = insecure_http_allowed_for_loopback && reference.is_loopback();
    let mut registry = Registry::new(
        &client,
        &reference,
        credentials,
        plain_http,
        &cx.options.retry,
        cx.stop,
    )?;
    let layers = registry.layers().await?;
    cx.reporter.set_plan(Plan::new(0.8, 0.8));

    let total: u64 = layers.iter().map(|layer| layer.size).sum();
    let staging = cx.scratch.path("source.img");
    let mut done_before = 0u64;
    for layer in layers.iter().rev() {
        let (algorithm, _) =
            digest_parts(&layer.digest).ok_or_else(|| ImportError::Unsupported {
                detail: format!("layer digest {} uses an unknown algorithm", layer.digest),
            })?;
        let stager = Stager::create(&staging, cx.limits())?;
        let (sender, reader) = feed::channel(&[algorithm], cx.stop.clone());
        let digest = layer.digest.clone();
        let worker_stop = cx.stop.clone();
        let worker = tokio::task::spawn_blocking(move || {
            extract_disk(reader, &digest, stager, &worker_stop)
        });

        let url = registry.blob_url(&layer.digest);
        let reporter = &mut cx.reporter;
        let downloaded = download(
            &client,
            &url,
            &registry.auth_headers(),
            &cx.options.retry,
            cx.stop,
            &sender,
            &mut |done, _| reporter.transferred(done_before + done, Some(total)),
        )
        .await;
        let (found, bytes) = settle(sender, worker, downloaded).await?;
        done_before += bytes;
        if let Some(unpacked) = found {
            return Ok(Prepared {
                path: unpacked.staged.path,
                facts: unpacked.staged.facts,
                compression: unpacked.compression,
                in_scratch: true,
                allow_backing: false,
                force_share: false,
                checksums: Checksums::default(),
                transferred: done_before,
            });
        }
    }
    Err(ImportError::NoDiskInImage {
        reference: reference_text.to_string(),
    })
}
