//! HTTP(S) source: every format of the tiny image, and the network failures.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::http_server::TestServer;
use common::*;
use dvp_importer::{Checksums, Compression, ImportError, Source, SourceFormat};

fn http(url: String) -> Source {
    Source::Http {
        url,
        checksum: Checksums::default(),
        ca_bundle: None,
    }
}

async fn import_variant(name: &str) -> Run {
    let server = TestServer::start().await;
    server.serve_bytes(name, read(variant(name)));
    run_import(http(server.url(name)), &options()).await
}

async fn assert_disk_variant(name: &str, format: SourceFormat, compression: Option<Compression>) {
    let run = import_variant(name).await;
    let result = run.ok();
    assert_eq!(result.source_format, format);
    assert_eq!(result.compression, compression);
    assert_eq!(result.transferred_bytes, read(variant(name)).len() as u64);
    assert_tiny_disk(result).await;
    assert_progress_finished(&run.progress);
    assert_eq!(run.leftovers(), ["disk.qcow2"]);
}

#[tokio::test]
async fn qcow2_over_http() {
    assert_disk_variant("tiny.qcow2", SourceFormat::Qcow2, None).await;
}

#[tokio::test]
async fn raw_over_http() {
    assert_disk_variant("tiny.raw", SourceFormat::Raw, None).await;
}

#[tokio::test]
async fn vmdk_over_http() {
    assert_disk_variant("tiny.vmdk", SourceFormat::Vmdk, None).await;
}

#[tokio::test]
async fn vdi_over_http() {
    assert_disk_variant("tiny.vdi", SourceFormat::Vdi, None).await;
}

#[tokio::test]
async fn qcow2_gz_over_http() {
    assert_disk_variant(
        "tiny.qcow2.gz",
        SourceFormat::Qcow2,
        Some(Compression::Gzip),
    )
    .await;
}

#[tokio::test]
async fn qcow2_xz_over_http() {
    assert_disk_variant("tiny.qcow2.xz", SourceFormat::Qcow2, Some(Compression::Xz)).await;
}

#[tokio::test]
async fn raw_gz_over_http() {
    assert_disk_variant("tiny.raw.gz", SourceFormat::Raw, Some(Compression::Gzip)).await;
}

#[tokio::test]
async fn raw_xz_over_http() {
    assert_disk_variant("tiny.raw.xz", SourceFormat::Raw, Some(Compression::Xz)).await;
}

#[tokio::test]
async fn compression_is_told_by_content_not_by_name() {
    let server = TestServer::start().await;
    server.serve_bytes("disk.img", read(variant("tiny.raw.xz")));
    let run = run_import(http(server.url("disk.img")), &options()).await;
    assert_eq!(run.ok().compression, Some(Compression::Xz));
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn iso_over_http_is_kept_as_a_cdrom() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.iso", read(TINY_ISO));
    let run = run_import(http(server.url("tiny.iso")), &options()).await;
    assert_eq!(run.ok().source_format, SourceFormat::Iso);
    assert_tiny_iso(run.ok());
    assert_progress_finished(&run.progress);
    assert_eq!(run.leftovers(), ["disk.iso"]);
}

#[tokio::test]
async fn progress_shows_percentages_while_downloading() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.raw", read(variant("tiny.raw")));
    server.knobs.chunk_delay_ms.store(2, Ordering::SeqCst);
    let run = run_import(http(server.url("tiny.raw")), &options()).await;
    run.ok();
    let percents: Vec<String> = run.progress.iter().filter_map(|p| p.percent()).collect();
    let running = percents
        .iter()
        .filter(|p| p.ends_with('%') && p.contains('.') && p.as_str() != "0.0%")
        .count();
    assert!(running >= 10, "too few intermediate updates: {percents:?}");
    assert!(
        percents.len() < 400,
        "updates are not throttled: {}",
        percents.len()
    );
    let downloading = run
        .progress
        .iter()
        .find(|p| p.bytes_total.is_some())
        .unwrap();
    assert_eq!(downloading.bytes_total, Some(TINY_VIRTUAL_SIZE));
}

#[tokio::test]
async fn every_given_checksum_is_verified() {
    let bytes = read(variant("tiny.qcow2.gz"));
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2.gz", bytes.clone());
    let sha256 = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let md5 = {
        use md5::Digest;
        md5::Md5::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };
    let checksum = Checksums {
        md5: Some(md5),
        sha256: Some(sha256.clone()),
        ..Checksums::default()
    };
    let source = Source::Http {
        url: server.url("tiny.qcow2.gz"),
        checksum,
        ca_bundle: None,
    };
    let run = run_import(source, &options()).await;
    assert_eq!(run.ok().checksums.sha256.as_deref(), Some(sha256.as_str()));
    assert!(run.ok().checksums.md5.is_some());
}

