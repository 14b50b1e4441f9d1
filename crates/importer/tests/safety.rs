//! Inputs that must be refused, each with a clear error and an empty work dir.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::http_server::TestServer;
use common::*;
use dvp_importer::{Checksums, ImportError, ImportOptions, Progress, Source, import};
use dvp_qemu::qemu_img::{self, ImageFormat};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn http(url: String) -> Source {
    Source::Http {
        url,
        checksum: Checksums::default(),
        ca_bundle: None,
    }
}

async fn serve_and_import(name: &str, bytes: Vec<u8>, options: &ImportOptions) -> Run {
    let server = TestServer::start().await;
    server.serve_bytes(name, bytes);
    run_import(http(server.url(name)), options).await
}

fn file(path: &Path) -> Source {
    Source::File {
        path: path.to_path_buf(),
        checksum: Checksums::default(),
    }
}

#[tokio::test]
async fn qcow2_naming_a_backing_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("overlay.qcow2");
    qemu_img::create(
        &overlay,
        &ImageFormat::Qcow2,
        TINY_VIRTUAL_SIZE,
        Some((Path::new(TINY_QCOW2), &ImageFormat::Qcow2)),
    )
    .await
    .unwrap();
    let run = serve_and_import("overlay.qcow2", read(&overlay), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(matches!(error, ImportError::ExternalFile { .. }), "{error}");
    assert!(
        error.to_string().contains("could expose host data"),
        "{error}"
    );
}

#[tokio::test]
async fn uploaded_file_naming_a_backing_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("overlay.qcow2");
    qemu_img::create(
        &overlay,
        &ImageFormat::Qcow2,
        TINY_VIRTUAL_SIZE,
        Some((Path::new("/etc/passwd"), &ImageFormat::Raw)),
    )
    .await
    .unwrap();
    let run = run_import(file(&overlay), &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::ExternalFile { .. }
    ));
}

#[tokio::test]
async fn qcow2_with_an_external_data_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("data.qcow2");
    let status = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-o"])
        .arg(format!(
            "data_file={}",
            dir.path().join("data.raw").display()
        ))
        .arg(&image)
        .arg("1M")
        .status()
        .unwrap();
    assert!(status.success());
    let run = serve_and_import("data.qcow2", read(&image), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(error.to_string().contains("data file"), "{error}");
}

#[tokio::test]
async fn vmdk_descriptor_pointing_at_host_files_is_refused() {
    let descriptor = b"# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
        createType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/shadow\" 0\n";
    let run = serve_and_import("evil.vmdk", descriptor.to_vec(), &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::ExternalFile { .. }
    ));
}

#[tokio::test]
async fn encrypted_qcow2_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("enc.qcow2");
    let status = std::process::Command::new("qemu-img")
        .args([
            "create",
            "-q",
            "-f",
            "qcow2",
            "--object",
            "secret,id=s0,data=pw",
            "-o",
            "encrypt.format=luks,encrypt.key-secret=s0",
        ])
        .arg(&image)
        .arg("1M")
        .status()
        .unwrap();
    assert!(status.success());
    let run = serve_and_import("enc.qcow2", read(&image), &options()).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::Encrypted
    ));
}