#[tokio::test]
async fn wrong_checksum_fails_and_leaves_nothing() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    let source = Source::Http {
        url: server.url("tiny.qcow2"),
        checksum: Checksums {
            sha512: Some("ab".repeat(64)),
            ..Checksums::default()
        },
        ca_bundle: None,
    };
    let run = run_import(source, &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::ChecksumMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("sha512"), "{error}");
}

#[tokio::test]
async fn not_found_is_terminal_and_not_retried() {
    let server = TestServer::start().await;
    let url = server.url("missing.img");
    let run = run_import(http(url.clone()), &options()).await;
    let error = run.assert_failed_cleanly();
    assert_eq!(
        error.to_string(),
        format!("the server answered 404 Not Found for {url}")
    );
    assert_eq!(server.knobs.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn persistent_server_errors_are_retried_then_fail() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    server.knobs.always_status.store(500, Ordering::SeqCst);
    let options = options();
    let run = run_import(http(server.url("tiny.qcow2")), &options).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::RetriesExhausted { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("500 Internal Server Error"),
        "{error}"
    );
    assert_eq!(
        server.knobs.requests.load(Ordering::SeqCst),
        options.retry.attempts
    );
}

#[tokio::test]
async fn transient_server_errors_are_retried() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    server.knobs.fail_first.store(2, Ordering::SeqCst);
    let run = run_import(http(server.url("tiny.qcow2")), &options()).await;
    assert_tiny_disk(run.ok()).await;
    assert_eq!(server.knobs.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn connection_reset_mid_download_resumes_with_range() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2.xz", read(variant("tiny.qcow2.xz")));
    server.knobs.reset_after.store(5 << 20, Ordering::SeqCst);
    let run = run_import(http(server.url("tiny.qcow2.xz")), &options()).await;
    assert_tiny_disk(run.ok()).await;
    assert_eq!(server.knobs.range_requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        run.ok().transferred_bytes,
        read(variant("tiny.qcow2.xz")).len() as u64
    );
}

#[tokio::test]
async fn connection_reset_without_range_support_starts_over() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.raw.gz", read(variant("tiny.raw.gz")));
    server.knobs.ranges.store(false, Ordering::SeqCst);
    server.knobs.reset_after.store(3 << 20, Ordering::SeqCst);
    let bytes = read(variant("tiny.raw.gz"));
    let sha256 = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let source = Source::Http {
        url: server.url("tiny.raw.gz"),
        checksum: Checksums {
            sha256: Some(sha256),
            ..Checksums::default()
        },
        ca_bundle: None,
    };
    let run = run_import(source, &options()).await;
    assert_tiny_disk(run.ok()).await;
    assert_eq!(server.knobs.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn chunked_responses_without_length_work() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.vmdk", read(variant("tiny.vmdk")));
    server.knobs.no_length.store(true, Ordering::SeqCst);
    let run = run_import(http(server.url("tiny.vmdk")), &options()).await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn redirects_are_followed() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    let run = run_import(http(server.url("redirect/tiny.qcow2")), &options()).await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn connection_refused_is_retried_then_fails() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x.img", listener.local_addr().unwrap());
    drop(listener);
    let run = run_import(http(url), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::RetriesExhausted { attempts: 4, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn invalid_urls_are_refused() {
    let run = run_import(http("ftp://example.com/x".into()), &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::Http { .. }
    ));
}

fn tls_server_config() -> (Arc<rustls::ServerConfig>, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    (Arc::new(config), certified.cert.pem())
}

#[tokio::test]
async fn https_with_a_ca_bundle() {
    let (config, ca) = tls_server_config();
    let server = TestServer::start_tls(config).await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    let source = Source::Http {
        url: server.url("tiny.qcow2"),
        checksum: Checksums::default(),
        ca_bundle: Some(ca.into_bytes()),
    };
    let run = run_import(source, &options()).await;
    assert_tiny_disk(run.ok()).await;
}

#[tokio::test]
async fn https_with_an_unknown_certificate_fails_at_once() {
    let (config, _) = tls_server_config();
    let server = TestServer::start_tls(config).await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    let run = run_import(http(server.url("tiny.qcow2")), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(matches!(error, ImportError::Http { .. }), "{error}");
    assert!(error.to_string().contains("TLS"), "{error}");
}