#[tokio::test]
async fn truncated_qcow2_is_refused() {
    let bytes = read(TINY_QCOW2);
    let run = serve_and_import("cut.qcow2", bytes[..5_000_000].to_vec(), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(matches!(error, ImportError::Corrupt { .. }), "{error}");
    assert!(
        error.to_string().contains("corrupt or truncated"),
        "{error}"
    );
}

#[tokio::test]
async fn qcow2_with_damaged_metadata_is_refused() {
    let mut bytes = read(TINY_QCOW2);
    // The L1 table offset (header bytes 40..48) points far beyond the end of the file.
    bytes[40..48].copy_from_slice(&(1u64 << 40).to_be_bytes());
    let run = serve_and_import("broken.qcow2", bytes, &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(matches!(error, ImportError::Corrupt { .. }), "{error}");
}

#[tokio::test]
async fn truncated_gzip_is_refused() {
    let bytes = read(variant("tiny.qcow2.gz"));
    let run = serve_and_import(
        "cut.qcow2.gz",
        bytes[..bytes.len() / 2].to_vec(),
        &options(),
    )
    .await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::CorruptCompression { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn gzip_far_larger_than_its_header_announces_is_a_bomb() {
    // A qcow2 header announcing a 1 MiB disk, followed by 200 MiB of zeros.
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.qcow2");
    qemu_img::create(&small, &ImageFormat::Qcow2, 1 << 20, None)
        .await
        .unwrap();
    let mut content = read(&small);
    content.resize(content.len() + (200 << 20), 0);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &content).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let run = serve_and_import("bomb.qcow2.gz", bomb, &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::DecompressionBomb { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("announces a disk of 1 MiB"),
        "{error}"
    );
}

#[tokio::test]
async fn xz_beyond_the_configured_limit_is_a_bomb() {
    let options = ImportOptions {
        max_unpacked_bytes: 16 << 20,
        ..options()
    };
    let run = serve_and_import("tiny.raw.xz", read(variant("tiny.raw.xz")), &options).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::DecompressionBomb { limit, .. } if *limit == 16 << 20),
        "{error}"
    );
}

#[tokio::test]
async fn virtual_size_over_the_limit_is_refused_early() {
    let options = ImportOptions {
        max_virtual_size: Some(16 << 20),
        ..options()
    };
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    server.knobs.chunk_delay_ms.store(20, Ordering::SeqCst);
    let run = run_import(http(server.url("tiny.qcow2")), &options).await;
    let error = run.assert_failed_cleanly();
    assert!(
        matches!(error, ImportError::TooLarge { virtual_size, limit }
            if *virtual_size == TINY_VIRTUAL_SIZE && *limit == 16 << 20),
        "{error}"
    );
    // Refused from the header, long before the whole file was sent.
    let sent = server.knobs.bytes_sent.load(Ordering::SeqCst);
    assert!(
        sent < read(TINY_QCOW2).len() as u64 / 2,
        "{sent} bytes sent"
    );
}

#[tokio::test]
async fn raw_image_over_the_limit_is_refused() {
    let options = ImportOptions {
        max_virtual_size: Some(16 << 20),
        ..options()
    };
    let run = run_import(file(&variant("tiny.raw")), &options).await;
    assert!(matches!(
        run.assert_failed_cleanly(),
        ImportError::TooLarge { .. }
    ));
}

#[tokio::test]
async fn empty_image_is_refused() {
    let run = serve_and_import("empty.img", Vec::new(), &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(error.to_string().contains("empty"), "{error}");
}

#[tokio::test]
async fn bzip2_is_refused_with_a_hint() {
    let mut bytes = b"BZh91AY&SY".to_vec();
    bytes.resize(4096, 7);
    let run = serve_and_import("x.bz2", bytes, &options()).await;
    let error = run.assert_failed_cleanly();
    assert!(error.to_string().contains("use gz or xz"), "{error}");
}

#[tokio::test]
async fn full_disk_during_download_is_reported() {
    let Some(tmpfs) = Tmpfs::mount(8) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    let run = run_import_in(
        http(server.url("tiny.qcow2")),
        &options(),
        Some(&tmpfs.path),
    )
    .await;
    let error = run.assert_failed_cleanly();
    assert!(matches!(error, ImportError::NoSpace { .. }), "{error}");
    assert!(error.to_string().contains("no space left"), "{error}");
}

#[tokio::test]
async fn full_disk_during_conversion_is_reported() {
    let Some(tmpfs) = Tmpfs::mount(20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    // The 14 MiB download fits; the 14 MiB qcow2 next to it does not.
    let server = TestServer::start().await;
    server.serve_bytes("tiny.qcow2", read(TINY_QCOW2));
    let run = run_import_in(
        http(server.url("tiny.qcow2")),
        &options(),
        Some(&tmpfs.path),
    )
    .await;
    let error = run.assert_failed_cleanly();
    assert!(matches!(error, ImportError::NoSpace { .. }), "{error}");
}

#[tokio::test]
async fn cancelling_stops_the_import_and_cleans_up() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.raw", read(variant("tiny.raw")));
    server.knobs.chunk_delay_ms.store(50, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().join("work");
    let (sender, mut receiver) = watch::channel(Progress::default());
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        while receiver.changed().await.is_ok() {
            if receiver.borrow().bytes_done > 1 << 20 {
                canceller.cancel();
                return;
            }
        }
    });
    let result = import(
        &http(server.url("tiny.raw")),
        &work_dir,
        &options(),
        &sender,
        &cancel,
    )
    .await;
    assert!(matches!(result, Err(ImportError::Cancelled)), "{result:?}");
    assert_eq!(std::fs::read_dir(&work_dir).unwrap().count(), 0);
}

#[tokio::test]
async fn dropping_the_import_cleans_up() {
    let server = TestServer::start().await;
    server.serve_bytes("tiny.raw", read(variant("tiny.raw")));
    server.knobs.chunk_delay_ms.store(50, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().join("work");
    let (sender, _receiver) = watch::channel(Progress::default());
    let source = http(server.url("tiny.raw"));
    let options = options();
    let cancel = CancellationToken::new();
    let importing = import(&source, &work_dir, &options, &sender, &cancel);
    let outcome = tokio::time::timeout(Duration::from_millis(500), importing).await;
    assert!(outcome.is_err(), "the import should still be running");
    assert_eq!(std::fs::read_dir(&work_dir).unwrap().count(), 0);
}
